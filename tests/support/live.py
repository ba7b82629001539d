"""A real server for tests that need one (and for the benchmark and the reliability run):
gunicorn running `wsgi:app` on a free loopback port with the given environment, a small JSON
client for it, and concurrent requests to it. Also a TCP proxy in front of PostgreSQL that a
test can cut and restore, to play the database going away without stopping the machine's
server."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """with LiveServer(env, workers=4) as server: server.request("GET", "/healthz")

    `app` is the WSGI application gunicorn imports (from the repository root); `args` go on
    gunicorn's command line before it. It is ready once GET /healthz answers 200, within
    `start_timeout` seconds."""

    # Under pytest, tests/conftest.py lets only the tests marked `gunicorn` start one.
    may_start = True

    def __init__(self, env, workers=2, worker_class="sync", threads=1, args=(), log_path=None, app="wsgi:app",
                 start_timeout=30):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.command = [GUNICORN, "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
                        "--worker-class", worker_class, "--threads", str(threads), "--no-control-socket",
                        *args, app]
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.process = None

    def __enter__(self):
        if not LiveServer.may_start:
            raise RuntimeError("this test starts gunicorn: mark it @pytest.mark.gunicorn")
        self._log = open(self.log_path, "w+b") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}: {self.logs()}")
            try:
                if self.request("GET", "/healthz", timeout=1)[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {self.start_timeout} s: {self.logs()}")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __exit__(self, *exc):
        self.stop()
        if self.log_path:
            self._log.close()

    def logs(self):
        if not self.log_path:
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def request(self, method, path, body=None, token=None, headers=None, timeout=30):
        """(status, headers, parsed JSON body or None)."""
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                raw = response.read()
                return response.status, response.headers, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, e.headers, json.loads(raw) if raw else None


def burst(server, path, count=24, timeout=10):
    """The set of statuses of `count` concurrent GETs of `path` (so that each of the server's
    threads holds a database connection at once)."""
    with ThreadPoolExecutor(8) as pool:
        return set(pool.map(lambda _: server.request("GET", path, timeout=timeout)[0], range(count)))


class TCPProxy:
    """Forwards 127.0.0.1:<port> to a target. cut() closes every connection and refuses new
    ones (the database is gone); restore() accepts again."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._open = threading.Event()
        self._open.set()
        self._conns = set()
        self._lock = threading.Lock()
        self._listener = None
        self._stopped = False

    def __enter__(self):
        self._listen()
        return self

    def __exit__(self, *exc):
        self._stopped = True
        self.cut()

    def _listen(self):
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            for a, b, answers in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(target=self._pipe, args=(a, b, answers), daemon=True).start()

    def drops_answer(self):
        """Whether the answer now coming from the server is lost on the way (a subclass decides):
        the connection is closed before any byte of it reaches the client."""
        return False

    def _pipe(self, source, sink, answers):
        first = answers
        try:
            while chunk := source.recv(65536):
                if first and self.drops_answer():
                    break
                first = False
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        """Refuse new connections and drop the open ones."""
        if self._listener:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, set()
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def restore(self):
        if self._listener is None and not self._stopped:
            self._listen()
