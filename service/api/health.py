"""H1, H2: liveness and readiness, without authentication."""
from flask import Blueprint, current_app

from ..db import db, ensure_schema
from ..errors import DatabaseUnavailable

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers; the database is not touched."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """The database answers and the schema is in place (one query)."""
    if not ensure_schema(current_app):
        raise DatabaseUnavailable("schema not ready")
    db.execute_sql("SELECT 1")
    return {"status": "ok"}
