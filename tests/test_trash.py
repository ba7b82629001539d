"""The trash (contract §8.2) and who did what (§8.3): T1 lists what was deleted, T2 and T3
restore it (with a dataset's collections and versions, into a collection's dataset), T4 and
purge-trash delete it for good; createdBy, updatedBy and deletedBy name the token subjects."""
import time
from datetime import timedelta

import pytest

from service.db import db
from service.models import Collection, Dataset, Member, Version, utcnow
from tests.support.api import COLLECTIONS, DATASETS, PROJECT, assert_error, create, listed, ok, walk
from tests.support.dbstate import assert_unchanged, table_rows

TRASH = f"{PROJECT}/trash"


def trash(api, **params):
    return listed(api, TRASH, "items", **params)[0]


def item_id(api, kind, name):
    (found,) = [i["id"] for i in trash(api, kind=kind) if i["name"] == name]
    return found


def restore(api, kind, row_id, **body):
    return api.post(f"{TRASH}/{kind}s/{row_id}/restore", json=body)


def collection(api, name):
    return ok(api.get(f"{COLLECTIONS}/{name}"))


def members_of(api, name):
    return collection(api, name)["members"]


@pytest.fixture
def bob(api, token):
    return api.as_(token(sub="bob"))


@pytest.fixture
def training(api, project):
    """Dataset training-v2 with collections clips (a, b) and boxes (c), frozen as version 1."""
    create(api, DATASETS, {"name": "training-v2", "tags": ["q1"]})
    create(api, COLLECTIONS, {"name": "clips", "dataset": "training-v2", "members": ["a", "b"]})
    create(api, COLLECTIONS, {"name": "boxes", "dataset": "training-v2", "members": ["c"]})
    ok(api.post(f"{DATASETS}/training-v2/versions", json={}), 201)


def test_a_deleted_dataset_is_listed_with_who_and_when_and_restored_whole(api, bob, training):
    dataset = ok(api.get(f"{DATASETS}/training-v2"))
    version = ok(api.get(f"{DATASETS}/training-v2/versions/1"))
    ok(bob.delete(f"{DATASETS}/training-v2"))
    (item,) = trash(api)
    assert {k: item[k] for k in ("kind", "id", "name", "deletedBy")} == \
        {"kind": "dataset", "id": dataset["id"], "name": "training-v2", "deletedBy": "bob"}
    assert set(item) == {"kind", "id", "name", "deletedAt", "deletedBy"}
    assert collection(api, "clips")["dataset"] is None
    assert ok(api.get(DATASETS))["total"] == 0

    restored = ok(restore(bob, "dataset", dataset["id"]))
    assert {k: restored[k] for k in ("id", "name", "createdBy", "updatedBy")} == \
        {"id": dataset["id"], "name": "training-v2", "createdBy": "alice", "updatedBy": "bob"}
    detail = ok(api.get(f"{DATASETS}/training-v2"))
    assert [(c["name"], c["members"]) for c in detail["collections"]] == [("clips", ["a", "b"]), ("boxes", ["c"])]
    assert ok(api.get(f"{DATASETS}/training-v2/versions/1")) == version
    assert ok(api.get(DATASETS))["total"] == 1  # the project's count of live datasets follows
    assert trash(api) == []


def test_a_restored_dataset_takes_back_only_the_collections_still_standalone_and_unmoved(api, training):
    create(api, DATASETS, {"name": "other"})
    for name in ("renamed", "moved", "moved-back", "deleted"):
        create(api, COLLECTIONS, {"name": name, "dataset": "training-v2"})
    dataset_id = ok(api.get(f"{DATASETS}/training-v2"))["id"]
    ok(api.delete(f"{DATASETS}/training-v2"))
    ok(api.patch(f"{COLLECTIONS}/renamed", json={"name": "renamed-2"}))
    ok(api.patch(f"{COLLECTIONS}/moved", json={"dataset": "other"}))
    ok(api.patch(f"{COLLECTIONS}/moved-back", json={"dataset": "other"}))
    ok(api.patch(f"{COLLECTIONS}/moved-back", json={"dataset": None}))
    ok(api.delete(f"{COLLECTIONS}/deleted"))

    ok(restore(api, "dataset", dataset_id))
    back = [c["name"] for c in ok(api.get(f"{DATASETS}/training-v2"))["collections"]]
    assert back == ["clips", "boxes", "renamed-2"]
    assert collection(api, "moved")["dataset"] == "other"
    assert collection(api, "moved-back")["dataset"] is None
    assert [i["name"] for i in trash(api)] == ["deleted"]


def test_restoring_under_a_taken_name_is_a_409_and_changes_nothing(api, training):
    dataset_id = ok(api.get(f"{DATASETS}/training-v2"))["id"]
    clips_id = collection(api, "clips")["id"]
    ok(api.delete(f"{COLLECTIONS}/clips"))
    ok(api.delete(f"{DATASETS}/training-v2"))
    create(api, DATASETS, {"name": "training-v2"})
    create(api, COLLECTIONS, {"name": "clips"})
    create(api, DATASETS, {"name": "taken"})
    before = table_rows()
    for kind, row_id, body in [("dataset", dataset_id, {}), ("dataset", dataset_id, {"name": "taken"}),
                               ("collection", clips_id, {}), ("collection", clips_id, {"name": "boxes"})]:
        assert_error(restore(api, kind, row_id, **body), 409, "conflict")
        assert_unchanged(before, (kind, body))

    restored = ok(restore(api, "dataset", dataset_id, name="training-v2 (old)"))
    assert restored["name"] == "training-v2 (old)"
    assert [c["name"] for c in ok(api.get(f"{DATASETS}/training-v2 (old)"))["collections"]] == ["boxes"]
    assert ok(api.get(f"{DATASETS}/training-v2 (old)/versions"))["total"] == 1
    assert ok(restore(api, "collection", clips_id, name="clips (old)"))["dataset"] == "training-v2 (old)"
    assert members_of(api, "clips (old)") == ["a", "b"]


def test_a_restored_collection_goes_back_into_its_dataset_if_it_is_live(api, bob, training):
    ok(bob.delete(f"{COLLECTIONS}/clips"))
    (item,) = trash(api, kind="collection")
    assert {k: item[k] for k in ("kind", "name", "deletedBy", "dataset")} == \
        {"kind": "collection", "name": "clips", "deletedBy": "bob", "dataset": "training-v2"}
    ok(api.patch(f"{DATASETS}/training-v2", json={"name": "training-v3"}))
    assert trash(api)[0]["dataset"] == "training-v2"  # its dataset's name when it was deleted

    restored = ok(restore(bob, "collection", item["id"]))
    assert (restored["dataset"], restored["memberCount"], restored["updatedBy"]) == ("training-v3", 2, "bob")
    assert members_of(api, "clips") == ["a", "b"]

    ok(api.delete(f"{COLLECTIONS}/boxes"))
    ok(api.delete(f"{DATASETS}/training-v3"))  # boxes was not in it when it was deleted
    boxes = item_id(api, "collection", "boxes")
    assert ok(restore(api, "collection", boxes))["dataset"] is None
    assert members_of(api, "boxes") == ["c"]


def test_trash_lists_newest_first_by_kind_and_by_page(api, project):
    for name in ("d1", "d2"):
        create(api, DATASETS, {"name": name})
    for name in ("c1", "c2"):
        create(api, COLLECTIONS, {"name": name})
    for path in (f"{DATASETS}/d1", f"{COLLECTIONS}/c1", f"{DATASETS}/d2", f"{COLLECTIONS}/c2"):
        ok(api.delete(path))
        time.sleep(0.002)  # the next delete gets a later millisecond
    assert [i["name"] for i in trash(api)] == ["c2", "d2", "c1", "d1"]
    assert [i["name"] for i in trash(api, kind="dataset")] == ["d2", "d1"]
    page = ok(api.get(TRASH, query_string={"pageSize": 3, "page": 2}))
    assert ([i["name"] for i in page["items"]], page["total"], page["totalPages"]) == (["d1"], 4, 2)
    assert_error(api.get(TRASH, query_string={"kind": "version"}), 400, "validation_error")


def test_a_purged_dataset_is_gone_with_its_versions_and_its_collections_stay(api, training):
    dataset_id = ok(api.get(f"{DATASETS}/training-v2"))["id"]
    ok(api.delete(f"{DATASETS}/training-v2"))
    ok(api.delete(f"{TRASH}/datasets/{dataset_id}"))
    assert trash(api) == []
    assert_error(restore(api, "dataset", dataset_id), 404, "not_found")
    assert_error(api.delete(f"{TRASH}/datasets/{dataset_id}"), 404, "not_found")
    with db.connection_context():
        assert Dataset.select().where(Dataset.id == dataset_id).count() == 0
        assert Version.select().count() == 0
    assert [(c["name"], c["dataset"]) for c in listed(api, COLLECTIONS, "collections")[0]] == \
        [("clips", None), ("boxes", None)]
    assert members_of(api, "clips") == ["a", "b"]


def test_a_purged_collection_keeps_only_what_a_version_holds_until_no_version_does(api, app, training):
    frozen = ok(api.get(f"{DATASETS}/training-v2/versions/1"))
    ok(api.post(f"{COLLECTIONS}/clips/members", json={"add": ["d"]}))  # d: no version holds it
    clips_id = collection(api, "clips")["id"]
    ok(api.delete(f"{COLLECTIONS}/clips"))
    ok(api.delete(f"{TRASH}/collections/{clips_id}"))
    assert trash(api) == []
    assert_error(restore(api, "collection", clips_id), 404, "not_found")
    assert_error(api.delete(f"{TRASH}/collections/{clips_id}"), 404, "not_found")
    assert ok(api.get(f"{DATASETS}/training-v2/versions/1")) == frozen  # versions never change
    with db.connection_context():
        assert sorted(m.node_id for m in Member.select().where(Member.collection == clips_id)) == ["a", "b"]

    dataset_id = ok(api.get(f"{DATASETS}/training-v2"))["id"]
    ok(api.delete(f"{DATASETS}/training-v2"))
    ok(api.delete(f"{TRASH}/datasets/{dataset_id}"))  # its versions go: nothing holds clips' members
    result = app.test_cli_runner().invoke(args=["purge-trash", "--older-than", "0"])
    assert result.exit_code == 0, result.output
    with db.connection_context():
        assert Member.select().where(Member.collection == clips_id).count() == 0
        assert Collection.select().where(Collection.id == clips_id).count() == 0


def test_purge_trash_deletes_what_was_deleted_before_the_given_days(api, app, training):
    ok(api.delete(f"{COLLECTIONS}/boxes"))
    ok(api.delete(f"{DATASETS}/training-v2"))
    create(api, DATASETS, {"name": "recent"})
    ok(api.delete(f"{DATASETS}/recent"))
    with db.connection_context():  # deleted 31 days ago, as a clock would have it
        Dataset.update(deleted_at=utcnow() - timedelta(days=31)).where(Dataset.name == "training-v2").execute()
        Collection.update(deleted_at=utcnow() - timedelta(days=31)).where(Collection.name == "boxes").execute()

    result = app.test_cli_runner().invoke(args=["purge-trash", "--older-than", "30"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 datasets and 1 collections purged"
    assert [i["name"] for i in trash(api)] == ["recent"]
    assert members_of(api, "clips") == ["a", "b"]  # a former collection stays where it is
    result = app.test_cli_runner().invoke(args=["purge-trash"])
    assert result.exit_code != 0 and "--older-than" in result.output


def test_ids_that_name_nothing_in_this_projects_trash_are_404(api, training):
    create(api, "/namespaces/acme/projects", {"slug": "other"})
    create(api, "/namespaces/acme/projects/other/datasets", {"name": "elsewhere"})
    ok(api.delete("/namespaces/acme/projects/other/datasets/elsewhere"))
    (elsewhere,) = listed(api, "/namespaces/acme/projects/other/trash", "items")[0]
    live = ok(api.get(f"{DATASETS}/training-v2"))["id"]
    before = table_rows()
    for row_id in (live, elsewhere["id"], "nothing-here", collection(api, "clips")["id"]):
        assert_error(restore(api, "dataset", row_id), 404, "not_found")
        assert_error(restore(api, "collection", row_id), 404, "not_found")
        assert_error(api.delete(f"{TRASH}/datasets/{row_id}"), 404, "not_found")
        assert_error(api.delete(f"{TRASH}/collections/{row_id}"), 404, "not_found")
    assert_error(restore(api, "dataset", "x" * 65), 404, "not_found")  # not even an id
    assert_unchanged(before)


def test_who_created_and_last_changed_each_row(api, bob, training):
    assert {k: collection(api, "clips")[k] for k in ("createdBy", "updatedBy")} == \
        {"createdBy": "alice", "updatedBy": "alice"}
    ok(bob.patch(f"{DATASETS}/training-v2", json={"description": "reviewed"}))
    ok(bob.post(f"{COLLECTIONS}/boxes/members", json={"add": ["z"]}))
    listed_item = listed(api, DATASETS, "datasets")[0][0]
    assert (listed_item["createdBy"], listed_item["updatedBy"]) == ("alice", "bob")
    boxes = collection(api, "boxes")
    assert (boxes["createdBy"], boxes["updatedBy"]) == ("alice", "bob")
    assert collection(api, "clips")["updatedBy"] == "alice"

    version = ok(bob.post(f"{DATASETS}/training-v2/versions", json={}), 201)
    assert (version["createdBy"], version["updatedBy"]) == ("bob", "bob")
    frozen = ok(api.get(f"{DATASETS}/training-v2/versions/2"))["dataset"]
    assert (frozen["createdBy"], frozen["updatedBy"]) == ("alice", "bob")
    ok(api.patch(f"{DATASETS}/training-v2", json={"description": "again"}))
    assert ok(api.get(f"{DATASETS}/training-v2/versions/2"))["dataset"]["updatedBy"] == "bob"


def test_a_change_of_who_changes_the_etag(api, bob, training):
    tag = api.get(f"{COLLECTIONS}/clips").headers["ETag"]
    ok(bob.post(f"{COLLECTIONS}/clips/members", json={}))  # no change: nothing written
    assert api.get(f"{COLLECTIONS}/clips").headers["ETag"] == tag
    ok(bob.patch(f"{COLLECTIONS}/clips", json={"name": "clips"}))
    assert api.get(f"{COLLECTIONS}/clips").headers["ETag"] != tag


def test_the_trash_walks_by_cursor_newest_first(api, project):
    for name in ("d1", "d2", "d3", "d4", "d5"):
        create(api, DATASETS, {"name": name})
        ok(api.delete(f"{DATASETS}/{name}"))
        time.sleep(0.002)
    def meanwhile(number):  # after the first page: d2, not reached yet, restored: not shown
        if number == 1:
            ok(restore(api, "dataset", item_id(api, "dataset", "d2")))

    assert [i["name"] for i in walk(api, TRASH, "items", {"pageSize": 2}, meanwhile)] == ["d5", "d4", "d3", "d1"]
    first = ok(api.get(TRASH, query_string={"pageSize": 1, "kind": "dataset"}))["nextCursor"]
    assert_error(api.get(TRASH, query_string={"pageSize": 1, "cursor": first}), 400, "validation_error")
