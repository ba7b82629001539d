"""Data access for versions (contract §8.1): one function per query of V1–V4, numbered as
docs/api.md numbers them. A version is a row per dataset version (the dataset's fields when
frozen) and a row per collection it held (its name then, and the collection's change that
its members are read at); members are never copied: they are read from the membership
history that service/models.py describes. Freezing costs in proportion to the collections;
a diff reads only the member rows that changed between its two sides."""
import json

from peewee import SQL, NodeList, Value, fn

from .compiled import execute, first, rows
from .data import array_of, list_of, live, page_query, paginate, window_args
from .db import db, is_postgres
from .models import Collection, Dataset, Member, Version, VersionCollection, utcnow


def _dataset_id(namespace_id, project_id, name):
    return (Dataset.select(Dataset.id)
            .where(Dataset.namespace == namespace_id, Dataset.project == project_id, Dataset.name == name,
                   live(Dataset)))


# -- V1 ---------------------------------------------------------------------------------------

def _freeze_dataset(namespace_id, project_id, name):
    return (Dataset.update(version_count=Dataset.version_count + 1)
            .where(Dataset.namespace == namespace_id, Dataset.project == project_id, Dataset.name == name,
                   live(Dataset))
            .returning(Dataset))


def freeze_dataset(project, name):
    """V1 query 3: number a new version of the live dataset `name`, and read its fields; the
    row stays locked until the version is written, so that the fields, the collections and
    the number are those of one moment (a D4, C1, C4 or a version made meanwhile waits).
    Returns the dataset (with its new `version_count`), or None."""
    return first(_freeze_dataset, project.namespace_id, project.id, name)


def _record_version_collections(namespace_id, dataset_id, version_id, *, lock):
    held = (Collection.select(Collection.namespace, Value(version_id), Collection.id, Collection.name,
                              Collection.created_at, Collection.change_seq, Collection.member_count)
            .where(Collection.namespace == namespace_id, Collection.dataset == dataset_id, live(Collection)))
    if lock:
        held = held.for_update("FOR SHARE")
    fields = [VersionCollection.namespace, VersionCollection.version, VersionCollection.collection_id,
              VersionCollection.name, VersionCollection.created_at, VersionCollection.change_seq,
              VersionCollection.member_count]
    return VersionCollection.insert_from(held, fields)


def record_version_collections(dataset, version_id):
    """V1 query 4: a row per live collection of the dataset, with its name and its change
    count now; the collections stay locked until the version is written (a C5, C4 or C6 on
    one of them waits), so that their members are read at a change that is committed."""
    return execute(_record_version_collections, dataset.namespace_id, dataset.id, version_id, lock=is_postgres())


def _create_version(version_id, namespace_id, dataset_id, number, note, created_at, created_by, name, description,
                    tags, metadata, project_id, dataset_created_at, dataset_updated_at, dataset_created_by,
                    dataset_updated_by):
    tags = NodeList((Value(tags), SQL("::jsonb"))) if is_postgres() else Value(tags)
    counted = (VersionCollection
               .select(Value(version_id), Value(namespace_id), Value(dataset_id), Value(number), Value(note),
                       Value(created_at), Value(created_by), fn.COUNT(SQL("*")),
                       fn.COALESCE(fn.SUM(VersionCollection.member_count), 0), Value(name), Value(description), tags,
                       Value(metadata), Value(project_id), Value(dataset_created_at), Value(dataset_updated_at),
                       Value(dataset_created_by), Value(dataset_updated_by))
               .where(VersionCollection.version == version_id))
    fields = [Version.id, Version.namespace, Version.dataset, Version.number, Version.note, Version.created_at,
              Version.created_by, Version.collection_count, Version.member_count, Version.name,
              Version.description, Version.tags, Version.metadata, Version.project_id, Version.dataset_created_at,
              Version.dataset_updated_at, Version.dataset_created_by, Version.dataset_updated_by]
    return Version.insert_from(counted, fields).returning(Version)


def create_version(dataset, version_id, note, created_by):
    """V1 query 5: the version row: the dataset's fields as frozen, and the count of its
    collections and members, from the rows of query 4. Returns it."""
    return first(_create_version, version_id, dataset.namespace_id, dataset.id, dataset.version_count, note,
                 utcnow(), created_by, dataset.name, dataset.description, json.dumps(list(dataset.tags)),
                 dataset.metadata, dataset.project_id, dataset.created_at, dataset.updated_at, dataset.created_by,
                 dataset.updated_by)


# -- V2 ---------------------------------------------------------------------------------------

def _versions_page(*args, after):
    (namespace_id, project_id, name), window = window_args(args, after)
    dataset_id = _dataset_id(namespace_id, project_id, name)
    query = Version.select().where(Version.namespace == namespace_id, Version.dataset == dataset_id)
    return page_query(query, window, columns=[dataset_id.alias("found_dataset_id")], order=(Version.number,))


def list_versions(project, dataset_name, window):
    """V2 query 3: a page of the versions of the live dataset `dataset_name`, oldest first,
    their total, and whether the dataset exists, in one statement. Returns (rows, total, the
    next page's cursor values or None, found)."""
    found, first_row, after = paginate(_versions_page, window, project.namespace_id, project.id, dataset_name,
                                       keys=("number",))
    return found, first_row.total, after, first_row.found_dataset_id is not None


# -- V3 ---------------------------------------------------------------------------------------

def _version(namespace_id, project_id, name, number):
    return (Version.select()
            .where(Version.namespace == namespace_id, Version.dataset == _dataset_id(namespace_id, project_id, name),
                   Version.number == number)
            .limit(1))


def find_version(project, dataset_name, number):
    """V3 query 3: version `number` of the live dataset `dataset_name`, or None."""
    return first(_version, project.namespace_id, project.id, dataset_name, number)


def _at(change):
    """Member rows that were members at the collection's change `change`."""
    return (Member.added_seq <= change) & (Member.removed_seq.is_null() | (Member.removed_seq > change))


def _version_collections(namespace_id, version_id):
    ordered = (Member.select(Member.node_id)
               .where(Member.namespace == VersionCollection.namespace,
                      Member.collection == VersionCollection.collection_id, _at(VersionCollection.change_seq))
               .order_by(Member.added_seq, Member.position))
    return (VersionCollection.select(VersionCollection.collection_id, VersionCollection.name,
                                     array_of(ordered, "node_id").alias("members"))
            .where(VersionCollection.namespace == namespace_id, VersionCollection.version == version_id)
            .order_by(VersionCollection.created_at, VersionCollection.collection_id))


def find_version_collections(version):
    """V3 query 4: the version's collections by creation, each with its members at the change
    it was frozen at, in the order they were added, in one statement ({id, name, members})."""
    return [{"id": row.collection_id, "name": row.name, "members": list_of(row.members)}
            for row in rows(_version_collections, version.namespace_id, version.id)]


# -- V4 ---------------------------------------------------------------------------------------

def _versions_numbered(namespace_id, dataset_id, *numbers):
    return Version.select().where(Version.namespace == namespace_id, Version.dataset == dataset_id,
                                  Version.number.in_(list(numbers)))


def find_versions(dataset, numbers):
    """V4 query 4: the versions of the dataset numbered `numbers` (one or two), by number."""
    return {row.number: row for row in rows(_versions_numbered, dataset.namespace_id, dataset.id, *numbers)}


def _sides(namespace_id, from_id, to_id, *, current):
    """The collections of each side: (side, collection_id, name, change_seq), side 0 for the
    version `from_id`, 1 for `to_id` or, with `current`, the live collections of dataset `to_id`."""
    held = (VersionCollection.select(Value(0).alias("side"), VersionCollection.collection_id,
                                     VersionCollection.name, VersionCollection.created_at, VersionCollection.change_seq)
            .where(VersionCollection.namespace == namespace_id, VersionCollection.version == from_id))
    if current:
        other = (Collection.select(Value(1), Collection.id, Collection.name, Collection.created_at,
                                   Collection.change_seq)
                 .where(Collection.namespace == namespace_id, Collection.dataset == to_id, live(Collection)))
    else:
        other = (VersionCollection.select(Value(1), VersionCollection.collection_id, VersionCollection.name,
                                          VersionCollection.created_at, VersionCollection.change_seq)
                 .where(VersionCollection.namespace == namespace_id, VersionCollection.version == to_id))
    return held.union_all(other).order_by(SQL("1"), SQL("4"), SQL("2"))


def find_sides(dataset, from_version, to_version):
    """V4 query 5: the collections of both sides, in one statement: [{collection_id: (name,
    change)} of `from_version`, the same of `to_version` (None: the dataset's live ones now)],
    each in the order the collections were created."""
    found = ({}, {})
    to_id = dataset.id if to_version is None else to_version.id
    for row in rows(_sides, dataset.namespace_id, from_version.id, to_id, current=to_version is None):
        found[row.side][row.collection_id] = (row.name, row.change_seq)
    return found


# One statement for every collection of a diff, whatever their number: the collections travel as
# one JSON array of [collection id, low change, high change, kind]. For a collection on both sides
# (kind "forward", or "back" when the diff goes from the later change to the earlier), the rows
# added after `low` and still there at `high`, and the rows there at `low` and removed by `high`
# (the other way round for "back"); for one on a side only ("from", "to"), its members at `low`.
# Each part reads a range of an index on (collection_id, added_seq) or (collection_id,
# removed_seq): what changed, not the whole collection.
_CHANGES = """
WITH q AS ({asked})
SELECT q.collection_id, CASE q.kind WHEN 'back' THEN 'removed' ELSE 'added' END AS what, m.node_id,
       m.added_seq, m.position
  FROM q JOIN member m ON m.namespace_id = {p} AND m.collection_id = q.collection_id
   AND m.added_seq > q.low AND m.added_seq <= q.high
 WHERE q.kind IN ('forward', 'back') AND (m.removed_seq IS NULL OR m.removed_seq > q.high)
UNION ALL
SELECT q.collection_id, CASE q.kind WHEN 'back' THEN 'added' ELSE 'removed' END, m.node_id, m.added_seq, m.position
  FROM q JOIN member m ON m.namespace_id = {p} AND m.collection_id = q.collection_id
   AND m.removed_seq > q.low AND m.removed_seq <= q.high
 WHERE q.kind IN ('forward', 'back') AND m.added_seq <= q.low
UNION ALL
SELECT q.collection_id, CASE q.kind WHEN 'to' THEN 'added' ELSE 'removed' END, m.node_id, m.added_seq, m.position
  FROM q JOIN member m ON m.namespace_id = {p} AND m.collection_id = q.collection_id AND m.added_seq <= q.low
 WHERE q.kind IN ('from', 'to') AND (m.removed_seq IS NULL OR m.removed_seq > q.low)
ORDER BY 1, 2, 4, 5"""
_ASKED_POSTGRES = ("SELECT x->>0 AS collection_id, (x->>1)::bigint AS low, (x->>2)::bigint AS high, x->>3 AS kind "
                   "FROM jsonb_array_elements(%s::jsonb) AS x")
_ASKED_SQLITE = ("SELECT json_extract(value, '$[0]') AS collection_id, json_extract(value, '$[1]') AS low, "
                 "json_extract(value, '$[2]') AS high, json_extract(value, '$[3]') AS kind FROM json_each(?)")


def find_member_changes(namespace_id, before, after):
    """V4 query 6: for each collection of either side ({id: (name, change)} each, as
    find_sides reads them), the node IDs added and removed from one side to the other, in one
    statement: {collection_id: {"added": [...], "removed": [...]}} in the order they were added."""
    asked = [[c, *sorted((before[c][1], after[c][1])), "forward" if before[c][1] <= after[c][1] else "back"]
             for c in before if c in after]
    asked += [[c, before[c][1], 0, "from"] for c in before if c not in after]
    asked += [[c, after[c][1], 0, "to"] for c in after if c not in before]
    changes = {collection_id: {"added": [], "removed": []} for collection_id, *_ in asked}
    if not asked:
        return changes
    if is_postgres():
        sql = _CHANGES.format(asked=_ASKED_POSTGRES, p="%s")
    else:
        sql = _CHANGES.format(asked=_ASKED_SQLITE, p="?")
    params = (json.dumps(asked), namespace_id, namespace_id, namespace_id)
    for collection_id, what, node_id, _, _ in db.execute_sql(sql, params).fetchall():
        changes[collection_id][what].append(node_id)
    return changes


# -- history ----------------------------------------------------------------------------------

def compact_history():
    """`flask --app wsgi compact-history`: delete the member rows that were removed and that no
    version holds (one whose collection's change lies between the row's addition and its
    removal). Versions of deleted datasets count: a restored dataset gets them back. Returns
    how many rows were deleted."""
    needed = (VersionCollection.select(SQL("1"))
              .where(VersionCollection.collection_id == Member.collection,
                     VersionCollection.change_seq >= Member.added_seq,
                     VersionCollection.change_seq < Member.removed_seq))
    return Member.delete().where(Member.removed_seq.is_null(False), ~fn.EXISTS(needed)).execute()
