"""Database faults, against a real gunicorn on PostgreSQL: the database going away under load
(fast 503s, recovery without a restart), a database that accepts connections but never
answers (bounded by the connect timeout), statements bounded by statement_timeout, and a
connection killed in the middle of a multi-statement write (nothing half-written)."""
import socket
import threading
import time
from collections import namedtuple
from contextlib import closing, contextmanager
from urllib.parse import urlparse

import jwt as pyjwt
import psycopg2
import pytest

from service import create_app
from service.db import db
from tests.support.databases import connect
from tests.support.live import LiveServer, TCPProxy
from tests.support.processes import worker_pids

SECRET = "fault-secret-" + "f" * 40
CONNECT_TIMEOUT = 2  # libpq's smallest connect_timeout
STATEMENT_TIMEOUT_MS = 4000
BOUND = CONNECT_TIMEOUT + 2  # seconds any request may take while the database is away


def env_for(url, **extra):
    return {"DATABASE_URL": url, "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "test",
            "DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT), "DB_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
            **extra}


def through(url, port):
    """`url` with its host and port replaced by 127.0.0.1:`port`."""
    parsed = urlparse(url)
    auth = parsed.netloc.rsplit("@", 1)[0] + "@" if "@" in parsed.netloc else ""
    return parsed._replace(netloc=f"{auth}127.0.0.1:{port}").geturl()


@pytest.fixture(scope="module")
def bearer():
    return pyjwt.encode({"sub": "ops", "exp": int(time.time()) + 3600, "namespaces": ["*"]}, SECRET, "HS256")


@pytest.fixture(scope="module")
def proxy(pg_url):
    target = urlparse(pg_url)
    with TCPProxy(target.hostname, target.port or 5432) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def server(pg_url, proxy):
    """gunicorn (2 workers of 2 threads) reaching PostgreSQL through the cuttable proxy."""
    with LiveServer(env_for(through(pg_url, proxy.port)), workers=2, worker_class="gthread", threads=2) as live:
        yield live


@pytest.fixture(scope="module")
def project(server, bearer):
    for path, body in (("/namespaces", {"slug": "faults"}), ("/namespaces/faults/projects", {"slug": "p"})):
        assert server.request("POST", path, body, bearer)[0] == 201
    return "/namespaces/faults/projects/p"


def timed(server, bearer, method, path, body=None):
    """(status, error code or None, seconds taken)."""
    started = time.monotonic()
    status, _, payload = server.request(method, path, body, bearer, timeout=60)
    code = payload["error"]["code"] if status >= 400 and payload else None
    return status, code, time.monotonic() - started


def test_statement_timeout_is_set_on_the_service_connections(pg_url):
    app = create_app({"DATABASE_URL": pg_url, "JWT_SECRET_KEY": SECRET, "DB_STATEMENT_TIMEOUT_MS": 1234})
    with app.app_context(), db.connection_context():
        assert db.execute_sql("SHOW statement_timeout").fetchone() == ("1234ms",)
    db.obj.close_all()


@contextmanager
def locked(pg_url, table):
    """Another client holds `table` in SHARE mode (reads pass, writes wait) until the block ends."""
    with closing(psycopg2.connect(pg_url, connect_timeout=3)) as conn, conn.cursor() as cur:
        cur.execute(f'LOCK TABLE "{table}" IN SHARE MODE')
        yield cur
        conn.rollback()


def waiting_backend(cur, table, deadline=10):
    """The PID of the backend of this database that waits for a lock to write `table`."""
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        cur.execute("SELECT pg_stat_clear_snapshot()")  # a transaction sees one snapshot otherwise
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND wait_event_type = 'Lock' AND query ILIKE %s", (f'%"{table}"%',))
        row = cur.fetchone()
        if row:
            return row[0]
        time.sleep(0.02)
    raise AssertionError(f"no request came to wait for {table}")


def in_background(fn, *args):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", fn(*args)))
    thread.start()
    return thread, result


@pytest.mark.gunicorn
def test_a_statement_waiting_past_statement_timeout_is_a_503_that_wrote_nothing(server, bearer, project, pg_url):
    with locked(pg_url, "dataset"):
        status, code, seconds = timed(server, bearer, "POST", f"{project}/datasets", {"name": "slow"})
    assert (status, code) == (503, "database_unavailable")
    assert STATEMENT_TIMEOUT_MS / 1000 - 0.5 < seconds < STATEMENT_TIMEOUT_MS / 1000 + 2
    assert server.request("GET", f"{project}/datasets/slow", token=bearer)[0] == 404
    assert server.request("POST", f"{project}/datasets", {"name": "slow"}, bearer)[0] == 201


def _member_rows(pg_url, collection_name):
    with closing(connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM member m JOIN collection c ON c.id = m.collection_id "
                    "JOIN namespace n ON n.id = c.namespace_id WHERE n.slug = 'faults' AND c.name = %s",
                    (collection_name,))
        return cur.fetchone()[0]


def _state(server, bearer, project):
    """What the API shows of the project, in full."""
    get = lambda path: server.request("GET", f"{project}/{path}", token=bearer)[2]  # noqa: E731
    collections = get("collections?pageSize=200")
    return {"datasets": get("datasets?pageSize=200"), "collections": collections,
            "members": {c["name"]: get(f"collections/{c['name']}")["members"] for c in collections["collections"]}}


# The multi-statement writes, each made to wait at a statement after its first write.
KILLED = {
    "D5 delete: dataset marked, collections not yet detached": (
        "collection", "DELETE", "datasets/doomed", None),
    "C1 create with members: collection inserted, members not yet": (
        "member", "POST", "collections", {"name": "half", "dataset": "doomed", "members": ["a", "b", "c"]}),
    "C5 members: members inserted, count not yet updated": (
        "collection", "POST", "collections/kept/members", {"add": ["x", "y"], "remove": ["k1"]}),
}


@pytest.mark.gunicorn
@pytest.mark.parametrize("case", KILLED)
def test_a_connection_killed_in_the_middle_of_a_write_leaves_nothing_half_written(
        server, bearer, project, pg_url, case):
    table, method, path, body = KILLED[case]
    for create, payload in (("datasets", {"name": "doomed"}),
                            ("collections", {"name": "kept", "dataset": "doomed", "members": ["k1", "k2"]})):
        server.request("POST", f"{project}/{create}", payload, bearer)  # 201, or 409 from a previous case
    before = _state(server, bearer, project)
    rows_before = _member_rows(pg_url, "half"), _member_rows(pg_url, "kept")

    with locked(pg_url, table) as cur:
        thread, result = in_background(timed, server, bearer, method, f"{project}/{path}", body)
        pid = waiting_backend(cur, table)
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert cur.fetchone() == (True,)
        thread.join(BOUND)
    status, code, seconds = result["value"]
    assert (status, code) == (503, "database_unavailable") and seconds < STATEMENT_TIMEOUT_MS / 1000

    assert _state(server, bearer, project) == before
    assert (_member_rows(pg_url, "half"), _member_rows(pg_url, "kept")) == rows_before
    status, _, _ = timed(server, bearer, method, f"{project}/{path}", body)  # recovered: the write now succeeds
    assert status in (200, 201)


@pytest.mark.gunicorn
def test_a_database_that_never_answers_gives_503_within_the_connect_timeout(bearer, pg_url):
    with socket.create_server(("127.0.0.1", 0), backlog=64) as silent:  # accepts TCP, never speaks
        url = through(pg_url, silent.getsockname()[1])
        with LiveServer(env_for(url), workers=1, worker_class="gthread", threads=4) as live:
            assert timed(live, bearer, "GET", "/healthz")[0] == 200
            results = []
            threads = [threading.Thread(target=lambda p=path: results.append(timed(live, bearer, "GET", p)))
                       for path in ("/readyz", "/namespaces", "/namespaces/x/projects", "/namespaces/y")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
    assert len(results) == 4
    for status, code, seconds in results:
        assert (status, code) == (503, "database_unavailable") and seconds < BOUND, results


Entry = namedtuple("Entry", "at method path name status code seconds")  # at: when it was sent


@pytest.mark.gunicorn
def test_database_gone_under_load_gives_fast_503s_and_the_service_recovers_without_restart(
        server, bearer, project, proxy):
    workers = worker_pids(server.process.pid)
    log, stop = [], threading.Event()

    def load(n):
        i = 0
        while not stop.is_set():
            i += 1
            name = f"load-{n}-{i}"
            for method, path, body in (("POST", f"{project}/datasets", {"name": name}),
                                       ("GET", f"{project}/datasets/{name}", None),
                                       ("GET", "/readyz", None)):
                log.append(Entry(time.monotonic(), method, path, name, *timed(server, bearer, method, path, body)))

    threads = [threading.Thread(target=load, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    cut_at = time.monotonic()
    proxy.cut()
    time.sleep(3)
    restored_at = time.monotonic()
    proxy.restore()
    deadline = restored_at + 15
    while time.monotonic() < deadline and not any(e.at > restored_at and e.status == 200 for e in log):
        time.sleep(0.2)
    time.sleep(1.5)
    stop.set()
    for thread in threads:
        thread.join(BOUND + 5)

    assert max(e.seconds for e in log) < BOUND
    assert not [e for e in log if e.status >= 500 and (e.status, e.code) != (503, "database_unavailable")]
    away = [e for e in log if cut_at + 0.5 < e.at and e.at + e.seconds < restored_at]
    assert away and not [e for e in away if (e.status, e.code) != (503, "database_unavailable")]
    recovered = [e.at for e in log if e.at > restored_at and e.status == 200]
    assert recovered, "the service did not recover after the database came back"
    settled = [e for e in log if e.at > recovered[0] + 1]
    assert settled and not [e for e in settled if e.status >= 500]
    assert worker_pids(server.process.pid) == workers  # recovered without a restart
    for e in log:  # every acknowledged create is there
        if e.method == "POST" and e.status == 201:
            assert server.request("GET", f"{project}/datasets/{e.name}", token=bearer)[0] == 200, e
