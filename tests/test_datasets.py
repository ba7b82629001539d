"""D1–D5: the dataset endpoints, as the seed reference page and the contract describe them."""
import pytest

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

LIST_ITEM_KEYS = {"id", "name", "description", "tags", "createdAt", "updatedAt", "createdBy", "updatedBy"}
DATASET_KEYS = LIST_ITEM_KEYS | {"projectId", "metadata"}


def dataset(api, name):
    return ok(api.get(f"{DATASETS}/{name}"))


def dataset_names(api, **params):
    return [item["name"] for item in listed(api, DATASETS, "datasets", **params)[0]]


def without_collections(detail):
    return {key: value for key, value in detail.items() if key != "collections"}


def assert_dataset(body):
    """Keys and types of the dataset object (D1, D4)."""
    assert set(body) == DATASET_KEYS
    assert_id(body["id"])
    assert_id(body["projectId"])
    assert isinstance(body["name"], str)
    assert body["description"] is None or isinstance(body["description"], str)
    assert isinstance(body["tags"], list) and all(isinstance(tag, str) for tag in body["tags"])
    assert body["metadata"] is None or isinstance(body["metadata"], dict)
    assert_timestamp(body["createdAt"])
    assert_timestamp(body["updatedAt"])
    assert isinstance(body["createdBy"], str) and isinstance(body["updatedBy"], str)


# -- D1 ----------------------------------------------------------------------------------

def test_create_answers_201_with_the_whole_dataset(api, project):
    body = {"name": "training-v2", "description": "Q1 training data", "tags": ["cars", "night"],
            "metadata": {"source": "fleet", "frames": 120, "nested": {"list": [1, "two", None, True]}}}
    created = ok(api.post(DATASETS, json=body), 201)
    assert_dataset(created)
    assert created["projectId"] == ok(api.get(PROJECT))["id"]
    assert {key: created[key] for key in body} == body
    assert without_collections(dataset(api, "training-v2")) == created


def test_create_defaults_description_tags_and_metadata(api, project):
    created = create_dataset(api, "training-v2")
    assert_dataset(created)
    assert (created["description"], created["tags"], created["metadata"]) == (None, [], None)


def test_tags_are_deduplicated_keeping_the_first_occurrence(api, project):
    created = create_dataset(api, "training-v2", tags=["night", "cars", "night", "rain", "cars"])
    assert created["tags"] == ["night", "cars", "rain"]
    assert dataset(api, "training-v2")["tags"] == ["night", "cars", "rain"]
    patched = ok(api.patch(f"{DATASETS}/training-v2", json={"tags": ["b", "a", "b", "a", "c"]}))
    assert patched["tags"] == ["b", "a", "c"]
    assert listed(api, DATASETS, "datasets")[0][0]["tags"] == ["b", "a", "c"]


def test_a_live_name_is_409_in_its_project_and_changes_nothing(api, project):
    first = create_dataset(api, "training-v2", description="first")
    assert_error(api.post(DATASETS, json={"name": "training-v2", "description": "second"}), 409, "conflict")
    assert listed(api, DATASETS, "datasets")[0] == [{key: first[key] for key in LIST_ITEM_KEYS}]

    ok(api.post("/namespaces/acme/projects", json={"slug": "other"}), 201)
    ok(api.post("/namespaces/acme/projects/other/datasets", json={"name": "training-v2"}), 201)


def test_a_missing_name_is_400(api, project):
    error = assert_error(api.post(DATASETS, json={"description": "no name"}), 400, "validation_error")
    assert "name" in error["fields"]
    assert dataset_names(api) == []


@pytest.mark.parametrize("path", ["/namespaces/missing/projects/vision/datasets",
                                  "/namespaces/acme/projects/missing/datasets"])
def test_create_in_an_unknown_namespace_or_project_is_404(api, project, path):
    assert_error(api.post(path, json={"name": "training-v2"}), 404, "not_found")
    assert dataset_names(api) == []


# -- D2 ----------------------------------------------------------------------------------

def test_list_items_have_only_their_documented_keys(api, project):
    created = create_dataset(api, "training-v2", description="Q1", tags=["cars"], metadata={"a": 1})
    items, body = listed(api, DATASETS, "datasets")
    assert items == [{key: created[key] for key in LIST_ITEM_KEYS}]
    assert set(items[0]) == LIST_ITEM_KEYS
    assert (body["total"], body["totalPages"]) == (1, 1)


def test_tag_filter_keeps_the_datasets_carrying_every_given_tag(api, project):
    create_dataset(api, "both", tags=["cars", "night"])
    create_dataset(api, "cars-only", tags=["cars"])
    create_dataset(api, "night-first", tags=["night", "rain", "cars"])
    create_dataset(api, "similar", tags=["car", "cars-night", "Night"])
    create_dataset(api, "untagged")
    create_dataset(api, "gone", tags=["cars", "night"])
    ok(api.delete(f"{DATASETS}/gone"))

    assert dataset_names(api, tag="cars") == ["both", "cars-only", "night-first"]
    assert dataset_names(api, tag=["cars", "night"]) == ["both", "night-first"]
    assert dataset_names(api, tag=["night", "cars", "rain"]) == ["night-first"]
    assert dataset_names(api, tag="car") == ["similar"]
    assert dataset_names(api, tag="absent") == []
    body = ok(api.get(DATASETS, query_string={"tag": ["cars", "night"], "pageSize": 1, "page": 2}))
    assert [item["name"] for item in body["datasets"]] == ["night-first"]
    assert (body["total"], body["totalPages"]) == (2, 2)


def test_list_of_an_unknown_project_is_404(api, project):
    assert_error(api.get("/namespaces/acme/projects/missing/datasets"), 404, "not_found")


# -- D3 ----------------------------------------------------------------------------------

def test_detail_has_the_dataset_and_its_collections_with_members(api, project):
    created = create_dataset(api, "training-v2", description="Q1", tags=["cars"], metadata={"k": "v"})
    create_dataset(api, "eval-set")
    clips = create_collection(api, "front-camera-clips", dataset="training-v2", members=["n2", "n1"])
    create_collection(api, "edge-cases", dataset="eval-set", members=["n9"])
    create_collection(api, "standalone", members=["n7"])
    empty = create_collection(api, "empty", dataset="training-v2")
    good = create_collection(api, "good-detections", dataset="training-v2", members=["n3"])
    ok(api.post(f"{COLLECTIONS}/front-camera-clips/members", json={"add": ["n0", "n1", "n5"]}))
    create_collection(api, "deleted", dataset="training-v2", members=["n4"])
    ok(api.delete(f"{COLLECTIONS}/deleted"))

    detail = dataset(api, "training-v2")
    assert without_collections(detail) == created
    assert detail["collections"] == [
        {"id": clips["id"], "name": "front-camera-clips", "members": ["n2", "n1", "n0", "n5"]},
        {"id": empty["id"], "name": "empty", "members": []},
        {"id": good["id"], "name": "good-detections", "members": ["n3"]},
    ]


def test_detail_of_a_dataset_without_collections_has_an_empty_list(api, project):
    created = create_dataset(api, "training-v2")
    assert dataset(api, "training-v2") == {**created, "collections": []}


@pytest.mark.parametrize("path", [f"{DATASETS}/missing", "/namespaces/missing/projects/vision/datasets/training-v2",
                                  "/namespaces/acme/projects/missing/datasets/training-v2"])
def test_get_of_an_unknown_dataset_namespace_or_project_is_404(api, project, path):
    create_dataset(api, "training-v2")
    assert_error(api.get(path), 404, "not_found")


# -- D4 ----------------------------------------------------------------------------------

def test_patch_with_an_empty_object_changes_nothing_and_returns_the_dataset(api, project):
    created = create_dataset(api, "training-v2", description="Q1", tags=["a"], metadata={"k": [1]})
    assert ok(api.patch(f"{DATASETS}/training-v2", json={})) == created
    assert without_collections(dataset(api, "training-v2")) == created


@pytest.mark.parametrize("change", [
    {"description": "new words"},
    {"description": None},
    {"tags": ["x", "y"]},
    {"tags": []},
    {"metadata": {"fresh": {"deep": [True]}}},
    {"metadata": None},
    {"description": "both", "metadata": {"n": 2}},
], ids=["description", "description-null", "tags", "tags-empty", "metadata", "metadata-null", "two-fields"])
def test_patch_updates_only_the_fields_present(api, project, change):
    created = create_dataset(api, "training-v2", description="Q1", tags=["a"], metadata={"k": 1})
    patched = ok(api.patch(f"{DATASETS}/training-v2", json=change))
    assert_dataset(patched)
    assert {key: value for key, value in patched.items() if key != "updatedAt"} == \
           {key: change.get(key, value) for key, value in created.items() if key != "updatedAt"}
    assert patched["updatedAt"] >= created["updatedAt"]
    assert without_collections(dataset(api, "training-v2")) == patched


@pytest.mark.parametrize("change, field", [({"name": None}, "name"), ({"tags": None}, "tags")])
def test_patch_may_not_set_name_or_tags_to_null(api, project, change, field):
    created = create_dataset(api, "training-v2", tags=["a"])
    error = assert_error(api.patch(f"{DATASETS}/training-v2", json=change), 400, "validation_error")
    assert field in error["fields"]
    assert without_collections(dataset(api, "training-v2")) == created


def test_patch_renames_and_its_collections_follow(api, project):
    created = create_dataset(api, "training-v2", description="Q1")
    create_collection(api, "clips", dataset="training-v2", members=["n1"])
    renamed = ok(api.patch(f"{DATASETS}/training-v2", json={"name": "training-v3"}))
    assert (renamed["id"], renamed["name"], renamed["description"]) == (created["id"], "training-v3", "Q1")
    assert_error(api.get(f"{DATASETS}/training-v2"), 404, "not_found")
    assert dataset(api, "training-v3")["collections"][0]["members"] == ["n1"]
    assert ok(api.get(f"{COLLECTIONS}/clips"))["dataset"] == "training-v3"
    assert dataset_names(api) == ["training-v3"]


def test_patch_to_its_own_name_is_not_a_conflict(api, project):
    create_dataset(api, "training-v2")
    assert ok(api.patch(f"{DATASETS}/training-v2", json={"name": "training-v2"}))["name"] == "training-v2"


def test_rename_onto_a_live_name_is_409_and_changes_nothing(api, project):
    first = create_dataset(api, "training-v2", description="first")
    second = create_dataset(api, "eval-set", description="second")
    response = api.patch(f"{DATASETS}/eval-set", json={"name": "training-v2", "description": "changed"})
    assert_error(response, 409, "conflict")
    assert without_collections(dataset(api, "training-v2")) == first
    assert without_collections(dataset(api, "eval-set")) == second


def test_rename_onto_a_deleted_datasets_name_works(api, project):
    create_dataset(api, "training-v2")
    ok(api.delete(f"{DATASETS}/training-v2"))
    other = create_dataset(api, "eval-set")
    renamed = ok(api.patch(f"{DATASETS}/eval-set", json={"name": "training-v2"}))
    assert (renamed["id"], renamed["name"]) == (other["id"], "training-v2")
    assert dataset(api, "training-v2")["id"] == other["id"]


@pytest.mark.parametrize("deleted", [False, True], ids=["never-existed", "deleted"])
def test_patch_of_an_unknown_dataset_is_404(api, project, deleted):
    create_dataset(api, "training-v2")
    if deleted:
        ok(api.delete(f"{DATASETS}/training-v2"))
    assert_error(api.patch(f"{DATASETS}/training-v2" if deleted else f"{DATASETS}/missing",
                           json={"description": "x"}), 404, "not_found")
    assert dataset_names(api) == ([] if deleted else ["training-v2"])


# -- D5 ----------------------------------------------------------------------------------

def test_delete_is_soft_and_frees_the_name(api, project):
    old = create_dataset(api, "training-v2", tags=["cars"])
    create_dataset(api, "eval-set")
    assert ok(api.delete(f"{DATASETS}/training-v2")) == {"success": True}

    assert_error(api.get(f"{DATASETS}/training-v2"), 404, "not_found")
    items, body = listed(api, DATASETS, "datasets")
    assert ([item["name"] for item in items], body["total"]) == (["eval-set"], 1)
    assert dataset_names(api, tag="cars") == []
    assert_error(api.delete(f"{DATASETS}/training-v2"), 404, "not_found")

    again = create_dataset(api, "training-v2")
    assert again["id"] != old["id"]
    assert (again["tags"], dataset(api, "training-v2")["collections"]) == ([], [])
    assert dataset_names(api) == ["eval-set", "training-v2"]


def test_delete_leaves_its_collections_standalone_with_their_members(api, project):
    create_dataset(api, "training-v2")
    clips = create_collection(api, "clips", dataset="training-v2", members=["n2", "n1", "n3"])
    create_collection(api, "edge-cases", dataset="training-v2")
    ok(api.delete(f"{DATASETS}/training-v2"))

    detail = ok(api.get(f"{COLLECTIONS}/clips"))
    assert (detail["id"], detail["dataset"], detail["members"], detail["memberCount"]) == \
           (clips["id"], None, ["n2", "n1", "n3"], 3)
    standalone = listed(api, COLLECTIONS, "collections", standalone="true")[0]
    assert [(item["name"], item["dataset"]) for item in standalone] == [("clips", None), ("edge-cases", None)]
    assert_error(api.get(COLLECTIONS, query_string={"dataset": "training-v2"}), 404, "not_found")

    create_dataset(api, "training-v2")
    assert dataset(api, "training-v2")["collections"] == []


@pytest.mark.parametrize("path", [f"{DATASETS}/missing", "/namespaces/missing/projects/vision/datasets/training-v2",
                                  "/namespaces/acme/projects/missing/datasets/training-v2"])
def test_delete_of_an_unknown_dataset_namespace_or_project_is_404(api, project, path):
    create_dataset(api, "training-v2")
    assert_error(api.delete(path), 404, "not_found")
    assert dataset_names(api) == ["training-v2"]
