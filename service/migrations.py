"""Versioned schema steps. Step N takes a database at version N-1 to version N; each runs
inside the caller's transaction, so a failed step leaves the previous version intact.
To change the schema: add a step, bump db.SCHEMA_VERSION, and add a test that builds the
previous version with rows and checks them after the upgrade."""
from .db import SCHEMA_VERSION, db, is_postgres
from .models import MODELS, SchemaVersion


def _v1_initial():
    db.create_tables(MODELS)
    if is_postgres():
        # D2's tag filter (`tags @> [...]`) on large projects.
        db.execute_sql("CREATE INDEX dataset_tags_gin ON dataset USING gin (tags) WHERE deleted_at IS NULL")


STEPS = {1: _v1_initial}


def upgrade(current):
    for version in range(current + 1, SCHEMA_VERSION + 1):
        STEPS[version]()
    SchemaVersion.delete().execute()
    SchemaVersion.insert(version=SCHEMA_VERSION).execute()
