"""Own ports behind the HTTP front (issues 12 and 16): an app that binds its own port is put
behind `proxy = "http"` and still gets a private socket per generation, so every request goes
through the front; and Gin's ClientIP() is the client's address behind it.

- a Gin app with a hard-coded r.Run("127.0.0.1:PORT") (bind takeover): its bind of the proxy
  listener's address gets its generation's private socket, never the public one;
- `proxy` + `forward`: each generation binds a loopback port baton picks, told in PORT;
- `[proxy] private_socket`: "unix" (default) gives Go no IP peer, "tcp" does.

Clients connect from 127.0.0.2 (another loopback address) so that the client's address and the
front's (127.0.0.1) differ. No test sleeps: they wait for log lines and answers under deadlines."""
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess

import pytest

from conftest import BATON, wait_until
from devutil import Poller, built_apps, free_port, gin_project, replace_in, write
from loadutil import StrictClient, Workers

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")

CLIENT = "127.0.0.2"  # the test's own address, as the app should see it
GO_ENV = {"GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOFLAGS": ""}


def view_on(c, headers=None):
    """GET /client on the new connection c, then close it: what Gin saw of us."""
    try:
        c.request("GET", "/client", headers=headers or {})
        r = c.getresponse()
        body = r.read().decode()
        assert r.status == 200, body
        return json.loads(body)
    finally:
        c.close()


def client_view(port, timeout=10.0):
    """GET /client from CLIENT on a fresh connection: what Gin saw of us."""
    return view_on(http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                              source_address=(CLIENT, 0)),
                   {"Connection": "close"})


class KeepAliveViews(Workers):
    """Workers with one persistent connection each from CLIENT, GET /client in a loop, no
    retries: every answer must show the front's X-Forwarded-For and ClientIP() == CLIENT.
    Records the app pids seen and every failure."""

    unit = "answers"

    def __init__(self, port, workers=2):
        self.port = port
        self.pids = set()
        super().__init__([(self._run, (i,)) for i in range(workers)])

    @staticmethod
    def _one(conn):
        conn.request("GET", "/client")
        r = conn.getresponse()
        body = r.read().decode()
        if r.status != 200:
            raise AssertionError(f"HTTP {r.status}: {body!r}")
        v = json.loads(body)
        if v["xff"] != CLIENT or v["client_ip"] != CLIENT:
            raise AssertionError(f"not through the front: {v}")
        return v["pid"]

    def record(self, pid):
        self.pids.add(pid)

    def _run(self, i):
        self.keepalive_loop(
            f"worker {i}",
            lambda: http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                               source_address=(CLIENT, 0)),
            self._one)


def reload(env, b, n):
    """baton reload, then wait until generation n serves."""
    mark = b.mark()
    r = env.run([BATON, "reload"], timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    b.wait_line(rf"generation {n} serving", timeout=60, start=mark)
    return mark


def stop(b):
    b.send(signal.SIGTERM)
    assert b.wait(timeout=60) == 0, b.output()


def hard_coded_app(env, port):
    """tests/apps/gin-takeover with r.Run("127.0.0.1:port") written in, built: the app knows
    nothing of LISTEN_FDS or PORT."""
    proj, main_go = gin_project(env.tmp, app="gin-takeover")
    replace_in(main_go, 'const addr = "127.0.0.1:18090"', f'const addr = "127.0.0.1:{port}"')
    out = os.path.join(proj, "app")
    r = subprocess.run(["go", "build", "-o", out, "."], cwd=proj, capture_output=True,
                       text=True, timeout=300, env={**os.environ, **GO_ENV})
    assert r.returncode == 0, r.stderr
    return out


def front_toml(env, port, cmd, run_extra="", listen_extra="", top="",
               app_env='GIN_MODE = "release"', ready_timeout="30s"):
    write(os.path.join(str(env.tmp), "baton.toml"), f'''{top}
[run]
cmd = '{cmd}'
ready_timeout = "{ready_timeout}"
stop_timeout = "10s"
env = {{ {app_env} }}
{run_extra}
[[listen]]
name = "http"
address = "127.0.0.1:{port}"
proxy = "http"
{listen_extra}
''')


@pytest.mark.timeout(600)
def test_hard_coded_port_behind_the_front_reloads(env):
    """r.Run("127.0.0.1:PORT") on the proxy listener's own address, [run] cmd and the listener
    only: 10 reloads under keep-alive and new-connection load, 0 failed; every answer came
    through the front (its X-Forwarded-For, ClientIP() is the client: the app got a TCP private
    socket although the default private sockets are unix ones), each reload a new pid."""
    port = free_port()
    front_toml(env, port, hard_coded_app(env, port))
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=120)
    assert b.count(rf"generation 1 binds 127\.0\.0\.1:{port}: it gets a private socket "
                   r"behind the front") == 1, b.output()
    first = client_view(port)
    assert first["xff"] == CLIENT and first["client_ip"] == CLIENT, first
    assert first["remote"].startswith("127.0.0.1:"), first  # the front, on loopback TCP
    pids = {first["pid"]}
    with KeepAliveViews(port) as ka, Poller(port, interval=0.005, path="/client") as poll:
        ka.wait_more()
        poll.wait_more(3)
        for n in range(2, 12):
            mark = reload(env, b, n)
            b.wait_line(rf"generation {n} binds 127\.0\.0\.1:{port}: it gets a private "
                        r"socket behind the front", timeout=30, start=mark)
            pid = client_view(port)["pid"]
            assert pid not in pids, (pid, pids)
            pids.add(pid)
            wait_until(lambda: pid in ka.pids, timeout=60, what=f"generation {n}'s pid seen")
            ka.wait_more()
            poll.wait_more(3)
    assert ka.failures == [], ka.failures[:5]
    assert poll.failures == [], poll.failures[:5]
    assert b.count(r"gets the socket baton holds") == 0, b.output()  # never the public one
    stop(b)


@pytest.mark.timeout(300)
def test_hard_coded_port_with_tcp_private_sockets(env):
    """private_socket = "tcp": the socket handed over at fd 3 is the one the app's bind gets;
    reached through the front before and after a reload."""
    port = free_port()
    front_toml(env, port, hard_coded_app(env, port), top='[proxy]\nprivate_socket = "tcp"\n')
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=120)
    v1 = client_view(port)
    assert v1["client_ip"] == CLIENT and v1["xff"] == CLIENT, v1
    mark = reload(env, b, 2)
    b.wait_line(r"generation 1 drained", timeout=60, start=mark)
    v2 = client_view(port)
    assert v2["pid"] != v1["pid"] and v2["client_ip"] == CLIENT, (v1, v2)
    assert b.count(r"private socket behind the front") == 2, b.output()
    stop(b)


@pytest.mark.timeout(600)
def test_forward_port_per_generation_keepalive_post(env):
    """proxy + forward with an app that binds 127.0.0.1:$PORT (gin-shutdown, plain
    Server.Shutdown): each generation gets a port of its own, is ready once it accepts there,
    and 10 reloads under a strict keep-alive GET+POST client fail nothing."""
    port = free_port()
    front_toml(env, port, os.path.join(built_apps(), "gin-shutdown"),
               listen_extra='forward = "127.0.0.1:8080"\n')
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=60)
    assert "a loopback port per generation (PORT)" in b.output()
    v = client_view(port)
    assert v["client_ip"] == CLIENT and v["gen"] == "1", v
    with StrictClient(port) as c:
        c.through_reloads(lambda n: reload(env, b, n), 11)
    assert c.failures == [], c.failures[:10]
    assert c.gens == set(range(1, 12)), sorted(c.gens)
    # the ports are the generations' own: takeover neither holds nor hands them on
    assert b.count(r"baton holds it|gets the socket baton holds") == 0, b.output()
    stop(b)


@pytest.mark.timeout(300)
def test_forward_ready_http_probes_the_generations_port(env):
    """proxy + forward with ready = "http:/healthz": the probe goes to the generation's own
    port; a generation whose health fails is not ready and the old one keeps serving."""
    port = free_port()
    fail = os.path.join(str(env.tmp), "fail")
    front_toml(env, port, os.path.join(built_apps(), "gin-shutdown"),
               run_extra='ready = "http:/healthz"', ready_timeout="3s",
               app_env=f'GIN_MODE = "release", HEALTH_FAIL_FILE = "{fail}"',
               listen_extra='forward = "127.0.0.1:8080"\n')
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=60)
    reload(env, b, 2)
    assert client_view(port)["gen"] == "2"
    write(fail, "")
    r = env.run([BATON, "reload"], timeout=90)
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("generation 3 failed: not ready within 3s (ready = \"http:/healthz\": the last GET "
            "answered 503) — rolled back, generation 2 keeps serving") in r.stderr, r.stderr
    assert client_view(port)["gen"] == "2"
    stop(b)


@pytest.mark.timeout(120)
def test_forward_host_not_on_this_machine(env):
    """proxy + forward on a host this machine does not have: no port can be picked, the
    generation fails with that reason (baton stays up, as for any failed start) and stops
    cleanly."""
    port = free_port()
    front_toml(env, port, os.path.join(built_apps(), "gin-shutdown"),
               listen_extra='forward = "192.0.2.1:8080"\n')  # TEST-NET-1
    b = env.baton("run")
    b.wait_line(r"generation 1 failed: listener 'http': forward \"192\.0\.2\.1:8080\": cannot "
                r"pick a free port for the app: Cannot assign requested address", timeout=60)
    stop(b)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_gin_client_ip_behind_the_front(env, kind):
    """An app handed its private socket (LISTEN_FDS): with "tcp" Gin's ClientIP() is the
    client's address (from the front's X-Forwarded-For, as RemoteAddr is the front on
    loopback); with "unix" (the default) the header arrives but ClientIP() is empty, as
    documented."""
    port = free_port()
    top = "" if kind == "unix" else '[proxy]\nprivate_socket = "tcp"\n'
    front_toml(env, port, os.path.join(built_apps(), "gin-shutdown"),
               run_extra='ready = "http:/healthz"', top=top)
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=60)
    v = client_view(port)
    assert v["xff"] == CLIENT, v
    if kind == "tcp":
        assert v["client_ip"] == CLIENT and v["remote"].startswith("127.0.0.1:"), v
    else:
        assert v["client_ip"] == "", v
    reload(env, b, 2)
    v = client_view(port)
    assert v["gen"] == "2" and v["xff"] == CLIENT, v
    assert (v["client_ip"] == CLIENT) == (kind == "tcp"), v
    stop(b)


@pytest.mark.timeout(300)
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_hard_coded_port_behind_the_https_front(env):
    """proxy = "https": the same for an app that binds the listener's address itself; baton
    terminates TLS and the app, on its private socket, sees the client through the front."""
    port = free_port()
    tmp = str(env.tmp)
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tls.key", "-out",
                        "tls.crt", "-days", "30", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost"], cwd=tmp, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    front_toml(env, port, hard_coded_app(env, port),
               listen_extra='tls = ["site"]\n[[tls]]\nname = "site"\ncert = "tls.crt"\n'
                            'key = "tls.key"\n')
    p = os.path.join(tmp, "baton.toml")
    with open(p) as f:
        text = f.read()
    write(p, text.replace('proxy = "http"', 'proxy = "https"'))
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=120)
    ctx = ssl.create_default_context(cafile=os.path.join(tmp, "tls.crt"))

    def view():
        return view_on(http.client.HTTPSConnection("localhost", port, timeout=10, context=ctx,
                                                   source_address=(CLIENT, 0)))

    v1 = view()
    assert v1["client_ip"] == CLIENT and v1["xff"] == CLIENT, v1
    reload(env, b, 2)
    v2 = view()
    assert v2["pid"] != v1["pid"] and v2["client_ip"] == CLIENT, (v1, v2)
    assert b.count(r"private socket behind the front") == 2, b.output()
    stop(b)
