"""Dataset registry: namespaces › projects › datasets and collections of node IDs."""
import uuid
from datetime import timedelta

import click
from flask import Flask, g, request

from . import api, auth, compiled, db, errors, idempotency, logs, metrics, migrations, trash, versions
from . import config as settings
from .converters import CONVERTERS, check_path
from .models import utcnow


class _Flask(Flask):
    """Flask, asking once per function, not on every call, whether it is a coroutine
    function: Flask asks for every hook and view of every request."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._synced = {}

    def ensure_sync(self, func):
        synced = self._synced.get(func)
        if synced is None:
            synced = self._synced[func] = super().ensure_sync(func)
        return synced


def create_app(config=None):
    """The application: settings from the environment, then from `config`."""
    app = _Flask(__name__, instance_relative_config=True)
    app.config.update(settings.from_env())
    app.config.update(config or {})
    settings.finalize(app.config, app.instance_path)
    app.json.sort_keys = False
    app.json.compact = True
    app.url_map.converters.update(CONVERTERS)
    app.url_map.strict_slashes = False

    logs.init_app(app)
    errors.register(app)
    metrics.init_app(app)
    db.init_app(app)
    auth.init_app(app)
    compiled.enabled = app.config["SQL_CACHE"]
    api.register(app)
    _observability(app)
    app.before_request(check_path)
    _commands(app)
    migrations.ensure_schema(app)
    return app


def _observability(app):
    @app.before_request
    def request_id():
        g.request_id = logs.request_id_for(request.headers.get("X-Request-ID", ""))

    @app.before_request
    def schema_ready():
        if request.blueprint and request.blueprint.startswith("api") and not migrations.ensure_schema(app):
            raise errors.DatabaseUnavailable("schema not ready")

    @app.after_request
    def headers(response):
        response.headers["X-Request-ID"] = g.get("request_id") or uuid.uuid4().hex
        counted = db.roundtrips()
        if app.config["SERVER_TIMING"] and counted is not None:
            response.headers["Server-Timing"] = (
                f'db;dur={counted.seconds * 1000:.2f};desc="{counted.queries} queries"')
        return response


def _commands(app):
    @app.cli.command("migrate")
    def migrate():
        """Create the schema, or upgrade it to this version of the service."""
        before, after = migrations.migrate()
        before = app.extensions.get("schema_found", before)  # the app migrated it as it loaded
        click.echo(f"schema at version {after}" + (f" (was {before})" if before != after else ""))

    @app.cli.command("compact-history")
    def compact_history():
        """Delete the removed members that no version of any dataset holds (no current read
        and no version changes)."""
        with db.db.connection_context(), db.transaction():
            deleted = versions.compact_history()
        click.echo(f"{deleted} member rows deleted")

    @app.cli.command("purge-trash")
    @click.option("--older-than", "days", type=click.FloatRange(min=0), required=True,
                  help="Purge what was deleted more than DAYS days ago.")
    def purge_trash(days):
        """Delete for good the datasets (with their versions) and collections (with their members)
        deleted more than DAYS days ago, as T4 does one by one; a scheduled job. Members that a
        version still holds are kept until no version does."""
        before = utcnow() - timedelta(days=days)
        with db.db.connection_context(), db.transaction():
            datasets = trash.purge_datasets(deleted_before=before)
            collections = trash.purge_collections(deleted_before=before)
        click.echo(f"{datasets} datasets and {collections} collections purged")

    @app.cli.command("purge-idempotency-keys")
    def purge_idempotency_keys():
        """Delete the Idempotency-Keys older than 24 hours (their requests can no longer be
        replayed)."""
        with db.db.connection_context(), db.transaction():
            deleted = idempotency.purge_keys()
        click.echo(f"{deleted} idempotency keys deleted")

    @app.cli.command("mint-token")
    @click.argument("subject")
    @click.option("--namespace", "-n", "namespaces", multiple=True, required=True,
                  help='A namespace slug the token may act in; "*" for all. Repeatable.')
    @click.option("--expires-in", default=3600, show_default=True, help="Lifetime in seconds.")
    def mint_token(subject, namespaces, expires_in):
        """Print a token for SUBJECT, signed with this service's configuration."""
        if app.config["JWT_ALGORITHM"] == "RS256" and not app.config.get("JWT_PRIVATE_KEY"):
            raise click.ClickException("RS256 is configured: set JWT_PRIVATE_KEY to mint tokens")
        click.echo(auth.mint_token(subject, namespaces, timedelta(seconds=expires_in)))
