"""C1–C6: collections of a project, standalone or in a dataset, and their members."""
import pytest

from service.db import db
from service.models import Member
from tests.support.api import (
    COLLECTIONS,
    DATASETS,
    PROJECT,
    assert_error,
    assert_id,
    assert_timestamp,
    create_collection,
    create_dataset,
    listed,
    ok,
)

COLLECTION_KEYS = {"id", "name", "projectId", "dataset", "memberCount", "createdAt", "updatedAt", "createdBy",
                   "updatedBy"}
MAX_MEMBERS = 10_000


def collection(api, name):
    return ok(api.get(f"{COLLECTIONS}/{name}"))


def without_members(detail):
    return {key: value for key, value in detail.items() if key != "members"}


def collection_names(api, **params):
    return [item["name"] for item in listed(api, COLLECTIONS, "collections", **params)[0]]


def change_members(api, name, **change):
    return api.post(f"{COLLECTIONS}/{name}/members", json=change)


def assert_collection(body, name, dataset, member_count):
    assert set(body) == COLLECTION_KEYS
    assert_id(body["id"])
    assert_id(body["projectId"])
    assert (body["name"], body["dataset"], body["memberCount"]) == (name, dataset, member_count)
    assert_timestamp(body["createdAt"])
    assert_timestamp(body["updatedAt"])


def node_ids(count, prefix="node"):
    return [f"{prefix}-{i}" for i in range(count)]


# -- C1 ----------------------------------------------------------------------------------

def test_create_a_standalone_collection(api, project):
    created = create_collection(api, "edge-cases")
    assert_collection(created, "edge-cases", None, 0)
    assert created["projectId"] == ok(api.get(PROJECT))["id"]
    assert collection(api, "edge-cases") == {**created, "members": []}
    assert_collection(create_collection(api, "scratch", dataset=None), "scratch", None, 0)


def test_create_in_a_dataset(api, project):
    create_dataset(api, "training-v2")
    created = create_collection(api, "front-camera-clips", dataset="training-v2", members=["n1", "n2"])
    assert_collection(created, "front-camera-clips", "training-v2", 2)
    assert collection(api, "front-camera-clips") == {**created, "members": ["n1", "n2"]}
    assert ok(api.get(f"{DATASETS}/training-v2"))["collections"] == [
        {"id": created["id"], "name": "front-camera-clips", "members": ["n1", "n2"]}]


@pytest.mark.parametrize("deleted", [False, True], ids=["never-existed", "deleted"])
def test_create_in_an_unknown_dataset_is_404_and_creates_nothing(api, project, deleted):
    create_dataset(api, "training-v2")
    if deleted:
        ok(api.delete(f"{DATASETS}/training-v2"))
    dataset = "training-v2" if deleted else "missing"
    assert_error(api.post(COLLECTIONS, json={"name": "clips", "dataset": dataset, "members": ["n1"]}),
                 404, "not_found")
    assert collection_names(api) == []


def test_create_deduplicates_members_in_order_of_first_occurrence(api, project):
    created = create_collection(api, "clips", members=["c", "a", "c", "b", "a"])
    assert created["memberCount"] == 3
    assert collection(api, "clips")["members"] == ["c", "a", "b"]


def test_a_live_name_is_409_in_its_project_standalone_or_not(api, project):
    create_dataset(api, "training-v2")
    first = create_collection(api, "clips", members=["n1"])
    assert_error(api.post(COLLECTIONS, json={"name": "clips", "dataset": "training-v2"}), 409, "conflict")
    assert_error(api.post(COLLECTIONS, json={"name": "clips", "members": ["n2"]}), 409, "conflict")
    assert collection(api, "clips") == {**first, "members": ["n1"]}
    assert collection_names(api) == ["clips"]

    ok(api.post("/namespaces/acme/projects", json={"slug": "other"}), 201)
    ok(api.post("/namespaces/acme/projects/other/collections", json={"name": "clips"}), 201)


def test_create_takes_10000_members_in_one_request(api, project):
    members = node_ids(MAX_MEMBERS)
    assert create_collection(api, "big", members=members)["memberCount"] == MAX_MEMBERS
    assert collection(api, "big")["members"] == members


def test_create_with_10001_members_is_400_and_creates_nothing(api, project):
    response = api.post(COLLECTIONS, json={"name": "big", "members": node_ids(MAX_MEMBERS + 1)})
    assert "members" in assert_error(response, 400, "validation_error")["fields"]
    assert collection_names(api) == []


# -- C2 ----------------------------------------------------------------------------------

@pytest.fixture
def catalogue(api, project):
    """Two datasets with collections, and standalone ones; `gone` is deleted."""
    create_dataset(api, "training-v2")
    create_dataset(api, "eval-set")
    create_dataset(api, "empty")
    create_collection(api, "loose", members=["n1"])
    create_collection(api, "clips", dataset="training-v2", members=["n1", "n2"])
    create_collection(api, "edge-cases", dataset="eval-set")
    create_collection(api, "detections", dataset="training-v2")
    create_collection(api, "scratch")
    create_collection(api, "gone", dataset="training-v2")
    ok(api.delete(f"{COLLECTIONS}/gone"))


@pytest.mark.parametrize("params, expected", [
    ({}, ["loose", "clips", "edge-cases", "detections", "scratch"]),
    ({"dataset": "training-v2"}, ["clips", "detections"]),
    ({"dataset": "eval-set"}, ["edge-cases"]),
    ({"dataset": "empty"}, []),
    ({"dataset": "training-v2", "page": 2, "pageSize": 2}, []),
    ({"standalone": "true"}, ["loose", "scratch"]),
    ({"standalone": "false"}, ["loose", "clips", "edge-cases", "detections", "scratch"]),
], ids=["all", "dataset", "other-dataset", "dataset-without-collections", "dataset-past-the-end", "standalone",
        "standalone-false"])
def test_list_filters(api, catalogue, params, expected):
    body = ok(api.get(COLLECTIONS, query_string=params))
    assert [item["name"] for item in body["collections"]] == expected
    assert body["total"] == (2 if params.get("page") else len(expected))


def test_list_items_are_collections_without_members(api, catalogue):
    items = listed(api, COLLECTIONS, "collections")[0]
    assert [(item["name"], item["dataset"], item["memberCount"]) for item in items] == [
        ("loose", None, 1), ("clips", "training-v2", 2), ("edge-cases", "eval-set", 0),
        ("detections", "training-v2", 0), ("scratch", None, 0)]
    assert items == [without_members(collection(api, item["name"])) for item in items]


@pytest.mark.parametrize("dataset", ["missing", "gone-dataset"])
def test_list_of_a_dataset_that_is_not_live_is_404(api, catalogue, dataset):
    create_dataset(api, "gone-dataset")
    ok(api.delete(f"{DATASETS}/gone-dataset"))
    assert_error(api.get(COLLECTIONS, query_string={"dataset": dataset}), 404, "not_found")


def test_list_with_dataset_and_standalone_is_400(api, catalogue):
    response = api.get(COLLECTIONS, query_string={"dataset": "training-v2", "standalone": "true"})
    assert_error(response, 400, "validation_error")


# -- C3 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [f"{COLLECTIONS}/missing", "/namespaces/missing/projects/vision/collections/clips",
                                  "/namespaces/acme/projects/missing/collections/clips"])
def test_get_of_an_unknown_collection_namespace_or_project_is_404(api, project, path):
    create_collection(api, "clips")
    assert_error(api.get(path), 404, "not_found")


# -- C4 ----------------------------------------------------------------------------------

def test_patch_with_an_empty_object_returns_the_collection_unchanged(api, project):
    create_dataset(api, "training-v2")
    created = create_collection(api, "clips", dataset="training-v2", members=["n1"])
    assert ok(api.patch(f"{COLLECTIONS}/clips", json={})) == created
    assert collection(api, "clips") == {**created, "members": ["n1"]}


def test_patch_renames(api, project):
    created = create_collection(api, "clips", members=["n1", "n2"])
    renamed = ok(api.patch(f"{COLLECTIONS}/clips", json={"name": "clips-v2"}))
    assert_collection(renamed, "clips-v2", None, 2)
    assert renamed["id"] == created["id"]
    assert_error(api.get(f"{COLLECTIONS}/clips"), 404, "not_found")
    assert collection(api, "clips-v2")["members"] == ["n1", "n2"]
    assert collection_names(api) == ["clips-v2"]


def test_patch_moves_between_datasets_and_out(api, project):
    create_dataset(api, "training-v2")
    create_dataset(api, "eval-set")
    created = create_collection(api, "clips", dataset="training-v2", members=["n1"])

    moved = ok(api.patch(f"{COLLECTIONS}/clips", json={"dataset": "eval-set"}))
    assert_collection(moved, "clips", "eval-set", 1)
    assert ok(api.get(f"{DATASETS}/training-v2"))["collections"] == []
    assert ok(api.get(f"{DATASETS}/eval-set"))["collections"] == [
        {"id": created["id"], "name": "clips", "members": ["n1"]}]

    alone = ok(api.patch(f"{COLLECTIONS}/clips", json={"dataset": None}))
    assert_collection(alone, "clips", None, 1)
    assert ok(api.get(f"{DATASETS}/eval-set"))["collections"] == []
    assert collection_names(api, standalone="true") == ["clips"]

    back = ok(api.patch(f"{COLLECTIONS}/clips", json={"dataset": "training-v2", "name": "clips-v2"}))
    assert_collection(back, "clips-v2", "training-v2", 1)
    assert collection(api, "clips-v2") == {**back, "members": ["n1"]}


def test_patch_into_an_unknown_dataset_is_404_and_changes_nothing(api, project):
    create_dataset(api, "training-v2")
    create_dataset(api, "deleted")
    ok(api.delete(f"{DATASETS}/deleted"))
    created = create_collection(api, "clips", dataset="training-v2")
    for dataset in ("missing", "deleted"):
        response = api.patch(f"{COLLECTIONS}/clips", json={"name": "renamed", "dataset": dataset})
        assert_error(response, 404, "not_found")
    assert collection(api, "clips") == {**created, "members": []}


def test_rename_onto_a_live_name_is_409_and_changes_nothing(api, project):
    create_dataset(api, "training-v2")
    first = create_collection(api, "clips", members=["n1"])
    second = create_collection(api, "edge-cases", members=["n2"])
    response = api.patch(f"{COLLECTIONS}/edge-cases", json={"name": "clips", "dataset": "training-v2"})
    assert_error(response, 409, "conflict")
    assert collection(api, "clips") == {**first, "members": ["n1"]}
    assert collection(api, "edge-cases") == {**second, "members": ["n2"]}


def test_rename_onto_a_deleted_collections_name_works(api, project):
    create_collection(api, "clips")
    ok(api.delete(f"{COLLECTIONS}/clips"))
    other = create_collection(api, "edge-cases")
    assert ok(api.patch(f"{COLLECTIONS}/edge-cases", json={"name": "clips"}))["id"] == other["id"]


@pytest.mark.parametrize("method, suffix, body", [
    ("PATCH", "", {"name": "renamed"}),
    ("POST", "/members", {"add": ["n1"]}),
    ("DELETE", "", None),
], ids=["patch", "members", "delete"])
def test_writes_to_an_unknown_or_deleted_collection_are_404(api, project, method, suffix, body):
    create_collection(api, "gone")
    ok(api.delete(f"{COLLECTIONS}/gone"))
    for name in ("missing", "gone"):
        assert_error(api.request(method, f"{COLLECTIONS}/{name}{suffix}", json=body), 404, "not_found")
    assert collection_names(api) == []


# -- C5 ----------------------------------------------------------------------------------

def test_members_add_and_remove_keep_the_order_of_first_addition(api, project):
    created = create_collection(api, "clips", members=["a", "b"])
    changed = ok(change_members(api, "clips", add=["c", "a", "d", "c"]))
    assert_collection(changed, "clips", None, 4)
    assert changed["id"] == created["id"]
    assert collection(api, "clips")["members"] == ["a", "b", "c", "d"]

    changed = ok(change_members(api, "clips", add=["e"], remove=["b", "not-a-member", "b"]))
    assert changed["memberCount"] == 4
    assert collection(api, "clips")["members"] == ["a", "c", "d", "e"]

    changed = ok(change_members(api, "clips", remove=["a", "e"]))
    assert changed["memberCount"] == 2
    assert collection(api, "clips")["members"] == ["c", "d"]


@pytest.mark.parametrize("change", [{"add": ["a", "b"]}, {"remove": ["x", "y"]}, {"add": ["b"], "remove": ["z"]},
                                    {}, {"add": [], "remove": []}],
                         ids=["re-add", "remove-absent", "both", "empty-object", "empty-lists"])
def test_members_no_op_changes_nothing(api, project, change):
    create_collection(api, "clips", members=["a", "b"])
    before = collection(api, "clips")
    assert ok(change_members(api, "clips", **change)) == without_members(before)
    assert collection(api, "clips") == before


def test_one_id_in_both_add_and_remove_is_400_and_changes_nothing(api, project):
    create_collection(api, "clips", members=["a"])
    before = collection(api, "clips")
    assert_error(change_members(api, "clips", add=["b", "c"], remove=["a", "c"]), 400, "validation_error")
    assert collection(api, "clips") == before


def test_members_change_takes_10000_ids_and_refuses_10001(api, project):
    create_collection(api, "clips", members=["keep"])
    assert ok(change_members(api, "clips", add=node_ids(MAX_MEMBERS)))["memberCount"] == MAX_MEMBERS + 1
    before = collection(api, "clips")
    for change in ({"add": node_ids(MAX_MEMBERS + 1, "new")},
                   {"add": node_ids(5_001, "new"), "remove": node_ids(5_000)}):
        assert_error(change_members(api, "clips", **change), 400, "validation_error")
    assert collection(api, "clips") == before
    assert ok(change_members(api, "clips", remove=node_ids(MAX_MEMBERS)))["memberCount"] == 1
    assert collection(api, "clips")["members"] == ["keep"]


# -- C6 ----------------------------------------------------------------------------------

def stored_members(app, collection_id):
    with app.app_context(), db.connection_context():
        return [member.node_id for member in
                Member.select().where(Member.collection == collection_id).order_by(Member.position)]


def test_delete_is_soft_keeps_members_and_frees_the_name(app, api, project):
    create_dataset(api, "training-v2")
    old = create_collection(api, "clips", dataset="training-v2", members=["n2", "n1"])
    create_collection(api, "other")
    assert ok(api.delete(f"{COLLECTIONS}/clips")) == {"success": True}

    assert_error(api.get(f"{COLLECTIONS}/clips"), 404, "not_found")
    items, body = listed(api, COLLECTIONS, "collections")
    assert ([item["name"] for item in items], body["total"]) == (["other"], 1)
    assert ok(api.get(f"{DATASETS}/training-v2"))["collections"] == []
    assert stored_members(app, old["id"]) == ["n2", "n1"]
    assert_error(api.delete(f"{COLLECTIONS}/clips"), 404, "not_found")

    again = create_collection(api, "clips", members=["n3"])
    assert again["id"] != old["id"]
    assert collection(api, "clips") == {**again, "members": ["n3"]}
    assert stored_members(app, old["id"]) == ["n2", "n1"]


def test_a_deleted_datasets_collections_are_standalone_and_can_move_again(api, project):
    create_dataset(api, "training-v2")
    create_collection(api, "clips", dataset="training-v2", members=["n1"])
    ok(api.delete(f"{DATASETS}/training-v2"))
    assert collection_names(api, standalone="true") == ["clips"]
    assert_error(api.patch(f"{COLLECTIONS}/clips", json={"dataset": "training-v2"}), 404, "not_found")

    create_dataset(api, "training-v2")
    moved = ok(api.patch(f"{COLLECTIONS}/clips", json={"dataset": "training-v2"}))
    assert (moved["dataset"], moved["memberCount"]) == ("training-v2", 1)
    assert collection_names(api, dataset="training-v2") == ["clips"]
