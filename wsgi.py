"""The WSGI entry point: `gunicorn -c gunicorn.conf.py wsgi:app`, `flask --app wsgi run`."""
from service import create_app, logs
from service.config import ConfigError

try:
    app = create_app()
except ConfigError as e:
    logs.fatal(f"cannot start: {e}")
    # 4 is gunicorn's "the application could not be loaded": the server stops instead of
    # booting workers again and again; other commands exit with it too.
    raise SystemExit(4) from None
