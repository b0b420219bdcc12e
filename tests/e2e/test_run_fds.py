"""`baton run` and file descriptors: idle clients of a forward listener must not take the fds
baton needs for its control socket and for spawning (issue 10, fault 3); max_connections pauses
accepting without refusing anyone; the app gets the RLIMIT_NOFILE soft limit baton started
with, while baton runs with the hard limit."""
import json
import os
import re
import select
import shutil
import socket

import pytest

from conftest import BATON, wait_until
from devutil import built_apps, free_port, get, write

pytestmark = pytest.mark.skipif(shutil.which("go") is None or shutil.which("prlimit") is None,
                                reason="go or prlimit is not installed")


def forward_config(env, port, target, extra=""):
    app = os.path.join(built_apps(), "gin-plain")
    write(os.path.join(str(env.tmp), "baton.toml"), f'''
[run]
cmd = "{app}"
ready = "port"
ready_timeout = "30s"
stop_timeout = "5s"
env = {{ GIN_MODE = "release" }}
[[listen]]
name = "http"
address = "127.0.0.1:{port}"
forward = "127.0.0.1:{target}"
{extra}
''')


def ctl(env, *args, timeout=30):
    r = env.run([BATON, *args], timeout=timeout)
    return r.returncode, (r.stdout + r.stderr).strip()


def limits(pid):
    """(soft, hard) of 'Max open files' in /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as f:
        for ln in f:
            if ln.startswith("Max open files"):
                soft, hard = ln.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no 'Max open files' line")


def keepalive_get(s, timeout=30):
    """One GET on an open connection; returns the response head."""
    s.settimeout(timeout)
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, "connection closed before the response"
        buf += chunk
    return buf.split(b"\r\n", 1)[0].decode()


@pytest.mark.timeout(120)
def test_idle_clients_leave_fds_for_baton(env):
    """baton limited to 256 fds: 300 idle clients of its forward listener. baton stops
    accepting before its fds run out, so `baton status` answers and `baton reload` spawns a
    generation; once the clients leave, new requests are served. Before the fix the forward
    took every fd: status and the reload's spawn failed with EMFILE."""
    port, target = free_port(), free_port()
    forward_config(env, port, target)
    b = env.start(["prlimit", "--nofile=256:256", BATON, "run"])
    b.wait_line(r"generation 1 serving", timeout=60)
    assert get(port)[0] == 200

    clients = []
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            clients.append(s)
        # baton took what it will take: it paused accepting (or, unfixed, ran out of fds)
        wait_until(lambda: re.search(r'listener "http": \d+ connections hold most of the 256 '
                                     r"file descriptors baton may open, keeping 64 for baton: "
                                     r"accept paused|Too many open files", b.output()),
                   timeout=30, what="baton to stop accepting")
        rc, out = ctl(env, "status", "--json")
        assert rc == 0, out
        st = json.loads(out)
        assert [g["state"] for g in st["generations"]] == ["ready"]
        rc, out = ctl(env, "reload", timeout=60)
        assert rc == 0, out
        assert "generation 2" in out, out
    finally:
        for s in clients:
            s.close()
    # every client gone: accepting resumed, a new connection is served
    assert get(port, timeout=30)[0] == 200
    out = b.output()
    assert "Too many open files" not in out, out
    assert len(re.findall(r"accept paused", out)) == 1, out
    assert ctl(env, "stop")[0] == 0
    assert b.wait(timeout=30) == 0, b.output()


@pytest.mark.timeout(120)
def test_app_gets_original_nofile_limit(env):
    """baton started with a soft limit of 1000 and a hard one of 4000 runs with 4000; the app
    it starts has 1000 again, as under systemd. (Not a Go app: Go raises its own soft limit.)"""
    write(os.path.join(str(env.tmp), "baton.toml"), f'''
[run]
cmd = "sleep 300"
ready = "exec"
stop_timeout = "5s"
[[listen]]
address = "127.0.0.1:{free_port()}"
''')
    b = env.start(["prlimit", "--nofile=1000:4000", BATON, "run"])
    b.wait_line(r"generation 1 serving", timeout=60)
    rc, out = ctl(env, "status", "--json")
    assert rc == 0, out
    app = json.loads(out)["generations"][0]["pid"]
    assert limits(b.pid) == (4000, 4000)
    assert limits(app) == (1000, 4000)
    assert ctl(env, "stop")[0] == 0
    assert b.wait(timeout=30) == 0, b.output()


@pytest.mark.timeout(120)
def test_max_connections_waits_instead_of_refusing(env):
    """max_connections = 5: the sixth keep-alive client is neither refused nor served while
    five are open; it is served once one of them closes."""
    port, target = free_port(), free_port()
    forward_config(env, port, target, "max_connections = 5\n")
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=60)
    five = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(5)]
    sixth = None
    try:
        for s in five:
            assert keepalive_get(s) == "HTTP/1.1 200 OK"
        b.wait_line(r'listener "http" at max_connections \(5\): accept paused', timeout=30)
        sixth = socket.create_connection(("127.0.0.1", port), timeout=10)  # the backlog takes it
        sixth.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        # accepting is paused (the line above): nothing can answer the sixth until one closes
        r, _, _ = select.select([sixth], [], [], 0)
        assert not r
        five.pop().close()
        sixth.settimeout(30)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sixth.recv(65536)
            assert chunk, "the sixth connection was closed instead of served"
            buf += chunk
        assert buf.startswith(b"HTTP/1.1 200 OK"), buf
        assert b.count(r"at max_connections") == 1, b.output()
    finally:
        for s in five:
            s.close()
        if sixth:
            sixth.close()
    assert ctl(env, "stop")[0] == 0
    assert b.wait(timeout=30) == 0, b.output()
