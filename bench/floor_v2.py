"""The floor of the v2 endpoints (contract §8): handlers in the style of bench/floor.py, which
dispatches to ROUTES below after its own. Each sends the very statements the service sends, in
the same order, with the same transaction control (a write's BEGIN and COMMIT, or ROLLBACK, as
peewee sends them: outside the trace and the Server-Timing count), and answers the same JSON:

    V1  POST …/datasets/:name/versions            freeze                 (service/api/versions.py)
    V2  GET  …/datasets/:name/versions            a page, oldest first
    V4  GET  …/datasets/:name/versions/:from/diff/:to   (`to` may be `current`)
    T1  GET  …/trash                              a page, most recently deleted first (service/api/trash.py)
    T2  POST …/trash/datasets/:id/restore
    T3  POST …/trash/collections/:id/restore
    T4  DELETE …/trash/datasets/:id, DELETE …/trash/collections/:id
    R1  GET  …/nodes/:nodeId/collections          (service/api/nodes.py)
    R2  POST …/nodes/lookup
    C1  POST …/collections  {name, dataset?, members?} (not `from`: a 400 here)  (service/api/collections.py)

None of these answers carries an ETag in the service (only the single-resource GETs do), so none
does here. The bodies are checked with plain Python, as floor.py checks its own."""
import json
import math
import re
import secrets
import unicodedata

import psycopg2

from bench.floor import (
    _DATASET_COLUMNS,
    _PREFIX,
    _VERSION_COLUMNS,
    DATASET,
    INSERT_MEMBERS,
    Fail,
    _body,
    _collection,
    _cursor_arg,
    _dataset,
    _decode_cursor,
    _list_key,
    _next_cursor,
    _now,
    _page_arg,
    _project,
    _query,
    _strings,
    _timestamp,
    transaction,
)

# -- the statements (the service's text, byte for byte) -------------------------------------------

_RETURNING_DATASET = ", ".join(column.replace('"t1"', '"dataset"') for column in _DATASET_COLUMNS.split(", "))
_COLLECTION_COLUMNS = ('"t1"."id", "t1"."created_at", "t1"."updated_at", "t1"."deleted_at", "t1"."namespace_id", '
                       '"t1"."project_id", "t1"."dataset_id", "t1"."member_count", "t1"."member_seq", "t1"."name", '
                       '"t1"."change_seq", "t1"."created_by", "t1"."updated_by", "t1"."deleted_by", '
                       '"t1"."former_dataset_id", "t1"."former_dataset_name", "t1"."purged_at"')
_RETURNING_COLLECTION = ", ".join(column.replace('"t1"', '"collection"')
                                  for column in _COLLECTION_COLUMNS.split(", "))
_RETURNING_VERSION = ", ".join(column.replace('"t1"', '"version"') for column in _VERSION_COLUMNS.split(", "))
_LIVE_DATASET_ID = ('(SELECT "t2"."id" FROM "dataset" AS "t2" WHERE (((("t2"."namespace_id" = %s) AND '
                    '("t2"."project_id" = %s)) AND ("t2"."name" = %s)) AND ("t2"."deleted_at" IS NULL)))')

# V1: the dataset's next number (its row held until the version is written), a row per live
# collection (held FOR SHARE), the version row counting them.
FREEZE_DATASET = ('UPDATE "dataset" SET "version_count" = ("dataset"."version_count" + %s) WHERE (((('
                  '"dataset"."namespace_id" = %s) AND ("dataset"."project_id" = %s)) AND ("dataset"."name" = %s)) '
                  'AND ("dataset"."deleted_at" IS NULL)) RETURNING ' + _RETURNING_DATASET)
RECORD_COLLECTIONS = (
    'INSERT INTO "version_collection" ("namespace_id", "version_id", "collection_id", "name", "created_at", '
    '"change_seq", "member_count") SELECT "t1"."namespace_id", %s, "t1"."id", "t1"."name", "t1"."created_at", '
    '"t1"."change_seq", "t1"."member_count" FROM "collection" AS "t1" WHERE ((("t1"."namespace_id" = %s) AND '
    '("t1"."dataset_id" = %s)) AND ("t1"."deleted_at" IS NULL)) FOR SHARE RETURNING '
    '"version_collection"."version_id", "version_collection"."collection_id"')
INSERT_VERSION = (
    'INSERT INTO "version" ("id", "namespace_id", "dataset_id", "number", "note", "created_at", "created_by", '
    '"collection_count", "member_count", "name", "description", "tags", "metadata", "project_id", '
    '"dataset_created_at", "dataset_updated_at", "dataset_created_by", "dataset_updated_by") SELECT %s, %s, %s, %s, '
    '%s, %s, %s, COUNT(*), COALESCE(SUM("t1"."member_count"), %s), %s, %s, %s ::jsonb, %s, %s, %s, %s, %s, %s '
    'FROM "version_collection" AS "t1" WHERE ("t1"."version_id" = %s) RETURNING ' + _RETURNING_VERSION)

# V2: a page of the versions and their total, the dataset looked up inside (found_dataset_id).
_VERSIONS_OF = '(("t1"."namespace_id" = %s) AND ("t1"."dataset_id" = ' + _LIVE_DATASET_ID + '))'
_VERSIONS_PAGE = (
    'SELECT ' + _VERSION_COLUMNS + ', "counted"."total", ' + _LIVE_DATASET_ID + ' AS "found_dataset_id" FROM '
    '(SELECT COUNT(*) AS "total" FROM "version" AS "t1" WHERE ' + _VERSIONS_OF + ') AS "counted" LEFT OUTER JOIN '
    '"version" AS "t1" ON ("t1"."id" IN (SELECT "t1"."id" FROM "version" AS "t1" WHERE {where} '
    'ORDER BY "t1"."number" LIMIT %s OFFSET %s)) ORDER BY "t1"."number"')
VERSIONS_PAGE = _VERSIONS_PAGE.format(where=_VERSIONS_OF)
VERSIONS_PAGE_AFTER = _VERSIONS_PAGE.format(where='(' + _VERSIONS_OF + ' AND (("t1"."number") > (%s)))')

# V4: the versions asked for, both sides' collections, the member changes between them.
_VERSIONS_NUMBERED = ('SELECT ' + _VERSION_COLUMNS + ' FROM "version" AS "t1" WHERE ((("t1"."namespace_id" = %s) '
                      'AND ("t1"."dataset_id" = %s)) AND ("t1"."number" IN ({numbers})))')
VERSIONS_NUMBERED = {1: _VERSIONS_NUMBERED.format(numbers="%s"), 2: _VERSIONS_NUMBERED.format(numbers="%s, %s")}
_SIDE_FROM = ('(SELECT %s AS "side", "t1"."collection_id", "t1"."name", "t1"."created_at", "t1"."change_seq" '
              'FROM "version_collection" AS "t1" WHERE (("t1"."namespace_id" = %s) AND ("t1"."version_id" = %s)))')
SIDES_VERSIONS = (_SIDE_FROM + ' UNION ALL (SELECT %s, "t2"."collection_id", "t2"."name", "t2"."created_at", '
                  '"t2"."change_seq" FROM "version_collection" AS "t2" WHERE (("t2"."namespace_id" = %s) AND '
                  '("t2"."version_id" = %s))) ORDER BY 1, 4, 2')
SIDES_CURRENT = (_SIDE_FROM + ' UNION ALL (SELECT %s, "t2"."id", "t2"."name", "t2"."created_at", "t2"."change_seq" '
                 'FROM "collection" AS "t2" WHERE ((("t2"."namespace_id" = %s) AND ("t2"."dataset_id" = %s)) AND '
                 '("t2"."deleted_at" IS NULL))) ORDER BY 1, 4, 2')
MEMBER_CHANGES = """
WITH q AS (SELECT x->>0 AS collection_id, (x->>1)::bigint AS low, (x->>2)::bigint AS high, x->>3 AS kind FROM jsonb_array_elements(%s::jsonb) AS x)
SELECT q.collection_id, CASE q.kind WHEN 'back' THEN 'removed' ELSE 'added' END AS what, m.node_id,
       m.added_seq, m.position
  FROM q JOIN member m ON m.namespace_id = %s AND m.collection_id = q.collection_id
   AND m.added_seq > q.low AND m.added_seq <= q.high
 WHERE q.kind IN ('forward', 'back') AND (m.removed_seq IS NULL OR m.removed_seq > q.high)
UNION ALL
SELECT q.collection_id, CASE q.kind WHEN 'back' THEN 'added' ELSE 'removed' END, m.node_id, m.added_seq, m.position
  FROM q JOIN member m ON m.namespace_id = %s AND m.collection_id = q.collection_id
   AND m.removed_seq > q.low AND m.removed_seq <= q.high
 WHERE q.kind IN ('forward', 'back') AND m.added_seq <= q.low
UNION ALL
SELECT q.collection_id, CASE q.kind WHEN 'to' THEN 'added' ELSE 'removed' END, m.node_id, m.added_seq, m.position
  FROM q JOIN member m ON m.namespace_id = %s AND m.collection_id = q.collection_id AND m.added_seq <= q.low
 WHERE q.kind IN ('from', 'to') AND (m.removed_seq IS NULL OR m.removed_seq > q.low)
ORDER BY 1, 2, 4, 5"""  # noqa: E501  (the service's text, its lines as they are)

# T1: the project's trash (deleted datasets and collections, or those of one kind) as one CTE,
# counted, and a page of it, most recently deleted first.
_ITEMS = '"kind", "id", "name", "deleted_at", "deleted_by", "dataset"'
_TRASHED_DATASETS = ('SELECT %s, "{t}"."id", "{t}"."name", "{t}"."deleted_at", "{t}"."deleted_by", NULL FROM '
                     '"dataset" AS "{t}" WHERE ((("{t}"."namespace_id" = %s) AND ("{t}"."project_id" = %s)) AND '
                     '("{t}"."deleted_at" IS NOT NULL))')
_TRASHED_COLLECTIONS = ('SELECT %s, "{t}"."id", "{t}"."name", "{t}"."deleted_at", "{t}"."deleted_by", '
                        '"{t}"."former_dataset_name" FROM "collection" AS "{t}" WHERE ((("{t}"."namespace_id" = %s) '
                        'AND ("{t}"."project_id" = %s)) AND (("{t}"."deleted_at" IS NOT NULL) AND '
                        '("{t}"."purged_at" IS NULL)))')
_TRASH_PAGE = (
    'WITH "items" (' + _ITEMS + ') AS ({items}) SELECT "counted"."total", "page"."kind", "page"."id", "page"."name", '
    '"page"."deleted_at", "page"."deleted_by", "page"."dataset" FROM (SELECT COUNT(*) AS "total" FROM "items") AS '
    '"counted" LEFT OUTER JOIN (SELECT "items"."kind", "items"."id", "items"."name", "items"."deleted_at", '
    '"items"."deleted_by", "items"."dataset" FROM "items" {after}ORDER BY "items"."deleted_at" DESC, "items"."id" '
    'DESC LIMIT %s OFFSET %s) AS "page" ON 1 = 1 ORDER BY "page"."deleted_at" DESC, "page"."id" DESC')
_TRASH_ITEMS = {
    ("dataset", "collection"): "(" + _TRASHED_DATASETS.format(t="t1") + ") UNION ALL ("
                               + _TRASHED_COLLECTIONS.format(t="t2") + ")",
    ("dataset",): _TRASHED_DATASETS.format(t="t1"),
    ("collection",): _TRASHED_COLLECTIONS.format(t="t1"),
}
_TRASH_AFTER = 'WHERE (("items"."deleted_at", "items"."id") < (%s, %s)) '
TRASH_PAGE = {(kinds, after): _TRASH_PAGE.format(items=items, after=_TRASH_AFTER if after else "")
              for kinds, items in _TRASH_ITEMS.items() for after in (False, True)}

# T2: the dataset made live (under its name, or the name given), and the collections its deletion
# detached taken back.
_RESTORE_DATASET = ('UPDATE "dataset" SET "updated_at" = %s, "deleted_at" = %s, {name}"updated_by" = %s, '
                    '"deleted_by" = %s WHERE (((("dataset"."namespace_id" = %s) AND ("dataset"."project_id" = %s)) '
                    'AND ("dataset"."id" = %s)) AND ("dataset"."deleted_at" IS NOT NULL)) RETURNING '
                    + _RETURNING_DATASET)
RESTORE_DATASET = {False: _RESTORE_DATASET.format(name=""), True: _RESTORE_DATASET.format(name='"name" = %s, ')}
REATTACH_COLLECTIONS = (
    'UPDATE "collection" SET "updated_at" = %s, "dataset_id" = %s, "updated_by" = %s, "former_dataset_id" = %s '
    'WHERE (((("collection"."namespace_id" = %s) AND ("collection"."former_dataset_id" = %s)) AND '
    '("collection"."dataset_id" IS NULL)) AND ("collection"."deleted_at" IS NULL))')

# T3: the collection of the trash (held), its former dataset if live (held FOR SHARE), the restore.
TRASHED_COLLECTION = ('SELECT ' + _COLLECTION_COLUMNS + ' FROM "collection" AS "t1" WHERE (((("t1"."namespace_id" = '
                      '%s) AND ("t1"."project_id" = %s)) AND ("t1"."id" = %s)) AND (("t1"."deleted_at" IS NOT NULL) '
                      'AND ("t1"."purged_at" IS NULL))) LIMIT %s FOR UPDATE')
LIVE_DATASET_BY_ID = ('SELECT "t1"."id", "t1"."name" FROM "dataset" AS "t1" WHERE (((("t1"."namespace_id" = %s) AND '
                      '("t1"."project_id" = %s)) AND ("t1"."id" = %s)) AND ("t1"."deleted_at" IS NULL)) LIMIT %s '
                      'FOR SHARE')
_RESTORE_COLLECTION = ('UPDATE "collection" SET "updated_at" = %s, "deleted_at" = %s, "dataset_id" = %s, {name}'
                       '"updated_by" = %s, "deleted_by" = %s, "former_dataset_id" = %s, "former_dataset_name" = %s '
                       'WHERE (("collection"."id" = %s) AND (("collection"."deleted_at" IS NOT NULL) AND '
                       '("collection"."purged_at" IS NULL))) RETURNING ' + _RETURNING_COLLECTION)
RESTORE_COLLECTION = {False: _RESTORE_COLLECTION.format(name=""),
                      True: _RESTORE_COLLECTION.format(name='"name" = %s, ')}

# T4: a dataset of the trash deleted for good with its versions; a collection with its members
# (those that no version holds; its row stays, marked purged, while a version holds some).
_DOOMED = ('SELECT "{t}"."id" FROM "dataset" AS "{t}" WHERE (("{t}"."deleted_at" IS NOT NULL) AND '
           '((("{t}"."namespace_id" = %s) AND ("{t}"."project_id" = %s)) AND ("{t}"."id" = %s)))')
PURGE_VERSION_COLLECTIONS = ('DELETE FROM "version_collection" WHERE ("version_collection"."version_id" IN (SELECT '
                             '"t1"."id" FROM "version" AS "t1" WHERE ("t1"."dataset_id" IN ('
                             + _DOOMED.format(t="t2") + '))))')
PURGE_VERSIONS = 'DELETE FROM "version" WHERE ("version"."dataset_id" IN (' + _DOOMED.format(t="t1") + '))'
PURGE_DATASET = ('DELETE FROM "dataset" WHERE (("dataset"."deleted_at" IS NOT NULL) AND ((("dataset"."namespace_id" '
                 '= %s) AND ("dataset"."project_id" = %s)) AND ("dataset"."id" = %s)))')
_PURGED_COLLECTION = ('((("collection"."namespace_id" = %s) AND ("collection"."project_id" = %s)) AND '
                      '("collection"."id" = %s)) AND (("collection"."deleted_at" IS NOT NULL) AND '
                      '("collection"."purged_at" IS NULL))')
PURGE_MEMBERS = (
    'DELETE FROM "member" WHERE (("member"."collection_id" IN (SELECT "t1"."id" FROM "collection" AS "t1" WHERE '
    '(((("t1"."namespace_id" = %s) AND ("t1"."project_id" = %s)) AND ("t1"."id" = %s)) AND (("t1"."deleted_at" IS '
    'NOT NULL) AND ("t1"."purged_at" IS NULL))))) AND NOT EXISTS(SELECT 1 FROM "version_collection" AS "t2" WHERE '
    '((("t2"."collection_id" = "member"."collection_id") AND ("t2"."change_seq" >= "member"."added_seq")) AND '
    '(("member"."removed_seq" IS NULL) OR ("t2"."change_seq" < "member"."removed_seq")))))')
PURGE_COLLECTION = ('DELETE FROM "collection" WHERE ((' + _PURGED_COLLECTION + ') AND NOT EXISTS(SELECT 1 FROM '
                    '"version_collection" AS "t1" WHERE ("t1"."collection_id" = "collection"."id")))')
MARK_PURGED = ('UPDATE "collection" SET "purged_at" = %s WHERE ((' + _PURGED_COLLECTION
               + ') AND ("collection"."purged_at" IS NULL))')

# R1, R2: the live collections of the project that hold each node, by creation.
NODES_HELD = """
SELECT n.node_id, c.id, c.name, d.name AS dataset_name
  FROM unnest(%s::text[]) AS n(node_id)
 CROSS JOIN LATERAL (SELECT m.collection_id FROM member m
                      WHERE m.namespace_id = %s AND m.node_id = n.node_id AND m.removed_seq IS NULL
                     OFFSET 0) AS m
  JOIN collection c ON c.id = m.collection_id
  LEFT JOIN dataset d ON d.id = c.dataset_id
 WHERE c.namespace_id = %s AND c.project_id = %s AND c.deleted_at IS NULL
 ORDER BY c.created_at, c.id"""

# C1: the dataset it goes into (held FOR SHARE), the collection, its members (INSERT_MEMBERS).
DATASET_FOR_SHARE = DATASET + " FOR SHARE"
INSERT_COLLECTION = ('INSERT INTO "collection" ("id", "created_at", "updated_at", "namespace_id", "project_id", '
                     '"dataset_id", "member_count", "member_seq", "name", "change_seq", "created_by", "updated_by") '
                     'VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING "collection"."id"')

# -- checks, as the service's schemas make them ---------------------------------------------------

_VERSION_NUMBER = re.compile(r"[1-9][0-9]{0,8}")
_NODE_ID = re.compile("[^\x00-\x1f\x7f-\x9f\ud800-\udfff]{1,256}")
_NAME_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff/]")


def _path_text(value):
    """A path segment as the service reads it: WSGI gives PATH_INFO as bytes in latin-1, UTF-8 meant."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _name(value, field):
    """A dataset or collection name (schemas/common.py check_name), in NFC."""
    if not isinstance(value, str):
        raise Fail(400, "validation_error", f"{field}: Invalid value.")
    value = unicodedata.normalize("NFC", value)
    if not 1 <= len(value) <= 128 or _NAME_FORBIDDEN.search(value) or value != value.strip() \
            or value in (".", "..") or any(unicodedata.category(c) == "Cf" for c in value):
        raise Fail(400, "validation_error", f"{field}: Invalid value.")
    return value


def _path_name(value):
    """A name in the path: one that breaks the rules names nothing (the service's converter)."""
    try:
        return _name(_path_text(value), "name")
    except Fail:
        raise Fail(404, "not_found", "not found") from None


def _fields(body, known):
    if set(body) - known:
        raise Fail(400, "validation_error", "unknown field")
    return body


def _restore_name(environ):
    """T2 and T3's body: {name?}."""
    body = _fields(_body(environ), {"name"})
    return _name(body["name"], "name") if "name" in body else None


def _page_window(environ, allowed):
    """A list's arguments (page, pageSize, cursor and `allowed`): (pairs, page, page size, the
    cursor's values or (), the list's key); a 400, before any database work, as the service."""
    pairs = _query(environ)
    if any(k not in ("page", "pageSize", "cursor", *allowed) for k, _ in pairs):
        raise Fail(400, "validation_error", "unknown argument")
    cursor = _cursor_arg(pairs)
    if cursor is not None and any(k == "page" for k, _ in pairs):
        raise Fail(400, "validation_error", "Give either page or cursor, not both.")
    page, page_size = _page_arg(pairs, "page", 1, 10_000_000), min(_page_arg(pairs, "pageSize", 50), 200)
    key = _list_key(environ, pairs)
    after = _decode_cursor(cursor, key) if cursor is not None else ()
    return pairs, page, page_size, after, key


def _page_body(req, environ, name, items, pairs, page, page_size, total, key, after):
    """The list envelope (schemas/common.py page_body), and the Link of the next page."""
    return {name: items, "page": None if any(k == "cursor" for k, _ in pairs) else page, "pageSize": page_size,
            "total": total, "totalPages": math.ceil(total / page_size),
            "nextCursor": _next_cursor(req, environ, pairs, key, after)}


def _version(row):
    """The version summary (schemas/versions.py Version) of a version row (_VERSION_COLUMNS)."""
    return {"number": row[3], "datasetId": row[2], "note": row[4], "createdAt": _timestamp(row[5]),
            "createdBy": row[6], "updatedBy": row[6], "collectionCount": row[7], "memberCount": row[8]}


# -- V1, V2, V4 -----------------------------------------------------------------------------------

def create_version(req, environ, scope, slug, project, name):
    body = _fields(_body(environ), {"note"})
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 2000 or "\x00" in note
                             or re.search("[\ud800-\udfff]", note)):
        raise Fail(400, "validation_error", "note: Invalid value.")
    name = _path_name(name)
    project = _project(req, scope, slug, project)
    with transaction(req):
        dataset = req.sql(FREEZE_DATASET, (1, project[4], project[0], name)).fetchone()
        if dataset is None:
            raise Fail(404, "not_found", f"dataset '{name}' not found")
        version_id = secrets.token_urlsafe(12)
        req.sql(RECORD_COLLECTIONS, (version_id, dataset[4], dataset[0]))
        version = req.sql(INSERT_VERSION, (
            version_id, dataset[4], dataset[0], dataset[10], note, _now(), req.subject, 0, dataset[6], dataset[7],
            json.dumps(list(dataset[8])), dataset[9], dataset[5], dataset[1], dataset[2], dataset[11], dataset[12],
            version_id)).fetchone()
    return 201, _version(version)


def list_versions(req, environ, scope, slug, project, name):
    pairs, page, page_size, after, key = _page_window(environ, ())
    name = _path_name(name)
    project = _project(req, scope, slug, project)
    dataset = (project[4], project[0], name)
    window = (page_size + 1, 0 if after else (page - 1) * page_size)
    rows = req.sql(VERSIONS_PAGE_AFTER if after else VERSIONS_PAGE,
                   dataset + (project[4],) + dataset + (project[4],) + dataset + after + window).fetchall()
    if rows[0][19] is None:
        raise Fail(404, "not_found", f"dataset '{name}' not found")
    shown = [row for row in rows if row[0] is not None]
    last = shown[page_size - 1] if len(shown) > page_size else None
    return 200, _page_body(req, environ, "versions", [_version(row) for row in shown[:page_size]], pairs, page,
                           page_size, rows[0][18], key, last and (last[3],))


def _changed_fields(was, now):
    """V4's `dataset`: {field: {from, to}} for each field of (name, description, tags, metadata)
    that differs between the two sides."""
    was = dict(zip(("name", "description", "tags", "metadata"), was, strict=True))
    now = dict(zip(("name", "description", "tags", "metadata"), now, strict=True))
    return {key: {"from": was[key], "to": now[key]} for key in was if was[key] != now[key]}


def _fields_of(name, description, tags, metadata):
    return name, description, list(tags), None if metadata is None else json.loads(metadata)


def diff_versions(req, environ, scope, slug, project, name, from_number, to_number):
    from_number, to_number = _path_text(from_number), _path_text(to_number)
    if not _VERSION_NUMBER.fullmatch(from_number) or not (to_number == "current"
                                                          or _VERSION_NUMBER.fullmatch(to_number)):
        raise Fail(400, "validation_error", "from, to: Must be a version number (to: or current).")
    old_number, new_number = int(from_number), None if to_number == "current" else int(to_number)
    name = _path_name(name)
    project = _project(req, scope, slug, project)
    dataset = req.sql(DATASET, (project[4], project[0], name, 1)).fetchone()
    if dataset is None:
        raise Fail(404, "not_found", f"dataset '{name}' not found")
    numbers = [old_number] if new_number is None else [old_number, new_number]
    found = {row[3]: row for row in req.sql(VERSIONS_NUMBERED[len(numbers)],
                                            (dataset[4], dataset[0], *numbers)).fetchall()}
    for number in numbers:
        if number not in found:
            raise Fail(404, "not_found", f"version {number} of dataset '{name}' not found")
    old, new = found[old_number], found.get(new_number)
    before, after = {}, {}
    sides = req.sql(SIDES_CURRENT if new is None else SIDES_VERSIONS,
                    (0, dataset[4], old[0], 1, dataset[4], dataset[0] if new is None else new[0])).fetchall()
    for side, collection_id, collection_name, _, change in sides:
        (after if side else before)[collection_id] = (collection_name, change)
    asked = [[c, *sorted((before[c][1], after[c][1])), "forward" if before[c][1] <= after[c][1] else "back"]
             for c in before if c in after]
    asked += [[c, before[c][1], 0, "from"] for c in before if c not in after]
    asked += [[c, after[c][1], 0, "to"] for c in after if c not in before]
    changes = {collection_id: {"added": [], "removed": []} for collection_id, *_ in asked}
    if asked:
        for collection_id, what, node_id, _, _ in req.sql(MEMBER_CHANGES, (json.dumps(asked), dataset[4], dataset[4],
                                                                            dataset[4])).fetchall():
            changes[collection_id][what].append(node_id)
    was = _fields_of(*old[9:13])
    now = _fields_of(*(dataset[6:10] if new is None else new[9:13]))
    collections = {
        "added": [{"id": c, "name": after[c][0]} for c in after if c not in before],
        "removed": [{"id": c, "name": before[c][0]} for c in before if c not in after],
        "renamed": [{"id": c, "from": before[c][0], "to": after[c][0]}
                    for c in before if c in after and before[c][0] != after[c][0]],
        "members": [{"id": c, "name": (after.get(c) or before[c])[0], **changes[c]}
                    for c in [*before, *(c for c in after if c not in before)]
                    if changes[c]["added"] or changes[c]["removed"]],
    }
    return 200, {"from": old[3], "to": "current" if new is None else new[3], "dataset": _changed_fields(was, now),
                 "collections": collections}


# -- T1–T4 ----------------------------------------------------------------------------------------

def list_trash(req, environ, scope, slug, project):
    pairs, page, page_size, after, key = _page_window(environ, ("kind",))
    kinds = [v for k, v in pairs if k == "kind"][:1]  # the first, as the service's MultiDict.get
    if kinds and kinds[0] not in ("dataset", "collection"):
        raise Fail(400, "validation_error", "kind: Must be one of: dataset, collection.")
    kinds = tuple(kinds) or ("dataset", "collection")
    project = _project(req, scope, slug, project)
    params = tuple(p for kind in kinds for p in (kind, project[4], project[0]))
    window = (page_size + 1, 0 if after else (page - 1) * page_size)
    rows = req.sql(TRASH_PAGE[kinds, bool(after)], params + after + window).fetchall()
    shown = [row for row in rows if row[2] is not None]
    last = shown[page_size - 1] if len(shown) > page_size else None
    items = []
    for _, kind, row_id, name, deleted_at, deleted_by, dataset in shown[:page_size]:
        item = {"kind": kind, "id": row_id, "name": name, "deletedAt": _timestamp(deleted_at), "deletedBy": deleted_by}
        if kind == "collection":
            item["dataset"] = dataset
        items.append(item)
    return 200, _page_body(req, environ, "items", items, pairs, page, page_size, rows[0][0], key,
                           last and (last[4], last[2]))


def restore_dataset(req, environ, scope, slug, project, row_id):
    name = _restore_name(environ)
    project = _project(req, scope, slug, project)
    try:
        with transaction(req):
            dataset = req.sql(RESTORE_DATASET[name is not None],
                              (_now(), None, *(() if name is None else (name,)), req.subject, None, project[4],
                               project[0], row_id)).fetchone()
            if dataset is None:
                raise Fail(404, "not_found", f"dataset {row_id} in the trash not found")
            req.sql(REATTACH_COLLECTIONS, (_now(), dataset[0], req.subject, None, dataset[4], dataset[0]))
    except psycopg2.IntegrityError:
        raise Fail(409, "conflict", f"dataset '{name}' already exists" if name is not None
                   else "a live dataset with its name already exists") from None
    return 200, _dataset(dataset)


def restore_collection(req, environ, scope, slug, project, row_id):
    name = _restore_name(environ)
    project = _project(req, scope, slug, project)
    collection = None
    try:
        with transaction(req):
            collection = req.sql(TRASHED_COLLECTION, (project[4], project[0], row_id, 1)).fetchone()
            if collection is None:
                raise Fail(404, "not_found", f"collection {row_id} in the trash not found")
            dataset = None
            if collection[14]:
                dataset = req.sql(LIVE_DATASET_BY_ID, (project[4], project[0], collection[14], 1)).fetchone()
            restored = req.sql(RESTORE_COLLECTION[name is not None],
                               (_now(), None, dataset[0] if dataset else None, *(() if name is None else (name,)),
                                req.subject, None, None, None, collection[0])).fetchone()
    except psycopg2.IntegrityError:
        raise Fail(409, "conflict", f"collection '{name or collection[9]}' already exists") from None
    return 200, _collection(restored, dataset[1] if dataset else None)


def purge_dataset(req, environ, scope, slug, project, row_id):
    project = _project(req, scope, slug, project)
    which = (project[4], project[0], row_id)
    with transaction(req):
        req.sql(PURGE_VERSION_COLLECTIONS, which)
        req.sql(PURGE_VERSIONS, which)
        if not req.sql(PURGE_DATASET, which).rowcount:
            raise Fail(404, "not_found", f"dataset {row_id} in the trash not found")
    return 200, {"success": True}


def purge_collection(req, environ, scope, slug, project, row_id):
    project = _project(req, scope, slug, project)
    which = (project[4], project[0], row_id)
    with transaction(req):
        req.sql(PURGE_MEMBERS, which)
        deleted = req.sql(PURGE_COLLECTION, which).rowcount
        kept = req.sql(MARK_PURGED, (_now(), *which)).rowcount
        if not deleted + kept:
            raise Fail(404, "not_found", f"collection {row_id} in the trash not found")
    return 200, {"success": True}


# -- R1, R2, C1 -----------------------------------------------------------------------------------

def _held(req, project, node_ids):
    return req.sql(NODES_HELD, (node_ids, project[4], project[4], project[0])).fetchall()


def node_collections(req, environ, scope, slug, project, node_id):
    node_id = _path_text(node_id)
    if not _NODE_ID.fullmatch(node_id):
        raise Fail(404, "not_found", "not found")
    project = _project(req, scope, slug, project)
    return 200, {"nodeId": node_id, "collections": [{"id": row[1], "name": row[2], "dataset": row[3]}
                                                    for row in _held(req, project, [node_id])]}


def lookup_nodes(req, environ, scope, slug, project):
    body = _fields(_body(environ), {"nodeIds"})
    if "nodeIds" not in body:
        raise Fail(400, "validation_error", "nodeIds: Missing data for required field.")
    node_ids = _strings(body["nodeIds"], "nodeIds", 1, 256)
    project = _project(req, scope, slug, project)
    results = {node_id: [] for node_id in node_ids}
    for node_id, collection_id, name, dataset_name in _held(req, project, node_ids):
        results[node_id].append({"id": collection_id, "name": name, "dataset": dataset_name})
    return 200, {"results": results}


def create_collection(req, environ, scope, slug, project):
    body = _fields(_body(environ), {"name", "dataset", "members", "from"})
    if "from" in body:  # C1 `from` (bench.py measures it on the service alone)
        raise Fail(400, "validation_error", "from: not served by the floor")
    if "name" not in body:
        raise Fail(400, "validation_error", "name: Missing data for required field.")
    name = _name(body["name"], "name")
    dataset_name = _name(body["dataset"], "dataset") if body.get("dataset") is not None else None
    members = _strings(body["members"], "members", 1, 256) if "members" in body else []
    project = _project(req, scope, slug, project)
    try:
        with transaction(req):
            dataset = None
            if dataset_name:
                dataset = req.sql(DATASET_FOR_SHARE, (project[4], project[0], dataset_name, 1)).fetchone()
                if dataset is None:
                    raise Fail(404, "not_found", f"dataset '{dataset_name}' not found")
            collection_id, created_at, updated_at = secrets.token_urlsafe(12), _now(), _now()
            count = len(members)
            req.sql(INSERT_COLLECTION, (collection_id, created_at, updated_at, project[4], project[0],
                                        dataset[0] if dataset else None, count, count, name, 1 if count else 0,
                                        req.subject, req.subject))
            if members:
                req.sql(INSERT_MEMBERS, (project[4], collection_id, 1, 1, members))
    except psycopg2.IntegrityError:
        raise Fail(409, "conflict", f"collection '{name}' already exists") from None
    return 201, {"id": collection_id, "name": name, "projectId": project[0], "dataset": dataset[6] if dataset else None,
                 "memberCount": count, "createdAt": _timestamp(created_at), "updatedAt": _timestamp(updated_at),
                 "createdBy": req.subject, "updatedBy": req.subject}


_DATASET_PATH = _PREFIX + r"/datasets/(?P<name>[^/]+)/versions"
_TRASH_ID = r"(?P<row_id>[A-Za-z0-9_-]{1,64})"
ROUTES = [
    ("POST", re.compile(_DATASET_PATH + r"/?$"), create_version),
    ("GET", re.compile(_DATASET_PATH + r"/?$"), list_versions),
    ("GET", re.compile(_DATASET_PATH + r"/(?P<from_number>[^/]+)/diff/(?P<to_number>[^/]+)$"), diff_versions),
    ("GET", re.compile(_PREFIX + r"/trash/?$"), list_trash),
    ("POST", re.compile(_PREFIX + r"/trash/datasets/" + _TRASH_ID + r"/restore$"), restore_dataset),
    ("POST", re.compile(_PREFIX + r"/trash/collections/" + _TRASH_ID + r"/restore$"), restore_collection),
    ("DELETE", re.compile(_PREFIX + r"/trash/datasets/" + _TRASH_ID + r"$"), purge_dataset),
    ("DELETE", re.compile(_PREFIX + r"/trash/collections/" + _TRASH_ID + r"$"), purge_collection),
    ("GET", re.compile(_PREFIX + r"/nodes/(?P<node_id>.+?)/collections$"), node_collections),
    ("POST", re.compile(_PREFIX + r"/nodes/lookup$"), lookup_nodes),
    ("POST", re.compile(_PREFIX + r"/collections/?$"), create_collection),
]
