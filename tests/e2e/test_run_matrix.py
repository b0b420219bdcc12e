"""The rest of the fault matrix for `baton run`, each against a serving app under a poller: the
new generation forks a daemon, and the control socket is deleted under baton. (The other faults
are in test_run_faults.py.)"""
import os
import re
import shutil
import signal

import pytest

from conftest import wait_until
from devutil import Poller
from test_run_faults import Svc

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
HELPERS = os.path.join(os.environ.get("BATON_BUILD", ""), "helpers")


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.timeout(90)
def test_new_generation_forks_a_daemon(env):
    # generation 2 double-forks a daemon before it execs the app: the daemon is re-parented to
    # baton (a subreaper), the reload still succeeds with no failed request, and `baton stop`
    # leaves nothing behind, the daemon included
    daemonize = os.path.join(HELPERS, "daemonize")
    s = Svc(env, f'test "$BATON_GENERATION" = 2 && {{ {daemonize} || exit 9; }}; exec APP')
    with Poller(s.port) as poll:
        mark = s.b.mark()
        rc, out = s.reload()
        assert rc == 0 and "generation 2 serving" in out, out
        poll.wait_more(3)
        _, m = s.b.wait_line(r"daemon (\d+)", start=mark)
        daemon = int(m.group(1))
        assert _alive(daemon)
        with open(f"/proc/{daemon}/status") as f:
            ppid = int(re.search(r"^PPid:\s*(\d+)", f.read(), re.M).group(1))
        assert ppid == s.b.pid, "the daemon was not re-parented to baton"
        rc, out = s.reload()
        assert rc == 0 and "generation 3 serving" in out, out
        poll.wait_more(3)
    assert poll.failures == [], poll.failures[:5]
    s.stop()
    assert not _alive(daemon), "the daemon survived baton stop"
    assert env.leftovers() == []


@pytest.mark.timeout(90)
def test_control_socket_deleted_under_baton(env):
    # something (a tmp cleaner, a careless rm -rf .baton) deletes the control socket: the app
    # keeps serving, SIGHUP still reloads, and baton puts its socket back, so `baton reload`
    # and `baton status` work again
    s = Svc(env, "exec APP")
    sock = os.path.join(str(env.tmp), ".baton", "baton.sock")
    with Poller(s.port) as poll:
        mark = s.b.mark()
        os.unlink(sock)
        s.b.send(signal.SIGHUP)
        s.b.wait_line(r"generation 2 serving", timeout=30, start=mark)
        poll.wait_more(3)
        s.b.wait_line(r"control socket \S+ was removed — created it again", timeout=10,
                      start=mark)
        assert os.path.exists(sock)
        rc, out = s.reload()
        assert rc == 0 and "generation 3 serving" in out, out
        assert s.status()["serving"] == 3
        poll.wait_more(3)
    assert poll.failures == [], poll.failures[:5]
    s.stop()
    assert env.leftovers() == []


@pytest.mark.timeout(120)
def test_stalled_reader_of_baton_output_blocks_nothing(env):
    # baton's stderr is a 4 KiB pipe nobody reads (a hung log shipper, a terminal paused with
    # ^S): reloads, status and SIGTERM still work, and once the reader catches up every line
    # arrives whole, with a note of what was dropped if anything was
    import fcntl
    import subprocess
    from conftest import BATON
    from devutil import write
    write(os.path.join(str(env.tmp), "baton.toml"), '''
[run]
cmd = "exec sleep 600"
ready = "exec"
stop_timeout = "5s"
''')
    rd, wr = os.pipe()
    fcntl.fcntl(wr, 1031, 4096)  # F_SETPIPE_SZ
    e = dict(env.env)
    b = subprocess.Popen([BATON, "run"], cwd=str(env.tmp), env=e, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=wr, start_new_session=True)
    os.close(wr)
    try:
        sock = os.path.join(str(env.tmp), ".baton", "baton.sock")
        wait_until(lambda: os.path.exists(sock), timeout=30, what="baton's control socket")
        for i in range(2, 42):
            r = env.run([BATON, "reload"], timeout=15)
            assert r.returncode == 0 and f"generation {i} serving" in r.stdout + r.stderr, \
                r.stdout + r.stderr
        assert env.run([BATON, "status"], timeout=15).returncode == 0
        b.send_signal(signal.SIGTERM)
        # baton exits only after its queued output went out: read it all
        got = b""
        os.set_blocking(rd, True)
        while True:
            chunk = os.read(rd, 65536)
            if not chunk:
                break
            got += chunk
        assert b.wait(timeout=30) == 0
    finally:
        if b.poll() is None:
            os.killpg(b.pid, signal.SIGKILL)
            b.wait(timeout=10)
        os.close(rd)
    text = got.decode("utf-8", "replace")
    lines = text.splitlines()
    assert all(ln.startswith("baton: ") for ln in lines), [ln for ln in lines
                                                          if not ln.startswith("baton: ")][:3]
    assert "generation 41 serving" in text or "log lines dropped" in text
    assert "stopped" in lines[-1], lines[-3:]
