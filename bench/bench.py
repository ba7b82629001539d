"""The benchmark: the service beside its floor (bench/floor.py), on a seeded PostgreSQL
database, under the same gunicorn settings and the same wrk load. Writes bench/results.md.

    bench/run                 the whole benchmark (seeds registry_bench; about 7 minutes)
    bench/run --reuse-db      keep an already seeded registry_bench (skips seeding)
    bench/run --quick         small data (registry_bench_quick) and short runs, to try the
                              machinery; results.md is not written

bench/run runs it as `python -m bench.bench` from the repository root, so that `bench`,
`service` and `tests.support` (the live server and the databases it shares with the tests)
are importable. See bench/README.md for what is measured and how to read it."""
import argparse
import json
import math
import os
import platform
import re
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import psycopg2

from tests.support.databases import create_database, database_url_on
from tests.support.live import LiveServer

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BIN = Path(sys.executable).parent

NS = "/namespaces/bench/projects"
SIZES = {"full": dict(small=10_000, large=1_000_000, collections=20, big_members=5_000, small_members=50),
         "quick": dict(small=1_000, large=20_000, collections=20, big_members=500, small_members=50)}

# name, what it is, wrk kind, path. The order is the order of the results table.
SCENARIOS = [
    ("D3-100k", "D3: dataset with 20 collections × 5,000 members (100,000), 10k project", "get",
     f"{NS}/small/datasets/dataset-0000002"),
    ("D3-1k", "D3: dataset with 20 collections × 50 members (1,000), 10k project", "get",
     f"{NS}/small/datasets/dataset-0000001"),
    ("D3-1k-1M", "D3: dataset with 20 collections × 50 members (1,000), 1M project", "get",
     f"{NS}/large/datasets/dataset-0000001"),
    ("D2-10k", "D2: first page (50), 10k project", "get", f"{NS}/small/datasets"),
    ("D2-1M", "D2: first page (50), 1M project", "get", f"{NS}/large/datasets"),
    ("D2-1M-p1000", "D2: page 1,000 (50), 1M project", "get", f"{NS}/large/datasets?page=1000"),
    ("D2-1M-tag", "D2: tag filter `rare` (1 in 1,000: 1,000 matches), 1M project", "get",
     f"{NS}/large/datasets?tag=rare"),
    ("D1", "D1: create a dataset (name, description, 2 tags, metadata)", "create", f"{NS}/writes/datasets"),
    ("C5", "C5: add 1,000 new members to a collection", "members", f"{NS}/writes/collections/inbox/members"),
]
# D2 and D3 must reach this service/floor throughput ratio; D1 and C5 have no target.
REQUIRED = {"D3-100k", "D3-1k", "D3-1k-1M", "D2-10k", "D2-1M", "D2-1M-p1000", "D2-1M-tag"}
MIN_RATIO = 0.7
# D2's first page and D3 may cost at most this many times as much in the 1M project as in the
# 10k one (time per request, and the page statement's execution time).
PROJECT_GROWTH_BOUND = 5
# (endpoint, small case, large case, what grows, bound on the growth or None)
GROWTH = [("D2 first page", "D2-10k", "D2-1M", "10k → 1M datasets", PROJECT_GROWTH_BOUND),
          ("D3 (1,000 members)", "D3-1k", "D3-1k-1M", "10k → 1M datasets", PROJECT_GROWTH_BOUND),
          ("D3", "D3-1k", "D3-100k", "1k → 100k members", None)]
# Worker models tried: (label, worker class, workers, threads, pool size).
MODELS = [("sync ×2", "sync", 2, 1, 1), ("sync ×4", "sync", 4, 1, 1),
          ("gthread 2×4, pool 4", "gthread", 2, 4, 4), ("gthread 2×4, pool 2", "gthread", 2, 4, 2),
          ("gevent ×2, pool 4", "gevent", 2, 1, 4)]
MODEL_SCENARIOS = ["D2-10k", "D3-1k", "D3-100k"]
# The reads measured with the service's compiled-SQL cache (service/compiled.py) and without it
# (SQL_CACHE=false): what the cache buys.
SQL_CACHE_SCENARIOS = ["D2-10k", "D2-1M-tag", "D3-1k"]


def log(message):
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# -- database --------------------------------------------------------------------------------

def seeded(admin_url, name, sizes):
    try:
        conn = psycopg2.connect(database_url_on(admin_url, name), connect_timeout=3)
    except psycopg2.OperationalError:
        return False
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT slug, dataset_count FROM project WHERE namespace_id = 'ns-bench'")
            counts = dict(cur.fetchall())
    except psycopg2.Error:  # not migrated, or not seeded
        return False
    finally:
        conn.close()
    return counts.get("small") == sizes["small"] and counts.get("large") == sizes["large"]


def seed_database(admin_url, name, sizes, env):
    """Database `name` made anew (dropped first), migrated and seeded; the seconds seeding took."""
    create_database(admin_url, name)
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "migrate"], cwd=ROOT, env=env, check=True)
    conn = psycopg2.connect(env["DATABASE_URL"])
    started = time.monotonic()
    with conn, conn.cursor() as cur:
        cur.execute((BENCH / "seed.sql").read_text(), sizes)
    seconds = time.monotonic() - started
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()
    return seconds


def reset_writes(url):
    """Take project `writes` back to its seeded state (no datasets, an empty `inbox`): D1 and
    C5 of an earlier run added to it, and a collection grown by a million members changes
    the planner's estimates for every other collection."""
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM member WHERE collection_id IN "
                    "(SELECT id FROM collection WHERE project_id = 'p-writes')")
        cur.execute("UPDATE collection SET member_count = 0, member_seq = 0 WHERE project_id = 'p-writes'")
        cur.execute("DELETE FROM dataset WHERE project_id = 'p-writes'")
        cur.execute("UPDATE project SET dataset_count = 0 WHERE id = 'p-writes'")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE member, dataset, collection, project")
    conn.close()


def check_seed(url, sizes):
    """The kept counts agree with the rows: project.dataset_count, member_count, member_seq."""
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM project p WHERE dataset_count <> (SELECT count(*) FROM dataset d "
                    "WHERE d.project_id = p.id AND d.deleted_at IS NULL)")
        wrong_projects = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM collection c WHERE member_count <> (SELECT count(*) FROM member m "
                    "WHERE m.collection_id = c.id) OR member_seq < (SELECT coalesce(max(position), 0) "
                    "FROM member m WHERE m.collection_id = c.id)")
        wrong_collections = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM member")
        members = cur.fetchone()[0]
    conn.close()
    assert not wrong_projects and not wrong_collections, "kept counts disagree with the rows"
    return members


# -- the two servers ---------------------------------------------------------------------------

def gunicorn_server(target, model, env, log_dir, phase):
    """gunicorn serving `target` (the service or the floor) with one worker model, under
    bench/gunicorn_bench.py; its log is `log_dir`/<phase>-<target>-<model>.log."""
    _, worker_class, workers, threads, pool = model
    log_path = Path(log_dir) / f"{phase}-{target}-{worker_class}-{workers}x{threads}-pool{pool}.log"
    return LiveServer({**env, "DB_POOL_SIZE": str(pool)}, workers=workers, worker_class=worker_class,
                      threads=threads, args=("--config", str(BENCH / "gunicorn_bench.py")), log_path=log_path,
                      app="bench.floor:app" if target == "floor" else "wsgi:app", start_timeout=60)


def wrk(server, scenario, token, run, seconds, connections):
    name, _, kind, path = scenario
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
                          str(BENCH / "load.lua"), server.url, "--", token, kind, path, run],
                         capture_output=True, text=True, check=True, timeout=seconds + 60)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    errors = sum(result["errors"].values())
    if errors:
        raise RuntimeError(f"{name} on {server.url}: {result['errors']} errors\n{out.stdout}")
    result["rps"] = result["requests"] / result["seconds"]
    return result


def combine(runs):
    """Runs of one side: throughput over all of them, latencies averaged."""
    requests = sum(r["requests"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    return {"requests": requests, "rps": requests / seconds,
            **{k: sum(r[k] for r in runs) / len(runs) for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms")}}


def measure(service, floor, scenario, token, seconds, rounds, connections, tag):
    """Warm both up, then `rounds` times: service, floor, floor, service (drift within a
    round cancels out). Per side: throughput over all its runs, mean latencies; and the
    service/floor throughput ratio of each round, to show the spread."""
    for server in (service, floor):
        wrk(server, scenario, token, f"{tag}w{server.port}", 1, connections)
    runs = {"service": [], "floor": []}
    ratios = []
    for r in range(rounds):
        this = {"service": [], "floor": []}
        for i, (side, server) in enumerate([("service", service), ("floor", floor), ("floor", floor),
                                            ("service", service)]):
            this[side].append(wrk(server, scenario, token, f"{tag}r{r}x{i}", seconds, connections))
        ratios.append(combine(this["service"])["rps"] / combine(this["floor"])["rps"])
        for side in runs:
            runs[side] += this[side]
    return {**{side: combine(r) for side, r in runs.items()}, "round_ratios": ratios}


# -- the same statements, the same bytes -------------------------------------------------------

def request_body(kind, tag):
    if kind == "create":
        return {"name": f"check-{tag}", "description": "created by the benchmark", "tags": ["bench", "kind-1"],
                "metadata": {"run": tag, "n": 1}}
    if kind == "members":
        return {"add": [f"node-check-{tag}-{i:04d}" for i in range(1000)]}
    return None


def check_same_work(env, token):
    """Every scenario once on the service (in process, statements captured with the
    database's query hook) and once on the floor: the same SQL text in the same order, the
    same response bytes (the same keys for the writes, whose IDs and times differ).
    Returns {scenario: (queries per request, response bytes, [(sql, params)])}."""
    os.environ.update(env)
    from werkzeug.test import Client

    from bench import floor
    from service import create_app
    from service.db import db

    app = create_app({"DATABASE_URL": env["DATABASE_URL"], "JWT_SECRET_KEY": env["JWT_SECRET_KEY"],
                      "SERVICE_ENV": "production"})
    captured = []
    db.obj.query_hooks.append(lambda event: captured.append((event.sql, event.params)))
    service, floor_client = app.test_client(), Client(floor.app)
    headers = {"Authorization": f"Bearer {token}"}
    work = {}
    for name, _, kind, path in SCENARIOS:
        body = request_body(kind, f"s{secrets.token_hex(3)}")
        captured.clear()
        got = service.open(path, method="GET" if body is None else "POST", json=body, headers=headers)
        service_sql = list(captured)
        floor.trace = []
        body = request_body(kind, f"f{secrets.token_hex(3)}")
        expected = floor_client.open(path, method="GET" if body is None else "POST", json=body, headers=headers)
        floor_sql, floor.trace = floor.trace, None
        assert got.status_code == expected.status_code and got.status_code < 300, (name, got.status_code,
                                                                                    expected.status_code)
        if [sql for sql, _ in service_sql] != [sql for sql, _ in floor_sql]:
            raise AssertionError(f"{name}: the floor's statements differ from the service's:\n"
                                 + "\n".join(sql for sql, _ in service_sql) + "\n--- floor:\n"
                                 + "\n".join(sql for sql, _ in floor_sql))
        if kind == "get":
            assert got.data == expected.data, f"{name}: response bytes differ"
        else:
            assert list(json.loads(got.data)) == list(json.loads(expected.data)), f"{name}: keys differ"
        queries = int(re.search(r'desc="(\d+) queries"', got.headers["Server-Timing"]).group(1))
        assert queries == len(service_sql) == len(floor_sql)
        work[name] = (queries, len(got.data), service_sql)
    db.close()
    db.obj.close_all()
    return work


# -- EXPLAIN ANALYZE ---------------------------------------------------------------------------

def explain(url, work):
    """The D2 page statement (the last one of each D2 scenario) under EXPLAIN ANALYZE, and
    the same statement for page 10,000 (rows 499,951–500,000 of 1M)."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    plans = {}
    with conn.cursor() as cur:
        cases = [(n, *work[n][2][-1]) for n in ("D2-10k", "D2-1M", "D2-1M-p1000", "D2-1M-tag")]
        sql, params = work["D2-1M"][2][-1]
        cases.append(("D2-1M-p10000", sql, [*params[:-1], 499_950]))
        for name, sql, params in cases:
            statement = cur.mogrify(sql, params).decode()
            for _ in range(3):  # warm: the numbers kept are those of the last run
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
                lines = [row[0] for row in cur.fetchall()]
            text = "\n".join(lines)
            plans[name] = {
                "plan": text,
                "planning_ms": float(re.search(r"Planning Time: ([\d.]+)", text).group(1)),
                "execution_ms": float(re.search(r"Execution Time: ([\d.]+)", text).group(1)),
            }
    conn.close()
    return plans


# -- the report --------------------------------------------------------------------------------

def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
            "load": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), "python": platform.python_version(),
            "kernel": platform.release()}


def versions(url):
    from importlib.metadata import version

    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
    conn.close()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0].strip()
    packages = ", ".join(f"{p} {version(p)}" for p in ("flask", "flask-jwt-extended", "peewee", "marshmallow",
                                                       "psycopg2-binary", "gunicorn", "gevent"))
    return pg, wrk_version, packages


def ms(value):
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


SCAN = re.compile(r"(?:Parallel )?(?:Index Only Scan|Index Scan|Bitmap Index Scan|Bitmap Heap Scan|Seq Scan)"
                  r"(?: Backward)?(?: using \w+)? on \w+")


def scans(plan):
    """The scan nodes of an EXPLAIN text, each once, in order."""
    return list(dict.fromkeys(SCAN.findall(plan)))


def heap_fetches(plan):
    found = [int(n) for n in re.findall(r"Heap Fetches: (\d+)", plan)]
    return f"{sum(found):,}" if found else "–"


def write_report(out, ctx):
    m, results, models, chosen, plans = ctx["machine"], ctx["results"], ctx["models"], ctx["chosen"], ctx["plans"]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `bench/run` on {ctx['date']}; what the figures mean and how the floor is built: "
        "[bench/README.md](README.md).",
        "",
        "## Machine",
        "",
        f"- {m['nproc']} cores ({m['cpu']}), {m['memory']} memory, Linux {m['kernel']}; load average "
        f"before the run {m['load']}. **wrk, both gunicorn servers and PostgreSQL share these "
        f"{m['nproc']} cores** with whatever else runs on the machine: absolute numbers drift, the "
        "service/floor ratio is the figure to read.",
        f"- PostgreSQL {ctx['pg']} (same host, loopback), Python {m['python']}, {ctx['wrk']}.",
        f"- {ctx['packages']}.",
        f"- Data: {ctx['sizes']['small']:,} datasets in project `small`, {ctx['sizes']['large']:,} in `large`; "
        f"{ctx['sizes']['collections']} collections × {ctx['sizes']['big_members']:,} members in the large "
        f"D3 dataset, {ctx['sizes']['collections']} × {ctx['sizes']['small_members']} in the small ones; "
        f"{ctx['members']:,} member rows. " + (f"Seeded in {ctx['seed_seconds']:.0f} s." if ctx['seed_seconds'] else
                                              "Seeded by an earlier run (`--reuse-db`)."),
        "",
        "## Load",
        "",
        f"wrk, 1 thread, **{ctx['connections']} connections**, bearer token on every request "
        f"(`bench/load.lua`). Per scenario: 1 s warm-up on each side, then {ctx['rounds']} rounds of service, "
        f"floor, floor, service, **{ctx['seconds']} s each** ({2 * ctx['seconds'] * ctx['rounds']} s per side), so "
        "that both sides see the same drift of a shared machine. Requests/s is over all runs of a side; "
        "p50 and p99 are the mean over its runs. Both servers run under the same gunicorn settings "
        f"(`bench/gunicorn_bench.py`, worker model below), `SERVICE_ENV=production`. No request failed: "
        "wrk's connect, read, write and timeout errors and its count of answers with a status of 400 or "
        "above were 0 in every run (a run stops at the first one that is not).",
        "",
        f"Worker model: **{chosen[0]}** (`--worker-class {chosen[1]} --workers {chosen[2]} --threads {chosen[3]}`, "
        f"`DB_POOL_SIZE={chosen[4]}`), chosen by the measurement further down.",
        "",
        "## Service beside the floor",
        "",
        "| scenario | queries | response bytes | service req/s | floor req/s | **service/floor** | "
        "rounds: min–max | service p50 / p99 ms | floor p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, title, _, _ in SCENARIOS:
        r = results[name]
        s, f = r["service"], r["floor"]
        ratio = s["rps"] / f["rps"]
        mark = (" ✔" if ratio >= MIN_RATIO else " ✘") if name in REQUIRED else ""
        lines.append(f"| {title} | {r['queries']} | {r['bytes']:,} | {s['rps']:,.0f} | {f['rps']:,.0f} | "
                     f"**{ratio:.2f}**{mark} | {min(r['round_ratios']):.2f}–{max(r['round_ratios']):.2f} | "
                     f"{ms(s['p50_ms'])} / {ms(s['p99_ms'])} | "
                     f"{ms(f['p50_ms'])} / {ms(f['p99_ms'])} |")
    below = [name for name, *_ in SCENARIOS if name in REQUIRED
             and results[name]["service"]["rps"] / results[name]["floor"]["rps"] < MIN_RATIO]
    lines += [
        "",
        f"✔/✘: D2 and D3 must reach a service/floor throughput of at least {MIN_RATIO}; "
        + (f"all {len(REQUIRED)} of them do." if not below else
           f"{len(REQUIRED) - len(below)} of {len(REQUIRED)} do, not {', '.join(below)}.")
        + " D1 and C5 are writes where the service also validates every field of the body with marshmallow "
        "(the floor checks with plain Python); they are reported, with no target.",
        "",
        "## How cost grows",
        "",
        "Service time per request (1 / throughput at the fixed load) and p50 latency, small case beside large; "
        f"in a 1M project D2's first page and D3 may take at most {PROJECT_GROWTH_BOUND}× the time per request "
        "they take in a 10k one.",
        "",
        "| endpoint | growth | small: req/s, p50 ms | large: req/s, p50 ms | time per request × | p50 × | bound |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for label, small, large, what, bound in GROWTH:
        a, b = results[small]["service"], results[large]["service"]
        growth = a["rps"] / b["rps"]
        verdict = "none" if bound is None else f"{bound}× {'✔' if growth <= bound else '✘'}"
        lines.append(f"| {label} | {what} | {a['rps']:,.0f}, {ms(a['p50_ms'])} | {b['rps']:,.0f}, "
                     f"{ms(b['p50_ms'])} | {growth:.2f} | {b['p50_ms'] / a['p50_ms']:.2f} | {verdict} |")
    p1 = results["D2-1M"]["service"]
    p1000 = results["D2-1M-p1000"]["service"]
    lines += [
        "",
        f"Deep pages of the 1M project: page 1,000 runs at {p1000['rps']:,.0f} req/s against "
        f"{p1['rps']:,.0f} for the first page ({p1['rps'] / p1000['rps']:.1f}× the time per request, "
        f"p50 {ms(p1000['p50_ms'])} ms against {ms(p1['p50_ms'])} ms).",
        "",
        "## EXPLAIN ANALYZE of the D2 page statement",
        "",
        "The statement the service sends for D2's page and total (one statement; captured from the "
        "service, parameters inlined), three runs each, the last one kept. What to look for in the "
        "plans: [bench/README.md](README.md#reading-the-plans).",
        "",
        "| case | planning ms | execution ms | scans | heap fetches |",
        "|---|---:|---:|---|---:|",
    ]
    labels = {"D2-10k": "first page, 10k project", "D2-1M": "first page, 1M project",
              "D2-1M-p1000": "page 1,000, 1M project (offset 49,950)",
              "D2-1M-p10000": "page 10,000, 1M project (offset 499,950)",
              "D2-1M-tag": "tag `rare`, first page, 1M project (count of 1,000 matches)"}
    for name in ("D2-10k", "D2-1M", "D2-1M-p1000", "D2-1M-p10000", "D2-1M-tag"):
        plan = plans[name]
        lines.append(f"| {labels[name]} | {plan['planning_ms']:.2f} | {plan['execution_ms']:.2f} | "
                     f"{'; '.join(scans(plan['plan']))} | {heap_fetches(plan['plan'])} |")
    e = {k: v["execution_ms"] for k, v in plans.items()}
    first_growth = e["D2-1M"] / e["D2-10k"]
    offsets = 499_950 / 49_950
    beyond = (e["D2-1M-p10000"] - e["D2-1M"]) / (e["D2-1M-p1000"] - e["D2-1M"]) \
        if e["D2-1M-p1000"] > e["D2-1M"] else None
    if beyond is None:
        deep = "page 1,000 took no longer than the first page"
    else:
        proportion = ("in proportion to the offset" if offsets / 2 <= beyond <= offsets * 2
                      else "less than in proportion to the offset" if beyond < offsets
                      else "more than in proportion to the offset")
        deep = (f"the time beyond the first page's grew {beyond:.1f}× for {offsets:.1f}× the offset: "
                f"{proportion}, about {(e['D2-1M-p10000'] - e['D2-1M']) / 49.995:.2f} ms per 10,000 rows "
                "stepped over")
    lines += [
        "",
        f"- **First page**: {e['D2-10k']:.2f} ms at 10k, {e['D2-1M']:.2f} ms at 1M, {first_growth:.2f}×: "
        + (f"within the {PROJECT_GROWTH_BOUND}× bound." if first_growth <= PROJECT_GROWTH_BOUND
           else f"beyond the {PROJECT_GROWTH_BOUND}× bound."),
        f"- **Deep pages**: {e['D2-1M-p1000']:.1f} ms at offset 49,950 and {e['D2-1M-p10000']:.1f} ms at "
        f"offset 499,950; {deep}.",
        f"- **Tag filter**: {e['D2-1M-tag']:.2f} ms for 1,000 matches in 1M datasets.",
        "",
        "<details><summary>Plans</summary>",
        "",
    ]
    for name in ("D2-10k", "D2-1M", "D2-1M-p1000", "D2-1M-p10000", "D2-1M-tag"):
        lines += [f"{labels[name]}:", "", "```", plans[name]["plan"], "```", ""]
    lines += [
        "</details>",
        "",
        "## Worker model and pool size",
        "",
        f"All models served the service side by side (one measured at a time), same load "
        f"({ctx['connections']} connections); per scenario, after a 1 s warm-up of each, every model ran "
        f"{ctx['model_seconds']} s in turn, then again in reverse order. Requests/s over both runs, and p99:",
        "",
        "| model | " + " | ".join(MODEL_SCENARIOS) + " | geometric mean |",
        "|---|" + "---:|" * (len(MODEL_SCENARIOS) + 1),
    ]
    for label, score, per, _ in models:
        lines.append(f"| {label}{' **(chosen)**' if label == chosen[0] else ''} | "
                     + " | ".join(f"{per[n]['rps']:,.0f} (p99 {ms(per[n]['p99_ms'])} ms)" for n in MODEL_SCENARIOS)
                     + f" | {score:,.0f} |")
    best = max(score for _, score, _, _ in models)
    close = [(label, 1 - score / best) for label, score, _, _ in models if score >= 0.95 * best]
    drift = max(spread for _, _, _, spread in models)
    widest = max(gap for _, gap in close)
    lines += [
        "",
        "The model with the best geometric mean of requests/s is used for the whole run, for the "
        "service and the floor alike. "
        f"The two runs of one model on one scenario differed by up to {drift:.1%}. "
        + (f"Within 5% of the best: {', '.join(f'**{label}**' for label, _ in close)}, at most {widest:.1%} "
           + ("apart: within that drift." if widest <= drift else "apart: more than that drift.")
           if len(close) > 1 else ""),
        "",
    ]
    cache = ctx["sql_cache"]
    if cache:
        lines += [
            "## Compiled reads (`SQL_CACHE`)",
            "",
            "The service with its compiled-SQL cache (`service/compiled.py`, the default) beside the same "
            "service with `SQL_CACHE=false` (peewee writes each read's SQL anew; everything else the same), "
            "measured like service and floor above:",
            "",
            "| scenario | cached req/s | uncached req/s | cached/uncached | per round | p50 cached / uncached (ms) |",
            "|---|---:|---:|---:|---|---:|",
        ]
        for name, r in cache.items():
            lines.append(f"| {name} | {r['service']['rps']:,.0f} | {r['floor']['rps']:,.0f} | "
                         f"{r['service']['rps'] / r['floor']['rps']:.2f} | "
                         f"{', '.join(f'{x:.2f}' for x in r['round_ratios'])} | "
                         f"{ms(r['service']['p50_ms'])} / {ms(r['floor']['p50_ms'])} |")
        gain = math.prod(r["service"]["rps"] / r["floor"]["rps"] for r in cache.values()) ** (1 / len(cache))
        lines += ["", f"Geometric mean of cached/uncached: **{gain:.2f}**.", ""]
    out.write_text("\n".join(lines))


# -- main --------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL",
                                                              "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--database", help="default: registry_bench (registry_bench_quick with --quick)")
    parser.add_argument("--reuse-db", action="store_true", help="keep registry_bench if it is already seeded")
    parser.add_argument("--quick", action="store_true", help="small data, short runs; results.md not written")
    parser.add_argument("--seconds", type=int, default=2, help="one wrk run (each side runs twice a round)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of service, floor, floor, service")
    parser.add_argument("--model-seconds", type=int, default=3, help="one wrk run of a worker model (two each)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--model", help="use this worker model (label from MODELS) instead of measuring")
    parser.add_argument("--only", help="comma-separated scenario names, or sql-cache for the cached/uncached "
                                       "comparison (results.md not written)")
    args = parser.parse_args()
    sizes = SIZES["quick" if args.quick else "full"]
    seconds = 1 if args.quick else args.seconds
    rounds = 1 if args.quick else args.rounds
    model_seconds = 1 if args.quick else args.model_seconds
    host = machine()  # before the run loads it
    args.database = args.database or ("registry_bench_quick" if args.quick else "registry_bench")
    url = database_url_on(args.admin_url, args.database)
    env = {**os.environ, "DATABASE_URL": url, "JWT_SECRET_KEY": secrets.token_urlsafe(32),
           "SERVICE_ENV": "production", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("JWT_PUBLIC_KEY", None)
    log_dir = tempfile.mkdtemp(prefix="registry-bench-")
    log(f"server logs in {log_dir}")
    started = time.monotonic()

    seed_seconds = None
    if args.reuse_db and seeded(args.admin_url, args.database, sizes):
        log(f"reusing the seeded database {args.database}")
        reset_writes(url)
    else:
        log(f"seeding {args.database}: {sizes}")
        seed_seconds = seed_database(args.admin_url, args.database, sizes, env)
        log(f"seeded in {seed_seconds:.1f} s")
    members = check_seed(url, sizes)
    token = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "mint-token", "bench", "-n", "*",
                            "--expires-in", "86400"], cwd=ROOT, env=env, check=True, capture_output=True,
                           text=True).stdout.strip()
    work = check_same_work(env, token)
    log("the floor sends the same statements and writes the same bytes")
    plans = explain(url, work)
    for name, plan in plans.items():
        log(f"EXPLAIN {name}: planning {plan['planning_ms']:.2f} ms, execution {plan['execution_ms']:.2f} ms")

    scenarios = {s[0]: s for s in SCENARIOS}
    models = []
    try:
        import gevent  # noqa: F401
        import psycogreen  # noqa: F401
        candidates = MODELS
    except ImportError:
        log("gevent or psycogreen is missing (pip install -e '.[bench]'): the gevent model is left out")
        candidates = [m for m in MODELS if m[1] != "gevent"]
    if args.model:
        chosen = next(m for m in MODELS if m[0] == args.model)
    else:
        with ExitStack() as stack:
            servers = [stack.enter_context(gunicorn_server("service", model, env, log_dir, "models"))
                       for model in candidates]
            runs = {(model[0], name): [] for model in candidates for name in MODEL_SCENARIOS}
            pairs = [*zip(candidates, servers, strict=True)]
            for name in MODEL_SCENARIOS:  # every model in turn, then again in reverse: drift cancels out
                for server in servers:
                    wrk(server, scenarios[name], token, f"m{server.port}w", 1, args.connections)
                for i, (model, server) in enumerate([*pairs, *reversed(pairs)]):
                    runs[model[0], name].append(
                        wrk(server, scenarios[name], token, f"m{server.port}r{i}", model_seconds, args.connections))
        for model in candidates:
            per = {name: combine(runs[model[0], name]) for name in MODEL_SCENARIOS}
            score = math.prod(r["rps"] for r in per.values()) ** (1 / len(per))
            spread = max(abs(a["rps"] - b["rps"]) / ((a["rps"] + b["rps"]) / 2)
                         for a, b in (runs[model[0], name] for name in MODEL_SCENARIOS))
            models.append((model[0], score, per, spread))
            log(f"model {model[0]}: " + ", ".join(f"{n} {r['rps']:.0f} req/s" for n, r in per.items()))
        chosen = next(m for m in MODELS if m[0] == max(models, key=lambda x: x[1])[0])
    log(f"worker model: {chosen[0]}")

    only = set(args.only.split(",")) if args.only else None
    results = {}
    with gunicorn_server("service", chosen, env, log_dir, "run") as service, \
            gunicorn_server("floor", chosen, env, log_dir, "run") as floor:
        for scenario in SCENARIOS:
            name = scenario[0]
            if only and name not in only:
                continue
            r = measure(service, floor, scenario, token, seconds, rounds, args.connections,
                        f"{name}-{secrets.token_hex(2)}")
            r["queries"], r["bytes"] = work[name][0], work[name][1]
            results[name] = r
            log(f"{name}: service {r['service']['rps']:.0f} req/s, floor {r['floor']['rps']:.0f} req/s, "
                f"ratio {r['service']['rps'] / r['floor']['rps']:.2f}; p50 {r['service']['p50_ms']:.2f} / "
                f"{r['floor']['p50_ms']:.2f} ms")
        sql_cache = {}
        if not only or "sql-cache" in only:
            with gunicorn_server("service", chosen, {**env, "SQL_CACHE": "false"}, log_dir, "uncached") as uncached:
                for name in SQL_CACHE_SCENARIOS:
                    r = measure(service, uncached, scenarios[name], token, seconds, rounds, args.connections,
                                f"cache-{name}-{secrets.token_hex(2)}")
                    sql_cache[name] = r
                    log(f"{name}: cached {r['service']['rps']:.0f} req/s, uncached {r['floor']['rps']:.0f} req/s, "
                        f"ratio {r['service']['rps'] / r['floor']['rps']:.2f}")
    log(f"done in {time.monotonic() - started:.0f} s")
    if args.quick or only or args.model:
        log("results.md not written (--quick, --only or --model)")
        return
    pg, wrk_version, packages = versions(url)
    write_report(BENCH / "results.md", {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": host, "pg": pg,
        "wrk": wrk_version, "packages": packages, "sizes": sizes, "members": members,
        "seed_seconds": seed_seconds, "connections": args.connections, "seconds": seconds, "rounds": rounds,
        "model_seconds": model_seconds, "results": results, "models": models, "chosen": chosen, "plans": plans,
        "sql_cache": sql_cache})
    log(f"wrote {BENCH / 'results.md'}")


if __name__ == "__main__":
    main()
