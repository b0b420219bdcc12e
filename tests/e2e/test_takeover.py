"""Bind takeover: apps that bind their own hard-coded address (r.Run("127.0.0.1:PORT"), no
LISTEN_FDS, no PORT) are reloaded without a refused connection: baton holds the socket the first
generation bound and hands it to the next one's bind. Also: several addresses and an abstract
unix socket, a worker child that binds, port 0 untouched, the app's own bind errors kept, and the
fallback when seccomp is forbidden."""
import json
import os
import shutil
import signal
import socket
import tempfile

import pytest

from conftest import BATON, BUILD, wait_until
from devutil import Poller, built_apps, free_port, get, gin_project, replace_in, write

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")

APP_ADDR = 'const addr = "127.0.0.1:18090"'
GO_ENV = {"GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOFLAGS": ""}


def run_toml(tmp, cmd, extra=""):
    """A baton.toml with [run] cmd only (plus extra lines in [run]): no listener, no ready."""
    write(os.path.join(str(tmp), "baton.toml"), f'[run]\ncmd = "{cmd}"\nstop_timeout = "5s"\n'
          f'{extra}\n')


def app_bin():
    return os.path.join(built_apps(), "gin-takeover")


def pid_at(port=None, unix=None):
    """The pid the app reports at /pid, over TCP or an abstract unix socket."""
    if unix is None:
        st, body = get(port, "/pid")
        assert st == 200, body
        return json.loads(body)["pid"]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect("\0" + unix)
        s.sendall(b"GET /pid HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])["pid"]


def reload(env):
    r = env.run([BATON, "reload"], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def stop(b):
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()


@pytest.mark.timeout(400)
def test_dev_zero_config_hard_coded_port(env):
    """`baton dev` in a Go main package with r.Run("127.0.0.1:PORT") and no baton.toml:
    5 edits under a 5 ms poller, not one request fails and every version is seen. The next
    build overlaps the serving one (it gets the held socket and is ready once it listens), then
    the old one is frozen and, once idle, killed."""
    port = free_port()
    proj, main_go = gin_project(env.tmp, app="gin-takeover")
    replace_in(main_go, APP_ADDR, f'const addr = "127.0.0.1:{port}"')
    b = env.baton("dev", cwd=proj, env=GO_ENV)
    b.wait_line(r"ready \(generation 1,", timeout=120)
    wait_until(lambda: b.count(r"generation 1 binds 127\.0\.0\.1:%d" % port) == 1,
               timeout=30, what="generation 1's bind seen")
    # ready = exec: it counts as ready before it listens; the first answer says it does
    wait_until(lambda: pid_at_or_none(port), timeout=30, what="generation 1 answers")
    seen = []
    with Poller(port, interval=0.005) as poll:
        poll.wait_more(3)
        cur = "gin-takeover v1"
        for i in range(2, 7):
            new = f"gin-takeover v{i}"
            mark = b.mark()
            replace_in(main_go, cur, new)
            cur = new
            b.wait_line(rf"ready \(generation {i},", timeout=120, start=mark)
            b.wait_line(rf"generation {i} binds .*gets the socket baton holds", timeout=30,
                        start=mark)
            wait_until(lambda: poll.last_body == new, timeout=30, what=f"{new} served")
            poll.wait_more(3)
            seen.append(new)
    # the socket never closes and the old build is stopped only while it is frozen with nothing
    # in flight: not one request fails
    assert poll.failures == [], poll.failures[:5]
    for v in ["gin-takeover v1"] + seen:
        assert v in poll.bodies, (v, poll.bodies)
    b.send(signal.SIGINT)
    assert b.wait(timeout=30) == 0, b.output()


@pytest.mark.timeout(300)
def test_dev_edited_port_is_served_at_once(env):
    """`baton dev`, zero config: the build overlaps the serving one, and one that listens on a
    new port (the address was edited) is ready then, not at ready_timeout."""
    port, port2 = free_port(), free_port()
    proj, main_go = gin_project(env.tmp, app="gin-takeover")
    replace_in(main_go, APP_ADDR, f'const addr = "127.0.0.1:{port}"')
    b = env.baton("dev", cwd=proj, env=GO_ENV)
    b.wait_line(r"ready \(generation 1,", timeout=120)
    wait_until(lambda: pid_at_or_none(port), timeout=30, what="generation 1 answers")
    mark = b.mark()
    replace_in(main_go, f'"127.0.0.1:{port}"', f'"127.0.0.1:{port2}"')
    b.wait_line(r"generation 2 listens on every address: ready", timeout=120, start=mark)
    b.wait_line(r"ready \(generation 2,", timeout=30, start=mark)
    wait_until(lambda: pid_at_or_none(port2), timeout=30, what="generation 2 answers")
    assert b.count(r"not ready within") == 0, b.output()
    b.send(signal.SIGINT)
    assert b.wait(timeout=30) == 0, b.output()


@pytest.mark.timeout(300)
def test_run_reloads_under_load(env):
    """`baton run` with [run] cmd only: 10 reloads under new-connection load, none refused, each
    reload a new pid; `baton status` lists the held address."""
    port = free_port()
    run_toml(env.tmp, app_bin(), extra='env = { TK_ADDRS = "127.0.0.1:%d" }' % port)
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=60)
    pids = [pid_at(port)]
    st = json.loads(env.run([BATON, "status", "--json"]).stdout)
    assert st["generations"][0]["holds"] == [f"127.0.0.1:{port}"], st
    assert f"generation 1 holds 127.0.0.1:{port}" in env.run([BATON, "status"]).stdout
    with Poller(port, interval=0.002) as poll:
        poll.wait_more(3)
        for i in range(2, 12):
            mark = b.mark()
            reload(env)
            b.wait_line(rf"generation {i} serving", timeout=30, start=mark)
            # the old one accepts from the same queue until it is stopped while idle
            b.wait_line(rf"generation {i - 1} drained", timeout=30, start=mark)
            poll.wait_more(3)
            pid = pid_at(port)
            assert pid not in pids, (pid, pids)
            pids.append(pid)
    # nothing is refused and nothing accepted is lost
    assert poll.failures == [], poll.failures[:5]
    assert b.count(r"gets the socket baton holds") == 10
    stop(b)


@pytest.mark.timeout(300)
def test_two_ports_and_an_abstract_unix_socket(env):
    """Every address is held; the next generation is ready only once it has all of them."""
    p1, p2 = free_port(), free_port()
    name = f"baton-tk-{env.marker}"
    run_toml(env.tmp, app_bin(),
             extra=f'env = {{ TK_ADDRS = "127.0.0.1:{p1},127.0.0.1:{p2},unix:@{name}" }}')
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=60)
    first = {pid_at(p1), pid_at(p2), pid_at(unix=name)}
    assert len(first) == 1
    mark = b.mark()
    reload(env)
    b.wait_line(r"generation 2 serving", timeout=30, start=mark)
    b.wait_line(r"generation 1 drained", timeout=30, start=mark)
    second = {pid_at(p1), pid_at(p2), pid_at(unix=name)}
    assert len(second) == 1 and second != first
    out = "\n".join(b.lines[mark:])
    for key in (f"127.0.0.1:{p1}", f"127.0.0.1:{p2}", f"unix:@{name}"):
        assert f"generation 2 binds {key}: it gets the socket baton holds" in out, out
    st = json.loads(env.run([BATON, "status", "--json"]).stdout)
    serving = [g for g in st["generations"] if g["id"] == 2][0]
    assert sorted(serving["holds"]) == sorted([f"127.0.0.1:{p1}", f"127.0.0.1:{p2}",
                                               f"unix:@{name}"]), st
    stop(b)


@pytest.mark.timeout(300)
def test_worker_child_binds(env):
    """The filter is inherited: a worker the app starts binds, and is handled the same way."""
    port = free_port()
    run_toml(env.tmp, app_bin(),
             extra=f'env = {{ TK_ADDRS = "127.0.0.1:{port}", TK_WORKER = "1" }}')
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=60)
    w1 = pid_at(port)
    assert w1 != b.pid
    with Poller(port, interval=0.002) as poll:
        poll.wait_more(3)
        mark = b.mark()
        reload(env)
        b.wait_line(r"generation 2 serving", timeout=30, start=mark)
        b.wait_line(r"generation 1 drained", timeout=30, start=mark)
        poll.wait_more(3)
    assert pid_at(port) != w1
    assert b.count(r"generation 2 binds .*gets the socket baton holds") == 1
    assert poll.failures == [], poll.failures[:5]
    stop(b)


@pytest.mark.timeout(300)
def test_port_zero_is_untouched(env):
    """An ephemeral port is not held: each generation gets its own."""
    run_toml(env.tmp, app_bin(), extra='ready = "exec"\nenv = { TK_ADDRS = "127.0.0.1:0" }')
    b = env.baton("run")
    b.wait_line(r"gin-takeover \d+ serves 127\.0\.0\.1:0", timeout=60)
    mark = b.mark()
    reload(env)
    b.wait_line(r"gin-takeover \d+ serves 127\.0\.0\.1:0", timeout=60, start=mark)
    assert b.count(r"binds|baton holds") == 0, b.output()
    stop(b)


@pytest.mark.timeout(300)
def test_the_apps_own_bind_error_is_kept(env):
    """A bind that fails for a reason of its own fails with that error: an address another
    process holds (EADDRINUSE)."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        run_toml(env.tmp, app_bin(), extra='env = { TK_ADDRS = "127.0.0.1:%d" }' % port)
        b = env.baton("run")
        b.wait_line(r"gin-takeover: listen tcp 127\.0\.0\.1:%d: bind: address already in use"
                    % port, timeout=60)
        b.wait_line(r"generation 1 failed|exited", timeout=30)
        stop(b)
    assert b.count(r"gets the socket baton holds") == 0


@pytest.mark.timeout(300)
def test_eacces_on_a_low_port_as_non_root(env):
    """As a non-root user (nobody, when the suite runs as root), binding port 80 still fails
    with EACCES: baton lets the bind run as the app."""
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("setpriv is needed to run as nobody")
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
    else:
        prefix = []
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 80))
            if not prefix:
                pytest.skip("this user may bind port 80")
        except PermissionError:
            pass
        except OSError:
            pytest.skip("port 80 is in use here")
    # a directory nobody can reach (pytest's tmp_path is private to root)
    d = tempfile.mkdtemp(prefix="baton-tk-")
    try:
        os.chmod(d, 0o777)
        shutil.copy(app_bin(), os.path.join(d, "app"))
        os.chmod(os.path.join(d, "app"), 0o755)
        run_toml(d, os.path.join(d, "app"), extra='env = { TK_ADDRS = "127.0.0.1:80" }')
        b = env.start([*prefix, BATON, "run"], cwd=d)
        b.wait_line(r"gin-takeover: listen tcp 127\.0\.0\.1:80: bind: permission denied",
                    timeout=60)
        assert b.count(r"takeover is unavailable") == 0, b.output()
        stop(b)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.timeout(300)
def test_takeover_unavailable_falls_back(env):
    """seccomp(2) forbidden before baton starts (as by a container profile): baton says so once
    and runs the app as it always did."""
    port = free_port()
    run_toml(env.tmp, app_bin(),
             extra='ready = "exec"\nenv = { TK_ADDRS = "127.0.0.1:%d" }' % port)
    b = env.start([os.path.join(BUILD, "helpers", "noseccomp"), BATON, "run"])
    b.wait_line(r"bind takeover is unavailable \(seccomp\(2\) is forbidden here", timeout=30)
    wait_until(lambda: pid_at_or_none(port), timeout=60, what="the app serves")
    assert b.count(r"takeover is unavailable") == 1
    assert b.count(r"baton holds") == 0
    stop(b)


def pid_at_or_none(port):
    try:
        return pid_at(port)
    except OSError:
        return None
