"""The floor: the least this stack (gunicorn, psycopg2, PostgreSQL, PyJWT) can do for the
benchmarked endpoints. A plain WSGI callable with no framework that sends the very same
SQL statements as the service (bench/bench.py checks the text of every statement against
the service's own before measuring) and writes the same JSON bytes, with the same
Server-Timing and X-Request-ID headers.

It verifies the bearer token (HS256, `sub`, `exp` and a `namespaces` list; a namespace outside
them is looked up with the scope, as the service does, and is a 404), checks the bodies and the
query arguments it takes with plain Python, verifies and makes the lists' cursors (an HMAC keyed
from the token secret, as the service's), computes the same ETags (and answers If-Match with a
412 on the writes), and keeps at most DB_POOL_SIZE open connections per process, as the service
does, with the same session settings. A write runs in a transaction as the service's does (BEGIN,
COMMIT, or ROLLBACK on a failure: a 404, a 409, a 412). D3 and C3 stream their members as the
service does: a cursor of the database read 32 rows at a time, the body written in pieces of
about 64 KiB.

It serves N2, N3, P2, P3, D1–D5, C2–C6, M1 and V3 here, and the v2 endpoints through
bench/floor_v2.py (its ROUTES, tried after these: V1, V2, V4, T1–T4, R1, R2, C1). It is not a
product: any other path is a 404, and it answers the error cases as far as the benchmark's
check needs (the 400 of a bad body or query, the 404 of a missing row, the 409 of a name taken).

    gunicorn bench.floor:app    (from the repository root; DATABASE_URL, JWT_SECRET_KEY as for the service)
"""
import base64
import binascii
import hashlib
import hmac
import itertools
import json
import math
import os
import queue
import re
import secrets
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from urllib.parse import parse_qsl, quote, urlencode

import jwt
import psycopg2
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

_NAMESPACE_COLUMNS = '"t1"."id", "t1"."created_at", "t1"."updated_at", "t1"."deleted_at", "t1"."slug", "t1"."name"'
NAMESPACE = ('SELECT ' + _NAMESPACE_COLUMNS + ' FROM "namespace" AS "t1" WHERE (("t1"."slug" = %s) AND '
             '("t1"."deleted_at" IS NULL)) LIMIT %s')
# A token for some namespaces: the lookup also holds the namespace to them (out of scope: no row, as missing).
_IN_SCOPE = '"t1"."slug" = ANY(%s::text[])'
NAMESPACE_SCOPED = ('SELECT ' + _NAMESPACE_COLUMNS + ' FROM "namespace" AS "t1" WHERE ((("t1"."slug" = %s) AND '
                    '("t1"."deleted_at" IS NULL)) AND ' + _IN_SCOPE + ') LIMIT %s')
_PROJECT_COLUMNS = ('"t1"."id", "t1"."created_at", "t1"."updated_at", "t1"."deleted_at", "t1"."namespace_id", '
                    '"t1"."slug", "t1"."name", "t1"."description", "t1"."dataset_count"')
PROJECT = ('SELECT ' + _PROJECT_COLUMNS + ' FROM "project" AS "t1" '
           'WHERE ((("t1"."namespace_id" = %s) AND ("t1"."slug" = %s)) AND ("t1"."deleted_at" IS NULL)) LIMIT %s')


def _list_page(columns, table, where, after, extra="", joins=""):
    """The statement of a page of a list (N2, P2, C2: data.page_query): the total counted under
    `where` in a one-row subquery, the page's rows (by creation, then id; after the cursor's
    row when `after`) left-joined to it, so that a page past the end still brings the total."""
    ids_where = "(" + where + " AND " + _AFTER + ")" if after else where
    return (f'SELECT {columns}, "counted"."total"{extra} FROM (SELECT COUNT(*) AS "total" FROM "{table}" AS "t1" '
            f'WHERE {where}) AS "counted" LEFT OUTER JOIN "{table}" AS "t1" ON ("t1"."id" IN (SELECT "t1"."id" '
            f'FROM "{table}" AS "t1" WHERE {ids_where} ORDER BY "t1"."created_at", "t1"."id" LIMIT %s OFFSET %s))'
            f'{joins} ORDER BY "t1"."created_at", "t1"."id"')


_DATASET_COLUMNS = ('"t1"."id", "t1"."created_at", "t1"."updated_at", "t1"."deleted_at", "t1"."namespace_id", '
                    '"t1"."project_id", "t1"."name", "t1"."description", "t1"."tags", "t1"."metadata", '
                    '"t1"."version_count", "t1"."created_by", "t1"."updated_by", "t1"."deleted_by"')
_LIVE_DATASETS = ('(("t1"."namespace_id" = %s) AND ("t1"."project_id" = %s)) AND ("t1"."deleted_at" IS NULL)')
_PAGE = ('SELECT ' + _DATASET_COLUMNS + ', "counted"."total" FROM ({count}) AS "counted" '
         'LEFT OUTER JOIN "dataset" AS "t1" ON ("t1"."id" IN (SELECT "t1"."id" FROM "dataset" AS "t1" '
         'WHERE {where} ORDER BY "t1"."created_at", "t1"."id" LIMIT %s OFFSET %s)) '
         'ORDER BY "t1"."created_at", "t1"."id"')
# After a cursor: the rows past its (created_at, id), a range of the same index.
_AFTER = '(("t1"."created_at", "t1"."id") > (%s, %s))'
_KEPT_COUNT = 'SELECT "t2"."dataset_count" AS "total" FROM "project" AS "t2" WHERE ("t2"."id" = %s)'
DATASET_PAGE = _PAGE.format(count=_KEPT_COUNT, where="(" + _LIVE_DATASETS + ")")
DATASET_PAGE_AFTER = _PAGE.format(count=_KEPT_COUNT, where="((" + _LIVE_DATASETS + ") AND " + _AFTER + ")")
_TAGGED = "((" + _LIVE_DATASETS + ") AND tags @> %s::jsonb)"
DATASET_PAGE_TAGGED = _PAGE.format(count='SELECT COUNT(*) AS "total" FROM "dataset" AS "t1" WHERE ' + _TAGGED,
                                   where=_TAGGED)
DATASET_PAGE_TAGGED_AFTER = _PAGE.format(count='SELECT COUNT(*) AS "total" FROM "dataset" AS "t1" WHERE ' + _TAGGED,
                                         where="(" + _TAGGED + " AND " + _AFTER + ")")
DATASET = ('SELECT ' + _DATASET_COLUMNS + ' FROM "dataset" AS "t1" WHERE (((("t1"."namespace_id" = %s) AND '
           '("t1"."project_id" = %s)) AND ("t1"."name" = %s)) AND ("t1"."deleted_at" IS NULL)) LIMIT %s')
# D3's query 3 also reads its collections' state, for its ETag (service/etags.py).
DATASET_WITH_STATE = (
    'SELECT ' + _DATASET_COLUMNS + ', ARRAY(SELECT (((("t2"."id" || %s) || CAST("t2"."change_seq" AS text)) '
    '|| %s) || "t2"."name") AS "part" FROM "collection" AS "t2" WHERE ((("t2"."namespace_id" = "t1"."namespace_id") '
    'AND ("t2"."dataset_id" = "t1"."id")) AND ("t2"."deleted_at" IS NULL)) ORDER BY "t2"."created_at", "t2"."id") '
    'AS "collections_state" FROM "dataset" AS "t1" WHERE (((("t1"."namespace_id" = %s) AND '
    '("t1"."project_id" = %s)) AND ("t1"."name" = %s)) AND ("t1"."deleted_at" IS NULL)) LIMIT %s')
# D3's current members (the rows not removed), as JSON text that the database writes: per
# collection, chunks of at most 4,096 positions, each a JSON array of node IDs. Read through a
# cursor of the database: BEGIN, then DECLARE with the first FETCH as one statement, then FETCH
# after FETCH and COMMIT.
MEMBER_CHUNKS = """
SELECT c.id, c.name, array_to_json(ARRAY(
         SELECT m.node_id FROM member m
          WHERE m.namespace_id = c.namespace_id AND m.collection_id = c.id AND m.removed_seq IS NULL
            AND m.position > k.n * 4096 AND m.position <= (k.n + 1) * 4096
          ORDER BY m.position))::text
  FROM collection c CROSS JOIN LATERAL generate_series(0, c.member_seq / 4096) AS k(n)
 WHERE c.namespace_id = %s AND c.{which} = %s AND c.deleted_at IS NULL
 ORDER BY c.created_at, c.id, k.n"""
STREAM_BATCH = 32
STREAM_PIECE = 64 * 1024
INSERT_DATASET = ('INSERT INTO "dataset" ("id", "created_at", "updated_at", "namespace_id", "project_id", "name", '
                  '"description", "tags", "metadata", "version_count", "created_by", "updated_by") '
                  'VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING "dataset"."id"')
_COLLECTION = (
    'SELECT "t1"."id", "t1"."created_at", "t1"."updated_at", "t1"."deleted_at", "t1"."namespace_id", '
    '"t1"."project_id", "t1"."dataset_id", "t1"."member_count", "t1"."member_seq", "t1"."name", '
    '"t1"."change_seq", "t1"."created_by", "t1"."updated_by", "t1"."deleted_by", "t1"."former_dataset_id", '
    '"t1"."former_dataset_name", "t1"."purged_at", "t2"."name" AS "dataset_name" FROM "collection" AS "t1" '
    'LEFT OUTER JOIN "dataset" AS "t2" '
    'ON ("t1"."dataset_id" = "t2"."id") WHERE (((("t1"."namespace_id" = %s) AND ("t1"."project_id" = %s)) '
    'AND ("t1"."name" = %s)) AND ("t1"."deleted_at" IS NULL)) LIMIT %s')
COLLECTION = _COLLECTION  # M1 and C3 query 3
COLLECTION_FOR_UPDATE = _COLLECTION + ' FOR UPDATE OF "t1"'  # C4 and C5 query 3
# N2 and P2: a page of the namespaces (all, or those of the token's scope), of a namespace's projects.
_LIVE = '("t1"."deleted_at" IS NULL)'
_SCOPED = '(' + _LIVE + ' AND ' + _IN_SCOPE + ')'
NAMESPACE_PAGES = {(scoped, after): _list_page(_NAMESPACE_COLUMNS, "namespace", _SCOPED if scoped else _LIVE, after)
                   for scoped in (False, True) for after in (False, True)}
_LIVE_PROJECTS = '(("t1"."namespace_id" = %s) AND ("t1"."deleted_at" IS NULL))'
PROJECT_PAGES = {after: _list_page(_PROJECT_COLUMNS, "project", _LIVE_PROJECTS, after) for after in (False, True)}
# C2: a page of a project's collections (all, the standalone ones, or those of a dataset looked up
# inside the statement), each with its dataset's name.
_COLLECTION_COLUMNS = ('"t1"."id", "t1"."created_at", "t1"."updated_at", "t1"."deleted_at", "t1"."namespace_id", '
                       '"t1"."project_id", "t1"."dataset_id", "t1"."member_count", "t1"."member_seq", "t1"."name", '
                       '"t1"."change_seq", "t1"."created_by", "t1"."updated_by", "t1"."deleted_by", '
                       '"t1"."former_dataset_id", "t1"."former_dataset_name", "t1"."purged_at"')
_LIVE_COLLECTIONS = '((("t1"."namespace_id" = %s) AND ("t1"."project_id" = %s)) AND ("t1"."deleted_at" IS NULL))'
_DATASET_ID = ('SELECT "t2"."id" FROM "dataset" AS "t2" WHERE (((("t2"."namespace_id" = %s) AND '
               '("t2"."project_id" = %s)) AND ("t2"."name" = %s)) AND ("t2"."deleted_at" IS NULL))')
_OWNER = ', "owner"."name" AS "dataset_name"'
_OWNER_JOIN = ' LEFT OUTER JOIN "dataset" AS "owner" ON ("t1"."dataset_id" = "owner"."id")'
COLLECTION_PAGES = {
    (which, after): _list_page(
        _COLLECTION_COLUMNS, "collection",
        {"all": _LIVE_COLLECTIONS, "standalone": "(" + _LIVE_COLLECTIONS + ' AND ("t1"."dataset_id" IS NULL))',
         "dataset": "(" + _LIVE_COLLECTIONS + ' AND ("t1"."dataset_id" = (' + _DATASET_ID + ')))'}[which], after,
        _OWNER + (', (' + _DATASET_ID + ') AS "found_dataset_id"' if which == "dataset" else ""), _OWNER_JOIN)
    for which in ("all", "standalone", "dataset") for after in (False, True)}
# D4: the dataset with its collections' state, held for the change; the change, by the fields the
# body has (in the order of the model's fields), its row returned.
DATASET_WITH_STATE_FOR_UPDATE = DATASET_WITH_STATE + ' FOR UPDATE'
_DATASET_RETURNING = _DATASET_COLUMNS.replace('"t1".', '"dataset".')
_DATASET_FIELDS = ("name", "description", "tags", "metadata")
UPDATE_DATASET = ('UPDATE "dataset" SET "updated_at" = %s, {sets}"updated_by" = %s WHERE (("dataset"."id" = %s) AND '
                  '("dataset"."deleted_at" IS NULL)) RETURNING ' + _DATASET_RETURNING)
# D5: the dataset marked deleted, returned with its collections' state (for If-Match); then its
# collections made standalone, remembering it.
DELETE_DATASET = (
    'UPDATE "dataset" SET "deleted_at" = %s, "deleted_by" = %s WHERE (((("dataset"."namespace_id" = %s) AND '
    '("dataset"."project_id" = %s)) AND ("dataset"."name" = %s)) AND ("dataset"."deleted_at" IS NULL)) RETURNING '
    + _DATASET_RETURNING + ', ARRAY(SELECT (((("t1"."id" || %s) || CAST("t1"."change_seq" AS text)) || %s) || '
    '"t1"."name") AS "part" FROM "collection" AS "t1" WHERE ((("t1"."namespace_id" = "dataset"."namespace_id") AND '
    '("t1"."dataset_id" = "dataset"."id")) AND ("t1"."deleted_at" IS NULL)) ORDER BY "t1"."created_at", "t1"."id") '
    'AS "collections_state"')
DETACH_COLLECTIONS = ('UPDATE "collection" SET "updated_at" = %s, "dataset_id" = %s, "updated_by" = %s, '
                      '"former_dataset_id" = %s WHERE ((("collection"."namespace_id" = %s) AND '
                      '("collection"."dataset_id" = %s)) AND ("collection"."deleted_at" IS NULL))')
# C4: the dataset it moves to (held, so that a D5 does not detach it meanwhile), the collection
# (held), the change, by the fields the body has (in the order of the model's fields).
DATASET_FOR_SHARE = DATASET + ' FOR SHARE'
_COLLECTION_RETURNING = _COLLECTION_COLUMNS.replace('"t1".', '"collection".')
UPDATE_COLLECTION_FIELDS = ('UPDATE "collection" SET "updated_at" = %s, {sets}"updated_by" = %s{former} '
                            'WHERE ("collection"."id" = %s) RETURNING ' + _COLLECTION_RETURNING)
# C6: the collection marked deleted, out of its dataset, whose id and name it remembers; returned
# with that name (for If-Match).
DELETE_COLLECTION = (
    'UPDATE "collection" SET "deleted_at" = %s, "dataset_id" = %s, "deleted_by" = %s, "former_dataset_id" = '
    '"collection"."dataset_id", "former_dataset_name" = (SELECT "t1"."name" FROM "dataset" AS "t1" WHERE '
    '("t1"."id" = "collection"."dataset_id")) WHERE (((("collection"."namespace_id" = %s) AND '
    '("collection"."project_id" = %s)) AND ("collection"."name" = %s)) AND ("collection"."deleted_at" IS NULL)) '
    'RETURNING ' + _COLLECTION_RETURNING + ', "collection"."former_dataset_name" AS "dataset_name"')
# M1: a page of the current members by position, after the cursor's position.
_MEMBERS = ('SELECT "t1"."node_id", "t1"."position" FROM "member" AS "t1" WHERE {where} '
            'ORDER BY "t1"."position" LIMIT %s')
_CURRENT = '(("t1"."namespace_id" = %s) AND ("t1"."collection_id" = %s)) AND ("t1"."removed_seq" IS NULL)'
MEMBERS_PAGE = _MEMBERS.format(where="(" + _CURRENT + ")")
MEMBERS_PAGE_AFTER = _MEMBERS.format(where='((' + _CURRENT + ') AND ("t1"."position" > %s))')
# C5: members added as the collection's change `change_seq + 1`; removed ones stay, marked with
# the change that removed them; the collection's change count goes up by one in the last statement.
INSERT_MEMBERS = ('INSERT INTO "member" (namespace_id, collection_id, node_id, position, added_seq) '
                  'SELECT %s, %s, t.node_id, %s + t.ord - 1, %s FROM unnest(%s::text[]) WITH ORDINALITY '
                  'AS t(node_id, ord) ON CONFLICT DO NOTHING')
REMOVE_MEMBERS = ('UPDATE "member" SET "removed_seq" = %s WHERE (((("member"."namespace_id" = %s) AND '
                  '("member"."collection_id" = %s)) AND "member"."node_id" = ANY(%s::text[])) AND '
                  '("member"."removed_seq" IS NULL))')
UPDATE_COLLECTION = (
    'UPDATE "collection" SET "updated_at" = %s, "member_count" = (("collection"."member_count" + %s) - %s), '
    '"member_seq" = ("collection"."member_seq" + %s), "change_seq" = ("collection"."change_seq" + %s), '
    '"updated_by" = %s WHERE ("collection"."id" = %s) RETURNING "collection"."id", '
    '"collection"."created_at", "collection"."updated_at", "collection"."deleted_at", "collection"."namespace_id", '
    '"collection"."project_id", "collection"."dataset_id", "collection"."member_count", "collection"."member_seq", '
    '"collection"."name", "collection"."change_seq", "collection"."created_by", "collection"."updated_by", '
    '"collection"."deleted_by", "collection"."former_dataset_id", "collection"."former_dataset_name", '
    '"collection"."purged_at"')
# V3: the version (its dataset looked up inside the statement), then its collections, each with
# the members it had at the change the version recorded, in the order they were added.
_VERSION_COLUMNS = ('"t1"."id", "t1"."namespace_id", "t1"."dataset_id", "t1"."number", "t1"."note", '
                    '"t1"."created_at", "t1"."created_by", "t1"."collection_count", "t1"."member_count", '
                    '"t1"."name", "t1"."description", "t1"."tags", "t1"."metadata", "t1"."project_id", '
                    '"t1"."dataset_created_at", "t1"."dataset_updated_at", "t1"."dataset_created_by", '
                    '"t1"."dataset_updated_by"')
VERSION = ('SELECT ' + _VERSION_COLUMNS + ' FROM "version" AS "t1" WHERE ((("t1"."namespace_id" = %s) AND '
           '("t1"."dataset_id" = (SELECT "t2"."id" FROM "dataset" AS "t2" WHERE (((("t2"."namespace_id" = %s) AND '
           '("t2"."project_id" = %s)) AND ("t2"."name" = %s)) AND ("t2"."deleted_at" IS NULL))))) AND '
           '("t1"."number" = %s)) LIMIT %s')
VERSION_COLLECTIONS = (
    'SELECT "t1"."collection_id", "t1"."name", ARRAY(SELECT "t2"."node_id" FROM "member" AS "t2" WHERE '
    '((("t2"."namespace_id" = "t1"."namespace_id") AND ("t2"."collection_id" = "t1"."collection_id")) AND '
    '(("t2"."added_seq" <= "t1"."change_seq") AND (("t2"."removed_seq" IS NULL) OR '
    '("t2"."removed_seq" > "t1"."change_seq")))) ORDER BY "t2"."added_seq", "t2"."position") AS "members" '
    'FROM "version_collection" AS "t1" WHERE (("t1"."namespace_id" = %s) AND ("t1"."version_id" = %s)) '
    'ORDER BY "t1"."created_at", "t1"."collection_id"')

_NAMESPACE = r"^/namespaces/(?P<slug>[a-z0-9-]+)"
_PREFIX = _NAMESPACE + r"/projects/(?P<project>[a-z0-9-]+)"
ROUTES = [
    ("GET", re.compile(r"^/namespaces/?$"), "list_namespaces"),
    ("GET", re.compile(_NAMESPACE + r"$"), "get_namespace"),
    ("GET", re.compile(_NAMESPACE + r"/projects/?$"), "list_projects"),
    ("GET", re.compile(_PREFIX + r"$"), "get_project"),
    ("GET", re.compile(_PREFIX + r"/datasets/?$"), "list_datasets"),
    ("POST", re.compile(_PREFIX + r"/datasets/?$"), "create_dataset"),
    ("GET", re.compile(_PREFIX + r"/datasets/(?P<name>[^/]+)$"), "get_dataset"),
    ("PATCH", re.compile(_PREFIX + r"/datasets/(?P<name>[^/]+)$"), "update_dataset"),
    ("DELETE", re.compile(_PREFIX + r"/datasets/(?P<name>[^/]+)$"), "delete_dataset"),
    ("GET", re.compile(_PREFIX + r"/collections/?$"), "list_collections"),
    ("GET", re.compile(_PREFIX + r"/collections/(?P<name>[^/]+)$"), "get_collection"),
    ("PATCH", re.compile(_PREFIX + r"/collections/(?P<name>[^/]+)$"), "update_collection"),
    ("DELETE", re.compile(_PREFIX + r"/collections/(?P<name>[^/]+)$"), "delete_collection"),
    ("GET", re.compile(_PREFIX + r"/datasets/(?P<name>[^/]+)/versions/(?P<number>[1-9][0-9]{0,8})$"), "get_version"),
    ("GET", re.compile(_PREFIX + r"/collections/(?P<name>[^/]+)/members$"), "list_members"),
    ("POST", re.compile(_PREFIX + r"/collections/(?P<name>[^/]+)/members$"), "change_members"),
]
_BAD_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_NAME = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff/\u202a-\u202e\u2066-\u2069]")
_idle = queue.LifoQueue()  # this process's open connections, DB_POOL_SIZE at most, as the service's pool
_slots = threading.BoundedSemaphore(int(os.environ.get("DB_POOL_SIZE", "4")))
trace = None  # a list to record (sql, params) in, while bench.py checks the statements


class Fail(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Request:
    """What one request has done: its statements, counted and timed like the service's."""

    def __init__(self, subject):
        self.subject, self.queries, self.seconds, self.headers = subject, 0, 0.0, []
        if not _slots.acquire(timeout=3):
            raise Fail(503, "database_unavailable", "no database connection free")
        try:
            conn = _idle.get_nowait()
        except queue.Empty:
            try:
                conn = psycopg2.connect(
                    os.environ["DATABASE_URL"], connect_timeout=3,
                    options=f"-c statement_timeout={os.environ.get('DB_STATEMENT_TIMEOUT_MS', '15000')} -c jit=off")
            except psycopg2.Error:
                _slots.release()
                raise
            conn.autocommit = True
        self.conn, self.cursor = conn, conn.cursor()

    def release(self):
        """The connection given back (once: a streamed body gives it back when written or closed),
        a transaction left open ended first, as the service's pool does (a streamed body closed
        before its end: its database cursor's transaction)."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if not conn.closed and conn.get_transaction_status() != TRANSACTION_STATUS_IDLE:
            try:
                conn.cursor().execute("ROLLBACK")
            except psycopg2.Error:  # the connection is gone: dropped
                conn.close()
        if not conn.closed:
            _idle.put(conn)
        _slots.release()

    def sql(self, statement, params=(), counted=True, traced=None):
        """Run `statement`. `counted`: in Server-Timing (not transaction control). `traced`
        (default: as counted): in the trace bench.py compares with the statements the service
        sends through peewee (the BEGIN of a streamed read is one, a C5's BEGIN is not)."""
        start = time.perf_counter()
        try:
            self.cursor.execute(statement, params)
        finally:  # a statement that fails (a 409's) is sent, counted and traced as well, as the service's
            if counted:
                self.seconds += time.perf_counter() - start
                self.queries += 1
            if trace is not None and (counted if traced is None else traced):
                trace.append((statement, params))
        return self.cursor


def _timestamp(value):
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def _now():
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _list_item(row):
    return {"id": row[0], "name": row[6], "description": row[7], "tags": row[8],
            "createdAt": _timestamp(row[1]), "updatedAt": _timestamp(row[2]), "createdBy": row[11],
            "updatedBy": row[12]}


def _dataset(row):
    item = _list_item(row)
    item["projectId"] = row[5]
    item["metadata"] = None if row[9] is None else json.loads(row[9])
    return item


def _collection(row, dataset_name):
    return {"id": row[0], "name": row[9], "projectId": row[5], "dataset": dataset_name,
            "memberCount": row[7], "createdAt": _timestamp(row[1]), "updatedAt": _timestamp(row[2]),
            "createdBy": row[11], "updatedBy": row[12]}


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _cursor_key():
    return hashlib.sha256(b"registry cursors\x00" + os.environ["JWT_SECRET_KEY"].encode()).digest()


def _query(environ):
    """The query arguments as (name, value) pairs, grouped by name in the order names first
    appear (as a MultiDict gives them)."""
    grouped = {}
    for name, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
        grouped.setdefault(name, []).append(value)
    return [(name, value) for name, values in grouped.items() for value in values]


def _list_key(environ, pairs):
    """What names a list: its path and its filters (every argument but the page's own)."""
    filters = sorted((k, v) for k, v in pairs if k not in ("page", "pageSize", "cursor", "limit"))
    return hashlib.sha256(json.dumps([environ.get("PATH_INFO", ""), filters]).encode()).hexdigest()[:16]


def _encode_cursor(key, values):
    values = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    payload = _b64(json.dumps([key, values], separators=(",", ":")).encode())
    return f"{payload}.{_b64(hmac.new(_cursor_key(), payload.encode(), 'sha256').digest()[:16])}"


def _decode_cursor(cursor, key):
    try:
        payload, signature = cursor.split(".")
        if not hmac.compare_digest(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
                                   hmac.new(_cursor_key(), payload.encode(), "sha256").digest()[:16]):
            raise ValueError("signature")
        made_for, values = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        if made_for != key:
            raise ValueError("another list")
        return tuple(datetime.fromisoformat(v["t"]) if isinstance(v, dict) else v for v in values)
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise Fail(400, "validation_error", "cursor: not a cursor of this list") from None


def _next_cursor(req, environ, pairs, key, after):
    """The next page's cursor (None after the last page), and its Link header."""
    if after is None:
        return None
    cursor = _encode_cursor(key, after)
    kept = [(k, v) for k, v in pairs if k not in ("page", "cursor")]
    path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
    url = f"{path}?{urlencode([*kept, ('cursor', cursor)])}"
    req.headers.append(("Link", f'<{url}>; rel="next"'))
    return cursor


def _authenticate(environ):
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Bearer "):
        raise Fail(401, "unauthorized", "a bearer token is required (Authorization: Bearer <token>)")
    try:
        claims = jwt.decode(header[7:], os.environ["JWT_SECRET_KEY"], algorithms=["HS256"],
                            options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        raise Fail(401, "unauthorized", "the token is invalid") from None
    namespaces = claims.get("namespaces")
    if not isinstance(claims["sub"], str) or not isinstance(namespaces, list) \
            or not all(isinstance(n, str) for n in namespaces):
        raise Fail(401, "unauthorized", "the token is invalid")
    return claims["sub"], None if "*" in namespaces else set(namespaces)


def _namespace(req, scope, slug):
    """Query 1 of every namespaced endpoint: the live namespace `slug`, held to the token's scope
    (out of scope: the same statement, no row, the same 404 as a missing one)."""
    if scope is None:
        namespace = req.sql(NAMESPACE, (slug, 1)).fetchone()
    else:
        namespace = req.sql(NAMESPACE_SCOPED, (slug, sorted(scope), 1)).fetchone()
    if namespace is None:
        raise Fail(404, "not_found", f"namespace '{slug}' not found")
    return namespace  # id, created_at, updated_at, deleted_at, slug, name


def _project(req, scope, slug, project_slug):
    namespace = _namespace(req, scope, slug)
    project = req.sql(PROJECT, (namespace[0], project_slug, 1)).fetchone()
    if project is None:
        raise Fail(404, "not_found", f"project '{project_slug}' not found")
    return project  # id, ..., namespace_id at 4


def _page_arg(pairs, name, default, most=None):
    values = [v for k, v in pairs if k == name]
    if not values:
        return default
    if not re.fullmatch(r"[0-9]{1,18}", values[-1]) or int(values[-1]) < 1 \
            or (most is not None and int(values[-1]) > most):
        raise Fail(400, "validation_error", f"{name}: Invalid value.")
    return int(values[-1])


def _cursor_arg(pairs):
    values = [v for k, v in pairs if k == "cursor"]
    if values and not 1 <= len(values[-1]) <= 512:
        raise Fail(400, "validation_error", "cursor: Invalid value.")
    return values[-1] if values else None


def _window(environ, pairs, filters=()):
    """A list's query (page, pageSize, cursor and the list's own `filters`; anything else is a 400):
    (page, page size, the cursor's values or (), the list's key)."""
    if any(k not in ("page", "pageSize", "cursor", *filters) for k, _ in pairs):
        raise Fail(400, "validation_error", "unknown argument")
    page, page_size = _page_arg(pairs, "page", 1, 10_000_000), min(_page_arg(pairs, "pageSize", 50), 200)
    cursor = _cursor_arg(pairs)
    if cursor is not None and any(k == "page" for k, _ in pairs):
        raise Fail(400, "validation_error", "Give either page or cursor, not both.")
    key = _list_key(environ, pairs)
    return page, page_size, _decode_cursor(cursor, key) if cursor is not None else (), key


def _limits(page, page_size, after):
    """LIMIT and OFFSET of a page: one row more than the page, to tell whether another follows."""
    return page_size + 1, 0 if after else (page - 1) * page_size


def _list_body(req, environ, pairs, key, name, items, rows, total, page, page_size, after):
    """The list envelope of `rows` (the page's rows with one more, id and created_at first), each
    made an item by `items`, with the next page's cursor (and Link) when a page follows."""
    shown = [row for row in rows if row[0] is not None]
    last = shown[page_size - 1] if len(shown) > page_size else None
    next_cursor = _next_cursor(req, environ, pairs, key, last and (last[1], last[0]))
    return {name: [items(row) for row in shown[:page_size]], "page": None if after else page, "pageSize": page_size,
            "total": total, "totalPages": math.ceil(total / page_size), "nextCursor": next_cursor}


def _require(environ, tag):
    """A 412 unless If-Match, when sent, names `tag` (or is "*"), as the service's etags.require."""
    sent = environ.get("HTTP_IF_MATCH")
    if sent is not None and sent.strip() != "*" and f'"{tag}"' not in [t.strip() for t in sent.split(",")]:
        raise Fail(412, "precondition_failed", "If-Match does not name the current representation")


def _name_arg(value, field):
    if not isinstance(value, str) or not 1 <= len(value) <= 128 or _BAD_NAME.search(value) \
            or value != value.strip() or value in (".", ".."):
        raise Fail(400, "validation_error", f"{field}: Invalid value.")
    return value


def _body(environ):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        body = json.loads(environ["wsgi.input"].read(length))
    except ValueError:
        raise Fail(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Fail(400, "invalid_json", "the body must be a JSON object")
    return body


def _strings(value, field, low, high, bad=_BAD_TEXT, most=10_000):
    if not isinstance(value, list) or len(value) > most or not all(
            isinstance(s, str) and low <= len(s) <= high and not bad.search(s) for s in value):
        raise Fail(400, "validation_error", f"{field}: Invalid value.")
    return list(dict.fromkeys(value))


def list_datasets(req, environ, scope, slug, project):
    pairs = _query(environ)
    page, page_size = _page_arg(pairs, "page", 1, 10_000_000), min(_page_arg(pairs, "pageSize", 50), 200)
    cursor = _cursor_arg(pairs)
    if cursor is not None and any(k == "page" for k, _ in pairs):
        raise Fail(400, "validation_error", "Give either page or cursor, not both.")
    tags = list(dict.fromkeys(v for k, v in pairs if k == "tag"))
    key = _list_key(environ, pairs)
    after = _decode_cursor(cursor, key) if cursor is not None else ()
    project = _project(req, scope, slug, project)
    where = (project[4], project[0])
    # one row more than the page, to tell whether another follows
    window = (page_size + 1, 0 if after else (page - 1) * page_size)
    if tags:
        tagged = where + (json.dumps(tags),)
        rows = req.sql(DATASET_PAGE_TAGGED_AFTER if after else DATASET_PAGE_TAGGED,
                       tagged + tagged + after + window).fetchall()
    else:
        rows = req.sql(DATASET_PAGE_AFTER if after else DATASET_PAGE,
                       (project[0],) + where + after + window).fetchall()
    total = rows[0][14]
    shown = [row for row in rows if row[0] is not None]
    last = shown[page_size - 1] if len(shown) > page_size else None
    next_cursor = _next_cursor(req, environ, pairs, key, last and (last[1], last[0]))
    return 200, {"datasets": [_list_item(row) for row in shown[:page_size]], "page": None if after else page,
                 "pageSize": page_size, "total": total, "totalPages": math.ceil(total / page_size),
                 "nextCursor": next_cursor}


def list_members(req, environ, scope, slug, project, name):
    pairs = _query(environ)
    if any(k not in ("limit", "cursor") for k, _ in pairs):
        raise Fail(400, "validation_error", "unknown argument")
    limit, cursor = _page_arg(pairs, "limit", 1000, 10_000), _cursor_arg(pairs)
    key = _list_key(environ, pairs)
    after = _decode_cursor(cursor, key) if cursor is not None else ()
    project = _project(req, scope, slug, project)
    row = req.sql(COLLECTION, (project[4], project[0], name, 1)).fetchone()
    if row is None:
        raise Fail(404, "not_found", f"collection '{name}' not found")
    if after:
        found = req.sql(MEMBERS_PAGE_AFTER, (row[4], row[0], after[0], limit + 1)).fetchall()
    else:
        found = req.sql(MEMBERS_PAGE, (row[4], row[0], limit + 1)).fetchall()
    more = len(found) > limit
    return 200, {"members": [node_id for node_id, _ in found[:limit]],
                 "nextCursor": _next_cursor(req, environ, pairs, key, (found[limit - 1][1],) if more else None)}


def get_dataset(req, environ, scope, slug, project, name):
    project = _project(req, scope, slug, project)
    row = req.sql(DATASET_WITH_STATE, (":", ":", project[4], project[0], name, 1)).fetchone()
    if row is None:
        raise Fail(404, "not_found", f"dataset '{name}' not found")
    req.etag = _etag("dataset", row[0], row[6], row[7], row[8], row[9], row[1], row[2], row[11], row[12], row[5],
                     row[14])
    rows = _stream(req, MEMBER_CHUNKS.format(which="dataset_id"), (row[4], row[0]))
    # The head as the service writes it (service/api/common.py `streamed`): the dataset without
    # its `collections`, compact (separators "," and ":"), its closing brace cut; the key and the
    # streamed collections follow.
    head = json.dumps(_dataset(row), separators=(",", ":"))[:-1] + ',"collections":['
    return 200, Streamed(head, _member_lists(rows, grouped=True), "]}", rows)


def get_version(req, environ, scope, slug, project, name, number):
    project = _project(req, scope, slug, project)
    row = req.sql(VERSION, (project[4], project[4], project[0], name, int(number), 1)).fetchone()
    if row is None:
        raise Fail(404, "not_found", f"version {number} of dataset '{name}' not found")
    collections = req.sql(VERSION_COLLECTIONS, (row[1], row[0])).fetchall()
    dataset = {"id": row[2], "name": row[9], "description": row[10], "tags": row[11],
               "createdAt": _timestamp(row[14]), "updatedAt": _timestamp(row[15]), "createdBy": row[16],
               "updatedBy": row[17], "projectId": row[13],
               "metadata": None if row[12] is None else json.loads(row[12]),
               "collections": [{"id": collection_id, "name": collection_name, "members": members}
                               for collection_id, collection_name, members in collections]}
    return 200, {"number": row[3], "datasetId": row[2], "note": row[4], "createdAt": _timestamp(row[5]),
                 "createdBy": row[6], "updatedBy": row[6], "collectionCount": row[7], "memberCount": row[8],
                 "dataset": dataset}


def create_dataset(req, environ, scope, slug, project):
    body = _body(environ)
    if set(body) - {"name", "description", "tags", "metadata"}:
        raise Fail(400, "validation_error", "unknown field")
    name, description = body.get("name"), body.get("description")
    if not isinstance(name, str) or not 1 <= len(name) <= 128 or _BAD_NAME.search(name) or name != name.strip():
        raise Fail(400, "validation_error", "name: Invalid value.")
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        raise Fail(400, "validation_error", "description: Invalid value.")
    tags = _strings(body.get("tags", []), "tags", 1, 64, most=64)
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise Fail(400, "validation_error", "metadata: Must be a JSON object or null.")
        metadata = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
    project = _project(req, scope, slug, project)
    dataset_id, now = secrets.token_urlsafe(12), _now()
    try:
        req.sql(INSERT_DATASET, (dataset_id, now, now, project[4], project[0], name, description,
                                 json.dumps(tags, ensure_ascii=False, separators=(",", ":")), metadata, 0,
                                 req.subject, req.subject))
    except psycopg2.IntegrityError:
        raise Fail(409, "conflict", f"dataset '{name}' already exists") from None
    return 201, _dataset((dataset_id, now, now, None, project[4], project[0], name, description, tags, metadata, 0,
                          req.subject, req.subject))


def change_members(req, environ, scope, slug, project, name):
    body = _body(environ)
    if set(body) - {"add", "remove"}:
        raise Fail(400, "validation_error", "unknown field")
    add = _strings(body.get("add", []), "add", 1, 256)
    remove = _strings(body.get("remove", []), "remove", 1, 256)
    if len(add) + len(remove) > 10_000 or set(add) & set(remove):
        raise Fail(400, "validation_error", "_schema: Invalid value.")
    project = _project(req, scope, slug, project)
    with transaction(req):
        row = req.sql(COLLECTION_FOR_UPDATE, (project[4], project[0], name, 1)).fetchone()
        if row is None:
            raise Fail(404, "not_found", f"collection '{name}' not found")
        change = row[10] + 1
        added = req.sql(INSERT_MEMBERS, (row[4], row[0], row[8] + 1, change, add)).rowcount if add else 0
        removed = req.sql(REMOVE_MEMBERS, (change, row[4], row[0], remove)).rowcount if remove else 0
        if added or removed:
            row = req.sql(UPDATE_COLLECTION, (_now(), added, removed, len(add), 1, req.subject, row[0])).fetchone() \
                + row[17:]
    return 200, _collection(row, row[17])


def _namespace_item(row):
    return {"id": row[0], "slug": row[4], "name": row[5], "createdAt": _timestamp(row[1]),
            "updatedAt": _timestamp(row[2])}


def _project_item(row):
    return {"id": row[0], "namespaceId": row[4], "slug": row[5], "name": row[6], "description": row[7],
            "createdAt": _timestamp(row[1]), "updatedAt": _timestamp(row[2])}


def _dataset_etag(row, state):
    return _etag("dataset", row[0], row[6], row[7], row[8], row[9], row[1], row[2], row[11], row[12], row[5], state)


def _collection_etag(row, dataset_name):
    return _etag("collection", row[0], row[9], row[5], dataset_name, row[7], row[1], row[2], row[11], row[12], row[10])


def list_namespaces(req, environ, scope):
    pairs = _query(environ)
    page, page_size, after, key = _window(environ, pairs)
    scoped = () if scope is None else (sorted(scope),)
    rows = req.sql(NAMESPACE_PAGES[bool(scoped), bool(after)],
                   scoped + scoped + after + _limits(page, page_size, after)).fetchall()
    return 200, _list_body(req, environ, pairs, key, "namespaces", _namespace_item, rows, rows[0][6], page,
                           page_size, after)


def get_namespace(req, environ, scope, slug):
    body = _namespace_item(_namespace(req, scope, slug))
    req.etag = _etag(body)
    return 200, body


def list_projects(req, environ, scope, slug):
    pairs = _query(environ)
    page, page_size, after, key = _window(environ, pairs)
    namespace = _namespace(req, scope, slug)
    rows = req.sql(PROJECT_PAGES[bool(after)],
                   (namespace[0], namespace[0]) + after + _limits(page, page_size, after)).fetchall()
    return 200, _list_body(req, environ, pairs, key, "projects", _project_item, rows, rows[0][9], page, page_size,
                           after)


def get_project(req, environ, scope, slug, project):
    body = _project_item(_project(req, scope, slug, project))
    req.etag = _etag(body)
    return 200, body


def list_collections(req, environ, scope, slug, project):
    pairs = _query(environ)
    page, page_size, after, key = _window(environ, pairs, ("dataset", "standalone"))
    dataset = [v for k, v in pairs if k == "dataset"]
    standalone = [v for k, v in pairs if k == "standalone"]
    if standalone and standalone[-1] not in ("true", "false"):
        raise Fail(400, "validation_error", "standalone: Must be true or false.")
    standalone = bool(standalone) and standalone[-1] == "true"
    dataset = _name_arg(dataset[-1], "dataset") if dataset else None
    if dataset is not None and standalone:
        raise Fail(400, "validation_error", "Give either dataset or standalone=true, not both.")
    project = _project(req, scope, slug, project)
    where = (project[4], project[0])
    if standalone or dataset is None:
        params = where + where + after
    else:
        named = where + (dataset,)
        params = named + where + named + where + named + after
    which = "standalone" if standalone else "all" if dataset is None else "dataset"
    rows = req.sql(COLLECTION_PAGES[which, bool(after)], params + _limits(page, page_size, after)).fetchall()
    if which == "dataset" and rows[0][19] is None:
        raise Fail(404, "not_found", f"dataset '{dataset}' not found")
    return 200, _list_body(req, environ, pairs, key, "collections", lambda row: _collection(row, row[18]), rows,
                           rows[0][17], page, page_size, after)


def get_collection(req, environ, scope, slug, project, name):
    project = _project(req, scope, slug, project)
    row = req.sql(COLLECTION, (project[4], project[0], name, 1)).fetchone()
    if row is None:
        raise Fail(404, "not_found", f"collection '{name}' not found")
    req.etag = _collection_etag(row, row[17])
    rows = _stream(req, MEMBER_CHUNKS.format(which="id"), (row[4], row[0]))
    # The head as the service writes it: the collection without `members`, its closing brace cut.
    head = json.dumps(_collection(row, row[17]), separators=(",", ":"))[:-1] + ',"members":['
    return 200, Streamed(head, _member_lists(rows, grouped=False), "]}", rows)


def update_dataset(req, environ, scope, slug, project, name):
    body = _body(environ)
    if set(body) - set(_DATASET_FIELDS):
        raise Fail(400, "validation_error", "unknown field")
    changes = {}
    if "name" in body:
        changes["name"] = _name_arg(body["name"], "name")
    if "description" in body:
        description = body["description"]
        if description is not None and (not isinstance(description, str) or len(description) > 2000):
            raise Fail(400, "validation_error", "description: Invalid value.")
        changes["description"] = description
    if "tags" in body:
        changes["tags"] = json.dumps(_strings(body["tags"], "tags", 1, 64, most=64), ensure_ascii=False,
                                     separators=(",", ":"))
    if "metadata" in body:
        metadata = body["metadata"]
        if metadata is not None and not isinstance(metadata, dict):
            raise Fail(400, "validation_error", "metadata: Must be a JSON object or null.")
        changes["metadata"] = None if metadata is None else json.dumps(metadata, ensure_ascii=False,
                                                                       separators=(",", ":"))
    project = _project(req, scope, slug, project)
    with transaction(req):
        row = req.sql(DATASET_WITH_STATE_FOR_UPDATE, (":", ":", project[4], project[0], name, 1)).fetchone()
        if row is None:
            raise Fail(404, "not_found", f"dataset '{name}' not found")
        state = row[14]
        _require(environ, _dataset_etag(row, state))
        if changes:
            fields = [field for field in _DATASET_FIELDS if field in changes]
            sets = "".join(f'"{field}" = %s, ' for field in fields)
            try:
                row = req.sql(UPDATE_DATASET.format(sets=sets), (_now(), *(changes[f] for f in fields), req.subject,
                                                                 row[0])).fetchone()
            except psycopg2.IntegrityError:
                raise Fail(409, "conflict", f"dataset '{changes['name']}' already exists") from None
    req.etag = _dataset_etag(row, state)
    return 200, _dataset(row)


def delete_dataset(req, environ, scope, slug, project, name):
    project = _project(req, scope, slug, project)
    with transaction(req):
        row = req.sql(DELETE_DATASET, (_now(), req.subject, project[4], project[0], name, ":", ":")).fetchone()
        if row is None:
            raise Fail(404, "not_found", f"dataset '{name}' not found")
        _require(environ, _dataset_etag(row, row[14]))  # the delete is undone if stale
        req.sql(DETACH_COLLECTIONS, (_now(), None, req.subject, row[0], project[4], row[0]))
    return 200, {"success": True}


def update_collection(req, environ, scope, slug, project, name):
    body = _body(environ)
    if set(body) - {"name", "dataset"}:
        raise Fail(400, "validation_error", "unknown field")
    if "name" in body:
        _name_arg(body["name"], "name")
    if body.get("dataset") is not None:
        _name_arg(body["dataset"], "dataset")
    project = _project(req, scope, slug, project)
    with transaction(req):
        # The dataset before the collection, as the service takes them.
        dataset = None
        if body.get("dataset"):
            dataset = req.sql(DATASET_FOR_SHARE, (project[4], project[0], body["dataset"], 1)).fetchone()
            if dataset is None:
                raise Fail(404, "not_found", f"dataset '{body['dataset']}' not found")
        row = req.sql(COLLECTION_FOR_UPDATE, (project[4], project[0], name, 1)).fetchone()
        if row is None:
            raise Fail(404, "not_found", f"collection '{name}' not found")
        dataset_name = row[17]
        _require(environ, _collection_etag(row, dataset_name))
        sets, values = "", []
        if "dataset" in body:
            sets, dataset_name = '"dataset_id" = %s, ', dataset and dataset[6]
            values.append(dataset and dataset[0])
        if "name" in body:
            sets += '"name" = %s, '
            values.append(body["name"])
        if values:
            # a moved collection forgets the dataset it was detached from
            former = ', "former_dataset_id" = %s' if "dataset" in body else ""
            try:
                row = req.sql(UPDATE_COLLECTION_FIELDS.format(sets=sets, former=former),
                              (_now(), *values, req.subject, *([None] if former else []), row[0])).fetchone()
            except psycopg2.IntegrityError:
                raise Fail(409, "conflict", f"collection '{body['name']}' already exists") from None
    req.etag = _collection_etag(row, dataset_name)
    return 200, _collection(row, dataset_name)


def delete_collection(req, environ, scope, slug, project, name):
    project = _project(req, scope, slug, project)
    with transaction(req):
        row = req.sql(DELETE_COLLECTION, (_now(), None, req.subject, project[4], project[0], name)).fetchone()
        if row is None:
            raise Fail(404, "not_found", f"collection '{name}' not found")
        _require(environ, _collection_etag(row, row[17]))  # the delete is undone if stale
    return 200, {"success": True}


@contextmanager
def transaction(req):
    """One atomic write, as peewee's: BEGIN, then COMMIT, or ROLLBACK on any failure, on the
    request's connection; neither counted nor traced."""
    req.sql("BEGIN", counted=False)
    try:
        yield
    except BaseException:
        if not req.conn.closed:
            req.sql("ROLLBACK", counted=False)
        raise
    req.sql("COMMIT", counted=False)


class Streamed:
    """A 200 whose body is written as it is read: `opening`, the pieces, `closing`; `rows`, the
    database cursor's iterator the pieces come from (closed, its transaction ended, when the
    body ends)."""

    def __init__(self, opening, pieces, closing, rows):
        self.opening, self.pieces, self.closing, self.rows = opening, pieces, closing, rows


def _stream(req, sql, params):
    """The rows of `sql` through a cursor of the database: BEGIN, then DECLARE and the first
    FETCH as one statement (sent now; rows that fit in that batch are all read, and the
    transaction ends now with a COMMIT); the iterator FETCHes the rest, STREAM_BATCH rows at a
    time, and ends the transaction."""
    req.sql("BEGIN", counted=False, traced=True)
    try:
        first = req.sql(f"DECLARE rows NO SCROLL CURSOR FOR {sql}; FETCH {STREAM_BATCH} FROM rows",
                        params).fetchall()
        if len(first) < STREAM_BATCH:
            req.sql("COMMIT", counted=False, traced=True)
            return iter(first)
    except BaseException:
        req.sql("ROLLBACK", counted=False)
        raise
    return _fetched(req, first)


def _fetched(req, rows):
    """The rest of the rows, on the request's connection, which the body holds until it is
    written or closed (Request.release ends the transaction of a body closed before its end)."""
    cursor = req.cursor
    while rows:
        yield from rows
        if len(rows) < STREAM_BATCH:
            break
        cursor.execute(f"FETCH {STREAM_BATCH} FROM rows")
        rows = cursor.fetchall()
    cursor.execute("COMMIT")


def _member_lists(rows, grouped):
    """The JSON of member chunk rows (collection id, name, chunk: a JSON array): with `grouped`, one
    {"id", "name", "members"} per collection; else one list."""
    current, separator = None, ""
    for collection_id, name, chunk in rows:
        if grouped and collection_id != current:
            yield f'{"]}," if current else ""}{{"id":{json.dumps(collection_id)},"name":{json.dumps(name)},"members":['
            current, separator = collection_id, ""
        if chunk != "[]":
            yield separator + chunk[1:-1]
            separator = ","
    if grouped and current:
        yield "]}"


def _pieces(streamed):
    """The body of a Streamed: its opening at once, then UTF-8 writes of about STREAM_PIECE
    bytes (as the service's api/common.py `_buffered`)."""
    yield streamed.opening.encode()
    buffer, held = [], 0
    for piece in itertools.chain(streamed.pieces, [streamed.closing]):
        buffer.append(piece)
        held += len(piece)
        if held >= STREAM_PIECE:
            yield "".join(buffer).encode()
            buffer, held = [], 0
    yield "".join(buffer).encode()


class _Body:
    """The iterable the server writes a Streamed from. It holds the request's connection (the
    database cursor the rest of the rows come from) until the body is written whole, or until
    the server closes it (as the service's response, `call_on_close`): read in part, or not at
    all (the client gone before the first write: a generator closed before it starts runs no
    `finally`, so the release is here). Request.release ends a transaction left open."""

    def __init__(self, streamed, req):
        self.streamed, self.req, self.pieces = streamed, req, _pieces(streamed)

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self.pieces)
        except BaseException:  # written whole (StopIteration), or failed: the connection back now
            self.close()
            raise

    def close(self):
        try:
            self.pieces.close()
            self.streamed.pieces.close()
            if hasattr(self.streamed.rows, "close"):
                self.streamed.rows.close()
        finally:
            self.req.release()


def _etag(*parts):
    """A strong tag of what a representation shows, computed as the service computes its own."""
    return hashlib.sha256(json.dumps(parts, default=str, ensure_ascii=False).encode()).hexdigest()[:32]


def _respond(start_response, status, body, req=None):
    streamed = isinstance(body, Streamed)
    data = None if streamed else (json.dumps(body, separators=(",", ":")) + "\n").encode()
    headers = [("Content-Type", "application/json")]
    if not streamed:
        headers.append(("Content-Length", str(len(data))))
    headers += getattr(req, "headers", [])
    headers.append(("X-Request-ID", uuid.uuid4().hex))
    if getattr(req, "etag", None):
        headers.append(("ETag", f'"{req.etag}"'))
    if req is not None:
        headers.append(("Server-Timing", f'db;dur={req.seconds * 1000:.2f};desc="{req.queries} queries"'))
    start_response(f"{status} {'OK' if status < 300 else 'Error'}", headers)
    return _Body(body, req) if streamed else [data]


@cache
def _routes():
    """ROUTES, then those of bench/floor_v2.py (the v2 endpoints), which imports this module:
    joined once, on the first request."""
    from bench import floor_v2

    return ROUTES + floor_v2.ROUTES


def app(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    if path == "/healthz":
        return _respond(start_response, 200, {"status": "ok"})
    for route_method, pattern, handler in _routes():  # noqa: B007  # handler is read after the loop
        match = pattern.match(path)
        if match and route_method == method:
            break
    else:
        return _respond(start_response, 404, {"error": {"code": "not_found", "message": "not found"}})
    req = body = None
    try:
        subject, scope = _authenticate(environ)
        req = Request(subject)
        handler = globals()[handler] if isinstance(handler, str) else handler
        status, body = handler(req, environ, scope, **match.groupdict())
    except Fail as e:
        status, body = e.status, {"error": {"code": e.code, "message": e.message}}
    except psycopg2.Error:
        status, body = 503, {"error": {"code": "database_unavailable", "message": "the database cannot be reached"}}
    finally:
        if req is not None and not isinstance(body, Streamed):  # a streamed body gives it back when written
            req.release()
    return _respond(start_response, status, body, req)
