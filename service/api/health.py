"""H1, H2: liveness and readiness, without authentication."""
from flask import Blueprint, current_app

from ..contract import operation
from ..db import db
from ..errors import DatabaseUnavailable
from ..migrations import ensure_schema

bp = Blueprint("health", __name__)

STATUS = {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}},
          "additionalProperties": False}


@bp.get("/healthz")
@operation("H1", "Liveness: the process answers (no database)", STATUS, budget=0)
def healthz():
    """The process answers; the database is not touched."""
    return {"status": "ok"}


@bp.get("/readyz")
@operation("H2", "Readiness: the database answers", STATUS,
           errors={503: "The database cannot be reached; the request had no effect"}, budget=1)
def readyz():
    """The database answers and the schema is in place (one query)."""
    if not ensure_schema(current_app):
        raise DatabaseUnavailable("schema not ready")
    db.execute_sql("SELECT 1")
    return {"status": "ok"}
