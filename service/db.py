"""The database: one proxy, a connection per request, roundtrip counting, schema creation."""
import logging
from contextlib import contextmanager
from urllib.parse import urlparse

from flask import g, has_request_context
from peewee import DatabaseProxy, SqliteDatabase
from playhouse.db_url import parse
from playhouse.pool import PooledPostgresqlDatabase

log = logging.getLogger(__name__)

db = DatabaseProxy()

# Bumped by every schema change; service/migrations.py holds the steps.
SCHEMA_VERSION = 2
_SCHEMA_LOCK_KEY = 0x7265_6769_7374  # "regist": one advisory lock for schema work


def make_database(config):
    """The peewee database for DATABASE_URL: pooled PostgreSQL, or a SQLite file."""
    url = config["DATABASE_URL"]
    scheme = urlparse(url).scheme
    if scheme in ("postgres", "postgresql", "postgres+pool", "postgresql+pool"):
        options = f"-c statement_timeout={config['DB_STATEMENT_TIMEOUT_MS']}"
        return PooledPostgresqlDatabase(
            **parse(url),
            max_connections=config["DB_POOL_SIZE"],
            stale_timeout=300,
            timeout=config["DB_CONNECT_TIMEOUT"],
            connect_timeout=config["DB_CONNECT_TIMEOUT"],
            options=options,
            field_types={"JSON": "jsonb"},
        )
    if scheme == "sqlite":
        return SqliteDatabase(
            parse(url)["database"],
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "synchronous": "normal"},
            timeout=config["DB_STATEMENT_TIMEOUT_MS"] / 1000,
            field_types={"JSON": "TEXT"},
        )
    raise ValueError(f"DATABASE_URL: unsupported scheme {scheme!r} (use postgresql:// or sqlite:///)")


def is_postgres():
    return isinstance(db.obj, PooledPostgresqlDatabase)


def _count_roundtrip(event):
    """query hook: every statement sent while serving a request is counted in `g`."""
    if has_request_context() and "db_queries" in g:
        g.db_queries += 1
        g.db_seconds += event.duration


def init_app(app):
    database = make_database(app.config)
    database.query_hooks.append(_count_roundtrip)
    db.initialize(database)

    @app.before_request
    def start_counting():
        g.db_queries = 0
        g.db_seconds = 0.0

    @app.teardown_request
    def release_connection(exc):
        if not db.is_closed():
            db.close()


@contextmanager
def transaction():
    """One atomic write. SQLite takes the write lock up front (BEGIN IMMEDIATE), so two
    writers queue instead of failing when a read lock would have to be upgraded."""
    if is_postgres():
        with db.atomic() as txn:
            yield txn
    else:
        with db.atomic("IMMEDIATE") as txn:
            yield txn


@contextmanager
def uncounted():
    """Statements that are not part of serving the request (schema work)."""
    saved = g.pop("db_queries", None) if has_request_context() else None
    try:
        yield
    finally:
        if saved is not None:
            g.db_queries = saved


def schema_version():
    from .models import SchemaVersion

    if not db.table_exists(SchemaVersion._meta.table_name):
        return 0
    row = SchemaVersion.select(SchemaVersion.version).first()
    return row.version if row else 0


def migrate():
    """Create the schema, or bring it up to SCHEMA_VERSION, under one lock so that several
    workers starting at once on an empty database do it once. Returns (before, after)."""
    from .migrations import upgrade

    with uncounted(), db.connection_context(), transaction():
        if is_postgres():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
        before = schema_version()
        if before < SCHEMA_VERSION:
            upgrade(before)
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
    return True

