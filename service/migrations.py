"""Versioned schema. An empty database gets the current schema at once (`create`); an
existing one is taken forward by the steps after its recorded version, each step taking
version N-1 to N. Every step runs in the caller's transaction, so a failed upgrade leaves
the previous version intact.

To change the schema: change the models (and `create` if it is more than tables and
indexes), add a step that upgrades a database of the previous version without losing
rows, bump SCHEMA_VERSION, and add the previous version to tests/test_migrations.py.

`ensure_schema` runs this on first use, so that a fresh database needs no separate step;
`flask --app wsgi migrate` runs it explicitly."""
import logging
import unicodedata

from playhouse.migrate import PostgresqlMigrator, SqliteMigrator
from playhouse.migrate import migrate as run_migrations

from schemas.common import is_valid_name, nfc

from .db import db, is_postgres, transaction, uncounted
from .models import (
    MODELS,
    Collection,
    Dataset,
    IdempotencyKey,
    Member,
    Project,
    SchemaVersion,
    Version,
    VersionCollection,
)

log = logging.getLogger(__name__)

# Bumped by every schema change; STEPS below hold the steps.
SCHEMA_VERSION = 8
_SCHEMA_LOCK_KEY = 0x7265_6769_7374  # "regist": one advisory lock for schema work

# Project.dataset_count follows the live datasets of the project: +1 when one is created or
# restored from the trash, -1 when one is soft-deleted (a purge deletes only deleted rows).
# Written so that running them again replaces them.
_COUNT_TRIGGERS_POSTGRES = [
    """CREATE OR REPLACE FUNCTION project_dataset_count() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'INSERT' AND NEW.deleted_at IS NULL THEN
        UPDATE project SET dataset_count = dataset_count + 1 WHERE id = NEW.project_id;
      ELSIF TG_OP = 'UPDATE' AND OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
        UPDATE project SET dataset_count = dataset_count - 1 WHERE id = OLD.project_id;
      ELSIF TG_OP = 'UPDATE' AND OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL THEN
        UPDATE project SET dataset_count = dataset_count + 1 WHERE id = NEW.project_id;
      END IF;
      RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS project_dataset_count ON dataset",
    """CREATE TRIGGER project_dataset_count AFTER INSERT OR UPDATE OF deleted_at ON dataset
    FOR EACH ROW EXECUTE FUNCTION project_dataset_count()""",
]
_COUNT_TRIGGERS_SQLITE = [
    "DROP TRIGGER IF EXISTS project_dataset_count_insert",
    """CREATE TRIGGER project_dataset_count_insert AFTER INSERT ON dataset WHEN NEW.deleted_at IS NULL
    BEGIN UPDATE project SET dataset_count = dataset_count + 1 WHERE id = NEW.project_id; END""",
    "DROP TRIGGER IF EXISTS project_dataset_count_delete",
    """CREATE TRIGGER project_dataset_count_delete AFTER UPDATE OF deleted_at ON dataset
    WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
    BEGIN UPDATE project SET dataset_count = dataset_count - 1 WHERE id = OLD.project_id; END""",
    "DROP TRIGGER IF EXISTS project_dataset_count_restore",
    """CREATE TRIGGER project_dataset_count_restore AFTER UPDATE OF deleted_at ON dataset
    WHEN OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL
    BEGIN UPDATE project SET dataset_count = dataset_count + 1 WHERE id = NEW.project_id; END""",
]


def _count_triggers():
    for sql in _COUNT_TRIGGERS_POSTGRES if is_postgres() else _COUNT_TRIGGERS_SQLITE:
        db.execute_sql(sql)


def _tags_index():
    if is_postgres():  # D2's tag filter (`tags @> [...]`) on large projects
        db.execute_sql("CREATE INDEX IF NOT EXISTS dataset_tags_gin ON dataset USING gin (tags) "
                       "WHERE deleted_at IS NULL")


def _migrator():
    return PostgresqlMigrator(db) if is_postgres() else SqliteMigrator(db)


def create():
    """The current schema, on an empty database."""
    db.create_tables(MODELS)
    _tags_index()
    _count_triggers()


def _v2_project_dataset_count():
    migrator = _migrator()
    run_migrations(migrator.add_column("project", "dataset_count", Project.dataset_count))
    db.execute_sql("UPDATE project SET dataset_count = (SELECT count(*) FROM dataset "
                   "WHERE dataset.project_id = project.id AND dataset.deleted_at IS NULL)")
    _count_triggers()


def _clean_name(name):
    """`name` under the rules of schema version 3: NFC, no format character (Cf), no white
    space at either end, at most 128 characters; None when nothing valid is left."""
    clean = nfc("".join(c for c in name if unicodedata.category(c) != "Cf")).strip()[:128].rstrip()
    return clean if is_valid_name(clean) else None


def _renamed(base, row_id, taken):
    """`<base> (<id>)`, cut to fit 128 characters, that no live row of the project holds."""
    n = 0
    while True:
        suffix = f" ({row_id})" if n == 0 else f" ({row_id}-{n})"
        candidate = f"{base[:128 - len(suffix)].rstrip()}{suffix}"
        if candidate not in taken:
            return candidate
        n += 1


def _v3_names_in_nfc():
    """Dataset and collection names are stored and compared in NFC, hold no format character
    and are never "." or ".." (contract §2); names stored before are brought to that form.
    When two live rows of one project (two datasets, or two collections) come to the same
    name, a row whose name was already in that form keeps it, then the row created first;
    every other one becomes `<name> (<its id>)`. A name of which nothing valid is left
    becomes `unnamed (<id>)`. Soft-deleted rows are cleaned the same way (their names need
    not be unique). Every row is kept."""
    for model in (Dataset, Collection):
        found = list(model.select(model.id, model.project, model.name, model.deleted_at)
                     .order_by(model.created_at, model.id).tuples())
        taken = {}  # project id: the live names, as they will be
        for _, project_id, name, deleted_at in found:
            if deleted_at is None and _clean_name(name) == name:
                taken.setdefault(project_id, set()).add(name)
        renames = {}
        for row_id, project_id, name, deleted_at in found:
            clean = _clean_name(name)
            if clean == name:
                continue
            names = taken.setdefault(project_id, set()) if deleted_at is None else set()
            if clean is None or clean in names:
                clean = _renamed(clean or "unnamed", row_id, names)
            names.add(clean)
            renames[row_id] = clean
        # Through names no valid name can be (a control character), so that no two live rows
        # hold one name at any moment.
        for row_id in renames:
            model.update(name=f"\x01{row_id}").where(model.id == row_id).execute()
        for row_id, clean in renames.items():
            model.update(name=clean).where(model.id == row_id).execute()
        if renames:
            log.info("schema version 3: %d %s names brought to NFC", len(renames), model._meta.table_name)


def _v4_membership_history():
    """Membership keeps its history, and datasets have versions (service/versions.py): member
    rows gain the changes that added and removed them (every member there is: added at change
    0, not removed), collections their count of changes, datasets their count of versions;
    the version tables are new. The member table is rebuilt (its primary key goes: a node may
    now have several rows), every row kept with its position."""
    migrator = _migrator()
    run_migrations(migrator.add_column("dataset", "version_count", Dataset.version_count),
                   migrator.add_column("collection", "change_seq", Collection.change_seq))
    if not is_postgres():  # SQLite rebuilt the dataset table for its new column, without its triggers
        _count_triggers()
    db.execute_sql("CREATE TABLE member_v3 AS SELECT * FROM member")
    db.execute_sql("DROP TABLE member")
    db.create_tables([Member, Version, VersionCollection])
    db.execute_sql("INSERT INTO member (namespace_id, collection_id, node_id, position, added_seq, removed_seq) "
                   "SELECT namespace_id, collection_id, node_id, position, 0, NULL FROM member_v3")
    db.execute_sql("DROP TABLE member_v3")


def _v5_idempotency_keys():
    """The stored answers of POSTs sent with an Idempotency-Key (service/idempotency.py)."""
    db.create_tables([IdempotencyKey])


def _v6_trash_and_who():
    """The trash (contract §8.2) and who did what (§8.3): datasets and collections record the
    token subjects that created, last changed and deleted them, and versions the dataset's;
    collections record the dataset they were taken out of, and whether they were purged. A
    deleted collection no longer points at its dataset (which may be purged): it records it as
    its former dataset, with its name. What was written before has no subjects; the collections
    detached from datasets deleted before do not know them, so a restore of such a dataset
    takes back none."""
    migrator = _migrator()
    for model in (Dataset, Collection, Version):  # a version table made by step 4 has its columns
        table = model._meta.table_name
        present = {column.name for column in db.get_columns(table)}
        run_migrations(*(migrator.add_column(table, field.column_name, field)
                         for field in model._meta.sorted_fields if field.column_name not in present))
    db.execute_sql("UPDATE collection SET former_dataset_id = dataset_id, "
                   "former_dataset_name = (SELECT name FROM dataset WHERE dataset.id = collection.dataset_id), "
                   "dataset_id = NULL WHERE deleted_at IS NOT NULL AND dataset_id IS NOT NULL")
    for model in (Dataset, Collection):  # the new indexes (the others exist)
        model._schema.create_indexes(safe=True)
    _count_triggers()


def _v7_node_lookup():
    """The reverse lookup (R1, R2): an index of the current members by namespace and node ID.
    On PostgreSQL it is built inside the upgrade's transaction, which holds writes to members
    meanwhile (reads go on)."""
    Member._schema.create_indexes(safe=True)  # the new one (the others exist)


def _v8_collections_by_dataset():
    """An index of collections by dataset, for the foreign key's check when T4 or purge-trash
    deletes a dataset row (it read every collection). Built in the upgrade's transaction, as
    version 7's."""
    Collection._schema.create_indexes(safe=True)  # the new one (the others exist)


STEPS = {2: _v2_project_dataset_count, 3: _v3_names_in_nfc, 4: _v4_membership_history, 5: _v5_idempotency_keys,
         6: _v6_trash_and_who, 7: _v7_node_lookup, 8: _v8_collections_by_dataset}


def upgrade(current):
    if current == 0:
        create()
    else:
        for version in range(current + 1, SCHEMA_VERSION + 1):
            STEPS[version]()
    SchemaVersion.delete().execute()
    SchemaVersion.insert(version=SCHEMA_VERSION).execute()


def schema_version():
    if not db.table_exists(SchemaVersion._meta.table_name):
        return 0
    row = SchemaVersion.select(SchemaVersion.version).first()
    return row.version if row else 0


def migrate():
    """Create the schema, or bring it up to SCHEMA_VERSION, under one lock so that several
    workers starting at once on an empty database do it once. Returns (before, after)."""
    with uncounted(), db.connection_context():
        if not is_postgres():  # SQLite alters a table by rebuilding it, which needs foreign
            db.pragma("foreign_keys", 0)  # keys off: possible only outside a transaction
        with transaction():
            if is_postgres():
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
            before = schema_version()
            if before < SCHEMA_VERSION:
                upgrade(before)
                if not is_postgres() and db.execute_sql("PRAGMA foreign_key_check").fetchone():
                    raise RuntimeError("the upgrade would break a foreign key; nothing was changed")
    return before, SCHEMA_VERSION


def ensure_schema(app):
    """Migrate on first use; while the database is unreachable, try again on the next request."""
    if app.extensions.get("schema_ready"):
        return True
    try:
        before, after = migrate()
    except Exception as e:  # unreachable now: the request that needs it answers 503
        log.warning("schema not ready: %s", e)
        return False
    if before != after:
        log.info("schema migrated from version %s to %s", before, after)
    app.extensions["schema_ready"] = True
    app.extensions["schema_found"] = before
    return True
