"""What recording the metrics of GET /metrics (service/metrics.py) costs per request: the CPU
time of N3 (`GET /namespaces/:slug`, one roundtrip) through the Flask test client, in one
process, with METRICS on beside METRICS off, in each of prometheus_client's two modes: in
memory (flask run, tests) and multiprocess (gunicorn, values written to files); and the CPU
time of one scrape of /metrics in each.

    python -m bench.metrics_cost [--requests 1000] [--rounds 21] [--admin-url URL]

On a throw-away PostgreSQL database made beside BENCH_ADMIN_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), dropped at the end. Each mode runs in a process
of its own (prometheus_client chooses its mode once, on import); within it, rounds of
`--requests` requests alternate off and on; the medians of each and of the difference within a
pair of rounds (the cost) are reported. Prints the table of bench/results.md, "Metrics"."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "metrics-cost-" + "c" * 40
PATH = "/namespaces/bench"


def cpu_per_call(call, count):
    """CPU time of this process per call, in microseconds."""
    started = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - started) / count * 1e6


def measure(requests, rounds):
    """{"off": µs, "on": µs, "scrape": µs} in this process's mode."""
    from service import create_app
    from service.auth import mint_token

    apps = {state: create_app({"JWT_SECRET_KEY": SECRET, "METRICS": state == "on"}) for state in ("off", "on")}
    with apps["off"].app_context():
        headers = {"Authorization": f"Bearer {mint_token('bench', ['*'])}"}
    clients = {state: app.test_client() for state, app in apps.items()}
    if clients["off"].get(PATH, headers=headers).status_code == 404:
        assert clients["off"].post("/namespaces", json={"slug": "bench"}, headers=headers).status_code == 201

    def n3(client):
        def call():
            assert client.get(PATH, headers=headers).status_code == 200
        return call

    per_round = {"off": [], "on": []}
    cpu_per_call(n3(clients["on"]), 200)  # warm-up
    cpu_per_call(n3(clients["off"]), 200)
    for i in range(rounds):  # off then on, on then off, ...: a pair of rounds shares the machine's drift
        for state in (("off", "on") if i % 2 == 0 else ("on", "off")):
            per_round[state].append(cpu_per_call(n3(clients[state]), requests))
    result = {state: statistics.median(values) for state, values in per_round.items()}
    result["cost"] = statistics.median(on - off for off, on in zip(per_round["off"], per_round["on"], strict=True))
    result["scrape"] = cpu_per_call(lambda: clients["on"].get("/metrics"), 200)
    result["hooks"] = hooks_alone(apps["on"], requests * rounds)
    return result


def hooks_alone(app, count):
    """CPU time of the two request hooks service/metrics.py adds, called alone in a request
    context (a N3 of 1 roundtrip), per request: the least the recording costs."""
    from flask import Response

    from service.db import count_roundtrips

    ours = [f for funcs in (app.before_request_funcs[None], app.after_request_funcs[None]) for f in funcs
            if f.__module__ == "service.metrics"]
    assert len(ours) == 2, ours
    start_clock, record = ours
    response = Response(status=200)
    with app.test_request_context(PATH):
        count_roundtrips().queries = 1

        def call():
            start_clock()
            record(response)
        return cpu_per_call(call, count)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=21, help="rounds of each, off and on (default 21)")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one mode, chosen by the environment it was started with
        print(json.dumps(measure(args.requests, args.rounds)))
        return

    from tests.support.databases import new_postgres_database

    rows = []
    with new_postgres_database(args.admin_url) as url, tempfile.TemporaryDirectory() as metrics_dir:
        for mode, extra in (("in memory", {}), ("multiprocess (gunicorn)", {"PROMETHEUS_MULTIPROC_DIR": metrics_dir})):
            env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            env.update(DATABASE_URL=url, SERVICE_ENV="test", LOG_LEVEL="warning", **extra)
            out = subprocess.run([sys.executable, "-m", "bench.metrics_cost", "--child", "--requests",
                                  str(args.requests), "--rounds", str(args.rounds)],
                                 env=env, check=True, capture_output=True, text=True).stdout
            rows.append((mode, json.loads(out)))
    print(f"N3 through the Flask test client, CPU time per request (median of {args.rounds} rounds of "
          f"{args.requests:,} each):\n")
    print("| mode | METRICS=false | METRICS=true | cost per request (on − off) | the hooks alone "
          "| one scrape of /metrics |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, r in rows:
        print(f"| {mode} | {r['off']:.0f} µs | {r['on']:.0f} µs | {r['cost']:+.1f} µs ({r['cost'] / r['off']:+.1%}) "
              f"| {r['hooks']:.1f} µs | {r['scrape']:.0f} µs |")


if __name__ == "__main__":
    main()
