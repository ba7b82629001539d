"""Pagination of every list endpoint (N2, P2, D2, C2): defaults, limits, bad values, order,
soft-deleted rows, and cursors (walks while rows come and go, forged cursors, the cost of a
page at depth)."""
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from service.db import db
from service.models import Collection, Dataset, Namespace, Project, utcnow
from tests.support.api import COLLECTIONS, DATASETS, NS, create, ok
from tests.support.api import walk as walk_list
from tests.support.plans import rows_read


@dataclass
class Listing:
    path: str
    key: str
    model: type
    body: Callable[[int], dict]  # the create body of the i-th row
    parents: tuple = ()  # what to create first: (path, body) pairs

    def __str__(self):
        return self.key


LISTINGS = [
    Listing("/namespaces", "namespaces", Namespace, lambda i: {"slug": f"ns-{i}"}),
    Listing(f"{NS}/projects", "projects", Project, lambda i: {"slug": f"project-{i}"},
            (("/namespaces", {"slug": "acme"}),)),
    Listing(DATASETS, "datasets", Dataset, lambda i: {"name": f"dataset {i}"},
            (("/namespaces", {"slug": "acme"}), (f"{NS}/projects", {"slug": "vision"}))),
    Listing(COLLECTIONS, "collections", Collection, lambda i: {"name": f"collection {i}"},
            (("/namespaces", {"slug": "acme"}), (f"{NS}/projects", {"slug": "vision"}))),
]


@pytest.fixture(params=LISTINGS, ids=str)
def listing(request, api):
    """A list endpoint, empty, with its namespace and project in place."""
    for path, body in request.param.parents:
        ok(api.post(path, json=body), 201)
    return request.param


def add_rows(api, listing, count, start=0, spaced=True):
    """Create `count` rows; `spaced`: each at a later millisecond than the one before."""
    if spaced:
        return [create(api, listing.path, listing.body(i))["id"] for i in range(start, start + count)]
    return [ok(api.post(listing.path, json=listing.body(i)), 201)["id"] for i in range(start, start + count)]


def page(api, listing, **params):
    return ok(api.get(listing.path, query_string=params))


def page_ids(api, listing, **params):
    return [item["id"] for item in page(api, listing, **params)[listing.key]]


def update_rows(app, listing, ids, **values):
    """Change stored rows directly: what the API cannot do (same creation time, deletion
    of namespaces and projects)."""
    model = listing.model
    with app.app_context(), db.connection_context():
        model.update(**values).where(model.id.in_(ids)).execute()


def ids_in_database_order(app, listing, ids):
    """`ids` as the database orders them (its collation decides, not Python's)."""
    model = listing.model
    with app.app_context(), db.connection_context():
        return [row.id for row in model.select(model.id).where(model.id.in_(ids)).order_by(model.id)]


def test_an_empty_list_with_the_defaults(api, listing):
    assert page(api, listing) == {listing.key: [], "page": 1, "pageSize": 50, "total": 0, "totalPages": 0,
                                  "nextCursor": None}


def test_default_page_size_is_50(api, listing):
    add_rows(api, listing, 51, spaced=False)
    ids = page_ids(api, listing, pageSize=200)
    body = page(api, listing)
    assert ([item["id"] for item in body[listing.key]], body["pageSize"]) == (ids[:50], 50)
    assert (body["total"], body["totalPages"]) == (51, 2)
    assert page_ids(api, listing, page=2) == ids[50:]


def test_page_size_above_200_is_clamped_and_says_200(api, listing):
    ids = add_rows(api, listing, 2)
    for size in (200, 201, 10**17):
        body = page(api, listing, pageSize=size)
        assert ([item["id"] for item in body[listing.key]], body["pageSize"], body["totalPages"]) == (ids, 200, 1)


def test_every_page_size_pages_through_all_rows_and_past_the_end(api, listing):
    ids = add_rows(api, listing, 5)
    for size, pages in {1: 5, 2: 3, 3: 2, 4: 2, 5: 1, 6: 1}.items():
        body = page(api, listing, pageSize=size)
        assert (body["page"], body["pageSize"], body["total"], body["totalPages"]) == (1, size, 5, pages)
        assert [i for n in range(1, pages + 1) for i in page_ids(api, listing, pageSize=size, page=n)] == ids
        for number in (pages + 1, 10_000_000):  # past the end: empty, with the true total
            assert page(api, listing, page=number, pageSize=size) == \
                   {listing.key: [], "page": number, "pageSize": size, "total": 5, "totalPages": pages,
                    "nextCursor": None}


BAD_VALUES = ["0", "-1", "abc", "1.5", "1e9", "", " 1", "0x10", "1,2"]
BAD_PAGES = BAD_VALUES + [str(10_000_001), str(10**17), str(10**30)]


@pytest.mark.parametrize("param, values", [("page", BAD_PAGES), ("pageSize", BAD_VALUES)])
def test_a_bad_page_or_page_size_is_400_naming_it(api, listing, param, values):
    failures = {}
    for value in values:
        response = api.get(listing.path, query_string={param: value})
        error = (response.get_json() or {}).get("error") or {}
        named = param in error.get("fields", {})
        if (response.status_code, error.get("code"), named) != (400, "validation_error", True):
            failures[value] = f"{response.status_code} {response.get_data(as_text=True)[:200]}"
    assert failures == {}


def test_rows_come_oldest_first_and_pages_stay_stable_while_rows_are_added(api, listing):
    ids = add_rows(api, listing, 5)
    assert page_ids(api, listing) == ids
    first, second = page_ids(api, listing, pageSize=2), page_ids(api, listing, pageSize=2, page=2)
    newer = add_rows(api, listing, 2, start=5)
    assert page_ids(api, listing, pageSize=2) == first
    assert page_ids(api, listing, pageSize=2, page=2) == second
    assert page_ids(api, listing, pageSize=2, page=4) == newer[1:]
    assert page_ids(api, listing) == ids + newer


def test_rows_created_at_the_same_moment_are_ordered_by_id(app, api, listing):
    ids = add_rows(api, listing, 5)
    update_rows(app, listing, ids, created_at=utcnow())
    by_id = ids_in_database_order(app, listing, ids)
    assert sorted(by_id) == sorted(ids)
    assert [i for n in (1, 2, 3) for i in page_ids(api, listing, pageSize=2, page=n)] == by_id
    assert page_ids(api, listing) == by_id


def test_soft_deleted_rows_are_never_listed_nor_counted(app, api, listing):
    ids = add_rows(api, listing, 4)
    if listing.model in (Dataset, Collection):  # the API deletes these
        for item in page(api, listing)[listing.key][1:3]:
            ok(api.delete(f"{listing.path}/{item['name']}"))
    else:
        update_rows(app, listing, ids[1:3], deleted_at=utcnow())
    body = page(api, listing, pageSize=1)
    assert (body["total"], body["totalPages"]) == (2, 2)
    assert page_ids(api, listing) == [ids[0], ids[3]]
    assert page_ids(api, listing, pageSize=1, page=2) == [ids[3]]


# -- cursors ----------------------------------------------------------------------------------

def walk(api, listing, page_size, between=None, **params):
    """The IDs of every row of the list, by cursor (tests/support/api.py walk)."""
    items = walk_list(api, listing.path, listing.key, {"pageSize": page_size, **params}, between)
    return [item["id"] for item in items]


def test_a_cursor_walk_shows_every_row_once_in_order_with_any_page_size(api, listing):
    ids = add_rows(api, listing, 7)
    for size in (1, 2, 3, 6, 7, 8):
        assert walk(api, listing, size) == ids, size


def test_each_page_links_the_next_and_the_last_links_none(api, listing):
    add_rows(api, listing, 3)
    first = api.get(listing.path, query_string={"pageSize": 2})
    cursor = ok(first)["nextCursor"]
    assert first.headers["Link"] == f'<{listing.path}?pageSize=2&cursor={cursor}>; rel="next"'
    last = api.get(first.headers["Link"][1:].split(">")[0])
    assert (len(ok(last)[listing.key]), ok(last)["nextCursor"], "Link" in last.headers) == (1, None, False)


def test_a_walk_shows_rows_added_after_its_cursor_and_not_those_deleted_before_it_gets_there(app, api, listing):
    ids = add_rows(api, listing, 9)
    added = []

    def meanwhile(number):  # after each page of 3: delete a row ahead and one behind, add one
        if number <= 2:
            update_rows(app, listing, [ids[number * 3 + 1], ids[number * 3 - 2]], deleted_at=utcnow())
            added.extend(add_rows(api, listing, 1, start=100 + number))

    walked = walk(api, listing, 3, between=meanwhile)
    assert walked == ids[:3] + [ids[3], ids[5], ids[6], ids[8]] + added


def test_a_walk_while_another_thread_writes_never_skips_nor_repeats_a_row(app, api, listing):
    """One thread adds and deletes rows as fast as it can while the walk goes on: every row
    that lived through the walk is seen exactly once, in order, and no row deleted before the
    walk began."""
    import threading

    ids = add_rows(api, listing, 40, spaced=False)
    update_rows(app, listing, ids[:5], deleted_at=utcnow())
    kept, churn = ids[5:30], ids[30:]
    stop, errors = threading.Event(), []

    def writer():
        try:
            n = 0
            while not stop.is_set():
                add_rows(api, listing, 1, start=1000 + n, spaced=False)
                if n < len(churn):
                    update_rows(app, listing, [churn[n]], deleted_at=utcnow())
                n += 1
        except Exception as e:  # shown by the assertion below
            errors.append(e)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        walked = walk(api, listing, 4)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert len(walked) == len(set(walked))
    # rows made within one millisecond share created_at: the list orders those by id
    model = listing.model
    with app.app_context(), db.connection_context():
        in_order = [r.id for r in model.select(model.id).where(model.id.in_(kept)).order_by(model.created_at, model.id)]
    assert [i for i in walked if i in kept] == in_order
    assert not set(walked) & set(ids[:5])


BAD_CURSORS = ["x", "x.y", "", "a" * 513, "eyJ9.AAAA", "ImEiLA.AAAAAAAAAAAAAAAAAAAAAA"]


def test_a_forged_truncated_or_foreign_cursor_is_400_and_page_with_cursor_too(api, listing):
    ids = add_rows(api, listing, 3)
    cursor = page(api, listing, pageSize=1)["nextCursor"]
    other = Listing("/namespaces/ns-0/projects", "projects", Project, LISTINGS[1].body) \
        if listing.path == "/namespaces" else Listing("/namespaces", "namespaces", Namespace, LISTINGS[0].body)
    add_rows(api, other, 2)
    other = page(api, other, pageSize=1)["nextCursor"]  # a cursor of another list
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    for bad in [*BAD_CURSORS, cursor[:-1], tampered, "A" + cursor[1:], other]:
        response = api.get(listing.path, query_string={"pageSize": 1, "cursor": bad})
        assert response.status_code == 400 and "cursor" in response.get_json()["error"]["fields"], bad
    response = api.get(listing.path, query_string={"page": 2, "cursor": cursor})
    assert response.status_code == 400 and response.get_json()["error"]["fields"] == {
        "_schema": ["Give either page or cursor, not both."]}
    assert page_ids(api, listing, pageSize=1, cursor=cursor) == ids[1:2]
    if listing.path == DATASETS:  # a cursor of another filter is another list
        assert api.get(listing.path, query_string={"pageSize": 1, "cursor": cursor, "tag": "x"}).status_code == 400


def test_a_cursor_page_reads_as_many_rows_at_any_depth(app, api, listing, backend):
    if backend != "postgresql":
        pytest.skip("EXPLAIN ANALYZE: PostgreSQL's plans")
    add_rows(api, listing, 3)
    with app.app_context(), db.connection_context():  # 5,000 rows more, created later, one a millisecond
        first = listing.model.select().order_by(listing.model.created_at.desc()).first()
        copies = []
        for i in range(5000):
            created = first.created_at + timedelta(milliseconds=i + 1)
            row = {**first.__data__, "id": f"row-{i:04d}", "created_at": created}
            row["slug" if "slug" in row else "name"] = f"row-{i:04d}"
            copies.append(row)
        listing.model.insert_many(copies).execute()
    deep = page(api, listing, pageSize=10, page=499)["nextCursor"]  # after row 4,990
    shallow = rows_read(app, lambda: api.get(listing.path, query_string={"pageSize": 10}))
    at_depth = rows_read(app, lambda: api.get(listing.path, query_string={"pageSize": 10, "cursor": deep}))
    by_offset = rows_read(app, lambda: api.get(listing.path, query_string={"pageSize": 10, "page": 500}))
    assert at_depth <= shallow <= 11 * 2 and by_offset > 4990
