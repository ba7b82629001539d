"""An extra empty PostgreSQL database next to the test session's, and a plain DB-API
connection to any DATABASE_URL (to build or inspect a database the way an operator would)."""
import re
import sqlite3
import uuid
from contextlib import closing, contextmanager

import psycopg2


@contextmanager
def new_postgres_database(pg_url):
    """The URL of a new empty database on the server of `pg_url`; dropped afterwards."""
    name = f"registry_test_{uuid.uuid4().hex[:12]}"
    with closing(psycopg2.connect(pg_url, connect_timeout=3)) as admin:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        try:
            yield re.sub(r"/[^/]*$", f"/{name}", pg_url)
        finally:
            with admin.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')


def connect(url):
    """A DB-API connection (autocommit) to a sqlite:/// or postgresql:// DATABASE_URL."""
    if url.startswith("sqlite:///"):
        return sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    conn = psycopg2.connect(url, connect_timeout=3)
    conn.autocommit = True
    return conn


def placeholder(conn):
    return "?" if isinstance(conn, sqlite3.Connection) else "%s"
