"""Data access: one function per query of the contract's budget table, each one SQL
statement, named after what it fetches or does, and numbered as docs/api.md numbers it.
None of them knows about HTTP; `find_*` answer None for what is not there, and a handler
wraps the writes that take several statements in `transaction()`.

Every query below namespace filters on `namespace_id` as well as on its parent, so that
each stays inside one namespace.

Reads go through service/compiled.py (SQL written once per query shape, rows as named
tuples); writes are plain peewee and answer model instances."""
import json
from collections import namedtuple

from peewee import JOIN, SQL, Select, Tuple, fn

from .compiled import array, assigned, assignments, execute, first, in_array, insert, rows, values
from .db import db, is_postgres, stream, transaction  # noqa: F401 (transaction: for handlers)
from .models import Collection, Dataset, Member, Namespace, Project, utcnow

# The rows a list request asks for: `size` of them, after skipping `offset` (a page number),
# or after the row whose ordering values are `after` (a cursor: service/cursors.py; () for none).
Window = namedtuple("Window", "size offset after")


def window_args(args, after):
    """A list query's positional arguments split into (its own, the window's: page size, offset
    and the `after` cursor values), as `paginate` passes them."""
    cut = len(args) - 2 - after
    return args[:cut], args[cut:]


def page_query(query, window, counted=None, columns=(), joins=(), order=None):
    """One page of `query` (ordered by creation, then id) and the total of all its rows,
    in one statement: the count is a one-row subquery (`counted`, when a kept count can
    stand for counting), and the page's rows are left-joined to it, so that a page past the
    end still brings the true total. `window` is (page size, offset, *cursor values): after
    a cursor the page starts past its row, in the index's order, whatever the depth.
    `columns` and `joins` add to each row (left joins); `order` replaces (created_at, id) as
    the order of the rows."""
    model = query.model
    order = order or (model.created_at, model.id)
    page_size, offset, *after = window
    ids = query.select(model.id).order_by(*order).limit(page_size).offset(offset)
    if after:
        ids = ids.where(Tuple(*order) > Tuple(*after))
    if counted is None:
        counted = query.select(fn.COUNT(SQL("*")).alias("total")).order_by()
    counted = counted.alias("counted")
    outer = (model.select(model, counted.c.total, *columns)
             .from_(counted)
             .join(model, JOIN.LEFT_OUTER, on=model.id.in_(ids)))
    for dest, on in joins:
        outer = outer.join(dest, JOIN.LEFT_OUTER, on=on)
    return outer.order_by(*order)


def paginate(build, window, *args, keys=("created_at", "id"), **shape):
    """The page of `window` that `build(*args, size, offset, *after, after=len(after), **shape)`
    (a `page_query`) selects, with one row more to tell whether a page follows: (its rows,
    the statement's first row, where first_row.total is the total, and the ordering values
    `keys` of its last row when a page follows, else None)."""
    found = rows(build, *args, window.size + 1, window.offset, *window.after, after=len(window.after), **shape)
    page = [row for row in found if row.id is not None]
    last = page[window.size - 1] if len(page) > window.size else None
    return page[:window.size], found[0], last and tuple(getattr(last, key) for key in keys)


def live(model):
    return model.deleted_at.is_null()


def array_of(ordered, column):
    """The column `column` of the subquery `ordered`, in its order, as one value of each row
    of the outer query: an ARRAY subquery on PostgreSQL, json_group_array over the ordered
    subquery on SQLite (JSON text: `list_of` reads either). So that a list of many (members,
    collections) comes back in one row, not a row each."""
    if is_postgres():
        return fn.ARRAY(ordered)
    ordered = ordered.alias("ordered")
    return Select([ordered], [fn.json_group_array(getattr(ordered.c, column))])


def list_of(value):
    """An `array_of` value as a list, on either database."""
    return json.loads(value) if isinstance(value, str) else value


# -- namespaces ---------------------------------------------------------------------------

def create_namespace(slug, name):
    """N1 query 1: insert the namespace (a live slug taken raises IntegrityError)."""
    return insert(Namespace, slug=slug, name=name)


def _in_scope(query, scope, scoped):
    """`query` limited to the namespaces of `scope`: () or (an array parameter of slugs,)."""
    return query.where(in_array(Namespace.slug, *scope)) if scoped else query


def _scope_args(scope):
    """The token's scope as (one array parameter,) or () for every namespace."""
    return () if scope is None else (array(sorted(scope)),)


def _namespaces_page(*args, scoped, after):
    scope, window = window_args(args, after)
    return page_query(_in_scope(Namespace.select().where(live(Namespace)), scope, scoped), window)


def list_namespaces(scope, window):
    """N2 query 1: a page of the namespaces in the token's scope, and their total. Returns
    (rows, total, the cursor values of a next page or None), as every list does."""
    found, first_row, after = paginate(_namespaces_page, window, *_scope_args(scope), scoped=scope is not None)
    return found, first_row.total, after


def _namespace(slug, *scope, scoped):
    return _in_scope(Namespace.select().where(Namespace.slug == slug, live(Namespace)), scope, scoped).limit(1)


def find_namespace(slug, scope):
    """Query 1 of every namespaced endpoint: the live namespace `slug`, if the token's scope
    holds it. Out of scope costs the same query and answers the same None as missing."""
    return first(_namespace, slug, *_scope_args(scope), scoped=scope is not None)


# -- projects -----------------------------------------------------------------------------

def create_project(namespace, slug, name, description):
    """P1 query 2: insert the project."""
    return insert(Project, namespace=namespace.id, slug=slug, name=name, description=description)


def _projects_page(*args, after):
    (namespace_id,), window = window_args(args, after)
    return page_query(Project.select().where(Project.namespace == namespace_id, live(Project)), window)


def list_projects(namespace, window):
    """P2 query 2: a page of the namespace's projects, and their total."""
    found, first_row, after = paginate(_projects_page, window, namespace.id)
    return found, first_row.total, after


def _project(namespace_id, slug):
    return Project.select().where(Project.namespace == namespace_id, Project.slug == slug, live(Project)).limit(1)


def find_project(namespace, slug):
    """Query 2 of every project-scoped endpoint: the live project `slug` of the namespace."""
    return first(_project, namespace.id, slug)


# -- datasets -----------------------------------------------------------------------------

def create_dataset(project, by, name, description=None, tags=(), metadata=None):
    """D1 query 3: insert the dataset, created by the token subject `by`."""
    return insert(Dataset, namespace=project.namespace_id, project=project.id, name=name, description=description,
                  tags=list(tags), metadata=metadata, created_by=by, updated_by=by)


def _has_tags(tags):
    """Datasets carrying every one of `tags` (one JSON array parameter): jsonb containment
    (GIN-indexed) on PostgreSQL; on SQLite, no tag of the list missing from the dataset's."""
    if is_postgres():
        return SQL("tags @> %s::jsonb", [tags])
    return SQL("NOT EXISTS (SELECT value FROM json_each(?) EXCEPT SELECT value FROM json_each(tags))", [tags])


def _datasets_page(namespace_id, project_id, *args, tagged, after):
    tags, window = window_args(args, after)
    query = Dataset.select().where(Dataset.namespace == namespace_id, Dataset.project == project_id, live(Dataset))
    if tagged:
        return page_query(query.where(_has_tags(*tags)), window)
    # the count the database keeps (see migrations): no counting of a large project
    return page_query(query, window,
                      counted=Project.select(Project.dataset_count.alias("total")).where(Project.id == project_id))


def list_datasets(project, window, tags=()):
    """D2 query 3: a page of the project's datasets (carrying every tag of `tags`), and
    their total."""
    tag_args = (json.dumps(list(tags)),) if tags else ()
    found, first_row, after = paginate(_datasets_page, window, project.namespace_id, project.id, *tag_args,
                                       tagged=bool(tags))
    return found, first_row.total, after


def _collections_state():
    """What D3 shows of the dataset's live collections but their members, in its order: one
    "id:change:name" string each (names hold no "/"; each member change counts a change)."""
    part = (Collection.id.concat(":").concat(Collection.change_seq.cast("text")).concat(":")
            .concat(Collection.name).alias("part"))
    ordered = (Collection.select(part)
               .where(Collection.namespace == Dataset.namespace, Collection.dataset == Dataset.id, live(Collection))
               .order_by(Collection.created_at, Collection.id))
    return array_of(ordered, "part")


def _dataset(namespace_id, project_id, name, *, lock, state):
    columns = [_collections_state().alias("collections_state")] if state else []
    query = (Dataset.select(Dataset, *columns)
             .where(Dataset.namespace == namespace_id, Dataset.project == project_id, Dataset.name == name,
                    live(Dataset))
             .limit(1))
    return query.for_update(f"FOR {lock.upper()}") if lock else query


def find_dataset(project, name, lock=None, state=False):
    """D3/D4 query 3, C1 query 3, C4 query 3: the live dataset `name` of the project.
    `lock`: "share" (C1, C4) keeps it from being deleted until the transaction ends, so that
    a collection is never put into a dataset that a concurrent D5 is detaching; "update"
    (D4) holds it for a change checked against If-Match. `state` (D3, D4) adds its
    collections' state (`collections_state`, a list), for its ETag."""
    found = first(_dataset, project.namespace_id, project.id, name, lock=lock if is_postgres() else None,
                  state=state)
    return found._replace(collections_state=list_of(found.collections_state)) if found and state else found


# The members of a collection as JSON text, written by the database in chunks of at most 4,096
# positions (an index range each, read in order): each chunk a JSON array of node IDs. On
# SQLite, one chunk a collection.
_MEMBER_CHUNKS_POSTGRES = """
SELECT c.id, c.name, array_to_json(ARRAY(
         SELECT m.node_id FROM member m
          WHERE m.namespace_id = c.namespace_id AND m.collection_id = c.id AND m.removed_seq IS NULL
            AND m.position > k.n * 4096 AND m.position <= (k.n + 1) * 4096
          ORDER BY m.position))::text
  FROM collection c CROSS JOIN LATERAL generate_series(0, c.member_seq / 4096) AS k(n)
 WHERE c.namespace_id = %s AND c.{which} = %s AND c.deleted_at IS NULL
 ORDER BY c.created_at, c.id, k.n"""
_MEMBER_CHUNKS_SQLITE = """
SELECT c.id, c.name, (SELECT json_group_array(node_id) FROM (
         SELECT m.node_id FROM member m
          WHERE m.namespace_id = c.namespace_id AND m.collection_id = c.id AND m.removed_seq IS NULL
          ORDER BY m.position))
  FROM collection c
 WHERE c.namespace_id = ? AND c.{which} = ? AND c.deleted_at IS NULL
 ORDER BY c.created_at, c.id"""


def _member_chunks(namespace_id, which, row_id):
    sql = _MEMBER_CHUNKS_POSTGRES if is_postgres() else _MEMBER_CHUNKS_SQLITE
    return stream(sql.format(which=which), (namespace_id, row_id))


def stream_dataset_members(dataset):
    """D3 query 4: every live collection of the dataset with all its members, as the database
    writes them in JSON: rows of (collection id, name, a chunk of its members: a JSON array),
    collections by creation, each one's chunks in the order its members were added; read a
    few chunks at a time (db.stream)."""
    return _member_chunks(dataset.namespace_id, "dataset_id", dataset.id)


def stream_members(collection):
    """C3 query 4: the collection's members, as stream_dataset_members gives them."""
    return _member_chunks(collection.namespace_id, "id", collection.id)


def _update_dataset(dataset_id, *values, names):
    return (Dataset.update(assignments(Dataset, names, values))
            .where(Dataset.id == dataset_id, live(Dataset))
            .returning(Dataset))


def update_dataset(dataset, changes, by):
    """D4 query 4: apply `changes` to the live dataset, by `by`; returns it as stored, or None
    when it was deleted meanwhile. A live name taken raises IntegrityError."""
    names, values = assigned(Dataset, {**changes, "updated_at": utcnow(), "updated_by": by})
    return first(_update_dataset, dataset.id, *values, names=names)


def _soft_delete_dataset(namespace_id, project_id, name, deleted_at, by):
    return (Dataset.update(deleted_at=deleted_at, deleted_by=by)
            .where(Dataset.namespace == namespace_id, Dataset.project == project_id, Dataset.name == name,
                   live(Dataset))
            .returning(Dataset, _collections_state().alias("collections_state")))


def soft_delete_dataset(project, name, by):
    """D5 query 3: mark the live dataset `name` deleted by `by`; returns it as it was shown,
    with its collections' state (for If-Match; `list_of` reads it), or None."""
    return first(_soft_delete_dataset, project.namespace_id, project.id, name, utcnow(), by)


def _detach_collections(namespace_id, dataset_id, updated_at, by):
    return (Collection.update(dataset=None, former_dataset_id=dataset_id, updated_at=updated_at, updated_by=by)
            .where(Collection.namespace == namespace_id, Collection.dataset == dataset_id, live(Collection)))


def detach_collections(project, dataset_id, by):
    """D5 query 4: the deleted dataset's collections become standalone (members untouched),
    remembering it: a restore of the dataset takes them back (service/trash.py). Only live
    collections are in a dataset (C6 takes a deleted one out of it): saying so lets the
    database read the index of live collections by dataset instead of every collection."""
    return execute(_detach_collections, project.namespace_id, dataset_id, utcnow(), by)


# -- collections --------------------------------------------------------------------------

def create_collection(project, by, name, dataset, member_count):
    """C1 query 4: insert the collection, created by `by` (its members follow, in add_members,
    as its change 1)."""
    return insert(Collection, namespace=project.namespace_id, project=project.id, name=name,
                  dataset=dataset.id if dataset else None, created_by=by, updated_by=by, member_count=member_count,
                  member_seq=member_count, change_seq=1 if member_count else 0)


def _collections_page(namespace_id, project_id, *args, standalone, after):
    dataset_name, window = window_args(args, after)
    query = Collection.select().where(Collection.namespace == namespace_id, Collection.project == project_id,
                                      live(Collection))
    columns = []
    if standalone:
        query = query.where(Collection.dataset.is_null())
    elif dataset_name:
        dataset_id = (Dataset.select(Dataset.id)
                      .where(Dataset.namespace == namespace_id, Dataset.project == project_id,
                             Dataset.name == dataset_name[0], live(Dataset)))
        query = query.where(Collection.dataset == dataset_id)
        columns = [dataset_id.alias("found_dataset_id")]
    owner = Dataset.alias("owner")
    return page_query(query, window, columns=[owner.name.alias("dataset_name"), *columns],
                      joins=[(owner, Collection.dataset == owner.id)])


def list_collections(project, window, dataset_name=None, standalone=False):
    """C2 query 3: a page of the project's collections (only those of dataset
    `dataset_name`, or only standalone ones), each with its dataset's name, and their total.
    The dataset is looked up inside the same statement. Returns (rows, total, the next page's
    cursor values or None, dataset_found)."""
    named = [] if standalone or dataset_name is None else [dataset_name]
    found, first_row, after = paginate(_collections_page, window, project.namespace_id, project.id, *named,
                                       standalone=standalone)
    return found, first_row.total, after, not named or first_row.found_dataset_id is not None


def _collection(namespace_id, project_id, name, *, lock):
    query = (Collection.select(Collection, Dataset.name.alias("dataset_name"))
             .join(Dataset, JOIN.LEFT_OUTER, on=(Collection.dataset == Dataset.id))
             .where(Collection.namespace == namespace_id, Collection.project == project_id,
                    Collection.name == name, live(Collection))
             .limit(1))
    return query.for_update(of=Collection) if lock else query


def find_collection(project, name, lock=False):
    """C3/C4/C5 query 3: the live collection `name` of the project, with its dataset's name
    (`dataset_name`). `lock` holds its row until the transaction ends (C4, C5: concurrent
    changes queue)."""
    return first(_collection, project.namespace_id, project.id, name, lock=lock and is_postgres())


def _members(namespace_id, collection_id):
    return (Member.select(Member.node_id)
            .where(Member.namespace == namespace_id, Member.collection == collection_id, Member.removed_seq.is_null())
            .order_by(Member.position))


def _members_page(namespace_id, collection_id, size, *last, after):
    query = _members(namespace_id, collection_id).select(Member.node_id, Member.position).limit(size)
    return query.where(Member.position > last[0]) if after else query


def list_members(collection, window):
    """M1 query 4: `window.size` of the collection's members in the order they were added,
    after the position of the cursor's (an index range, whatever the depth); returns them, and
    the cursor values of the next page or None."""
    found = values(_members_page, collection.namespace_id, collection.id, window.size + 1, *window.after,
                   after=len(window.after))  # (node_id, position) each
    more = len(found) > window.size
    return [node_id for node_id, _ in found[:window.size]], (found[window.size - 1][1],) if more else None


def add_members(collection, node_ids, first_position, change):
    """C1 query 5, C5 query 4: add `node_ids` (distinct) in one bulk statement, numbering them
    from `first_position` in order, as the collection's change `change`; current members keep
    their place. The IDs travel as one array parameter, so 10,000 of them are still one
    statement. Returns how many were added."""
    table = Member._meta.table_name
    if is_postgres():
        sql = (f'INSERT INTO "{table}" (namespace_id, collection_id, node_id, position, added_seq) '
               "SELECT %s, %s, t.node_id, %s + t.ord - 1, %s "
               "FROM unnest(%s::text[]) WITH ORDINALITY AS t(node_id, ord) ON CONFLICT DO NOTHING")
        params = (collection.namespace_id, collection.id, first_position, change, list(node_ids))
    else:
        sql = (f'INSERT INTO "{table}" (namespace_id, collection_id, node_id, position, added_seq) '
               "SELECT ?, ?, value, ? + key, ? FROM json_each(?) WHERE true ON CONFLICT DO NOTHING")
        params = (collection.namespace_id, collection.id, first_position, change, json.dumps(list(node_ids)))
    return db.execute_sql(sql, params).rowcount


def remove_members(collection, node_ids, change):
    """C5 query 5: remove `node_ids` from the collection as its change `change` (the rows stay,
    for the versions that hold them); absent ones are ignored. Returns how many were removed."""
    return (Member.update(removed_seq=change)
            .where(Member.namespace == collection.namespace_id, Member.collection == collection.id,
                   in_array(Member.node_id, array(node_ids)), Member.removed_seq.is_null())
            .execute())


def _record_member_change(collection_id, added, removed, positions_used, updated_at, by):
    return (Collection.update({Collection.member_count: Collection.member_count + added - removed,
                               Collection.member_seq: Collection.member_seq + positions_used,
                               Collection.change_seq: Collection.change_seq + 1,
                               Collection.updated_at: updated_at, Collection.updated_by: by})
            .where(Collection.id == collection_id)
            .returning(Collection))


def record_member_change(collection, by, added, removed, positions_used):
    """C5 query 6: the collection's member count, next free position and count of changes
    after a change by `by`; returns the collection as stored."""
    return first(_record_member_change, collection.id, added, removed, positions_used, utcnow(), by)


def update_collection(collection, changes, by):
    """C4 query 5: rename and/or move the collection, by `by`; returns it as stored. A moved
    collection forgets the dataset it was detached from. A live name taken raises
    IntegrityError."""
    if "dataset" in changes:
        changes = {**changes, "former_dataset_id": None}
    names, values = assigned(Collection, {**changes, "updated_at": utcnow(), "updated_by": by})
    return first(_update_collection, collection.id, *values, names=names)


def _update_collection(collection_id, *values, names):
    return Collection.update(assignments(Collection, names, values)).where(Collection.id == collection_id) \
        .returning(Collection)


def _soft_delete_collection(namespace_id, project_id, name, deleted_at, by):
    dataset_name = Dataset.select(Dataset.name).where(Dataset.id == Collection.dataset)
    return (Collection.update(deleted_at=deleted_at, deleted_by=by, dataset=None,
                              former_dataset_id=Collection.dataset, former_dataset_name=dataset_name)
            .where(Collection.namespace == namespace_id, Collection.project == project_id, Collection.name == name,
                   live(Collection))
            .returning(Collection, Collection.former_dataset_name.alias("dataset_name")))


def soft_delete_collection(project, name, by):
    """C6 query 3: mark the live collection `name` deleted by `by` (its members stay), out of
    its dataset, which it remembers with its name now (for the trash); returns it as it was
    shown, with its dataset's name (for If-Match), or None."""
    return first(_soft_delete_collection, project.namespace_id, project.id, name, utcnow(), by)


# C1 with `from`: the members of a set operation over collections, computed by the database.
# The sources travel as one array of collection IDs in the order named (`ord` 1, 2, …); each
# current member row of a source counts the sources that hold its node (`copies`) and ranks
# its source among them (`nth`). `keep` picks the rows of the result, numbered in order of
# (ord, position): the first source's order, then the next's.
_SET = """
SELECT node_id, row_number() OVER (ORDER BY ord, position) AS n FROM (
  SELECT m.node_id, s.ord, m.position, count(*) OVER (PARTITION BY m.node_id) AS copies,
         row_number() OVER (PARTITION BY m.node_id ORDER BY s.ord) AS nth
    FROM ({sources}) AS s
    JOIN member m ON m.namespace_id = {p} AND m.collection_id = s.id AND m.removed_seq IS NULL
) AS held WHERE {keep}"""
_SOURCES_POSTGRES = "SELECT id, ord FROM unnest(%s::text[]) WITH ORDINALITY AS t(id, ord)"
_SOURCES_SQLITE = "SELECT value AS id, key + 1 AS ord FROM json_each(?)"
_KEEP = {"union": "nth = 1",  # each node once, from the first source that holds it
         "intersection": "ord = 1 AND copies = {count}",  # in the first, and in every other
         "difference": "ord = 1 AND copies = 1"}  # in the first, and in no other


def _set(namespace_id, operation, source_ids):
    """(SQL, parameters) of the set: its rows (node_id, n), n numbering them from 1 in order."""
    sources, p = (_SOURCES_POSTGRES, "%s") if is_postgres() else (_SOURCES_SQLITE, "?")
    keep = _KEEP[operation].format(count=len(source_ids))
    return _SET.format(sources=sources, p=p, keep=keep), [array(source_ids), namespace_id]


def _collections_named(namespace_id, project_id, names, *, lock):
    query = (Collection.select(Collection.id, Collection.name)
             .where(Collection.namespace == namespace_id, Collection.project == project_id,
                    in_array(Collection.name, names), live(Collection))
             .order_by(Collection.id))
    return query.for_update("FOR SHARE") if lock else query


def find_collections_named(project, names):
    """C1 query 4 (with `from`): the live collections of the project named `names`, as
    {name: id}. On PostgreSQL they stay locked (shared) until the transaction ends, so that
    their members cannot change (a C5 or C6 on one of them waits) while queries 5 and 6 read
    them."""
    found = rows(_collections_named, project.namespace_id, project.id, array(names), lock=is_postgres())
    return {row.name: row.id for row in found}


def create_collection_from(project, by, name, dataset, operation, source_ids):
    """C1 query 5 (with `from`): insert the collection, created by `by`, with the size of the set
    `operation` ("union", "intersection" or "difference") of the collections `source_ids` (in
    order) as its member count, counted by the database; returns it (its members follow, in
    add_members_from, as its change 1). A live name taken raises IntegrityError."""
    collection = Collection(namespace=project.namespace_id, project=project.id, dataset=dataset.id if dataset else None,
                            name=name, created_by=by, updated_by=by)  # its id and timestamps: their defaults
    members, params = _set(project.namespace_id, operation, source_ids)
    p = "%s" if is_postgres() else "?"
    count = db.execute_sql(
        "INSERT INTO collection (id, created_at, updated_at, namespace_id, project_id, dataset_id, name, created_by, "
        f"updated_by, member_count, member_seq, change_seq) SELECT {', '.join([p] * 9)}, count(*), count(*), "
        f"CASE WHEN count(*) > 0 THEN 1 ELSE 0 END FROM ({members}) AS members RETURNING member_count",
        [collection.id, collection.created_at, collection.updated_at, collection.namespace_id, collection.project_id,
         collection.dataset_id, name, by, by, *params]).fetchone()[0]
    collection.member_count = collection.member_seq = count
    collection.change_seq = 1 if count else 0
    return collection


def add_members_from(collection, operation, source_ids):
    """C1 query 6 (with `from`): the new collection's members, the set of query 5 again, in one
    statement, at positions 1, 2, … in its order, as its change 1: no node ID leaves the
    database. Returns how many were added."""
    members, params = _set(collection.namespace_id, operation, source_ids)
    p = "%s" if is_postgres() else "?"
    return db.execute_sql(
        "INSERT INTO member (namespace_id, collection_id, node_id, position, added_seq) "
        f"SELECT {p}, {p}, node_id, n, 1 FROM ({members}) AS members",
        [collection.namespace_id, collection.id, *params]).rowcount
