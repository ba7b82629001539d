"""Cursors of the lists (contract §8.4): an opaque token that names the last row a page showed,
by the values the list is ordered by, so that the next page starts right after it (a keyset
page: an index range read, the same cost at any depth, and no row skipped or repeated while
rows come and go).

A cursor is JSON (which list it belongs to, and the values) in URL-safe base64, then a dot
and an HMAC of it, keyed from the service's token-signing configuration: a cursor that the
service did not make, that was cut or changed, or that was made for another list (another
path, other filters) is refused with a 400. Cursors are not secret (they hold the last row's
ordering values) and do not expire."""
import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime

from flask import current_app, request

from .errors import APIError

MAX_LENGTH = 512


def _key():
    config = current_app.config
    secret = config.get("JWT_SECRET_KEY") or config.get("JWT_PRIVATE_KEY") or config.get("JWT_PUBLIC_KEY") or ""
    return hashlib.sha256(b"registry cursors\x00" + secret.encode()).digest()


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _encode_value(value):
    return {"t": value.isoformat()} if isinstance(value, datetime) else value


def _decode_value(value):
    if isinstance(value, dict) and set(value) == {"t"} and isinstance(value["t"], str):
        return datetime.fromisoformat(value["t"])
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return value
    raise ValueError(value)


def list_key():
    """What names a list: the request's path and its filters (every query argument but the
    page's own)."""
    filters = sorted((k, v) for k, v in request.args.items(multi=True) if k not in ("page", "pageSize", "cursor",
                                                                                      "limit"))
    return hashlib.sha256(json.dumps([request.path, filters]).encode()).hexdigest()[:16]


def encode(key, values):
    """The cursor of list `key` after a row whose ordering values are `values`."""
    payload = _b64(json.dumps([key, [_encode_value(v) for v in values]], separators=(",", ":")).encode())
    return f"{payload}.{_b64(hmac.new(_key(), payload.encode(), 'sha256').digest()[:16])}"


def decode(cursor, key):
    """The ordering values that `cursor` carries; a 400 unless the service made it for list `key`."""
    try:
        payload, signature = cursor.split(".")
        if not hmac.compare_digest(_unb64(signature), hmac.new(_key(), payload.encode(), "sha256").digest()[:16]):
            raise ValueError("signature")
        made_for, values = json.loads(_unb64(payload))
        if made_for != key:
            raise ValueError("another list")
        return tuple(_decode_value(v) for v in values)
    except (ValueError, TypeError, binascii.Error):  # json, base64 and unpacking errors are among these
        raise APIError(400, "validation_error", "cursor: not a cursor of this list",
                       fields={"cursor": ["Not a cursor of this list: use the nextCursor of its previous page."]}) \
            from None
