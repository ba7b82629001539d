"""Versioned schema. An empty database gets the current schema at once (`create`); an
existing one is taken forward by the steps after its recorded version, each step taking
version N-1 to N. Every step runs in the caller's transaction, so a failed upgrade leaves
the previous version intact.

To change the schema: change the models (and `create` if it is more than tables and
indexes), add a step that upgrades a database of the previous version without losing
rows, bump db.SCHEMA_VERSION, and add the previous version to tests/test_migrations.py."""
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate

from .db import SCHEMA_VERSION, db, is_postgres
from .models import MODELS, Project, SchemaVersion

# Project.dataset_count follows the live datasets of the project: +1 when one is created,
# -1 when one is soft-deleted (rows are never undeleted).
_COUNT_TRIGGERS_POSTGRES = [
    """CREATE OR REPLACE FUNCTION project_dataset_count() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'INSERT' AND NEW.deleted_at IS NULL THEN
        UPDATE project SET dataset_count = dataset_count + 1 WHERE id = NEW.project_id;
      ELSIF TG_OP = 'UPDATE' AND OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
        UPDATE project SET dataset_count = dataset_count - 1 WHERE id = OLD.project_id;
      END IF;
      RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER project_dataset_count AFTER INSERT OR UPDATE OF deleted_at ON dataset
    FOR EACH ROW EXECUTE FUNCTION project_dataset_count()""",
]
_COUNT_TRIGGERS_SQLITE = [
    """CREATE TRIGGER project_dataset_count_insert AFTER INSERT ON dataset WHEN NEW.deleted_at IS NULL
    BEGIN UPDATE project SET dataset_count = dataset_count + 1 WHERE id = NEW.project_id; END""",
    """CREATE TRIGGER project_dataset_count_delete AFTER UPDATE OF deleted_at ON dataset
    WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
    BEGIN UPDATE project SET dataset_count = dataset_count - 1 WHERE id = OLD.project_id; END""",
]


def _count_triggers():
    for sql in _COUNT_TRIGGERS_POSTGRES if is_postgres() else _COUNT_TRIGGERS_SQLITE:
        db.execute_sql(sql)


def _tags_index():
    if is_postgres():  # D2's tag filter (`tags @> [...]`) on large projects
        db.execute_sql("CREATE INDEX IF NOT EXISTS dataset_tags_gin ON dataset USING gin (tags) WHERE deleted_at IS NULL")


def create():
    """The current schema, on an empty database."""
    db.create_tables(MODELS)
    _tags_index()
    _count_triggers()


def _v2_project_dataset_count():
    migrator = PostgresqlMigrator(db) if is_postgres() else SqliteMigrator(db)
    migrate(migrator.add_column("project", "dataset_count", Project.dataset_count))
    db.execute_sql("UPDATE project SET dataset_count = (SELECT count(*) FROM dataset "
                   "WHERE dataset.project_id = project.id AND dataset.deleted_at IS NULL)")
    _count_triggers()


STEPS = {2: _v2_project_dataset_count}


def upgrade(current):
    if current == 0:
        create()
    else:
        for version in range(current + 1, SCHEMA_VERSION + 1):
            STEPS[version]()
    SchemaVersion.delete().execute()
    SchemaVersion.insert(version=SCHEMA_VERSION).execute()
