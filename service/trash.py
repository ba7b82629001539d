"""Data access for the trash (contract §8.2): one function per query of T1–T4, numbered as
docs/api.md numbers them, and the purge of everything deleted before a moment
(`flask --app wsgi purge-trash`).

The trash is the deleted rows themselves: a deleted dataset or collection keeps its row,
with who deleted it and when; a deleted collection keeps its members and remembers the
dataset it was in (service/models.py). A restore clears the mark; a purge deletes the rows.
A purged collection whose members a version of a dataset still holds keeps its row and those
members, marked purged and no longer shown anywhere, until no version holds them."""
from peewee import JOIN, SQL, Select, Tuple, Value, fn

from .compiled import assigned, assignments, execute, first
from .data import live, paginate, window_args
from .db import db, is_postgres
from .models import Collection, Dataset, Member, Version, VersionCollection, utcnow

_ITEM = ("kind", "id", "name", "deleted_at", "deleted_by", "dataset")


def _in_trash(model):
    """Rows of `model` in the trash (a purged collection is not)."""
    deleted = model.deleted_at.is_null(False)
    return deleted & Collection.purged_at.is_null() if model is Collection else deleted


# -- T1 ---------------------------------------------------------------------------------------

def _trash_page(*args, kinds, after):
    (namespace_id, project_id), (page_size, offset, *last) = window_args(args, after)
    parts = []
    if "dataset" in kinds:
        parts.append(Dataset.select(Value("dataset"), Dataset.id, Dataset.name, Dataset.deleted_at,
                                    Dataset.deleted_by, SQL("NULL"))
                     .where(Dataset.namespace == namespace_id, Dataset.project == project_id, _in_trash(Dataset)))
    if "collection" in kinds:
        parts.append(Collection.select(Value("collection"), Collection.id, Collection.name, Collection.deleted_at,
                                       Collection.deleted_by, Collection.former_dataset_name)
                     .where(Collection.namespace == namespace_id, Collection.project == project_id,
                            _in_trash(Collection)))
    items = (parts[0] if len(parts) == 1 else parts[0].union_all(parts[1])).cte("items", columns=_ITEM)
    counted = Select([items], [fn.COUNT(SQL("*")).alias("total")]).alias("counted")
    newest_first = (items.c.deleted_at.desc(), items.c.id.desc())
    page = Select([items], [getattr(items.c, column) for column in _ITEM])
    if last:
        page = page.where(Tuple(items.c.deleted_at, items.c.id) < Tuple(*last))
    page = page.order_by(*newest_first).limit(page_size).offset(offset).alias("page")
    return (Select([counted], [counted.c.total, *(getattr(page.c, column) for column in _ITEM)])
            .join(page, JOIN.LEFT_OUTER, on=SQL("1 = 1"))
            .order_by(page.c.deleted_at.desc(), page.c.id.desc())
            .with_cte(items)
            .bind(db))


def list_trash(project, window, kind=None):
    """T1 query 3: a page of what was deleted in the project (datasets and collections, or
    only those of `kind`), most recently deleted first, and their total (and the next page's
    cursor values, or None)."""
    found, first_row, after = paginate(_trash_page, window, project.namespace_id, project.id,
                                       kinds=(kind,) if kind else ("dataset", "collection"), keys=("deleted_at", "id"))
    return found, first_row.total, after


# -- T2 ---------------------------------------------------------------------------------------

def _restore_dataset(namespace_id, project_id, dataset_id, *values, names):
    return (Dataset.update({Dataset.deleted_at: None, Dataset.deleted_by: None, **assignments(Dataset, names, values)})
            .where(Dataset.namespace == namespace_id, Dataset.project == project_id, Dataset.id == dataset_id,
                   _in_trash(Dataset))
            .returning(Dataset))


def restore_dataset(project, dataset_id, name, by):
    """T2 query 3: the dataset `dataset_id` of the project's trash made live again, under
    `name` (None: the name it had), restored by `by`; returns it, or None when it is not in
    the trash. A live name taken raises IntegrityError."""
    changes = {"name": name} if name is not None else {}
    names, values = assigned(Dataset, {"updated_at": utcnow(), "updated_by": by, **changes})
    return first(_restore_dataset, project.namespace_id, project.id, dataset_id, *values, names=names)


def _reattach_collections(namespace_id, dataset_id, updated_at, by):
    return (Collection.update(dataset=dataset_id, former_dataset_id=None, updated_at=updated_at, updated_by=by)
            .where(Collection.namespace == namespace_id, Collection.former_dataset_id == dataset_id,
                   Collection.dataset.is_null(), live(Collection)))


def reattach_collections(dataset, by):
    """T2 query 4: the collections that the dataset's deletion made standalone and that are
    still live, standalone and unmoved (they still remember it) go back into it."""
    return execute(_reattach_collections, dataset.namespace_id, dataset.id, utcnow(), by)


# -- T3 ---------------------------------------------------------------------------------------

def _trashed_collection(namespace_id, project_id, collection_id, *, lock):
    query = (Collection.select()
             .where(Collection.namespace == namespace_id, Collection.project == project_id,
                    Collection.id == collection_id, _in_trash(Collection))
             .limit(1))
    return query.for_update() if lock else query


def find_trashed_collection(project, collection_id, lock):
    """T3 query 3: the collection `collection_id` of the project's trash, or None; `lock`
    holds it until the transaction ends (a concurrent restore or purge waits; PostgreSQL)."""
    return first(_trashed_collection, project.namespace_id, project.id, collection_id, lock=lock and is_postgres())


def _live_dataset_by_id(namespace_id, project_id, dataset_id, *, lock):
    query = (Dataset.select(Dataset.id, Dataset.name)
             .where(Dataset.namespace == namespace_id, Dataset.project == project_id, Dataset.id == dataset_id,
                    live(Dataset))
             .limit(1))
    return query.for_update("FOR SHARE") if lock else query


def find_live_dataset(project, dataset_id, lock):
    """T3 query 4: the dataset `dataset_id` if it is live; `lock` keeps it from being deleted
    until the transaction ends (as C1 and C4 do before putting a collection in a dataset;
    PostgreSQL)."""
    return first(_live_dataset_by_id, project.namespace_id, project.id, dataset_id, lock=lock and is_postgres())


def _restore_collection(collection_id, *values, names):
    return (Collection.update({Collection.deleted_at: None, Collection.deleted_by: None,
                               Collection.former_dataset_id: None, Collection.former_dataset_name: None,
                               **assignments(Collection, names, values)})
            .where(Collection.id == collection_id, _in_trash(Collection))
            .returning(Collection))


def restore_collection(collection, dataset, name, by):
    """T3 query 5: the collection made live again, in `dataset` (None: standalone), under
    `name` (None: the name it had), restored by `by`; returns it. A live name taken raises
    IntegrityError."""
    changes = {"name": name} if name is not None else {}
    names, values = assigned(Collection, {"dataset": dataset.id if dataset else None, "updated_at": utcnow(),
                                          "updated_by": by, **changes})
    return first(_restore_collection, collection.id, *values, names=names)


# -- T4 and purge-trash -----------------------------------------------------------------------

def _project_item(model, namespace_id, project_id, item_id):
    return (model.namespace == namespace_id) & (model.project == project_id) & (model.id == item_id)


def _purged_datasets(*args, by_age):
    """The datasets a purge deletes: the one of args (namespace, project, dataset id) in the
    trash; or, `by_age`, every one deleted before args[0]."""
    return _in_trash(Dataset) & (Dataset.deleted_at < args[0] if by_age else _project_item(Dataset, *args))


def _purge_version_collections(*args, by_age):
    doomed = Dataset.select(Dataset.id).where(_purged_datasets(*args, by_age=by_age))
    versions = Version.select(Version.id).where(Version.dataset.in_(doomed))
    return VersionCollection.delete().where(VersionCollection.version.in_(versions))


def _purge_versions(*args, by_age):
    doomed = Dataset.select(Dataset.id).where(_purged_datasets(*args, by_age=by_age))
    return Version.delete().where(Version.dataset.in_(doomed))


def _purge_datasets(*args, by_age):
    return Dataset.delete().where(_purged_datasets(*args, by_age=by_age))


def _which(project, item_id, deleted_before):
    """The arguments of a purge's statements, and whether it purges by age."""
    if deleted_before is None:
        return (project.namespace_id, project.id, item_id), False
    return (deleted_before,), True


def purge_datasets(project=None, dataset_id=None, deleted_before=None):
    """T4 queries 3–5: the dataset `dataset_id` of the project's trash deleted for good, with its
    versions; or, with `deleted_before`, every dataset deleted before then. Its former
    collections stay where they are. Returns how many datasets were deleted."""
    args, by_age = _which(project, dataset_id, deleted_before)
    execute(_purge_version_collections, *args, by_age=by_age)  # 3
    execute(_purge_versions, *args, by_age=by_age)  # 4
    return execute(_purge_datasets, *args, by_age=by_age)  # 5


def _purged_collections(*args, by_age):
    """The collections a purge deletes: the one of args (namespace, project, collection id) in
    the trash; or, `by_age`, every one deleted before args[0], and those purged before."""
    if by_age:
        return (Collection.deleted_at < args[0]) & _in_trash(Collection) | Collection.purged_at.is_null(False)
    return _project_item(Collection, *args) & _in_trash(Collection)


def _purge_members(*args, by_age):
    needed = (VersionCollection.select(SQL("1"))
              .where(VersionCollection.collection_id == Member.collection,
                     VersionCollection.change_seq >= Member.added_seq,
                     Member.removed_seq.is_null() | (VersionCollection.change_seq < Member.removed_seq)))
    purged = Collection.select(Collection.id).where(_purged_collections(*args, by_age=by_age))
    return Member.delete().where(Member.collection.in_(purged), ~fn.EXISTS(needed))


def _purge_collections(*args, by_age):
    held = VersionCollection.select(SQL("1")).where(VersionCollection.collection_id == Collection.id)
    return Collection.delete().where(_purged_collections(*args, by_age=by_age), ~fn.EXISTS(held))


def _mark_purged(purged_at, *args, by_age):
    return (Collection.update(purged_at=purged_at)
            .where(_purged_collections(*args, by_age=by_age), Collection.purged_at.is_null()))


def purge_collections(project=None, collection_id=None, deleted_before=None):
    """T4 queries 3–5: the collection `collection_id` of the project's trash deleted for good,
    with its members; or, with `deleted_before`, every collection deleted before then, and the
    purged ones that no version holds any more. Members that a version still holds stay, and
    so does their collection's row, marked purged. Returns how many collections were purged."""
    args, by_age = _which(project, collection_id, deleted_before)
    execute(_purge_members, *args, by_age=by_age)  # 3
    deleted = execute(_purge_collections, *args, by_age=by_age)  # 4
    return deleted + execute(_mark_purged, utcnow(), *args, by_age=by_age)  # 5
