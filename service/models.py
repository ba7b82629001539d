"""Tables. Every row below namespace carries `namespace_id`, so that every query stays
namespace-scoped (and the schema can be distributed by namespace). Rows are soft-deleted
with `deleted_at` (the trash), and the names of live rows are unique through partial unique
indexes; only a purge of the trash (T4, purge-trash) deletes datasets and collections.

Membership keeps its history, so that a version of a dataset costs a row per collection,
not per member (service/versions.py): each collection numbers its member changes
(`change_seq`, one per request that adds or removes members), and a member row records the
change that added it and the one that removed it (`removed_seq`, null while it is a member).
The members of a collection at change s are the rows with added_seq <= s and removed_seq
null or > s; its current members, the rows with removed_seq null. Removing a node and adding
it again makes a new row. `flask --app wsgi compact-history` deletes the removed rows that
no version needs."""
import json
import secrets
from datetime import UTC, datetime

from peewee import (
    BigIntegerField,
    CompositeKey,
    DateTimeField,
    Field,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from .db import db


def new_id():
    """An opaque, URL-safe, server-generated ID."""
    return secrets.token_urlsafe(12)


def utcnow():
    """Now, in UTC, naive (as stored), to the millisecond the API shows."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class JSONField(Field):
    """A JSON value: `jsonb` on PostgreSQL (indexable with GIN), text on SQLite."""
    field_type = "JSON"

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def python_value(self, value):
        return json.loads(value) if isinstance(value, str) else value


class BaseModel(Model):
    id = TextField(primary_key=True, default=new_id)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    deleted_at = DateTimeField(null=True)

    class Meta:
        database = db
        legacy_table_names = False


class Namespace(BaseModel):
    slug = TextField()
    name = TextField()


class Project(BaseModel):
    namespace = ForeignKeyField(Namespace, index=False)
    slug = TextField()
    name = TextField()
    description = TextField(null=True)
    # Live datasets of the project, kept by database triggers (schema version 2): D2's total
    # without counting a million rows.
    dataset_count = IntegerField(default=0)


class Dataset(BaseModel):
    namespace = ForeignKeyField(Namespace, index=False)
    project = ForeignKeyField(Project, index=False)
    name = TextField()
    description = TextField(null=True)
    tags = JSONField(default=list)
    # Kept as the exact JSON text the client sent (key order and all), not re-encoded.
    metadata = TextField(null=True)
    # Versions numbered so far (schema version 4): the next one is version_count + 1.
    version_count = IntegerField(default=0)
    # Who (schema version 6): the token subjects that created it, last changed it, deleted it
    # (null for what was written before).
    created_by = TextField(null=True)
    updated_by = TextField(null=True)
    deleted_by = TextField(null=True)


class Collection(BaseModel):
    namespace = ForeignKeyField(Namespace, index=False)
    project = ForeignKeyField(Project, index=False)
    dataset = ForeignKeyField(Dataset, null=True, index=False)
    member_count = IntegerField(default=0)
    # Positions handed out so far: the next member added gets member_seq + 1.
    member_seq = BigIntegerField(default=0)
    name = TextField()
    # Member changes so far (schema version 4): the next change is change_seq + 1.
    change_seq = BigIntegerField(default=0)
    created_by = TextField(null=True)
    updated_by = TextField(null=True)
    deleted_by = TextField(null=True)
    # The dataset it was taken out of (schema version 6, no foreign key: the dataset may be
    # purged): for a deleted collection, the one it was in when deleted (a restore puts it back
    # there if that dataset is live) and that dataset's name then (the trash shows it); for a
    # live standalone one, the dataset whose deletion detached it (a restore of that dataset
    # takes it back), until it is moved.
    former_dataset_id = TextField(null=True)
    former_dataset_name = TextField(null=True)
    # Purged from the trash while a version still holds its members: the row stays, for the
    # versions, but no longer exists for the API (purge-trash deletes it once no version does).
    purged_at = DateTimeField(null=True)


class Member(Model):
    namespace = ForeignKeyField(Namespace, index=False)
    collection = ForeignKeyField(Collection, index=False)
    node_id = TextField()
    position = BigIntegerField()
    added_seq = BigIntegerField()  # the collection's change that added it
    removed_seq = BigIntegerField(null=True)  # the change that removed it; null while a member

    class Meta:
        database = db
        legacy_table_names = False
        primary_key = False  # a node may come and go: the current one is unique (below)


class Version(Model):
    """A dataset as it was when frozen: its fields, and (in VersionCollection) its collections
    with the change of each that their members are read at."""
    id = TextField(primary_key=True, default=new_id)
    namespace = ForeignKeyField(Namespace, index=False)
    dataset = ForeignKeyField(Dataset, index=False)
    number = IntegerField()
    note = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    created_by = TextField()
    collection_count = IntegerField()
    member_count = BigIntegerField()
    # The dataset's fields when frozen.
    name = TextField()
    description = TextField(null=True)
    tags = JSONField()
    metadata = TextField(null=True)
    project_id = TextField()
    dataset_created_at = DateTimeField()
    dataset_updated_at = DateTimeField()
    dataset_created_by = TextField(null=True)
    dataset_updated_by = TextField(null=True)

    class Meta:
        database = db
        legacy_table_names = False


class VersionCollection(Model):
    """A collection of a version: its name then, and the change its members are read at."""
    namespace = ForeignKeyField(Namespace, index=False)
    # Written before its version row (which counts them): checked when the transaction commits.
    version = ForeignKeyField(Version, index=False, deferrable="INITIALLY DEFERRED")
    collection_id = TextField()
    name = TextField()
    created_at = DateTimeField()  # the collection's: collections are listed by creation
    change_seq = BigIntegerField()
    member_count = BigIntegerField()

    class Meta:
        database = db
        legacy_table_names = False
        primary_key = CompositeKey("version", "collection_id")


class IdempotencyKey(Model):
    """A POST's Idempotency-Key (contract §8.3), per token subject: what the request was (its
    method, path and body, hashed) and the 2xx answer it got, stored in the request's own
    transaction."""
    subject = TextField()
    key = TextField()
    fingerprint = TextField()
    status = IntegerField()
    body = TextField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        database = db
        legacy_table_names = False
        primary_key = CompositeKey("subject", "key")


class SchemaVersion(Model):
    version = IntegerField()

    class Meta:
        database = db
        legacy_table_names = False
        primary_key = False


def _live(model):
    return model.deleted_at.is_null()


# Names of live rows are unique: the database decides, so a race gives 409, never 500.
Namespace.add_index(Namespace.slug, unique=True, where=_live(Namespace))
Project.add_index(Project.namespace, Project.slug, unique=True, where=_live(Project))
Dataset.add_index(Dataset.namespace, Dataset.project, Dataset.name, unique=True, where=_live(Dataset))
Collection.add_index(Collection.namespace, Collection.project, Collection.name, unique=True, where=_live(Collection))
# Every list is ordered by (created_at, id) under its filter; the indexes cover the filter.
Namespace.add_index(Namespace.created_at, Namespace.id, where=_live(Namespace))
Project.add_index(Project.namespace, Project.created_at, Project.id, where=_live(Project))
Dataset.add_index(Dataset.namespace, Dataset.project, Dataset.created_at, Dataset.id, where=_live(Dataset))
Collection.add_index(Collection.namespace, Collection.project, Collection.created_at, Collection.id,
                     where=_live(Collection))
Collection.add_index(Collection.namespace, Collection.dataset, Collection.created_at, Collection.id,
                     where=_live(Collection))
# The trash: deleted rows by project, most recently deleted first; collections to take back.
Dataset.add_index(Dataset.namespace, Dataset.project, Dataset.deleted_at, Dataset.id,
                  where=Dataset.deleted_at.is_null(False), name="dataset_trash")
Collection.add_index(Collection.namespace, Collection.project, Collection.deleted_at, Collection.id,
                     where=Collection.deleted_at.is_null(False) & Collection.purged_at.is_null(),
                     name="collection_trash")
Collection.add_index(Collection.former_dataset_id, where=Collection.former_dataset_id.is_null(False),
                     name="collection_former_dataset")
# The collections of a dataset, live or not: what PostgreSQL reads to check the foreign key when
# a dataset row is deleted (T4, purge-trash); without it, the whole table (schema version 8).
Collection.add_index(Collection.dataset, where=Collection.dataset.is_null(False), name="collection_dataset")
# Current members: in the order of first addition, and each node at most once.
Member.add_index(Member.collection, Member.position, where=Member.removed_seq.is_null(),
                 name="member_current_position")
Member.add_index(Member.collection, Member.node_id, unique=True, where=Member.removed_seq.is_null(),
                 name="member_current_node")
# Which collections of a namespace currently hold a node (R1, R2; schema version 7).
Member.add_index(Member.namespace, Member.node_id, where=Member.removed_seq.is_null(), name="member_node_lookup")
# Members at a change, in order (positions and changes both only grow, so (added_seq, position)
# is the order of addition), and what a range of changes added; what it removed.
Member.add_index(Member.collection, Member.added_seq, Member.position)
Member.add_index(Member.collection, Member.removed_seq, where=Member.removed_seq.is_null(False))
Version.add_index(Version.dataset, Version.number, unique=True)
# Which versions hold a collection (compacting its history).
VersionCollection.add_index(VersionCollection.collection_id, VersionCollection.change_seq)

# Expired keys, oldest first (purge-idempotency-keys).
IdempotencyKey.add_index(IdempotencyKey.created_at)

MODELS = [Namespace, Project, Dataset, Collection, Member, Version, VersionCollection, IdempotencyKey, SchemaVersion]
