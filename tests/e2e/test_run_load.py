"""`baton run` under load: 20 reloads ~200 ms apart while clients hammer all three listeners of
examples/gin-multi (HTTP, HTTPS with the app's own TLS, a unix socket) — keep-alive clients,
new-connection-per-request clients — and not one request is refused, reset or failed.

Keep-alive clients behave like browsers and Go's http.Client: a request that fails on a reused
connection before any byte of the response arrived is retried once on a new connection (the
server may close an idle connection just as the client sends on it). Those retries are counted
and reported separately; a retry that fails too is a failure.

"Every response after each cut-over comes from the new generation" is checked as two rules on
the observed times of baton's and the app's log lines (a line is seen no earlier than it was
written, so both rules can only err on the lenient side, never flag a correct run):
  1. once the test has seen "generation G drained", no request sent after that is answered by
     G: the drained generation is gone for good (nothing of it lingers and answers);
  2. once it has seen generation G's "stopped accepting" line, no connection opened after that
     is answered by G: new connections go to the new generation from then on (a request on a
     connection G accepted earlier may still be answered by G, with `Connection: close`).
"""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import wait_until
from devutil import built_apps, free_port, write

pytestmark = pytest.mark.skipif(shutil.which("go") is None or shutil.which("openssl") is None,
                                reason="go or openssl is not installed")

RELOADS = 20
GAP = 0.2  # seconds between a generation serving and the next reload


class NoResponse(Exception):
    """The connection failed before any byte of the response arrived."""


class Conn:
    """A minimal HTTP/1.1 client on one connection (TCP, TLS or unix) that knows whether any
    byte of the response arrived before a failure, which http.client does not say."""

    def __init__(self, connect):
        self.connect = connect
        self.sock = None
        self.opened_at = None

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def open(self):
        self.opened_at = time.monotonic()
        self.sock = self.connect()

    def request(self, path, close=False):
        """Send GET path; returns (status, body). Raises NoResponse if the connection failed
        before the first response byte, another exception for anything else."""
        if self.sock is None:
            self.open()
        hdr = "Connection: close\r\n" if close else ""
        req = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{hdr}\r\n".encode()
        buf = b""
        try:
            self.sock.sendall(req)
            while b"\r\n\r\n" not in buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionResetError("connection closed by the server")
                buf += chunk
        except (OSError, ssl.SSLError) as e:
            self.close()
            if not buf:
                raise NoResponse(repr(e)) from e
            raise
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(rest) < n:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionResetError("connection closed in the body")
                rest += chunk
            body = rest[:n]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while not rest.endswith(b"0\r\n\r\n"):
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionResetError("connection closed in the body")
                rest += chunk
            body, data = b"", rest
            while True:
                size, _, data = data.partition(b"\r\n")
                size = int(size.split(b";")[0], 16)
                if size == 0:
                    break
                body, data = body + data[:size], data[size + 2:]
        else:
            raise AssertionError(f"response without a length: {head!r}")
        if close or headers.get("connection", "").lower() == "close":
            self.close()
        return status, body.decode("utf-8", "replace")


GEN_RX = re.compile(r"^hello from gin-multi v1 \(generation (\d+), pid \d+, via (\w+)\)$")


class Client:
    """One client thread: `keepalive` reuses its connection (retrying once as described above),
    otherwise every request gets a new connection."""

    def __init__(self, kind, listener, connect, keepalive, stop):
        self.kind, self.listener, self.keepalive = kind, listener, keepalive
        self.conn = Conn(connect)
        self.stop = stop
        self.records = []  # (sent_at, conn_opened_at, generation)
        self.ok = 0
        self.retries = 0
        self.failures = []
        self.t = threading.Thread(target=self.run, daemon=True)

    def one(self):
        reused = self.conn.sock is not None
        sent = time.monotonic()
        try:
            st, body = self.conn.request("/", close=not self.keepalive)
        except NoResponse:
            if not reused:
                raise
            self.retries += 1
            sent = time.monotonic()
            st, body = self.conn.request("/", close=not self.keepalive)
        m = GEN_RX.match(body.strip())
        if st != 200 or not m or m.group(2) != self.listener:
            raise AssertionError(f"HTTP {st}: {body[:200]!r}")
        self.records.append((sent, self.conn.opened_at, int(m.group(1))))
        self.ok += 1

    def run(self):
        while not self.stop.is_set():
            try:
                self.one()
            except Exception as e:  # refused, reset, timeout, bad answer: all failures
                self.conn.close()
                self.failures.append((time.monotonic(), f"{type(e).__name__}: {e}"))
            self.stop.wait(0.001)
        self.conn.close()

    def latest_generation(self):
        return self.records[-1][2] if self.records else 0


def make_cert(tmp):
    d = os.path.join(tmp, "certs")
    os.makedirs(d)
    crt, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", crt], check=True, capture_output=True, timeout=30)
    return crt, key


class LogTimes:
    """Records when the test first saw each generation's serving / stopped-accepting / drained
    line (time.monotonic(), which is never earlier than when the line was written)."""

    RX = re.compile(r"baton: generation (\d+) (serving|drained)|"
                    r"gin-multi \(generation (\d+), pid \d+\): (stopped accepting)")

    def __init__(self, proc):
        self.proc = proc
        self.seen = {}  # (event, generation) -> monotonic time
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        i = 0
        while not self.stop.is_set():
            with self.proc.cond:
                while i >= len(self.proc.lines) and not self.proc.eof and \
                        not self.stop.is_set():
                    self.proc.cond.wait(0.05)
                new = self.proc.lines[i:]
                eof = self.proc.eof
            now = time.monotonic()
            i += len(new)
            for line in new:
                m = self.RX.search(line)
                if m:
                    gen = int(m.group(1) or m.group(3))
                    self.seen.setdefault((m.group(2) or m.group(4), gen), now)
            if eof:
                return


@pytest.mark.timeout(120)
def test_reloads_under_load_on_all_listeners(env):
    app = os.path.join(built_apps(), "gin-multi")
    tmp = str(env.tmp)
    crt, key = make_cert(tmp)
    os.makedirs(os.path.join(tmp, ".baton"))
    http_port, https_port = free_port(), free_port()
    admin = os.path.join(tmp, ".baton", "admin.sock")
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "{app}"
ready = "notify"
ready_timeout = "20s"
stop_timeout = "20s"
env = {{ GIN_MODE = "release", TLS_CERT = "{crt}", TLS_KEY = "{key}" }}
[[listen]]
name = "http"
address = "127.0.0.1:{http_port}"
[[listen]]
name = "https"
address = "127.0.0.1:{https_port}"
[[listen]]
name = "admin"
address = "unix:{admin}"
''')
    b = env.baton("run")
    times = LogTimes(b)
    b.wait_line(r"generation 1 serving", timeout=30)

    ctx = ssl.create_default_context(cafile=crt)

    def tcp(port):
        return lambda: socket.create_connection(("127.0.0.1", port), timeout=10)

    def tls():
        return ctx.wrap_socket(tcp(https_port)(), server_hostname="localhost")

    def unix():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        s.settimeout(10)
        s.connect(admin)
        return s

    stop = threading.Event()
    clients = [
        Client("http keep-alive", "http", tcp(http_port), True, stop),
        Client("http keep-alive", "http", tcp(http_port), True, stop),
        Client("http new-conn", "http", tcp(http_port), False, stop),
        Client("http new-conn", "http", tcp(http_port), False, stop),
        Client("https keep-alive", "https", tls, True, stop),
        Client("https new-conn", "https", tls, False, stop),
        Client("unix keep-alive", "admin", unix, True, stop),
        Client("unix new-conn", "admin", unix, False, stop),
    ]
    for c in clients:
        c.t.start()
    try:
        wait_until(lambda: all(c.ok for c in clients), timeout=20, what="every client answered")
        started = time.monotonic()
        for gen in range(2, RELOADS + 2):
            mark = b.mark()
            b.send(signal.SIGHUP)
            b.wait_line(rf"generation {gen} serving .*draining {gen - 1}", timeout=30,
                        start=mark)
            serving = time.monotonic()
            # pace the reloads, and see every client reach the new generation meanwhile
            wait_until(lambda: time.monotonic() - serving >= GAP and
                       all(c.latest_generation() >= gen for c in clients), timeout=20,
                       what=f"every client answered by generation {gen}")
        last = RELOADS + 1
        b.wait_line(rf"generation {last - 1} drained", timeout=30)
        wait_until(lambda: all(c.latest_generation() == last for c in clients), timeout=20,
                   what="every client on the last generation")
        took = time.monotonic() - started
    finally:
        stop.set()
        for c in clients:
            c.t.join(timeout=15)

    # the certificate the HTTPS clients verified is the one the app reports
    st, body = Conn(unix).request("/cert", close=True)
    want = subprocess.run(["openssl", "x509", "-serial", "-noout", "-in", crt], check=True,
                          capture_output=True, text=True).stdout.strip()
    assert st == 200 and "serial=" + json.loads(body)["serial"] == want, (body, want)

    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()
    times.stop.set()
    times.t.join(timeout=5)

    # the counts, per kind of client
    kinds = {}
    for c in clients:
        k = kinds.setdefault(c.kind, {"requests": 0, "retries": 0, "failures": 0})
        k["requests"] += c.ok + len(c.failures)
        k["retries"] += c.retries
        k["failures"] += len(c.failures)
    total = sum(k["requests"] for k in kinds.values())
    retries = sum(c.retries for c in clients)
    failures = [f for c in clients for f in c.failures]
    print(f"\n{RELOADS} reloads in {took:.1f}s under load: {total} requests, "
          f"{len(failures)} failed, {retries} retried once on a new connection")
    for kind, k in kinds.items():
        print(f"  {kind:18} {k['requests']:6} requests  {k['failures']} failed  "
              f"{k['retries']} retried")

    assert failures == [], f"{len(failures)} failed requests: {failures[:10]}"

    # every generation answered on every listener
    for c in clients:
        gens = {g for _, _, g in c.records}
        assert set(range(2, last + 1)) <= gens, (c.kind, sorted(gens))

    # the cut-over rules (see the module docstring)
    late = []
    for c in clients:
        for sent, opened, g in c.records:
            drained = times.seen.get(("drained", g))
            if drained is not None and sent > drained:
                late.append((c.kind, g, "request sent after the generation drained"))
            closed = times.seen.get(("stopped accepting", g))
            if closed is not None and opened > closed:
                late.append((c.kind, g, "connection opened after it stopped accepting"))
    assert late == [], f"{len(late)} responses from an old generation: {late[:10]}"
    for gen in range(1, last):
        assert ("drained", gen) in times.seen, f"generation {gen} never drained"
        assert ("stopped accepting", gen) in times.seen, f"generation {gen} never stopped"
    out = b.output()
    assert "too many draining" not in out and "did not stop within" not in out, out
