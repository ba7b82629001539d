"""The deployment as written: the Dockerfile and docker-compose.yml are read and checked, and
what compose would run is run here without a container engine, with the image's and compose's
environment and the database host pointed at the local PostgreSQL: the one-shot migration,
then the image's command (gunicorn with gunicorn.conf.py), its health check, its JSON logs,
and a graceful stop on SIGTERM. The `pgbouncer` profile likewise, with the PgBouncer at
TEST_PGBOUNCER_URL standing for its PgBouncer."""
import json
import logging
import os
import re
import runpy
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing
from fnmatch import fnmatch
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from service import create_app
from service.config import from_env
from service.db import session_settings
from service.migrations import SCHEMA_VERSION
from tests.support.databases import connect, database_url_on, new_postgres_database
from tests.support.live import ROOT, LiveServer, burst

BIN = Path(sys.executable).parent
SECRET = "deploy-test-secret-" + "d" * 32  # what the operator exports as JWT_SECRET_KEY


def dockerfile():
    """[(INSTRUCTION, arguments)], continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    instructions = []
    for line in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
    return instructions


def instruction(name):
    found = [rest for word, rest in dockerfile() if word == name]
    assert found, f"the Dockerfile has no {name}"
    return found[-1]


def image_command():
    return json.loads(instruction("CMD"))


def image_healthcheck():
    return json.loads(instruction("HEALTHCHECK").split(" CMD ", 1)[1])


def image_environment():
    return dict(pair.split("=", 1) for word, rest in dockerfile() if word == "ENV" for pair in shlex.split(rest))


def compose():
    with open(ROOT / "docker-compose.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?)([-?])([^}]*))?\}")


def interpolate(text, shell):
    """compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""
    def value(match):
        if match.group(0) == "$$":
            return "$"
        name, colon, operator, argument = match.groups()
        given = shell.get(name)
        if given is not None and not (colon and given == ""):
            return given
        if operator == "?":
            raise ValueError(f"required variable {name} is missing a value: {argument}")
        return argument if operator == "-" else ""
    return _VARIABLE.sub(value, text)


def compose_environment(service, database_url, shell=None):
    """The environment compose gives `service`'s container (the image's ENV, then compose's),
    with the database host pointed at `database_url`'s server and database. The password
    compose sets stays in the URL unless the local server needs its own."""
    shell = {"JWT_SECRET_KEY": SECRET} if shell is None else shell
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **image_environment()}
    env.update({k: interpolate(str(v), shell) for k, v in compose()["services"][service]["environment"].items()})
    composed, local = urlsplit(env["DATABASE_URL"]), urlsplit(database_url)
    assert composed.hostname in compose()["services"], "the service reaches PostgreSQL by a compose service name"
    netloc = f"{local.username}:{local.password or composed.password}@{local.hostname}:{local.port or 5432}"
    env["DATABASE_URL"] = composed._replace(netloc=netloc, path=local.path).geturl()
    return env


def libpq_environment(service, database_url):
    """The environment of `service`'s psql (PGHOST, PGUSER, …) pointed at `database_url`."""
    env = {k: interpolate(str(v), {}) for k, v in compose()["services"][service]["environment"].items()}
    assert env["PGHOST"] == "db"
    local = urlsplit(database_url)
    return {**env, "PATH": os.environ["PATH"], "PGHOST": local.hostname, "PGPORT": str(local.port or 5432),
            "PGUSER": local.username, "PGDATABASE": local.path.lstrip("/")}


def run(command, env):
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


class ComposeService(LiveServer):
    """The `api` service: the image's command with its environment, bound to a free loopback
    port instead of the container's 0.0.0.0:8000."""

    def __init__(self, env, log_path):
        super().__init__({}, log_path=log_path)
        self.command = image_command()
        self.env = {**env, "PORT": str(self.port), "GUNICORN_BIND": f"127.0.0.1:{self.port}"}


@pytest.fixture(scope="module")
def stack(pg_url):
    """The compose stack up to the service: an empty database, then the `migrate` service's
    command, as compose orders them. Yields (environment, migrate's result)."""
    with new_postgres_database(pg_url) as url:
        env = compose_environment("api", url)
        yield env, run(compose()["services"]["migrate"]["command"], compose_environment("migrate", url))


@pytest.fixture(scope="module")
def service(stack, tmp_path_factory):
    env, _ = stack
    with ComposeService(env, tmp_path_factory.mktemp("api") / "api.log") as server:
        yield server


def mint(env, *namespaces):
    """The service's own token command, run with the compose environment."""
    result = run(["flask", "--app", "wsgi", "mint-token", "ops", *(a for n in namespaces for a in ("-n", n))], env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_image_is_slim_python_with_a_non_root_user_and_a_health_check():
    assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", instruction("FROM"))
    user = instruction("USER")
    assert user not in ("root", "0") and re.search(rf"useradd .*\b{user}\b", instruction("RUN"))
    words = [word for word, _ in dockerfile()]
    assert words.index("USER") < words.index("CMD")
    assert "pip install ." in instruction("RUN")
    ignored = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    for word, rest in dockerfile():
        if word == "COPY":
            for source in shlex.split(rest)[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: no such file in the project"
                assert not any(fnmatch(source, pattern) for pattern in ignored), f"COPY {source}: in .dockerignore"
    assert "/healthz" in " ".join(image_healthcheck())
    assert image_command() == ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]


def test_compose_starts_the_service_after_a_healthy_database_and_the_migration():
    services, volumes = compose()["services"], compose()["volumes"]
    db, migrate, api = services["db"], services["migrate"], services["api"]
    assert db["image"] == "postgres:15" and "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume, _, mount = db["volumes"][0].partition(":")
    assert volume in volumes and mount == "/var/lib/postgresql/data"
    assert migrate["command"] == ["flask", "--app", "wsgi", "migrate"]
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert api["depends_on"] == {"db": {"condition": "service_healthy"},
                                 "migrate": {"condition": "service_completed_successfully"}}
    assert migrate["build"] == api["build"] == "." and migrate["environment"] == api["environment"]
    assert api["environment"]["SERVICE_ENV"] == "production"


def test_compose_pgbouncer_profile_puts_pgbouncer_in_transaction_pooling_before_a_second_api():
    services = compose()["services"]
    profiled = {name: service["profiles"] for name, service in services.items() if "profiles" in service}
    assert profiled == {name: ["pgbouncer"] for name in ("db-settings", "pgbouncer", "api-pgbouncer")}
    settings, bouncer, api = services["db-settings"], services["pgbouncer"], services["api-pgbouncer"]
    shell = {"JWT_SECRET_KEY": SECRET}
    bouncer_env = {k: interpolate(str(v), shell) for k, v in bouncer["environment"].items()}
    api_env = {k: interpolate(str(v), shell) for k, v in api["environment"].items()}

    assert re.fullmatch(r"edoburu/pgbouncer:\d+\.\d+\.\d+(-p\d+)?", bouncer["image"])  # a pinned release
    assert bouncer_env["POOL_MODE"] == "transaction" and bouncer_env["AUTH_TYPE"] == "scram-sha-256"
    assert (bouncer_env["DB_HOST"], bouncer_env["DB_NAME"], bouncer_env["DB_USER"]) == ("db", "registry", "registry")
    assert ["-p", bouncer_env["LISTEN_PORT"]] == bouncer["healthcheck"]["test"][-2:]
    url = urlsplit(api_env["DATABASE_URL"])
    assert (url.hostname, str(url.port), url.path) == ("pgbouncer", bouncer_env["LISTEN_PORT"], "/registry")
    assert (url.username, url.password) == (bouncer_env["DB_USER"], bouncer_env["DB_PASSWORD"])
    assert from_env(api_env)["DB_STARTUP_OPTIONS"] is False
    direct = {k: interpolate(str(v), shell) for k, v in services["api"]["environment"].items()}
    assert {k: v for k, v in api_env.items() if k not in ("DATABASE_URL", "DB_STARTUP_OPTIONS")} == \
        {k: v for k, v in direct.items() if k != "DATABASE_URL"}
    assert api["build"] == "." and api["image"] == services["api"]["image"]

    # the settings the service sends when it connects are stored on the database before PgBouncer starts
    statements = [interpolate(arg, {}) for flag, arg in pairwise(settings["command"]) if flag == "-c"]
    assert statements == [f"ALTER DATABASE registry SET {name} = {value}"
                          for name, value in session_settings(from_env({})).items()]
    assert settings["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert bouncer["depends_on"] == {"db-settings": {"condition": "service_completed_successfully"}}
    assert api["depends_on"] == {"pgbouncer": {"condition": "service_healthy"},
                                 "migrate": {"condition": "service_completed_successfully"}}
    assert api["stop_grace_period"] == services["api"]["stop_grace_period"]


@pytest.mark.gunicorn
def test_compose_pgbouncer_profile_serves_the_api_through_pgbouncer(pg_url, pgbouncer_url, tmp_path):
    """In the profile's order: db-settings, then (the local) PgBouncer, migrate, api-pgbouncer."""
    with new_postgres_database(pg_url) as url:
        name = urlsplit(url).path.lstrip("/")
        # db-settings' statements on this database, run from the server's other one: a
        # PgBouncer in front opens no connection to this one before it has its settings
        command = [interpolate(arg, {}).replace("ALTER DATABASE registry ", f'ALTER DATABASE "{name}" ')
                   for arg in compose()["services"]["db-settings"]["command"]]
        stored = run(command, libpq_environment("db-settings", pg_url))
        assert stored.returncode == 0, stored.stderr
        # migrate reaches the database as this test run does (through PgBouncer, in .ci/run's second run)
        migrate_env = {**compose_environment("migrate", url),
                       "DB_STARTUP_OPTIONS": str(from_env()["DB_STARTUP_OPTIONS"]).lower()}
        migrated = run(compose()["services"]["migrate"]["command"], migrate_env)
        assert migrated.returncode == 0, migrated.stderr

        env = compose_environment("api-pgbouncer", database_url_on(pgbouncer_url, name))
        with ComposeService(env, tmp_path / "api.log") as server:
            assert run(image_healthcheck(), server.env).returncode == 0
            assert server.request("GET", "/readyz")[0] == 200
            created = server.request("POST", "/namespaces", {"slug": "pooled"}, token=mint(env, "*"))
            assert created[0] == 201, created
        with closing(connect(env["DATABASE_URL"])) as conn, conn.cursor() as cur:
            cur.execute("SELECT current_setting('statement_timeout'), current_setting('jit'), "
                        "(SELECT count(*) FROM namespace WHERE slug = 'pooled')")
            assert cur.fetchone() == ("15s", "off", 1)


def test_compose_stop_grace_period_outlasts_gunicorns_graceful_timeout():
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    grace = compose()["services"]["api"]["stop_grace_period"]
    assert int(grace.removesuffix("s")) > settings["graceful_timeout"]


@pytest.mark.gunicorn
def test_compose_refuses_to_start_without_a_jwt_secret(pg_url, tmp_path):
    with pytest.raises(ValueError, match="JWT_SECRET_KEY"):
        compose_environment("api", pg_url, shell={})
    # and should it be set empty, the service stops at once and says why, in one line
    env = {**compose_environment("api", pg_url), "JWT_SECRET_KEY": "", "GUNICORN_BIND": f"unix:{tmp_path}/api.sock"}
    result = run(image_command(), env)
    assert result.returncode != 0, result.stderr
    fatal = [line["message"] for line in map(json.loads, result.stderr.splitlines()) if line["level"] == "critical"]
    assert fatal and all("JWT_SECRET_KEY" in message for message in fatal), result.stderr


def test_compose_migration_creates_the_schema_before_the_service_starts(stack):
    env, migrated = stack
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.strip() == f"schema at version {SCHEMA_VERSION} (was 0)"
    with closing(connect(env["DATABASE_URL"])) as conn:
        cur = conn.cursor()
        cur.execute("SELECT version FROM schema_version")
        assert cur.fetchall() == [(SCHEMA_VERSION,)]


@pytest.mark.gunicorn
def test_compose_service_passes_its_health_check_and_serves_the_api(stack, service):
    env, _ = stack
    assert run(image_healthcheck(), service.env).returncode == 0
    status, _, body = service.request("GET", "/readyz")
    assert (status, body) == (200, {"status": "ok"})
    slug = f"ns-{uuid.uuid4().hex[:8]}"
    token = mint(env, "*")
    created = service.request("POST", "/namespaces", {"slug": slug}, token=token)
    assert created[0] == 201 and created[2]["slug"] == slug
    assert service.request("GET", f"/namespaces/{slug}", token=mint(env, slug))[0] == 200
    assert service.request("GET", f"/namespaces/{slug}", token=mint({**env, "JWT_SECRET_KEY": "y" * 40}, "*"))[0] == 401


@pytest.mark.gunicorn
def test_logs_are_json_lines_with_the_request_id_and_no_secret(stack, service):
    env, migrated = stack
    token = mint(env, "*")
    service.request("GET", "/namespaces", token=token, headers={"X-Request-ID": "deploy-check-1"})
    service.request("GET", f"/readyz?access_token={token}", headers={"X-Request-ID": "deploy-check-2"})
    service.request("GET", "/namespaces", token=token + "x")  # a rejected token is not logged either
    time.sleep(0.2)  # the access line is written after the response

    text = service.logs() + migrated.stderr
    lines = [json.loads(line) for line in text.splitlines()]
    access = {line.get("request_id"): line for line in lines if line["logger"] == "gunicorn.access"}
    assert access["deploy-check-1"]["path"] == "/namespaces" and access["deploy-check-1"]["status"] == 200
    assert access["deploy-check-2"]["status"] == 200
    password = urlsplit(env["DATABASE_URL"]).password
    for secret in (token, token.split(".")[2], SECRET, password):
        assert secret not in text


@pytest.mark.gunicorn
def test_workers_of_a_preloaded_app_do_not_share_database_connections(stack, tmp_path):
    env, _ = stack  # --preload: the app (and its first connection) is made before forking
    with ComposeService({**env, "GUNICORN_CMD_ARGS": "--preload"}, tmp_path / "api.log") as server:
        assert burst(server, "/readyz", count=100, timeout=5) == {200}


def test_a_log_line_that_would_carry_a_secret_has_it_masked(capsys):
    url = "postgresql://registry:hunter2-db-password@127.0.0.1:1/registry"  # nothing listens on port 1
    app = create_app({"DATABASE_URL": url, "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "production"})
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcHMifQ.c2lnbmF0dXJl"
    capsys.readouterr()
    with app.test_request_context(headers={"X-Request-ID": "masked-1"}):
        app.preprocess_request()
        logging.getLogger("service").error("cannot use %s with Authorization: Bearer %s (key %s, ?api_key=k3y-v4lue)",
                                           url, token, SECRET)
    line = json.loads(capsys.readouterr().err.splitlines()[-1])
    assert line["request_id"] == "masked-1"
    assert "127.0.0.1:1/registry" in line["message"]
    for secret in ("hunter2-db-password", token, SECRET, "k3y-v4lue"):
        assert secret not in line["message"]


@pytest.mark.gunicorn
def test_sigterm_lets_the_request_in_flight_finish(stack, tmp_path):
    env, _ = stack
    slug = f"ns-{uuid.uuid4().hex[:8]}"
    token = mint(env, "*")
    with ComposeService(env, tmp_path / "api.log") as server, \
            closing(connect(env["DATABASE_URL"])) as blocker, closing(connect(env["DATABASE_URL"])) as watcher:
        assert server.request("POST", "/namespaces", {"slug": slug}, token=token)[0] == 201
        # Hold the project table so that a project created now waits, in flight, for the lock.
        blocker.cursor().execute("BEGIN; LOCK TABLE project IN EXCLUSIVE MODE")
        answer = []

        def create_project():
            try:
                answer.append(server.request("POST", f"/namespaces/{slug}/projects", {"slug": "slow"}, token=token))
            except OSError as e:  # the connection was dropped
                answer.append((e,))

        request = threading.Thread(target=create_project)
        request.start()
        waiting = watcher.cursor()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            waiting.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND wait_event_type = 'Lock'")
            if waiting.fetchone()[0]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the request never reached the database")

        server.process.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert server.process.poll() is None, "gunicorn exited with a request in flight"
        blocker.cursor().execute("COMMIT")
        request.join(30)

        assert answer and answer[0][0] == 201
        assert server.process.wait(10) == 0
        waiting.execute("SELECT count(*) FROM project WHERE slug = 'slow' AND deleted_at IS NULL")
        assert waiting.fetchone()[0] == 1
