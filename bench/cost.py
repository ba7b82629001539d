"""What a request costs the process that serves it, in process: the service's WSGI app and the
floor's (bench/floor.py), called by a child process with the environ a server hands them, on
the benchmark's database. Only the child's own work is counted, not PostgreSQL's, the
client's or gunicorn's, and nothing else that runs on the machine moves it much:

- CPU time (time.process_time) per request: the median of rounds of requests, the sides in
  turn (service, floor, floor, service, ...), each round as many requests as take about
  ROUND_SECONDS;
- instructions per request: the same child under valgrind's callgrind, which counts the
  instructions the process executes whatever the machine is doing (the median of segments
  of requests; the counters are dumped and zeroed at each `os.getppid()`, callgrind's
  `--dump-before=getppid`, which nothing else here calls). Reads of more than INSTRUCTIONS_MAX_MS
  in process are left out (valgrind runs Python some 50 times slower);
- where the time of one request goes, by layer (`layers`): cProfile over many requests.

bench.py runs them as a step of the benchmark (results.md, "CPU per request"); `--cost-before
REV` measures the service of revision REV the same way (from a worktree of it), beside.

    python -m bench.cost SPEC OUT [--layers NAME,...]    (the child; bench.py writes SPEC)
"""
import cProfile
import gc
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROUND_SECONDS = 0.25  # wall time of one round of one side
ROUNDS = 5
WARM_UP = 10
SEGMENTS, SEGMENT_MOST = 3, 10  # under callgrind: segments of at most SEGMENT_MOST requests each
INSTRUCTIONS_MAX_MS = 50

WAIT = "waiting for PostgreSQL (psycopg2's execute and fetch; wall time, not this process's CPU)"
# The layers of a request, by where a function is defined (the first that matches its file and
# name). Functions of the standard library and builtins count in the layer that called them.
LAYERS = [
    (WAIT, ("'psycopg2.",)),
    ("JWT verification", ("flask_jwt_extended/", "/jwt/", "service/auth.py")),
    ("body and query parsing, validation (marshmallow)", ("marshmallow/", "/schemas/", "service/converters.py")),
    ("data access (Peewee, psycopg2, the pool)", ("peewee", "psycopg2", "service/data.py", "service/db.py",
                                                  "service/compiled.py", "service/trash.py", "service/versions.py",
                                                  "service/nodes.py", "service/idempotency.py")),
    ("metrics", ("prometheus_client/", "service/metrics.py")),
    ("logging", ("logging/", "service/logs.py")),
    ("X-Request-ID, Server-Timing, ETag", ("service/__init__.py", "service/etags.py")),
    ("response serialisation (JSON)", ("json/", "service/api/common.py")),
    ("handlers (service/api)", ("service/api/", "service/errors.py", "service/cursors.py")),
    ("Flask and Werkzeug: routing, request and response objects, hooks", ("flask/", "werkzeug/", "/blinker/")),
    ("the floor's own code", ("bench/floor",)),
]
OTHER = "other (the standard library, called from the WSGI entry point)"


# -- the parent: bench.py's side ------------------------------------------------------------

def run_child(spec, env, service_root=None, instructions=False, layers=()):
    """Run the child on `spec` ({"token", "rounds", "scenarios": [{"name", "sides": {side:
    [[method, path, body], ...]}, "warm", "per_round", "profiled"}]}: the requests of each side,
    made by bench.py, enough for the warm-up, the rounds (or SEGMENTS) and the profile); returns
    {"cpu_us": {name: {side: [µs per request of each round]}}, "layers": {name: {layer: µs}}}
    or, with `instructions`, {"instructions": {"name/side": instructions per request}}.
    `service_root`: a checkout whose service/ and schemas/ the child imports instead of this
    one's; `layers`: the scenarios to profile."""
    with tempfile.TemporaryDirectory(prefix="registry-cost-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps({**spec, "service_root": service_root, "layers": list(layers),
                                         "instructions": instructions}))
        command = [sys.executable, "-m", "bench.cost", str(spec_path), str(out_path)]
        if instructions:
            command = ["valgrind", "--tool=callgrind", "--dump-before=getppid", "--dump-instr=no",
                       f"--callgrind-out-file={tmp}/callgrind.out", *command]
        metrics_dir = Path(tmp) / "metrics"
        metrics_dir.mkdir()
        child_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "PYTHONHASHSEED": "0",
                     "LOG_LEVEL": "warning"}
        done = subprocess.run(command, env=child_env, cwd=Path(__file__).resolve().parent.parent,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            raise RuntimeError(f"bench/cost.py's child failed ({done.returncode}):\n{done.stderr[-3000:]}")
        found = json.loads(out_path.read_text())
        if instructions:
            found["instructions"] = _segments(Path(tmp), found.pop("segments"))
        return found


def _segments(directory, labels):
    """{label: instructions per request, the median of its segments} from callgrind's dumps: dump
    k holds what ran between the child's (k-1)-th and k-th call of os.getppid(), which
    `labels[k - 1]` names ([label, requests], or None: not a segment)."""
    totals = {int(path.name.rsplit(".", 1)[1]): int(re.search(r"^totals: (\d+)", path.read_text(), re.M).group(1))
              for path in directory.glob("callgrind.out.*")}
    found = defaultdict(list)
    for k, label in enumerate(labels, start=1):
        if label is not None:
            found[label[0]].append(totals[k] / label[1])
    return {label: statistics.median(values) for label, values in found.items()}


# -- the child -----------------------------------------------------------------------------

def _drain(app, environ):
    """One request through `app`, its body read whole and closed, as a server does."""
    status = []
    body = app(environ, lambda s, h, exc_info=None: status.append(s))
    try:
        for _ in body:
            pass
    finally:
        if hasattr(body, "close"):
            body.close()
    return int(status[0].split()[0])


def _environs(requests, headers):
    from werkzeug.test import EnvironBuilder

    return [EnvironBuilder(path=path, method=method, headers=headers,
                           data=None if body is None else json.dumps(body),
                           content_type=None if body is None else "application/json").get_environ()
            for method, path, body in requests]


def _run(app, environs, label):
    for environ in environs:
        status = _drain(app, environ)
        if status >= 300:
            raise RuntimeError(f"{label}: {environ['REQUEST_METHOD']} {environ['PATH_INFO']}: {status}")


def _marker():
    """The end of a segment under callgrind (--dump-before=getppid)."""
    os.getppid()


def by_layer(profile):
    """µs per layer of a cProfile: each function's own time to its layer; a function of no layer
    (the standard library, builtins) gives its time to its callers' layers, in proportion to the
    time it spent for each (pstats keeps the time per caller), up the chain of callers."""
    stats = pstats.Stats(profile, stream=io.StringIO()).stats
    memo = {}

    def layer_of(func):
        where = func[0] + ":" + func[2]
        return next((layer for layer, parts in LAYERS if any(part in where for part in parts)), None)

    def shares(func, seen=()):
        if func in memo:
            return memo[func]
        own = layer_of(func)
        if own:
            return {own: 1.0}
        callers = {caller: edge[2] or edge[3] for caller, edge in stats.get(func, (0, 0, 0, 0, {}))[4].items()
                   if caller not in seen}
        total = sum(callers.values())
        result = defaultdict(float)
        for caller, weight in callers.items():
            for layer, fraction in shares(caller, (*seen, func)).items():
                result[layer] += fraction * weight / total
        result = dict(result) or {OTHER: 1.0}
        if not seen:
            memo[func] = result
        return result

    totals = defaultdict(float)
    for func, (_, _, tottime, _, callers) in stats.items():
        if layer_of(func):
            totals[layer_of(func)] += tottime
            continue
        for caller, edge in (callers.items() or [(None, (0, 0, tottime, tottime))]):
            for layer, fraction in (shares(caller) if caller else {OTHER: 1.0}).items():
                totals[layer] += edge[2] * fraction
    return totals


def bare_flask():
    """The least a Flask app does for N3: one route answering a namespace's fields from its
    path, no hooks, no token, no database (the side "flask" of N3)."""
    from flask import Flask

    app = Flask("bare")
    app.json.sort_keys = False

    @app.get("/namespaces/<slug>")
    def namespace(slug):
        return {"id": "ns-bench", "slug": slug, "name": "Benchmark", "createdAt": "2026-01-01T00:00:00.000Z",
                "updatedAt": "2026-01-01T00:00:00.000Z"}
    return app


def child(spec_path, out_path):
    spec = json.loads(Path(spec_path).read_text())
    if spec["service_root"]:  # that checkout's service, this one's benchmark and floor
        sys.path.insert(0, spec["service_root"])
    from bench import floor
    from service import create_app

    apps = {"service": create_app({}), "floor": floor.app, "flask": bare_flask()}
    headers = {"Authorization": f"Bearer {spec['token']}"}
    out = {"cpu_us": defaultdict(dict), "layers": {}, "segments": []}
    for scenario in spec["scenarios"]:
        name, sides = scenario["name"], scenario["sides"]
        environs = {side: iter(_environs(requests, headers)) for side, requests in sides.items()}

        def take(side, count):
            return [next(environs[side]) for _ in range(count)]  # noqa: B023  # used within the loop

        for side in sides:
            _run(apps[side], take(side, scenario["warm"]), name)
        gc.collect()
        gc.freeze()  # what the warm-up left is not traversed by the collections of the rounds
        if spec["instructions"]:
            for _ in range(SEGMENTS):
                for side in sides:
                    batch = take(side, scenario["per_round"])
                    _marker()  # its dump: what ran since the last segment
                    out["segments"].append(None)
                    _run(apps[side], batch, name)
                    _marker()  # its dump: the segment
                    out["segments"].append([f"{name}/{side}", len(batch)])
            gc.unfreeze()
            continue
        for r in range(spec["rounds"]):
            for side in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
                batch = take(side, scenario["per_round"])
                started = time.process_time()
                _run(apps[side], batch, name)
                out["cpu_us"][name].setdefault(side, []).append(
                    (time.process_time() - started) / len(batch) * 1e6)
        if name in spec["layers"]:
            profile = cProfile.Profile()
            batch = take("service", scenario["profiled"])
            profile.enable()
            _run(apps["service"], batch, name)
            profile.disable()
            out["layers"][name] = {layer: seconds / len(batch) * 1e6 for layer, seconds in by_layer(profile).items()}
        gc.unfreeze()
    Path(out_path).write_text(json.dumps(out))


if __name__ == "__main__":
    child(*sys.argv[1:3])
