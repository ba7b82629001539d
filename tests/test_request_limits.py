"""Request limits (contract §2–§3) on real gunicorn, sync and gthread workers alike: a request
line of at most 64 KiB, at most 100 header fields of at most 16 KiB each and 64 KiB in all. A
request past a limit is refused as soon as that much has arrived, with 414 or 431 and the JSON
error shape, and the server serves on. Requests go over raw sockets, byte for byte as given.
Also, in memory: gunicorn's parser with service/server_limits.py reads a head sent a few bytes
at a time with a handful of searches, and answers like gunicorn's own."""
import json
import select
import socket
import time
from urllib.parse import quote

import jwt as pyjwt
import pytest
from gunicorn.config import Config
from gunicorn.http import errors, message, parser
from gunicorn.http.unreader import IterUnreader

from service import server_limits
from tests.support.live import LiveServer

SECRET = "limits-secret-" + "l" * 40
KIB, MIB = 1024, 1024 * 1024
LINE_MAX, FIELD_MAX, BLOCK_MAX = 64 * KIB, 16 * KIB, 64 * KIB
LIST = "/namespaces/limits/projects/p/datasets"


def token(namespaces=("*",)):
    return pyjwt.encode({"sub": "limits", "exp": int(time.time()) + 3600, "namespaces": list(namespaces)},
                        SECRET, "HS256")


@pytest.fixture(scope="module", params=["sync", "gthread"])
def server(request, pg_url):
    env = {"DATABASE_URL": pg_url, "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "test"}
    with LiveServer(env, workers=2, worker_class=request.param, threads=2) as live:
        for path, body in (("/namespaces", {"slug": "limits"}), ("/namespaces/limits/projects", {"slug": "p"})):
            assert live.request("POST", path, body, token())[0] in (201, 409)
        yield live
        # after everything the module sent, the server still serves
        assert live.request("GET", "/healthz")[0] == 200


# -- requests over a raw socket ------------------------------------------------------------------

def line_of(size):
    """A D2 request line of exactly `size` bytes: tags of 64 characters, then a shorter one."""
    head, tail = f"GET {LIST}?tag=", " HTTP/1.1"
    room = size - len(head) - len(tail)
    query = "&tag=".join(f"t{n}-".ljust(64, "x") for n in range(room // 69))
    query += ("&tag=" if query else "") + "y" * (room - len(query) - (5 if query else 0))
    line = (head + query + tail).encode()
    assert len(line) == size
    return line


def fields(count, size):
    """`count` header fields of `size` bytes each, CRLF included."""
    return [b"X-Filler-%05d: " % i + b"v" * (size - len(b"X-Filler-00000: \r\n")) for i in range(count)]


def head(line=b"GET /healthz HTTP/1.1", extra=(), bearer=None):
    lines = [line, b"Host: limits", b"Connection: close", *extra]
    if bearer:
        lines.append(b"Authorization: Bearer " + bearer.encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


class Answer:
    def __init__(self, raw):
        top, _, self.body = bytes(raw).partition(b"\r\n\r\n")
        status_line, *header_lines = top.decode("latin-1").split("\r\n")
        self.status = int(status_line.split(" ")[1])
        self.headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}

    def json(self):
        return json.loads(self.body)


def exchange(server, data, piece=16 * KIB, wait_after=None):
    """Sends `data` in pieces and reads the answer to the end. With `wait_after`, sends no more
    once that many bytes have gone, and waits for the answer (failing after 20 s). (answer,
    bytes sent)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sent = 0
        try:
            while sent < len(data) and (wait_after is None or sent < wait_after):
                sent += sock.send(data[sent:sent + piece])
        except (BrokenPipeError, ConnectionResetError):  # answered and closed meanwhile
            pass
        if wait_after is not None:
            readable, _, _ = select.select([sock], [], [], 20)
            assert readable, f"no answer after {sent} of {len(data)} bytes: the server waits for the rest"
        raw = bytearray()
        try:
            while chunk := sock.recv(64 * KIB):
                raw += chunk
        except ConnectionResetError:  # the server closed with bytes unread: the answer came first
            pass
    assert raw, "no answer"
    return Answer(raw), sent


def assert_too_large(answer, status):
    assert answer.status == status
    assert answer.headers["content-type"] == "application/json"
    assert int(answer.headers["content-length"]) == len(answer.body) <= 16 * KIB
    body = answer.json()
    assert list(body) == ["error"] and list(body["error"]) == ["code", "message"]
    assert body["error"]["code"] == "request_too_large"
    assert isinstance(body["error"]["message"], str) and 0 < len(body["error"]["message"]) <= 200


def assert_serves(server):
    assert server.request("GET", "/healthz")[0] == 200


# -- the request line ----------------------------------------------------------------------------

@pytest.mark.gunicorn
def test_the_longest_legitimate_url_gets_its_answer(server):
    """D2 with 64 tags of 64 characters of 4 bytes, percent-encoded: a 50 KB request line."""
    url = LIST + "?" + "&".join("tag=" + quote(chr(0x1F600 + i) * 64) for i in range(64))
    assert 49_000 < len(url) < LINE_MAX
    answer, _ = exchange(server, head(f"GET {url} HTTP/1.1".encode(), bearer=token()))
    assert answer.status == 200, answer.body
    assert answer.json()["datasets"] == [] and answer.json()["total"] == 0


@pytest.mark.gunicorn
def test_a_request_line_of_exactly_64_KiB_is_served(server):
    answer, _ = exchange(server, head(line_of(LINE_MAX)))
    assert answer.status == 401 and answer.json()["error"]["code"] == "unauthorized"


@pytest.mark.gunicorn
def test_a_request_line_one_byte_over_64_KiB_is_414(server):
    answer, _ = exchange(server, head(line_of(LINE_MAX + 1)))
    assert_too_large(answer, 414)
    assert_serves(server)


@pytest.mark.gunicorn
def test_a_2_MiB_request_line_is_refused_before_the_client_has_sent_it(server):
    """The client stops after 96 KiB (one read of 8 KiB past the limit, and more) and waits: the
    answer comes without the rest of the line."""
    data = head(line_of(2 * MIB))
    answer, sent = exchange(server, data, wait_after=LINE_MAX + 32 * KIB)
    assert sent < len(data) // 10
    assert_too_large(answer, 414)
    assert_serves(server)


@pytest.mark.gunicorn
def test_other_malformed_request_lines_keep_their_answer_with_a_short_body(server):
    """gunicorn's own 400 page repeats the line; at most 16 KiB of it, like every error body."""
    answer, _ = exchange(server, head(line_of(60 * KIB).replace(b"tag=t1-", b"tag=\x01t1")))
    assert answer.status == 400 and len(answer.body) <= 16 * KIB
    assert_serves(server)


# -- the header fields ---------------------------------------------------------------------------

@pytest.mark.gunicorn
def test_100_header_fields_are_served_and_101_are_431(server):
    # head() adds Host and Connection
    answer, _ = exchange(server, head(extra=fields(98, 100)))
    assert answer.status == 200
    answer, _ = exchange(server, head(extra=fields(99, 100)))
    assert_too_large(answer, 431)
    assert_serves(server)


@pytest.mark.gunicorn
def test_a_header_field_of_16_KiB_is_served_and_one_byte_more_is_431(server):
    answer, _ = exchange(server, head(extra=fields(1, FIELD_MAX)))
    assert answer.status == 200
    answer, _ = exchange(server, head(extra=fields(1, FIELD_MAX + 1)))
    assert_too_large(answer, 431)
    assert_serves(server)


@pytest.mark.gunicorn
def test_a_large_token_fits(server):
    """A JWT of over 12 KiB (a token for 250 namespaces) in Authorization is read and checked."""
    bearer = token([f"tenant-{n:04d}-with-a-rather-long-slug" for n in range(250)])
    assert len(bearer) > 12 * KIB
    answer, _ = exchange(server, head(f"GET {LIST} HTTP/1.1".encode(), bearer=bearer))
    assert answer.status == 404 and answer.json()["error"]["code"] == "not_found"  # not among its namespaces


@pytest.mark.gunicorn
def test_header_fields_past_64_KiB_in_all_are_431(server):
    """Each field within its limit, and their number too: the sum is what is too large."""
    answer, _ = exchange(server, head(extra=fields(9, 8 * KIB)))
    assert_too_large(answer, 431)
    assert_serves(server)


@pytest.mark.gunicorn
def test_2_MiB_of_header_fields_are_refused_before_the_client_has_sent_them(server):
    data = head(extra=fields(256, 8 * KIB))
    answer, sent = exchange(server, data, wait_after=BLOCK_MAX + 32 * KIB)
    assert sent < len(data) // 10
    assert_too_large(answer, 431)
    assert_serves(server)


# -- the parser, in memory -----------------------------------------------------------------------

def parser_config(line_limit=LINE_MAX):
    cfg = Config()
    cfg.set("limit_request_line", line_limit)
    cfg.set("limit_request_fields", server_limits.HEADER_FIELDS_MAX)
    cfg.set("limit_request_field_size", server_limits.HEADER_FIELD_MAX)
    cfg.set("http_parser", "python")
    return cfg


class CountingRequest(server_limits.Request):
    """Counts gunicorn's calls to read_into: each is followed by a search of the whole buffer."""

    def read_into(self, unreader, buf, stop=False):
        self.reads = getattr(self, "reads", 0) + 1
        return super().read_into(unreader, buf, stop)


def outcome(request_class, data, piece, cfg):
    """(method, uri, headers, what is left unread) of `data` read `piece` bytes at a time, or
    the type of the error that refused it."""
    unreader = IterUnreader([data[i:i + piece] for i in range(0, len(data), piece)])
    try:
        request = request_class(cfg, unreader, ("127.0.0.1", 0))
    except (errors.ParseException, errors.NoMoreData) as e:
        return type(e)
    return request.method, request.uri, request.headers, request.body.read() + unreader.read()


def test_a_head_sent_byte_by_byte_is_searched_a_handful_of_times():
    data = head(line_of(LINE_MAX), extra=fields(7, 8 * KIB))
    reads = []

    class Recording(CountingRequest):
        def parse(self, unreader):
            try:
                return super().parse(unreader)
            finally:
                reads.append(self.reads)

    method, uri, headers, _ = outcome(Recording, data, 1, parser_config())
    assert (method, len(uri), len(headers)) == ("GET", LINE_MAX - 13, 9)
    assert reads == [2]  # once for the request line, once for the header fields (not 120,000 times)


@pytest.mark.parametrize("data", [
    b"GET /a HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n",
    b"\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",  # one empty line first: allowed
    b"GET /a HTTP/1.1\r\n\r\n",  # no header field at all
    b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\n",  # pipelined
    b"GET /a HTTP/1.1\nHost: x\r\n\r\n",  # bare LF ending the request line
    b"GET /a HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n",  # bare LF in the header fields
    b"GET /a HTTP/1.1\r\nHost: x\r\nX-A: b",  # the client stops in the middle
    b"GET /a HTTP/1.1\r\nX-A b\r\n\r\n",  # a field without a colon
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",  # past the request-line limit below
], ids=["plain", "empty line first", "no fields", "pipelined", "bare LF in line", "bare LF in fields",
        "cut short", "no colon", "line too long"])
@pytest.mark.parametrize("piece", [1, 3, 8192])
def test_the_parser_answers_like_gunicorns_own_however_the_head_arrives(data, piece):
    cfg = parser_config(line_limit=8190)  # gunicorn's own parser allows no more
    assert outcome(server_limits.Request, data, piece, cfg) == outcome(message.Request, data, piece, cfg)


def test_the_start_up_check_notices_when_gunicorn_no_longer_takes_the_limits(monkeypatch):
    monkeypatch.setattr(parser.RequestParser, "mesg_class", server_limits.Request)  # as install() does
    server_limits._check()
    monkeypatch.setattr(server_limits.Request, "parse", message.Request.parse)
    with pytest.raises(RuntimeError, match="server_limits.py"):
        server_limits._check()


# -- a body sent chunked -------------------------------------------------------------------------

def chunked(path, body, bearer):
    """A POST of `body` with Transfer-Encoding: chunked (no Content-Length), in 64 KiB chunks."""
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 64 * KIB]), body[i:i + 64 * KIB])
                      for i in range(0, len(body), 64 * KIB))
    return head(f"POST {path} HTTP/1.1".encode(), [b"Content-Type: application/json",
                                                  b"Transfer-Encoding: chunked"], bearer) + chunks + b"0\r\n\r\n"


@pytest.mark.gunicorn
def test_a_chunked_body_over_the_limit_is_413_and_writes_nothing(server):
    datasets = "/namespaces/limits/projects/p/datasets"
    over = b'{"name": "padded-chunked"}' + b" " * (3 * 1024 * KIB)
    answer, _ = exchange(server, chunked(datasets, over, token()), piece=64 * KIB)
    assert answer.status == 413 and answer.json()["error"]["code"] == "payload_too_large"
    assert server.request("GET", f"{datasets}/padded-chunked", token=token())[0] == 404
    name = f"at-the-limit-{server.port}"
    at_limit = f'{{"name": "{name}"}}'.encode().ljust(1024 * KIB)
    answer, _ = exchange(server, chunked(datasets, at_limit, token()), piece=64 * KIB)
    assert answer.status == 201 and answer.json()["name"] == name
