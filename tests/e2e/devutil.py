"""Helpers for the `baton dev` / `baton run` end-to-end tests: free ports, an HTTP poller that
counts failed requests, and a project directory built from the bundled Gin apps."""
import http.client
import json
import os
import shutil
import socket
import threading
import time

from conftest import REPO, wait_until


def free_port():
    """A port that was free a moment ago (bound then released by the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path="/", timeout=5.0, host="127.0.0.1"):
    """One request on a fresh connection: (status, body)."""
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Connection": "close"})
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        c.close()


class Poller:
    """Sends a request every `interval` seconds on a new connection and records each result."""

    def __init__(self, port, interval=0.005, path="/"):
        self.port, self.interval, self.path = port, interval, path
        self.ok = 0
        self.failures = []
        self.bodies = set()
        self.last_body = None
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                st, body = get(self.port, self.path)
                if st == 200:
                    self.ok += 1
                    self.bodies.add(body.strip())
                    self.last_body = body.strip()
                else:
                    self.failures.append(f"HTTP {st}")
            except Exception as e:  # refused, reset, timeout: all failures
                self.failures.append(repr(e))
            self._stop.wait(self.interval)

    def wait_more(self, k=3, timeout=10.0):
        """Wait until the poller has had k more successes than now: proof that the service
        answers at this point, whatever the machine's speed (never a count over a period)."""
        target = self.ok + k
        wait_until(lambda: self.ok >= target, timeout=timeout,
                   what=f"{k} more successful requests (failures so far: {self.failures[:3]})")

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(timeout=10)


def gin_project(tmp, app="gin-hello"):
    """Copy a bundled Gin app into tmp/app and return (dir, main.go path)."""
    src = os.path.join(REPO, "examples", "gin-hello") if app == "gin-hello" else \
        os.path.join(REPO, "tests", "apps", app)
    dst = os.path.join(str(tmp), "app")
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".baton", "baton.toml", "go.mod",
                                                            "go.sum", "*.md"))
    return dst, os.path.join(dst, "main.go")


GO_BUILD = "GO111MODULE=off GOPATH=/usr/share/gocode go build -o .baton/bin/app ."


def write(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def run_config(tmp, port, cmd, ready="notify", extra="", ready_timeout="10s"):
    """Write tmp/baton.toml for `baton run`: cmd on one listener, 127.0.0.1:port."""
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "{cmd}"
ready = "{ready}"
ready_timeout = "{ready_timeout}"
stop_timeout = "5s"
{extra}
[[listen]]
name = "http"
address = "127.0.0.1:{port}"
''')


def pid_of(port):
    """The pid a Gin test app on port reports at /pid."""
    st, body = get(port, "/pid")
    assert st == 200, (st, body)
    return json.loads(body)["pid"]


def replace_in(path, old, new):
    with open(path) as f:
        s = f.read()
    assert old in s, f"{old!r} not in {path}"
    # write in place (truncate + write), like most editors' non-atomic save
    with open(path, "w") as f:
        f.write(s.replace(old, new))


_built = {}


def built_apps():
    """Build the bundled Gin apps once per test session (tests/apps/build.sh) and return the
    directory holding gin-hello and gin-plain."""
    import subprocess
    from conftest import BUILD
    out = os.path.join(BUILD, "apps")
    if "dir" not in _built:
        subprocess.run([os.path.join(REPO, "tests", "apps", "build.sh"), out], check=True,
                       timeout=300, capture_output=True)
        _built["dir"] = out
    return _built["dir"]


# A Python app served on baton's socket (fd 3, LISTEN_FDS): answers "PID MODE" with 200, 503 on
# /fail; MODE comes from the file "mode" in its directory at start: "ok", "bad" (500 on 30 % of
# requests) or "slow" (250 ms more per request). For front, metrics and rollout tests.
FD3_APP = r'''
import http.server, os, random, socket, socketserver, time
mode = open("mode").read().strip() if os.path.exists("mode") else "ok"
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        code = 503 if self.path == "/fail" else 200
        if mode == "bad" and random.random() < 0.3:
            code = 500
        if mode == "slow":
            time.sleep(0.25)
        b = ("%d %s\n" % (os.getpid(), mode)).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
srv = S(("", 0), H, bind_and_activate=False)
srv.socket.close()
srv.socket = socket.socket(fileno=3)
srv.serve_forever()
'''


def write_fd3_app(tmp, mode="ok"):
    write(os.path.join(tmp, "app.py"), FD3_APP)
    write(os.path.join(tmp, "mode"), mode)
