"""C1 with `from`: a collection made of the union, intersection or difference of others,
its members computed by the database, in the documented order."""
from itertools import permutations

import psycopg2
import pytest

from service import data
from service.db import db
from service.models import Member, Project
from tests.support.api import (
    COLLECTIONS,
    DATASETS,
    NS,
    assert_error,
    create,
    create_collection,
    create_dataset,
    listed,
    ok,
    queries,
)

# The current members of the collections of `sources` (below), in their order.
A = ["n1", "n3", "n4", "n2"]  # n2 removed and added again: it went to the end
B = ["n5", "n3", "n6", "n1"]
C = ["n7", "n1", "n3", "n5"]
MEMBERS = {"a": A, "b": B, "c": C}


@pytest.fixture
def sources(api, project):
    """Dataset `train`; collections a, b, c (MEMBERS); c also once held n8, removed since; and
    `gone`, deleted, which held every node."""
    create_dataset(api, "train")
    create_collection(api, "a", members=["n1", "n2", "n3", "n4"])
    ok(api.post(f"{COLLECTIONS}/a/members", json={"remove": ["n2"]}))
    ok(api.post(f"{COLLECTIONS}/a/members", json={"add": ["n2"]}))
    create_collection(api, "b", dataset="train", members=B)
    create_collection(api, "c", members=["n7", "n1", "n8", "n3", "n5"])
    ok(api.post(f"{COLLECTIONS}/c/members", json={"remove": ["n8"]}))
    create_collection(api, "gone", members=[f"n{i}" for i in range(1, 10)])
    ok(api.delete(f"{COLLECTIONS}/gone"))
    assert {name: members(api, name) for name in MEMBERS} == MEMBERS
    return MEMBERS


def members(api, name):
    return ok(api.get(f"{COLLECTIONS}/{name}"))["members"]


def make(api, name, operation, names, **fields):
    return api.post(COLLECTIONS, json={"name": name, "from": {operation: names}, **fields})


def by_hand(operation, lists):
    """What a user computes: the union in order of the first list, then the next's new ones;
    the first list's members that every other holds, or that no other holds."""
    first, others = lists[0], lists[1:]
    if operation == "union":
        return list(dict.fromkeys(node for members in lists for node in members))
    if operation == "intersection":
        return [node for node in first if all(node in other for other in others)]
    return [node for node in first if not any(node in other for other in others)]


@pytest.mark.parametrize("operation, names, expected", [
    ("union", ["a", "b"], ["n1", "n3", "n4", "n2", "n5", "n6"]),
    ("union", ["b", "a", "c"], ["n5", "n3", "n6", "n1", "n4", "n2", "n7"]),
    ("union", ["c", "b"], ["n7", "n1", "n3", "n5", "n6"]),
    ("intersection", ["a", "b"], ["n1", "n3"]),
    ("intersection", ["b", "a"], ["n3", "n1"]),
    ("intersection", ["c", "a", "b"], ["n1", "n3"]),
    ("difference", ["a", "b"], ["n4", "n2"]),
    ("difference", ["b", "a", "c"], ["n6"]),
    ("difference", ["c", "b"], ["n7"]),
])
def test_each_operation_gives_its_members_in_the_documented_order(api, sources, operation, names, expected):
    response = make(api, "made", operation, names)
    created = ok(response, 201)
    assert created["memberCount"] == len(expected) and created["dataset"] is None
    assert members(api, "made") == expected == by_hand(operation, [MEMBERS[n] for n in names])
    assert queries(response) == 5


@pytest.mark.parametrize("operation", ["union", "intersection", "difference"])
def test_every_order_of_the_sources_is_what_a_user_computes(api, sources, operation):
    for i, names in enumerate(permutations(MEMBERS)):
        ok(make(api, f"{operation}-{i}", operation, list(names)), 201)
        assert members(api, f"{operation}-{i}") == by_hand(operation, [MEMBERS[n] for n in names]), names


def test_in_a_dataset_it_costs_the_budget_and_is_listed_there(api, sources):
    response = make(api, "merged", "union", ["a", "c"], dataset="train")
    created = ok(response, 201)
    assert queries(response) == 6
    assert (created["dataset"], created["memberCount"], created["createdBy"]) == ("train", 6, "alice")
    assert ok(api.get(f"{COLLECTIONS}/merged")) == {**created, "members": ["n1", "n3", "n4", "n2", "n7", "n5"]}
    assert [c["name"] for c in listed(api, COLLECTIONS, "collections", dataset="train")[0]] == ["b", "merged"]


def test_the_sources_are_unchanged_and_the_new_collection_is_independent(api, sources):
    ok(make(api, "copy", "union", ["a", "b"]), 201)
    assert {name: members(api, name) for name in MEMBERS} == MEMBERS
    ok(api.post(f"{COLLECTIONS}/a/members", json={"remove": ["n1"], "add": ["n9"]}))
    assert members(api, "copy") == ["n1", "n3", "n4", "n2", "n5", "n6"]


def test_the_new_collection_takes_member_changes_and_versions(api, sources):
    ok(make(api, "made", "difference", ["a", "b"], dataset="train"), 201)  # n4, n2
    version = f"{DATASETS}/train/versions"
    ok(api.post(version, json={}), 201)
    ok(api.post(f"{COLLECTIONS}/made/members", json={"add": ["n9", "n4"], "remove": ["n2"]}))
    assert members(api, "made") == ["n4", "n9"]
    frozen = ok(api.get(f"{version}/1"))["dataset"]["collections"]
    assert {c["name"]: c["members"] for c in frozen} == {"b": B, "made": ["n4", "n2"]}
    changed = ok(api.get(f"{version}/1/diff/current"))["collections"]["members"]
    assert [(c["name"], c["added"], c["removed"]) for c in changed] == [("made", ["n9"], ["n2"])]
    assert ok(api.get(f"{NS}/projects/vision/nodes/n4/collections"))["collections"][-1]["name"] == "made"


def test_an_empty_result_makes_an_empty_collection(api, sources):
    ok(api.post(COLLECTIONS, json={"name": "lonely", "members": ["n0"]}), 201)
    response = make(api, "none", "intersection", ["a", "lonely"])
    assert ok(response, 201)["memberCount"] == 0
    assert queries(response) == 4  # nothing to insert
    assert members(api, "none") == []
    assert ok(api.post(f"{COLLECTIONS}/none/members", json={"add": ["n1"]}))["memberCount"] == 1
    assert members(api, "none") == ["n1"]


def test_the_10000_cap_does_not_apply(api, project):
    create_collection(api, "left", members=[f"l{i}" for i in range(10_000)])
    create_collection(api, "right", members=[f"r{i}" for i in range(10_000)])
    response = make(api, "both", "union", ["right", "left"])
    assert ok(response, 201)["memberCount"] == 20_000 and queries(response) == 5
    got = members(api, "both")
    assert got == [f"r{i}" for i in range(10_000)] + [f"l{i}" for i in range(10_000)]


@pytest.mark.parametrize("names, missing", [(["a", "x"], "x"), (["y", "a", "x"], "y"), (["a", "gone"], "gone")])
def test_a_collection_that_does_not_exist_is_a_404_naming_it(api, sources, names, missing):
    response = make(api, "made", "union", names)
    assert assert_error(response, 404, "not_found")["message"] == f"collection '{missing}' not found"
    assert queries(response) == 3
    assert_error(api.get(f"{COLLECTIONS}/made"), 404, "not_found")


def test_collections_of_another_project_or_namespace_are_not_found(api, sources):
    ok(api.post(f"{NS}/projects", json={"slug": "other"}), 201)
    other = f"{NS}/projects/other/collections"
    create(api, other, {"name": "a", "members": ["x1"]})
    create(api, other, {"name": "z", "members": ["x2"]})
    ok(api.post("/namespaces", json={"slug": "beta"}), 201)
    ok(api.post("/namespaces/beta/projects", json={"slug": "vision"}), 201)
    create(api, "/namespaces/beta/projects/vision/collections", {"name": "y", "members": ["x3"]})
    for path, names, missing in ((COLLECTIONS, ["a", "z"], "z"), (COLLECTIONS, ["y", "a"], "y"),
                                 (other, ["a", "b"], "b")):
        response = api.post(path, json={"name": "made", "from": {"union": names}})
        assert assert_error(response, 404, "not_found")["message"] == f"collection '{missing}' not found"
    ok(api.post(other, json={"name": "made", "from": {"union": ["z", "a"]}}), 201)
    assert ok(api.get(f"{other}/made"))["members"] == ["x2", "x1"]


def test_an_unknown_dataset_is_a_404(api, sources):
    response = make(api, "made", "union", ["a", "b"], dataset="nope")
    assert assert_error(response, 404, "not_found")["message"] == "dataset 'nope' not found"
    assert queries(response) == 3


def test_a_taken_name_is_a_409_and_writes_nothing(app, api, sources):
    with app.app_context(), db.connection_context():
        before = Member.select().count()
    response = make(api, "b", "union", ["a", "c"])
    assert_error(response, 409, "conflict")
    assert queries(response) == 4
    with app.app_context(), db.connection_context():
        assert Member.select().count() == before
    assert {name: members(api, name) for name in MEMBERS} == MEMBERS


@pytest.mark.parametrize("source", [
    {"union": ["a"]},  # fewer than 2
    {"union": [f"c{i}" for i in range(11)]},  # more than 10
    {"union": ["a", "b", "a"]},  # a name twice
    {"intersection": ["caf\u00e9", "cafe\u0301"]},  # twice in NFC
    {},
    {"union": ["a", "b"], "difference": ["a", "b"]},
    {"symmetric": ["a", "b"]},
    {"union": ["a", "b/c"]},
    {"union": "a"},
    {"union": [1, 2]},
    [],
    None,
])
def test_a_from_that_breaks_the_rules_is_a_400_without_database_work(api, sources, source):
    response = api.post(COLLECTIONS, json={"name": "made", "from": source})
    assert_error(response, 400, "validation_error")
    assert queries(response) == 0


def test_members_and_from_together_are_a_400(api, sources):
    for member_list in ([], ["n1"]):
        response = api.post(COLLECTIONS, json={"name": "made", "members": member_list, "from": {"union": ["a", "b"]}})
        assert_error(response, 400, "validation_error")


def test_ten_collections_may_be_named(api, project):
    for i in range(10):
        create_collection(api, f"s{i}", members=[f"n{i}", "shared"])
    created = ok(make(api, "all", "union", [f"s{i}" for i in reversed(range(10))]), 201)
    assert created["memberCount"] == 11
    assert members(api, "all") == ["n9", "shared", *[f"n{i}" for i in reversed(range(9))]]


def test_the_sources_are_held_until_the_collection_is_written(app, api, sources, backend):
    """On PostgreSQL query 4 locks the sources (shared): a C5 or C6 on one of them waits."""
    if backend != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time")
    with app.app_context(), db.connection_context(), data.transaction():
        project = Project.get(Project.slug == "vision")
        found = data.find_collections_named(project, ["a", "b"])
        other = psycopg2.connect(app.config["DATABASE_URL"])
        try:
            with pytest.raises(psycopg2.errors.LockNotAvailable):
                other.cursor().execute("SELECT 1 FROM collection WHERE id = %s FOR UPDATE NOWAIT", (found["b"],))
        finally:
            other.close()
