"""H2 and recovery on a real server: while PostgreSQL cannot be reached, /readyz and the API
answer 503 `database_unavailable`; once it is back they answer again, with no restart.
PostgreSQL "goes away" behind a TCP proxy (the machine's server keeps running)."""
import json
import time
import uuid
from urllib.parse import urlsplit

import jwt
import pytest

from tests.support.live import LiveServer, TCPProxy, burst

pytestmark = pytest.mark.gunicorn  # every test here starts gunicorn

SECRET = "readiness-test-secret-" + "r" * 32
TOKEN = jwt.encode({"sub": "ops", "namespaces": ["*"], "exp": int(time.time()) + 3600}, SECRET, "HS256")


@pytest.fixture
def proxy(pg_url):
    parts = urlsplit(pg_url)
    with TCPProxy(parts.hostname, parts.port or 5432) as proxy:
        user = f"{parts.username}@" if parts.username else ""
        proxy.database_url = parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}").geturl()
        yield proxy


def serve(proxy, tmp_path):
    """gunicorn as deployed (gunicorn.conf.py), one worker, on the database behind the proxy."""
    env = {"DATABASE_URL": proxy.database_url, "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "production",
           "DB_CONNECT_TIMEOUT": "2"}
    return LiveServer(env, workers=1, worker_class="gthread", threads=4, args=("--config", "gunicorn.conf.py"),
                      log_path=tmp_path / "server.log")


def unavailable(response):
    status, headers, body = response
    return status == 503 and body["error"]["code"] == "database_unavailable"


def log_lines(server):
    return [json.loads(line) for line in server.logs().splitlines()]


def test_readyz_answers_503_while_the_database_is_away_and_200_once_it_returns(proxy, tmp_path):
    with serve(proxy, tmp_path) as server:
        assert burst(server, "/readyz") == {200}

        proxy.cut()
        started = time.monotonic()
        assert all(unavailable(server.request("GET", "/readyz")) for _ in range(3))
        assert time.monotonic() - started < 5

        proxy.restore()
        status, _, body = server.request("GET", "/readyz")
        assert (status, body) == (200, {"status": "ok"})
        assert burst(server, "/readyz") == {200}
        booted = [line for line in log_lines(server) if line["message"].startswith("Booting worker")]
        assert len(booted) == 1  # the same worker throughout: no restart


def test_api_answers_503_while_the_database_is_away_and_changes_nothing(proxy, tmp_path):
    slug, other = f"ns-{uuid.uuid4().hex[:8]}", f"ns-{uuid.uuid4().hex[:8]}"
    with serve(proxy, tmp_path) as server:
        assert server.request("POST", "/namespaces", {"slug": slug}, token=TOKEN)[0] == 201

        proxy.cut()
        read = server.request("GET", f"/namespaces/{slug}", token=TOKEN, headers={"X-Request-ID": "while-away-1"})
        write = server.request("POST", "/namespaces", {"slug": other}, token=TOKEN)
        assert unavailable(read) and unavailable(write)
        assert read[1]["Retry-After"] == "1"

        proxy.restore()
        assert server.request("GET", f"/namespaces/{slug}", token=TOKEN)[0] == 200
        assert server.request("GET", f"/namespaces/{other}", token=TOKEN)[0] == 404
        away = [line for line in log_lines(server) if line.get("request_id") == "while-away-1"]
        assert {(line["logger"], line["level"]) for line in away} == {
            ("service.errors", "warning"), ("gunicorn.access", "info")}


def test_service_started_while_the_database_is_away_becomes_ready_when_it_returns(proxy, tmp_path):
    slug = f"ns-{uuid.uuid4().hex[:8]}"
    proxy.cut()
    with serve(proxy, tmp_path) as server:  # /healthz answers without the database
        assert unavailable(server.request("GET", "/readyz"))
        assert unavailable(server.request("POST", "/namespaces", {"slug": slug}, token=TOKEN))

        proxy.restore()
        assert server.request("GET", "/readyz")[0] == 200
        assert server.request("POST", "/namespaces", {"slug": slug}, token=TOKEN)[0] == 201
