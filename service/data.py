"""Data access: one function per query of the contract's budget table, each one SQL
statement, named after what it fetches or does, and numbered as docs/api.md numbers it.
None of them knows about HTTP; `find_*` answer None for what is not there, and a handler
wraps the writes that take several statements in `transaction()`.

Every query below namespace filters on `namespace_id` as well as on its parent, so that
each stays inside one namespace.

Reads go through service/compiled.py (SQL written once per query shape, rows as named
tuples); writes are plain peewee and answer model instances."""
import json

from peewee import JOIN, SQL, Select, fn

from .compiled import array, first, in_array, rows
from .db import db, is_postgres, transaction  # noqa: F401 (transaction: for handlers)
from .models import Collection, Dataset, Member, Namespace, Project, utcnow


def page_query(query, page_size, offset, counted=None, columns=(), joins=(), order=None):
    """One page of `query` (ordered by creation, then id) and the total of all its rows,
    in one statement: the count is a one-row subquery (`counted`, when a kept count can
    stand for counting), and the page's rows are left-joined to it, so that a page past the
    end still brings the true total. `columns` and `joins` add to each row (left joins);
    `order` replaces (created_at, id) as the order of the rows."""
    model = query.model
    order = order or (model.created_at, model.id)
    ids = query.select(model.id).order_by(*order).limit(page_size).offset(offset)
    if counted is None:
        counted = query.select(fn.COUNT(SQL("*")).alias("total")).order_by()
    counted = counted.alias("counted")
    outer = (model.select(model, counted.c.total, *columns)
             .from_(counted)
             .join(model, JOIN.LEFT_OUTER, on=model.id.in_(ids)))
    for dest, on in joins:
        outer = outer.join(dest, JOIN.LEFT_OUTER, on=on)
    return outer.order_by(*order)


def paginate(build, page, page_size, *args, **shape):
    """The page that `build(*args, page_size, offset, **shape)` (a `page_query`) selects:
    (its rows, the statement's first row), where first_row.total is the total."""
    found = rows(build, *args, page_size, (page - 1) * page_size, **shape)
    return [row for row in found if row.id is not None], found[0]


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
    return Namespace.create(slug=slug, name=name)


def _in_scope(query, scope, scoped):
    """`query` limited to the namespaces of `scope`: () or (an array parameter of slugs,)."""
    return query.where(in_array(Namespace.slug, *scope)) if scoped else query


def _scope_args(scope):
    """The token's scope as (one array parameter,) or () for every namespace."""
    return () if scope is None else (array(sorted(scope)),)


def _namespaces_page(*args, scoped):
    *scope, page_size, offset = args
    return page_query(_in_scope(Namespace.select().where(live(Namespace)), scope, scoped), page_size, offset)


def list_namespaces(scope, page, page_size):
    """N2 query 1: a page of the namespaces in the token's scope, and their total."""
    found, first_row = paginate(_namespaces_page, page, page_size, *_scope_args(scope), scoped=scope is not None)
    return found, first_row.total


def _namespace(slug, *scope, scoped):
    return _in_scope(Namespace.select().where(Namespace.slug == slug, live(Namespace)), scope, scoped).limit(1)


def find_namespace(slug, scope):
    """Query 1 of every namespaced endpoint: the live namespace `slug`, if the token's scope
    holds it. Out of scope costs the same query and answers the same None as missing."""
    return first(_namespace, slug, *_scope_args(scope), scoped=scope is not None)


# -- projects -----------------------------------------------------------------------------

def create_project(namespace, slug, name, description):
    """P1 query 2: insert the project."""
    return Project.create(namespace=namespace.id, slug=slug, name=name, description=description)


def _projects_page(namespace_id, page_size, offset):
    return page_query(Project.select().where(Project.namespace == namespace_id, live(Project)), page_size, offset)


def list_projects(namespace, page, page_size):
    """P2 query 2: a page of the namespace's projects, and their total."""
    found, first_row = paginate(_projects_page, page, page_size, namespace.id)
    return found, first_row.total


def _project(namespace_id, slug):
    return Project.select().where(Project.namespace == namespace_id, Project.slug == slug, live(Project)).limit(1)


def find_project(namespace, slug):
    """Query 2 of every project-scoped endpoint: the live project `slug` of the namespace."""
    return first(_project, namespace.id, slug)


# -- datasets -----------------------------------------------------------------------------

def create_dataset(project, name, description=None, tags=(), metadata=None):
    """D1 query 3: insert the dataset."""
    return Dataset.create(namespace=project.namespace_id, project=project.id, name=name,
                          description=description, tags=list(tags), metadata=metadata)


def _has_tags(tags):
    """Datasets carrying every one of `tags` (one JSON array parameter): jsonb containment
    (GIN-indexed) on PostgreSQL; on SQLite, no tag of the list missing from the dataset's."""
    if is_postgres():
        return SQL("tags @> %s::jsonb", [tags])
    return SQL("NOT EXISTS (SELECT value FROM json_each(?) EXCEPT SELECT value FROM json_each(tags))", [tags])


def _datasets_page(namespace_id, project_id, *args, tagged):
    *tags, page_size, offset = args
    query = Dataset.select().where(Dataset.namespace == namespace_id, Dataset.project == project_id, live(Dataset))
    if tagged:
        return page_query(query.where(_has_tags(*tags)), page_size, offset)
    # the count the database keeps (see migrations): no counting of a large project
    return page_query(query, page_size, offset,
                       counted=Project.select(Project.dataset_count.alias("total")).where(Project.id == project_id))


def list_datasets(project, page, page_size, tags=()):
    """D2 query 3: a page of the project's datasets (carrying every tag of `tags`), and
    their total."""
    tag_args = (json.dumps(list(tags)),) if tags else ()
    found, first_row = paginate(_datasets_page, page, page_size, project.namespace_id, project.id, *tag_args,
                                 tagged=bool(tags))
    return found, first_row.total


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


def _dataset_collections(namespace_id, dataset_id):
    ordered = (Member.select(Member.node_id)
               .where(Member.namespace == Collection.namespace, Member.collection == Collection.id,
                      Member.removed_seq.is_null())
               .order_by(Member.position))
    return (Collection.select(Collection.id, Collection.name, array_of(ordered, "node_id").alias("members"))
            .where(Collection.namespace == namespace_id, Collection.dataset == dataset_id, live(Collection))
            .order_by(Collection.created_at, Collection.id))


def find_dataset_collections(dataset):
    """D3 query 4: every live collection of the dataset with all its members, in one
    statement: collections by creation, each with its members in the order they were added,
    gathered by the database (`array_of`), so that no row per member is read one by one."""
    return [{"id": row.id, "name": row.name, "members": list_of(row.members)}
            for row in rows(_dataset_collections, dataset.namespace_id, dataset.id)]


def update_dataset(dataset, changes):
    """D4 query 4: apply `changes` to the live dataset; returns it as stored, or None when it
    was deleted meanwhile. A live name taken raises IntegrityError."""
    updated = list(Dataset.update(**changes, updated_at=utcnow())
                   .where(Dataset.id == dataset.id, live(Dataset))
                   .returning(Dataset)
                   .execute())
    return updated[0] if updated else None


def soft_delete_dataset(project, name):
    """D5 query 3: mark the live dataset `name` deleted; returns it as it was shown, with its
    collections' state (for If-Match; `list_of` reads it), or None."""
    deleted = list(Dataset.update(deleted_at=utcnow())
                   .where(Dataset.namespace == project.namespace_id, Dataset.project == project.id,
                          Dataset.name == name, live(Dataset))
                   .returning(Dataset, _collections_state().alias("collections_state"))
                   .execute())
    return deleted[0] if deleted else None


def detach_collections(project, dataset_id):
    """D5 query 4: the deleted dataset's collections become standalone (members untouched)."""
    return (Collection.update(dataset=None, updated_at=utcnow())
            .where(Collection.namespace == project.namespace_id, Collection.dataset == dataset_id)
            .execute())


# -- collections --------------------------------------------------------------------------

def create_collection(project, name, dataset, member_count):
    """C1 query 4: insert the collection (its members follow, in add_members, as its change 1)."""
    return Collection.create(namespace=project.namespace_id, project=project.id, name=name,
                             dataset=dataset.id if dataset else None,
                             member_count=member_count, member_seq=member_count, change_seq=1 if member_count else 0)


def _collections_page(namespace_id, project_id, *args, standalone):
    *dataset_name, page_size, offset = args
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
    return page_query(query, page_size, offset, columns=[owner.name.alias("dataset_name"), *columns],
                       joins=[(owner, Collection.dataset == owner.id)])


def list_collections(project, page, page_size, dataset_name=None, standalone=False):
    """C2 query 3: a page of the project's collections (only those of dataset
    `dataset_name`, or only standalone ones), each with its dataset's name, and their total.
    The dataset is looked up inside the same statement. Returns (rows, total, dataset_found)."""
    named = [] if standalone or dataset_name is None else [dataset_name]
    found, first_row = paginate(_collections_page, page, page_size, project.namespace_id, project.id, *named,
                                 standalone=standalone)
    return found, first_row.total, not named or first_row.found_dataset_id is not None


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


def find_members(collection):
    """C3 query 4: the collection's members in the order they were added."""
    return [row.node_id for row in rows(_members, collection.namespace_id, collection.id)]


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


def _update_collection(collection, **changes):
    return list(Collection.update(**changes, updated_at=utcnow())
                .where(Collection.id == collection.id)
                .returning(Collection)
                .execute())[0]


def record_member_change(collection, added, removed, positions_used):
    """C5 query 6: the collection's member count, next free position and count of changes
    after a change; returns the collection as stored."""
    return _update_collection(collection, member_count=Collection.member_count + added - removed,
                              member_seq=Collection.member_seq + positions_used,
                              change_seq=Collection.change_seq + 1)


def update_collection(collection, changes):
    """C4 query 5: rename and/or move the collection; returns it as stored. A live name
    taken raises IntegrityError."""
    return _update_collection(collection, **changes)


def soft_delete_collection(project, name):
    """C6 query 3: mark the live collection `name` deleted (its members stay); returns it as it
    was shown, with its dataset's name (for If-Match), or None."""
    dataset_name = Dataset.select(Dataset.name).where(Dataset.id == Collection.dataset)
    deleted = list(Collection.update(deleted_at=utcnow())
                   .where(Collection.namespace == project.namespace_id, Collection.project == project.id,
                          Collection.name == name, live(Collection))
                   .returning(Collection, dataset_name.alias("dataset_name"))
                   .execute())
    return deleted[0] if deleted else None
