"""Structured logs: one JSON object per line, for the service's own records and for
gunicorn's (its error log and the access log). A line written while serving a request
carries that request's ID; no line carries a token, a secret or a password.

    {"time": "2026-04-15T10:30:00.000Z", "level": "info", "logger": "gunicorn.access",
     "message": "GET /namespaces 200", "request_id": "…", "method": "GET", …}
"""
import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime
from urllib.parse import unquote, urlparse

from flask import g, has_request_context
from gunicorn.glogging import Logger

from .config import ConfigError

MASK = "[redacted]"
# Credentials in a URL (scheme://user:password@host), bearer tokens, anything shaped like a
# JWT (its header always encodes to "eyJ"), and secrets written as key=value.
_PATTERNS = [
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]*@"), rf"\1{MASK}@"),
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+"), rf"\1{MASK}"),
    (re.compile(r"\beyJ[\w-]*\.[\w-]*\.[\w-]*"), MASK),
    (re.compile(r"(?i)\b([\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key))=[^\s&\"',;]+"), rf"\1={MASK}"),
]
# JSON escapes the line breaks below U+0020; these others would still split a log line for
# readers that split on every Unicode line break (they can appear only inside JSON strings).
_LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}
# Exact values known to be secret: the JWT keys and the database password of the running app.
_secrets = set()


def redact(text):
    """`text` with every secret it may carry masked."""
    for secret in _secrets:
        text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_for(given):
    """The request's ID: the caller's X-Request-ID when it is a plain token, else a new one."""
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _request_id():
    return g.get("request_id") if has_request_context() else None


class JSONFormatter(logging.Formatter):
    """A record as one line of JSON. Extra fields come from `extra={"fields": {...}}`."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = _request_id()
        if request_id:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        line = json.dumps({k: redact(v) if isinstance(v, str) else v for k, v in entry.items()},
                          ensure_ascii=False, default=str)
        return line.translate(_LINE_BREAKS)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a test runner or gunicorn may replace it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _remember_secrets(config):
    password = urlparse(config["DATABASE_URL"]).password
    values = (config.get("JWT_SECRET_KEY"), config.get("JWT_PRIVATE_KEY"), password, password and unquote(password))
    # A value this short would mask common words; the patterns still catch it in a URL.
    _secrets.update(v for v in values if v and len(v) >= 4)


def init_app(app):
    """JSON lines on stderr for every logger that propagates to the root, at LOG_LEVEL."""
    level = logging.getLevelNamesMapping().get(app.config["LOG_LEVEL"].upper())
    if level is None:
        raise ConfigError(f"LOG_LEVEL must be debug, info, warning, error or critical, not {app.config['LOG_LEVEL']!r}")
    _remember_secrets(app.config)
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JSONFormatter())
        root.addHandler(handler)
    root.setLevel(level)


def fatal(message):
    """One JSON line on stderr, for a process that cannot start (logging is not set up yet)."""
    record = logging.makeLogRecord({"name": "service", "levelno": logging.CRITICAL, "levelname": "CRITICAL",
                                    "msg": message})
    print(JSONFormatter().format(record), file=sys.stderr, flush=True)


class GunicornLogger(Logger):
    """gunicorn's logger (`logger_class`), writing JSON lines: its own messages, and one access
    line per request with the request ID the service answered in X-Request-ID."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JSONFormatter())

    def access(self, resp, req, environ, request_time):
        if not self.access_log.handlers:  # no access log configured
            return
        headers = resp.headers.items() if hasattr(resp.headers, "items") else resp.headers
        request_id = next((v for k, v in headers if k.lower() == "x-request-id"), None)
        status = int(str(resp.status).split(None, 1)[0])
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        fields = {
            "request_id": request_id,
            "method": method,
            "path": path,
            "query": environ.get("QUERY_STRING") or None,
            "status": status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        self.access_log.info("%s %s %s", method, path, status, extra={"fields": fields})
