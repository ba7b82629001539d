"""Data access: one function per query of the contract's budget table, each one SQL
statement, named after what it fetches or does. None of them knows about HTTP; a handler
wraps the writes that take several statements in `transaction()`.

Every query below namespace filters on `namespace_id` as well as on its parent, so that
each stays inside one namespace."""
import json

from peewee import JOIN, SQL, fn

from .db import db, is_postgres, transaction  # noqa: F401 (transaction: for handlers)
from .models import Collection, Dataset, Member, Namespace, Project, utcnow


def _paginate(query, page, page_size, columns=(), joins=(), counted=None):
    """One page of `query` (ordered by creation, then id) and the total of all its rows,
    in one statement: the count is a one-row subquery (`counted`, when a kept count can
    stand for counting), and the page's rows are left-joined to it, so that a page past the
    end still brings the true total. `columns` and `joins` add to each row (left joins).
    Returns (rows, first_row); first_row.total is the total."""
    model = query.model
    ids = (query.select(model.id).order_by(model.created_at, model.id)
           .limit(page_size).offset((page - 1) * page_size))
    if counted is None:
        counted = query.select(fn.COUNT(SQL("*")).alias("total")).order_by()
    counted = counted.alias("counted")
    outer = (model.select(model, counted.c.total, *columns)
             .from_(counted)
             .join(model, JOIN.LEFT_OUTER, on=model.id.in_(ids)))
    for dest, on in joins:
        outer = outer.join(dest, JOIN.LEFT_OUTER, on=on)
    rows = list(outer.order_by(model.created_at, model.id).objects())
    return [row for row in rows if row.id is not None], rows[0]


def _live(model):
    return model.deleted_at.is_null()


# -- namespaces ---------------------------------------------------------------------------

def create_namespace(slug, name):
    """N1 query 1: insert the namespace (a live slug taken raises IntegrityError)."""
    return Namespace.create(slug=slug, name=name)


def list_namespaces(scope, page, page_size):
    """N2 queries 1+2: a page of the namespaces in the token's scope, and their total."""
    query = Namespace.select().where(_live(Namespace))
    if scope is not None:
        query = query.where(Namespace.slug.in_(sorted(scope)))
    rows, first = _paginate(query, page, page_size)
    return rows, first.total


def find_namespace(slug, scope):
    """Query 1 of every namespaced endpoint: the live namespace `slug`, if the token's scope
    holds it. Out of scope costs the same query and answers the same None as missing."""
    query = Namespace.select().where(Namespace.slug == slug, _live(Namespace))
    if scope is not None:
        query = query.where(Namespace.slug.in_(sorted(scope)))
    return query.first()


# -- projects -----------------------------------------------------------------------------

def create_project(namespace, slug, name, description):
    """P1 query 2: insert the project."""
    return Project.create(namespace=namespace.id, slug=slug, name=name, description=description)


def list_projects(namespace, page, page_size):
    """P2 queries 2+3: a page of the namespace's projects, and their total."""
    query = Project.select().where(Project.namespace == namespace.id, _live(Project))
    rows, first = _paginate(query, page, page_size)
    return rows, first.total


def find_project(namespace, slug):
    """Query 2 of every project-scoped endpoint: the live project `slug` of the namespace."""
    return (Project.select()
            .where(Project.namespace == namespace.id, Project.slug == slug, _live(Project))
            .first())


# -- datasets -----------------------------------------------------------------------------

def create_dataset(project, name, description=None, tags=(), metadata=None):
    """D1 query 3: insert the dataset."""
    return Dataset.create(namespace=project.namespace_id, project=project.id, name=name,
                          description=description, tags=list(tags), metadata=metadata)


def _has_tags(tags):
    """Datasets carrying every one of `tags`: jsonb containment (GIN-indexed) on PostgreSQL,
    json_each on SQLite."""
    if is_postgres():
        return SQL("tags @> %s::jsonb", [json.dumps(list(tags))])
    clauses = [SQL("EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?)", [tag]) for tag in tags]
    return clauses[0] if len(clauses) == 1 else SQL(" AND ".join("(%s)" % c.sql for c in clauses),
                                                    [p for c in clauses for p in c.params])


def list_datasets(project, page, page_size, tags=()):
    """D2 queries 3+4: a page of the project's datasets (carrying every tag of `tags`), and
    their total."""
    query = Dataset.select().where(Dataset.namespace == project.namespace_id,
                                   Dataset.project == project.id, _live(Dataset))
    counted = None
    if tags:
        query = query.where(_has_tags(tags))
    else:  # the count the database keeps (see migrations): no counting of a large project
        counted = Project.select(Project.dataset_count.alias("total")).where(Project.id == project.id)
    rows, first = _paginate(query, page, page_size, counted=counted)
    return rows, first.total


def find_dataset(project, name, lock=False):
    """D3/D4 query 3, C1 query 3, C4 query 4: the live dataset `name` of the project.
    `lock` (C1, C4) keeps it from being deleted until the transaction ends, so that a
    collection is never put into a dataset that a concurrent D5 is detaching."""
    query = (Dataset.select()
             .where(Dataset.namespace == project.namespace_id, Dataset.project == project.id,
                    Dataset.name == name, _live(Dataset)))
    if lock and is_postgres():
        query = query.for_update("FOR SHARE")
    return query.first()


def find_dataset_collections(dataset):
    """D3 query 4: every live collection of the dataset with all its members, in one
    statement: collections by creation, members in the order they were added."""
    rows = (Collection.select(Collection.id, Collection.name, Member.node_id)
            .join(Member, JOIN.LEFT_OUTER, on=(Member.collection == Collection.id))
            .where(Collection.namespace == dataset.namespace_id, Collection.dataset == dataset.id,
                   _live(Collection))
            .order_by(Collection.created_at, Collection.id, Member.position)
            .tuples())
    collections, current = [], None
    for collection_id, name, node_id in rows:
        if current is None or current["id"] != collection_id:
            current = {"id": collection_id, "name": name, "members": []}
            collections.append(current)
        if node_id is not None:
            current["members"].append(node_id)
    return collections


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


def list_collections(project, page, page_size, dataset_name=None, standalone=False):
    """C2 queries 3+4: a page of the project's collections (only those of dataset
    `dataset_name`, or only standalone ones), each with its dataset's name, and their total.
    The dataset is looked up inside the same statement. Returns (rows, total, dataset_found)."""
    query = Collection.select().where(Collection.namespace == project.namespace_id,
                                      Collection.project == project.id, _live(Collection))
    columns = []
    if standalone:
        query = query.where(Collection.dataset.is_null())
    elif dataset_name is not None:
        dataset_id = (Dataset.select(Dataset.id)
                      .where(Dataset.namespace == project.namespace_id, Dataset.project == project.id,
                             Dataset.name == dataset_name, _live(Dataset)))
        query = query.where(Collection.dataset == dataset_id)
        columns = [dataset_id.alias("found_dataset_id")]
    owner = Dataset.alias("owner")
    rows, first = _paginate(query, page, page_size, [owner.name.alias("dataset_name"), *columns],
                            [(owner, Collection.dataset == owner.id)])
    return rows, first.total, dataset_name is None or first.found_dataset_id is not None


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
