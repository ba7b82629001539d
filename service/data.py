"""Data access: one function per query of the contract's budget table, each one SQL
statement, named after what it fetches or does. None of them knows about HTTP; a handler
wraps the writes that take several statements in `transaction()`.

Every query below namespace filters on `namespace_id` as well as on its parent, so that
each stays inside one namespace.

The reads that requests make most (namespace, project, dataset, every list) are compiled
once: peewee writes a query's SQL anew on every call and makes a model instance of every row,
which together cost more than PostgreSQL takes to answer them. `_select` runs the SQL that
peewee wrote once for each query shape and reads rows as named tuples."""
import json
from collections import namedtuple
from functools import lru_cache

from peewee import JOIN, SQL, DateTimeField, NodeList, Select, fn

from .db import db, is_postgres, transaction  # noqa: F401 (transaction: for handlers)
from .models import MODELS, Collection, Dataset, JSONField, Member, Namespace, Project, utcnow

_COMPILED = {}
# The columns that SQLite hands over as text: timestamps, and JSON.
_CONVERTERS = {field.column_name: field.python_value for model in MODELS for field in model._meta.sorted_fields
               if isinstance(field, (DateTimeField, JSONField))}


def _compiled(build, args, shape):
    """(sql, params) of the query `build(*args, **shape)`, peewee writing the SQL of each
    query shape only once per kind of database. The SQL text depends on the shape (the
    keyword arguments, and how many values there are) but not on the values, so it is
    written with stand-ins for `args` and kept with the places they took; each call puts
    its own values there. `build` must use its positional arguments as values only."""
    key = (build, tuple(sorted(shape.items())), len(args), type(db.obj))
    compiled = _COMPILED.get(key)
    if compiled is None:
        stand_ins = [f"\x00stand-in {i}\x00" for i in range(len(args))]
        sql, params = build(*stand_ins, **shape).sql()
        slots = [stand_ins.index(p) if isinstance(p, str) and p in stand_ins else (p,) for p in params]
        if {slot for slot in slots if isinstance(slot, int)} != set(range(len(args))):
            raise RuntimeError(f"{build.__name__}: every argument must reach the SQL as a parameter")
        compiled = _COMPILED[key] = sql, slots
    sql, slots = compiled
    return sql, [args[slot] if isinstance(slot, int) else slot[0] for slot in slots]


@lru_cache(maxsize=64)
def _row_type(columns):
    return namedtuple("Row", columns)


def _select(build, *args, **shape):
    """The rows of the query `build(*args, **shape)` (see `_compiled`), as named tuples of
    its columns (row.id, row.created_at, ...), with the values its fields would give."""
    cursor = db.execute_sql(*_compiled(build, args, shape))
    row_type = _row_type(tuple(column[0] for column in cursor.description))
    rows = cursor.fetchall()
    if is_postgres():  # psycopg2 already gives datetimes and decoded jsonb
        return [row_type._make(row) for row in rows]
    converters = [_CONVERTERS.get(name) for name in row_type._fields]
    return [row_type._make([c(v) if c else v for c, v in zip(converters, row)]) for row in rows]


def _first(build, *args, **shape):
    rows = _select(build, *args, **shape)
    return rows[0] if rows else None


def _page_query(query, page_size, offset, counted=None, columns=(), joins=()):
    """One page of `query` (ordered by creation, then id) and the total of all its rows,
    in one statement: the count is a one-row subquery (`counted`, when a kept count can
    stand for counting), and the page's rows are left-joined to it, so that a page past the
    end still brings the true total. `columns` and `joins` add to each row (left joins)."""
    model = query.model
    ids = query.select(model.id).order_by(model.created_at, model.id).limit(page_size).offset(offset)
    if counted is None:
        counted = query.select(fn.COUNT(SQL("*")).alias("total")).order_by()
    counted = counted.alias("counted")
    outer = (model.select(model, counted.c.total, *columns)
             .from_(counted)
             .join(model, JOIN.LEFT_OUTER, on=model.id.in_(ids)))
    for dest, on in joins:
        outer = outer.join(dest, JOIN.LEFT_OUTER, on=on)
    return outer.order_by(model.created_at, model.id)


def _paginate(build, page, page_size, *args, **shape):
    """The page that `build(*args, page_size, offset, **shape)` (a `_page_query`) selects:
    (its rows, the statement's first row), where first_row.total is the total."""
    rows = _select(build, *args, page_size, (page - 1) * page_size, **shape)
    return [row for row in rows if row.id is not None], rows[0]


def _live(model):
    return model.deleted_at.is_null()


# -- namespaces ---------------------------------------------------------------------------

def create_namespace(slug, name):
    """N1 query 1: insert the namespace (a live slug taken raises IntegrityError)."""
    return Namespace.create(slug=slug, name=name)


def _in_scope(query, scope, scoped):
    return query.where(Namespace.slug.in_(list(scope))) if scoped else query


def _namespaces_page(*args, scoped):
    *scope, page_size, offset = args
    return _page_query(_in_scope(Namespace.select().where(_live(Namespace)), scope, scoped), page_size, offset)


def list_namespaces(scope, page, page_size):
    """N2 queries 1+2: a page of the namespaces in the token's scope, and their total."""
    rows, first = _paginate(_namespaces_page, page, page_size, *sorted(scope or ()), scoped=scope is not None)
    return rows, first.total


def _namespace(slug, *scope, scoped):
    return _in_scope(Namespace.select().where(Namespace.slug == slug, _live(Namespace)), scope, scoped).limit(1)


def find_namespace(slug, scope):
    """Query 1 of every namespaced endpoint: the live namespace `slug`, if the token's scope
    holds it. Out of scope costs the same query and answers the same None as missing."""
    return _first(_namespace, slug, *sorted(scope or ()), scoped=scope is not None)


# -- projects -----------------------------------------------------------------------------

def create_project(namespace, slug, name, description):
    """P1 query 2: insert the project."""
    return Project.create(namespace=namespace.id, slug=slug, name=name, description=description)


def _projects_page(namespace_id, page_size, offset):
    return _page_query(Project.select().where(Project.namespace == namespace_id, _live(Project)), page_size, offset)


def list_projects(namespace, page, page_size):
    """P2 queries 2+3: a page of the namespace's projects, and their total."""
    rows, first = _paginate(_projects_page, page, page_size, namespace.id)
    return rows, first.total


def _project(namespace_id, slug):
    return Project.select().where(Project.namespace == namespace_id, Project.slug == slug, _live(Project)).limit(1)


def find_project(namespace, slug):
    """Query 2 of every project-scoped endpoint: the live project `slug` of the namespace."""
    return _first(_project, namespace.id, slug)


# -- datasets -----------------------------------------------------------------------------

def create_dataset(project, name, description=None, tags=(), metadata=None):
    """D1 query 3: insert the dataset."""
    return Dataset.create(namespace=project.namespace_id, project=project.id, name=name,
                          description=description, tags=list(tags), metadata=metadata)


def _tag_args(tags):
    """The parameters of `_has_tags`: the tags as one JSON array on PostgreSQL, one by one on SQLite."""
    return [json.dumps(list(tags))] if tags and is_postgres() else list(tags)


def _has_tags(*tag_args):
    """Datasets carrying every one of the tags: jsonb containment (GIN-indexed) on
    PostgreSQL, json_each on SQLite."""
    if is_postgres():
        return SQL("tags @> %s::jsonb", list(tag_args))
    clauses = [SQL("EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?)", [tag]) for tag in tag_args]
    return clauses[0] if len(clauses) == 1 else SQL(" AND ".join("(%s)" % c.sql for c in clauses),
                                                    [p for c in clauses for p in c.params])


def _datasets_page(namespace_id, project_id, *args):
    *tag_args, page_size, offset = args
    query = Dataset.select().where(Dataset.namespace == namespace_id, Dataset.project == project_id, _live(Dataset))
    if tag_args:
        return _page_query(query.where(_has_tags(*tag_args)), page_size, offset)
    # the count the database keeps (see migrations): no counting of a large project
    return _page_query(query, page_size, offset,
                       counted=Project.select(Project.dataset_count.alias("total")).where(Project.id == project_id))


def list_datasets(project, page, page_size, tags=()):
    """D2 queries 3+4: a page of the project's datasets (carrying every tag of `tags`), and
    their total."""
    rows, first = _paginate(_datasets_page, page, page_size, project.namespace_id, project.id, *_tag_args(tags))
    return rows, first.total


def _dataset(namespace_id, project_id, name, *, lock):
    query = (Dataset.select()
             .where(Dataset.namespace == namespace_id, Dataset.project == project_id, Dataset.name == name,
                    _live(Dataset))
             .limit(1))
    return query.for_update("FOR SHARE") if lock else query


def find_dataset(project, name, lock=False):
    """D3/D4 query 3, C1 query 3, C4 query 4: the live dataset `name` of the project.
    `lock` (C1, C4) keeps it from being deleted until the transaction ends, so that a
    collection is never put into a dataset that a concurrent D5 is detaching."""
    return _first(_dataset, project.namespace_id, project.id, name, lock=lock and is_postgres())


def _dataset_collections(namespace_id, dataset_id):
    ordered = (Member.select(Member.node_id)
               .where(Member.namespace == Collection.namespace, Member.collection == Collection.id)
               .order_by(Member.position))
    if is_postgres():
        members = NodeList((SQL("ARRAY"), ordered))
    else:
        ordered = ordered.alias("ordered")
        members = Select([ordered], [fn.json_group_array(ordered.c.node_id)])
    return (Collection.select(Collection.id, Collection.name, members.alias("members"))
            .where(Collection.namespace == namespace_id, Collection.dataset == dataset_id, _live(Collection))
            .order_by(Collection.created_at, Collection.id))


def find_dataset_collections(dataset):
    """D3 query 4: every live collection of the dataset with all its members, in one
    statement: collections by creation, each with its members in the order they were added,
    gathered by the database (an ARRAY subquery on PostgreSQL, json_group_array over an
    ordered subquery on SQLite), so that no row per member is read one by one."""
    return [{"id": row.id, "name": row.name,
             "members": json.loads(row.members) if isinstance(row.members, str) else row.members}
            for row in _select(_dataset_collections, dataset.namespace_id, dataset.id)]


def update_dataset(dataset, changes):
    """D4 query 4: apply `changes` to the live dataset; returns it as stored, or None when it
    was deleted meanwhile. A live name taken raises IntegrityError."""
    rows = list(Dataset.update(**changes, updated_at=utcnow())
                .where(Dataset.id == dataset.id, _live(Dataset))
                .returning(Dataset)
                .execute())
    return rows[0] if rows else None


def soft_delete_dataset(project, name):
    """D5 query 3: mark the live dataset `name` deleted; returns its id, or None."""
    rows = list(Dataset.update(deleted_at=utcnow())
                .where(Dataset.namespace == project.namespace_id, Dataset.project == project.id,
                       Dataset.name == name, _live(Dataset))
                .returning(Dataset.id)
                .execute())
    return rows[0].id if rows else None


def detach_collections(project, dataset_id):
    """D5 query 4: the deleted dataset's collections become standalone (members untouched)."""
    return (Collection.update(dataset=None, updated_at=utcnow())
            .where(Collection.namespace == project.namespace_id, Collection.dataset == dataset_id)
            .execute())


# -- collections --------------------------------------------------------------------------

def create_collection(project, name, dataset, member_count):
    """C1 query 4: insert the collection (its members follow, in add_members)."""
    return Collection.create(namespace=project.namespace_id, project=project.id, name=name,
                             dataset=dataset.id if dataset else None,
                             member_count=member_count, member_seq=member_count)


def _collections_page(namespace_id, project_id, *args, standalone):
    *dataset_name, page_size, offset = args
    query = Collection.select().where(Collection.namespace == namespace_id, Collection.project == project_id,
                                      _live(Collection))
    columns = []
    if standalone:
        query = query.where(Collection.dataset.is_null())
    elif dataset_name:
        dataset_id = (Dataset.select(Dataset.id)
                      .where(Dataset.namespace == namespace_id, Dataset.project == project_id,
                             Dataset.name == dataset_name[0], _live(Dataset)))
        query = query.where(Collection.dataset == dataset_id)
        columns = [dataset_id.alias("found_dataset_id")]
    owner = Dataset.alias("owner")
    return _page_query(query, page_size, offset, columns=[owner.name.alias("dataset_name"), *columns],
                       joins=[(owner, Collection.dataset == owner.id)])


def list_collections(project, page, page_size, dataset_name=None, standalone=False):
    """C2 queries 3+4: a page of the project's collections (only those of dataset
    `dataset_name`, or only standalone ones), each with its dataset's name, and their total.
    The dataset is looked up inside the same statement. Returns (rows, total, dataset_found)."""
    named = [] if standalone or dataset_name is None else [dataset_name]
    rows, first = _paginate(_collections_page, page, page_size, project.namespace_id, project.id, *named,
                            standalone=standalone)
    return rows, first.total, not named or first.found_dataset_id is not None


def find_collection(project, name, lock=False):
    """C3/C4/C5 query 3: the live collection `name` of the project, with its dataset's name.
    `lock` holds its row until the transaction ends (C5: concurrent member changes queue)."""
    query = (Collection.select(Collection, Dataset.name.alias("dataset_name"))
             .join(Dataset, JOIN.LEFT_OUTER, on=(Collection.dataset == Dataset.id))
             .where(Collection.namespace == project.namespace_id, Collection.project == project.id,
                    Collection.name == name, _live(Collection)))
    if lock and is_postgres():
        query = query.for_update(of=Collection)
    return query.objects().first()


def find_members(collection):
    """C3 query 4: the collection's members in the order they were added."""
    return [node_id for (node_id,) in
            Member.select(Member.node_id)
            .where(Member.namespace == collection.namespace_id, Member.collection == collection.id)
            .order_by(Member.position)
            .tuples()]


def add_members(collection, node_ids, first_position):
    """C1 query 5, C5 query 4: add `node_ids` (distinct) in one bulk statement, numbering them
    from `first_position` in order; members already present keep their place. The IDs travel
    as one array parameter, so 10,000 of them are still one statement. Returns how many
    were added."""
    table = Member._meta.table_name
    if is_postgres():
        sql = (f'INSERT INTO "{table}" (namespace_id, collection_id, node_id, position) '
               "SELECT %s, %s, t.node_id, %s + t.ord - 1 FROM unnest(%s::text[]) WITH ORDINALITY AS t(node_id, ord) "
               "ON CONFLICT DO NOTHING")
        params = (collection.namespace_id, collection.id, first_position, list(node_ids))
    else:
        sql = (f'INSERT INTO "{table}" (namespace_id, collection_id, node_id, position) '
               "SELECT ?, ?, value, ? + key FROM json_each(?) WHERE true "
               "ON CONFLICT DO NOTHING")
        params = (collection.namespace_id, collection.id, first_position, json.dumps(list(node_ids)))
    return db.execute_sql(sql, params).rowcount


def remove_members(collection, node_ids):
    """C5 query 5: remove `node_ids` from the collection; absent ones are ignored. Returns how
    many were removed."""
    return (Member.delete()
            .where(Member.namespace == collection.namespace_id, Member.collection == collection.id,
                   Member.node_id.in_(list(node_ids)))
            .execute())


def _update_collection(collection, **changes):
    return list(Collection.update(**changes, updated_at=utcnow())
                .where(Collection.id == collection.id)
                .returning(Collection)
                .execute())[0]


def record_member_change(collection, added, removed, positions_used):
    """C5 query 6: the collection's member count and next free position after a change;
    returns the collection as stored."""
    return _update_collection(collection, member_count=Collection.member_count + added - removed,
                              member_seq=Collection.member_seq + positions_used)


def update_collection(collection, changes):
    """C4 query 5: rename and/or move the collection; returns it as stored. A live name
    taken raises IntegrityError."""
    return _update_collection(collection, **changes)


def soft_delete_collection(project, name):
    """C6 query 3: mark the live collection `name` deleted (its members stay); returns
    whether there was one."""
    return (Collection.update(deleted_at=utcnow())
            .where(Collection.namespace == project.namespace_id, Collection.project == project.id,
                   Collection.name == name, _live(Collection))
            .execute()) > 0
