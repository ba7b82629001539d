"""The request limits for gunicorn, and its answers past them in the service's JSON error shape.
gunicorn.conf.py sets the limits and calls install().

Why this module: with gunicorn 27 as it stands,
- `limit_request_line` above 8190 is silently lowered to 8190, too short for a legitimate D2 URL
  (64 tags of 64 characters, percent-encoded: about 50 KB); the only way past it is 0, no limit.
- Its Python parser reads the head (request line and header fields) at most 8 KiB at a time, and
  after each read copies the whole buffer and searches all of it again: reading N bytes costs CPU
  time in N squared. With no limit, about 2 s for a 4 MiB request line, 9 s for 8 MiB; within
  the limits below, still 4 s for a head sent byte by byte.
- Nothing bounds the header block as a whole except fields x field size (1.6 MB here).
- It answers a request past a limit with an HTML page, where the contract wants JSON.

What it does, for sync and gthread workers alike (it changes gunicorn's request parser and its
error page, not a worker class):
- `Request` restores the configured `limit_request_line` after gunicorn's clamp, and bounds the
  header block at HEADER_BLOCK_MAX. gunicorn's own checks then refuse the request as soon as the
  bytes read pass either limit (within one read of 8 KiB): request line 414, header fields 431.
  The number and size of the fields are checked once the block has ended or passed its bound.
- `Request.read_into` reads on, searching only the new bytes, until gunicorn's search can succeed
  or a limit is passed, so that the head costs time linear in its size however it is sent.
- `write_error` answers 414 and 431 with {"error": {"code": "request_too_large", ...}}; gunicorn's
  other error pages (400, 417, 501 ...) stay as they are, but the input they repeat is cut short
  so that no error body passes 16 KiB.
- `install()` checks, on requests built in memory, that gunicorn still behaves as all this relies
  on, and stops gunicorn from starting if not: an upgrade of gunicorn can change it."""
import json

import gunicorn
from gunicorn import util
from gunicorn.config import Config
from gunicorn.http import message, parser
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine

KIB = 1024
# A real client never comes near these; each bounds what one request can cost to read.
REQUEST_LINE_MAX = 64 * KIB  # method, URL and version; the longest D2 URL is about 50 KB
HEADER_FIELDS_MAX = 100  # header fields in one request (gunicorn's default)
HEADER_FIELD_MAX = 16 * KIB  # one field, name and CRLF included: a JWT fits several times over
HEADER_BLOCK_MAX = 64 * KIB  # all the header fields together
ECHO_MAX = 1 * KIB  # characters of the request that gunicorn's other error pages may repeat

_MESSAGES = {
    414: "the request line is too long",
    431: "the request header fields are too many or too large",
}
_gunicorn_write_error = util.write_error


class Request(message.Request):
    """gunicorn's request, with the limits above, read in time linear in its size."""

    _reading_headers = False

    def parse(self, unreader):
        # gunicorn has set its limits by now, and parses from here.
        self.limit_request_line = self.cfg.limit_request_line
        self.max_buffer_headers = min(self.max_buffer_headers, HEADER_BLOCK_MAX)
        return super().parse(unreader)

    def read_line(self, unreader, buf, limit=0):
        line_and_rest = super().read_line(unreader, buf, limit)
        self._reading_headers = True
        return line_and_rest

    def read_into(self, unreader, buf, stop=False):
        """gunicorn reads once here, then copies the buffer and searches all of it again for the
        end of the request line or of the header block. Read on instead, searching only the new
        bytes, until that search can succeed: the end has come, or a bare LF (which gunicorn
        refuses), or the limit is passed. (Not with the PROXY protocol, read in other ways.)"""
        searched = len(buf)
        super().read_into(unreader, buf, stop)
        while self.cfg.proxy_protocol in ("off", False) and not self._can_go_on(buf, searched):
            searched = len(buf)
            super().read_into(unreader, buf)

    def _can_go_on(self, buf, searched):
        if not self._reading_headers:
            return buf.find(b"\n", searched) >= 0 or len(buf) - 2 > self.limit_request_line > 0
        if len(buf) > self.max_buffer_headers or buf[:2] == b"\r\n":
            return True
        if buf.find(b"\r\n\r\n", max(searched - 3, 0)) >= 0:
            return True
        newline = buf.find(b"\n", searched)
        while newline >= 0:
            if buf[newline - 1:newline] != b"\r":  # a bare LF: gunicorn refuses it
                return True
            newline = buf.find(b"\n", newline + 1)
        return False


def write_error(sock, status_int, reason, mesg):
    """gunicorn's error page: JSON for the request limits, the others shortened."""
    if status_int not in _MESSAGES:
        if len(mesg) > ECHO_MAX:
            mesg = mesg[:ECHO_MAX] + "..."
        return _gunicorn_write_error(sock, status_int, reason, mesg)
    body = json.dumps({"error": {"code": "request_too_large", "message": _MESSAGES[status_int]}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)
    return None


def install():
    """Puts Request and write_error in place of gunicorn's (again and again: no harm)."""
    parser.RequestParser.mesg_class = Request
    util.write_error = write_error
    _check()


def _check():
    cfg = Config()
    cfg.set("limit_request_line", REQUEST_LINE_MAX)
    cfg.set("limit_request_fields", HEADER_FIELDS_MAX)
    cfg.set("limit_request_field_size", HEADER_FIELD_MAX)
    if "http_parser" in cfg.settings:
        cfg.set("http_parser", "python")

    def outcome(head):
        pieces = [head[i:i + 8 * KIB] for i in range(0, len(head), 8 * KIB)]  # as read from a socket
        try:
            request = next(parser.RequestParser(cfg, pieces, ("127.0.0.1", 0)))
        except (LimitRequestLine, LimitRequestHeaders) as e:
            return type(e)
        return type(request)

    longest = b"GET /" + b"x" * (REQUEST_LINE_MAX - 14) + b" HTTP/1.1"
    field = b"X-Check: " + b"v" * (8 * KIB) + b"\r\n"
    cases = [
        (longest + b"\r\n\r\n", Request),
        (longest.replace(b"/", b"/x", 1) + b"\r\n\r\n", LimitRequestLine),
        (b"GET / HTTP/1.1\r\n" + field * (HEADER_BLOCK_MAX // len(field) + 1) + b"\r\n", LimitRequestHeaders),
    ]
    for head, expected in cases:
        if outcome(head) is not expected:
            raise RuntimeError(f"gunicorn {gunicorn.__version__} does not apply the request limits the way "
                               "service/server_limits.py expects: it needs updating for this version")
