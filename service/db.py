"""The database: one proxy, a connection per request, roundtrip counting. Schema versions
and their upgrades live in service/migrations.py, which imports this module."""
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import urlparse

import psycopg2
from flask import g
from peewee import DatabaseProxy, SqliteDatabase
from playhouse.db_url import parse
from playhouse.pool import PooledPostgresqlDatabase
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

db = DatabaseProxy()


class _Pool(PooledPostgresqlDatabase):
    """peewee's pool checks every connection it hands out with a `SELECT 1` roundtrip: one
    more statement per request, outside the budget. Here a connection given back less than
    CHECK_AFTER_IDLE seconds ago is handed out on the driver's own state (open, no
    transaction), without a roundtrip; one idle for longer is still checked, so that the
    first request after the database comes back does not fail on a dead connection."""

    CHECK_AFTER_IDLE = 1.0

    def __init__(self, *args, **kwargs):
        self._returned_at = {}
        super().__init__(*args, **kwargs)

    def _is_closed(self, conn):
        returned_at = self._returned_at.pop(self.conn_key(conn), None)
        if returned_at is not None and time.monotonic() - returned_at < self.CHECK_AFTER_IDLE:
            return bool(conn.closed) or conn.get_transaction_status() != TRANSACTION_STATUS_IDLE
        return super()._is_closed(conn)

    def _close(self, conn, close_conn=False):
        super()._close(conn, close_conn)
        if not close_conn and not conn.closed:
            self._returned_at[self.conn_key(conn)] = time.monotonic()

    # peewee makes new connections one at a time (it holds its lock meanwhile). When the
    # database does not answer, each request queued behind an attempt would wait out its own
    # connect timeout after it: the fourth of four threads would answer after four timeouts.
    # Instead, a request that was waiting while an attempt failed fails at once (503).
    _failed_at = float("-inf")
    _waiting = threading.local()

    def connect(self, reuse_if_open=False):
        self._waiting.since = time.monotonic()
        return super().connect(reuse_if_open)

    def _connect(self):
        if self._failed_at > getattr(self._waiting, "since", float("-inf")):
            raise psycopg2.OperationalError("the database did not answer a connection attempt made meanwhile")
        try:
            return super()._connect()
        except psycopg2.OperationalError:
            self._failed_at = time.monotonic()
            raise


def session_settings(config):
    """The PostgreSQL settings of the service's connections. No JIT: every statement here is
    short, and a skewed estimate (one collection of a million members among small ones) made
    PostgreSQL spend 100+ ms compiling a D3 statement that runs in 1 ms."""
    return {"statement_timeout": config["DB_STATEMENT_TIMEOUT_MS"], "jit": "off"}


def make_database(config):
    """The peewee database for DATABASE_URL: pooled PostgreSQL, or a SQLite file."""
    url = config["DATABASE_URL"]
    scheme = urlparse(url).scheme
    if scheme in ("postgres", "postgresql", "postgres+pool", "postgresql+pool"):
        # Sent at connection start, unless DB_STARTUP_OPTIONS=false: PgBouncer refuses startup
        # options, so behind it the database holds these settings (docs/deploy.md).
        options = " ".join(f"-c {name}={value}" for name, value in session_settings(config).items())
        return _Pool(
            **parse(url, unquote_password=True, unquote_user=True),
            max_connections=config["DB_POOL_SIZE"],
            stale_timeout=300,
            timeout=config["DB_CONNECT_TIMEOUT"],
            connect_timeout=config["DB_CONNECT_TIMEOUT"],
            options=options if config["DB_STARTUP_OPTIONS"] else None,
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


_TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


class Roundtrips:
    """The statements a request has sent, and their time (Server-Timing, metrics)."""
    __slots__ = ("queries", "seconds")

    def __init__(self):
        self.queries, self.seconds = 0, 0.0


# The counter of the request being served (set by the hook that starts it; one context per
# thread or greenlet): the query hook reaches it without Flask's context-local lookups.
_counting = ContextVar("roundtrips", default=None)


def roundtrips():
    """The request's Roundtrips, or None outside a request's counting."""
    return _counting.get()


def count_roundtrips():
    """Count the statements sent from now on, in this context (the request's); returns the
    counter."""
    counter = Roundtrips()
    _counting.set(counter)
    return counter


def _count_roundtrip(event):
    """query hook: every statement sent while serving a request is counted, but transaction
    control (peewee passes savepoints through here; BEGIN and COMMIT it does not)."""
    counter = _counting.get()
    if counter is not None and not event.sql.startswith(_TRANSACTION_CONTROL):
        counter.queries += 1
        counter.seconds += event.duration


def init_app(app):
    database = make_database(app.config)
    database.query_hooks.append(_count_roundtrip)
    db.initialize(database)

    @app.before_request
    def start_counting():
        count_roundtrips()

    @app.teardown_request
    def stop_counting(exc):
        _counting.set(None)

    @app.teardown_request
    def release_connection(exc):
        if not g.get("streaming"):  # a streamed answer releases it when it is closed (api/common.py)
            release()


def release():
    """The request's connection given back to the pool (which ends a transaction left open)."""
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


def stream(sql, params, batch=32):
    """The rows of one SELECT, as an iterator that holds at most `batch` rows at a time: on
    PostgreSQL through a cursor of the database (DECLARE, then FETCH after FETCH, in one
    transaction that the iterator commits when it is done); the statement and its first batch
    are sent now, as one roundtrip, so that a failure to run it is raised here, before any
    byte of a response, and rows that fit in one batch are all read here. The rest is read
    from the same connection after the view has returned: the response that reads it keeps the
    connection and gives it back (`release`) when it is closed, read to the end or not (a
    rollback then ends the transaction). On SQLite, every row now (its simplest path)."""
    if not is_postgres():
        return iter(db.execute_sql(sql, params).fetchall())
    db.execute_sql("BEGIN")
    try:
        first = db.execute_sql(f"DECLARE rows NO SCROLL CURSOR FOR {sql}; FETCH {batch} FROM rows", params).fetchall()
        if len(first) < batch:
            db.execute_sql("COMMIT")
            return iter(first)
    except Exception:
        if not db.is_closed():
            db.execute_sql("ROLLBACK")
        raise
    return _fetched(db.connection().cursor(), first, batch)


def _fetched(cursor, rows, batch):
    while rows:
        yield from rows
        if len(rows) < batch:
            break
        cursor.execute(f"FETCH {batch} FROM rows")
        rows = cursor.fetchall()
    cursor.execute("COMMIT")


@contextmanager
def uncounted():
    """Statements that are not part of serving the request (schema work)."""
    token = _counting.set(None)
    try:
        yield
    finally:
        _counting.reset(token)
