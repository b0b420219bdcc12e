"""The rest of the fault matrix for `baton run`, each against a serving app under a poller: the
new generation forks a daemon, and the control socket is deleted under baton. (The other faults
are in test_run_faults.py.)"""
import os
import re
import shutil
import signal

import pytest

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
