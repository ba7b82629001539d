"""Fixtures: every test that takes `app` (or `client`, `api`) runs on SQLite and on
PostgreSQL. PostgreSQL tests skip, with the reason, when no server answers at
TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), except
under CI=true, where they fail instead.

TEST_DATABASE_URL may be a PgBouncer in front of the server (.ci/run runs the PostgreSQL
tests through one); with DB_STARTUP_OPTIONS=false in the environment, the test database
holds the settings the service then does not send. The PgBouncer tests themselves use
TEST_PGBOUNCER_URL and skip without it, except under CI=true."""
import os
from contextlib import ExitStack
from datetime import timedelta

import psycopg2
import pytest

from service import create_app
from service.auth import mint_token
from service.config import from_env
from service.db import db, session_settings
from service.models import MODELS
from tests.support.api import NS, PROJECT, Api
from tests.support.databases import new_postgres_database
from tests.support.live import LiveServer

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
PGBOUNCER_URL = os.environ.get("TEST_PGBOUNCER_URL")
_SERVICE = from_env()  # the service's settings from this environment
# What the service sets at connection start, stored on the database when it does not.
DATABASE_SETTINGS = None if _SERVICE["DB_STARTUP_OPTIONS"] else session_settings(_SERVICE)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Only a test marked `gunicorn` may start a LiveServer (its fixtures included), so that
    -m "not gunicorn" starts none."""
    LiveServer.may_start = item.get_closest_marker("gunicorn") is not None


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(new_postgres_database(ADMIN_URL, DATABASE_SETTINGS))
        except psycopg2.OperationalError as e:
            reason = f"PostgreSQL not reachable at {ADMIN_URL}: {str(e).strip()}"
            if IN_CI:
                pytest.fail(reason + " (CI=true: PostgreSQL tests are mandatory)")
            pytest.skip(reason)
        yield url


@pytest.fixture(scope="session")
def pgbouncer_url():
    """TEST_PGBOUNCER_URL: a PgBouncer in transaction pooling mode in front of the server of
    TEST_DATABASE_URL, as .ci/run starts it (.ci/pgbouncer.ini)."""
    if not PGBOUNCER_URL:
        reason = "TEST_PGBOUNCER_URL is not set (.ci/run starts PgBouncer and sets it)"
        if IN_CI:
            pytest.fail(reason + " (CI=true: PgBouncer tests are mandatory)")
        pytest.skip(reason)
    return PGBOUNCER_URL


def database_url(request, backend, tmp_path):
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    return request.getfixturevalue("pg_url")


def _empty_tables():
    tables = ", ".join(f'"{m._meta.table_name}"' for m in MODELS if m._meta.table_name != "schema_version")
    db.execute_sql(f"TRUNCATE {tables}")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    return request.param


@pytest.fixture
def make_app(request, backend, tmp_path):
    """make_app(**config): the service on this test's database (emptied), with `config`
    over the test settings; `secret=None` leaves the signing key to the environment."""
    def make(secret="test-secret-" + "x" * 32, **config):
        settings = {"DATABASE_URL": database_url(request, backend, tmp_path), "SERVICE_ENV": "test"}
        if secret is not None:
            settings["JWT_SECRET_KEY"] = secret
        app = create_app({**settings, **config})
        if backend == "postgresql":
            with db.connection_context():
                _empty_tables()
        return app
    yield make
    if not db.is_closed():
        db.close()
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def token(app):
    """token(namespaces=("*",), sub="alice", **claims): a token signed with the app's key."""
    def make(namespaces=("*",), sub="alice", expires_in=timedelta(hours=1), **claims):
        with app.app_context():
            from flask_jwt_extended import create_access_token

            if claims:
                return create_access_token(identity=sub, expires_delta=expires_in,
                                           additional_claims={"namespaces": list(namespaces), **claims})
            return mint_token(sub, namespaces, expires_in)
    return make


@pytest.fixture
def api(client, token):
    return Api(client, token())


@pytest.fixture
def project(api):
    """Namespace `acme` with project `vision`."""
    assert api.post("/namespaces", json={"slug": "acme"}).status_code == 201
    assert api.post(f"{NS}/projects", json={"slug": "vision"}).status_code == 201
    return PROJECT
