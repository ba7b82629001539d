"""GET /metrics (contract §8.5): requests by endpoint, method and status, the duration and
roundtrip histograms by endpoint, and the 503 database_unavailable answers; in process on both
databases, and through gunicorn with 2 workers, where the counts of both add up (and survive a
worker's restart)."""
import os
import signal
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import jwt as pyjwt
import pytest
from peewee import OperationalError
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from service import config
from service.db import db
from tests.support.api import NS, error_code, queries
from tests.support.live import LiveServer
from tests.support.processes import worker_pids

REQUESTS = "registry_http_requests_total"
DURATION = "registry_http_request_duration_seconds"
ROUNDTRIPS = "registry_http_request_db_roundtrips"
UNAVAILABLE = "registry_database_unavailable_total"


def samples(text):
    """{(sample name, ((label, value), ...)): value} of an exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(client):
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain", response.status_code
    return samples(response.get_data(as_text=True))


def by_labels(found, name):
    """{labels as a dict's items: value} of one sample name."""
    return {labels: value for (sample, labels), value in found.items() if sample == name}


def requests_of(found):
    return {(labels["endpoint"], labels["method"], labels["status"]): value
            for labels, value in ((dict(k), v) for k, v in by_labels(found, REQUESTS).items())}


def per_endpoint(found, name):
    return {dict(labels)["endpoint"]: value for labels, value in by_labels(found, name).items()}


def test_requests_are_counted_by_endpoint_method_and_status(api, client):
    seen = Counter()
    roundtrips = Counter()

    def count(endpoint, response):
        seen[endpoint] += 1
        roundtrips[endpoint] += queries(response)
        return response

    assert count("N1", api.post("/namespaces", json={"slug": "acme"})).status_code == 201
    assert count("N3", api.get(NS)).status_code == 200
    assert count("N3", api.get(NS)).status_code == 200
    assert count("N3", api.get("/namespaces/missing")).status_code == 404
    assert count("N3", client.get(NS)).status_code == 401  # no token
    assert count("H1", client.get("/healthz")).status_code == 200
    assert count("none", client.get("/no/such/path")).status_code == 404
    assert count("none", client.open("/healthz", method="BREW")).status_code == 405

    found = scrape(client)
    assert requests_of(found) == {
        ("N1", "POST", "201"): 1, ("N3", "GET", "200"): 2, ("N3", "GET", "404"): 1, ("N3", "GET", "401"): 1,
        ("H1", "GET", "200"): 1, ("none", "GET", "404"): 1, ("none", "other", "405"): 1}
    assert per_endpoint(found, f"{DURATION}_count") == seen
    assert per_endpoint(found, f"{ROUNDTRIPS}_count") == seen
    assert per_endpoint(found, f"{ROUNDTRIPS}_sum") == roundtrips  # what Server-Timing reported
    assert roundtrips["N3"] == 3  # 200, 200, 404: one lookup each; the 401 none
    assert by_labels(found, UNAVAILABLE) == {}
    # a request of 1 roundtrip is in the buckets from le="1" up, not in le="0"
    buckets = by_labels(found, f"{ROUNDTRIPS}_bucket")
    assert buckets[("endpoint", "N1"), ("le", "0.0")] == 0 and buckets[("endpoint", "N1"), ("le", "1.0")] == 1
    # /metrics does not count itself
    assert scrape(client) == found


def test_a_database_unavailable_answer_is_counted_and_metrics_still_answer(api, client, monkeypatch):
    assert api.post("/namespaces", json={"slug": "acme"}).status_code == 201

    def unreachable(*args, **kwargs):
        raise OperationalError("the database is away")

    if not db.is_closed():
        db.close()
    monkeypatch.setattr(db.obj, "connect", unreachable)
    response = api.get(NS)
    assert response.status_code == 503 and error_code(response) == "database_unavailable"
    assert client.get("/readyz").status_code == 503

    metrics = client.get("/metrics", headers={"X-Request-ID": "scrape-1"})  # no token, no database
    assert metrics.status_code == 200 and metrics.headers["X-Request-ID"] == "scrape-1"
    found = samples(metrics.get_data(as_text=True))
    assert per_endpoint(found, UNAVAILABLE) == {"N3": 1, "H2": 1}
    assert requests_of(found)[("N3", "GET", "503")] == 1 and requests_of(found)[("H2", "GET", "503")] == 1


def test_metrics_off(make_app):
    assert config.from_env({"METRICS": "false"})["METRICS"] is False
    assert config.from_env({})["METRICS"] is True
    app = make_app(METRICS=False)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/metrics")
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert "metrics" not in app.extensions  # nothing recorded


# -- through gunicorn, 2 workers -------------------------------------------------------------

SECRET = "metrics-secret-" + "m" * 40


def live_env(tmp_path, metrics_dir):
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'registry.sqlite3'}", "JWT_SECRET_KEY": SECRET,
            "SERVICE_ENV": "test", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}


def live_scrape(server):
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        assert response.status == 200
        return response.read().decode()


def requests_per_worker(metrics_dir):
    """{pid: requests it counted}, read from each process's own file."""
    counts = {}
    for name in os.listdir(metrics_dir):
        if name.startswith("counter_"):
            pid = int(name.removeprefix("counter_").removesuffix(".db"))
            families = MultiProcessCollector.merge([str(metrics_dir / name)])
            counts[pid] = sum(s.value for f in families for s in f.samples if s.name == REQUESTS)
    return counts


def send(server, bearer, rounds):
    """`rounds` × (N3 200, N3 404, H1 200, an unknown path 404), 8 at a time; what was sent."""
    kinds = [("N3", "GET", "200", f"{NS}", bearer), ("N3", "GET", "404", "/namespaces/missing", bearer),
             ("H1", "GET", "200", "/healthz", None), ("none", "GET", "404", "/no/such/path", None)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda kind: (kind[:3], server.request("GET", kind[3], token=kind[4])[0]),
                                 kinds * rounds))
    assert all(int(expected[2]) == status for expected, status in statuses), statuses
    return Counter(expected for expected, _ in statuses)


def send_until_served_by(server, bearer, metrics_dir, pids):
    """At least 120 requests, and more until every worker of `pids` has counted some."""
    sent = send(server, bearer, 30)
    while any(requests_per_worker(metrics_dir).get(pid, 0) == 0 for pid in pids):
        sent += send(server, bearer, 5)
        assert sum(sent.values()) < 2000, "a worker served nothing"
    return sent


def totals(text):
    return Counter(requests_of(samples(text)))


def wait_for(condition, timeout=15):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.gunicorn
def test_counts_of_both_workers_add_up_and_survive_a_restart(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by an earlier run")
    bearer = pyjwt.encode({"sub": "ops", "exp": int(time.time()) + 3600, "namespaces": ["*"]}, SECRET, "HS256")
    with LiveServer(live_env(tmp_path, metrics_dir), workers=2, log_path=tmp_path / "gunicorn.log") as server:
        assert not (metrics_dir / "counter_1.db").exists()  # emptied at start
        assert server.request("POST", "/namespaces", {"slug": "acme"}, bearer)[0] == 201
        before = totals(live_scrape(server))
        wait_for(lambda: len(worker_pids(server.process.pid)) == 2)  # the second may still be starting
        workers = worker_pids(server.process.pid)
        sent = send_until_served_by(server, bearer, metrics_dir, workers)
        after = live_scrape(server)
        assert totals(after) - before == sent

        per_worker = requests_per_worker(metrics_dir)
        assert set(per_worker) == set(workers), (workers, per_worker)  # a file per worker, none for the master
        assert sum(per_worker.values()) == sum(totals(after).values())
        # whichever worker answers, the same exposition (a scrape is not counted)
        assert {live_scrape(server) for _ in range(8)} == {after}

        # a worker replaced: its counts stay, the new one's are added
        gone = workers[0]
        os.kill(gone, signal.SIGTERM)
        wait_for(lambda: len(now := worker_pids(server.process.pid)) == 2 and gone not in now)
        (replacement,) = set(worker_pids(server.process.pid)) - set(workers)
        more = send_until_served_by(server, bearer, metrics_dir, [replacement])
        final = live_scrape(server)
        assert totals(final) - before == sent + more
        assert requests_per_worker(metrics_dir)[gone] == per_worker[gone]


@pytest.mark.gunicorn
def test_without_a_directory_gunicorn_uses_a_private_one_and_removes_it(tmp_path):
    with LiveServer(live_env(tmp_path, ""), workers=2) as server:  # empty: not given
        assert "registry_http_requests_total" in live_scrape(server)
        mapped = set()
        for pid in worker_pids(server.process.pid):
            with open(f"/proc/{pid}/maps", encoding="utf-8") as f:
                mapped |= {os.path.dirname(line.split(maxsplit=5)[5].strip()) for line in f
                           if "registry-metrics-" in line}
        assert len(mapped) == 1, mapped
        private = mapped.pop()
        assert os.path.isdir(private) and any(name.startswith("counter_") for name in os.listdir(private))
    assert not os.path.exists(private)
