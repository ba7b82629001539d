"""GET /metrics (contract §8.5): Prometheus text exposition of the requests the app answered.

    registry_http_requests_total{endpoint, method, status}       counter
    registry_http_request_duration_seconds{endpoint}              histogram
    registry_http_request_db_roundtrips{endpoint}                 histogram of the Server-Timing count
    registry_database_unavailable_total{endpoint}                 503 database_unavailable answers

`endpoint` is the contract ID of the handler the request matched (N1 … M1, H1, H2, O1), or
"none" when it matched no route (a 404 or 405 before any handler): never a path. `method` is
one of the HTTP methods the service knows, or "other". /metrics itself is not counted.

/metrics is answered beside the Flask app, by prometheus_client's WSGI app, not as one of its
routes: no token, no database, no roundtrip count, and not in the OpenAPI document (it is not
part of the JSON API). METRICS=false leaves it out (404) and records nothing.

Under gunicorn, gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before prometheus_client is
imported: each worker writes its values to its own files there, and /metrics, whichever worker
answers, adds up the files of every worker, past ones included. Without it (flask run, tests in
process), each app keeps its own registry in memory."""
import os
import time

from flask import g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app, multiprocess

from . import db
from .contract import operation_of
from .logs import request_id_for

DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
ROUNDTRIP_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20)
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))


def _metrics(registry):
    return (
        Counter("registry_http_requests", "Requests answered, by endpoint, method and status",
                ["endpoint", "method", "status"], registry=registry),
        Histogram("registry_http_request_duration_seconds", "Time from the request's start to its response",
                  ["endpoint"], buckets=DURATION_BUCKETS, registry=registry),
        Histogram("registry_http_request_db_roundtrips", "Database roundtrips per request (as in Server-Timing)",
                  ["endpoint"], buckets=ROUNDTRIP_BUCKETS, registry=registry),
        Counter("registry_database_unavailable", "503 database_unavailable answers", ["endpoint"],
                registry=registry),
    )


def init_app(app):
    if not app.config["METRICS"]:
        return
    registry = None if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else CollectorRegistry()
    requests, duration, roundtrips, unavailable = _metrics(registry)
    app.extensions["metrics"] = registry  # None in multiprocess mode: the values are in files

    @app.before_request
    def start_clock():
        g.metrics_started = time.perf_counter()

    children = {}  # the labelled series, by labels: prometheus_client's own lookup costs more

    def child(metric, *labels):
        found = children.get((metric, labels))
        if found is None:
            found = children[metric, labels] = metric.labels(*labels)
        return found

    @app.after_request
    def record(response):
        rule = request.url_rule
        op = operation_of(app.view_functions.get(rule.endpoint)) if rule else None
        endpoint = op.id if op else "none"
        method = request.method
        child(requests, endpoint, method if method in METHODS else "other", str(response.status_code)).inc()
        if "metrics_started" in g:
            child(duration, endpoint).observe(time.perf_counter() - g.metrics_started)
        counted = db.roundtrips()
        child(roundtrips, endpoint).observe(counted.queries if counted else 0)
        if response.status_code == 503:  # the service's only 503 (service/errors.py)
            child(unavailable, endpoint).inc()
        return response

    app.wsgi_app = _with_exposition(app.wsgi_app, registry)


def _with_exposition(wsgi_app, registry):
    """`wsgi_app` with GET /metrics answered before Flask sees the request."""
    def serve(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics" or environ.get("REQUEST_METHOD") != "GET":
            return wsgi_app(environ, start_response)
        collected = registry
        if collected is None:  # multiprocess mode: the files of every process, read now
            collected = CollectorRegistry()
            multiprocess.MultiProcessCollector(collected)
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID", ""))

        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, ("X-Request-ID", request_id)], exc_info)
        return make_wsgi_app(collected)(environ, start)
    return serve
