"""`baton dev` process management with small C helpers: the LISTEN_FDS layout for three
listeners, build cancellation, stop_timeout for apps that ignore SIGTERM, double-forked
daemons, Ctrl-C. No Go needed."""
import datetime
import os
import re
import signal
import time

from conftest import BUILD, wait_until
from devutil import free_port, write

HELPERS = os.path.join(BUILD, "helpers")


def helper(name):
    return os.path.join(HELPERS, name)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_listen_fds_layout_for_three_listeners(env):
    p4, p6 = free_port(), free_port()
    sock = os.path.join(str(env.tmp), "app.sock")
    write(os.path.join(str(env.tmp), "baton.toml"), f'''
[run]
cmd = "{helper('fdcheck')}"
ready = "exec"
restart_on_crash = false
[[listen]]
name = "web"
address = "127.0.0.1:{p4}"
[[listen]]
name = "web6"
address = "[::1]:{p6}"
[[listen]]
name = "admin"
address = "unix:{sock}"
[watch]
include_ext = ["txt"]
''')
    b = env.baton("dev")
    b.wait_line(r"app 1 │ extra=", timeout=20)
    out = b.output()
    facts = dict(re.findall(r"app 1 │ (LISTEN_\w+|NOTIFY_SOCKET|BATON_GENERATION)=(\S*)", out))
    assert facts["LISTEN_FDS"] == "3"
    assert facts["LISTEN_PID"] == "match"
    assert facts["LISTEN_FDNAMES"] == "web:web6:admin"
    assert facts["BATON_GENERATION"] == "1"
    assert facts["NOTIFY_SOCKET"] not in ("", "(unset)")
    fds = re.findall(r"app 1 │ fd(\d) (.*)", out)
    assert [n for n, _ in fds] == ["3", "4", "5"]
    d = {n: rest for n, rest in fds}
    assert f"family=inet type=stream listening=1 cloexec=0 addr=127.0.0.1:{p4}" in d["3"]
    assert f"family=inet6 type=stream listening=1 cloexec=0 addr=[::1]:{p6}" in d["4"]
    assert f"family=unix type=stream listening=1 cloexec=0 addr=unix:{sock}" in d["5"]
    assert "app 1 │ extra=none" in out
    b.send(signal.SIGINT)
    assert b.wait(timeout=10) == 0


def test_change_during_build_cancels_it(env):
    tmp = str(env.tmp)
    fifo = os.path.join(tmp, "gate.fifo")
    os.mkfifo(fifo)
    write(os.path.join(tmp, "src.txt"), "one\n")
    write(os.path.join(tmp, "baton.toml"), f'''
[build]
cmd = "echo build started $$; cat {fifo} > /dev/null"
[run]
cmd = "{helper('ignoreterm')}"
ready = "exec"
stop_timeout = "200ms"
[watch]
include_ext = ["txt"]
''')
    b = env.baton("dev")
    _, m1 = b.wait_line(r"build │ build started (\d+)", timeout=20)
    first = int(m1.group(1))
    mark = b.mark()
    write(os.path.join(tmp, "src.txt"), "two\n")
    b.wait_line(r"cancelling the build in progress", timeout=20, start=mark)
    _, m2 = b.wait_line(r"build │ build started (\d+)", timeout=20, start=mark)
    assert int(m2.group(1)) != first
    wait_until(lambda: not alive(first), what="the cancelled build to be gone")
    fd = os.open(fifo, os.O_WRONLY)  # releases the second build
    os.close(fd)
    b.wait_line(r"ready \(generation 1,", timeout=20, start=mark)
    assert b.count(r"ready \(generation") == 1
    assert b.count(r"build failed") == 0
    b.send(signal.SIGINT)
    assert b.wait(timeout=10) == 0


def test_app_ignoring_sigterm_is_killed_at_stop_timeout(env):
    tmp = str(env.tmp)
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "{helper('ignoreterm')} group"
ready = "exec"
stop_timeout = "300ms"
[watch]
include_ext = ["txt"]
''')
    b = env.baton("dev")
    _, m = b.wait_line(r"app 1 │ ready (\d+)", timeout=20)
    _, mc = b.wait_line(r"app 1 │ child (\d+) ready", timeout=20)
    pids = [int(m.group(1)), int(mc.group(1))]
    b.send(signal.SIGINT)
    assert b.wait(timeout=10) == 0
    for p in pids:
        assert not alive(p)
    assert "stopped" in b.output()


def test_double_forked_daemon_is_gone_after_stop(env):
    tmp = str(env.tmp)
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "{helper('daemonize')} && exec {helper('ignoreterm')}"
ready = "exec"
stop_timeout = "300ms"
[watch]
include_ext = ["txt"]
''')
    b = env.baton("dev")
    _, m = b.wait_line(r"app 1 │ daemon (\d+)", timeout=20)
    daemon = int(m.group(1))
    b.wait_line(r"app 1 │ ready \d+", timeout=20)
    assert alive(daemon)
    b.send(signal.SIGINT)
    assert b.wait(timeout=10) == 0
    wait_until(lambda: not alive(daemon), timeout=5, what="the daemon to be gone")


def test_second_ctrl_c_forces(env):
    tmp = str(env.tmp)
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "{helper('ignoreterm')}"
ready = "exec"
stop_timeout = "60s"
[watch]
include_ext = ["txt"]
''')
    b = env.baton("dev")
    _, m = b.wait_line(r"app 1 │ ready (\d+)", timeout=20)
    b.send(signal.SIGINT)
    b.wait_line(r"press Ctrl-C again to force", timeout=10)
    b.send(signal.SIGINT)
    assert b.wait(timeout=10) == 0
    assert not alive(int(m.group(1)))


def test_crash_is_reported_and_next_change_restarts(env):
    tmp = str(env.tmp)
    write(os.path.join(tmp, "src.txt"), "1\n")
    write(os.path.join(tmp, "baton.toml"), '''
[run]
cmd = "cat src.txt; exit 3"
ready = "exec"
restart_on_crash = false
[watch]
include_ext = ["txt"]
''')
    b = env.baton("dev")
    b.wait_line(r"app exited with status 3 \(generation 1\) — waiting for the next change",
                timeout=20)
    mark = b.mark()
    write(os.path.join(tmp, "src.txt"), "2\n")
    b.wait_line(r"app 2 │ 2", timeout=20, start=mark)
    b.send(signal.SIGINT)
    assert b.wait(timeout=10) == 0


def test_build_delay_waits_after_a_change(env):
    """build.delay (air's `delay`): a change's build starts that long after the change, on top
    of the settle window; the first build does not wait."""
    tmp = str(env.tmp)
    write(os.path.join(tmp, "src.txt"), "one\n")
    write(os.path.join(tmp, "baton.toml"), f'''
[build]
cmd = "echo build at $(date +%s%N)"
delay = "1500ms"
[run]
cmd = "{helper('idle')}"
ready = "exec"
stop_timeout = "2s"
[watch]
include_ext = ["txt"]
''')
    b = env.baton("dev")
    b.wait_line(r"starting — building$", timeout=20)
    b.wait_line(r"ready \(generation 1,", timeout=20)
    mark = b.mark()
    t0 = time.time_ns()
    write(os.path.join(tmp, "src.txt"), "two\n")
    b.wait_line(r"changed \"src.txt\" — building in 1500 ms \(build.delay\)", timeout=20,
                start=mark)
    _, m = b.wait_line(r"build │ build at (\d+)", timeout=20, start=mark)
    # a lower bound only: the build cannot start before the change plus the delay
    assert int(m.group(1)) - t0 >= 1500 * 1000 * 1000, (int(m.group(1)) - t0) / 1e6
    b.wait_line(r"ready \(generation 2,", timeout=20, start=mark)
    b.send(signal.SIGINT)
    assert b.wait(timeout=10) == 0


def test_log_timestamps_prefix_baton_lines(env):
    """log.timestamps = true: each of baton's own lines starts with the UTC time, to the
    millisecond; the app's lines are the app's."""
    tmp = str(env.tmp)
    write(os.path.join(tmp, "baton.toml"), '''
[run]
cmd = "echo hello from the app; exec sleep 600"
ready = "exec"
stop_timeout = "2s"
[log]
timestamps = true
[watch]
include_ext = ["txt"]
''')
    b = env.baton("dev")
    b.wait_line(r"ready \(generation 1,", timeout=20)
    b.wait_line(r"app 1 │ hello from the app", timeout=20)
    b.send(signal.SIGINT)
    assert b.wait(timeout=10) == 0
    rx = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z baton: ")
    ours = [l for l in b.lines if "baton: " in l]
    assert ours and all(rx.match(l) for l in ours), ours
    when = datetime.datetime.strptime(rx.match(ours[0]).group(1), "%Y-%m-%dT%H:%M:%S.%f")
    age = time.time() - when.replace(tzinfo=datetime.timezone.utc).timestamp()
    assert -5 < age < 600, age  # UTC, not local time
    assert any(l.startswith("app 1 │ hello from the app") for l in b.lines)
