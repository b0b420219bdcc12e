"""`baton run`: reloads on the same sockets with no failed request, rollback when the next
generation fails, coalesced reloads, graceful stop."""
import os
import shutil
import signal

import pytest

from conftest import wait_until
from devutil import Poller, built_apps, free_port, pid_of, run_config, write

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")


def test_sighup_reloads_without_failed_requests(env):
    app = os.path.join(built_apps(), "gin-hello")
    port = free_port()
    tmp = str(env.tmp)
    run_config(tmp, port, app, ready_timeout="5s")
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    pids = {pid_of(port)}
    with Poller(port, interval=0.002) as poll:
        for i in range(2, 7):
            mark = b.mark()
            b.send(signal.SIGHUP)
            b.wait_line(rf"generation {i} serving .*draining {i - 1}", timeout=30, start=mark)
            # the old generation may still accept until it handles SIGTERM
            pids.add(wait_until(lambda: (p := pid_of(port)) not in pids and p,
                                what="the new generation to answer"))
            poll.wait_more(3)  # the poller saw this generation serve too
    assert poll.failures == [], poll.failures[:5]
    assert len(pids) == 6
    b.send(signal.SIGTERM)
    assert b.wait(timeout=20) == 0
    assert "stopped" in b.output()


def test_failed_generation_rolls_back(env):
    app = os.path.join(built_apps(), "gin-hello")
    port = free_port()
    tmp = str(env.tmp)
    # the next generation fails while the file "broken" exists
    run_config(tmp, port, f"test -e broken && echo broken config && exit 7; exec {app}",
               ready_timeout="5s")
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    first = pid_of(port)
    write(os.path.join(tmp, "broken"), "")
    with Poller(port) as poll:
        mark = b.mark()
        b.send(signal.SIGHUP)
        b.wait_line(r"generation 2 failed: exited with status 7 before it was ready — "
                    r"rolled back, generation 1 keeps serving", timeout=30, start=mark)
    assert poll.failures == []
    assert pid_of(port) == first
    # a reload that never becomes ready is killed at ready_timeout; the old one serves on
    os.unlink(os.path.join(tmp, "broken"))
    mark = b.mark()
    b.send(signal.SIGHUP)
    b.wait_line(r"generation 3 serving .*draining 1", timeout=30, start=mark)
    # generation 1 may accept a last request before it handles SIGTERM
    wait_until(lambda: pid_of(port) != first, what="generation 3 to answer")
    b.send(signal.SIGTERM)
    assert b.wait(timeout=20) == 0


def test_ready_timeout_rolls_back(env):
    app = os.path.join(built_apps(), "gin-hello")
    port = free_port()
    tmp = str(env.tmp)
    # generation 2+ never notifies: NOTIFY_SOCKET is removed from its environment
    run_config(tmp, port, f'test \\"$BATON_GENERATION\\" = 1 || unset NOTIFY_SOCKET; exec {app}',
               ready_timeout="5s")
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    first = pid_of(port)
    mark = b.mark()
    b.send(signal.SIGHUP)
    b.wait_line(r"generation 2 failed: not ready within 5s .*generation 1 keeps serving",
                timeout=30, start=mark)
    assert pid_of(port) == first
    b.send(signal.SIGTERM)
    assert b.wait(timeout=20) == 0


def test_control_socket_reload_status_stop(env):
    import json
    app = os.path.join(built_apps(), "gin-hello")
    port = free_port()
    tmp = str(env.tmp)
    run_config(tmp, port, f"test -e broken && exit 7; exec {app}", ready_timeout="5s")
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    st = json.loads(env.run([env_bin(), "status", "--json"]).stdout)
    assert [(g["id"], g["state"]) for g in st["generations"]] == [(1, "ready")]
    r = env.run([env_bin(), "reload"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "generation 2 serving" in r.stdout + r.stderr
    write(os.path.join(tmp, "broken"), "")
    r = env.run([env_bin(), "reload"])
    assert r.returncode == 1
    assert "rolled back" in r.stdout + r.stderr
    st = json.loads(env.run([env_bin(), "status", "--json"]).stdout)
    assert [(g["id"], g["state"]) for g in st["generations"]] == [(2, "ready")]
    assert st["last_reload"]["ok"] is False
    assert "exited with status 7" in st["last_reload"]["reason"]
    text = env.run([env_bin(), "status"]).stdout
    assert "ready" in text
    r = env.run([env_bin(), "stop"])
    assert r.returncode == 0
    assert b.wait(timeout=20) == 0
    # nothing is running now: reload says so and fails
    r = env.run([env_bin(), "reload"])
    assert r.returncode == 1 and "no baton running" in r.stdout + r.stderr


def env_bin():
    from conftest import BATON
    return BATON
