"""PostgreSQL databases made and dropped beside the one an admin URL names, and a plain
DB-API connection to any DATABASE_URL (to build or inspect a database the way an operator
would)."""
import sqlite3
import uuid
from contextlib import closing, contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg2


def database_url_on(server_url, name):
    """`server_url` (postgresql://…/any-database) pointed at database `name`."""
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


def create_database(server_url, name, settings=None):
    """A new empty database `name` on the server of `server_url` (dropped first if it
    exists), with `settings` ({name: value}) as its defaults (ALTER DATABASE … SET); its URL.
    The defaults are set before any connection to it, so that PgBouncer opens none without."""
    drop_database(server_url, name)
    with closing(_admin(server_url)) as admin, admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
        for setting, value in (settings or {}).items():
            cur.execute(f'ALTER DATABASE "{name}" SET {setting} = %s', (str(value),))
    return database_url_on(server_url, name)


def drop_database(server_url, name):
    """Database `name` dropped, its open connections ended first."""
    with closing(_admin(server_url)) as admin, admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')


@contextmanager
def new_postgres_database(server_url, settings=None):
    """The URL of a new empty database on the server of `server_url` (with `settings`, as
    create_database); dropped afterwards."""
    name = f"registry_test_{uuid.uuid4().hex[:12]}"
    url = create_database(server_url, name, settings)
    try:
        yield url
    finally:
        drop_database(server_url, name)


def _admin(server_url):
    conn = psycopg2.connect(server_url, connect_timeout=3)
    conn.autocommit = True
    return conn


def connect(url):
    """A DB-API connection (autocommit) to a sqlite:/// or postgresql:// DATABASE_URL."""
    if url.startswith("sqlite:///"):
        return sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    conn = psycopg2.connect(url, connect_timeout=3)
    conn.autocommit = True
    return conn


def placeholder(conn):
    return "?" if isinstance(conn, sqlite3.Connection) else "%s"
