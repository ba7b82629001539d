"""Tables. Every row below namespace carries `namespace_id`, so that every query stays
namespace-scoped (and the schema can be distributed by namespace). Nothing is ever
hard-deleted except a member that a client removes: rows are soft-deleted with
`deleted_at`, and the names of live rows are unique through partial unique indexes."""
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


class Collection(BaseModel):
    namespace = ForeignKeyField(Namespace, index=False)
    project = ForeignKeyField(Project, index=False)
    dataset = ForeignKeyField(Dataset, null=True, index=False)
    member_count = IntegerField(default=0)
    # Positions handed out so far: the next member added gets member_seq + 1.
    member_seq = BigIntegerField(default=0)
    name = TextField()


class Member(Model):
    namespace = ForeignKeyField(Namespace, index=False)
    collection = ForeignKeyField(Collection, index=False)
    node_id = TextField()
    position = BigIntegerField()

    class Meta:
        database = db
        legacy_table_names = False
        primary_key = CompositeKey("collection", "node_id")


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
# Members in the order of first addition.
Member.add_index(Member.collection, Member.position)

MODELS = [Namespace, Project, Dataset, Collection, Member, SchemaVersion]
