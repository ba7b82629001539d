"""One attack of reliability/attacks.py, in a process of its own, on the service code found on
PYTHONPATH (this revision's, or an earlier one's): prints what it answered and cost, as JSON.

    PYTHONPATH=<checkout> python reliability/attack_child.py <attack>"""
import io
import json
import sqlite3
import sys
import tempfile
import time

import jwt

from service import create_app

SECRET = "attack-measure-secret-" + "a" * 32
PROJECT = "/namespaces/acme/projects/vision"
NFC, NFD = "caf\u00e9", "cafe\u0301"


def token(namespaces=("acme",), **claims):
    return jwt.encode({"sub": "attacker", "exp": int(time.time()) + 600, "namespaces": list(namespaces), **claims},
                      SECRET, "HS256")


def compact(body):
    return json.dumps(body, separators=(",", ":")).encode()


# name: (method, path, body, token, WSGI environ: a body without Content-Length, as gunicorn hands a chunked one)
CHUNKED = {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}
ATTACKS = {
    "add-500k-numbers": ("POST", f"{PROJECT}/collections/clips/members", compact({"add": [1] * 500_000}),
                         token(namespaces=()), None),
    "add-340k-empty": ("POST", f"{PROJECT}/collections/clips/members", compact({"add": [""] * 340_000}),
                       token(namespaces=()), None),
    "add-10k-numbers": ("POST", f"{PROJECT}/collections/clips/members", compact({"add": [1] * 10_000}),
                        token(), None),
    "unknown-90k-fields": ("POST", f"{PROJECT}/datasets", compact({f"k{i}": 0 for i in range(90_000)}),
                           token(), None),
    "chunked-3MiB": ("POST", f"{PROJECT}/datasets", b'{"name": "padded-chunked"}' + b" " * (3 << 20), token(),
                     CHUNKED),
    "chunked-members-3MB": ("POST", f"{PROJECT}/collections",
                            compact({"name": "chunked", "members": [f"n{i:07d}" for i in range(300_000)]}),
                            token(), CHUNKED),
    "tags-250k-copies": ("POST", f"{PROJECT}/datasets", compact({"name": "t", "tags": ["t"] * 250_000}), token(),
                         None),
    "members-250k-copies": ("POST", f"{PROJECT}/collections", compact({"name": "m", "members": ["m"] * 250_000}),
                            token(), None),
    "token-aud-other": ("GET", "/namespaces", None, token(aud="other-service"), None),
    "token-exp-string": ("GET", "/namespaces", None, token(exp=str(int(time.time()) + 600)), None),
    "name-nfd-of-taken": ("POST", f"{PROJECT}/datasets", compact({"name": NFD}), token(), None),
    "name-zero-width": ("POST", f"{PROJECT}/datasets", compact({"name": "train\u200b"}), token(), None),
    "name-dot-dot": ("POST", f"{PROJECT}/datasets", compact({"name": ".."}), token(), None),
}


def status(field):
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))


def rows(path):
    with sqlite3.connect(path) as conn:
        return sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("dataset", "collection", "member"))


def main(name):
    method, path, body, bearer, environ = ATTACKS[name]
    database = tempfile.mkdtemp() + "/attack.sqlite3"
    app = create_app({"DATABASE_URL": f"sqlite:///{database}", "JWT_SECRET_KEY": SECRET, "SERVICE_ENV": "test",
                      "LOG_LEVEL": "critical"})
    client = app.test_client()
    admin = {"Authorization": f"Bearer {token(namespaces=('*',))}"}
    for setup_path, setup_body in (("/namespaces", {"slug": "acme"}), ("/namespaces/acme/projects", {"slug": "vision"}),
                                   (f"{PROJECT}/collections", {"name": "clips", "members": ["n1"]}),
                                   (f"{PROJECT}/datasets", {"name": NFC})):
        assert client.post(setup_path, json=setup_body, headers=admin).status_code == 201
    options = {"headers": {"Authorization": f"Bearer {bearer}"}}
    if body is not None:
        options["content_type"] = "application/json"
        if environ:
            options.update(input_stream=io.BytesIO(body), environ_overrides=environ)
        else:
            options["data"] = body
    before = rows(database)
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:  # the peak RSS from here on
        f.write("5")
    rss = status("VmRSS:")
    started = time.process_time()
    response = client.open(path, method=method, **options)
    cpu = time.process_time() - started
    answer = response.get_data()
    print(json.dumps({
        "status": response.status_code, "bytes": len(answer), "cpu_s": cpu,
        "peak_mib": (status("VmHWM:") - rss) / 1024, "written": rows(database) - before,
        "code": (response.get_json(silent=True) or {}).get("error", {}).get("code"),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
