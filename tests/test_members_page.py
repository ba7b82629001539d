"""M1: a collection's members page by page (contract §8.4), in the order they were added,
by cursor, at the same cost at any depth."""
import pytest

from tests.support.api import COLLECTIONS, assert_error, create, ok
from tests.support.api import walk as walk_list
from tests.support.plans import rows_read

MEMBERS = f"{COLLECTIONS}/clips/members"


@pytest.fixture
def clips(api, project):
    """Collection clips with members n0 … n24."""
    create(api, COLLECTIONS, {"name": "clips", "members": [f"n{i}" for i in range(25)]})


def walk(api, limit, between=None):
    """Every member by cursor, and `between(page number)` after each page."""
    return walk_list(api, MEMBERS, "members", {"limit": limit}, between)


def test_members_come_in_the_order_they_were_added_page_by_page(api, clips):
    first = ok(api.get(MEMBERS))
    assert (set(first), first["members"]) == ({"members", "nextCursor"}, [f"n{i}" for i in range(25)])  # limit 1,000
    for limit in (1, 7, 24, 25, 26):
        assert walk(api, limit) == [f"n{i}" for i in range(25)], limit


def test_a_walk_shows_members_added_since_and_not_those_removed_before_it_gets_there(api, clips):
    def meanwhile(number):
        if number == 1:  # after n0…n9: remove n3 (seen) and n15 (ahead), add n15 again and n99
            ok(api.post(MEMBERS, json={"remove": ["n3", "n15"]}))
            ok(api.post(MEMBERS, json={"add": ["n15", "n99"]}))

    expected = [f"n{i}" for i in range(25) if i != 15] + ["n15", "n99"]
    assert walk(api, 10, between=meanwhile) == expected
    assert walk(api, 10) == [m for m in expected if m != "n3"]


def test_limits_and_cursors_are_checked(api, clips):
    for limit in ("0", "10001", "x", ""):
        error = assert_error(api.get(MEMBERS, query_string={"limit": limit}), 400, "validation_error")
        assert set(error["fields"]) == {"limit"}
    assert len(ok(api.get(MEMBERS, query_string={"limit": "10000"}))["members"]) == 25
    cursor = ok(api.get(MEMBERS, query_string={"limit": 5}))["nextCursor"]
    create(api, COLLECTIONS, {"name": "boxes", "members": ["b1", "b2"]})
    for bad in ("x", cursor[:-1], ok(api.get("/namespaces", query_string={"pageSize": 1}))["nextCursor"] or "y"):
        assert_error(api.get(MEMBERS, query_string={"cursor": bad}), 400, "validation_error")
    other = f"{COLLECTIONS}/boxes/members"  # another collection's list
    assert_error(api.get(other, query_string={"cursor": cursor}), 400, "validation_error")
    assert_error(api.get(f"{COLLECTIONS}/nothing/members"), 404, "not_found")
    assert_error(api.get(MEMBERS, query_string={"page": "2"}), 400, "validation_error")


def test_a_page_deep_in_a_big_collection_reads_as_many_rows_as_the_first(app, api, project, backend):
    if backend != "postgresql":
        pytest.skip("EXPLAIN ANALYZE: PostgreSQL's plans")
    create(api, COLLECTIONS, {"name": "clips", "members": [f"n{i}" for i in range(10_000)]})
    for start in range(10_000, 50_000, 10_000):
        ok(api.post(MEMBERS, json={"add": [f"n{i}" for i in range(start, start + 10_000)]}))
    params = {"limit": 10_000}
    for _ in range(4):  # to the 40,000th member
        params["cursor"] = ok(api.get(MEMBERS, query_string=params))["nextCursor"]
    shallow = rows_read(app, lambda: api.get(MEMBERS, query_string={"limit": 100}))
    at_depth = rows_read(app, lambda: api.get(MEMBERS, query_string={"limit": 100, "cursor": params["cursor"]}))
    assert at_depth <= shallow <= 101 * 2
