"""The service behind PgBouncer in transaction pooling mode (TEST_PGBOUNCER_URL; .ci/run starts
one with .ci/pgbouncer.ini), configured as docs/deploy.md says: DB_STARTUP_OPTIONS=false, and
the settings the service would have sent stored on the database. PgBouncer refuses them as
startup options; stored on the database, they hold on every server connection it opens, and
a statement running past the timeout is a 503 that changes nothing. And docs/deploy.md shows
the settings CI runs PgBouncer with."""
import re
import time
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest

from service import create_app
from service.db import db, session_settings
from tests.support.api import DATASETS, error_code
from tests.support.databases import connect, database_url_on, new_postgres_database

ROOT = Path(__file__).resolve().parents[1]
SECRET = "pgbouncer-secret-" + "p" * 40
TIMEOUT_MS = 500


@contextmanager
def database_behind(pgbouncer_url, pg_url, settings):
    """A new database on the server (with `settings` stored on it), reached through PgBouncer."""
    with new_postgres_database(pg_url, settings) as url:
        yield database_url_on(pgbouncer_url, urlsplit(url).path.lstrip("/"))


@pytest.fixture
def make_app(pgbouncer_url, pg_url):
    """make_app(**config): the service on a new database behind PgBouncer, configured for it,
    with a statement timeout of TIMEOUT_MS stored on the database (`app`, `api` and `project`
    of conftest.py use it)."""
    settings = {"DB_STATEMENT_TIMEOUT_MS": TIMEOUT_MS, "DB_STARTUP_OPTIONS": False}
    with database_behind(pgbouncer_url, pg_url, session_settings(settings)) as url:
        yield lambda **config: create_app({"DATABASE_URL": url, "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "test",
                                           **settings, **config})
        if hasattr(db.obj, "close_all"):
            db.obj.close_all()


def test_pgbouncer_refuses_the_settings_as_startup_options(pgbouncer_url, make_app):
    with pytest.raises(psycopg2.OperationalError, match="unsupported startup parameter: options"):
        psycopg2.connect(f"{pgbouncer_url}/postgres", connect_timeout=3, options="-c statement_timeout=1000")
    # so the service sending them (the default) cannot use it at all
    client = make_app(DB_STARTUP_OPTIONS=True).test_client()
    assert client.get("/readyz").status_code == 503


def test_the_stored_settings_hold_on_every_server_connection(app):
    with app.app_context(), db.connection_context():
        assert db.execute_sql("SHOW statement_timeout").fetchone() == (f"{TIMEOUT_MS}ms",)
    url = app.config["DATABASE_URL"]
    # Open transactions hold a server connection each: three clients, three server connections.
    clients = [connect(url) for _ in range(3)]
    try:
        seen = set()
        for conn in clients:
            cur = conn.cursor()
            cur.execute("BEGIN")
            cur.execute("SELECT pg_backend_pid(), current_setting('statement_timeout'), current_setting('jit')")
            seen.add(cur.fetchone())
        assert {(timeout, jit) for _, timeout, jit in seen} == {(f"{TIMEOUT_MS}ms", "off")}
        assert len({pid for pid, _, _ in seen}) == 3
    finally:
        for conn in clients:
            conn.close()


@contextmanager
def locked(url, table):
    """Another client holds `table` in SHARE mode (reads pass, writes wait) until the block ends,
    or for 5 seconds at most (should the statement timeout not apply, the test fails, not hangs)."""
    with closing(psycopg2.connect(url, connect_timeout=3)) as conn, conn.cursor() as cur:
        cur.execute("SET LOCAL idle_in_transaction_session_timeout = '5s'")
        cur.execute(f'LOCK TABLE "{table}" IN SHARE MODE')
        yield
        conn.rollback()


def test_a_statement_past_the_timeout_is_a_503_that_wrote_nothing(app, api, project):
    with locked(app.config["DATABASE_URL"], "dataset"):
        started = time.monotonic()
        response = api.post(DATASETS, json={"name": "slow"})
        seconds = time.monotonic() - started
    assert (response.status_code, error_code(response)) == (503, "database_unavailable")
    assert TIMEOUT_MS / 1000 - 0.1 < seconds < TIMEOUT_MS / 1000 + 2
    assert api.get(f"{DATASETS}/slow").status_code == 404
    assert api.post(DATASETS, json={"name": "slow"}).status_code == 201


def _settings(ini):
    return [line.strip() for line in ini.splitlines() if line.strip() and line.strip()[0] not in ";#"]


def test_the_deployment_guide_shows_the_settings_ci_runs_pgbouncer_with():
    shown = re.findall(r"```ini\n(.*?)```", (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8"), re.S)
    assert [_settings(block) for block in shown] == [_settings((ROOT / ".ci" / "pgbouncer.ini").read_text())]
