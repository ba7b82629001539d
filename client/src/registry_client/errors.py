"""The exceptions the client raises: one class per error code of the service's error envelope
(`{"error": {"code", "message", "fields"}}`), all of them `RegistryError`s."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class RegistryError(Exception):
    """An error answer of the registry, or no answer at all (ConnectionFailed).

    `status`: the HTTP status (None when no answer came); `code`: the error code of the
    envelope (`"not_found"`, …; `"http_error"` for an answer not in the envelope, from a
    proxy, say); `message`: its message; `fields`: for a 400, each field or query argument
    in error with its messages, else {}; `request_id`: the `X-Request-ID` the call was sent
    with (the service logs it); `attempts`: how many times the request was sent. An error
    raised after more than one attempt, where an earlier attempt's answer was lost, may
    follow an attempt that took effect (see the README: a 412 to a retried PATCH)."""

    status: int | None
    code: str
    message: str
    fields: dict[str, list[str]]
    request_id: str | None
    attempts: int

    def __init__(self, status: int | None, code: str, message: str, fields: Mapping[str, list[str]] | None = None,
                 *, request_id: str | None = None, attempts: int = 1) -> None:
        super().__init__(f"{status} {code}: {message}" if status is not None else f"{code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.fields = dict(fields or {})
        self.request_id, self.attempts = request_id, attempts


class ConnectionFailed(RegistryError):
    """No answer: the connection could not be made, or broke before the answer came, on the
    last attempt (or on the first, where a retry was not safe). The httpx exception is the
    `__cause__`."""


class BadRequest(RegistryError):
    """400: the request breaks a rule (see ValidationError and InvalidJSON)."""


class ValidationError(BadRequest):
    """400 `validation_error`: `fields` maps each field or query argument to its messages."""


class InvalidJSON(BadRequest):
    """400 `invalid_json`: the body is missing or not a JSON object."""


class Unauthorized(RegistryError):
    """401 `unauthorized`: no token, or one that is expired, badly signed or malformed."""


class Forbidden(RegistryError):
    """403 `forbidden`: the token may not do this (creating a namespace needs `"*"`)."""


class NotFound(RegistryError):
    """404 `not_found`: the namespace, project, dataset, collection, version or trash item
    does not exist (or lies outside the token's namespaces)."""


class MethodNotAllowed(RegistryError):
    """405 `method_not_allowed`."""


class Conflict(RegistryError):
    """409 `conflict`: the name or slug is taken by a live row (or a request with the same
    Idempotency-Key is still running)."""


class PreconditionFailed(RegistryError):
    """412 `precondition_failed`: the `etag` given no longer names the current representation;
    nothing changed. Read it again, then decide."""


class PayloadTooLarge(RegistryError):
    """413 `payload_too_large`: the body is larger than the service's limit (1 MiB by default)."""


class RequestTooLarge(RegistryError):
    """414 or 431 `request_too_large`: the URL or the header fields are too long."""


class UnsupportedMediaType(RegistryError):
    """415 `unsupported_media_type`."""


class IdempotencyKeyReused(RegistryError):
    """422 `idempotency_key_reused`: an `idempotency_key` given again with another request."""


class InternalError(RegistryError):
    """500 `internal_error`: a bug in the service."""


class ServiceUnavailable(RegistryError):
    """503: nothing answered for the service (a proxy or load balancer in front of it), or
    the service itself (DatabaseUnavailable). Raised once the retries are spent."""


class DatabaseUnavailable(ServiceUnavailable):
    """503 `database_unavailable`: the service could not reach its database; nothing was done."""


ERRORS_BY_CODE: dict[str, type[RegistryError]] = {
    "validation_error": ValidationError,
    "invalid_json": InvalidJSON,
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "method_not_allowed": MethodNotAllowed,
    "conflict": Conflict,
    "precondition_failed": PreconditionFailed,
    "payload_too_large": PayloadTooLarge,
    "request_too_large": RequestTooLarge,
    "unsupported_media_type": UnsupportedMediaType,
    "idempotency_key_reused": IdempotencyKeyReused,
    "internal_error": InternalError,
    "database_unavailable": DatabaseUnavailable,
}

ERRORS_BY_STATUS: dict[int, type[RegistryError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    414: RequestTooLarge,
    415: UnsupportedMediaType,
    422: IdempotencyKeyReused,
    431: RequestTooLarge,
    500: InternalError,
    503: ServiceUnavailable,
}


def error_for(status: int, body: Any, *, request_id: str | None, attempts: int) -> RegistryError:
    """The exception for an error answer: by the envelope's code, else by the status."""
    error = body.get("error") if isinstance(body, dict) else None
    code, message, fields = "http_error", f"HTTP {status}", None
    cls = ERRORS_BY_STATUS.get(status, RegistryError)
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        code = message = error["code"]
        if isinstance(error.get("message"), str):
            message = error["message"]
        if isinstance(error.get("fields"), dict):
            fields = error["fields"]
        cls = ERRORS_BY_CODE.get(code, cls)
    return cls(status, code, message, fields, request_id=request_id, attempts=attempts)
