"""Versions (contract §8.1): a version is the dataset detail exactly as it was frozen, whatever
happens afterwards; versions are numbered per dataset and listed oldest first; a diff says
what changed; compacting the history changes no version and no current read; and neither
freezing nor diffing reads the members that did not change."""
import json
import random
from contextlib import contextmanager

import pytest

from service.db import db
from service.models import Member, VersionCollection
from tests.support.api import COLLECTIONS, DATASETS, assert_error, create_collection, create_dataset, ok, queries

VERSIONS = f"{DATASETS}/train/versions"


def freeze(api, dataset="train", note=None):
    return ok(api.post(f"{DATASETS}/{dataset}/versions", json={} if note is None else {"note": note}), 201)


@pytest.fixture
def train(api, project):
    create_dataset(api, "train", description="first", tags=["a"], metadata={"k": [1, 2]})
    create_collection(api, "clips", dataset="train", members=["n1", "n2", "n3"])
    create_collection(api, "empty", dataset="train")
    create_collection(api, "elsewhere", members=["x"])


def test_a_version_is_the_dataset_detail_as_it_was_frozen(api, train):
    before = api.get(f"{DATASETS}/train")
    version = freeze(api, note="run 42")
    assert version == {**version, "number": 1, "note": "run 42", "createdBy": "alice", "collectionCount": 2,
                       "memberCount": 3, "datasetId": before.get_json()["id"]}
    api.post(f"{COLLECTIONS}/clips/members", json={"add": ["n4"], "remove": ["n1"]})
    api.patch(f"{DATASETS}/train", json={"name": "renamed", "metadata": None})
    detail = ok(api.get(f"{DATASETS}/renamed/versions/1"))
    assert detail["dataset"] == before.get_json()
    assert {k: v for k, v in detail.items() if k != "dataset"} == version


def test_versions_are_numbered_per_dataset_and_listed_oldest_first(api, train):
    create_dataset(api, "other")
    numbers = [freeze(api)["number"] for _ in range(3)] + [freeze(api, "other")["number"]]
    assert numbers == [1, 2, 3, 1]
    listed = ok(api.get(VERSIONS, query_string={"pageSize": 2, "page": 2}))
    assert ([v["number"] for v in listed["versions"]], listed["total"], listed["totalPages"]) == ([3], 3, 2)
    assert [v["number"] for v in ok(api.get(VERSIONS))["versions"]] == [1, 2, 3]
    first = ok(api.get(VERSIONS, query_string={"pageSize": 2}))
    freeze(api)  # made during the walk: it sorts after the cursor, so it is shown
    rest = ok(api.get(VERSIONS, query_string={"pageSize": 2, "cursor": first["nextCursor"]}))
    assert ([v["number"] for v in first["versions"] + rest["versions"]], rest["nextCursor"]) == ([1, 2, 3, 4], None)


def test_missing_things_are_404_and_bad_numbers_400(api, train):
    freeze(api)
    assert_error(api.get(f"{VERSIONS}/2"), 404, "not_found")
    assert_error(api.get(f"{DATASETS}/nope/versions"), 404, "not_found")
    assert_error(api.post(f"{DATASETS}/nope/versions", json={}), 404, "not_found")
    assert_error(api.get(f"{VERSIONS}/1/diff/2"), 404, "not_found")
    for bad in ("0", "x", "-1", "1.5", "current"):
        error = assert_error(api.get(f"{VERSIONS}/{bad}/diff/current"), 400, "validation_error")
        assert list(error["fields"]) == ["from"]
    assert list(assert_error(api.get(f"{VERSIONS}/1/diff/latest"), 400, "validation_error")["fields"]) == ["to"]
    for odd in ("01", "\uff11", "1000000000", "9223372036854775808"):  # 01, a full-width 1, too large
        assert_error(api.get(f"{VERSIONS}/{odd}"), 404, "not_found")
        assert_error(api.get(f"{VERSIONS}/{odd}/diff/1"), 400, "validation_error")
    assert_error(api.post(VERSIONS, json={"note": "x" * 2001}), 400, "validation_error")
    api.delete(f"{DATASETS}/train")
    assert_error(api.get(f"{VERSIONS}/1"), 404, "not_found")


def test_a_diff_says_what_changed_between_two_sides(api, train):
    freeze(api)
    api.post(f"{COLLECTIONS}/clips/members", json={"add": ["n4", "n1"], "remove": ["n2"]})
    api.patch(f"{COLLECTIONS}/clips", json={"name": "front"})
    api.patch(f"{COLLECTIONS}/empty", json={"dataset": None})
    create_collection(api, "late", dataset="train", members=["l1", "l2"])
    api.patch(f"{DATASETS}/train", json={"description": "second", "tags": ["a", "b"]})
    freeze(api)
    api.post(f"{COLLECTIONS}/front/members", json={"remove": ["n3"]})
    api.post(f"{COLLECTIONS}/front/members", json={"add": ["n3"]})  # back, at the end
    clips, late, empty = (ok(api.get(f"{COLLECTIONS}/{n}"))["id"] for n in ("front", "late", "empty"))
    assert ok(api.get(f"{VERSIONS}/1/diff/2")) == {
        "from": 1, "to": 2,
        "dataset": {"description": {"from": "first", "to": "second"}, "tags": {"from": ["a"], "to": ["a", "b"]}},
        "collections": {"added": [{"id": late, "name": "late"}], "removed": [{"id": empty, "name": "empty"}],
                        "renamed": [{"id": clips, "from": "clips", "to": "front"}],
                        "members": [{"id": clips, "name": "front", "added": ["n4"], "removed": ["n2"]},
                                    {"id": late, "name": "late", "added": ["l1", "l2"], "removed": []}]}}
    current = ok(api.get(f"{VERSIONS}/2/diff/current"))
    assert (current["to"], current["dataset"], current["collections"]["members"]) == (
        "current", {}, [{"id": clips, "name": "front", "added": ["n3"], "removed": ["n3"]}])
    assert ok(api.get(f"{VERSIONS}/2/diff/2"))["collections"]["members"] == []


@contextmanager
def statements():
    """The SQL statements sent meanwhile, as (sql, params)."""
    sent = []

    def hook(event):
        sent.append((event.sql, event.params))

    db.obj.query_hooks.append(hook)
    try:
        yield sent
    finally:
        db.obj.query_hooks.remove(hook)


def test_freezing_writes_a_row_per_collection_and_none_per_member(api, app, train):
    api.post(f"{COLLECTIONS}/clips/members", json={"add": [f"m{i}" for i in range(500)]})
    with app.app_context(), db.connection_context():
        members = Member.select().count()
    response = api.post(VERSIONS, json={})
    assert response.status_code == 201 and queries(response) == 5
    with app.app_context(), db.connection_context():
        assert Member.select().count() == members
        assert VersionCollection.select().count() == 2


def _plan(sql, params):
    """What the database says it does for a statement: EXPLAIN's text."""
    if db.obj.__class__.__name__.startswith("Sqlite"):
        return "\n".join(str(row) for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())
    return json.dumps(db.execute_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params).fetchone()[0])


def test_a_diff_reads_the_member_rows_that_changed_not_the_collection(api, app, train):
    api.post(f"{COLLECTIONS}/clips/members", json={"add": [f"m{i}" for i in range(2000)]})
    freeze(api)
    api.post(f"{COLLECTIONS}/clips/members", json={"add": ["new-1", "new-2"], "remove": ["m7"]})
    freeze(api)
    with statements() as sent:
        response = api.get(f"{VERSIONS}/1/diff/2")
    assert ok(response)["collections"]["members"][0] == {
        "id": response.get_json()["collections"]["members"][0]["id"], "name": "clips",
        "added": ["new-1", "new-2"], "removed": ["m7"]}
    changes_sql, params = sent[-1]
    with app.app_context(), db.connection_context():
        plan = _plan(changes_sql, params)
    if '"Plan"' in plan:  # PostgreSQL: the rows each scan of member returned
        scanned = [node["Actual Rows"] * node["Actual Loops"] for node in _nodes(json.loads(plan)[0]["Plan"])
                   if node.get("Relation Name") == "member"]
        assert scanned and sum(scanned) <= 10, scanned
    else:  # SQLite: every read of member is a search of an index by collection and change
        reads = [line for line in plan.splitlines() if " m " in line or "member" in line]
        assert reads and all("USING INDEX" in line and "collection_id=?" in line for line in reads), plan


def _nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


# -- a long random sequence of operations, against a model of what each version must show ----

class World:
    """What the registry holds, kept by the test: dataset `train` (and `other`), collections
    in creation order with their members as (node ID, which addition) pairs."""

    def __init__(self, api):
        self.api, self.additions, self.fields = api, 0, {"name": "train", "description": None, "tags": [],
                                                         "metadata": None}
        self.collections = {}  # id: {"name", "dataset", "members", "live"}

    def snapshot(self):
        """The dataset `train` as a version must show it: its fields and its live collections."""
        held = {cid: (c["name"], list(c["members"])) for cid, c in self.collections.items()
                if c["live"] and c["dataset"] == "train"}
        return dict(self.fields), held

    def add(self, cid, nodes):
        current = {node for node, _ in self.collections[cid]["members"]}
        for node in dict.fromkeys(nodes):
            if node not in current:
                self.additions += 1
                self.collections[cid]["members"].append((node, self.additions))

    def remove(self, cid, nodes):
        self.collections[cid]["members"] = [(n, a) for n, a in self.collections[cid]["members"] if n not in nodes]


def expected_diff(old, new, numbers):
    (was, before), (now, after) = old, new
    members = []
    for cid in [*before, *(c for c in after if c not in before)]:
        a, b = before.get(cid, (None, []))[1], after.get(cid, (None, []))[1]
        added = [n for n, i in b if (n, i) not in set(a)]
        removed = [n for n, i in a if (n, i) not in set(b)]
        if added or removed:
            members.append({"id": cid, "name": (after.get(cid) or before[cid])[0], "added": added, "removed": removed})
    return {"from": numbers[0], "to": numbers[1],
            "dataset": {k: {"from": was[k], "to": now[k]} for k in was if was[k] != now[k]},
            "collections": {
                "added": [{"id": c, "name": after[c][0]} for c in after if c not in before],
                "removed": [{"id": c, "name": before[c][0]} for c in before if c not in after],
                "renamed": [{"id": c, "from": before[c][0], "to": after[c][0]}
                            for c in before if c in after and before[c][0] != after[c][0]],
                "members": members}}


def step(world, rng, n):
    """One random operation, done through the API and in the model."""
    api = world.api
    live = [cid for cid, c in world.collections.items() if c["live"]]
    names = {cid: world.collections[cid]["name"] for cid in live}
    pool = [f"node-{i}" for i in range(40)]
    kind = rng.choice(["add", "add", "remove", "both", "rename", "move", "delete", "create", "create", "patch"])
    if kind == "create" or not live:
        name, dataset = f"c{n}", rng.choice(["train", "train", "other", None])
        members = rng.sample(pool, rng.randint(0, 6))
        cid = create_collection(api, name, dataset=dataset, members=members)["id"]
        world.collections[cid] = {"name": name, "dataset": dataset, "members": [], "live": True}
        world.add(cid, members)
        return
    cid = rng.choice(live)
    path = f"{COLLECTIONS}/{names[cid]}"
    if kind in ("add", "remove", "both"):
        add = rng.sample(pool, rng.randint(1, 5)) if kind != "remove" else []
        remove = [x for x in rng.sample(pool, rng.randint(1, 5)) if x not in add] if kind != "add" else []
        ok(api.post(f"{path}/members", json={"add": add, "remove": remove}))
        world.remove(cid, set(remove))
        world.add(cid, add)
    elif kind == "rename":
        ok(api.patch(path, json={"name": f"r{n}"}))
        world.collections[cid]["name"] = f"r{n}"
    elif kind == "move":
        dataset = rng.choice(["train", "other", None])
        ok(api.patch(path, json={"dataset": dataset}))
        world.collections[cid]["dataset"] = dataset
    elif kind == "delete":
        ok(api.delete(path))
        world.collections[cid]["live"] = False
    else:  # patch the dataset
        change = rng.choice([{"description": f"d{n}"}, {"tags": [f"t{n % 3}", "x"]}, {"metadata": {"n": n}},
                             {"metadata": None}, {"description": None}])
        ok(api.patch(f"{DATASETS}/train", json=change))
        world.fields.update(change)


@pytest.mark.parametrize("seed", [7, 2026])
def test_every_version_reads_back_byte_for_byte_after_a_long_random_history(api, project, seed):
    rng = random.Random(seed)
    create_dataset(api, "train")
    create_dataset(api, "other")
    world = World(api)
    frozen = {}  # number: (V3 bytes when frozen, the model's snapshot)
    for n in range(150):
        step(world, rng, n)
        if rng.random() < 0.12:
            number = freeze(api)["number"]
            now = api.get(f"{VERSIONS}/{number}")
            assert now.get_json()["dataset"] == ok(api.get(f"{DATASETS}/train"))
            frozen[number] = (now.get_data(), world.snapshot())
    assert len(frozen) >= 5
    for number, (data, (fields, held)) in frozen.items():
        read = api.get(f"{VERSIONS}/{number}")
        assert read.get_data() == data, number
        dataset = read.get_json()["dataset"]
        assert {k: dataset[k] for k in fields} == fields
        assert [(c["id"], c["name"], c["members"]) for c in dataset["collections"]] == [
            (cid, name, [node for node, _ in members]) for cid, (name, members) in held.items()]
    numbers = sorted(frozen)
    pairs = [*zip(numbers, numbers[1:], strict=False), (numbers[0], numbers[-1])]
    for a, b in [*pairs, *((b, a) for a, b in pairs)]:  # and backwards
        assert ok(api.get(f"{VERSIONS}/{a}/diff/{b}")) == expected_diff(frozen[a][1], frozen[b][1], (a, b))
    assert ok(api.get(f"{VERSIONS}/{numbers[0]}/diff/current")) == expected_diff(
        frozen[numbers[0]][1], world.snapshot(), (numbers[0], "current"))


def test_compacting_the_history_changes_no_version_and_no_current_read(api, app, project):
    rng = random.Random(11)
    create_dataset(api, "train")
    create_dataset(api, "other")
    world = World(api)
    for n in range(80):
        step(world, rng, n)
        if n in (20, 50):
            freeze(api)

    def everything():
        reads = [f"{VERSIONS}/1", f"{VERSIONS}/2", f"{VERSIONS}/1/diff/2", f"{VERSIONS}/1/diff/current",
                 f"{DATASETS}/train", f"{DATASETS}/other",
                 *(f"{COLLECTIONS}/{c['name']}" for c in world.collections.values() if c["live"])]
        return {path: ok(api.get(path)) for path in reads}

    before = everything()
    with app.app_context(), db.connection_context():
        rows_before = Member.select().count()
    result = app.test_cli_runner().invoke(args=["compact-history"])
    assert result.exit_code == 0, result.output
    deleted = int(result.output.split()[0])
    with app.app_context(), db.connection_context():
        assert 0 < deleted == rows_before - Member.select().count()
    assert everything() == before
    assert app.test_cli_runner().invoke(args=["compact-history"]).output.split()[0] == "0"
