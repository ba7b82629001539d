"""The one error envelope, for every layer:
{"error": {"code": ..., "message": ..., "fields": {...}}} with the contract's status."""
import json
import logging

from flask import jsonify
from marshmallow import ValidationError
from peewee import DatabaseError, IntegrityError, InterfaceError, OperationalError
from playhouse.pool import MaxConnectionsExceeded
from werkzeug.exceptions import HTTPException

from .db import db

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "invalid_json",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    503: "database_unavailable",
}
_HTTP_MESSAGES = {
    404: "not found",
    405: "method not allowed",
    413: "request body too large",
    415: "the body must be JSON (Content-Type: application/json)",
}


class APIError(Exception):
    """A domain error answered as-is: APIError(404, "not_found", "dataset 'x' not found")."""

    def __init__(self, status, code, message, fields=None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields


class DatabaseUnavailable(Exception):
    """The database cannot be reached, found without a driver error (the schema is not ready)."""


def not_found(what):
    return APIError(404, "not_found", f"{what} not found")


def conflict(what):
    return APIError(409, "conflict", f"{what} already exists")


def envelope(status, code, message, fields=None, headers=None):
    error = {"code": code, "message": message}
    if fields is not None:
        error["fields"] = fields
    response = jsonify({"error": error})
    response.status_code = status
    if headers:
        response.headers.extend(headers)
    return response


MAX_MESSAGES_PER_FIELD = 10
MAX_ERROR_BYTES = 16 * 1024
_MAX_TEXT = 120  # characters of one message or field name (a client's unknown key may be long)


def _flatten(messages):
    """marshmallow's nested messages ({"tags": {0: [...]}}) as one list of strings, without
    recursion (a body is untrusted)."""
    out, stack = [], [("", messages)]
    while stack:
        prefix, item = stack.pop()
        if isinstance(item, dict):
            stack.extend((f"{prefix}{key}: ", value) for key, value in reversed(list(item.items())))
        elif isinstance(item, (list, tuple)):
            stack.extend((prefix, value) for value in reversed(item))
        else:
            out.append(f"{prefix}{item}")
    return out


def _short(text):
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT - 1] + "…"


def _count(messages):
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return len(messages)
    return len(_flatten(messages))


def validation_body(err):
    """(message, fields) of a 400 for marshmallow's ValidationError, bounded: at most 10
    messages per field, the whole error body at most 16 KiB; `message` says how many
    messages were left out."""
    messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
    fields, left_out, size, budget = {}, 0, 0, MAX_ERROR_BYTES - 2048  # room for the envelope and message
    for field, value in messages.items():
        if size >= budget:
            left_out += _count(value)
            continue
        flat = _flatten(value)
        kept = [_short(m) for m in flat[:MAX_MESSAGES_PER_FIELD]]
        cost = len(json.dumps({_short(str(field)): kept}))
        if size + cost > budget:
            left_out += len(flat)
            size = budget
            continue
        fields[_short(str(field))] = kept
        left_out += len(flat) - len(kept)
        size += cost
    field, kept = next(iter(fields.items()))
    message = f"{field}: {kept[0]}"
    if left_out:
        message += f" ({left_out} more messages not listed)"
    return message, fields


def register(app):
    @app.errorhandler(APIError)
    def api_error(e):
        return envelope(e.status, e.code, e.message, e.fields)

    @app.errorhandler(ValidationError)
    def validation_error(e):
        message, fields = validation_body(e)
        return envelope(400, "validation_error", message, fields)

    @app.errorhandler(HTTPException)
    def http_error(e):
        original = e.get_response()
        headers = [(k, v) for k, v in original.headers.items() if k.lower() in ("allow", "retry-after")]
        code = _HTTP_CODES.get(e.code, (e.name or "error").lower().replace(" ", "_"))
        message = _HTTP_MESSAGES.get(e.code, e.description or e.name)
        return envelope(e.code, code, message, headers=headers)

    @app.errorhandler(IntegrityError)
    def integrity_error(e):  # a uniqueness race lost in the database
        return envelope(409, "conflict", "a live row with that name already exists")

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(MaxConnectionsExceeded)
    @app.errorhandler(DatabaseUnavailable)
    def database_unavailable(e):
        if hasattr(db.obj, "close_idle"):  # the pool's idle connections died with this one
            db.obj.close_idle()
        log.warning("database unavailable: %s", str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
        return envelope(503, "database_unavailable", "the database cannot be reached; the request had no effect",
                        headers=[("Retry-After", "1")])

    @app.errorhandler(DatabaseError)
    @app.errorhandler(Exception)
    def internal_error(e):
        log.exception("unhandled error")
        return envelope(500, "internal_error", "internal error")
