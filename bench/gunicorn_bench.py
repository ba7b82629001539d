"""gunicorn settings for both servers of the benchmark, the service and the floor: the
project's own gunicorn.conf.py when there is one (its logging, timeouts and hooks), then
what bench.py gives on the command line (bind, worker class, workers, threads), which
gunicorn applies over a configuration file. Under gevent, psycopg2 waits cooperatively."""
import runpy
import sys
from pathlib import Path

if "gevent" in sys.argv:  # before anything imports threading or sockets (service.logs does)
    from gevent import monkey

    monkey.patch_all()

_PROJECT_CONFIG = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
if _PROJECT_CONFIG.exists():
    globals().update({k: v for k, v in runpy.run_path(str(_PROJECT_CONFIG)).items() if not k.startswith("__")})

_project_post_fork = globals().get("post_fork")


def post_fork(server, worker):
    if server.cfg.worker_class_str == "gevent":
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()
    if _project_post_fork:
        _project_post_fork(server, worker)
