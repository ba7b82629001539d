"""The benchmark: the service beside its floor (bench/floor.py), on a seeded PostgreSQL
database, under the same gunicorn settings and the same wrk load. Writes bench/results.md.

    bench/run                 the whole benchmark (seeds registry_bench; about 10 minutes)
    bench/run --reuse-db      keep an already seeded registry_bench (skips seeding)
    bench/run --quick         small data (registry_bench_quick) and short runs, to try the
                              machinery; results.md is not written
    bench/run --quick --report /tmp/report.md
                              the same, with the report written elsewhere, to read it

bench/run runs it as `python -m bench.bench` from the repository root, so that `bench`,
`service` and `tests.support` (the live server and the databases it shares with the tests)
are importable. See bench/README.md for what is measured and how to read it."""
import argparse
import http.client
import json
import math
import os
import platform
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import namedtuple
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
# pool: the rows of each pool that a write consuming one per request takes (seed.sql's project
# `pools`: D5, C4, C6); trash_pool, the same for the trash's writes (seed_v2.sql: T2, T3, T4). A run
# of 1,500 writes/s takes about 40,000 of a pool (2 sides × (1 s warm-up + rounds × 2 runs ×
# seconds)), a quick run less than 10,000.
SIZES = {"full": dict(small=10_000, large=1_000_000, collections=20, big_members=5_000, small_members=50,
                      versioned_members=50_000, million_members=1_000_000, half_members=500_000, pool=100_000,
                      trash_pool=100_000),
         "quick": dict(small=1_000, large=20_000, collections=20, big_members=500, small_members=50,
                       versioned_members=500, million_members=20_000, half_members=10_000, pool=20_000,
                       trash_pool=20_000)}

# name, what it is, wrk kind, path. The order is the order of the results table: the reads, then
# the writes. A name starts with its endpoint (contract §5), which sets its target (TARGETS).
SCENARIOS = [
    ("N2", "N2: first page (50) of the namespaces (50; a token for every namespace)", "get", "/namespaces"),
    ("N3", "N3: namespace `bench`", "get", "/namespaces/bench"),
    ("P2", "P2: first page (50) of the projects of `bench`", "get", "/namespaces/bench/projects"),
    ("P3", "P3: project `small`", "get", f"{NS}/small"),
    ("D2-10k", "D2: first page (50), 10k project", "get", f"{NS}/small/datasets"),
    ("D2-1M", "D2: first page (50), 1M project", "get", f"{NS}/large/datasets"),
    ("D2-1M-p1000", "D2: page 1,000 (50), 1M project", "get", f"{NS}/large/datasets?page=1000"),
    ("D2-1M-tag", "D2: tag filter `rare` (1 in 1,000: 1,000 matches), 1M project", "get",
     f"{NS}/large/datasets?tag=rare"),
    # {d2_cursor} and {m1_cursor}: cursors the service makes in the run's setup (make_cursors)
    ("D2-1M-cursor", "D2: the page after a cursor at depth 999,950 (50), 1M project", "get",
     f"{NS}/large/datasets?cursor={{d2_cursor}}"),
    ("D3-100k", "D3: dataset with 20 collections × 5,000 members (100,000), 10k project", "get",
     f"{NS}/small/datasets/dataset-0000002"),
    ("D3-1k", "D3: dataset with 20 collections × 50 members (1,000), 10k project", "get",
     f"{NS}/small/datasets/dataset-0000001"),
    ("D3-1k-1M", "D3: dataset with 20 collections × 50 members (1,000), 1M project", "get",
     f"{NS}/large/datasets/dataset-0000001"),
    ("C2-small", "C2: first page of the collections of `small` (40, of 2 datasets)", "get", f"{NS}/small/collections"),
    ("C2-dataset", "C2: the collections of dataset-0000001 of `small` (20)", "get",
     f"{NS}/small/collections?dataset=dataset-0000001"),
    ("C3", "C3: collection `split-01` of `small` with its 50 members", "get", f"{NS}/small/collections/split-01"),
    ("M1-first", "M1: first page (1,000) of collection `million` (1,000,000 members)", "get",
     f"{NS}/big/collections/million/members"),
    ("M1-deep", "M1: the page after a cursor at depth 990,000 (1,000), collection `million`", "get",
     f"{NS}/big/collections/million/members?cursor={{m1_cursor}}"),
    ("T1", "T1: first page (50) of the trash of `trashed` (1,000 datasets and 1,000 collections)", "get",
     f"{NS}/trashed/trash"),
    ("R1", "R1: the collections holding a node (5 live, 1 deleted)", "get",
     f"{NS}/nodes/nodes/scene-0001/frame-000500/collections"),
    ("D1", "D1: create a dataset (name, description, 2 tags, metadata)", "create", f"{NS}/writes/datasets"),
    # seq: each request numbered (NUMBERED); {n} in the path, the request's number
    ("D4", "D4: change the description of dataset `edited` (20 collections)", "seq",
     f"{NS}/writes/datasets/edited"),
    ("D5", "D5: delete a dataset (its collection made standalone), another each request", "seq",
     f"{NS}/pools/datasets/doomed-{{n}}"),
    ("C4", "C4: rename a collection, another each request", "seq", f"{NS}/pools/collections/rename-{{n}}"),
    ("C5", "C5: add 1,000 new members to a collection", "members", f"{NS}/writes/collections/inbox/members"),
    ("C6", "C6: delete a collection of a dataset, another each request", "seq",
     f"{NS}/pools/collections/doomed-{{n}}"),
    ("C1", "C1: create a standalone collection of 100 members, a new name each request", "seq",
     f"{NS}/made/collections"),
    ("T2", "T2: restore a dataset of the trash (its collection taken back), another each request", "seq",
     f"{NS}/restore/trash/datasets/trd-{{n}}/restore"),
    ("T3", "T3: restore a collection of the trash into its dataset, another each request", "seq",
     f"{NS}/restore/trash/collections/trc-{{n}}/restore"),
    ("T4-dataset", "T4: purge a dataset of the trash, another each request", "seq",
     f"{NS}/purge/trash/datasets/tpd-{{n}}"),
    ("T4-collection", "T4: purge a collection of the trash (5 members), another each request", "seq",
     f"{NS}/purge/trash/collections/tpc-{{n}}"),
]
# The scenarios of kind `seq` (load.lua): requests numbered n = 1, 2, … across all the wrk runs of
# a run (warm-ups, both sides) and check_same_work, never one number twice between a seeding or a
# reset and the next (NEXT_NUMBER). Per scenario: its method; its body, a template (None: no body);
# and `pool`, the key of SIZES that says how many rows its pool holds, numbered from 1 (None: its
# requests consume nothing). In the path and the body, {n} is the request's number and {run} the
# tag of the wrk run. A request past its pool finds no row: a 404, which stops the run (wrk()).
Numbered = namedtuple("Numbered", "method body pool")
NUMBERED = {
    "D4": Numbered("PATCH", '{"description":"Edited by the benchmark: request {n} of run {run}"}', None),
    "D5": Numbered("DELETE", None, "pool"),
    "C4": Numbered("PATCH", '{"name":"renamed-{n}"}', "pool"),
    "C6": Numbered("DELETE", None, "pool"),
    "C1": Numbered("POST", '{"name":"made-{n}","members":[' + ",".join(f'"made-{{n}}-{i:03d}"' for i in range(100))
                   + "]}", None),
    "T2": Numbered("POST", "{}", "trash_pool"),
    "T3": Numbered("POST", "{}", "trash_pool"),
    "T4-dataset": Numbered("DELETE", None, "trash_pool"),
    "T4-collection": Numbered("DELETE", None, "trash_pool"),
}
# Numbers a wrk run may have taken beyond the requests it counts (its answers, a 404 among them)
# and those that failed otherwise (its connect, read, write and timeout errors), besides one a
# connection (the request in flight when it stops): a margin.
SEQ_MARGIN = 16
NEXT_NUMBER = {}  # scenario: its first number not used yet since the seeding or the reset
POOL_SIZES = {}  # scenario: the rows of its pool (filled in main from SIZES)
# Targets (contract §5, every endpoint beside its floor): the least service/floor throughput of a
# scenario, by its endpoint (the first part of its name). A read at least READ_TARGET, the large
# ones included (D3 of 100,000 members, V3 of 1,000,000); a write at least WRITE_TARGET: the service
# also validates every field of its body with marshmallow (the floor checks with plain Python). An
# endpoint not named here is reported beside its floor with no target.
READ_TARGET, WRITE_TARGET = 0.9, 0.85
TARGETS = {**dict.fromkeys(("N2", "N3", "P2", "P3", "D2", "D3", "C2", "C3", "M1", "V2", "V3", "V4", "T1", "R1", "R2"),
                           READ_TARGET),
           **dict.fromkeys(("D1", "D4", "D5", "C1", "C4", "C5", "C6", "V1", "T2", "T3", "T4"), WRITE_TARGET)}
# D2's first page and D3 may cost at most this many times as much in the 1M project as in the
# 10k one (time per request, and the page statement's execution time).
PROJECT_GROWTH_BOUND = 5
# (endpoint, small case, large case, what grows, bound on the growth or None)
GROWTH = [("D2 first page", "D2-10k", "D2-1M", "10k → 1M datasets", PROJECT_GROWTH_BOUND),
          ("D3 (1,000 members)", "D3-1k", "D3-1k-1M", "10k → 1M datasets", PROJECT_GROWTH_BOUND),
          ("D3", "D3-1k", "D3-100k", "1k → 100k members", None)]
# Versions (contract §8.1), on dataset `versioned` of project `versions` (seed.sql): collections ×
# versioned_members members, frozen as version 1, then 50 members of `part-01` removed and 50 added
# (one C5), then frozen as version 2, all through the service's API (make_versions).
VERSIONED = f"{NS}/versions/datasets/versioned"
VERSION_CHANGED = 50  # members removed, and as many added, between versions 1 and 2
# name, what it is, wrk kind, path, measured beside the floor, connections (None: the run's), least
# seconds of one wrk run in a full run. The big reads answer ~30 MB each: one connection, longer runs.
# V1 takes the dataset's row (its next number) and holds it until the version is written: the
# freezes of one dataset queue, and one connection gives the latency of one freeze.
VERSION_SCENARIOS = [
    ("V1", "V1: freeze `versioned` as a new version", "freeze", f"{VERSIONED}/versions", True, 1, 0),
    ("V2", "V2: first page (50) of the versions of `versioned` (after V1's)", "get", f"{VERSIONED}/versions", True,
     None, 0),
    ("V3-v1", "V3: version 1 of `versioned`, every member", "get", f"{VERSIONED}/versions/1", True, 1, 3),
    ("D3-versioned", "D3: `versioned` now (the same number of members)", "get", VERSIONED, True, 1, 3),
    ("V4-1-2", f"V4: version 1 → 2 ({2 * VERSION_CHANGED} members differ)", "get",
     f"{VERSIONED}/versions/1/diff/2", True, None, 0),
    ("V4-1-current", f"V4: version 1 → current (the same {2 * VERSION_CHANGED})", "get",
     f"{VERSIONED}/versions/1/diff/current", True, None, 0),
]
# V3 of a version may take at most this many times as long as D3 of the same number of members,
# and V4's statements at most this many milliseconds of database time (Server-Timing `db`).
V3_BOUND = 1.5
V4_DB_MS_BOUND = 20
# Requests made one at a time to read the Server-Timing header (database time) of each.
TIMING_SAMPLES = {"V4-1-2": 30, "V4-1-current": 30, "V3-v1": 5, "D3-versioned": 5}
# The previous full run's figures (req/s, service/floor, service p50 ms), for the "before → now"
# table: bench/results.md of revision 7e3f516, the run of 2026-11-29 22:41 UTC (schema version 3:
# removed members deleted, no history, no versions). Absolute figures drift between runs on this
# shared machine (the load average before that run: 1.59); the service/floor ratio drifts less.
PREVIOUS_RUN = "revision 7e3f516, run of 2026-11-29 22:41 UTC, worker model gevent ×2, pool 4"
PREVIOUS = {"D2-10k": (1241, 0.86, 3.29), "D3-1k": (1155, 0.84, 3.39), "C5": (52, 0.92, 72.1)}
# Big collections (contract §8.4). Project `big` (seed.sql): `million` (M1 at depth) and `half-a`,
# `half-b` (C1 `from`). A cursor page may take at most DEPTH_BOUND times the first page's time per
# request (the two measured in turn, as service and floor are). D3 of 100,000 members must reach
# D3_GAIN times the requests/s it had before it streamed (D3_EARLIER: bench/README.md's "after"
# figure, sync ×2), and a worker serving D3 of `versioned` (1,000,000 members) may grow at most
# RSS_BOUND_MIB above its idle size (its VmHWM against its VmRSS before).
DEPTH_BOUND = 1.2
D3_EARLIER, D3_GAIN = 28, 3
RSS_BOUND_MIB = 64
# The parts of the section that --only can name, besides the scenarios.
BIG_PARTS = ["depth", "walk", "D3-stream", "R2-10k", "C1-from"]
DEPTHS = [("D2", "D2-1M", "D2-1M-cursor"), ("M1", "M1-first", "M1-deep")]
WALK_PAGE_SIZE = 200
# R2: 10,000 node IDs of `versioned`, 500 of each collection spread over it; those of `part-01`
# that make_versions removed are among them and held by no collection.
LOOKUP_IDS = 10_000
R2 = ("R2-10k", "R2: 10,000 node IDs, project `versions`", "lookup", f"{NS}/versions/nodes/lookup")
SET_OPERATIONS = ("union", "intersection", "difference")
SET_SAMPLES = 3  # C1 `from` requests of each operation (each makes a collection, deleted after it)
# The settings of a service started for the operations that fail under the service's own (its
# statement timeout, 15 s, and gunicorn's, 30 s), so that what they take is measured.
SET_TIMEOUTS = {"DB_STATEMENT_TIMEOUT_MS": "600000", "GUNICORN_TIMEOUT": "600"}
STREAM_SAMPLES = 6  # D3 requests one at a time for the first byte and a worker's memory
BIG_SEEDED = ("c-million", "c-half-a", "c-half-b")
# The scenarios whose statements the EXPLAIN step reads.
EXPLAINED = {"D2-10k", "D2-1M", "D2-1M-p1000", "D2-1M-tag", "D2-1M-cursor", "M1-first", "M1-deep", R2[0]}
# Request bodies of the kinds that load.lua sends from a file (filled in main).
BODIES = {}
BODY_FILES = {}
# Worker models tried: (label, worker class, workers, threads, pool size).
MODELS = [("sync ×2", "sync", 2, 1, 1), ("sync ×4", "sync", 4, 1, 1),
          ("gthread 2×4, pool 4", "gthread", 2, 4, 4), ("gthread 2×4, pool 2", "gthread", 2, 4, 2),
          ("gthread 4×4, pool 4", "gthread", 4, 4, 4), ("gthread 4×2, pool 2", "gthread", 4, 2, 2),
          ("gevent ×2, pool 4", "gevent", 2, 1, 4)]
MODEL_SCENARIOS = ["N3", "D2-10k", "D3-1k", "D3-100k", "D1"]
# The scenarios measured with the service's compiled-SQL cache (service/compiled.py) and without
# it (SQL_CACHE=false): what the cache buys, to reads and writes.
SQL_CACHE_SCENARIOS = ["D2-10k", "D2-1M-tag", "D3-1k", "D1", "D4"]


def log(message):
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# -- database --------------------------------------------------------------------------------

def seeded(admin_url, name, sizes):
    """Whether database `name` holds this seed, at the service's schema version."""
    from service.migrations import SCHEMA_VERSION

    try:
        conn = psycopg2.connect(database_url_on(admin_url, name), connect_timeout=3)
    except psycopg2.OperationalError:
        return False
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT max(version) FROM schema_version")
            schema = cur.fetchone()[0]
            cur.execute("SELECT slug, dataset_count FROM project WHERE namespace_id = 'ns-bench'")
            counts = dict(cur.fetchall())
            cur.execute("SELECT count(*), min(member_seq) FROM collection WHERE dataset_id = 'dv-versioned'")
            versioned = cur.fetchone()
            cur.execute("SELECT member_seq FROM collection WHERE id = ANY(%s) ORDER BY id", (list(BIG_SEEDED),))
            big = [row[0] for row in cur.fetchall()]
            cur.execute("SELECT (SELECT count(*) FROM dataset WHERE project_id = 'p-pools'), (SELECT count(*) FROM "
                        "collection WHERE project_id = 'p-pools'), (SELECT count(*) FROM namespace WHERE id LIKE "
                        "'ns-team-%%'), (SELECT count(*) FROM dataset WHERE id = 'dw-edited')")
            around = cur.fetchone()
    except psycopg2.Error:  # not migrated, or not seeded
        return False
    finally:
        conn.close()
    return (schema == SCHEMA_VERSION and counts.get("small") == sizes["small"] and counts.get("large") == sizes["large"]
            and versioned == (sizes["collections"], sizes["versioned_members"])
            and big == [sizes["half_members"], sizes["half_members"], sizes["million_members"]]
            and around == (sizes["pool"] + 1, 3 * sizes["pool"], 49, 1))


def seed_database(admin_url, name, sizes, env):
    """Database `name` made anew (dropped first), migrated and seeded; the seconds seeding took."""
    create_database(admin_url, name)
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "migrate"], cwd=ROOT, env=env, check=True)
    conn = psycopg2.connect(env["DATABASE_URL"])
    started = time.monotonic()
    with conn, conn.cursor() as cur:
        cur.execute((BENCH / "seed.sql").read_text(), sizes)
    conn.close()
    seed_v2(env["DATABASE_URL"], sizes)
    seconds = time.monotonic() - started
    conn = psycopg2.connect(env["DATABASE_URL"])
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()
    return seconds


def seed_v2(url, sizes):
    """bench/seed_v2.sql, when there is one: the rows of the v2 endpoints' scenarios, after
    seed.sql and again on every --reuse-db (it deletes its own rows first), with seed.sql's
    parameters (a literal % in it is written %%). Whether it ran."""
    path = BENCH / "seed_v2.sql"
    if not path.exists():
        return False
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute(path.read_text(), sizes)
    conn.close()
    return True


def reset_writes(url):
    """Take project `writes` back to its seeded state (dataset `edited` as seeded, no other
    datasets, an empty `inbox`): D1, D4 and C5 of an earlier run changed it, and a collection
    grown by a million members changes the planner's estimates for every other collection."""
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM member WHERE collection_id IN "
                    "(SELECT id FROM collection WHERE project_id = 'p-writes')")
        cur.execute("UPDATE collection SET member_count = 0, member_seq = 0, change_seq = 0 "
                    "WHERE project_id = 'p-writes'")
        cur.execute("DELETE FROM dataset WHERE project_id = 'p-writes' AND id <> 'dw-edited'")
        cur.execute("UPDATE dataset SET name = 'edited', description = 'Edited by the benchmark', "
                    "tags = '[\"kind-1\",\"site-1\"]', metadata = '{\"source\":\"bench\"}', updated_at = created_at, "
                    "updated_by = NULL, deleted_at = NULL, deleted_by = NULL WHERE id = 'dw-edited'")
        cur.execute("UPDATE project SET dataset_count = 1 WHERE id = 'p-writes'")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE member, dataset, collection, project")
    conn.close()


def reset_pools(url):
    """Take project `pools` back to its seeded rows (seed.sql): the datasets D5 deleted live again,
    with their collections back in them; the collections C6 deleted live again, back in `holder`;
    those C4 renamed named as seeded. A row a write changed has its deleted_at or its updated_at
    set; its name and its dataset follow from its id. The count triggers are off meanwhile (one
    update of the project's row per dataset otherwise): the count is set from the rows."""
    conn = psycopg2.connect(url)
    changed = "project_id = 'p-pools' AND (deleted_at IS NOT NULL OR updated_at <> created_at)"
    with conn, conn.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("UPDATE dataset SET deleted_at = NULL, deleted_by = NULL, updated_at = created_at, "
                    "updated_by = NULL, name = CASE id WHEN 'dp-holder' THEN 'holder' "
                    f"ELSE 'doomed-' || substr(id, 4) END WHERE {changed}")
        datasets = cur.rowcount
        cur.execute("UPDATE collection SET deleted_at = NULL, deleted_by = NULL, updated_at = created_at, "
                    "updated_by = NULL, former_dataset_id = NULL, former_dataset_name = NULL, "
                    "dataset_id = CASE WHEN id LIKE 'c-dp-%' THEN 'dp-' || substr(id, 6) "
                    "WHEN id LIKE 'c-dc-%' THEN 'dp-holder' END, "
                    "name = CASE WHEN id LIKE 'c-dp-%' THEN 'part-' WHEN id LIKE 'c-dc-%' THEN 'doomed-' "
                    f"ELSE 'rename-' END || substr(id, 6) WHERE {changed}")
        collections = cur.rowcount
        cur.execute("UPDATE project SET dataset_count = (SELECT count(*) FROM dataset WHERE project_id = 'p-pools' "
                    "AND deleted_at IS NULL) WHERE id = 'p-pools'")
    if datasets or collections:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE dataset, collection, project")
    conn.close()
    return datasets, collections


def reset_versions(url, sizes):
    """Take dataset `versioned` back to its seeded state: no versions (an earlier run's V1 made
    thousands), its members as seeded (the rows make_versions added deleted, those it removed
    current again), no change counted. The version tables hold only the benchmark's versions:
    emptied."""
    conn = psycopg2.connect(url)
    versioned = "SELECT id FROM collection WHERE dataset_id = 'dv-versioned'"
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE version_collection, version")
        cur.execute(f"DELETE FROM member WHERE collection_id IN ({versioned}) AND added_seq > 0")
        cur.execute(f"UPDATE member SET removed_seq = NULL WHERE collection_id IN ({versioned}) "
                    "AND removed_seq IS NOT NULL")
        cur.execute("UPDATE collection SET member_count = %(n)s, member_seq = %(n)s, change_seq = 0 "
                    "WHERE dataset_id = 'dv-versioned'", {"n": sizes["versioned_members"]})
        cur.execute("UPDATE dataset SET version_count = 0 WHERE id = 'dv-versioned'")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE member, dataset, collection, version, version_collection")
    conn.close()


def reset_big(url):
    """Take project `big` back to its seeded collections: those C1 `from` made (deleted after
    each request, unless a run stopped in between) go, with their member rows."""
    conn = psycopg2.connect(url)
    made = "SELECT id FROM collection WHERE project_id = 'p-big' AND NOT id = ANY(%(seeded)s)"
    with conn, conn.cursor() as cur:
        cur.execute(f"DELETE FROM member WHERE collection_id IN ({made})", {"seeded": list(BIG_SEEDED)})
        cur.execute(f"DELETE FROM collection WHERE id IN ({made})", {"seeded": list(BIG_SEEDED)})
        removed = cur.rowcount
    if removed:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE member, collection")
    conn.close()


def check_seed(url, sizes):
    """The kept counts agree with the rows: project.dataset_count, member_count (the current
    members), member_seq, change_seq."""
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM project p WHERE dataset_count <> (SELECT count(*) FROM dataset d "
                    "WHERE d.project_id = p.id AND d.deleted_at IS NULL)")
        wrong_projects = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM collection c WHERE member_count <> (SELECT count(*) FROM member m "
                    "WHERE m.collection_id = c.id AND m.removed_seq IS NULL) OR member_seq < (SELECT "
                    "coalesce(max(position), 0) FROM member m WHERE m.collection_id = c.id) OR change_seq < "
                    "(SELECT coalesce(max(greatest(added_seq, removed_seq)), 0) FROM member m "
                    "WHERE m.collection_id = c.id)")
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


def take_numbers(name, count):
    """The first of `count` numbers of scenario `name` (kind `seq`) that no request has used since
    the pools were seeded or reset; the next ones are after them."""
    first = NEXT_NUMBER.get(name, 1)
    NEXT_NUMBER[name] = first + count
    return first


def numbered(text, n, run):
    """A path or body template of a `seq` scenario for request number `n` of run `run`."""
    return text.replace("{n}", str(n)).replace("{run}", run)


def wrk(server, scenario, token, run, seconds, connections):
    name, _, kind, path = scenario[:4]
    if kind == "seq":
        spec, start, pool = NUMBERED[name], NEXT_NUMBER.get(name, 1), POOL_SIZES.get(name)
        if pool is not None and start > pool:
            raise RuntimeError(f"{name}: its pool of {pool:,} rows is used up (the next number is {start:,}): seed "
                               "more (SIZES, `pool`) or measure less")
        extra = ["seq", path, run, spec.method, str(start), *([BODY_FILES[name]] if spec.body else [])]
    else:
        extra = ["file", path, run, BODY_FILES[kind]] if kind in BODY_FILES else [kind, path, run]
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s", "--latency",
                          "-s", str(BENCH / "load.lua"), server.url, "--", token, *extra],
                         capture_output=True, text=True, check=True, timeout=seconds + 120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    errors = sum(result["errors"].values())
    if kind == "seq":  # the numbers this run may have used, none of them used again
        # its requests (its answers, a 404 among them) and those that failed otherwise
        used = result["requests"] + errors - result["errors"]["status"]
        take_numbers(name, used + connections + SEQ_MARGIN)
        last = start + used - 1
        if errors and pool is not None and last > pool:
            raise RuntimeError(f"{name} on {server.url}: its pool of {pool:,} rows ran out (requests numbered "
                               f"{start:,} to {last:,}): seed more (SIZES, `pool`) or measure less; "
                               f"{result['errors']} errors")
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
    found = measure_sides((service, scenario), (floor, scenario), token, seconds, rounds, connections, tag)
    return {"service": found["a"], "floor": found["b"], "round_ratios": found["round_ratios"]}


def measure_sides(a, b, token, seconds, rounds, connections, tag):
    """Two sides, each a (server, scenario), measured as measure() measures service and floor:
    a warm-up of each, then `rounds` times a, b, b, a. Returns {"a", "b", "round_ratios"}
    (a's throughput over b's, per round)."""
    for i, (server, scenario) in enumerate((a, b)):
        wrk(server, scenario, token, f"{tag}w{i}{server.port}", 1, connections)
    runs = {"a": [], "b": []}
    ratios = []
    for r in range(rounds):
        this = {"a": [], "b": []}
        for i, side in enumerate(("a", "b", "b", "a")):
            server, scenario = a if side == "a" else b
            this[side].append(wrk(server, scenario, token, f"{tag}r{r}x{i}", seconds, connections))
        ratios.append(combine(this["a"])["rps"] / combine(this["b"])["rps"])
        for side in runs:
            runs[side] += this[side]
    return {**{side: combine(r) for side, r in runs.items()}, "round_ratios": ratios}


def measure_alone(service, scenario, token, seconds, rounds, connections, tag):
    """The service alone (no floor for this scenario): a warm-up, then two runs a round."""
    wrk(service, scenario, token, f"{tag}w", 1, connections)
    runs = [wrk(service, scenario, token, f"{tag}r{r}x{i}", seconds, connections)
            for r in range(rounds) for i in range(2)]
    return {"service": combine(runs), "floor": None, "round_ratios": []}


def server_timings(server, path, token, count, body=None):
    """`count` requests of `path` (a POST of `body` if given), one at a time: the median of the
    database time and of the statements the service reports in Server-Timing
    (`db;dur=<ms>;desc="<n> queries"`), and of the time to the last byte of the response as a
    client sees it."""
    db_ms, wall_ms, queries = [], [], set()
    data = None if body is None else json.dumps(body).encode()
    for _ in range(count):
        request = urllib.request.Request(server.url + path, data=data, headers={
            "Authorization": f"Bearer {token}", **({"Content-Type": "application/json"} if data else {})})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            timing = response.headers["Server-Timing"]
        wall_ms.append((time.perf_counter() - started) * 1000)
        found = re.search(r'db;dur=([\d.]+);desc="(\d+) queries"', timing)
        db_ms.append(float(found.group(1)))
        queries.add(int(found.group(2)))
    return {"count": count, "db_ms": statistics.median(db_ms), "db_max_ms": max(db_ms),
            "wall_ms": statistics.median(wall_ms), "queries": sorted(queries)}


# -- the same statements, the same bytes -------------------------------------------------------

def request_body(kind, tag):
    if kind == "create":
        return {"name": f"check-{tag}", "description": "created by the benchmark", "tags": ["bench", "kind-1"],
                "metadata": {"run": tag, "n": 1}}
    if kind == "members":
        return {"add": [f"node-check-{tag}-{i:04d}" for i in range(1000)]}
    if kind == "unmembers":  # the members that "members" added, removed
        return {"remove": [f"node-check-{tag}-{i:04d}" for i in range(1000)]}
    if kind == "freeze":
        return {}
    return BODIES.get(kind)


def check_request(name, kind, path, tag):
    """(method, path, body) of one request of a scenario in check_same_work; `tag` keeps the names
    of each side apart. A `seq` scenario's takes the next number of its pool."""
    if kind == "seq":
        spec, n = NUMBERED[name], take_numbers(name, 1)
        return spec.method, numbered(path, n, tag), spec.body and json.loads(numbered(spec.body, n, tag))
    body = request_body(kind, tag)
    return "GET" if body is None else "POST", path, body


class InProcess:
    """The service in this process (`SERVICE_ENV=production`, the run's database and secret),
    with every statement it sends recorded in `captured` (the database's query hook)."""

    def __init__(self, env, token):
        os.environ.update(env)
        from service import create_app
        from service.db import db

        self.db = db
        self.app = create_app({"DATABASE_URL": env["DATABASE_URL"], "JWT_SECRET_KEY": env["JWT_SECRET_KEY"],
                               "SERVICE_ENV": "production"})
        self.captured = []
        db.obj.query_hooks.append(lambda event: self.captured.append((event.sql, event.params)))
        self.client = self.app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method, path, body=None, expect=(200,)):
        response = self.client.open(path, method=method, json=body, headers=self.headers)
        assert response.status_code in expect, (method, path, response.status_code, response.data[:500])
        return json.loads(response.data)

    def disconnect(self):
        """Close its database connections: each server process ends, and reports the
        statistics it holds (pg_stat_user_tables) as it does."""
        self.db.close()
        self.db.obj.close_all()


# -- versions: made through the API, and what one costs ---------------------------------------

STAT_TABLES = ("version", "version_collection", "member", "dataset", "collection")


def table_figures(conn):
    """Per table of STAT_TABLES: (rows inserted, rows updated) as pg_stat_user_tables counts
    them, and the rows there are."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")  # else the statistics of the first read stay
        cur.execute("SELECT relname, n_tup_ins, n_tup_upd FROM pg_stat_user_tables WHERE relname = ANY(%s)",
                    (list(STAT_TABLES),))
        stats = {name: (inserted, updated) for name, inserted, updated in cur.fetchall()}
        counted = {}
        for table in STAT_TABLES:
            cur.execute(f'SELECT count(*) FROM "{table}"')
            counted[table] = cur.fetchone()[0]
    return {table: (*stats[table], counted[table]) for table in STAT_TABLES}


def make_versions(service, url, sizes):
    """Versions 1 and 2 of `versioned`, through the service's API: V1; C5 on `part-01` removing
    VERSION_CHANGED of its members and adding as many new ones; V1. Around the first V1 (of
    every member), the rows of each table and PostgreSQL's counts of rows inserted and updated
    (pg_stat_user_tables, which a server process reports after its transactions, at the latest
    when it exits: the service's connection is closed after the V1, and the counts waited for).
    Returns {table: (inserted, updated, rows added)} for that V1."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    service.disconnect()
    time.sleep(1.5)  # what earlier sessions did, reported
    before = table_figures(conn)
    version = service.call("POST", f"{VERSIONED}/versions", {}, expect=(201,))
    assert version["number"] == 1 and version["memberCount"] == sizes["collections"] * sizes["versioned_members"]
    service.disconnect()
    deadline = time.monotonic() + 10
    while True:
        after = table_figures(conn)
        if after["version"][0] > before["version"][0] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    conn.close()
    one_v1 = {table: tuple(a - b for a, b in zip(after[table], before[table], strict=True)) for table in STAT_TABLES}
    n = sizes["versioned_members"]
    step = n // VERSION_CHANGED
    removed = [f"clip-c-v-01/frame-{j:06d}" for j in range(step, n + 1, step)][:VERSION_CHANGED]
    added = [f"clip-c-v-01/retake-{j:06d}" for j in range(1, VERSION_CHANGED + 1)]
    collection = service.call("POST", f"{NS}/versions/collections/part-01/members", {"add": added, "remove": removed})
    assert collection["memberCount"] == n, collection
    assert service.call("POST", f"{VERSIONED}/versions", {}, expect=(201,))["number"] == 2
    diff = service.call("GET", f"{VERSIONED}/versions/1/diff/2")
    assert diff["collections"]["members"] == [{"id": "c-v-01", "name": "part-01", "added": added,
                                               "removed": removed}], "V4 1 → 2: not the change made"
    assert service.call("GET", f"{VERSIONED}/versions/1/diff/current")["collections"] == diff["collections"]
    return one_v1


def storage(url):
    """What versions and member changes occupy. Row data: pg_column_size of the rows (a tuple
    with its header). On disk: `copies` copies of the rows in empty temporary tables with the
    same columns and indexes (LIKE ... INCLUDING ALL): pg_total_relation_size less that of the
    empty tables, divided by the copies (pages, line pointers, alignment and index entries
    included); in one transaction, rolled back."""
    conn = psycopg2.connect(url)
    copies = 10_000
    found = {"copies": copies}
    with conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM version WHERE dataset_id = 'dv-versioned' AND number = 1")
        version_id = cur.fetchone()[0]
        cur.execute("SELECT pg_column_size(v.*) FROM version v WHERE id = %s", (version_id,))
        found["version_row"] = cur.fetchone()[0]
        cur.execute("SELECT count(*), sum(pg_column_size(c.*)) FROM version_collection c WHERE version_id = %s",
                    (version_id,))
        found["collections"], found["version_collection_rows"] = cur.fetchone()
        cur.execute("SELECT avg(pg_column_size(m.*)) FROM member m WHERE collection_id = 'c-v-01'")
        found["member_row"] = float(cur.fetchone()[0])

        def probe(table, fill):
            cur.execute(f"CREATE TEMPORARY TABLE probe_{table} (LIKE {table} INCLUDING ALL)")
            cur.execute(f"SELECT pg_total_relation_size('probe_{table}'), pg_indexes_size('probe_{table}')")
            empty = cur.fetchone()
            cur.execute(fill, {"version_id": version_id, "copies": copies})
            cur.execute(f"SELECT pg_total_relation_size('probe_{table}'), pg_indexes_size('probe_{table}')")
            full = cur.fetchone()
            cur.execute(f"DROP TABLE probe_{table}")
            return {"total": (full[0] - empty[0]) / copies, "indexes": (full[1] - empty[1]) / copies}

        # `copies` versions like version 1: the version row, and its rows per collection
        found["version_disk"] = probe(
            "version", "INSERT INTO probe_version SELECT 'p' || i || v.id, v.namespace_id, v.dataset_id, "
            "v.number + i, v.note, v.created_at, v.created_by, v.collection_count, v.member_count, v.name, "
            "v.description, v.tags, v.metadata, v.project_id, v.dataset_created_at, v.dataset_updated_at, "
            "v.dataset_created_by, v.dataset_updated_by "
            "FROM version v, generate_series(1, %(copies)s) AS i WHERE v.id = %(version_id)s")
        found["version_collection_disk"] = probe(
            "version_collection", "INSERT INTO probe_version_collection SELECT c.namespace_id, "
            "'p' || i || c.version_id, c.collection_id, c.name, c.created_at, c.change_seq, c.member_count "
            "FROM version_collection c, generate_series(1, %(copies)s) AS i WHERE c.version_id = %(version_id)s "
            "ORDER BY i, c.collection_id")
        # `copies` member rows of `versioned` as they are while members (removed_seq null), and
        # as rows kept after their removal
        members = ("INSERT INTO probe_member SELECT namespace_id, collection_id, node_id, position, added_seq, "
                   "{removed} FROM member WHERE collection_id IN (SELECT id FROM collection WHERE dataset_id = "
                   "'dv-versioned') AND removed_seq IS NULL ORDER BY collection_id, position LIMIT %(copies)s")
        found["member_disk"] = probe("member", members.format(removed="NULL"))
        found["removed_disk"] = probe("member", members.format(removed="1"))
        cur.execute("SELECT count(*) FROM member WHERE removed_seq IS NOT NULL AND collection_id IN "
                    "(SELECT id FROM collection WHERE dataset_id = 'dv-versioned')")
        found["history_rows"] = cur.fetchone()[0]
        conn.rollback()
    conn.close()
    return found


def analyze(url, *tables):
    """ANALYZE `tables`, as autovacuum would within a minute of their growth: the V1 scenario
    makes thousands of versions in seconds, and on the statistics of 60 rows PostgreSQL planned
    V2's and V4's small reads of the version tables as parallel queries, each paying ~6 ms to
    start its workers (the run of 2026-11-30 04:43, V4 1 → 2: p50 22 ms on both sides)."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"ANALYZE {', '.join(tables)}")
    conn.close()


def relation_sizes(url):
    """(versions of `versioned`, bytes of the version tables with their indexes)."""
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM version WHERE dataset_id = 'dv-versioned'), "
                    "pg_total_relation_size('version') + pg_total_relation_size('version_collection')")
        found = cur.fetchone()
    conn.close()
    return found


# Transaction control: not counted in Server-Timing. The service sends a streamed read's BEGIN
# through peewee's execute_sql, so it is among the statements captured (and the floor's trace).
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def check_same_work(service, names=None):
    """Every scenario once on the service (in process, statements captured with the
    database's query hook) and once on the floor: the same SQL text in the same order, the
    same response bytes (the same keys for the writes, whose IDs and times differ). C5's
    removal is checked too (the 1,000 members its addition added, removed), and so are the
    versions scenarios and R2 (one marked without a floor would run on the service alone). A `seq` scenario's request
    takes the next number of its pool on each side (check_request). `names`: only these (and C5's
    removal with C5), for a run of --only. Returns {scenario: (queries per request, response
    bytes, [(sql, params)], seconds the service took in process)}."""
    from werkzeug.test import Client

    from bench import floor

    floor_client = Client(floor.app)
    run = secrets.token_hex(3)
    checks = [(*scenario, True) for scenario in SCENARIOS]
    checks += [("C5-remove", "C5: remove 1,000 members", "unmembers", next(s[3] for s in SCENARIOS if s[0] == "C5"),
                True)]
    checks += [scenario[:5] for scenario in VERSION_SCENARIOS]
    checks += [(*R2, True)]
    work = {}
    for name, _, kind, path, floored in checks:
        if names is not None and name not in names and not (name == "C5-remove" and "C5" in names):
            continue
        method, service_path, body = check_request(name, kind, path, f"s{run}")
        service.captured.clear()
        started = time.perf_counter()
        got = service.client.open(service_path, method=method, json=body, headers=service.headers)
        took = time.perf_counter() - started
        service_sql = list(service.captured)
        assert got.status_code < 300, (name, got.status_code, got.data[:500])
        queries = int(re.search(r'desc="(\d+) queries"', got.headers["Server-Timing"]).group(1))
        counted = [sql for sql, _ in service_sql if not sql.startswith(TRANSACTION_CONTROL)]
        assert queries == len(counted), (name, queries, len(counted))
        work[name] = (queries, len(got.data), service_sql, took)
        if not floored:
            continue
        floor.trace = []
        method, floor_path, body = check_request(name, kind, path, f"f{run}")
        expected = floor_client.open(floor_path, method=method, json=body, headers=service.headers)
        floor_sql, floor.trace = floor.trace, None
        assert got.status_code == expected.status_code, (name, got.status_code, expected.status_code)
        if [sql for sql, _ in service_sql] != [sql for sql, _ in floor_sql]:
            raise AssertionError(f"{name}: the floor's statements differ from the service's:\n"
                                 + "\n".join(sql for sql, _ in service_sql) + "\n--- floor:\n"
                                 + "\n".join(sql for sql, _ in floor_sql))
        if method == "GET":
            assert got.data == expected.data, f"{name}: response bytes differ"
        else:
            assert list(json.loads(got.data)) == list(json.loads(expected.data)), f"{name}: keys differ"
            if kind == "unmembers":  # each side removed the 1,000 it had added
                assert json.loads(expected.data)["memberCount"] == json.loads(got.data)["memberCount"] - 1000
    service.disconnect()
    return work


# -- CPU per request, in process (bench/cost.py) -----------------------------------------------

# The scenarios whose time the cost step profiles by layer (a small D3 and a write).
PROFILED = ("D3-1k", "D1")


def cost_scenarios(work):
    """Every scenario of the main table, the versions' and R2, in their order: (name, kind, path)."""
    return [s[:1] + s[2:4] for s in (*SCENARIOS, *VERSION_SCENARIOS, R2) if s[0] in work]


def cost_spec(work, token, sides, instructions=False, layers=()):
    """The requests of each scenario of `work` for bench/cost.py's child, on `sides`: how many
    each round takes from the time the service took for it in check_same_work (a round of about
    cost.ROUND_SECONDS); under callgrind, segments of at most cost.SEGMENT_MOST requests, the
    reads of more than cost.INSTRUCTIONS_MAX_MS left out."""
    from bench import cost

    run, scenarios = secrets.token_hex(3), []
    for name, kind, path in cost_scenarios(work):
        took = work[name][3]
        if instructions and took * 1000 > cost.INSTRUCTIONS_MAX_MS:
            continue
        per_round = max(2, min(200, int(cost.ROUND_SECONDS / took)))
        if instructions:
            per_round = min(per_round, cost.SEGMENT_MOST)
        warm = min(cost.WARM_UP, per_round)
        profiled = 1000 if name in layers else 0
        count = warm + per_round * (cost.SEGMENTS if instructions else cost.ROUNDS) + profiled
        # N3 also on a bare Flask app (bench/cost.py, bare_flask): what Flask alone costs
        on = (*sides, "flask") if name == "N3" and "floor" in sides else sides
        scenarios.append({"name": name, "warm": warm, "per_round": per_round, "profiled": profiled, "sides": {
            side: [check_request(name, kind, path, f"c{side[0]}{run}-{i}") for i in range(count)] for side in on}})
    return {"token": token, "rounds": cost.ROUNDS, "scenarios": scenarios}


def measure_cost(work, token, env, before=None):
    """CPU time and instructions per request of every scenario, in process, service and floor;
    the layers of PROFILED; and, with `before` (a revision), its service's, from a worktree."""
    from bench import cost

    found = {}
    for label, root, sides in (("now", None, ("service", "floor")), ("before", before, ("service",))):
        if label == "before" and not before:
            continue
        with ExitStack() as stack:
            if root:
                root = stack.enter_context(tempfile.TemporaryDirectory(prefix="registry-before-"))
                subprocess.run(["git", "worktree", "add", "--detach", root, before], cwd=ROOT, check=True,
                               capture_output=True)
                stack.callback(subprocess.run, ["git", "worktree", "remove", "--force", root], cwd=ROOT,
                               capture_output=True)
            cpu = cost.run_child(cost_spec(work, token, sides, layers=PROFILED), env, root, layers=PROFILED)
            counted = cost.run_child(cost_spec(work, token, sides, instructions=True), env, root, instructions=True)
        found[label] = {"cpu_us": {name: {side: statistics.median(v) for side, v in per.items()}
                                   for name, per in cpu["cpu_us"].items()},
                        "spread": {name: {side: (min(v), max(v)) for side, v in per.items()}
                                   for name, per in cpu["cpu_us"].items()},
                        "layers": cpu["layers"], "instructions": counted["instructions"]}
    return found


def cost_section(ctx):
    """## CPU per request: the cost step's figures, and where the time of PROFILED goes."""
    from bench import cost

    found, before_rev = ctx["cost"], ctx.get("cost_before")
    now, before = found["now"], found.get("before")
    head = ("| scenario | service µs | floor µs | **floor ÷ service** | rounds: min–max µs (service) | "
            "service instructions | floor instructions | floor ÷ service |")
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|"
    if before:
        head += f" before ({before_rev}): service µs | before: instructions | instructions now ÷ before |"
        rule += "---:|---:|---:|"
    lines = [
        "## CPU per request, in process",
        "",
        "The CPU time and the instructions that one request costs the process serving it, the service and the floor "
        "each called as a WSGI app in one process with the environ a server hands it (bench/cost.py; no gunicorn, "
        "no client; PostgreSQL's work is in another process and not counted). CPU time: the median of "
        f"{cost.ROUNDS} rounds of about {cost.ROUND_SECONDS} s, the sides in turn. Instructions: the same under "
        f"valgrind's callgrind, the median of {cost.SEGMENTS} segments of at most {cost.SEGMENT_MOST} requests "
        "(repeatable to about 1 % whatever else the machine runs; reads of more than "
        f"{cost.INSTRUCTIONS_MAX_MS} ms in process are left out). Read a change of a few percent in the "
        "instructions, not in the µs. How it is measured: [bench/README.md](README.md#cpu-per-request).",
        "",
        head,
        rule,
    ]
    for name, *_ in cost_scenarios(now["cpu_us"]):
        cpu, spread, counted = now["cpu_us"][name], now["spread"][name], now["instructions"]
        service_i, floor_i = counted.get(f"{name}/service"), counted.get(f"{name}/floor")
        row = (f"| {name} | {cpu['service']:,.0f} | {cpu['floor']:,.0f} | **{cpu['floor'] / cpu['service']:.2f}** | "
               f"{spread['service'][0]:,.0f}–{spread['service'][1]:,.0f} | "
               + (f"{service_i:,.0f} | {floor_i:,.0f} | {floor_i / service_i:.2f} |" if service_i else "– | – | – |"))
        if before:
            was, was_i = before["cpu_us"].get(name, {}).get("service"), before["instructions"].get(f"{name}/service")
            row += (f" {was:,.0f} |" if was else " – |") + (f" {was_i:,.0f} | {service_i / was_i:.2f} |"
                                                           if was_i and service_i else " – | – |")
        lines.append(row)
    flask, flask_i = now["cpu_us"].get("N3", {}).get("flask"), now["instructions"].get("N3/flask")
    if flask:
        service, floor = now["cpu_us"]["N3"]["service"], now["cpu_us"]["N3"]["floor"]
        lines += ["", f"Flask alone, for scale: an app of one route that answers N3's body from its path (no hook, no "
                  f"token, no database; `bare_flask` in bench/cost.py) costs **{flask:,.0f} µs**"
                  + (f" ({flask_i:,.0f} instructions)" if flask_i else "")
                  + " per request. A service on Flask that did nothing but the floor's work would cost about the "
                  f"floor's {floor:,.0f} µs and that: "
                  f"floor ÷ service {floor / (floor + flask):.2f} at best for N3, against {floor / service:.2f} now."]
    lines.append("")
    for name in PROFILED:
        layers = now["layers"].get(name)
        if not layers:
            continue
        was = before and before["layers"].get(name)
        lines += [
            f"### Where the time of {name} goes",
            "",
            "cProfile over 1,000 requests in process, its time per function given to the layer of the code it "
            "belongs to (a function of the standard library to the layers that called it). cProfile's clock is the "
            "wall clock and it slows every Python call, so the figures are larger than the CPU time above and weigh "
            "layers of many small calls more; the waits for PostgreSQL are a line of their own.",
            "",
            "| layer | µs per request | share of the process's time |" + (f" before ({before_rev}): µs | share |"
                                                                         if was else ""),
            "|---|---:|---:|" + ("---:|---:|" if was else ""),
        ]
        own = sum(v for k, v in layers.items() if k != cost.WAIT)
        own_before = was and sum(v for k, v in was.items() if k != cost.WAIT)
        for layer in sorted(set(layers) | set(was or {}), key=lambda k: (k == cost.WAIT, -layers.get(k, 0))):
            share = "–" if layer == cost.WAIT else f"{layers.get(layer, 0) / own:.0%}"
            row = f"| {layer} | {layers.get(layer, 0):,.1f} | {share} |"
            if was:
                share_before = "–" if layer == cost.WAIT else f"{was.get(layer, 0) / own_before:.0%}"
                row += f" {was.get(layer, 0):,.1f} | {share_before} |"
            lines.append(row)
        total = f"| **the process's own time** | **{own:,.1f}** | |"
        lines += [total + (f" **{own_before:,.1f}** | |" if was else ""), ""]
    return lines


# -- EXPLAIN ANALYZE ---------------------------------------------------------------------------

def last_statement(work, name):
    """The last statement (sql, params) a scenario sent but transaction control: the one that
    reads what it answers."""
    return next(statement for statement in reversed(work[name][2]) if not statement[0].startswith(TRANSACTION_CONTROL))


def explain(url, work):
    """The D2 page statement (the last one of each D2 scenario) under EXPLAIN ANALYZE, and
    the same statement for page 10,000 (rows 499,951–500,000 of 1M)."""
    conn = psycopg2.connect(url, options="-c jit=off")  # as the service's connections
    conn.autocommit = True
    plans = {}
    with conn.cursor() as cur:
        cases = [(n, *last_statement(work, n)) for n in ("D2-10k", "D2-1M", "D2-1M-p1000", "D2-1M-tag")]
        sql, params = last_statement(work, "D2-1M")
        cases.append(("D2-1M-p10000", sql, [*params[:-1], 499_950]))
        for name, sql, params in cases:
            plans[name] = explained(cur, sql, params)
    conn.close()
    return plans


DECLARED = re.compile(r"DECLARE \w+ NO SCROLL CURSOR FOR (.*); FETCH \d+ FROM \w+", re.S)


def explained(cur, sql, params, runs=3):
    """EXPLAIN (ANALYZE, BUFFERS) of a statement with its parameters inlined, `runs` times (warm:
    the numbers kept are those of the last run). A streamed read's DECLARE …; FETCH: the SELECT
    it declares, whole (every row, as the FETCHes read them)."""
    declared = DECLARED.fullmatch(sql)
    statement = cur.mogrify(declared.group(1) if declared else sql, params).decode()
    for _ in range(runs):
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
        lines = [row[0] for row in cur.fetchall()]
    text = "\n".join(lines)
    buffers = re.search(r"Buffers: shared((?: \w+=\d+)+)", text)  # the top node's: the whole statement's
    return {"plan": text, "planning_ms": float(re.search(r"Planning Time: ([\d.]+)", text).group(1)),
            "execution_ms": float(re.search(r"Execution Time: ([\d.]+)", text).group(1)),
            "buffers": sum(int(n) for n in re.findall(r"=(\d+)", buffers.group(1))) if buffers else 0}


def explain_versions(url, work):
    """The statement that reads the members of V3 (version 1), of D3 (`versioned` now) and of
    V4's changes (1 → 2, 1 → current), under EXPLAIN ANALYZE: the last statement of each."""
    conn = psycopg2.connect(url, options="-c jit=off")  # as the service's connections
    conn.autocommit = True
    with conn.cursor() as cur:
        plans = {name: explained(cur, *last_statement(work, name), runs=2 if name.startswith(("V3", "D3")) else 3)
                 for name in ("V3-v1", "D3-versioned", "V4-1-2", "V4-1-current") if name in work}
    conn.close()
    return plans


# -- big collections ---------------------------------------------------------------------------

def make_cursors(service, sizes):
    """The cursors of the deep pages, made by the service through its API (in process; a cursor
    is signed with the run's secret): D2 of `large` after row `large` − 50 (the nextCursor of the
    page by number that ends there), M1 of `million` after position `million` − 10,000 (its pages
    of 10,000 walked to there). Returns ({d2_cursor, m1_cursor}, {d2, m1}: the depths)."""
    d2 = sizes["large"] - 50
    page = service.call("GET", f"{NS}/large/datasets?page={d2 // 50}")
    assert page["datasets"][-1]["name"] == f"dataset-{d2:07d}" and page["nextCursor"], "D2: not the page asked"
    m1 = sizes["million_members"] - 10_000
    path, cursor, seen = f"{NS}/big/collections/million/members", None, 0
    while seen < m1:
        got = service.call("GET", f"{path}?limit={min(10_000, m1 - seen)}" + (f"&cursor={cursor}" if cursor else ""))
        seen, cursor = seen + len(got["members"]), got["nextCursor"]
    assert got["members"][-1] == f"clip-c-million/frame-{m1:07d}" and cursor, "M1: not the position asked"
    service.disconnect()
    return {"d2_cursor": page["nextCursor"], "m1_cursor": cursor}, {"d2": d2, "m1": m1}


def lookup_ids(sizes):
    """R2's node IDs: LOOKUP_IDS of `versioned`, as many of each collection, spread evenly."""
    per = LOOKUP_IDS // sizes["collections"]
    step = sizes["versioned_members"] // per
    return [f"clip-c-v-{c:02d}/frame-{j:06d}" for c in range(1, sizes["collections"] + 1)
            for j in range(step, step * per + 1, step)]


def explain_big(url, work, depths):
    """EXPLAIN ANALYZE of the deep pages' statements beside the first pages' (D2's first page is
    explain()'s), of D2 by page number at the same depth as the cursor, and of R2's statement."""
    conn = psycopg2.connect(url, options="-c jit=off")  # as the service's connections
    conn.autocommit = True
    with conn.cursor() as cur:
        plans = {name: explained(cur, *last_statement(work, name))
                 for name in ("D2-1M-cursor", "M1-first", "M1-deep", R2[0]) if name in work}
        sql, params = last_statement(work, "D2-1M")
        plans["D2-1M-offset"] = explained(cur, sql, [*params[:-1], depths["d2"]])
    conn.close()
    return plans


def walk(server, token, size):
    """Every dataset of `large`, WALK_PAGE_SIZE a page by cursor (each page's nextCursor), one
    request at a time on one kept-alive connection. Checks that every row came once, in order."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    headers = {"Authorization": f"Bearer {token}"}
    times, rows, last, cursor = [], 0, "", None
    started = time.perf_counter()
    while True:
        begun = time.perf_counter()
        conn.request("GET", f"{NS}/large/datasets?pageSize={WALK_PAGE_SIZE}" + (f"&cursor={cursor}" if cursor else ""),
                     headers=headers)
        response = conn.getresponse()
        body = response.read()
        times.append(time.perf_counter() - begun)
        assert response.status == 200, (response.status, body[:300])
        page = json.loads(body)
        names = [d["name"] for d in page["datasets"]]
        assert names == sorted(names) and (not names or names[0] > last), "walk: a row out of order or repeated"
        rows, last, cursor = rows + len(names), names[-1] if names else last, page["nextCursor"]
        if cursor is None:
            break
    seconds = time.perf_counter() - started
    conn.close()
    assert rows == size, f"walk: {rows} rows of {size}"
    tenth = max(1, len(times) // 10)
    tenths = [statistics.median(times[i:i + tenth]) * 1000 for i in range(0, tenth * 10, tenth) if times[i:i + tenth]]
    return {"pages": len(times), "rows": rows, "seconds": seconds, "tenths_ms": tenths,
            "median_ms": statistics.median(times) * 1000}


def first_byte(server, path, token):
    """One GET on a new connection (Connection: close), read with a raw socket: (seconds to the
    first byte of the answer, seconds to its last, bytes with the headers). The answer must be
    whole: its Content-Length, or chunked with its last chunk."""
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {token}\r\n"
               "Connection: close\r\n\r\n").encode()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", server.port), timeout=120) as sock:
        sock.sendall(request)
        data = sock.recv(65536)
        first = time.perf_counter() - started
        assert data.startswith(b"HTTP/1.1 200"), data[:300]
        size = len(data)
        pieces = [data]
        while data:
            data = sock.recv(1 << 20)
            size += len(data)
            pieces.append(data[-64:] if len(pieces) > 1 else data)
    last = time.perf_counter() - started
    head = pieces[0].split(b"\r\n\r\n", 1)[0].lower()
    length = re.search(rb"\r\ncontent-length: *(\d+)", head)
    whole = size - len(head) - 4 == int(length.group(1)) if length else b"".join(pieces[-3:]).endswith(b"\r\n0\r\n\r\n")
    assert whole, f"GET {path}: the answer was cut after {size:,} bytes (see the server's log)"
    return first, last, size


def worker_pids(server):
    pid = server.process.pid
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def status_kib(pid, field):
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M).group(1))


def stream_figures(server, token, scenarios, count, connections):
    """On a server started for this: warmed up (1 s of D2's first page and of D3 of 1,000 members,
    the run's connections, so that every worker has served), each worker's VmRSS (idle); then
    `count` D3 of `versioned` one at a time, each worker's VmHWM (its peak since it started) and
    the most VmRSS sampled every 5 ms meanwhile; then D3 of 100,000 members `count` times, and V3
    of version 1 (not streamed) `count` // 2 times, and the VmHWM after. The first byte and the
    last of every request, by a raw socket."""
    for name in ("D2-10k", "D3-1k"):
        wrk(server, scenarios[name], token, f"mem{server.port}{name}", 1, connections)
    pids = worker_pids(server)
    idle = {pid: status_kib(pid, "VmRSS") for pid in pids}
    sampled, sampling = dict(idle), threading.Event()

    def sample():
        while not sampling.wait(0.005):
            for pid in pids:
                sampled[pid] = max(sampled[pid], status_kib(pid, "VmRSS"))

    found = {"workers": len(pids), "idle_kib": idle, "reads": {}}
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for name, path, times in (("D3-versioned", VERSIONED, count), ("D3-100k", scenarios["D3-100k"][3], count),
                              ("V3-v1", f"{VERSIONED}/versions/1", max(1, count // 2))):
        reads = [first_byte(server, path, token) for _ in range(times)]
        found["reads"][name] = {"count": times, "first_ms": statistics.median(r[0] for r in reads) * 1000,
                                "last_ms": statistics.median(r[1] for r in reads) * 1000, "bytes": reads[0][2]}
        if name == "D3-versioned":
            found["hwm_d3_kib"] = {pid: status_kib(pid, "VmHWM") for pid in pids}
            found["sampled_d3_kib"] = dict(sampled)
    sampling.set()
    sampler.join()
    found["hwm_v3_kib"] = {pid: status_kib(pid, "VmHWM") for pid in pids}
    grown = lambda peaks: max(peaks[pid] - idle[pid] for pid in pids) / 1024  # noqa: E731
    found["d3_above_idle_mib"] = grown(found["hwm_d3_kib"])
    found["d3_sampled_above_idle_mib"] = grown(found["sampled_d3_kib"])
    found["v3_above_idle_mib"] = grown(found["hwm_v3_kib"])
    return found


def set_operations(server, url, token, sizes, run, samples, operations=SET_OPERATIONS):
    """C1 `from` over `half-a` and `half-b` of project `big`: of each operation, `samples` requests
    one at a time, each making a collection of a name of its own, which is deleted (its member
    rows, then its row) after it; VACUUM ANALYZE at the end. The wall time of each request as a
    client sees it, and the database time it reports (Server-Timing). An operation whose first
    request fails is not tried again: {"failed": (status, seconds, the error's code and message)}."""
    half = sizes["half_members"]
    expected = {"union": half + half // 2, "intersection": half // 2, "difference": half // 2}
    conn = psycopg2.connect(url)
    conn.autocommit = True
    found = {}
    try:
        for operation in operations:
            wall, db_ms, queries = [], [], set()
            for i in range(samples):
                started = time.perf_counter()
                try:
                    status, headers, body = server.request("POST", f"{NS}/big/collections", {
                        "name": f"{operation}-{run}-{i}", "from": {operation: ["half-a", "half-b"]}}, token=token,
                        timeout=600)
                except OSError as e:  # the worker was stopped (gunicorn's timeout) before it answered
                    status, headers, body = None, {}, {"error": {"code": type(e).__name__, "message": str(e)}}
                seconds = time.perf_counter() - started
                if status != 201:
                    error = (body or {}).get("error", {})
                    found[operation] = {"members": expected[operation], "failed": (status, seconds, error.get("code"),
                                                                                  error.get("message"))}
                    break
                wall.append(seconds * 1000)
                assert body["memberCount"] == expected[operation], (operation, body["memberCount"])
                timing = re.search(r'db;dur=([\d.]+);desc="(\d+) queries"', headers["Server-Timing"])
                db_ms.append(float(timing.group(1)))
                queries.add(int(timing.group(2)))
                with conn.cursor() as cur:
                    cur.execute("DELETE FROM member WHERE collection_id = %s", (body["id"],))
                    cur.execute("DELETE FROM collection WHERE id = %s", (body["id"],))
            else:
                found[operation] = {"members": expected[operation], "count": samples,
                                    "p50_ms": statistics.median(wall), "min_ms": min(wall), "max_ms": max(wall),
                                    "db_ms": statistics.median(db_ms), "queries": sorted(queries)}
    finally:
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE member, collection")
        conn.close()
    return found


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


def target(name):
    """The least service/floor throughput of scenario `name` (TARGETS, by its endpoint), or None."""
    return TARGETS.get(name.split("-")[0])


def held(name, r):
    """ " (target 0.9 ✔)" for a log line: scenario `name`'s ratio against its target, if it has one."""
    goal = target(name)
    if goal is None:
        return ""
    return f" (target {goal} {'✔' if r['service']['rps'] / r['floor']['rps'] >= goal else '✘'})"


def floor_table(results, scenarios):
    """The lines of a table of `scenarios` ((name, title) each) beside the floor: requests/s,
    the ratio (✔/✘ against its target, where it has one) with its spread over the rounds, p50, p99."""
    lines = ["| scenario | queries | response bytes | service req/s | floor req/s | **service/floor** | target | "
             "rounds: min–max | service p50 / p99 ms | floor p50 / p99 ms |",
             "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for name, title in scenarios:
        r = results[name]
        sv, fl = r["service"], r["floor"]
        ratio, goal = sv["rps"] / fl["rps"], target(name)
        mark = "–" if goal is None else f"{goal} {'✔' if ratio >= goal else '✘'}"
        lines.append(f"| {title} | {r['queries']} | {r['bytes']:,} | {sv['rps']:,.0f} | {fl['rps']:,.0f} | "
                     f"**{ratio:.2f}** | {mark} | {min(r['round_ratios']):.2f}–{max(r['round_ratios']):.2f} | "
                     f"{ms(sv['p50_ms'])} / {ms(sv['p99_ms'])} | {ms(fl['p50_ms'])} / {ms(fl['p99_ms'])} |")
    return lines


def targets_verdict(results, names):
    """The line under a table beside the floor: which of `names` reach their target, which do not."""
    aimed = [name for name in names if target(name) is not None]
    ratios = {name: results[name]["service"]["rps"] / results[name]["floor"]["rps"] for name in aimed}
    below = [name for name in aimed if ratios[name] < target(name)]
    free = [name for name in names if target(name) is None]
    return (f"✔/✘: every read must reach a service/floor throughput of at least {READ_TARGET}, every write at least "
            f"{WRITE_TARGET} (the service also validates every field of a body with marshmallow, the floor with "
            "plain Python); "
            + (f"all {len(aimed)} scenarios here do." if not below else
               f"{len(aimed) - len(below)} of {len(aimed)} do; not "
               + ", ".join(f"{name} ({ratios[name]:.3f} < {target(name)})" for name in below) + ".")
            + (f" No target: {', '.join(free)}." if free else ""))


def ms(value):
    return f"{value:,.0f}" if value >= 1000 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


SCAN = re.compile(r"(?:Parallel )?(?:Index Only Scan|Index Scan|Bitmap Index Scan|Bitmap Heap Scan|Seq Scan)"
                  r"(?: Backward)?(?: using \w+)? on \w+")


def scans(plan):
    """The scan nodes of an EXPLAIN text, each once, in order."""
    return list(dict.fromkeys(SCAN.findall(plan)))


def heap_fetches(plan):
    found = [int(n) for n in re.findall(r"Heap Fetches: (\d+)", plan)]
    return f"{sum(found):,}" if found else "–"


def worker_models_section(ctx):
    models, chosen = ctx["models"], ctx["chosen"]
    lines = [
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
    return lines


def kb(n):
    return f"{n / 1024:,.1f} KiB" if n >= 10_240 else f"{n:,.0f} B"


def versions_section(ctx):
    """## Versions: V1, V3 beside D3, V4, what a version and a member change occupy, and the
    figures of the previous run beside this one's."""
    sizes, found, results = ctx["sizes"], ctx["versions"], ctx["results"]
    members = sizes["collections"] * sizes["versioned_members"]
    lines = [
        "## Versions",
        "",
        f"Dataset `versioned` (project `versions`, of its own): {sizes['collections']} collections × "
        f"{sizes['versioned_members']:,} members ({members:,}). Made in the run's setup through the API: version 1 "
        f"(V1), then one C5 on `part-01` removing {VERSION_CHANGED} of its members and adding {VERSION_CHANGED} new "
        f"ones, then version 2 (V1); V4 1 → 2 was checked to list exactly that change. The check that the floor "
        "does the same work made version 3, and the V1 scenario adds a version per request. How to read this section: "
        "[bench/README.md](README.md#versions).",
        "",
        "| scenario | queries | response bytes | load | service req/s | service p50 / p99 ms | floor req/s | "
        "floor p50 / p99 ms | service/floor |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, title, *_ in VERSION_SCENARIOS:
        if name not in found:
            continue
        r = found[name]
        sv, fl = r["service"], r["floor"]
        goal = target(name)
        mark = "" if not fl or goal is None else f" {'✔' if sv['rps'] / fl['rps'] >= goal else '✘'} (≥ {goal})"
        floor_cells = (f"{fl['rps']:,.1f} | {ms(fl['p50_ms'])} / {ms(fl['p99_ms'])} | **{sv['rps'] / fl['rps']:.2f}**"
                       f"{mark}" if fl else "– | – | –")
        lines.append(f"| {title} | {r['queries']} | {r['bytes']:,} | {r['connections']} conn., {r['seconds']} s runs | "
                     f"{sv['rps']:,.1f} | {ms(sv['p50_ms'])} / {ms(sv['p99_ms'])} | {floor_cells} |")
    lines += ["", "Measured as the scenarios beside the floor are (a warm-up, then rounds of service, floor, floor, "
              "service), with the load of the column; where there is no floor, the service alone, two runs a round. "
              "✔/✘: the target of the scenario's endpoint, as in the first table.", ""]

    # V1
    v1 = ctx["one_v1"]
    inserted = {table: v1[table][0] for table in v1}
    counted = {table: v1[table][2] for table in v1}
    expected = {"version": 1, "version_collection": sizes["collections"], "member": 0}
    stats_seen = inserted["version"] > 0
    source = inserted if stats_seen else counted
    ok = all(counted[table] == n and (not stats_seen or inserted[table] == n) for table, n in expected.items())
    lines += [
        "### V1: what freezing writes",
        "",
        f"Around the V1 that made version 1 ({members:,} members), with nothing else running: the rows each table "
        "gained (counted before and after) and PostgreSQL's counts of rows inserted and updated "
        "(`pg_stat_user_tables` `n_tup_ins`, `n_tup_upd`, read after `pg_stat_clear_snapshot()`, once the "
        "service's connection had closed and reported them).",
        "",
        "| table | rows inserted | rows updated | rows gained |",
        "|---|---:|---:|---:|",
    ]
    for table, (ins, upd, added) in v1.items():
        lines.append(f"| `{table}` | {ins:,} | {upd:,} | {added:+,} |")
    v1_p50 = found["V1"]["service"]["p50_ms"] if "V1" in found else None
    lines += [
        "",
        f"{'✔' if ok else '✘'} One V1 of {members:,} members writes {source['version']} `version` row, "
        f"{source['version_collection']} `version_collection` rows (one per collection) and {source['member']} "
        f"`member` rows (expected: 1, {sizes['collections']}, 0)"
        + ("" if stats_seen else "; PostgreSQL had not reported its counts within 10 s: from the rows counted")
        + ". It also updates the dataset's row (its count of versions), and locks the collections' rows "
        "(FOR SHARE) without writing them."
        + (f" V1's p50: **{ms(v1_p50)} ms** (one connection: a dataset's freezes queue on its row)."
           if v1_p50 is not None else ""),
        "",
    ]

    # V3 beside D3
    timings, plans = ctx["timings"], ctx["version_plans"]
    if "V3-v1" in found and "D3-versioned" in found:
        v3, d3 = found["V3-v1"], found["D3-versioned"]
        slower = d3["service"]["rps"] / v3["service"]["rps"]
        lines += [
            "### V3 (a version) beside D3 (the dataset now)",
            "",
            f"V3 of version 1 and D3 of `versioned` answer the same {members:,} members (D3 with the "
            f"{VERSION_CHANGED} replaced ones): V3 reads each collection's members at the change the version "
            "recorded, from the membership history; D3 the current ones.",
            "",
            "| | V3 version 1 | D3 now | V3 ÷ D3 |",
            "|---|---:|---:|---:|",
            f"| service: time per request (1 / req/s) | {ms(1000 / v3['service']['rps'])} ms | "
            f"{ms(1000 / d3['service']['rps'])} ms | **{slower:.2f}** {'✔' if slower <= V3_BOUND else '✘'} |",
            f"| service p50 | {ms(v3['service']['p50_ms'])} ms | {ms(d3['service']['p50_ms'])} ms | "
            f"{v3['service']['p50_ms'] / d3['service']['p50_ms']:.2f} |",
            f"| floor: time per request | {ms(1000 / v3['floor']['rps'])} ms | {ms(1000 / d3['floor']['rps'])} ms | "
            f"{d3['floor']['rps'] / v3['floor']['rps']:.2f} |",
        ]
        if "V3-v1" in timings and "D3-versioned" in timings:
            tv, td = timings["V3-v1"], timings["D3-versioned"]
            lines.append(f"| database time (Server-Timing, median of {tv['count']} one at a time) | "
                         f"{ms(tv['db_ms'])} ms | {ms(td['db_ms'])} ms | {tv['db_ms'] / td['db_ms']:.2f} |")
        if "V3-v1" in plans and "D3-versioned" in plans:
            pv, pd = plans["V3-v1"], plans["D3-versioned"]
            lines.append(f"| the members' statement, EXPLAIN ANALYZE | {ms(pv['execution_ms'])} ms, "
                         f"{pv['buffers']:,} buffers | {ms(pd['execution_ms'])} ms, {pd['buffers']:,} buffers | "
                         f"{pv['execution_ms'] / pd['execution_ms']:.2f} |")
        lines += [
            "",
            "D3 streams its members: its Server-Timing counts its statements up to the first batch its cursor "
            "reads (32 chunks of members); the FETCHes that follow while the body is written are not in it. The "
            "EXPLAIN row is the whole members' statement on either side.",
            "",
            f"Target: V3 within {V3_BOUND}× D3's time per request: "
            + (f"✔ ({slower:.2f}×)." if slower <= V3_BOUND else f"✘ ({slower:.2f}×)."),
            "",
        ]
        if "V3-v1" in plans and "D3-versioned" in plans:
            lines += [f"Scans: V3 {'; '.join(scans(plans['V3-v1']['plan']))}. D3 "
                      f"{'; '.join(scans(plans['D3-versioned']['plan']))}.", ""]

    # V4
    v4 = [name for name in ("V4-1-2", "V4-1-current") if name in found or name in timings]
    if v4:
        lines += [
            "### V4: a diff",
            "",
            f"Between version 1 and version 2, and between version 1 and the dataset now: {VERSION_CHANGED} members "
            f"removed and {VERSION_CHANGED} added in one of {sizes['collections']} collections of "
            f"{sizes['versioned_members']:,}. Database time: the service's own Server-Timing `db` (all its "
            "statements), requests one at a time on the idle server.",
            "",
            f"| diff | p50 / p99 under load ms | database time, median (max) ms | target < {V4_DB_MS_BOUND} ms | "
            "changes statement: EXPLAIN ANALYZE ms, buffers |",
            "|---|---:|---:|---|---:|",
        ]
        for name in v4:
            r, t, plan = found.get(name), timings.get(name), plans.get(name)
            label = "1 → 2" if name == "V4-1-2" else "1 → current"
            load = f"{ms(r['service']['p50_ms'])} / {ms(r['service']['p99_ms'])}" if r else "–"
            db = f"{ms(t['db_ms'])} ({ms(t['db_max_ms'])}), {t['count']} requests" if t else "–"
            verdict = ("✔" if t["db_ms"] < V4_DB_MS_BOUND else "✘") if t else "–"
            explained_cell = f"{ms(plan['execution_ms'])}, {plan['buffers']:,}" if plan else "–"
            lines.append(f"| {label} | {load} | {db} | {verdict} | {explained_cell} |")
        if "V4-1-2" in plans:
            lines += ["", f"Scans of the changes statement (1 → 2): {'; '.join(scans(plans['V4-1-2']['plan']))}."]
        lines.append("")

    # storage
    st = ctx["stored"]
    version_rows = st["version_row"] + st["version_collection_rows"]
    version_disk = st["version_disk"]["total"] + st["version_collection_disk"]["total"]
    version_indexes = st["version_disk"]["indexes"] + st["version_collection_disk"]["indexes"]
    thousand = 1000
    lines += [
        "### Storage",
        "",
        "Row data: `pg_column_size` of the rows (tuple header included). On disk: "
        f"{st['copies']:,} copies of the rows in empty temporary tables with the same columns and indexes "
        "(`LIKE … INCLUDING ALL`), `pg_total_relation_size` less the empty tables', divided by the copies "
        "(pages, line pointers, alignment and index entries included), in a transaction rolled back.",
        "",
        "| what | rows | row data | on disk, with indexes | of which indexes |",
        "|---|---:|---:|---:|---:|",
        f"| a version: its `version` row | 1 | {kb(st['version_row'])} | {kb(st['version_disk']['total'])} | "
        f"{kb(st['version_disk']['indexes'])} |",
        f"| a version: its `version_collection` rows | {st['collections']} | {kb(st['version_collection_rows'])} | "
        f"{kb(st['version_collection_disk']['total'])} | {kb(st['version_collection_disk']['indexes'])} |",
        f"| **a version of {members:,} members** | {st['collections'] + 1} | {kb(version_rows)} | "
        f"**{kb(version_disk)}** | {kb(version_indexes)} |",
        f"| {thousand:,} members added (new rows) | {thousand:,} | {kb(st['member_row'] * thousand)} | "
        f"{kb(st['member_disk']['total'] * thousand)} | {kb(st['member_disk']['indexes'] * thousand)} |",
        f"| {thousand:,} members removed (their rows kept, `removed_seq` set) | {thousand:,} | "
        f"{kb(st['member_row'] * thousand)} | {kb(st['removed_disk']['total'] * thousand)} | "
        f"{kb(st['removed_disk']['indexes'] * thousand)} |",
        "",
    ]
    grown = ctx["version_sizes"]
    if grown.get("after") and grown["after"][0] > grown["before"][0]:
        made = grown["after"][0] - grown["before"][0]
        lines += [f"Measured on the tables themselves: the V1 scenario made {made:,} versions, and `version` with "
                  f"`version_collection` (indexes included) grew by {kb(grown['after'][1] - grown['before'][1])}: "
                  f"{kb((grown['after'][1] - grown['before'][1]) / made)} per version.", ""]
    lines += [
        f"A version costs in proportion to the collections ({st['collections'] + 1} rows), nothing per member. "
        f"A removed member's row stays as long as a version may need it (`flask --app wsgi compact-history` "
        f"deletes those none needs): here {st['history_rows']} rows of `versioned` are history. Before schema "
        "version 4, a removal deleted the row, and a version did not exist.",
        "",
    ]

    # before → now
    rows = [(name, label) for name, label in (("D2-10k", "D2 first page, 10k project"),
                                              ("D3-1k", "D3, 1,000 members"),
                                              ("C5", "C5, add 1,000 members")) if name in results]
    if rows:
        lines += [
            "### Before → now",
            "",
            f"The previous full run ({PREVIOUS_RUN}: schema version 3, removed members deleted, no versions) "
            f"beside this one; `member` now also holds the {members:,} rows of `versioned` and "
            f"the history; this run's worker model: {ctx['chosen'][0]}. Absolute figures drift between runs on this "
            f"shared machine (load average before this run: {ctx['machine']['load']}): read the service/floor ratio "
            "first.",
            "",
            "| scenario | req/s before → now | service/floor before → now | p50 ms before → now |",
            "|---|---:|---:|---:|",
        ]
        for name, label in rows:
            rps, ratio, p50 = PREVIOUS[name]
            now = results[name]
            lines.append(f"| {label} | {rps:,} → {now['service']['rps']:,.0f} | {ratio:.2f} → "
                         f"{now['service']['rps'] / now['floor']['rps']:.2f} | {ms(p50)} → "
                         f"{ms(now['service']['p50_ms'])} |")
        lines.append("")
    return lines


def measure_r2(service, floor, url, token, work, seconds, rounds, tag):
    """R2 on one connection beside its floor, the Server-Timing of 30 requests one at a time, how
    many of the IDs a collection holds, and the member rows of the project."""
    r = measure(service, floor, R2, token, seconds, rounds, 1, tag)
    r["queries"], r["bytes"] = work[R2[0]][:2]
    r["timing"] = server_timings(service, R2[3], token, 30, BODIES["lookup"])
    status, _, body = service.request("POST", R2[3], BODIES["lookup"], token=token, timeout=60)
    assert status == 200 and len(body["results"]) == LOOKUP_IDS, status
    r["held"] = sum(1 for held in body["results"].values() if held)
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM member WHERE collection_id IN "
                    "(SELECT id FROM collection WHERE project_id = 'p-versions')")
        r["project_rows"] = cur.fetchone()[0]
    conn.close()
    return r


def log_sets(found, settings):
    for operation, r in found.items():
        if "failed" in r:
            status, seconds, code, message = r["failed"]
            log(f"C1 from {operation} ({settings}): {status} after {seconds:.1f} s: {code}: {message}")
        else:
            log(f"C1 from {operation} ({settings}): {r['members']:,} members, p50 {r['p50_ms']:.0f} ms "
                f"({r['min_ms']:.0f}–{r['max_ms']:.0f}), db {r['db_ms']:.0f} ms, {r['queries']} queries")


def mib(kib):
    return f"{kib / 1024:,.1f} MiB"


def big_section(ctx, command=None):
    """## Big collections: cursor pages at depth, the walk of a 1M project, D3 streamed (its
    throughput, first byte and a worker's memory), R2, C1 `from`. `command`: the section is
    written alone, by that run of --only (its settings, and its scenarios beside the floor)."""
    sizes, big, results, plans = ctx["sizes"], ctx["big"], ctx["results"], ctx["big_plans"]
    depths, half = big["depths"], sizes["half_members"]
    lines = ["## Big collections", ""]
    if command:
        m = ctx["machine"]
        lines += [
            f"Written by `{command}` on {ctx['date']}, apart from the full run: {m['nproc']} cores, load average "
            f"before the run {m['load']}; PostgreSQL {ctx['pg']}; worker model **{ctx['chosen'][0]}**; wrk, "
            f"{ctx['connections']} connections, {ctx['rounds']} rounds of {ctx['seconds']} s a side; "
            f"{ctx['members']:,} member rows.",
            "",
        ]
    lines += [
        f"Project `big` (of its own): collection `million`, {sizes['million_members']:,} members; `half-a` and "
        f"`half-b`, {half:,} each, the second half of `half-a` being the first half of `half-b`. The cursors of "
        "the deep pages were made by the service in the run's setup (through its API). How to read this section: "
        "[bench/README.md](README.md#big-collections).",
        "",
    ]
    own = [(name, title) for name, title, *_ in SCENARIOS if name in results and name in ("D2-1M", *EXPLAINED)]
    if command and own:
        lines += [
            "Beside the floor, measured as in the first table of a full run:",
            "",
            *floor_table(results, own),
        ]
        lines += ["", targets_verdict(results, [name for name, _ in own]), ""]
    if "depth" in big:
        main_plans = ctx["plans"]
        cases = {"D2": (f"D2, `large` ({sizes['large']:,} datasets), 50 a page",
                        f"after row {depths['d2']:,} (the last 50)", main_plans["D2-1M"], plans["D2-1M-cursor"]),
                 "M1": (f"M1, `million` ({sizes['million_members']:,} members), 1,000 a page",
                        f"after position {depths['m1']:,}", plans["M1-first"], plans["M1-deep"])}
        lines += [
            "### Cursor pages at depth",
            "",
            f"Each deep page and its list's first page, on the service, measured in turn as service and floor are "
            f"(a warm-up of each, then {ctx['rounds']} rounds of deep, first, first, deep, {ctx['seconds']} s each, "
            f"{ctx['connections']} connections). Time per request: 1 / requests/s. Beside the floor, each is in the "
            f"{'table above' if command else 'first table'} (D2-1M, D2-1M-cursor, M1-first, M1-deep).",
            "",
            f"| list | deep page | first: req/s, p50 ms | deep: req/s, p50 ms | deep ÷ first, time per request | "
            f"rounds | statement, EXPLAIN ms: first → deep | target ≤ {DEPTH_BOUND}× |",
            "|---|---|---:|---:|---:|---:|---:|---|",
        ]
        verdicts = []
        for label, (title, deep_title, first_plan, deep_plan) in cases.items():
            r = big["depth"][label]
            deep, first = r["a"], r["b"]
            slower = first["rps"] / deep["rps"]
            rounds = [1 / x for x in r["round_ratios"]]
            ok = slower <= DEPTH_BOUND
            verdicts.append(f"{label} {'✔' if ok else '✘'} ({slower:.2f}×)")
            lines.append(f"| {title} | {deep_title} | {first['rps']:,.0f}, {ms(first['p50_ms'])} | "
                         f"{deep['rps']:,.0f}, {ms(deep['p50_ms'])} | **{slower:.2f}** | "
                         f"{min(rounds):.2f}–{max(rounds):.2f} | "
                         f"{ms(first_plan['execution_ms'])} → {ms(deep_plan['execution_ms'])} | "
                         f"{'✔' if ok else '✘'} |")
        offset = plans["D2-1M-offset"]["execution_ms"]
        lines += [
            "",
            f"Target: a cursor page within {DEPTH_BOUND}× the first page's time per request: {', '.join(verdicts)}.",
            "",
            f"By page number at the same depth (`page={depths['d2'] // 50 + 1:,}`, OFFSET {depths['d2']:,}), D2's "
            f"statement takes {ms(offset)} ms (EXPLAIN ANALYZE): "
            f"{offset / plans['D2-1M-cursor']['execution_ms']:,.0f}× the cursor page's. Scans of the deep pages: D2 "
            f"{'; '.join(scans(plans['D2-1M-cursor']['plan']))}; M1 {'; '.join(scans(plans['M1-deep']['plan']))} "
            f"(heap fetches: D2 {heap_fetches(plans['D2-1M-cursor']['plan'])}, "
            f"M1 {heap_fetches(plans['M1-deep']['plan'])}).",
            "",
        ]
    if "walk" in big:
        lines += [
            f"### Walking `large` by cursor ({WALK_PAGE_SIZE} a page)",
            "",
            "Every dataset of `large`, page after page (each page's `nextCursor`), one request at a time on one "
            "kept-alive connection; the client reads each page's JSON and checks that every row comes once, in order.",
            "",
            "| side | pages | rows | total | rows/s | a page, median | a page, median of each tenth of the walk |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for side in ("service", "floor"):
            w = big["walk"][side]
            lines.append(f"| {side} | {w['pages']:,} | {w['rows']:,} | **{w['seconds']:.1f} s** | "
                         f"{w['rows'] / w['seconds']:,.0f} | {ms(w['median_ms'])} ms | "
                         f"{', '.join(ms(x) for x in w['tenths_ms'])} ms |")
        e = ctx["plans"]
        per_row = (e["D2-1M-p10000"]["execution_ms"] - e["D2-1M"]["execution_ms"]) / 499_950
        pages = big["walk"]["service"]["pages"]
        stepped = WALK_PAGE_SIZE * pages * (pages - 1) / 2
        tenths = big["walk"]["service"]["tenths_ms"]
        lines += ["", f"✔ every row once, in order. On the service, the median page of each tenth of the walk lay "
                  f"between {ms(min(tenths))} and {ms(max(tenths))} ms (first tenth {ms(tenths[0])}, last "
                  f"{ms(tenths[-1])}). By page number, the same walk would step over {stepped:,.0f} index entries "
                  f"in all (OFFSET); at the {per_row * 1e6:.0f} ns each of the EXPLAIN of page 10,000 above, about "
                  f"{ms(stepped * per_row / 1000)} s of database time on top.", ""]
    if "stream" in big:
        st = big["stream"]
        d3 = results.get("D3-100k")
        lines += ["### D3 streamed", ""]
        if d3:
            gain = d3["service"]["rps"] / D3_EARLIER
            lines += [
                f"D3 of {sizes['collections'] * sizes['big_members']:,} members (`small`/dataset-0000002; first "
                f"table): **{d3['service']['rps']:,.1f} req/s**, the floor {d3['floor']['rps']:,.1f} "
                f"(service/floor **{d3['service']['rps'] / d3['floor']['rps']:.2f}**); before it streamed, "
                f"{D3_EARLIER} req/s ([bench/README.md](README.md), sync ×2; this run: {ctx['chosen'][0]}): "
                f"{gain:.1f}×. Target ≥ {D3_GAIN}×: "
                + (f"✔ ({gain:.1f}×)." if gain >= D3_GAIN else f"✘ ({gain:.1f}×)."),
                "",
            ]
        reads = st["service"]["reads"]
        count = reads["D3-versioned"]["count"]
        million = sizes["collections"] * sizes["versioned_members"]
        titles = {"D3-100k": ("D3 `small`/dataset-0000002", sizes["collections"] * sizes["big_members"]),
                  "D3-versioned": ("D3 `versioned`", million),
                  "V3-v1": ("V3 version 1 of `versioned` (not streamed)", million)}
        lines += [
            f"Time to the first byte and to the last, on a server started for this (the chosen worker model), idle "
            f"but warmed up: each read one at a time on a new connection, read with a raw socket; medians of "
            f"{count} (V3: {reads['V3-v1']['count']}).",
            "",
            "| read | members | bytes | service: first byte → last, ms | floor: first byte → last, ms |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, (title, members) in titles.items():
            a, b = st["service"]["reads"][name], st["floor"]["reads"][name]
            lines.append(f"| {title} | {members:,} | {a['bytes']:,} | **{ms(a['first_ms'])}** → {ms(a['last_ms'])} | "
                         f"{ms(b['first_ms'])} → {ms(b['last_ms'])} |")
        lines += [
            "",
            f"A worker's memory on the same servers: each worker's VmRSS once warmed up (idle), then its VmHWM (the "
            f"peak of its resident size since it started) after the {count} D3 of `versioned` "
            f"({sizes['collections'] * sizes['versioned_members']:,} members) and after the V3 that followed; and the "
            "most VmRSS read every 5 ms meanwhile. The figure is the worker that grew most.",
            "",
            "| side | workers | idle VmRSS | D3 `versioned`: peak above idle (VmHWM) | sampled | "
            "V3 version 1, not streamed: peak above idle |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for side in ("service", "floor"):
            m = st[side]
            lines.append(f"| {side} | {m['workers']} | {', '.join(mib(v) for v in m['idle_kib'].values())} | "
                         f"**{m['d3_above_idle_mib']:,.1f} MiB** | {m['d3_sampled_above_idle_mib']:,.1f} MiB | "
                         f"{m['v3_above_idle_mib']:,.1f} MiB |")
        grown = st["service"]["d3_above_idle_mib"]
        lines += ["", f"Target: a worker serving D3 of {sizes['collections'] * sizes['versioned_members']:,} members "
                  f"under {RSS_BOUND_MIB} MiB above idle: "
                  + (f"✔ ({grown:.1f} MiB)." if grown < RSS_BOUND_MIB else f"✘ ({grown:.1f} MiB)."), ""]
    if "R2" in big:
        r, t, plan = big["R2"], big["R2"]["timing"], plans.get(R2[0])
        lines += [
            "### R2: 10,000 node IDs",
            "",
            f"Project `versions`: {r['project_rows']:,} member rows. The {LOOKUP_IDS:,} node IDs are spread over its "
            f"{sizes['collections']} collections; {r['held']:,} are held by a collection now, the others (members "
            "`part-01` lost between versions 1 and 2) by none. One connection (the latency of one request), runs of "
            f"{ctx['seconds']} s, beside its floor; the database time: Server-Timing, {t['count']} requests one at a "
            "time.",
            "",
            "| queries | body bytes | response bytes | req/s | **p50** / p99 ms | floor req/s | service/floor "
            "| database time, median (max) ms | statement: EXPLAIN ms, buffers |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {r['queries']} | {len(json.dumps(BODIES['lookup'])):,} | {r['bytes']:,} | {r['service']['rps']:,.1f} | "
            f"**{ms(r['service']['p50_ms'])}** / {ms(r['service']['p99_ms'])} | {r['floor']['rps']:,.1f} | "
            f"{r['service']['rps'] / r['floor']['rps']:.2f}{held('R2', r)} | "
            f"{ms(t['db_ms'])} ({ms(t['db_max_ms'])}) | "
            + (f"{ms(plan['execution_ms'])}, {plan['buffers']:,} |" if plan else "– |"),
            "",
        ]
        if plan:
            lines += [f"Scans: {'; '.join(scans(plan['plan']))}.", ""]
    if "sets" in big:
        patient = big.get("sets_patient", {})
        settings = ", ".join(f"`{k}={v}`" for k, v in SET_TIMEOUTS.items())
        lines += [
            "### C1 `from`: collections from collections",
            "",
            f"A collection made from `half-a` and `half-b` ({half:,} members each, {half // 2:,} in common) inside "
            f"the database; each operation {SET_SAMPLES} times, one request at a time, each collection made deleted "
            "after it (its member rows, then its row), outside the time. Time: as the client sees it; database time: "
            "Server-Timing. An operation whose first request fails under the service's settings is measured again "
            f"on a service started with {settings}. No target is set for it.",
            "",
            "| operation | members made | service's settings: **p50** ms (min–max), or the failure | "
            "timeouts raised: **p50** ms (min–max) | database time, median ms | queries |",
            "|---|---:|---|---|---:|---:|",
        ]

        def cell(r):
            if r is None:
                return "–"
            if "failed" in r:
                status, seconds, code, message = r["failed"]
                return f"✘ {status or 'no answer'} after {seconds:,.1f} s (`{code}`: {message})"
            return f"**{ms(r['p50_ms'])}** ({ms(r['min_ms'])}–{ms(r['max_ms'])})"

        for operation, r in big["sets"].items():
            done = r if "failed" not in r else patient.get(operation)
            db_cell = ms(done["db_ms"]) if done and "db_ms" in done else "–"
            queries = ", ".join(map(str, done["queries"])) if done and "queries" in done else "–"
            lines.append(f"| {operation} | {r['members']:,} | {cell(r)} | "
                         f"{cell(patient.get(operation)) if 'failed' in r else '–'} | {db_cell} | {queries} |")
        lines.append("")
    return lines


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
        f"{ctx['sizes']['collections']} × {ctx['sizes']['versioned_members']:,} in dataset `versioned` of project "
        f"`versions` (the versions scenarios); {ctx['members']:,} member rows. "
        + (f"Seeded in {ctx['seed_seconds']:.0f} s." if ctx['seed_seconds'] else
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
        f"`DB_POOL_SIZE={chosen[4]}`), "
        + ("chosen by the measurement further down." if models else "given with `--model` (not measured)."),
        "",
        "## Service beside the floor",
        "",
        *floor_table(results, [(name, title) for name, title, _, _ in SCENARIOS]),
    ]
    lines += [
        "",
        targets_verdict(results, [name for name, *_ in SCENARIOS]),
        "",
        *(cost_section(ctx) if ctx.get("cost") else []),
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
        *versions_section(ctx),
        *big_section(ctx),
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
    lines += ["</details>", ""]
    if models:
        lines += worker_models_section(ctx)
    cache = ctx["sql_cache"]
    if cache:
        lines += [
            "## Compiled SQL (`SQL_CACHE`)",
            "",
            "The service with its compiled-SQL cache (`service/compiled.py`, the default) beside the same "
            "service with `SQL_CACHE=false` (peewee writes each statement's SQL anew; everything else the same), "
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
    parser.add_argument("--only", help="comma-separated scenario names, sql-cache for the cached/uncached "
                                       "comparison, cost for the CPU per request in process, or parts of Big "
                                       f"collections ({', '.join(BIG_PARTS)}); "
                                       "results.md not written")
    parser.add_argument("--cost-before", metavar="REV", help="also measure the CPU per request of the service of "
                                                             "git revision REV (a worktree of it), beside")
    parser.add_argument("--report", metavar="PATH", help="also write the report to PATH, whatever the run "
                                                          "(not with --only; never bench/results.md)")
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
        reset_versions(url, sizes)
        reset_big(url)
        datasets, collections = reset_pools(url)
        log(f"pools taken back: {datasets:,} datasets, {collections:,} collections")
        if seed_v2(url, sizes):
            conn = psycopg2.connect(url)
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("VACUUM ANALYZE")
            conn.close()
            log("seed_v2.sql run again")
    else:
        log(f"seeding {args.database}: {sizes}")
        seed_seconds = seed_database(args.admin_url, args.database, sizes, env)
        log(f"seeded in {seed_seconds:.1f} s")
    members = check_seed(url, sizes)
    token = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "mint-token", "bench", "-n", "*",
                            "--expires-in", "86400"], cwd=ROOT, env=env, check=True, capture_output=True,
                           text=True).stdout.strip()
    in_process = InProcess(env, token)
    one_v1 = make_versions(in_process, url, sizes)
    log("versions 1 and 2 of `versioned` made through the API; one V1 of {:,} members: ".format(
        sizes["collections"] * sizes["versioned_members"]) + ", ".join(
        f"{table} +{inserted} inserted, {updated} updated ({added:+} rows)"
        for table, (inserted, updated, added) in one_v1.items()))
    cursors, depths = make_cursors(in_process, sizes)
    for name, value in cursors.items():
        SCENARIOS[:] = [(n, title, kind, path.replace(f"{{{name}}}", value)) for n, title, kind, path in SCENARIOS]
    log(f"cursors made: D2 of `large` after row {depths['d2']:,}, M1 of `million` after position {depths['m1']:,}")
    POOL_SIZES.update({name: sizes[spec.pool] for name, spec in NUMBERED.items() if spec.pool})
    for name, spec in NUMBERED.items():  # the body templates of the `seq` scenarios, for load.lua
        if spec.body:
            BODY_FILES[name] = str(Path(log_dir) / f"{name}.json")
            Path(BODY_FILES[name]).write_text(spec.body)
    BODIES["lookup"] = {"nodeIds": lookup_ids(sizes)}
    BODY_FILES["lookup"] = str(Path(log_dir) / "lookup.json")
    Path(BODY_FILES["lookup"]).write_text(json.dumps(BODIES["lookup"]))
    only = set(args.only.split(",")) if args.only else None
    # --only: the check covers the scenarios named and those whose statements the EXPLAINs read
    # the cost step measures every scenario checked
    work = check_same_work(in_process, None if not only or "cost" in only else only | EXPLAINED)
    log("the floor sends the same statements and writes the same bytes")
    plans = explain(url, work)
    for name, plan in plans.items():
        log(f"EXPLAIN {name}: planning {plan['planning_ms']:.2f} ms, execution {plan['execution_ms']:.2f} ms")
    version_plans = explain_versions(url, work)
    for name, plan in version_plans.items():
        log(f"EXPLAIN {name}: execution {plan['execution_ms']:.2f} ms, {plan['buffers']:,} buffers, "
            + "; ".join(scans(plan["plan"])))
    big_plans = explain_big(url, work, depths)
    for name, plan in big_plans.items():
        log(f"EXPLAIN {name}: execution {plan['execution_ms']:.2f} ms, {plan['buffers']:,} buffers, "
            + "; ".join(scans(plan["plan"])))
    stored = storage(url)
    log(f"storage: version row {stored['version_row']} B + {stored['collections']} version_collection rows "
        f"{stored['version_collection_rows']} B; on disk per version "
        f"{stored['version_disk']['total'] + stored['version_collection_disk']['total']:,.0f} B; per member row "
        f"{stored['member_disk']['total']:.0f} B current, {stored['removed_disk']['total']:.0f} B removed")

    cost_found = None
    if not only or "cost" in only:
        log("CPU per request in process (bench/cost.py), service and floor, and under callgrind"
            + (f"; the service of {args.cost_before} too" if args.cost_before else ""))
        cost_found = measure_cost(work, token, env, args.cost_before)
        for name, per in cost_found["now"]["cpu_us"].items():
            counted = cost_found["now"]["instructions"]
            log(f"{name}: service {per['service']:,.0f} µs, floor {per['floor']:,.0f} µs of CPU per request"
                + (f"; {counted[name + '/service']:,.0f} and {counted[name + '/floor']:,.0f} instructions"
                   if name + "/service" in counted else ""))

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
                f"ratio {r['service']['rps'] / r['floor']['rps']:.2f}{held(name, r)}; p50 "
                f"{r['service']['p50_ms']:.2f} / {r['floor']['p50_ms']:.2f} ms")
        version_results, version_sizes, timings = {}, {}, {}
        for name, title, kind, path, floored, connections, least in VERSION_SCENARIOS:
            if only and name not in only:
                continue
            connections = connections or args.connections
            run_seconds = seconds if args.quick else max(seconds, least)
            tag = f"{name}-{secrets.token_hex(2)}"
            if name == "V1":
                version_sizes["before"] = relation_sizes(url)
            if floored:
                r = measure(service, floor, (name, title, kind, path), token, run_seconds, rounds, connections, tag)
            else:
                r = measure_alone(service, (name, title, kind, path), token, run_seconds, rounds, connections, tag)
            if name == "V1":
                version_sizes["after"] = relation_sizes(url)
                analyze(url, "version", "version_collection")  # grown a thousandfold: see analyze()
            r["queries"], r["bytes"], r["connections"], r["seconds"] = (*work[name][:2], connections, run_seconds)
            version_results[name] = r
            log(f"{name}: service {r['service']['rps']:.1f} req/s, p50 {r['service']['p50_ms']:.2f} ms"
                + (f"; floor {r['floor']['rps']:.1f} req/s, p50 {r['floor']['p50_ms']:.2f} ms, ratio "
                   f"{r['service']['rps'] / r['floor']['rps']:.2f}{held(name, r)}" if floored else "")
                + f" ({connections} connection{'s' if connections > 1 else ''}, {run_seconds} s runs)")
        for name, count in TIMING_SAMPLES.items():
            if only and name not in only:
                continue
            path = next(s[3] for s in VERSION_SCENARIOS if s[0] == name)
            timings[name] = server_timings(service, path, token, count)
            log(f"{name}: Server-Timing over {count} requests one at a time: db median "
                f"{timings[name]['db_ms']:.2f} ms (max {timings[name]['db_max_ms']:.2f}), "
                f"{timings[name]['queries']} queries; response median {timings[name]['wall_ms']:.1f} ms")
        big = {"depths": depths}
        if not only or "depth" in only:
            big["depth"] = {}
            for label, first, deep in DEPTHS:
                r = measure_sides((service, scenarios[deep]), (service, scenarios[first]), token, seconds, rounds,
                                  args.connections, f"depth-{label}-{secrets.token_hex(2)}")
                big["depth"][label] = r
                log(f"{label} deep page {r['a']['rps']:.0f} req/s, first page {r['b']['rps']:.0f} req/s: "
                    f"{r['b']['rps'] / r['a']['rps']:.2f}× the time per request")
        if not only or "walk" in only:
            big["walk"] = {}
            for side, server in (("service", service), ("floor", floor)):
                w = big["walk"][side] = walk(server, token, sizes["large"])
                log(f"walk of `large` by cursor on the {side}: {w['pages']:,} pages, {w['rows']:,} rows in "
                    f"{w['seconds']:.1f} s; a page's median by tenth of the walk: "
                    + ", ".join(f"{x:.1f}" for x in w["tenths_ms"]) + " ms")
        if not only or R2[0] in only:
            r = big["R2"] = measure_r2(service, floor, url, token, work, seconds, rounds,
                                       f"R2-{secrets.token_hex(2)}")
            log(f"R2: {r['service']['rps']:.1f} req/s, p50 {r['service']['p50_ms']:.1f} ms (1 connection); db median "
                f"{r['timing']['db_ms']:.1f} ms; {r['held']:,} of {LOOKUP_IDS:,} IDs held")
        sql_cache = {}
        if not only or "sql-cache" in only:
            with gunicorn_server("service", chosen, {**env, "SQL_CACHE": "false"}, log_dir, "uncached") as uncached:
                for name in SQL_CACHE_SCENARIOS:
                    r = measure(service, uncached, scenarios[name], token, seconds, rounds, args.connections,
                                f"cache-{name}-{secrets.token_hex(2)}")
                    sql_cache[name] = r
                    log(f"{name}: cached {r['service']['rps']:.0f} req/s, uncached {r['floor']['rps']:.0f} req/s, "
                        f"ratio {r['service']['rps'] / r['floor']['rps']:.2f}")
        if not only or "C1-from" in only:  # last: each request writes up to 750,000 member rows
            big["sets"] = set_operations(service, url, token, sizes, secrets.token_hex(3), SET_SAMPLES)
            log_sets(big["sets"], "the service's settings")
    if big.get("sets") and any("failed" in r for r in big["sets"].values()):
        # those that failed again, on a service whose timeouts let them finish
        failed = [operation for operation, r in big["sets"].items() if "failed" in r]
        with gunicorn_server("service", chosen, {**env, **SET_TIMEOUTS}, log_dir, "sets") as patient:
            big["sets_patient"] = set_operations(patient, url, token, sizes, secrets.token_hex(3), SET_SAMPLES,
                                                 failed)
        log_sets(big["sets_patient"], ", ".join(f"{k}={v}" for k, v in SET_TIMEOUTS.items()))
    if not only or "D3-stream" in only:  # on servers of their own, started for it
        big["stream"] = {}
        for target in ("service", "floor"):
            with gunicorn_server(target, chosen, env, log_dir, "stream") as server:
                m = big["stream"][target] = stream_figures(server, token, scenarios, STREAM_SAMPLES, args.connections)
            log(f"D3 streamed, {target}: first byte " + ", ".join(
                f"{name} {r['first_ms']:.1f} ms (last {r['last_ms']:.0f} ms)" for name, r in m["reads"].items())
                + f"; worker peak above idle: D3 `versioned` {m['d3_above_idle_mib']:.1f} MiB (sampled "
                f"{m['d3_sampled_above_idle_mib']:.1f}), V3 {m['v3_above_idle_mib']:.1f} MiB")
    log(f"done in {time.monotonic() - started:.0f} s")
    pg, wrk_version, packages = versions(url)
    ctx = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": host, "pg": pg,
           "wrk": wrk_version, "packages": packages, "sizes": sizes, "members": members,
           "seed_seconds": seed_seconds, "connections": args.connections, "seconds": seconds, "rounds": rounds,
           "model_seconds": model_seconds, "results": results, "models": models, "chosen": chosen, "plans": plans,
           "sql_cache": sql_cache, "versions": version_results, "one_v1": one_v1, "stored": stored,
           "version_sizes": version_sizes, "timings": timings, "version_plans": version_plans, "big": big,
           "big_plans": big_plans, "cost": cost_found, "cost_before": args.cost_before}
    if args.report and only:  # the section Big collections alone, with what this run measured of it
        out = Path(args.report).resolve()
        if out == (BENCH / "results.md").resolve():
            raise SystemExit("--report: bench/results.md is written by a full run only")
        command = "bench/run " + " ".join(f"'{a}'" if " " in a else a for a in sys.argv[1:]
                                          if a != "--report" and a != args.report)
        out.write_text("\n".join((cost_section(ctx) if cost_found else []) + big_section(ctx, command=command)))
        log(f"wrote the sections CPU per request (with cost) and Big collections alone to {out}")
    if args.report and not only:
        out = Path(args.report).resolve()
        if out == (BENCH / "results.md").resolve():
            raise SystemExit("--report: bench/results.md is written by a full run only")
        write_report(out, ctx)
        log(f"wrote {out}")
    if args.quick or only or args.model:
        log("results.md not written (--quick, --only or --model)")
        return
    write_report(BENCH / "results.md", ctx)
    log(f"wrote {BENCH / 'results.md'}")


if __name__ == "__main__":
    main()
