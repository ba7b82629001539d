"""Attacks on bodies, tokens and names (contract §2–§4): for each, the answer, the CPU time and
the peak memory it took, the size of the answer, and the rows it wrote, on this revision and,
with --before REV, on revision REV. Each attack runs in a fresh process
(reliability/attack_child.py) on a fresh SQLite database, through the Flask test client: what
is measured is the service's own work on the request, without a server around it (the
request line and header fields, which the server reads, are reliability/request_limits.py's).
Prints a Markdown table; with --write, puts it into docs/reliability.md as its section
"## Attacks on bodies, tokens and names".

    .venv/bin/python -m reliability.attacks --before 377fdd9 --write"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from reliability.request_limits import git_revision, write_section

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).resolve().with_name("attack_child.py")
TITLE = "## Attacks on bodies, tokens and names"

# (attack of attack_child.py, what it is, the contract's rule)
ATTACKS = [
    ("add-500k-numbers", "C5 `add` of 500,000 numbers (1 MB), token for no namespace",
     "count limits before per-item work; error body ≤ 16 KiB"),
    ("add-340k-empty", "C5 `add` of 340,000 empty strings (1 MB), token for no namespace", "the same"),
    ("add-10k-numbers", "C5 `add` of 10,000 numbers: at the limit, every item bad", "error body ≤ 16 KiB"),
    ("unknown-90k-fields", "D1 with 90,000 unknown fields (1 MB)", "the same"),
    ("chunked-3MiB", "D1 sent chunked: a valid name, then 3 MiB of spaces", "413 in any transfer encoding"),
    ("chunked-members-3MB", "C1 sent chunked with 300,000 members (3 MB)", "the same"),
    ("tags-250k-copies", "D1 `tags` of 250,000 × \"t\" (1 MB)", "count limits on the list as sent"),
    ("members-250k-copies", "C1 `members` of 250,000 × \"m\" (1 MB)", "the same"),
    ("token-aud-other", "a token with `aud: other-service`, no audience configured", "`aud` refused unless configured"),
    ("token-exp-string", "a token whose `exp` is a numeric string", "`exp`, `nbf`, `iat` are JSON numbers"),
    ("name-nfd-of-taken", "D1 of `café` in NFD beside `café` in NFC", "names compared in NFC"),
    ("name-zero-width", "D1 of `train` + U+200B", "no format characters (Cf)"),
    ("name-dot-dot", "D1 of `..`", "not `.` or `..`"),
]


READING = (
    "Each class is refused where it starts: a list's length as sent before any item of it, more than 10 "
    "unknown fields before any field, the error body cut to 10 messages per field and 16 KiB (the "
    "message says how many more), a chunked body past MAX_CONTENT_LENGTH found by one byte more in the "
    "server's stream, names in NFC with format characters refused (stored names brought to that form "
    "by schema version 3), `aud` and the time claims' types checked after PyJWT's decode. What remains "
    "of a 1 MB body's cost is parsing its JSON. Not in the table: U+0085, U+2028 and U+2029 in a logged "
    "value are escaped (a log line stays one line), and an X-Request-ID with a trailing newline is "
    "replaced, not echoed (tests/test_hardening.py)."
)


def run(attack, checkout):
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run([sys.executable, str(CHILD), attack], cwd=checkout, env=env, capture_output=True,
                          text=True, timeout=300)
    if done.returncode:
        raise RuntimeError(f"{attack} on {checkout}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def size(n):
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB" if n >= 10_240 else f"{n} B"


def cells(results, key, show):
    return " → ".join(show(r[key]) for r in results)


def table(rows):
    lines = ["| attack | rule | answer | CPU s | peak memory MiB | answer size | rows written |",
             "|---|---|---|---:|---:|---:|---:|"]
    for (_, what, rule), results in rows:
        answer = " → ".join(f"{r['status']}" + (f" `{r['code']}`" if r["code"] else "") for r in results)
        lines.append(f"| {what} | {rule} | {answer} | {cells(results, 'cpu_s', lambda v: f'{v:.3f}')} | "
                     f"{cells(results, 'peak_mib', lambda v: f'{v:.1f}')} | {cells(results, 'bytes', size)} | "
                     f"{cells(results, 'written', str)} |")
    return lines


def section(lines, before):
    about = (
        "Written by `reliability/attacks.py`; `reliability/run` leaves this section as it is. Each attack "
        "runs in a fresh process on a fresh SQLite database, through the Flask test client: the service's "
        "own work on one request, without a server (a chunked body is handed over as gunicorn hands it: no "
        "Content-Length, `wsgi.input_terminated`). CPU is the process's for that request; peak memory is how "
        "far its resident size rose above what it was just before. "
        + (f"A cell reads *before → now*: before is revision {before}, now is this revision. " if before else "")
    )
    command = f".venv/bin/python -m reliability.attacks{' --before ' + before if before else ''} --write"
    return [TITLE, "", *textwrap.wrap(about, 95), "", "```", command, "```", "",
            f"Last run: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, revision {git_revision()}, "
            f"Python {platform.python_version()}.", "", *lines, "", *textwrap.wrap(READING, 95)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", metavar="REV", help="also run each attack on the service of this revision")
    parser.add_argument("--write", action="store_true", help="write the table into docs/reliability.md")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "reliability.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        checkouts = [ROOT]
        if args.before:
            old = Path(tmp) / "before"
            subprocess.run(["git", "worktree", "add", "--detach", "-q", str(old), args.before], cwd=ROOT, check=True)
            checkouts.insert(0, old)
        try:
            rows = []
            for attack in ATTACKS:
                print(f"{attack[0]} ...", file=sys.stderr, flush=True)
                rows.append((attack, [run(attack[0], checkout) for checkout in checkouts]))
        finally:
            if args.before:
                subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=True)
    lines = table(rows)
    print("\n".join(lines))
    if args.write:
        write_section(args.report, section(lines, args.before))
        print(f"written to {args.report.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
