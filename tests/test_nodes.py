"""R1, R2: the reverse lookup, which live collections of a project hold a node now."""
from urllib.parse import quote

import pytest

from tests.support.api import (
    COLLECTIONS,
    NS,
    PROJECT,
    assert_error,
    create,
    create_collection,
    create_dataset,
    ok,
    queries,
)

NODES = f"{PROJECT}/nodes"
LOOKUP = f"{NODES}/lookup"


def held(api, node_id, project=PROJECT):
    """R1 of `node_id` (its "/" written as is): the names of its collections, in order."""
    body = ok(api.get(f"{project}/nodes/{quote(node_id, safe='/')}/collections"))
    assert body["nodeId"] == node_id
    return [c["name"] for c in body["collections"]]


def looked_up(api, node_ids, project=PROJECT):
    """R2: {node ID: names of its collections, in order}."""
    results = ok(api.post(f"{project}/nodes/lookup", json={"nodeIds": node_ids}))["results"]
    return {node_id: [c["name"] for c in found] for node_id, found in results.items()}


def change(api, name, **members):
    ok(api.post(f"{COLLECTIONS}/{name}/members", json=members))


@pytest.fixture
def catalogue(api, project):
    """Dataset `train` holding `zeta` (n1, n2) and `alpha` (n2, n3); standalone `mid` (n1, n3),
    created in this order: zeta, mid, alpha."""
    create_dataset(api, "train")
    zeta = create_collection(api, "zeta", dataset="train", members=["n1", "n2"])
    mid = create_collection(api, "mid", members=["n1", "n3"])
    alpha = create_collection(api, "alpha", dataset="train", members=["n2", "n3"])
    return {"zeta": zeta, "mid": mid, "alpha": alpha}


def test_a_node_is_answered_with_the_collections_that_hold_it_by_creation(api, catalogue):
    response = api.get(f"{NODES}/n1/collections")
    assert ok(response) == {"nodeId": "n1", "collections": [
        {"id": catalogue["zeta"]["id"], "name": "zeta", "dataset": "train"},
        {"id": catalogue["mid"]["id"], "name": "mid", "dataset": None}]}
    assert queries(response) == 3
    assert held(api, "n2") == ["zeta", "alpha"]
    assert held(api, "n3") == ["mid", "alpha"]


def test_a_node_that_no_collection_holds_has_an_empty_list(api, catalogue):
    assert ok(api.get(f"{NODES}/n9/collections")) == {"nodeId": "n9", "collections": []}


def test_removed_members_and_deleted_collections_are_not_shown(api, catalogue):
    change(api, "zeta", remove=["n1"])
    assert ok(api.delete(f"{COLLECTIONS}/mid"))
    assert held(api, "n1") == []
    assert held(api, "n3") == ["alpha"]
    assert looked_up(api, ["n1", "n3"]) == {"n1": [], "n3": ["alpha"]}


def test_a_member_removed_and_added_again_is_shown_once(api, catalogue):
    change(api, "zeta", remove=["n1"])
    change(api, "zeta", add=["n1"])
    assert held(api, "n1") == ["zeta", "mid"]
    assert looked_up(api, ["n1"]) == {"n1": ["zeta", "mid"]}


def test_a_collection_moved_or_out_of_its_dataset_shows_where_it_is_now(api, catalogue):
    ok(api.patch(f"{COLLECTIONS}/zeta", json={"dataset": None, "name": "zeta-2"}))
    ok(api.delete(f"{PROJECT}/datasets/train"))
    body = ok(api.get(f"{NODES}/n2/collections"))
    assert [(c["name"], c["dataset"]) for c in body["collections"]] == [("zeta-2", None), ("alpha", None)]


def test_a_restored_collection_is_shown_again(api, catalogue):
    ok(api.delete(f"{COLLECTIONS}/mid"))
    ok(api.post(f"{PROJECT}/trash/collections/{catalogue['mid']['id']}/restore", json={}))
    assert held(api, "n1") == ["zeta", "mid"]


def test_collections_of_another_project_or_namespace_never_appear(api, catalogue):
    ok(api.post(f"{NS}/projects", json={"slug": "other"}), 201)
    create(api, f"{NS}/projects/other/collections", {"name": "zeta", "members": ["n1", "n9"]})
    ok(api.post("/namespaces", json={"slug": "beta"}), 201)
    ok(api.post("/namespaces/beta/projects", json={"slug": "vision"}), 201)
    create(api, "/namespaces/beta/projects/vision/collections", {"name": "mid", "members": ["n1", "n9"]})
    assert held(api, "n1") == ["zeta", "mid"]
    assert held(api, "n9") == []
    assert looked_up(api, ["n1", "n9"]) == {"n1": ["zeta", "mid"], "n9": []}
    assert held(api, "n1", f"{NS}/projects/other") == ["zeta"]
    assert looked_up(api, ["n1", "n2"], "/namespaces/beta/projects/vision") == {"n1": ["mid"], "n2": []}


@pytest.mark.parametrize("node_id", ["clips/2026/cam-1", "/lead", "trail/", "a//b", "x/collections", "lookup",
                                     "sp ace", "100%", "q?x=1#f", "ünï/côde", "\U0001f600"])
def test_any_node_id_is_looked_up_by_its_path(api, project, node_id):
    create_collection(api, "odd", members=[node_id, "plain"])
    segment = quote(node_id, safe="/")
    body = ok(api.get(f"{NODES}/{segment}/collections"))
    assert (body["nodeId"], [c["name"] for c in body["collections"]]) == (node_id, ["odd"])
    # its "/" may also be written %2F, as clients that encode path parameters write it
    assert ok(api.get(f"{NODES}/{quote(node_id, safe='')}/collections")) == body
    assert looked_up(api, [node_id]) == {node_id: ["odd"]}


def test_a_node_id_is_not_normalized(api, project):
    create_collection(api, "composed", members=["caf\u00e9"])
    assert held(api, "caf\u00e9") == ["composed"]
    assert held(api, "cafe\u0301") == []
    assert looked_up(api, ["cafe\u0301"]) == {"cafe\u0301": []}


@pytest.mark.parametrize("path", [
    f"{NS}/projects/vision%2Fnodes/n1/collections",  # a %2F outside the node ID
    f"{NS}%2Fprojects/vision/nodes/n1/collections",
    f"{NODES}/n1%2Fcollections",  # the last segment encoded: no route
    f"{NODES}/n1/collections%2F",
])
def test_an_encoded_slash_outside_the_node_id_names_nothing(api, catalogue, path):
    response = api.get(path)
    assert_error(response, 404, "not_found")
    assert queries(response) == 0


@pytest.mark.parametrize("segment", ["x" * 257, "a%07b", "%C2%85", "a%00"])
def test_an_impossible_node_id_is_a_404_without_database_work(api, catalogue, segment):
    for method in ("GET", "PUT"):  # a method the route does not take, too: it names nothing
        response = api.request(method, f"{NODES}/{segment}/collections")
        assert_error(response, 404, "not_found")
        assert queries(response) == 0


def test_the_longest_node_id_is_looked_up(api, project):
    create_collection(api, "long", members=["x" * 256])
    assert held(api, "x" * 256) == ["long"]


@pytest.mark.parametrize("path", ["/namespaces/nope/projects/vision", f"{NS}/projects/nope"])
def test_an_unknown_namespace_or_project_is_a_404(api, catalogue, path):
    assert_error(api.get(f"{path}/nodes/n1/collections"), 404, "not_found")
    assert_error(api.post(f"{path}/nodes/lookup", json={"nodeIds": ["n1"]}), 404, "not_found")


def test_a_namespace_outside_the_token_is_a_404(api, token, catalogue):
    outsider = api.as_(token(namespaces=("beta",)))
    assert_error(outsider.get(f"{NODES}/n1/collections"), 404, "not_found")
    assert_error(outsider.post(LOOKUP, json={"nodeIds": ["n1"]}), 404, "not_found")


# -- R2 ----------------------------------------------------------------------------------

def test_lookup_answers_every_node_asked_in_order_each_once(api, catalogue):
    response = api.post(LOOKUP, json={"nodeIds": ["n3", "n9", "n1", "n3", "n2"]})
    results = ok(response)["results"]
    assert list(results) == ["n3", "n9", "n1", "n2"]
    assert results["n9"] == []
    assert results["n1"] == [{"id": catalogue["zeta"]["id"], "name": "zeta", "dataset": "train"},
                             {"id": catalogue["mid"]["id"], "name": "mid", "dataset": None}]
    assert {n: [c["name"] for c in found] for n, found in results.items()} == \
        {"n3": ["mid", "alpha"], "n9": [], "n1": ["zeta", "mid"], "n2": ["zeta", "alpha"]}
    assert queries(response) == 3


def test_lookup_answers_what_r1_answers_for_each_node(api, catalogue):
    results = ok(api.post(LOOKUP, json={"nodeIds": ["n1", "n2", "n3", "n4"]}))["results"]
    for node_id, found in results.items():
        assert found == ok(api.get(f"{NODES}/{node_id}/collections"))["collections"]


def test_lookup_of_10000_node_ids_is_one_statement(api, catalogue):
    node_ids = [f"node-{i}" for i in range(9_998)] + ["n1", "n2"]
    response = api.post(LOOKUP, json={"nodeIds": node_ids})
    results = ok(response)["results"]
    assert list(results) == node_ids
    assert results["n2"][0]["name"] == "zeta" and results["node-0"] == []
    assert queries(response) == 3


@pytest.mark.parametrize("body", [
    {"nodeIds": ["n"] * 10_001},  # counted as sent, before duplicates are dropped
    {},
    {"nodeIds": "n1"},
    {"nodeIds": [1]},
    {"nodeIds": ["x" * 257]},
    {"nodeIds": ["a\x07"]},
    {"nodeIds": [""]},
    {"nodeIds": None},
    {"nodeIds": ["n1"], "other": 1},
])
def test_lookup_refuses_a_body_that_breaks_the_rules_without_database_work(api, catalogue, body):
    response = api.post(LOOKUP, json=body)
    assert_error(response, 400, "validation_error")
    assert queries(response) == 0


def test_lookup_of_no_node_ids_answers_no_results(api, catalogue):
    assert ok(api.post(LOOKUP, json={"nodeIds": []})) == {"results": {}}


def test_lookup_honours_an_idempotency_key(api, catalogue):
    first = api.post(LOOKUP, json={"nodeIds": ["n1"]}, headers={"Idempotency-Key": "lookup-1"})
    change(api, "zeta", remove=["n1"])
    again = api.post(LOOKUP, json={"nodeIds": ["n1"]}, headers={"Idempotency-Key": "lookup-1"})
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_data() == first.get_data()
