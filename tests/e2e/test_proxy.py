"""The HTTP front (`[[listen]] proxy = "http"`, issue 12), against the real binary and a plain
Gin app (tests/apps/gin-shutdown: http.Server.Shutdown, no drain trick) on its private socket.

No test sleeps: they wait for log lines, answers and end of file, each under a deadline."""
import http.client
import json
import os
import shutil
import signal
import socket
import base64

import pytest

from conftest import BATON, wait_until
from devutil import GO_BUILD, built_apps, free_port, get, gin_project, replace_in, write
from loadutil import StrictClient

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")

def proxy_config(env, port, extra="", stop_timeout="10s"):
    app = os.path.join(built_apps(), "gin-shutdown")
    write(os.path.join(str(env.tmp), "baton.toml"), f'''
[run]
cmd = '{app}'
ready = "http:/healthz"
ready_timeout = "30s"
stop_timeout = "{stop_timeout}"
env = {{ GIN_MODE = "release" }}
{extra}
[[listen]]
name = "http"
address = "127.0.0.1:{port}"
proxy = "http"
''')


def start(env):
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=60)
    return b


def stop(b):
    b.send(signal.SIGTERM)
    assert b.wait(timeout=60) == 0, b.output()


def reload(env, b, n):
    """baton reload, then wait until generation n serves."""
    mark = b.mark()
    r = env.run([BATON, "reload"], timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    b.wait_line(rf"generation {n} serving", timeout=60, start=mark)


# ---- configuration ----

def test_proxy_config_is_checked(env):
    port = free_port()
    proxy_config(env, port, extra='[proxy]\nheader_timeout = "2s"\nmax_header_size = 8192\n'
                 '[health]\npath = "/healthz"\n[dev]\nlive_reload = true\n')
    r = env.run([BATON, "check"], timeout=30)
    assert r.returncode == 0, r.stderr
    p = os.path.join(str(env.tmp), "baton.toml")
    with open(p) as f:
        text = f.read()
    write(p, text.replace('proxy = "http"', 'proxy = "https"'))
    r = env.run([BATON, "check"], timeout=30)
    assert r.returncode == 1
    assert "proxy = \"https\" needs 'tls', the names of the [[tls]] groups" in r.stderr, r.stderr
    write(p, text.replace('proxy = "http"', ''))
    r = env.run([BATON, "check"], timeout=30)
    assert r.returncode == 1
    assert "'run.ready': \"http:/healthz\" needs a [[listen]] with proxy = \"http\"" in r.stderr
    assert "'health.path': health checks need a [[listen]] with proxy = \"http\"" in r.stderr
    assert "'dev.live_reload': live reload needs a [[listen]]" in r.stderr


# ---- (1) a strict keep-alive client through 20 reloads ----

@pytest.mark.timeout(600)
def test_keepalive_get_post_through_20_reloads(env):
    port = free_port()
    proxy_config(env, port)
    b = start(env)
    with StrictClient(port) as c:
        c.through_reloads(lambda n: reload(env, b, n), 21)
    assert c.failures == [], c.failures[:10]
    assert c.gens == set(range(1, 22)), sorted(c.gens)
    stop(b)


# ---- (2) limits ----

def raw_exchange(port, data, timeout=30.0):
    """Send data on a fresh connection, then read until the front closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk


@pytest.mark.timeout(180)
def test_limits_408_431_400(env):
    port = free_port()
    proxy_config(env, port, extra='[proxy]\nheader_timeout = "300ms"\nmax_header_size = 2048\n')
    b = start(env)
    # a head never finished: 408 once header_timeout has passed, then closed
    got = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert got.startswith(b"HTTP/1.1 408 "), got
    # a head over max_header_size: 431
    got = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 431 "), got
    # Content-Length and Transfer-Encoding together (smuggling): 400 and closed
    got = raw_exchange(port, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 400 "), got
    assert b"HTTP/1.1 200" not in got, got
    # the front still serves
    st, body = get(port, "/")
    assert st == 200 and "gen=1" in body, (st, body)
    stop(b)


# ---- (3) WebSocket tunnels stay on their generation ----

class WebSocket:
    """A minimal RFC 6455 client over a raw socket (text frames under 126 bytes)."""

    def __init__(self, port, timeout=30.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n\r\n"
                        ).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(4096)
            assert chunk, f"closed during the handshake: {self.buf!r}"
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101 "), head

    def send(self, text):
        data = text.encode()
        assert len(data) < 126
        mask = os.urandom(4)
        self.s.sendall(bytes([0x81, 0x80 | len(data)]) + mask +
                       bytes(c ^ mask[i % 4] for i, c in enumerate(data)))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(4096)
            if not chunk:
                raise EOFError("tunnel closed")
            self.buf += chunk

    def recv(self):
        self._need(2)
        n = self.buf[1] & 0x7f
        assert n < 126 and not self.buf[1] & 0x80, self.buf[:2]
        self._need(2 + n)
        data, self.buf = self.buf[2:2 + n], self.buf[2 + n:]
        return data.decode()

    def closed_by_peer(self):
        """Read until the tunnel closes (EOF or a close frame)."""
        try:
            while True:
                self._need(2)
                if self.buf[0] & 0x0f == 8:
                    return True
                self.recv()
        except (EOFError, ConnectionResetError):
            return True

    def close(self):
        self.s.close()


@pytest.mark.timeout(300)
def test_websocket_survives_reload_until_closed(env):
    port = free_port()
    proxy_config(env, port, stop_timeout="60s")
    b = start(env)
    ws = WebSocket(port)
    assert ws.recv() == "gen=1"
    ws.send("before")
    assert ws.recv() == "before"
    reload(env, b, 2)
    reload(env, b, 3)
    # the tunnel still reaches generation 1, which waits for it before being stopped
    for i in range(3):
        ws.send(f"after {i}")
        assert ws.recv() == f"after {i}"
    other = WebSocket(port)
    assert other.recv() == "gen=3"
    other.close()
    assert "generation 1 drained" not in b.output()
    mark = b.mark()
    ws.close()
    b.wait_line(r"generation 1 drained", timeout=60, start=mark)
    stop(b)


@pytest.mark.timeout(300)
def test_websocket_closed_at_drain_deadline(env):
    port = free_port()
    proxy_config(env, port, stop_timeout="2s")
    b = start(env)
    ws = WebSocket(port)
    assert ws.recv() == "gen=1"
    reload(env, b, 2)
    # stop_timeout after the reload the old generation is stopped and its tunnel closed
    assert ws.closed_by_peer()
    ws.close()
    b.wait_line(r"generation 1 drained", timeout=60)
    st, body = get(port, "/")
    assert st == 200 and "gen=2" in body, (st, body)
    stop(b)


# ---- baton status: connections and requests per generation ----

@pytest.mark.timeout(180)
def test_status_shows_connections_and_tunnels(env):
    port = free_port()
    proxy_config(env, port)
    b = start(env)
    ws = WebSocket(port)
    assert ws.recv() == "gen=1"

    def front():
        r = env.run([BATON, "status", "--json"], timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        return json.loads(r.stdout)["listeners"][0]["proxy"]

    px = front()
    assert px["connections"] >= 1, px
    gen = {k: px["generations"][0][k] for k in ("id", "inflight", "tunnels", "up", "weight")}
    assert len(px["generations"]) == 1 and gen == {"id": 1, "inflight": 0, "tunnels": 1,
                                                   "up": True, "weight": 100}, px
    r = env.run([BATON, "status"], timeout=30)
    assert "proxy http: " in r.stdout and "0 in flight, 1 tunnel" in r.stdout, r.stdout
    ws.close()
    wait_until(lambda: front()["generations"][0]["tunnels"] == 0, timeout=30,
               what="the closed tunnel to leave the status")
    stop(b)


# ---- dev mode: the broken-build page ----

@pytest.mark.timeout(300)
def test_dev_error_page_while_build_broken(env):
    port = free_port()
    proj, main_go = gin_project(env.tmp, app="gin-shutdown")
    write(os.path.join(proj, "baton.toml"),
          f'[build]\ncmd = "{GO_BUILD}"\n\n[run]\ncmd = ".baton/bin/app"\n'
          'ready = "http:/healthz"\nstop_timeout = "5s"\n\n'
          f'[[listen]]\nname = "http"\naddress = "127.0.0.1:{port}"\nproxy = "http"\n\n'
          '[watch]\ninclude_ext = ["go"]\n')
    b = env.baton("dev", cwd=proj)
    b.wait_line(r"ready \(generation 1,", timeout=120)

    def fetch(accept):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            c.request("GET", "/", headers={"Accept": accept})
            r = c.getresponse()
            return r.status, r.read().decode("utf-8", "replace")
        finally:
            c.close()

    mark = b.mark()
    replace_in(main_go, 'const version = "gin-shutdown v1"',
               'const version = "gin-shutdown v1" + <undefined>')
    b.wait_line(r"build failed .*still serving generation 1", timeout=120, start=mark)
    st, body = fetch("text/html,application/xhtml+xml")
    assert st == 500, (st, body)
    assert "Build failed" in body and "main.go" in body, body
    # the compiler's "unexpected <" arrives escaped
    assert "unexpected &lt;" in body and "unexpected <" not in body, body
    # not a browser: still served by generation 1
    st, body = fetch("*/*")
    assert st == 200 and "gin-shutdown v1 gen=1" in body, (st, body)
    mark = b.mark()
    replace_in(main_go, 'const version = "gin-shutdown v1" + <undefined>',
               'const version = "gin-shutdown v2"')
    b.wait_line(r"ready \(generation 2,", timeout=120, start=mark)
    st, body = fetch("text/html")
    assert st == 200 and "gin-shutdown v2 gen=2" in body, (st, body)
    b.send(signal.SIGINT)
    assert b.wait(timeout=30) == 0, b.output()


# ---- (4) health ----

@pytest.mark.timeout(180)
def test_health_failing_generation_keeps_traffic_when_alone(env):
    port = free_port()
    fail = os.path.join(str(env.tmp), "fail-health")
    proxy_config(env, port, extra=f'[health]\npath = "/healthz"\ninterval = "1s"\n'
                 f'timeout = "1s"\nrise = 2\nfall = 2\n')
    p = os.path.join(str(env.tmp), "baton.toml")
    with open(p) as f:
        text = f.read()
    write(p, text.replace('env = { GIN_MODE = "release" }',
                          f'env = {{ GIN_MODE = "release", HEALTH_FAIL_FILE = "{fail}" }}'))
    b = start(env)
    mark = b.mark()
    write(fail, "")
    b.wait_line(r"generation 1 failed its health checks \(GET /healthz answered 503\)",
                timeout=60, start=mark)
    b.wait_line(r"no generation passes its health checks — generation 1 keeps its traffic",
                timeout=60, start=mark)
    # alone and down: it still answers (never a 503 for everything)
    st, body = get(port, "/")
    assert st == 200 and "gen=1" in body, (st, body)
    r = env.run([BATON, "status", "--json"], timeout=30)
    gens = json.loads(r.stdout)["listeners"][0]["proxy"]["generations"]
    assert [{k: g[k] for k in ("id", "inflight", "tunnels", "up")} for g in gens] == \
        [{"id": 1, "inflight": 0, "tunnels": 0, "up": False}], gens
    mark = b.mark()
    os.unlink(fail)
    b.wait_line(r"generation 1 passes its health checks again", timeout=60, start=mark)
    stop(b)


# ---- (5) dev mode in a real browser: live reload and the error page ----

@pytest.mark.timeout(400)
def test_dev_live_reload_in_chromium(env):
    from browser import Browser
    port = free_port()
    proj, main_go = gin_project(env.tmp, app="gin-shutdown")
    write(os.path.join(proj, "baton.toml"),
          f'[build]\ncmd = "{GO_BUILD}"\n\n[run]\ncmd = ".baton/bin/app"\n'
          'ready = "http:/healthz"\nstop_timeout = "5s"\n\n'
          f'[[listen]]\nname = "http"\naddress = "127.0.0.1:{port}"\nproxy = "http"\n\n'
          '[dev]\nlive_reload = true\n\n[watch]\ninclude_ext = ["go"]\n')
    b = env.baton("dev", cwd=proj)
    b.wait_line(r"ready \(generation 1,", timeout=120)
    heading = "(document.getElementById('v') || {}).textContent || ''"
    with Browser(env=env.env) as br:
        br.open(f"http://127.0.0.1:{port}/page")
        br.wait_until(f"({heading}).indexOf('gin-shutdown v1 gen=1') >= 0", timeout=30)
        # edit and save: the page shows the new text without a manual reload
        mark = b.mark()
        replace_in(main_go, 'const version = "gin-shutdown v1"',
                   'const version = "gin-shutdown v2"')
        b.wait_line(r"ready \(generation 2,", timeout=120, start=mark)
        br.wait_until(f"({heading}).indexOf('gin-shutdown v2 gen=2') >= 0", timeout=60,
                      what="the page reloaded by itself")
        # a broken build: the page becomes the compiler's errors...
        mark = b.mark()
        replace_in(main_go, 'const version = "gin-shutdown v2"',
                   'const version = "gin-shutdown v2" +')
        b.wait_line(r"build failed", timeout=120, start=mark)
        br.open(f"http://127.0.0.1:{port}/page")
        br.wait_until("document.title.indexOf('Build failed') >= 0", timeout=30)
        assert "main.go" in br.text("#baton-build-output")
        # ...which reloads itself into the app once the build is fixed
        mark = b.mark()
        replace_in(main_go, 'const version = "gin-shutdown v2" +',
                   'const version = "gin-shutdown v3"')
        b.wait_line(r"ready \(generation 3,", timeout=120, start=mark)
        br.wait_until(f"({heading}).indexOf('gin-shutdown v3 gen=3') >= 0", timeout=60,
                      what="the error page reloaded into the fixed app")
    b.send(signal.SIGINT)
    assert b.wait(timeout=30) == 0, b.output()
