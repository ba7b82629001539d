"""Fixtures: every test that takes `app` (or `client`, `api`) runs on SQLite and on
PostgreSQL. PostgreSQL tests skip, with the reason, when no server answers at
TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), except
under CI=true, where they fail instead."""
import os
from contextlib import ExitStack
from datetime import timedelta

import psycopg2
import pytest

from service import create_app
from service.auth import mint_token
from service.db import db
from service.models import MODELS
from tests.support.api import NS, PROJECT, Api
from tests.support.databases import new_postgres_database
from tests.support.live import LiveServer

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


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
            url = stack.enter_context(new_postgres_database(ADMIN_URL))
        except psycopg2.OperationalError as e:
            reason = f"PostgreSQL not reachable at {ADMIN_URL}: {str(e).strip()}"
            if IN_CI:
                pytest.fail(reason + " (CI=true: PostgreSQL tests are mandatory)")
            pytest.skip(reason)
        yield url


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
