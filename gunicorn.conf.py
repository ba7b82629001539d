"""gunicorn settings for production, read from the environment: `gunicorn -c gunicorn.conf.py wsgi:app`.

The defaults suit one machine with 2 cores: 2 sync worker processes, each serving one request
at a time on one PostgreSQL connection: the model that served most requests here
(bench/results.md, "Worker model and pool size"). A sync worker is held by a slow client, so
it belongs behind a buffering proxy or load balancer; for many slow clients use
GUNICORN_WORKER_CLASS=gthread with GUNICORN_THREADS <= DB_POOL_SIZE.
Any other gunicorn setting can be given in GUNICORN_CMD_ARGS."""
import atexit
import glob
import os
import shutil
import sys
import tempfile

# GET /metrics (service/metrics.py) adds up the workers' values with prometheus_client's
# multiprocess mode: every process writes its own files in PROMETHEUS_MULTIPROC_DIR, and whichever
# worker answers reads them all. prometheus_client reads the variable once, when it is imported,
# so it is set here, before `service` is imported (the app is loaded in this process, preload_app
# below); the workers inherit it when they fork. Without one from the operator, a private
# temporary directory, removed when gunicorn exits (a failed start included). The hooks at the
# end empty the directory at start (on_starting) and do the bookkeeping of a worker that is gone
# (child_exit). A process that has imported prometheus_client already (a reload on HUP, a test
# reading these settings) is left as it is: the variable would come too late to change anything.


def _remove_private_metrics_dir(master_pid, path):
    if os.getpid() == master_pid:  # the workers inherit this exit hook when they fork: not theirs
        shutil.rmtree(path, ignore_errors=True)


if "prometheus_client" not in sys.modules:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # In memory, like the heartbeat files (worker_tmp_dir below), where there is /dev/shm.
        _shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="registry-metrics-", dir=_shm)
        atexit.register(_remove_private_metrics_dir, os.getpid(), os.environ["PROMETHEUS_MULTIPROC_DIR"])
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import multiprocess  # noqa: E402 (after PROMETHEUS_MULTIPROC_DIR)

from service import server_limits  # noqa: E402


def _int(name, default):
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {value!r}") from None


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('PORT', '8000')}"
workers = _int("WEB_CONCURRENCY", "2")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = _int("GUNICORN_THREADS", "1")
# The database layer keeps a connection per thread; gevent and eventlet would need psycopg2
# made cooperative before anything is imported (bench/gunicorn_bench.py shows how).
if worker_class not in ("sync", "gthread"):
    raise SystemExit(f"GUNICORN_WORKER_CLASS={worker_class!r}: use sync or gthread")
# A worker whose main loop is silent this long is killed and replaced. With gthread a slow
# request does not silence the loop: DB_STATEMENT_TIMEOUT_MS is what bounds a request's queries.
timeout = _int("GUNICORN_TIMEOUT", "30")
# On SIGTERM, workers stop accepting and finish the requests in flight for up to this long.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", "30")
# Behind a load balancer, keep this above the balancer's idle timeout.
keepalive = _int("GUNICORN_KEEPALIVE", "5")

# Request limits: the request line at most 64 KiB (a D2 query with 64 tags of 64 characters,
# percent-encoded, is a legitimate 50 KB URL), at most 100 header fields, each at most 16 KiB,
# and 64 KiB of header fields in all. A request past one is refused as soon as that much has
# been read: 414 (request line) or 431 (header fields), code `request_too_large` in the JSON
# error shape. gunicorn alone would lower a request-line limit above 8190 to 8190, leave the
# header block bounded only by fields x field size, and answer in HTML: server_limits makes up
# for that (its docstring says how), for sync and gthread workers alike. It works on gunicorn's
# Python parser, chosen here: gunicorn_h1c, if installed, would clamp the request line again.
# Bodies are capped by MAX_CONTENT_LENGTH.
server_limits.install()
limit_request_line = server_limits.REQUEST_LINE_MAX
limit_request_fields = server_limits.HEADER_FIELDS_MAX
limit_request_field_size = server_limits.HEADER_FIELD_MAX
http_parser = "python"

# The app is loaded once, in the master, before the workers fork: a configuration that cannot
# work stops gunicorn at once with its one JSON line (and exit status 4), instead of each worker
# failing on its own (two workers failing at once can make gunicorn 27 print a traceback while
# it halts); the workers share the loaded code's memory. Code changes need a restart, not HUP.
preload_app = True

# Logs: JSON lines on stdout (access) and stderr (everything else); see service/logs.py.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logger_class = "service.logs.GunicornLogger"

# The worker heartbeat file: in memory, not on a container's overlay file system.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No runtime control socket (a management interface that nothing here uses).
control_socket_disable = True


def post_fork(server, worker):
    """A worker must not share the master's database connections: if the app was loaded
    before forking (--preload), forget the inherited ones without closing them."""
    db_module = sys.modules.get("service.db")
    if db_module is not None and db_module.db.obj is not None:
        db_module.db.obj.dispose()


def on_starting(server):
    """Before the first worker: the metrics directory emptied (files of an earlier run would add
    its values to this one's)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        for path in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
            os.remove(path)


def child_exit(server, worker):
    """A worker is gone (exited, killed, or replaced): its counters stay in the directory, so
    totals do not drop; prometheus_client drops its live gauges, if any."""
    multiprocess.mark_process_dead(worker.pid)
