"""Races (contract §5): real concurrent HTTP requests against gunicorn with several workers on
PostgreSQL. Uniqueness is decided by the database (one 201, the rest 409), member adds queue
on the collection's row (nothing lost, nothing doubled), and a delete racing any write leaves
no live collection in a deleted dataset. No request anywhere answers 5xx."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from urllib.parse import quote

import jwt as pyjwt
import pytest

from tests.support.databases import connect
from tests.support.live import LiveServer

pytestmark = pytest.mark.gunicorn  # every test here starts gunicorn

SECRET = "race-secret-" + "r" * 40
CLIENTS = 16


@pytest.fixture(scope="module")
def server(pg_url):
    env = {"DATABASE_URL": pg_url, "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "test", "DB_POOL_SIZE": "4"}
    with LiveServer(env, workers=4, worker_class="gthread", threads=4) as live:
        yield live


@pytest.fixture(scope="module")
def bearer():
    return pyjwt.encode({"sub": "racer", "exp": int(time.time()) + 3600, "namespaces": ["*"]}, SECRET, "HS256")


@pytest.fixture
def project(server, bearer, request):
    """A namespace of its own for each test, with project `p`: the path of the project."""
    slug = "race-" + "".join(c for c in request.node.name.lower() if c.isalnum())[-40:]
    assert server.request("POST", "/namespaces", {"slug": slug}, bearer)[0] == 201
    assert server.request("POST", f"/namespaces/{slug}/projects", {"slug": "p"}, bearer)[0] == 201
    return f"/namespaces/{slug}/projects/p"


class Client:
    """Requests against the live server that record every status, so that a test can check
    that none of them was a 5xx."""

    def __init__(self, server, bearer):
        self.server, self.bearer, self.statuses = server, bearer, []
        self._lock = threading.Lock()

    def __call__(self, method, path, body=None):
        status, _, payload = self.server.request(method, path, body, self.bearer, timeout=60)
        with self._lock:
            self.statuses.append(status)
        return status, payload

    def race(self, calls):
        """Run every (method, path, body) of `calls` at once, each from its own thread,
        released together; returns their (status, body) in order."""
        start = threading.Barrier(len(calls))

        def one(call):
            start.wait()
            return self(*call)

        with ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(one, calls))

    def ok(self, method, path, body=None, status=200):
        answered, payload = self(method, path, body)
        assert answered == status, (method, path, answered, payload)
        return payload

    def items(self, path, key):
        """Every item of a list, all pages."""
        found, page = [], 1
        while True:
            body = self.ok("GET", f"{path}{'&' if '?' in path else '?'}pageSize=200&page={page}")
            found += body[key]
            if page >= body["totalPages"]:
                return found, body["total"]
            page += 1


@pytest.fixture
def client(server, bearer):
    client = Client(server, bearer)
    yield client
    assert not [s for s in client.statuses if s >= 500], sorted(client.statuses)


def query(pg_url, sql, *params):
    with closing(connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def statuses(results):
    return sorted(status for status, _ in results)


@pytest.mark.parametrize("kind", ["datasets", "collections"])
def test_simultaneous_creates_of_one_name_give_one_201_and_fifteen_409(client, project, kind):
    body = {"name": "contested"} if kind == "datasets" else {"name": "contested", "members": ["a", "b", "c"]}
    results = client.race([("POST", f"{project}/{kind}", body)] * CLIENTS)
    assert statuses(results) == [201] + [409] * (CLIENTS - 1)
    for status, payload in results:
        if status == 409:
            assert payload["error"]["code"] == "conflict"
    items, total = client.items(f"{project}/{kind}", kind)
    assert [item["name"] for item in items] == ["contested"] and total == 1
    if kind == "collections":
        assert client.ok("GET", f"{project}/collections/contested")["members"] == ["a", "b", "c"]


@pytest.mark.parametrize("kind", ["datasets", "collections"])
def test_simultaneous_renames_onto_one_name_give_one_winner(client, project, kind):
    for i in range(CLIENTS):
        client.ok("POST", f"{project}/{kind}", {"name": f"r{i}"}, status=201)
    results = client.race([("PATCH", f"{project}/{kind}/r{i}", {"name": "winner"}) for i in range(CLIENTS)])
    assert statuses(results) == [200] + [409] * (CLIENTS - 1)
    winner = next(i for i, (status, _) in enumerate(results) if status == 200)
    items, total = client.items(f"{project}/{kind}", kind)
    assert sorted(item["name"] for item in items) == sorted(
        ["winner"] + [f"r{i}" for i in range(CLIENTS) if i != winner])
    assert total == CLIENTS


def test_concurrent_member_adds_to_one_collection_lose_nothing(client, project, pg_url):
    client.ok("POST", f"{project}/collections", {"name": "pool", "members": ["seed"]}, status=201)
    common = [f"common-{i}" for i in range(50)]
    own = [[f"c{c}-n{i}" for i in range(500)] for c in range(CLIENTS)]
    results = client.race([("POST", f"{project}/collections/pool/members", {"add": common + own[c]})
                           for c in range(CLIENTS)])
    assert statuses(results) == [200] * CLIENTS
    expected = 1 + len(common) + CLIENTS * 500
    assert sorted(payload["memberCount"] for _, payload in results)[-1] == expected

    collection = client.ok("GET", f"{project}/collections/pool")
    members = collection["members"]
    assert collection["memberCount"] == len(members) == len(set(members)) == expected
    assert set(members) == {"seed", *common, *(m for ids in own for m in ids)}
    for ids in own:  # each request's members keep their order, in one run
        start = members.index(ids[0])
        assert members[start:start + len(ids)] == ids
    (rows,), = query(pg_url, "SELECT count(*) FROM member m JOIN collection c ON c.id = m.collection_id "
                             "WHERE c.name = 'pool' AND c.namespace_id = (SELECT namespace_id FROM collection "
                             "WHERE id = %s)", collection["id"])
    assert rows == expected


def test_concurrent_deletes_of_one_dataset_delete_it_once(client, project):
    for name in ("gone", "kept"):
        client.ok("POST", f"{project}/datasets", {"name": name}, status=201)
    results = client.race([("DELETE", f"{project}/datasets/gone", None)] * CLIENTS)
    assert statuses(results) == [200] + [404] * (CLIENTS - 1)
    items, total = client.items(f"{project}/datasets", "datasets")
    assert [d["name"] for d in items] == ["kept"] and total == 1


def test_a_delete_racing_writes_to_its_dataset_leaves_a_consistent_state(client, project, pg_url):
    rounds = 6
    for i in range(rounds):
        client.ok("POST", f"{project}/datasets", {"name": f"d{i}"}, status=201)
        client.ok("POST", f"{project}/collections", {"name": f"in-d{i}", "dataset": f"d{i}", "members": ["m"]},
                  status=201)
        client.ok("POST", f"{project}/collections", {"name": f"loose-{i}"}, status=201)
    outcomes = []
    for i in range(rounds):
        dataset = f"{project}/datasets/d{i}"
        outcomes.append(client.race([
            ("DELETE", dataset, None),
            ("PATCH", dataset, {"description": f"patched {i}", "tags": ["x"]}),
            ("PATCH", f"{project}/collections/loose-{i}", {"dataset": f"d{i}"}),
            ("POST", f"{project}/collections", {"name": f"new-{i}", "dataset": f"d{i}", "members": ["n"]}),
            ("POST", f"{project}/collections/in-d{i}/members", {"add": ["m2"]}),
        ]))
    for i, (delete, patch, move, create, add) in enumerate(outcomes):
        assert delete[0] == 200, delete
        assert patch[0] in (200, 404) and move[0] in (200, 404) and create[0] in (201, 404), outcomes[i]
        assert add[0] == 200
        assert client("GET", f"{project}/datasets/d{i}")[0] == 404
        for name in (f"in-d{i}", f"loose-{i}") + ((f"new-{i}",) if create[0] == 201 else ()):
            assert client.ok("GET", f"{project}/collections/{quote(name)}")["dataset"] is None, (name, outcomes[i])
        assert client.ok("GET", f"{project}/collections/in-d{i}")["members"] == ["m", "m2"]
    items, total = client.items(f"{project}/datasets", "datasets")
    assert items == [] and total == 0
    orphans = query(pg_url, "SELECT c.name FROM collection c JOIN dataset d ON d.id = c.dataset_id "
                            "WHERE c.deleted_at IS NULL AND d.deleted_at IS NOT NULL")
    assert orphans == []


def test_versions_racing_writes_to_the_dataset_never_deadlock_and_freeze_one_moment(client, project):
    """V1 locks the dataset, then its collections; C4 and C1 lock the dataset they name before
    a collection; C5 and C6 lock one collection. Raced together, none waits for another in a
    circle (a deadlock would answer 503), and each version is what D3 showed at one moment."""
    client.ok("POST", f"{project}/datasets", {"name": "d"}, status=201)
    for name in ("a", "b"):
        client.ok("POST", f"{project}/collections", {"name": name, "dataset": "d", "members": ["m0"]}, status=201)
    rounds = 8
    for i in range(rounds):
        client.race([
            ("POST", f"{project}/datasets/d/versions", {"note": f"round {i}"}),
            ("PATCH", f"{project}/collections/a", {"dataset": "d", "name": "a"}),
            ("POST", f"{project}/collections/b/members", {"add": [f"m{i + 1}"]}),
            ("PATCH", f"{project}/datasets/d", {"description": f"round {i}"}),
            ("POST", f"{project}/datasets/d/versions", {}),
        ])
    assert set(client.statuses) <= {200, 201}, client.statuses
    versions, total = client.items(f"{project}/datasets/d/versions", "versions")
    assert total == 2 * rounds and [v["number"] for v in versions] == list(range(1, 2 * rounds + 1))
    previous = []
    for version in versions:  # b's members only grow, one per round: each version holds a prefix
        members = client.ok("GET", f"{project}/datasets/d/versions/{version['number']}")["dataset"]["collections"]
        held = next(c["members"] for c in members if c["name"] == "b")
        assert held == [f"m{i}" for i in range(len(held))] and len(held) >= len(previous)
        previous = held


def test_a_retry_racing_its_first_request_never_creates_twice(client, project, server, bearer):
    """The same POST with one Idempotency-Key, sent several times at once (a client that timed
    out and retried): exactly one dataset; each answer is the first one's, replayed, or a 409
    while the first still runs; never a 5xx."""
    for i in range(6):
        headers = {"Idempotency-Key": f"retry-{i}", "Authorization": f"Bearer {bearer}"}
        body = {"name": f"retried-{i}", "tags": ["t"]}
        start = threading.Barrier(4)

        def send(_, start=start, body=body, headers=headers):
            start.wait()
            return server.request("POST", f"{project}/datasets", body, headers=headers, timeout=60)

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(send, range(4)))
        created = [a for a in answers if a[0] == 201]
        assert created and all(a[0] in (201, 409) for a in answers), [a[0] for a in answers]
        assert len({a[2]["id"] for a in created}) == 1
        assert sum(1 for a in created if a[1].get("Idempotent-Replayed") != "true") == 1
        for status, _, payload in answers:
            if status == 409:
                assert "still running" in payload["error"]["message"]
        names = [d["name"] for d in client.items(f"{project}/datasets", "datasets")[0]]
        assert names.count(f"retried-{i}") == 1


def test_writes_racing_with_one_if_match_let_exactly_one_through(client, project, server, bearer):
    client.ok("POST", f"{project}/datasets", {"name": "d"}, status=201)
    client.ok("POST", f"{project}/collections", {"name": "c", "dataset": "d"}, status=201)
    for i in range(5):
        for path, bodies in ((f"{project}/datasets/d", [("PATCH", {"description": f"{i}-{n}"}) for n in range(4)]),
                             (f"{project}/collections/c", [("POST", {"add": [f"{i}-{n}"]}) for n in range(4)])):
            tag = server.request("GET", path, token=bearer)[1]["ETag"]
            target = path if bodies[0][0] == "PATCH" else f"{path}/members"
            start = threading.Barrier(len(bodies))

            def send(call, start=start, tag=tag, target=target):
                start.wait()
                return server.request(call[0], target, call[1], token=bearer, headers={"If-Match": tag}, timeout=60)

            with ThreadPoolExecutor(len(bodies)) as pool:
                statuses = sorted(answer[0] for answer in pool.map(send, bodies))
            assert statuses == [200, 412, 412, 412], (path, statuses)
    members = client.ok("GET", f"{project}/collections/c")["members"]
    assert len(members) == 5  # one add per round went through
