"""Continuity of `baton run` across baton's own death: baton killed with SIGKILL leaves its
generation serving on its own; the next `baton run` with the same config adopts it (takes its
listening sockets with pidfd_getfd, starts a fresh generation on them, drains the orphan) with
no refused connection and nothing left over after `baton stop`. The state file that makes this
possible is best effort: when it cannot be written, baton says so once and keeps serving."""
import errno
import json
import os
import re
import shutil
import signal
import stat
import subprocess

import pytest

from conftest import BATON, BUILD, wait_until
from devutil import Poller, built_apps, free_port, get, write

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")


def config(env, port, stop_timeout="5s"):
    app = os.path.join(built_apps(), "gin-hello")
    write(os.path.join(str(env.tmp), "baton.toml"), f'''
[run]
cmd = '{app}'
ready = "notify"
ready_timeout = "10s"
stop_timeout = "{stop_timeout}"
env = {{ GIN_MODE = "release" }}
[[listen]]
name = "http"
address = "127.0.0.1:{port}"
''')


def app_pid(port):
    st, body = get(port, "/pid")
    assert st == 200, body
    return json.loads(body)["pid"]


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def status(env):
    r = env.run([BATON, "status", "--json"], timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def state_path(env):
    return os.path.join(str(env.tmp), ".baton", "baton.sock.state")


@pytest.mark.timeout(120)
def test_sigkilled_baton_is_adopted_by_the_next_run(env):
    port = free_port()
    config(env, port)
    b1 = env.baton("run")
    b1.wait_line(r"generation 1 serving", timeout=30)
    with Poller(port) as poll:
        poll.wait_more(3)
        orphan = app_pid(port)
        wait_until(lambda: os.path.exists(state_path(env)), timeout=10, what="the state file")
        b1.send(signal.SIGKILL)
        b1.wait(timeout=10)
        poll.wait_more(3)  # the orphan serves on its own
        assert alive(orphan)
        b2 = env.baton("run")
        b2.wait_line(rf"adopted generation 1 \(pid {orphan}\)", timeout=30)
        b2.wait_line(r"generation 2 serving", timeout=30)
        wait_until(lambda: not alive(orphan), timeout=30, what="the orphan to drain")
        b2.wait_line(rf"orphaned generation 1 \(pid {orphan}\) drained", timeout=30)
        poll.wait_more(3)
        assert app_pid(port) != orphan
        st = status(env)
        assert [(g["id"], g["state"]) for g in st["generations"]] == [(2, "ready")]
        assert "Address already in use" not in b2.output()
    assert poll.failures == [], poll.failures[:5]
    r = env.run([BATON, "stop"], timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert b2.wait(timeout=30) == 0, b2.output()
    assert env.leftovers() == []
    assert not os.path.exists(state_path(env))


@pytest.mark.timeout(120)
def test_stale_state_file_is_ignored(env):
    """A state file whose baton and generations are all gone (a clean stop that was itself
    killed, a reboot) is ignored and replaced."""
    port = free_port()
    config(env, port)
    write(state_path(env), "baton-state 1\nbaton 999999999 1\n"
          "gen 7 999999998 1 ready 3=http\n")
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    assert "adopted" not in b.output()
    with open(state_path(env)) as f:
        assert f"baton {b.pid} " in f.read()
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()


@pytest.mark.timeout(120)
def test_unwritable_state_file_is_logged_once_and_serving_goes_on(env):
    port = free_port()
    config(env, port)
    os.makedirs(state_path(env))  # the state file's path is a directory: rename fails
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    with Poller(port) as poll:
        poll.wait_more(3)
        for _ in range(2):
            r = env.run([BATON, "reload"], timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr
            poll.wait_more(3)
    assert poll.failures == [], poll.failures[:5]
    out = b.output()
    assert len(re.findall(r"cannot write the state file", out)) == 1, out
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()


@pytest.mark.timeout(120)
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)")
def test_disk_full_while_writing_the_state_file(env):
    # .baton is a 64 KiB tmpfs that fills up while baton serves: the state file cannot be
    # written (ENOSPC), which is logged once; reloads go on with no failed request; once there
    # is room again the next write succeeds and says so
    port = free_port()
    config(env, port)
    dot = os.path.join(str(env.tmp), ".baton")
    os.makedirs(dot)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", dot], check=True)
    b = None
    try:
        b = env.baton("run")
        b.wait_line(r"generation 1 serving", timeout=30)
        wait_until(lambda: os.path.exists(state_path(env)), timeout=10, what="the state file")
        fill = os.path.join(dot, "fill")
        fd = os.open(fill, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"x" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
        finally:
            os.close(fd)
        with Poller(port) as poll:
            poll.wait_more(3)
            for i in (2, 3):
                r = env.run([BATON, "reload"], timeout=60)
                assert r.returncode == 0 and f"generation {i} serving" in r.stdout + r.stderr, \
                    r.stdout + r.stderr
                poll.wait_more(3)
            out = b.output()
            assert len(re.findall(r"cannot write the state file .*No space left on device",
                                  out)) == 1, out
            os.unlink(fill)
            mark = b.mark()
            r = env.run([BATON, "reload"], timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr
            b.wait_line(r"state file .* written again", timeout=10, start=mark)
            poll.wait_more(3)
        assert poll.failures == [], poll.failures[:5]
        with open(state_path(env)) as f:
            assert str(app_pid(port)) in f.read()
        b.send(signal.SIGTERM)
        assert b.wait(timeout=30) == 0, b.output()
    finally:
        if b is not None and b.p.poll() is None:
            b.send(signal.SIGTERM)
            b.wait(timeout=30)
        subprocess.run(["umount", "-l", dot], check=False)


def upgrade_setup(env, baton=BATON):
    port = free_port()
    config(env, port)
    b = env.start([baton, "run"])
    b.wait_line(r"generation 1 serving", timeout=30)
    return port, b


def notify_inode(app):
    """The inode of the socket bound at the app's NOTIFY_SOCKET (abstract: "@name")."""
    with open(f"/proc/{app}/environ", "rb") as f:
        env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    name = env[b"NOTIFY_SOCKET"].decode()
    with open("/proc/net/unix") as f:
        for ln in f.read().splitlines()[1:]:
            parts = ln.split()
            if len(parts) >= 8 and parts[7] == name:
                return parts[6]
    return None


def socket_inodes(pid):
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if link.startswith("socket:["):
            out.add(link[8:-1])
    return out


def check_upgraded(env, port, b, poll, app, mark):
    """After an upgrade: same baton pid, the same app process serves, status works, a reload
    afterwards starts generation 2."""
    b.wait_line(r"upgraded to baton \S+ \(pid %d\): generation 1 keeps serving" % b.pid,
                timeout=30, start=mark)
    poll.wait_more(3)
    assert b.p.poll() is None
    assert app_pid(port) == app
    st = status(env)
    assert st["pid"] == b.pid
    assert [(g["id"], g["state"]) for g in st["generations"]] == [(1, "ready")]
    r = env.run([BATON, "reload"], timeout=60)
    assert r.returncode == 0 and "generation 2 serving" in r.stdout, r.stdout + r.stderr
    poll.wait_more(3)
    assert app_pid(port) != app


@pytest.mark.timeout(120)
def test_upgrade_keeps_pid_generation_and_sockets(env):
    port, b = upgrade_setup(env)
    with Poller(port) as poll:
        poll.wait_more(3)
        app = app_pid(port)
        notify = notify_inode(app)
        assert notify in socket_inodes(b.pid)
        mark = len(b.lines)
        r = env.run([BATON, "upgrade"], timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        assert re.search(r"upgraded to baton \S+ \(pid %d\)" % b.pid, r.stdout), r.stdout
        # the generation's NOTIFY_SOCKET is the very socket baton still reads
        assert notify_inode(app) == notify and notify in socket_inodes(b.pid)
        check_upgraded(env, port, b, poll, app, mark)
    assert poll.failures == [], poll.failures[:5]
    r = env.run([BATON, "stop"], timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert b.wait(timeout=30) == 0, b.output()
    assert env.leftovers() == []


@pytest.mark.timeout(120)
def test_sigusr2_upgrades_in_place(env):
    port, b = upgrade_setup(env)
    with Poller(port) as poll:
        poll.wait_more(3)
        app = app_pid(port)
        mark = len(b.lines)
        b.send(signal.SIGUSR2)
        check_upgraded(env, port, b, poll, app, mark)
    assert poll.failures == [], poll.failures[:5]
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()
    assert env.leftovers() == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("breakage", ["deleted", "not-executable"])
def test_failed_upgrade_keeps_the_old_baton(env, breakage):
    copy = os.path.join(str(env.tmp), "baton-copy")
    shutil.copy(BATON, copy)
    port, b = upgrade_setup(env, baton=copy)
    with Poller(port) as poll:
        poll.wait_more(3)
        app = app_pid(port)
        if breakage == "deleted":
            os.unlink(copy)
        else:
            os.chmod(copy, stat.S_IRUSR | stat.S_IWUSR)
        r = env.run([BATON, "upgrade"], timeout=60)
        assert r.returncode == 1, r.stdout + r.stderr
        why = "No such file or directory" if breakage == "deleted" else "Permission denied"
        assert "upgrade failed" in r.stderr and copy in r.stderr and why in r.stderr, r.stderr
        b.wait_line(r"upgrade failed: .* — this baton keeps running", timeout=10)
        poll.wait_more(3)
        assert b.p.poll() is None and app_pid(port) == app
        st = status(env)
        assert st["pid"] == b.pid and st["serving"] == 1
    assert poll.failures == [], poll.failures[:5]
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()
    assert env.leftovers() == []


@pytest.mark.timeout(120)
def test_upgrade_runs_the_binary_now_at_the_path(env):
    """A binary replaced by a rename at the path baton was started as is the one that runs."""
    d = os.path.join(str(env.tmp), "bin")
    os.makedirs(d)
    path = os.path.join(d, "baton")
    shutil.copy(BATON, path)
    port, b = upgrade_setup(env, baton=path)
    shutil.copy(BATON, path + ".new")
    os.rename(path + ".new", path)
    new_ino = os.stat(path).st_ino
    assert os.stat(f"/proc/{b.pid}/exe").st_ino != new_ino
    with Poller(port) as poll:
        poll.wait_more(3)
        r = env.run([BATON, "upgrade"], timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        poll.wait_more(3)
    assert os.stat(f"/proc/{b.pid}/exe").st_ino == new_ino
    assert poll.failures == [], poll.failures[:5]
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()


def fdstore_config(env, port, extra=""):
    write(os.path.join(str(env.tmp), "baton.toml"), f'''
[run]
cmd = "{os.path.join(BUILD, "helpers", "fdstore")}"
ready = "notify"
ready_timeout = "10s"
stop_timeout = "5s"
{extra}
[[listen]]
name = "http"
address = "127.0.0.1:{port}"
''')


@pytest.mark.timeout(120)
def test_fdstore_survives_upgrade(env):
    # the fdstore helper keeps a counter in a memfd stored with FDSTORE=1 FDNAME=counter (as in
    # test_run_systemd.py): `baton upgrade` hands the store over, so the generation after it
    # gets the memfd by name with the counter intact; a new config's smaller fd_store_max
    # closes what does not fit, with a warning
    port = free_port()
    fdstore_config(env, port)
    b = env.start([BATON, "run"])
    b.wait_line(r"^counter 1 stored · LISTEN_FDS=1 LISTEN_FDNAMES=http$", timeout=30)
    b.wait_line(r'generation 1 stored 1 fd as "counter"', timeout=30)
    b.wait_line(r"generation 1 serving", timeout=30)
    mark = b.mark()
    r = env.run([BATON, "upgrade"], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    b.wait_line(r"upgraded to baton \S+ \(pid %d\): generation 1 keeps serving" % b.pid,
                timeout=30, start=mark)
    st = status(env)
    assert st["pid"] == b.pid
    assert st.get("fd_store") == {"count": 1, "max": 64, "names": ["counter"]}, st
    r = env.run([BATON, "reload"], timeout=60)
    assert r.returncode == 0 and "generation 2 serving" in r.stdout, r.stdout + r.stderr
    b.wait_line(r"^counter 2 at fd 4 · LISTEN_FDS=2 LISTEN_FDNAMES=http:counter$", timeout=30,
                start=mark)
    # the new image's config keeps none: the stored fd is closed, the next generation starts
    # afresh
    fdstore_config(env, port, extra="fd_store_max = 0")
    mark = b.mark()
    r = env.run([BATON, "upgrade"], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    b.wait_line(r'the fd store is full \(fd_store_max = 0\): closed the stored fd "counter"',
                timeout=30, start=mark)
    r = env.run([BATON, "reload"], timeout=60)
    assert r.returncode == 0 and "generation 3 serving" in r.stdout, r.stdout + r.stderr
    b.wait_line(r"^counter 1 stored · LISTEN_FDS=1 LISTEN_FDNAMES=http$", timeout=30,
                start=mark)
    r = env.run([BATON, "stop"], timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert b.wait(timeout=30) == 0, b.output()
    assert env.leftovers() == []
