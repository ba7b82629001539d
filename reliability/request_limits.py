"""Attacks on the request line and the header fields, against gunicorn as gunicorn.conf.py sets
it up: for each, the answer, the CPU time and peak resident memory of the worker that read it,
the size of the answer, and how much of the request the client had sent when the answer came.
Prints a Markdown table. With --before REV, each attack also runs against gunicorn.conf.py as it
was at revision REV (the rest of the code as it is now); with --write, the table goes into
docs/reliability.md as the section "## Attacks on the request line and headers".

    .venv/bin/python -m reliability.request_limits --before 377fdd9 --write

Each attack gets a fresh server (one sync worker, unless --worker-class gthread), so that the
peak memory is the attack's own. CPU time is the worker's (all its threads), from /proc, from
just before the request until the worker is idle again. It needs the project's virtualenv and
PostgreSQL at TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), where
it creates a database of its own and drops it afterwards."""
import argparse
import glob
import json
import os
import platform
import re
import select
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import jwt as pyjwt

from tests.support.databases import new_postgres_database
from tests.support.live import LiveServer
from tests.support.processes import worker_pids

ROOT = Path(__file__).resolve().parent.parent

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "limits-secret-" + "s" * 40
TITLE = "## Attacks on the request line and headers"
KIB, MIB = 1024, 1024 * 1024
LIST = "/namespaces/probe/projects/p/datasets"
# The longest legitimate request line: D2 with 64 tags of 64 characters, each character taking
# 4 bytes of UTF-8, that is 12 once percent-encoded.
LONGEST_URL = LIST + "?" + "&".join("tag=" + quote(chr(0x1F600 + i) * 64) for i in range(64))


def token():
    return pyjwt.encode({"sub": "probe", "exp": int(time.time()) + 3600, "namespaces": ["*"]}, SECRET, "HS256")


def request_line(size):
    """A D2 request line of exactly `size` bytes (tags of 64 characters, then a shorter one)."""
    head, tail = f"GET {LIST}?tag=", " HTTP/1.1"
    room = size - len(head) - len(tail)
    tags = [f"t{n}-".ljust(64, "x") for n in range(room // 69)]  # "t0-xx…x&tag=": 69 bytes
    query = "&tag=".join(tags)
    query += ("&tag=" if tags else "") + "y" * (room - len(query) - (5 if tags else 0))
    line = (head + query + tail).encode()
    assert len(line) == size, (len(line), size)
    return line


def request(line, headers=(), bearer=None):
    fields = [b"Host: probe", b"Connection: close", *headers]
    if bearer:
        fields.append(b"Authorization: Bearer " + bearer.encode())
    return line + b"\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n"


def many_fields(count, size):
    """`count` header fields of `size` bytes each (the CRLF included)."""
    return [b"X-Probe-%05d: " % i + b"v" * (size - len(b"X-Probe-00000: \r\n")) for i in range(count)]


SHORT = b"GET /healthz HTTP/1.1"
ATTACKS = [
    # (label, the request's bytes (a callable when it needs the token)[, bytes sent at a time])
    ("a normal request: D2 with 64 tags of 64 characters, with a token (line of %.1f KB)"
     % (len(f"GET {LONGEST_URL} HTTP/1.1") / 1000),
     lambda: request(f"GET {LONGEST_URL} HTTP/1.1".encode(), bearer=token())),
    ("request line of 64 KiB + 1 byte", request(request_line(64 * KIB + 1))),
    ("request line of 1 MiB", request(request_line(MIB))),
    ("request line of 4 MiB", request(request_line(4 * MIB))),
    ("malformed request line of 60 KiB (a control character in it)",
     request(request_line(60 * KIB).replace(b"tag=t1-", b"tag=\x01t1"))),
    ("malformed request line of 1 MiB (a control character in it)",
     request(request_line(MIB).replace(b"tag=t1-", b"tag=\x01t1"))),
    ("101 header fields", request(SHORT, many_fields(101, 40))),
    ("one header field of 32 KiB", request(SHORT, many_fields(1, 32 * KIB))),
    ("header block of 1 MiB (128 fields of 8 KiB)", request(SHORT, many_fields(128, 8 * KIB))),
    ("within the limits, sent 8 bytes at a time: a request line of 64 KiB and 7 fields of 8,000 bytes",
     request(request_line(64 * KIB), many_fields(7, 8000)), 8),
]


# -- one attack ----------------------------------------------------------------------------------

def cpu_seconds(pid):
    """CPU time of every thread of `pid` (nanoseconds from schedstat), in seconds."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path, encoding="ascii") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError):
            pass
    return total / 1e9


def peak_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


def reset_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def exchange(port, data, chunk=64 * KIB, timeout=120):
    """Sends `data` in chunks, and stops sending as soon as an answer arrives; reads the answer
    to the end. (answer bytes, bytes sent when the answer began)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small pieces go one by one
    sock.setblocking(False)
    pause = 0.05 if chunk >= KIB else 0.00005
    sent, answer, sent_at_answer = 0, bytearray(), None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            sending = sent < len(data) and sent_at_answer is None
            readable, writable, _ = select.select([sock], [sock] if sending else [], [], 1)
            if readable:
                try:
                    piece = sock.recv(256 * KIB)
                except ConnectionResetError:
                    break
                if not piece:
                    break
                if sent_at_answer is None:
                    sent_at_answer = sent
                answer += piece
            elif writable:
                try:
                    sent += sock.send(data[sent:sent + chunk])
                except (BrokenPipeError, ConnectionResetError):
                    data = data[:sent]
                # Give the server a moment to answer (or to read a small piece) before the next
                # one: the kernel would otherwise take megabytes before the server has read any.
                select.select([sock], [], [], pause)
    finally:
        sock.close()
    return bytes(answer), sent_at_answer


def describe(answer):
    """'414 JSON request_too_large', '431 HTML', '401 JSON unauthorized', or 'no answer'."""
    if not answer:
        return "no answer"
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1].decode()
    content_type = re.search(rb"(?im)^content-type:\s*([^;\r]+)", head)
    kind = content_type.group(1).decode() if content_type else "no type"
    if kind == "application/json":
        try:
            return f"{status} JSON `{json.loads(body)['error']['code']}`"
        except (ValueError, KeyError, TypeError):
            return f"{status} JSON"
    return f"{status} {'HTML' if kind == 'text/html' else kind}"


def settle(pid, quiet=0.3, timeout=60):
    """The worker's CPU time once it has stopped rising."""
    last, deadline = cpu_seconds(pid), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = cpu_seconds(pid)
        if now - last < 0.002:
            return now
        last = now
    return last


def attack(env, config, worker_class, data, chunk=64 * KIB):
    with LiveServer(env, workers=1, worker_class=worker_class, threads=2, args=("--config", config)) as server:
        pid, = worker_pids(server.process.pid)
        reset_peak(pid)
        before = settle(pid)
        answer, sent_at = exchange(server.port, data() if callable(data) else data, chunk)
        cpu = settle(pid) - before
        peak = peak_kib(pid)
        still_serving = server.request("GET", "/healthz")[0] == 200
    return {"answer": describe(answer), "cpu": cpu, "peak_mib": peak / 1024, "bytes": len(answer),
            "sent": sent_at, "size": len(data() if callable(data) else data), "serving": still_serving}


def set_up(env, config):
    """The namespace and project the normal request lists."""
    with LiveServer(env, workers=1, args=("--config", config)) as server:
        for path, body in (("/namespaces", {"slug": "probe"}), ("/namespaces/probe/projects", {"slug": "p"})):
            status = server.request("POST", path, body, token=token())[0]
            assert status in (201, 409), (path, status)


# -- the table -----------------------------------------------------------------------------------

def amount(n):
    if n is None:
        return "—"
    if n >= MIB:
        return f"{n / MIB:.1f} MiB"
    if n >= 10 * KIB:
        return f"{n / KIB:.0f} KiB"
    return f"{n} B"


def table(results, before):
    def pair(row, fmt):
        now = fmt(row["now"])
        return f"{fmt(row['before'])} → {now}" if before else now

    columns = ["attack", "answer", "worker CPU s", "worker peak RSS MiB", "answer size", "sent when answered"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for label, row in results:
        lines.append("| " + " | ".join([
            label,
            pair(row, lambda r: r["answer"]),
            pair(row, lambda r: f"{r['cpu']:.3f}"),
            pair(row, lambda r: f"{r['peak_mib']:.0f}"),
            pair(row, lambda r: amount(r["bytes"])),
            pair(row, lambda r: f"{amount(r['sent'])} of {amount(r['size'])}"),
        ]) + " |")
    return lines


def git_revision():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def section(lines, args, all_serving):
    version = subprocess.run([sys.executable, "-c", "import gunicorn; print(gunicorn.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    about = (
        "Written by `reliability/request_limits.py`; `reliability/run` leaves this section as it is. "
        "Each attack goes over a raw socket to a fresh gunicorn with one "
        f"{args.worker_class} worker, in pieces of 64 KiB 50 ms apart (unless it says otherwise), and the "
        "client sends no more once an answer has come. CPU is the worker's (all its threads), from just "
        "before the request until it is idle again; peak RSS is the worker's VmHWM, its idle size of "
        "about 41 MiB included. "
        + (f"A cell reads *before → now*: before is `gunicorn.conf.py` of revision {args.before} (no "
           "request-line limit, gunicorn's parser and HTML error pages), now is this revision's "
           "(`service/server_limits.py`). " if args.before else "")
        + ("After every attack the same server answered `GET /healthz` with 200." if all_serving else
           "After some attack the server did not answer `GET /healthz` with 200: see the run's FAILED lines.")
    )
    reading = (
        "Before, the worker read all of a request line, however long, in time growing with its "
        "square (when the attack was found: 9.4 s of CPU and 107 MB for 8 MB; about 16 MB outlives "
        "the 30 s worker timeout). Now it refuses a request line or a header block past 64 KiB "
        "having read at most 8 KiB more, and too many or too large header fields once their block "
        "has ended (within those 64 KiB). The last row is a legitimate head sent in 8-byte "
        "packets: what it still costs is receiving some 15,000 packets, in time linear in their "
        "number; before, the whole buffer was also copied and searched again after each of them."
    )
    command = (f".venv/bin/python -m reliability.request_limits{' --before ' + args.before if args.before else ''}"
               f"{' --worker-class ' + args.worker_class if args.worker_class != 'sync' else ''} --write")
    return [
        TITLE, "",
        *textwrap.wrap(about, 95), "",
        "```", command, "```", "",
        f"Last run: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, revision {git_revision()}, "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, gunicorn {version}.", "",
        *lines, "",
        *textwrap.wrap(reading, 95),
    ]


def write_section(path, lines):
    """Replaces the section whose title is lines[0] (or appends it), leaving the rest of the file
    as it is."""
    title = lines[0]
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start = text.find(title + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    else:
        end = text.find("\n## ", start + len(title))
        rest = text[end + 1:] if end >= 0 else ""
        text = text[:start] + "\n".join(lines) + "\n" + ("\n" + rest if rest else "")
    path.write_text(text, encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", metavar="REV", help="also run each attack on gunicorn.conf.py of this revision")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    parser.add_argument("--write", action="store_true", help="write the table into docs/reliability.md")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "reliability.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, new_postgres_database(ADMIN_URL) as url:
        configs = {"now": str(ROOT / "gunicorn.conf.py")}
        if args.before:
            old = Path(tmp) / "gunicorn.conf.py"
            old.write_bytes(subprocess.run(["git", "show", f"{args.before}:gunicorn.conf.py"], cwd=ROOT,
                                           capture_output=True, check=True).stdout)
            configs["before"] = str(old)
        env = {"DATABASE_URL": url, "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "production", "LOG_LEVEL": "warning",
               "WEB_CONCURRENCY": "1"}
        set_up(env, configs["now"])
        results, failures = [], []
        for label, *sending in ATTACKS:
            row = {}
            for which, config in configs.items():
                print(f"{which}: {label} ...", file=sys.stderr, flush=True)
                row[which] = attack(env, config, args.worker_class, *sending)
                if not row[which]["serving"]:
                    failures.append(f"{which}: {label}: /healthz did not answer 200 afterwards")
            results.append((label, row))
    lines = table(results, bool(args.before))
    print("\n".join(lines))
    if args.write:
        write_section(args.report, section(lines, args, not failures))
        print(f"written to {args.report.relative_to(ROOT)}", file=sys.stderr)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
