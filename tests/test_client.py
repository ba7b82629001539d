"""The Python client of client/ (registry_client) against the live service under gunicorn, on
both databases: the main path of every method, errors as exceptions, lists walked by cursor,
ETags, the token as a callable, and retries against real failures: a TCP proxy between client
and server that loses the answer to a request the server carried out, or refuses connections,
and the database made unavailable (503).

One gunicorn per database for the whole module; each test works in a namespace of its own."""
import os
import sqlite3
import threading
import time
import uuid
from contextlib import ExitStack, closing
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import httpx
import jwt
import pytest

from tests.support.databases import new_postgres_database
from tests.support.live import LiveServer, TCPProxy, burst

try:
    from registry_client import (
        NO_RETRY,
        UNSET,
        Collection,
        Conflict,
        ConnectionFailed,
        DatabaseUnavailable,
        Dataset,
        DatasetDetail,
        Forbidden,
        IdempotencyKeyReused,
        NotFound,
        PayloadTooLarge,
        PreconditionFailed,
        RegistryClient,
        RegistryError,
        Retry,
        Unauthorized,
        ValidationError,
    )
    from registry_client.retry import parse_retry_after
except ModuleNotFoundError:  # the client is a package of its own: .ci/run installs it
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip("registry_client is not installed: .venv/bin/pip install -e ./client", allow_module_level=True)

pytestmark = pytest.mark.gunicorn

SECRET = "client-secret-" + "c" * 40
SQLITE_LOCK_WAIT_MS = 500  # how long a SQLite write waits for a lock before its 503
FAST = Retry(attempts=4, backoff=0.001, max_backoff=0.01)  # retries without the waits


def mint(sub="client", namespaces=("*",), expires_in=600, **claims):
    return jwt.encode({"sub": sub, "exp": int(time.time()) + expires_in, "namespaces": list(namespaces), **claims},
                      SECRET, "HS256")


class LosingProxy(TCPProxy):
    """The TCP proxy of tests/support/live.py, put in front of gunicorn, which can also lose
    answers: after lose_next(), the server's next answer is not forwarded, and the connection
    is closed on both sides, as by a network that fails once the server has received the
    request and acted on it (gunicorn's sync workers answer one request a connection, after
    its transaction committed)."""

    def __init__(self, host, port):
        super().__init__(host, port)
        self._lock = threading.Lock()
        self._to_lose = 0
        self.lost = 0

    def lose_next(self, count=1):
        with self._lock:
            self._to_lose = count

    def drops_answer(self):
        with self._lock:
            if self._to_lose:
                self._to_lose -= 1
                self.lost += 1
                return True
            return False


class Recorder(httpx.BaseTransport):
    """httpx's own transport, keeping each attempt's request and what came of it (a response,
    or the exception); `after(request, outcome)` runs as each attempt ends."""

    def __init__(self):
        self.inner = httpx.HTTPTransport()
        self.requests, self.outcomes = [], []
        self.after = None

    def handle_request(self, request):
        self.requests.append(request)
        try:
            outcome = self.inner.handle_request(request)
        except Exception as exc:
            self.outcomes.append(exc)
            if self.after:
                self.after(request, exc)
            raise
        self.outcomes.append(outcome)
        if self.after:
            self.after(request, outcome)
        return outcome

    def close(self):
        self.inner.close()

    def statuses(self):
        return [o.status_code if isinstance(o, httpx.Response) else type(o).__name__ for o in self.outcomes]

    def header(self, name):
        return [r.headers.get(name) for r in self.requests]


# -- the service, once per database ------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request):
    return request.param


@pytest.fixture(scope="module")
def database(request, backend, tmp_path_factory):
    """(the service's DATABASE_URL, what can make it unavailable): a SQLite file, or a new
    PostgreSQL database reached through a TCP proxy that can be cut."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("client") / "registry.sqlite3"
        yield f"sqlite:///{path}", path
        return
    with ExitStack() as stack:
        url = stack.enter_context(new_postgres_database(request.getfixturevalue("pg_url")))
        parsed = urlparse(url)
        proxy = stack.enter_context(TCPProxy(parsed.hostname, parsed.port or 5432))
        auth = parsed.netloc.rsplit("@", 1)[0] + "@" if "@" in parsed.netloc else ""
        yield parsed._replace(netloc=f"{auth}127.0.0.1:{proxy.port}").geturl(), proxy


@pytest.fixture(scope="module")
def server(database):
    url, _ = database
    env = {"DATABASE_URL": url, "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "test"}
    if url.startswith("sqlite"):
        env["DB_STATEMENT_TIMEOUT_MS"] = str(SQLITE_LOCK_WAIT_MS)
    with LiveServer(env) as live:
        yield live


@pytest.fixture(scope="module")
def front(server):
    """The losing proxy in front of the server."""
    with LosingProxy("127.0.0.1", server.port) as proxy:
        yield proxy


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def registry(server, recorder):
    """A client of the server, its attempts recorded, retrying without waiting."""
    with RegistryClient(server.url, mint(), retry=FAST, transport=recorder) as client:
        yield client


@pytest.fixture
def project(registry):
    """A project of a namespace of this test's own."""
    namespace = f"t-{uuid.uuid4().hex[:12]}"
    registry.create_namespace(namespace)
    registry.create_project(namespace, "vision")
    return registry.project(namespace, "vision")


def front_url(front):
    return f"http://127.0.0.1:{front.port}"


def through_front(front, project, token=None):
    """(a client through the losing proxy, its handle on `project`, its Recorder)."""
    recorder = Recorder()
    client = RegistryClient(front_url(front), token or mint(), retry=FAST, transport=recorder)
    return client, client.project(project.namespace, project.slug), recorder


# -- the main path of every method ---------------------------------------------------------------------


def test_namespaces_and_projects(registry, recorder):
    slug = f"n-{uuid.uuid4().hex[:12]}"
    created = registry.create_namespace(slug, "Namespace N")
    assert (created.slug, created.name, created.created_at.tzinfo) == (slug, "Namespace N", UTC)
    got = registry.get_namespace(slug)
    assert got.id == created.id and got.etag and got.etag.startswith('"')
    assert [n.slug for n in registry.list_namespaces(page_size=200) if n.slug == slug] == [slug]

    project = registry.create_project(slug, "vision", name="Vision", description="Camera perception")
    assert (project.slug, project.name, project.description, project.namespace_id) == \
        ("vision", "Vision", "Camera perception", created.id)
    assert registry.get_project(slug, "vision").etag
    registry.create_project(slug, "lidar")
    assert [p.slug for p in registry.list_projects(slug, page_size=1)] == ["vision", "lidar"]
    assert registry.project(slug, "lidar").get().slug == "lidar"

    posts = [r for r in recorder.requests if r.method == "POST"]
    assert len(posts) == 3 and len({r.headers["Idempotency-Key"] for r in posts}) == 3  # one key a call


def test_datasets(project):
    created = project.create_dataset("training-v2", description="Q1 training data", tags=["q1", "lidar"],
                                     metadata={"source": "fleet-7", "drives": [1, 2]})
    assert isinstance(created, Dataset)
    assert (created.name, created.tags, created.metadata, created.created_by) == \
        ("training-v2", ["q1", "lidar"], {"source": "fleet-7", "drives": [1, 2]}, "client")
    project.create_dataset("eval-v1", tags=["q2"])

    detail = project.get_dataset("training-v2")
    assert isinstance(detail, DatasetDetail)
    assert (detail.id, detail.description, detail.collections, bool(detail.etag)) == \
        (created.id, "Q1 training data", [], True)
    assert [d.name for d in project.list_datasets()] == ["training-v2", "eval-v1"]
    assert [d.name for d in project.list_datasets(tags=["q1", "lidar"])] == ["training-v2"]

    updated = project.update_dataset("training-v2", new_name="training-v3", description=None,
                                     metadata={"owner": "perception"}, tags=["q1"], etag=detail.etag)
    assert (updated.name, updated.description, updated.metadata, updated.tags) == \
        ("training-v3", None, {"owner": "perception"}, ["q1"])
    assert updated.etag == project.get_dataset("training-v3").etag != detail.etag
    assert project.update_dataset("training-v3").description is None  # nothing given: nothing changes

    assert project.delete_dataset("training-v3") is None
    with pytest.raises(NotFound):
        project.get_dataset("training-v3")
    # Names are encoded in the URL: whatever characters a name may hold.
    odd = "café v2?#%&+ 100%"
    project.create_dataset(odd)
    assert project.get_dataset(odd).name == odd


def test_collections_and_members(project):
    project.create_dataset("training-v2")
    clips = project.create_collection("front-camera-clips", dataset="training-v2",
                                      members=["clip-1", "clip-2", "clip-3"])
    assert isinstance(clips, Collection)
    assert (clips.dataset, clips.member_count) == ("training-v2", 3)
    edge = project.create_collection("edge-cases", members=["clip-3", "clip-4"])
    assert edge.dataset is None

    assert [c.name for c in project.list_collections()] == ["front-camera-clips", "edge-cases"]
    assert [c.name for c in project.list_collections(dataset="training-v2")] == ["front-camera-clips"]
    assert [c.name for c in project.list_collections(standalone=True)] == ["edge-cases"]

    got = project.get_collection("front-camera-clips")
    assert (got.members, got.member_count, bool(got.etag)) == (["clip-1", "clip-2", "clip-3"], 3, True)
    changed = project.change_members("front-camera-clips", add=["clip-9", "clip-10"], remove=["clip-1"])
    assert changed.member_count == 4 and changed.etag == project.get_collection("front-camera-clips").etag
    assert list(project.members("front-camera-clips", page_size=3)) == ["clip-2", "clip-3", "clip-9", "clip-10"]

    for op, expected in (("union", ["clip-2", "clip-3", "clip-9", "clip-10", "clip-4"]),
                         ("intersection", ["clip-3"]), ("difference", ["clip-2", "clip-9", "clip-10"])):
        made = project.create_collection(f"{op}-set", **{op: ["front-camera-clips", "edge-cases"]})
        assert project.get_collection(made.name).members == expected, op

    moved = project.update_collection("edge-cases", new_name="edges", dataset="training-v2")
    assert (moved.name, moved.dataset) == ("edges", "training-v2")
    assert project.update_collection("edges", dataset=None).dataset is None
    assert project.delete_collection("edges") is None
    assert [d.name for d in project.get_dataset("training-v2").collections] == ["front-camera-clips"]


def test_a_training_run_records_a_version_and_reads_it_back(project):
    project.create_dataset("training-v2", description="Q1 training data")
    project.create_collection("front-camera-clips", dataset="training-v2", members=["clip-1", "clip-2"])
    project.create_version("training-v2")
    project.create_version("training-v2")
    version = project.create_version("training-v2", note="resnet50 run")
    ref = f"training-v2@{version.number}"
    assert (ref, version.note, version.collection_count, version.member_count) == ("training-v2@3", "resnet50 run",
                                                                                   1, 2)

    project.change_members("front-camera-clips", add=["clip-3"], remove=["clip-1"])
    project.update_dataset("training-v2", description="Q2 training data")
    name, _, number = ref.rpartition("@")
    frozen = project.get_version(name, int(number))
    assert (frozen.number, frozen.note, frozen.dataset.description, bool(frozen.etag)) == \
        (3, "resnet50 run", "Q1 training data", True)
    assert [(c.name, c.members) for c in frozen.dataset.collections] == [("front-camera-clips", ["clip-1", "clip-2"])]
    assert [v.number for v in project.list_versions("training-v2", page_size=2)] == [1, 2, 3]

    diff = project.diff_versions("training-v2", 3)
    assert (diff.from_, diff.to) == (3, "current")
    assert (diff.dataset["description"].from_, diff.dataset["description"].to) == ("Q1 training data",
                                                                                   "Q2 training data")
    assert [(m.name, m.added, m.removed) for m in diff.collections.members] == \
        [("front-camera-clips", ["clip-3"], ["clip-1"])]
    assert project.diff_versions("training-v2", 1, 3).collections.members == []


def test_trash_restore_and_purge(project):
    project.create_dataset("scratch")
    project.create_dataset("doomed")
    project.create_collection("clips", dataset="scratch", members=["a"])
    project.create_collection("loose", members=["b"])
    project.delete_dataset("scratch")
    project.delete_collection("loose")
    project.delete_dataset("doomed")

    items = list(project.trash(page_size=1))
    assert [(i.kind, i.name, i.deleted_by) for i in items] == \
        [("dataset", "doomed", "client"), ("collection", "loose", "client"), ("dataset", "scratch", "client")]
    assert [i.name for i in project.trash(kind="collection")] == ["loose"]
    ids = {i.name: i.id for i in items}

    restored = project.restore_dataset(ids["scratch"], name="scratch-back")
    assert restored.name == "scratch-back"
    assert [c.name for c in project.get_dataset("scratch-back").collections] == ["clips"]
    assert project.restore_collection(ids["loose"]).name == "loose"
    assert project.get_collection("loose").members == ["b"]

    project.purge_dataset(ids["doomed"])
    with pytest.raises(NotFound):
        project.restore_dataset(ids["doomed"])
    project.delete_collection("loose")
    loose = next(i.id for i in project.trash(kind="collection"))
    project.purge_collection(loose)
    assert list(project.trash()) == []


def test_which_collections_hold_a_node(project, recorder):
    project.create_dataset("training-v2")
    odd = ["clips/2026-04-15/cam-1", "a//b/", ".", "..", "x%y?z#"]
    project.create_collection("front", dataset="training-v2", members=["clip-1", *odd])
    project.create_collection("edge", members=["clip-1"])
    assert [(c.name, c.dataset) for c in project.collections_holding("clip-1")] == [("front", "training-v2"),
                                                                                     ("edge", None)]
    for node in odd:  # a node ID as it is, `/`, dots and all
        assert [c.name for c in project.collections_holding(node)] == ["front"], node
    assert project.collections_holding("nowhere") == []

    results = project.lookup_nodes(["clip-1", "clip-404", "a//b/"])
    assert list(results) == ["clip-1", "clip-404", "a//b/"]
    assert [c.name for c in results["clip-1"]] == ["front", "edge"] and results["clip-404"] == []
    lookup = next(r for r in recorder.requests if r.url.path.endswith("/nodes/lookup"))
    assert "Idempotency-Key" not in lookup.headers  # a read: nothing to replay, no answer stored


# -- errors ----------------------------------------------------------------------------------------------


def test_errors_are_raised_as_exceptions_by_their_code(server, registry, project, recorder):
    with pytest.raises(ValidationError) as caught:
        project.create_dataset(" padded")
    error = caught.value
    assert isinstance(error, RegistryError)
    assert (error.status, error.code, error.fields) == (400, "validation_error",
                                                        {"name": ["Must not start or end with white space."]})
    assert error.message == "name: Must not start or end with white space." and error.attempts == 1
    assert error.request_id == recorder.requests[-1].headers["X-Request-ID"]
    with pytest.raises(ValidationError) as caught:
        project.list_datasets(page_size=0)  # the first page is asked for by the call
    assert set(caught.value.fields) == {"pageSize"}

    project.create_dataset("taken")
    with pytest.raises(Conflict) as caught:
        project.create_dataset("taken")
    assert (caught.value.status, caught.value.code) == (409, "conflict")
    with pytest.raises(NotFound) as caught:
        project.get_collection("missing")
    assert caught.value.message == "collection 'missing' not found"
    with pytest.raises(NotFound):
        registry.project(project.namespace, "nope").list_datasets()
    with pytest.raises(PayloadTooLarge):
        project.create_dataset("big", description="x" * 1_100_000)

    project.create_dataset("once", idempotency_key=f"key-{project.namespace}")
    assert project.create_dataset("once", idempotency_key=f"key-{project.namespace}").name == "once"  # a replay
    with pytest.raises(IdempotencyKeyReused) as caught:
        project.create_dataset("other", idempotency_key=f"key-{project.namespace}")
    assert caught.value.status == 422

    with RegistryClient(server.url, mint(namespaces=[project.namespace])) as scoped:
        with pytest.raises(Forbidden):
            scoped.create_namespace(f"f-{uuid.uuid4().hex[:8]}")
        with pytest.raises(NotFound):  # a namespace outside the token's is as one that does not exist
            scoped.get_namespace("somewhere-else")
    for bad in ("not-a-jwt", mint(expires_in=-10)):
        with RegistryClient(server.url, bad) as client, pytest.raises(Unauthorized) as caught:
            client.get_namespace(project.namespace)
        assert (caught.value.status, caught.value.code, caught.value.attempts) == (401, "unauthorized", 1)
    assert 503 not in recorder.statuses()  # none of these was retried


# -- cursors ----------------------------------------------------------------------------------------------


def test_lists_are_walked_by_cursor_across_pages(project, recorder):
    for i in range(7):
        project.create_dataset(f"d{i}", tags=["walk"] if i % 2 == 0 else [])
    start = len(recorder.requests)
    walk = project.list_datasets(page_size=3)
    seen = [next(walk).name for _ in range(3)]
    project.create_dataset("d7")  # created during the walk, after its cursor: it appears
    project.delete_dataset("d5")  # deleted before the walk reaches it: it does not
    seen += [d.name for d in walk]
    assert seen == ["d0", "d1", "d2", "d3", "d4", "d6", "d7"]
    pages = [r for r in recorder.requests[start:] if r.method == "GET"]
    assert len(pages) == 3
    queries = [dict(r.url.params) for r in pages]
    assert queries[0] == {"pageSize": "3"}
    assert all(set(q) == {"pageSize", "cursor"} for q in queries[1:])  # never a page number
    assert [d.name for d in project.list_datasets(tags=["walk"], page_size=1)] == ["d0", "d2", "d4", "d6"]

    project.create_collection("big", members=[f"n{i}" for i in range(25)])
    assert list(project.members("big", page_size=10)) == [f"n{i}" for i in range(25)]
    members_pages = [r.url.params for r in recorder.requests if r.method == "GET" and r.url.path.endswith("/members")]
    assert [p.get("limit") for p in members_pages] == ["10"] * 3 and "cursor" in members_pages[-1]


# -- ETags --------------------------------------------------------------------------------------------------


def test_a_stale_etag_is_a_412_and_changes_nothing(project):
    project.create_dataset("training-v2", description="v1")
    project.create_collection("clips", dataset="training-v2", members=["a"])
    first = project.get_dataset("training-v2")
    second = project.update_dataset("training-v2", description="v2", etag=first.etag)  # read-modify-write
    with pytest.raises(PreconditionFailed) as caught:
        project.update_dataset("training-v2", description="lost update", etag=first.etag)
    assert (caught.value.status, caught.value.code) == (412, "precondition_failed")
    with pytest.raises(PreconditionFailed):
        project.delete_dataset("training-v2", etag=first.etag)
    assert project.get_dataset("training-v2").description == "v2"
    assert project.update_dataset("training-v2", tags=["t"], etag=second.etag.strip('"')).tags == ["t"]  # bare tag

    clips = project.get_collection("clips")
    project.change_members("clips", add=["b"], etag=clips.etag)
    for edit in (lambda: project.change_members("clips", add=["c"], etag=clips.etag),
                 lambda: project.update_collection("clips", new_name="renamed", etag=clips.etag),
                 lambda: project.delete_collection("clips", etag=clips.etag)):
        with pytest.raises(PreconditionFailed):
            edit()
    current = project.get_collection("clips")
    assert (current.name, current.members) == ("clips", ["a", "b"])
    project.delete_collection("clips", etag=current.etag)
    project.delete_dataset("training-v2", etag=project.get_dataset("training-v2").etag)


# -- retries ------------------------------------------------------------------------------------------------


def _count(project, name):
    return [d.name for d in project.list_datasets(page_size=200)].count(name)


def test_a_post_whose_answer_was_lost_is_retried_with_its_key_and_writes_once(front, project):
    client, remote, recorder = through_front(front, project)
    with client:
        front.lose_next()
        created = remote.create_dataset("training-v2", tags=["q1"])
        assert created.name == "training-v2" and front.lost == 1
        assert recorder.statuses() == ["RemoteProtocolError", 201]
        keys = recorder.header("Idempotency-Key")
        assert keys[0] and keys[0] == keys[1]
        assert recorder.outcomes[1].headers["Idempotent-Replayed"] == "true"  # the first attempt's answer
        assert _count(project, "training-v2") == 1

        front.lose_next()  # a version has no name to collide on: without the key, this would make two
        version = remote.create_version("training-v2", note="run 42")
        assert version.number == 1 and front.lost == 2
        assert [v.number for v in project.list_versions("training-v2")] == [1]


def test_after_a_lost_answer_a_patch_is_sent_again_only_with_an_etag(front, project):
    project.create_dataset("training-v2", description="v1")
    client, remote, recorder = through_front(front, project)
    with client:
        front.lose_next()
        with pytest.raises(ConnectionFailed) as caught:
            remote.update_dataset("training-v2", description="v2")
        assert caught.value.attempts == 1 and caught.value.status is None
        assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
        assert project.get_dataset("training-v2").description == "v2"  # it did take effect

        # With an etag it is sent again: it cannot overwrite anyone's change, and when the
        # first attempt took effect the second answers 412 (the README says so).
        front.lose_next()
        with pytest.raises(PreconditionFailed) as caught:
            remote.update_dataset("training-v2", description="v3", etag=project.get_dataset("training-v2").etag)
        assert caught.value.attempts == 2
        assert project.get_dataset("training-v2").description == "v3"

        # A DELETE is sent again; a 404 after a lost answer means the first attempt deleted it.
        front.lose_next()
        assert remote.delete_dataset("training-v2") is None
        assert recorder.statuses()[-2:] == ["RemoteProtocolError", 404]
        assert [i.name for i in project.trash()] == ["training-v2"]


def test_refused_connections_are_retried_whatever_the_method(front, project):
    project.create_dataset("training-v2")
    client, remote, recorder = through_front(front, project)
    recorder.after = lambda request, outcome: isinstance(outcome, httpx.ConnectError) and front.restore()
    with client:
        front.cut()  # refuses connections: the request never left, so even a PATCH goes again
        assert remote.update_dataset("training-v2", description="v2").description == "v2"
        assert recorder.statuses() == ["ConnectError", 200]
        front.cut()
        recorder.after = None
        with pytest.raises(ConnectionFailed) as caught:
            remote.get_dataset("training-v2")
        assert caught.value.attempts == FAST.attempts and recorder.statuses()[2:] == ["ConnectError"] * 4
        front.restore()
        assert remote.get_dataset("training-v2").description == "v2"


class Outage:
    """The service's database made unavailable: PostgreSQL's proxy cut, or SQLite's file held
    by a writer of this test (the service's writes then wait SQLITE_LOCK_WAIT_MS and answer
    503); back() makes it available again."""

    def __init__(self, database, server):
        self.url, self.handle = database
        self.server = server
        self.sqlite = None

    def start(self):
        if isinstance(self.handle, TCPProxy):
            self.handle.cut()
        else:
            self.sqlite = sqlite3.connect(self.handle, isolation_level=None)
            self.sqlite.execute("BEGIN IMMEDIATE")

    def back(self, *_):
        if isinstance(self.handle, TCPProxy):
            self.handle.restore()
            # Until each worker has found its pooled connections dead (a 503 each), and
            # recovered: then no later test meets a stale one.
            for _ in range(20):
                if burst(self.server, "/readyz", count=12) == {200}:
                    break
        elif self.sqlite is not None:
            with closing(self.sqlite):
                self.sqlite.execute("ROLLBACK")
            self.sqlite = None


def test_503_is_retried_with_backoff_honouring_retry_after(database, server, project):
    recorder, waits = Recorder(), []
    retry = Retry(attempts=6, backoff=0.001, max_backoff=5.0, sleep=waits.append)  # waits recorded, not waited
    outage = Outage(database, server)
    with RegistryClient(server.url, mint(), retry=retry, transport=recorder) as client:
        remote = client.project(project.namespace, project.slug)
        recorder.after = lambda request, outcome: getattr(outcome, "status_code", None) == 503 and outage.back()
        outage.start()
        try:
            created = remote.create_dataset("training-v2")
        finally:
            outage.back()
    statuses = recorder.statuses()
    assert created.name == "training-v2" and statuses[-1] == 201
    assert len(statuses) >= 2 and set(statuses[:-1]) == {503}  # 503 then, once the database is back, 201
    assert len(set(recorder.header("Idempotency-Key"))) == 1
    assert waits == [1.0] * (len(statuses) - 1)  # Retry-After: 1 (the service's), above the backoff
    assert _count(project, "training-v2") == 1


def test_503_retries_are_bounded(database, server, project):
    recorder, waits = Recorder(), []
    retry = Retry(attempts=3, backoff=0.001, max_backoff=0.01, sleep=waits.append)
    outage = Outage(database, server)
    with RegistryClient(server.url, mint(), retry=retry, transport=recorder) as client:
        outage.start()
        try:
            with pytest.raises(DatabaseUnavailable) as caught:
                client.project(project.namespace, project.slug).create_dataset("never")
        finally:
            outage.back()
    assert (caught.value.status, caught.value.code, caught.value.attempts) == (503, "database_unavailable", 3)
    assert recorder.statuses() == [503, 503, 503] and waits == [0.01, 0.01]  # Retry-After capped by max_backoff
    with pytest.raises(NotFound):
        project.get_dataset("never")


# -- tokens -------------------------------------------------------------------------------------------------


def test_a_token_callable_is_called_for_every_attempt(front, project):
    calls = []

    def fresh():
        calls.append(1)
        return mint(sub="rotating", jti=str(len(calls)))

    client, remote, recorder = through_front(front, project, token=fresh)
    with client:
        assert remote.create_dataset("training-v2").created_by == "rotating"
        front.lose_next()
        remote.create_version("training-v2")
        assert len(calls) == len(recorder.requests) == 3
        assert len(set(recorder.header("Authorization"))) == 3  # a fresh token each time

    expired = iter([mint(expires_in=-10)])
    with RegistryClient(front_url(front), lambda: next(expired), retry=FAST) as client:
        with pytest.raises(Unauthorized) as caught:  # a 401 is not retried: the callable hands out fresh ones
            client.project(project.namespace, project.slug).get_dataset("training-v2")
        assert caught.value.attempts == 1


# -- the retry policy by itself ----------------------------------------------------------------------------


def test_backoff_grows_with_jitter_within_its_bounds():
    low = Retry(backoff=0.5, max_backoff=3.0, random=lambda: 0.0)
    high = Retry(backoff=0.5, max_backoff=3.0, random=lambda: 1.0)
    assert [low.delay(n) for n in (1, 2, 3, 4, 5)] == [0.25, 0.5, 1.0, 1.5, 1.5]
    assert [high.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert low.delay(1, retry_after=2.0) == 2.0 and low.delay(1, retry_after=60.0) == 3.0
    assert NO_RETRY.attempts == 1
    with pytest.raises(ValueError):
        Retry(attempts=0)
    now = datetime(2026, 4, 15, 10, 30, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, now=now) == 30.0
    assert UNSET is not None and repr(UNSET) == "UNSET"
