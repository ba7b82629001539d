"""The reliability run behind `reliability/run`: the fault and race tests, then a soak (a
bounded mixed read/write load against gunicorn on PostgreSQL, loopback only), then a check
that no acknowledged write was lost; the figures go to docs/reliability.md.

Each client thread acts in one namespace with a token for that namespace only, and owns the
datasets and collections it creates, so it knows exactly what each of them must hold; all
threads also add members to one shared collection per project. Every answer is checked
against what it must be while the load runs, and everything acknowledged is read back at the
end.

reliability/run runs it as `python -m reliability.soak` from the repository root, which makes
the live server of tests.support importable."""
import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import jwt as pyjwt
import psycopg2

from tests.support.databases import new_postgres_database
from tests.support.live import LiveServer
from tests.support.processes import rss_kib, worker_pids

ROOT = Path(__file__).resolve().parent.parent

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
FAULT_TESTS = ["tests/test_db_faults.py", "tests/test_races.py"]
SECRET = "soak-secret-" + "s" * 40
NAMESPACES = ["soak-a", "soak-b"]
PROJECTS = ["p1", "p2"]
TAGS = ["train", "eval", "night", "rain", "city"]
MEMORY_EVERY = 5  # seconds between samples of each worker's resident memory
WARM_UP = 0.25  # the first quarter of the run is warm-up: memory is judged after it
MAX_GROWTH_KIB = 8 * 1024  # a worker may grow by this much after warm-up


def token(namespaces):
    return pyjwt.encode({"sub": "soak", "exp": int(time.time()) + 86_400, "namespaces": namespaces}, SECRET, "HS256")


# -- the fault and race tests ----------------------------------------------------------------

def run_fault_tests():
    """pytest on the fault and race tests: (exit code, [(test, outcome, seconds)])."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        done = subprocess.run([sys.executable, "-m", "pytest", *FAULT_TESTS, "-q", "-p", "no:cacheprovider",
                               f"--junitxml={report}"], cwd=ROOT)
        cases = []
        if report.exists():
            for case in ElementTree.parse(report).iter("testcase"):
                outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
                cases.append((case.get("name"), outcome, float(case.get("time", 0))))
    return done.returncode, cases


# -- the load ---------------------------------------------------------------------------------

class Recorder:
    """Every answer: its operation, status and time; what was unexpected, and 5xx."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latency = defaultdict(list)
        self.statuses = defaultdict(Counter)
        self.unexpected = []
        self.no_answer = 0

    def record(self, op, status, seconds, expected, detail=""):
        with self.lock:
            self.latency[op].append(seconds)
            self.statuses[op][status] += 1
            if status not in expected:
                self.unexpected.append(f"{op}: {status} (expected {sorted(expected)}) {detail}"[:300])

    @property
    def total(self):
        return sum(len(v) for v in self.latency.values())

    def count(self, predicate):
        return sum(n for counter in self.statuses.values() for status, n in counter.items() if predicate(status))


class Client(threading.Thread):
    """One client: a namespace, its project, what it created, and a paced loop of operations."""

    def __init__(self, number, soak):
        super().__init__(name=f"client-{number}", daemon=True)
        self.number, self.soak = number, soak
        self.namespace = NAMESPACES[number % len(NAMESPACES)]
        self.other = NAMESPACES[(number + 1) % len(NAMESPACES)]
        self.project = f"/namespaces/{self.namespace}/projects/{PROJECTS[number // len(NAMESPACES) % len(PROJECTS)]}"
        self.bearer = token([self.namespace])
        self.random = random.Random(number)
        self.datasets = {}  # name -> {"live": bool, "description": str}
        self.collections = {}  # name -> {"members": [...], "dataset": name or None}
        self.sequence = 0

    def new_name(self, kind):
        self.sequence += 1
        return f"c{self.number}-{kind}{self.sequence}"

    def call(self, op, method, path, body=None, expected=(200,)):
        started = time.monotonic()
        try:
            status, _, payload = self.soak.server.request(method, path, body, self.bearer, timeout=30)
        except OSError as e:
            with self.soak.recorder.lock:
                self.soak.recorder.no_answer += 1
                self.soak.recorder.unexpected.append(f"{op}: no answer ({e})")
            return None, None
        self.soak.recorder.record(op, status, time.monotonic() - started, expected, f"{method} {path}")
        return status, payload

    def check(self, op, condition, detail):
        if not condition:
            with self.soak.recorder.lock:
                self.soak.recorder.unexpected.append(f"{op}: {detail}"[:300])

    def live_datasets(self):
        return [name for name, d in self.datasets.items() if d["live"]]

    def fresh_ids(self, count):
        return [f"{self.number}-{self.new_name('n')}" for _ in range(count)]

    # Operations. Each says what it expects; everything acknowledged is remembered.

    def create_dataset(self):
        name = self.new_name("d")
        description = f"created by client {self.number}"
        status, _ = self.call("D1 create dataset", "POST", f"{self.project}/datasets",
                              {"name": name, "description": description, "tags": self.random.sample(TAGS, 2),
                               "metadata": {"client": self.number, "seq": self.sequence}}, (201,))
        if status == 201:
            self.datasets[name] = {"live": True, "description": description}

    def create_collection(self):
        name = self.new_name("c")
        live = self.live_datasets()
        dataset = self.random.choice(live) if live and self.random.random() < 0.6 else None
        members = self.fresh_ids(self.random.randint(0, 20))
        status, payload = self.call("C1 create collection", "POST", f"{self.project}/collections",
                                    {"name": name, "dataset": dataset, "members": members}, (201,))
        if status == 201:
            self.collections[name] = {"members": members, "dataset": dataset}
            self.check("C1 create collection", payload["memberCount"] == len(members), payload)

    def change_members(self):
        if not self.collections:
            return self.create_collection()
        name = self.random.choice(list(self.collections))
        collection = self.collections[name]
        add = self.fresh_ids(self.random.randint(1, 100)) + self.random.sample(
            collection["members"], min(len(collection["members"]), self.random.randint(0, 3)))
        remove = []
        if self.random.random() < 0.2:
            remove = [m for m in self.random.sample(collection["members"], min(len(collection["members"]), 5))
                      if m not in add] + [f"never-{self.sequence}"]
        status, payload = self.call("C5 change members", "POST", f"{self.project}/collections/{quote(name)}/members",
                                    {"add": add, "remove": remove})
        if status == 200:
            members = [m for m in collection["members"] if m not in remove]
            members += [m for m in dict.fromkeys(add) if m not in members]
            collection["members"] = members
            self.check("C5 change members", payload["memberCount"] == len(members),
                       f"{name}: memberCount {payload['memberCount']} != {len(members)}")

    def add_to_shared(self):
        ids = self.fresh_ids(self.random.randint(1, 20))
        status, _ = self.call("C5 add to a shared collection", "POST", f"{self.project}/collections/shared/members",
                              {"add": ids})
        if status == 200:
            with self.soak.recorder.lock:
                self.soak.shared[self.project].update(ids)

    def get_dataset(self):
        if not self.datasets:
            return self.create_dataset()
        name = self.random.choice(list(self.datasets))
        dataset = self.datasets[name]
        status, payload = self.call("D3 get dataset", "GET", f"{self.project}/datasets/{quote(name)}",
                                    expected=(200,) if dataset["live"] else (404,))
        if status == 200:
            self.check("D3 get dataset", payload["description"] == dataset["description"], payload["name"])
            inside = {c: v for c, v in self.collections.items() if v["dataset"] == name}
            shown = {c["name"]: c["members"] for c in payload["collections"]}
            self.check("D3 get dataset", shown == {c: v["members"] for c, v in inside.items()}, name)

    def get_collection(self):
        if not self.collections:
            return self.create_collection()
        name = self.random.choice(list(self.collections))
        status, payload = self.call("C3 get collection", "GET", f"{self.project}/collections/{quote(name)}")
        if status == 200:
            expected = self.collections[name]
            self.check("C3 get collection", payload["members"] == expected["members"]
                       and payload["dataset"] == expected["dataset"], name)

    def list_page(self):
        kind = self.random.choice(["datasets", "collections"])
        query = f"page={self.random.randint(1, 3)}&pageSize={self.random.choice([10, 50, 200])}"
        if kind == "datasets" and self.random.random() < 0.3:
            query += f"&tag={self.random.choice(TAGS)}"
        status, payload = self.call(f"{'D2' if kind == 'datasets' else 'C2'} list {kind}", "GET",
                                    f"{self.project}/{kind}?{query}")
        if status == 200:
            self.check("list", payload["totalPages"] == -(-payload["total"] // payload["pageSize"]), query)

    def patch_dataset(self):
        live = self.live_datasets()
        if not live:
            return self.create_dataset()
        name = self.random.choice(live)
        description = f"patched {self.sequence}"
        self.sequence += 1
        status, payload = self.call("D4 patch dataset", "PATCH", f"{self.project}/datasets/{quote(name)}",
                                    {"description": description, "tags": self.random.sample(TAGS, 3)})
        if status == 200:
            self.datasets[name]["description"] = description
            self.check("D4 patch dataset", payload["description"] == description, name)

    def move_collection(self):
        if not self.collections:
            return self.create_collection()
        name = self.random.choice(list(self.collections))
        live = self.live_datasets()
        dataset = self.random.choice(live) if live and self.random.random() < 0.7 else None
        status, payload = self.call("C4 move collection", "PATCH", f"{self.project}/collections/{quote(name)}",
                                    {"dataset": dataset})
        if status == 200:
            self.collections[name]["dataset"] = dataset
            self.check("C4 move collection", payload["dataset"] == dataset, name)

    def delete_dataset(self):
        live = self.live_datasets()
        if len(live) < 3:
            return self.create_dataset()
        name = self.random.choice(live)
        status, _ = self.call("D5 delete dataset", "DELETE", f"{self.project}/datasets/{quote(name)}")
        if status == 200:
            self.datasets[name]["live"] = False
            for collection in self.collections.values():
                if collection["dataset"] == name:
                    collection["dataset"] = None

    def conflict(self):
        live = self.live_datasets()
        if not live:
            return self.create_dataset()
        self.call("D1 create a taken name", "POST", f"{self.project}/datasets", {"name": self.random.choice(live)},
                  (409,))

    def foreign(self):
        self.call("tenancy probe", "GET", f"/namespaces/{self.other}/projects/p1/collections/shared", expected=(404,))

    def invalid(self):
        self.call("invalid body", "POST", f"{self.project}/collections", {"name": "x", "members": [""]}, (400,))

    def ready(self):
        self.call("H2 readyz", "GET", "/readyz")

    OPERATIONS = [  # (operation, weight)
        (create_dataset, 8), (create_collection, 8), (change_members, 18), (add_to_shared, 8),
        (get_dataset, 12), (get_collection, 10), (list_page, 14), (patch_dataset, 5), (move_collection, 4),
        (delete_dataset, 2), (conflict, 3), (foreign, 3), (invalid, 3), (ready, 2),
    ]

    def run(self):
        operations, weights = zip(*self.OPERATIONS, strict=True)
        interval = self.soak.clients / self.soak.rate
        next_at = time.monotonic() + self.random.random() * interval
        while not self.soak.stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at = max(next_at + interval, time.monotonic() - interval)
            if not self.soak.take_a_request():
                return
            self.random.choices(operations, weights)[0](self)


class Soak:
    def __init__(self, server, seconds, rate, clients, max_requests):
        self.server, self.seconds, self.rate, self.clients = server, seconds, rate, clients
        self.max_requests = max_requests
        self.recorder = Recorder()
        self.stop = threading.Event()
        self.sent = 0
        self._sent_lock = threading.Lock()
        self.shared = defaultdict(set)  # project path -> member IDs acknowledged
        self.memory = defaultdict(list)  # worker PID -> [(seconds since start, KiB)]

    def take_a_request(self):
        with self._sent_lock:
            self.sent += 1
            return self.sent <= self.max_requests

    def set_up(self):
        admin = token(["*"])
        for namespace in NAMESPACES:
            self.expect(self.server.request("POST", "/namespaces", {"slug": namespace}, admin), 201)
            for project in PROJECTS:
                base = f"/namespaces/{namespace}/projects"
                self.expect(self.server.request("POST", base, {"slug": project}, admin), 201)
                self.expect(self.server.request("POST", f"{base}/{project}/collections", {"name": "shared"}, admin),
                            201)

    @staticmethod
    def expect(answer, status):
        if answer[0] != status:
            raise RuntimeError(f"set-up failed: {answer[0]} {answer[2]}")

    def sample_memory(self, started):
        while True:
            for pid in worker_pids(self.server.process.pid):
                kib = rss_kib(pid)
                if kib is not None:
                    self.memory[pid].append((time.monotonic() - started, kib))
            if self.stop.wait(MEMORY_EVERY):
                return

    def run(self):
        workers_before = worker_pids(self.server.process.pid)
        started = time.monotonic()
        sampler = threading.Thread(target=self.sample_memory, args=(started,), daemon=True)
        sampler.start()
        clients = [Client(n, self) for n in range(self.clients)]
        for client in clients:
            client.start()
        while time.monotonic() - started < self.seconds and any(c.is_alive() for c in clients):
            time.sleep(0.5)
        self.stop.set()
        for client in clients:
            client.join(60)
        elapsed = time.monotonic() - started
        sampler.join(10)
        for pid in worker_pids(self.server.process.pid):  # one last sample, after the load
            self.memory[pid].append((elapsed, rss_kib(pid)))
        return clients, elapsed, workers_before == worker_pids(self.server.process.pid)


# -- reading everything back ----------------------------------------------------------------

def every_item(server, bearer, path, key):
    items, page = [], 1
    while True:
        status, _, body = server.request("GET", f"{path}?pageSize=200&page={page}", token=bearer)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        items += body[key]
        if page >= body["totalPages"]:
            return items, body["total"]
        page += 1


def verify(server, clients, shared):
    """Read back everything acknowledged: {"checked": Counter, "lost": [what is missing or wrong]}."""
    admin = token(["*"])
    checked, lost = Counter(), []
    by_project = defaultdict(list)
    for client in clients:
        by_project[client.project].append(client)
    for project, owners in by_project.items():
        datasets, total = every_item(server, admin, f"{project}/datasets", "datasets")
        expected = {n for c in owners for n, d in c.datasets.items() if d["live"]}
        if {d["name"] for d in datasets} != expected or total != len(expected):
            lost.append(f"{project}: datasets listed {len(datasets)} (total {total}), expected {len(expected)}")
        collections, total = every_item(server, admin, f"{project}/collections", "collections")
        listed = {c["name"]: c for c in collections}
        expected_collections = {n: v for c in owners for n, v in c.collections.items()}
        if set(listed) != set(expected_collections) | {"shared"} or total != len(listed):
            lost.append(f"{project}: collections listed {len(listed)}, expected {len(expected_collections) + 1}")
        for client in owners:
            for name, dataset in client.datasets.items():
                status = server.request("GET", f"{project}/datasets/{quote(name)}", token=admin)[0]
                checked["datasets created"] += 1
                if status != (200 if dataset["live"] else 404):
                    lost.append(f"dataset {name}: {status}")
            for name, collection in client.collections.items():
                status, _, body = server.request("GET", f"{project}/collections/{quote(name)}", token=admin)
                checked["collections created"] += 1
                checked["members held"] += len(collection["members"])
                if not holds(status, body, collection["members"]) or body["dataset"] != collection["dataset"]:
                    lost.append(f"collection {name}: {status}")
        status, _, body = server.request("GET", f"{project}/collections/shared", token=admin)
        checked["shared members"] += len(shared[project])
        if not holds(status, body, shared[project]):
            lost.append(f"{project}/collections/shared: {status}, expected {len(shared[project])} members")
    return checked, lost


def holds(status, collection, members):
    """The collection answered, with exactly `members` (a list: in that order) and their count."""
    if status != 200:
        return False
    shown = collection["members"] if isinstance(members, list) else set(collection["members"])
    return shown == members and collection["memberCount"] == len(members)


def read_server_log(log_text):
    """(lines at level error or above or with a 5xx status, how many access lines) of the
    server's JSON log."""
    bad, answered = [], 0
    for line in log_text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        status = entry.get("status")
        answered += isinstance(status, int)
        if entry.get("level") in ("error", "critical") or (isinstance(status, int) and status >= 500):
            bad.append(line[:300])
    return bad, answered


# -- the figures ------------------------------------------------------------------------------

def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0


def slope_per_minute(samples):
    """Least-squares slope of [(seconds, KiB)], in KiB per minute."""
    ts, ks = zip(*samples, strict=True)
    mean_t, mean_k = statistics.fmean(ts), statistics.fmean(ks)
    spread = sum((t - mean_t) ** 2 for t in ts)
    return 60 * sum((t - mean_t) * (k - mean_k) for t, k in samples) / spread if spread else 0.0


def memory_figures(memory, elapsed):
    """Per worker: (KiB after warm-up, KiB at the end, growth KiB, slope after warm-up and over
    the last half, KiB/min, peak KiB)."""
    rows = []
    for _, samples in sorted(memory.items()):
        warm = [(t, kib) for t, kib in samples if t >= WARM_UP * elapsed and kib]
        if len(warm) < 6:
            continue
        start = statistics.median(k for _, k in warm[:3])
        end = statistics.median(k for _, k in warm[-3:])
        last_half = [(t, kib) for t, kib in warm if t >= elapsed / 2]
        rows.append((start, end, end - start, slope_per_minute(warm), slope_per_minute(last_half),
                     max(k for _, k in samples if k)))
    return rows


def mib(kib):
    return f"{kib / 1024:.1f}"


def git_revision():
    try:
        revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                  text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return revision + (" with uncommitted changes" if dirty else "")
    except OSError:
        return "unknown"


def postgres_version():
    with psycopg2.connect(ADMIN_URL, connect_timeout=3) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version")
        return cur.fetchone()[0]


def write_report(path, args, tests, soak):
    lines = [
        "# Reliability figures",
        "",
        "Written by `reliability/run` (do not edit by hand; run it again). It runs the fault and race",
        "tests, then a soak: a bounded mixed read/write load against gunicorn on PostgreSQL over",
        "loopback, then reads back everything the service acknowledged. Run it with",
        "",
        "```",
        "reliability/run                       # the fault and race tests, then a soak of 150 s",
        "reliability/run --seconds 300 --rate 150 --clients 12",
        "reliability/run --no-tests            # the soak alone",
        "```",
        "",
        "It needs the project's virtualenv (`.venv`) and a PostgreSQL server at `TEST_DATABASE_URL`",
        "(default `postgresql://postgres@127.0.0.1:5432/postgres`), where it creates a database of its",
        "own and drops it afterwards. It exits non-zero when any figure below is out of bounds.",
        "",
        f"Last run: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, revision {git_revision()}, "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, PostgreSQL {postgres_version()}.",
        "",
    ]
    if tests is not None:
        code, cases = tests
        lines += ["## Fault and race tests", "",
                  f"`python -m pytest {' '.join(FAULT_TESTS)}`: "
                  f"{sum(o == 'passed' for _, o, _ in cases)} passed, {sum(o != 'passed' for _, o, _ in cases)} not "
                  f"(exit code {code}).", "",
                  "| test | outcome | seconds |", "|---|---|---|"]
        lines += [f"| {name} | {outcome} | {seconds:.1f} |" for name, outcome, seconds in cases]
        lines.append("")
    if soak is not None:
        r = soak["recorder"]
        all_latency = [s for values in r.latency.values() for s in values]
        lines += [
            "## Soak", "",
            f"gunicorn `--workers {args.workers} --worker-class gthread --threads {args.threads}`, "
            f"DB_POOL_SIZE {args.pool}, {args.clients} client threads paced to {args.rate} requests/s in all, "
            f"for {soak['elapsed']:.0f} s (bounded at {args.seconds} s and {args.max_requests} requests).", "",
            "| figure | value | bound |", "|---|---|---|",
            f"| requests answered | {r.total} ({r.total / soak['elapsed']:.0f}/s); the server logged "
            f"{soak['server_answers']} answers in all, set-up and read-back included | |",
            f"| 5xx answers | {r.count(lambda s: s >= 500)} | 0 |",
            f"| requests without an answer | {r.no_answer} | 0 |",
            f"| answers other than expected | {len(r.unexpected)} | 0 |",
            f"| server log lines at error level | {len(soak['server_errors'])} | 0 |",
            f"| acknowledged writes lost or wrong | {len(soak['lost'])} | 0 |",
            f"| workers restarted | {'no' if soak['same_workers'] else 'yes'} | no |",
            f"| latency p50 / p95 / p99 / max | {percentile(all_latency, .5) * 1000:.0f} / "
            f"{percentile(all_latency, .95) * 1000:.0f} / {percentile(all_latency, .99) * 1000:.0f} / "
            f"{max(all_latency, default=0) * 1000:.0f} ms | |",
            "",
            "Read back at the end: " + ", ".join(f"{n} {what}" for what, n in soak["checked"].items()) + ".",
            "",
            "| operation | answers | statuses | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|---|",
        ]
        for op in sorted(r.latency):
            values = r.latency[op]
            statuses = ", ".join(f"{s}: {n}" for s, n in sorted(r.statuses[op].items()))
            lines.append(f"| {op} | {len(values)} | {statuses} | {percentile(values, .5) * 1000:.0f} | "
                         f"{percentile(values, .95) * 1000:.0f} | {max(values) * 1000:.0f} |")
        lines += [
            "", "### Worker memory", "",
            f"Resident memory (VmRSS from /proc) of each gunicorn worker, sampled every {MEMORY_EVERY} s. The first",
            f"{WARM_UP:.0%} of the run is warm-up. Growth is the median of the last three samples minus the median",
            f"of the first three after warm-up, bounded at {mib(MAX_GROWTH_KIB)} MiB; the slopes are least-squares "
            "fits over the samples after warm-up and over the last half of the run.", "",
            "| worker | MiB after warm-up | MiB at the end | growth MiB | MiB/min after warm-up | MiB/min, last half "
            "| peak MiB |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [f"| {n + 1} | {mib(start)} | {mib(end)} | {mib(growth)} | {slope / 1024:.2f} | {late / 1024:.2f} | "
                  f"{mib(peak)} |" for n, (start, end, growth, slope, late, peak) in enumerate(soak["memory"])]
        series = sorted(soak["raw_memory"].items())
        if series:
            lines += ["", "Samples (seconds: MiB of each worker):", "", "```"]
            for index in range(0, len(series[0][1]), 3):
                row = [samples[index] for _, samples in series if index < len(samples)]
                lines.append(f"{row[0][0]:6.0f} s: " + "  ".join(mib(k or 0) for _, k in row))
            lines.append("```")
        for title, items in (("Unexpected answers", r.unexpected), ("Lost or wrong writes", soak["lost"]),
                             ("Server errors", soak["server_errors"])):
            if items:
                lines += ["", f"### {title} (first 20)", ""] + [f"- `{item}`" for item in items[:20]]
    lines += other_sections(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def other_sections(path):
    """The report's sections that another script writes (reliability/request_limits.py), as
    they are: blank line first."""
    if not path.exists():
        return []
    sections = re.split(r"(?m)^(?=## )", path.read_text(encoding="utf-8"))[1:]
    kept = [s.rstrip("\n") for s in sections if s.split("\n", 1)[0] not in ("## Fault and race tests", "## Soak")]
    return [line for s in kept for line in ("", s)]


def soak_run(args):
    with new_postgres_database(ADMIN_URL) as url, tempfile.NamedTemporaryFile(suffix=".log") as log:
        env = {"DATABASE_URL": url, "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "production",
               "DB_POOL_SIZE": str(args.pool), "LOG_LEVEL": "warning"}
        with LiveServer(env, workers=args.workers, worker_class="gthread", threads=args.threads,
                        log_path=log.name) as server:
            soak = Soak(server, args.seconds, args.rate, args.clients, args.max_requests)
            soak.set_up()
            clients, elapsed, same_workers = soak.run()
            checked, lost = verify(server, clients, soak.shared)
            errors, logged = read_server_log(server.logs())
    return {"recorder": soak.recorder, "elapsed": elapsed, "same_workers": same_workers, "checked": checked,
            "lost": lost, "server_errors": errors, "server_answers": logged,
            "memory": memory_figures(soak.memory, elapsed), "raw_memory": soak.memory}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=150, help="length of the soak (at least 120)")
    parser.add_argument("--rate", type=int, default=100, help="requests per second, all clients together")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--max-requests", type=int, default=60_000, help="stop after this many requests")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    parser.add_argument("--pool", type=int, default=4, help="DB_POOL_SIZE of each worker")
    parser.add_argument("--no-tests", action="store_true", help="the soak alone")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "reliability.md", help="where the figures go")
    args = parser.parse_args()
    if args.seconds < 120:
        parser.error("--seconds: a soak lasts at least 120 seconds")

    tests = None if args.no_tests else run_fault_tests()
    print(f"soak: {args.seconds} s at {args.rate} requests/s ...", flush=True)
    soak = soak_run(args)
    write_report(args.report, args, tests, soak)
    r = soak["recorder"]
    failures = [
        (tests is not None and tests[0] != 0, "fault or race tests failed"),
        (r.count(lambda s: s >= 500) > 0, "5xx answers"),
        (r.no_answer > 0, "requests without an answer"),
        (bool(r.unexpected), "unexpected answers"),
        (bool(soak["lost"]), "acknowledged writes lost"),
        (bool(soak["server_errors"]), "errors in the server log"),
        (not soak["same_workers"], "a worker was restarted"),
        (any(row[2] > MAX_GROWTH_KIB for row in soak["memory"]), "worker memory kept growing"),
        (not soak["memory"], "no memory samples"),
    ]
    report = args.report.resolve()
    print(f"figures written to {report.relative_to(ROOT) if report.is_relative_to(ROOT) else report}")
    for failed, what in failures:
        if failed:
            print(f"FAILED: {what}", file=sys.stderr)
    return 1 if any(failed for failed, _ in failures) else 0


if __name__ == "__main__":
    sys.exit(main())
