"""The floor: the least this stack (gunicorn, psycopg2, PostgreSQL, PyJWT) can do for the
benchmarked endpoints. A plain WSGI callable with no framework that sends the very same
SQL statements as the service (bench/bench.py checks the text of every statement against
the service's own before measuring) and writes the same JSON bytes, with the same
Server-Timing and X-Request-ID headers.

It verifies the bearer token (HS256, `sub`, `exp` and a `namespaces` list), checks the
bodies it takes with plain Python, and keeps at most DB_POOL_SIZE open connections per
process, as the service does, with the same session settings. It serves only D1, D2, D3,
C5 and V3 and is not a product: any other path is a 404.

    gunicorn bench.floor:app    (from the repository root; DATABASE_URL, JWT_SECRET_KEY as for the service)
"""
import hashlib
import json
import math
import os
import queue
import re
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs

import jwt
import psycopg2

NAMESPACE = ('SELECT "t1"."id", "t1"."created_at", "t1"."updated_at", "t1"."deleted_at", "t1"."slug", '
             '"t1"."name" FROM "namespace" AS "t1" WHERE (("t1"."slug" = %s) AND ("t1"."deleted_at" IS NULL)) '
             'LIMIT %s')
PROJECT = ('SELECT "t1"."id", "t1"."created_at", "t1"."updated_at", "t1"."deleted_at", "t1"."namespace_id", '
           '"t1"."slug", "t1"."name", "t1"."description", "t1"."dataset_count" FROM "project" AS "t1" '
           'WHERE ((("t1"."namespace_id" = %s) AND ("t1"."slug" = %s)) AND ("t1"."deleted_at" IS NULL)) LIMIT %s')
_DATASET_COLUMNS = ('"t1"."id", "t1"."created_at", "t1"."updated_at", "t1"."deleted_at", "t1"."namespace_id", '
                    '"t1"."project_id", "t1"."name", "t1"."description", "t1"."tags", "t1"."metadata", '
                    '"t1"."version_count"')
_LIVE_DATASETS = ('(("t1"."namespace_id" = %s) AND ("t1"."project_id" = %s)) AND ("t1"."deleted_at" IS NULL)')
_PAGE = ('SELECT ' + _DATASET_COLUMNS + ', "counted"."total" FROM ({count}) AS "counted" '
         'LEFT OUTER JOIN "dataset" AS "t1" ON ("t1"."id" IN (SELECT "t1"."id" FROM "dataset" AS "t1" '
         'WHERE {where} ORDER BY "t1"."created_at", "t1"."id" LIMIT %s OFFSET %s)) '
         'ORDER BY "t1"."created_at", "t1"."id"')
DATASET_PAGE = _PAGE.format(
    count='SELECT "t2"."dataset_count" AS "total" FROM "project" AS "t2" WHERE ("t2"."id" = %s)',
    where="(" + _LIVE_DATASETS + ")")
_TAGGED = "((" + _LIVE_DATASETS + ") AND tags @> %s::jsonb)"
DATASET_PAGE_TAGGED = _PAGE.format(count='SELECT COUNT(*) AS "total" FROM "dataset" AS "t1" WHERE ' + _TAGGED,
                                   where=_TAGGED)
DATASET = ('SELECT ' + _DATASET_COLUMNS + ' FROM "dataset" AS "t1" WHERE (((("t1"."namespace_id" = %s) AND '
           '("t1"."project_id" = %s)) AND ("t1"."name" = %s)) AND ("t1"."deleted_at" IS NULL)) LIMIT %s')
# D3's query 3 also reads its collections' state, for its ETag (service/etags.py).
DATASET_WITH_STATE = (
    'SELECT ' + _DATASET_COLUMNS + ', ARRAY(SELECT (((("t2"."id" || %s) || CAST("t2"."change_seq" AS text)) '
    '|| %s) || "t2"."name") AS "part" FROM "collection" AS "t2" WHERE ((("t2"."namespace_id" = "t1"."namespace_id") '
    'AND ("t2"."dataset_id" = "t1"."id")) AND ("t2"."deleted_at" IS NULL)) ORDER BY "t2"."created_at", "t2"."id") '
    'AS "collections_state" FROM "dataset" AS "t1" WHERE (((("t1"."namespace_id" = %s) AND '
    '("t1"."project_id" = %s)) AND ("t1"."name" = %s)) AND ("t1"."deleted_at" IS NULL)) LIMIT %s')
# D3's current members: the rows not removed (schema version 4 keeps removed rows for versions).
DATASET_COLLECTIONS = (
    'SELECT "t1"."id", "t1"."name", ARRAY(SELECT "t2"."node_id" FROM "member" AS "t2" WHERE '
    '((("t2"."namespace_id" = "t1"."namespace_id") AND ("t2"."collection_id" = "t1"."id")) '
    'AND ("t2"."removed_seq" IS NULL)) ORDER BY "t2"."position") '
    'AS "members" FROM "collection" AS "t1" WHERE ((("t1"."namespace_id" = %s) AND ("t1"."dataset_id" = %s)) '
    'AND ("t1"."deleted_at" IS NULL)) ORDER BY "t1"."created_at", "t1"."id"')
INSERT_DATASET = ('INSERT INTO "dataset" ("id", "created_at", "updated_at", "namespace_id", "project_id", "name", '
                  '"description", "tags", "metadata", "version_count") '
                  'VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING "dataset"."id"')
COLLECTION_FOR_UPDATE = (
    'SELECT "t1"."id", "t1"."created_at", "t1"."updated_at", "t1"."deleted_at", "t1"."namespace_id", '
    '"t1"."project_id", "t1"."dataset_id", "t1"."member_count", "t1"."member_seq", "t1"."name", '
    '"t1"."change_seq", "t2"."name" AS "dataset_name" FROM "collection" AS "t1" LEFT OUTER JOIN "dataset" AS "t2" '
    'ON ("t1"."dataset_id" = "t2"."id") WHERE (((("t1"."namespace_id" = %s) AND ("t1"."project_id" = %s)) '
    'AND ("t1"."name" = %s)) AND ("t1"."deleted_at" IS NULL)) LIMIT %s FOR UPDATE OF "t1"')
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
    '"member_seq" = ("collection"."member_seq" + %s), "change_seq" = ("collection"."change_seq" + %s) '
    'WHERE ("collection"."id" = %s) RETURNING "collection"."id", '
    '"collection"."created_at", "collection"."updated_at", "collection"."deleted_at", "collection"."namespace_id", '
    '"collection"."project_id", "collection"."dataset_id", "collection"."member_count", "collection"."member_seq", '
    '"collection"."name", "collection"."change_seq"')
# V3: the version (its dataset looked up inside the statement), then its collections, each with
# the members it had at the change the version recorded, in the order they were added.
_VERSION_COLUMNS = ('"t1"."id", "t1"."namespace_id", "t1"."dataset_id", "t1"."number", "t1"."note", '
                    '"t1"."created_at", "t1"."created_by", "t1"."collection_count", "t1"."member_count", '
                    '"t1"."name", "t1"."description", "t1"."tags", "t1"."metadata", "t1"."project_id", '
                    '"t1"."dataset_created_at", "t1"."dataset_updated_at"')
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

_PREFIX = r"^/namespaces/(?P<slug>[a-z0-9-]+)/projects/(?P<project>[a-z0-9-]+)"
ROUTES = [
    ("GET", re.compile(_PREFIX + r"/datasets/?$"), "list_datasets"),
    ("POST", re.compile(_PREFIX + r"/datasets/?$"), "create_dataset"),
    ("GET", re.compile(_PREFIX + r"/datasets/(?P<name>[^/]+)$"), "get_dataset"),
    ("GET", re.compile(_PREFIX + r"/datasets/(?P<name>[^/]+)/versions/(?P<number>[1-9][0-9]{0,8})$"), "get_version"),
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

    def __init__(self):
        self.queries, self.seconds = 0, 0.0
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
        if not self.conn.closed:
            _idle.put(self.conn)
        _slots.release()

    def sql(self, statement, params=(), counted=True):
        start = time.perf_counter()
        self.cursor.execute(statement, params)
        if counted:
            self.seconds += time.perf_counter() - start
            self.queries += 1
            if trace is not None:
                trace.append((statement, params))
        return self.cursor


def _timestamp(value):
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def _now():
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _list_item(row):
    return {"id": row[0], "name": row[6], "description": row[7], "tags": row[8],
            "createdAt": _timestamp(row[1]), "updatedAt": _timestamp(row[2])}


def _dataset(row):
    item = _list_item(row)
    item["projectId"] = row[5]
    item["metadata"] = None if row[9] is None else json.loads(row[9])
    return item


def _collection(row, dataset_name):
    return {"id": row[0], "name": row[9], "projectId": row[5], "dataset": dataset_name,
            "memberCount": row[7], "createdAt": _timestamp(row[1]), "updatedAt": _timestamp(row[2])}


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
    return None if "*" in namespaces else set(namespaces)


def _project(req, scope, slug, project_slug):
    if scope is not None and slug not in scope:
        raise Fail(404, "not_found", f"namespace '{slug}' not found")
    namespace = req.sql(NAMESPACE, (slug, 1)).fetchone()
    if namespace is None:
        raise Fail(404, "not_found", f"namespace '{slug}' not found")
    project = req.sql(PROJECT, (namespace[0], project_slug, 1)).fetchone()
    if project is None:
        raise Fail(404, "not_found", f"project '{project_slug}' not found")
    return project  # id, ..., namespace_id at 4


def _page_arg(query, name, default):
    values = query.get(name)
    if values is None:
        return default
    if not re.fullmatch(r"[0-9]{1,18}", values[-1]) or int(values[-1]) < 1:
        raise Fail(400, "validation_error", f"{name}: Must be a positive whole number.")
    return int(values[-1])


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
    query = parse_qs(environ.get("QUERY_STRING", ""))
    page, page_size = _page_arg(query, "page", 1), min(_page_arg(query, "pageSize", 50), 200)
    tags = query.get("tag", [])
    project = _project(req, scope, slug, project)
    where = (project[4], project[0])
    if tags:
        tagged = where + (json.dumps(tags),)
        rows = req.sql(DATASET_PAGE_TAGGED, tagged + tagged + (page_size, (page - 1) * page_size)).fetchall()
    else:
        rows = req.sql(DATASET_PAGE, (project[0],) + where + (page_size, (page - 1) * page_size)).fetchall()
    total = rows[0][11]
    return 200, {"datasets": [_list_item(row) for row in rows if row[0] is not None], "page": page,
                 "pageSize": page_size, "total": total, "totalPages": math.ceil(total / page_size)}


def get_dataset(req, environ, scope, slug, project, name):
    project = _project(req, scope, slug, project)
    row = req.sql(DATASET_WITH_STATE, (":", ":", project[4], project[0], name, 1)).fetchone()
    if row is None:
        raise Fail(404, "not_found", f"dataset '{name}' not found")
    req.etag = _etag("dataset", row[0], row[6], row[7], row[8], row[9], row[1], row[2], row[5], row[11])
    dataset = _dataset(row)
    dataset["collections"] = [{"id": collection_id, "name": collection_name, "members": members}
                              for collection_id, collection_name, members in req.sql(DATASET_COLLECTIONS,
                                                                                     (row[4], row[0]))]
    return 200, dataset


def get_version(req, environ, scope, slug, project, name, number):
    project = _project(req, scope, slug, project)
    row = req.sql(VERSION, (project[4], project[4], project[0], name, int(number), 1)).fetchone()
    if row is None:
        raise Fail(404, "not_found", f"version {number} of dataset '{name}' not found")
    collections = req.sql(VERSION_COLLECTIONS, (row[1], row[0])).fetchall()
    dataset = {"id": row[2], "name": row[9], "description": row[10], "tags": row[11],
               "createdAt": _timestamp(row[14]), "updatedAt": _timestamp(row[15]), "projectId": row[13],
               "metadata": None if row[12] is None else json.loads(row[12]),
               "collections": [{"id": collection_id, "name": collection_name, "members": members}
                               for collection_id, collection_name, members in collections]}
    return 200, {"number": row[3], "datasetId": row[2], "note": row[4], "createdAt": _timestamp(row[5]),
                 "createdBy": row[6], "collectionCount": row[7], "memberCount": row[8], "dataset": dataset}


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
                                 json.dumps(tags, ensure_ascii=False, separators=(",", ":")), metadata, 0))
    except psycopg2.IntegrityError:
        raise Fail(409, "conflict", f"dataset '{name}' already exists") from None
    return 201, _dataset((dataset_id, now, now, None, project[4], project[0], name, description, tags, metadata))


def change_members(req, environ, scope, slug, project, name):
    body = _body(environ)
    if set(body) - {"add", "remove"}:
        raise Fail(400, "validation_error", "unknown field")
    add = _strings(body.get("add", []), "add", 1, 256)
    remove = _strings(body.get("remove", []), "remove", 1, 256)
    if len(add) + len(remove) > 10_000 or set(add) & set(remove):
        raise Fail(400, "validation_error", "_schema: Invalid value.")
    project = _project(req, scope, slug, project)
    req.sql("BEGIN", counted=False)
    try:
        row = req.sql(COLLECTION_FOR_UPDATE, (project[4], project[0], name, 1)).fetchone()
        if row is None:
            raise Fail(404, "not_found", f"collection '{name}' not found")
        change = row[10] + 1
        added = req.sql(INSERT_MEMBERS, (row[4], row[0], row[8] + 1, change, add)).rowcount if add else 0
        removed = req.sql(REMOVE_MEMBERS, (change, row[4], row[0], remove)).rowcount if remove else 0
        if added or removed:
            row = req.sql(UPDATE_COLLECTION, (_now(), added, removed, len(add), 1, row[0])).fetchone() + row[11:]
        req.sql("COMMIT", counted=False)
    except BaseException:
        req.sql("ROLLBACK", counted=False)
        raise
    return 200, _collection(row, row[11])


def _etag(*parts):
    """A strong tag of what a representation shows, computed as the service computes its own."""
    return hashlib.sha256(json.dumps(parts, default=str, ensure_ascii=False).encode()).hexdigest()[:32]


def _respond(start_response, status, body, req=None):
    data = (json.dumps(body, separators=(",", ":")) + "\n").encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
               ("X-Request-ID", uuid.uuid4().hex)]
    if getattr(req, "etag", None):
        headers.append(("ETag", f'"{req.etag}"'))
    if req is not None:
        headers.append(("Server-Timing", f'db;dur={req.seconds * 1000:.2f};desc="{req.queries} queries"'))
    start_response(f"{status} {'OK' if status < 300 else 'Error'}", headers)
    return [data]


def app(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    if path == "/healthz":
        return _respond(start_response, 200, {"status": "ok"})
    for route_method, pattern, handler in ROUTES:  # noqa: B007  # handler is read after the loop
        match = pattern.match(path)
        if match and route_method == method:
            break
    else:
        return _respond(start_response, 404, {"error": {"code": "not_found", "message": "not found"}})
    req = None
    try:
        scope = _authenticate(environ)
        req = Request()
        status, body = globals()[handler](req, environ, scope, **match.groupdict())
    except Fail as e:
        status, body = e.status, {"error": {"code": e.code, "message": e.message}}
    except psycopg2.Error:
        status, body = 503, {"error": {"code": "database_unavailable", "message": "the database cannot be reached"}}
    finally:
        if req is not None:
            req.release()
    return _respond(start_response, status, body, req)
