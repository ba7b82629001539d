"""Safe retries (contract §8.3): any POST may carry `Idempotency-Key`. The first request with a
key runs, and its 2xx answer is stored in the same transaction as its write, so that a write
without its stored answer (or the other way round) cannot happen. The same key again, from
the same token subject, with the same method, path and body, gets the stored answer with
`Idempotent-Replayed: true` and writes nothing; with another request, a 422; while the first
is still running, a 409. A request that fails stores nothing: it can be retried with its key.

Cost: two statements more than the endpoint's own (the key looked up, the answer stored), one
for a replay. On PostgreSQL the lookup also takes a transaction-level advisory lock on the key
(without waiting: a key whose lock is held belongs to a request still running); SQLite runs
one writing transaction at a time, so there the second request finds the first's answer.

Keys are kept 24 hours: an older one counts as unused (and is written over), and
`flask --app wsgi purge-idempotency-keys` deletes them, from a scheduled job."""
import hashlib
import re
from datetime import timedelta
from functools import wraps

from flask import current_app, request

from . import auth
from .db import db, is_postgres, transaction
from .errors import APIError
from .models import IdempotencyKey, utcnow

HEADER = "Idempotency-Key"
KEY = re.compile(r"[\x20-\x7e]{1,255}")  # printable ASCII
KEPT = timedelta(hours=24)
clock = utcnow  # what time it is (tests move it)

_LOOKUP_POSTGRES = (
    "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0)) AS free, k.fingerprint, k.status, k.body, "
    "k.created_at FROM (SELECT 1) AS one LEFT JOIN idempotency_key AS k ON k.subject = %s AND k.key = %s")
_LOOKUP_SQLITE = (
    "SELECT 1 AS free, k.fingerprint, k.status, k.body, k.created_at "
    "FROM (SELECT 1) AS one LEFT JOIN idempotency_key AS k ON k.subject = ? AND k.key = ?")


def _fingerprint():
    """What the request is: its method, path, query and body (read here: a 413 as anywhere)."""
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.query_string, request.get_data(cache=True)):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def find_key(subject, key):
    """Lookup (one statement): (free, stored) where `free` is False while another request holds
    the key, and `stored` is the unexpired row (fingerprint, status, body) or None."""
    if is_postgres():
        row = db.execute_sql(_LOOKUP_POSTGRES, (f"{subject}\n{key}", subject, key)).fetchone()
    else:
        row = db.execute_sql(_LOOKUP_SQLITE, (subject, key)).fetchone()
    free, fingerprint, status, body, created_at = row
    if isinstance(created_at, str):  # SQLite hands timestamps over as text
        created_at = IdempotencyKey.created_at.python_value(created_at)
    expired = fingerprint is None or created_at < clock() - KEPT
    return bool(free), None if expired else (fingerprint, status, body)


def store_answer(subject, key, fingerprint, response):
    """Store (one statement): the key's answer, over an expired one of the same key."""
    values = {"fingerprint": fingerprint, "status": response.status_code, "body": response.get_data(as_text=True),
              "created_at": clock()}
    (IdempotencyKey.insert(subject=subject, key=key, **values)
     .on_conflict(conflict_target=[IdempotencyKey.subject, IdempotencyKey.key], update=values)
     .execute())


def purge_keys():
    """`flask --app wsgi purge-idempotency-keys`: delete the keys older than 24 hours."""
    return IdempotencyKey.delete().where(IdempotencyKey.created_at < clock() - KEPT).execute()


def idempotent(view):
    """`view` (a POST) with Idempotency-Key honoured; without the header, `view` as it is."""
    @wraps(view)
    def with_key(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not KEY.fullmatch(key):
            message = "Must be 1 to 255 printable ASCII characters."
            raise APIError(400, "validation_error", f"{HEADER}: {message}", {HEADER: [message]})
        fingerprint, subject = _fingerprint(), auth.subject()
        with transaction():
            free, stored = find_key(subject, key)
            if not free:
                raise APIError(409, "conflict", "a request with this Idempotency-Key is still running")
            if stored is not None:
                if stored[0] != fingerprint:
                    raise APIError(422, "idempotency_key_reused",
                                   "this Idempotency-Key was used for another request (method, path or body)")
                replayed = current_app.response_class(stored[2], status=stored[1], mimetype="application/json")
                replayed.headers["Idempotent-Replayed"] = "true"
                return replayed
            response = current_app.make_response(view(*args, **kwargs))
            store_answer(subject, key, fingerprint, response)
        return response
    return with_key
