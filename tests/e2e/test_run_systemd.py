"""`baton run` under a service manager or as a container's init: what it tells systemd on
NOTIFY_SOCKET, sockets it is handed through LISTEN_FDS, reaping orphans as PID 1 of a PID
namespace, the control socket's guards (peer uid, malformed input), coalesced reloads, and a
ConfigMap volume updated the way the kubelet does it."""
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from conftest import BATON, BUILD, Proc, wait_until
from devutil import Poller, built_apps, free_port, get, pid_of, run_config, write

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")


def app_bin():
    return os.path.join(built_apps(), "gin-hello")


def helper(name):
    return os.path.join(BUILD, "helpers", name)


def status_json(env, *args):
    r = env.run([BATON, "status", "--json", *args])
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


# ---- NOTIFY_SOCKET ----


class NotifyReceiver:
    """A stand-in for systemd's notification socket: a unix datagram socket in tmp whose
    datagrams are parsed into dicts (one datagram = one message, as sd_notify sends them)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(path)
        self.seen = []

    def next(self, timeout=15.0):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"no notification within {timeout}s; seen: {self.seen}")
        text = data.decode("utf-8")
        msg = {}
        for line in text.split("\n"):
            if line:
                k, _, v = line.partition("=")
                msg[k] = v
        self.seen.append(msg)
        return msg

    def pending(self):
        """Datagrams already queued, without waiting."""
        out = []
        self.sock.setblocking(False)
        try:
            while True:
                out.append(self.sock.recv(65536).decode("utf-8"))
        except BlockingIOError:
            pass
        return out

    def close(self):
        self.sock.close()


def mono_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def test_notify_socket_ready_reloading_stopping(env):
    port = free_port()
    tmp = str(env.tmp)
    # generations fail at start-up while the file "broken" exists
    run_config(tmp, port, f"test -e broken && echo broken && exit 7; exec {app_bin()}")
    rx = NotifyReceiver(os.path.join(tmp, "systemd-notify.sock"))
    try:
        b = env.baton("run", env={"NOTIFY_SOCKET": rx.path})

        # start-up: READY=1 once generation 1 serves, and nothing before it
        m = rx.next(timeout=30)
        assert m.get("READY") == "1", rx.seen
        assert "RELOADING" not in m
        assert "generation 1" in m.get("STATUS", ""), m
        assert get(port)[0] == 200  # READY means serving
        b.wait_line(r"generation 1 serving", timeout=5)

        # a reload: RELOADING=1 with MONOTONIC_USEC in the same datagram, then READY=1
        for gen in (2, 3):
            before = mono_usec()
            mark = b.mark()
            b.send(signal.SIGHUP)
            m = rx.next()
            after = mono_usec()
            assert m.get("RELOADING") == "1", rx.seen
            assert "MONOTONIC_USEC" in m, f"RELOADING=1 without MONOTONIC_USEC: {m}"
            assert before <= int(m["MONOTONIC_USEC"]) <= after, (before, m, after)
            assert "READY" not in m
            assert int(m.get("EXTEND_TIMEOUT_USEC", "0")) > 0, m
            m = rx.next(timeout=30)
            assert m.get("READY") == "1", rx.seen
            assert f"generation {gen}" in m.get("STATUS", ""), m
            b.wait_line(rf"generation {gen} serving", timeout=5, start=mark)

        # a reload that fails: RELOADING=1, then READY=1 with STATUS=reload failed: ...
        serving = [g["pid"] for g in status_json(env)["generations"] if g["id"] == 3]
        # the drained generation may answer a last request before it handles SIGTERM
        first = wait_until(lambda: pid_of(port) in serving and pid_of(port),
                           what="generation 3 to answer")
        write(os.path.join(tmp, "broken"), "")
        b.send(signal.SIGHUP)
        m = rx.next()
        assert m.get("RELOADING") == "1" and "MONOTONIC_USEC" in m, rx.seen
        m = rx.next(timeout=30)
        assert m.get("READY") == "1", rx.seen
        assert m.get("STATUS", "").startswith("reload failed: "), m
        assert "exited with status 7" in m["STATUS"], m
        assert pid_of(port) == first  # rolled back: the old generation serves on

        # SIGTERM: STOPPING=1, then baton exits cleanly
        b.send(signal.SIGTERM)
        m = rx.next()
        assert m.get("STOPPING") == "1", rx.seen
        assert b.wait(timeout=20) == 0
        # nothing after STOPPING claims readiness again
        assert not any("READY=1" in d for d in rx.pending())
    finally:
        rx.close()


# ---- LISTEN_FDS ----


class FdProc(Proc):
    """Proc that passes extra fds to the child (conftest's Proc closes every fd above 2)."""

    def __init__(self, args, env, cwd, pass_fds):
        self.args = args
        self.p = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  start_new_session=True, pass_fds=pass_fds)
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_listen_fds_are_adopted_by_name(env):
    tmp = str(env.tmp)
    configured = free_port()
    run_config(tmp, configured, app_bin())
    # the socket systemd would pass: listening, on another port than the configured one
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    passed = ls.getsockname()[1]
    assert passed != configured
    # a small exec wrapper moves it to fd 3 and sets LISTEN_PID to its own pid, which baton
    # keeps when it is exec'd (the way systemd does it)
    fd = fcntl.fcntl(ls.fileno(), getattr(fcntl, "F_DUPFD_CLOEXEC", 1030), 10)
    wrapper = ("import os, sys\n"
               "fd = int(sys.argv[1])\n"
               "os.dup2(fd, 3)\n"
               "os.close(fd)\n"
               "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1',"
               " LISTEN_FDNAMES='http')\n"
               "os.execv(sys.argv[2], sys.argv[2:])\n")
    b = FdProc([sys.executable, "-c", wrapper, str(fd), BATON, "run"], dict(env.env), tmp,
               pass_fds=(fd,))
    env.procs.append(b)
    os.close(fd)
    ls.close()  # baton holds the only copy now

    b.wait_line(r"adopted 1 socket from systemd", timeout=10)
    b.wait_line(r'listener "http": systemd passed a socket on another address than '
                rf'"127.0.0.1:{configured}"; using systemd\'s', timeout=10)
    b.wait_line(r"generation 1 serving", timeout=30)
    st, body = get(passed)
    assert st == 200 and "hello from gin-hello" in body
    # the configured address was never bound: nothing answers there and we can bind it
    assert refused(configured)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", configured))
    st = status_json(env)
    assert [l["name"] for l in st["listeners"]] == ["http"]
    assert str(passed) in st["listeners"][0]["address"], st["listeners"]

    # the adopted socket is handed on to the next generation like a bound one
    first = pid_of(passed)
    r = env.run([BATON, "reload"])
    assert r.returncode == 0, r.stdout + r.stderr
    wait_until(lambda: pid_of(passed) != first, what="generation 2 to answer")
    assert refused(configured)

    b.send(signal.SIGTERM)
    assert b.wait(timeout=20) == 0
    # baton held the last copy: once it is gone the port is closed
    assert refused(passed)


# ---- PID 1 in a PID namespace ----


def proc_status(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
    except OSError:
        return None


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def ns_pids(ns):
    """Host pids of every process in the PID namespace ns (a /proc/PID/ns/pid link text)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink(f"/proc/{d}/ns/pid") == ns:
                    out.append(int(d))
            except OSError:
                pass
    return out


def unshare_works():
    if os.geteuid() != 0:
        return "needs root for unshare --pid"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                       capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        return f"unshare --pid --fork --mount-proc fails here: {r.stderr.strip()}"
    return None


def test_pid1_in_a_pid_namespace_reaps_orphans(env):
    why = unshare_works()
    if why:
        pytest.skip(why)
    port = free_port()
    tmp = str(env.tmp)
    # the app double-forks a daemon first: its grandchild is orphaned to PID 1, i.e. baton
    run_config(tmp, port, f"{helper('daemonize')} && exec {app_bin()}")
    b = env.start(["unshare", "--pid", "--fork", "--mount-proc", BATON, "run"])
    bpid = None
    try:
        _, m = b.wait_line(r"^daemon (\d+)$", timeout=30)
        ns_daemon = int(m.group(1))
        b.wait_line(r"generation 1 serving", timeout=30)
        bpid = wait_until(lambda: (c := children(b.pid)) and c[0], what="baton's host pid")
        st = proc_status(bpid)
        assert st["NSpid"].split()[-1] == "1", f"baton is not PID 1 inside: {st['NSpid']}"
        assert get(port)[0] == 200
        ns = os.readlink(f"/proc/{bpid}/ns/pid")

        # the daemon was re-parented to baton (PID 1 of the namespace) ...
        def host_pid_of(nspid):
            for p in ns_pids(ns):
                s = proc_status(p)
                if s and s["NSpid"].split()[-1] == str(nspid):
                    return p
            return None
        daemon = host_pid_of(ns_daemon)
        assert daemon, "the double-forked daemon is not running"
        assert int(proc_status(daemon)["PPid"]) == bpid
        # ... and when it dies, baton reaps it: no zombie is left in the namespace
        os.kill(daemon, signal.SIGKILL)
        wait_until(lambda: proc_status(daemon) is None, timeout=10,
                   what=f"the killed daemon {daemon} to be reaped (state: "
                        f"{(proc_status(daemon) or {}).get('State')})")

        def zombies():
            return [(p, s.get("Name")) for p in ns_pids(ns)
                    if (s := proc_status(p)) and s.get("State", "").startswith("Z")]
        wait_until(lambda: not zombies(), timeout=10, what="no zombies in the namespace")
        assert get(port)[0] == 200  # the app serves on

        # a reload inside the namespace works like outside (the old generation is reaped too)
        old = pid_of(port)
        os.kill(bpid, signal.SIGHUP)
        b.wait_line(r"generation 2 serving", timeout=30)
        wait_until(lambda: pid_of(port) != old, what="generation 2 to answer")
        wait_until(lambda: not zombies(), timeout=10, what="no zombies after the reload")

        # SIGTERM to PID 1 (it handles it, so the kernel delivers it) stops everything
        os.kill(bpid, signal.SIGTERM)
        assert b.wait(timeout=30) == 0
        bpid = None
        out = b.output()
        assert "gin-hello: stopped" in out  # the app was stopped gracefully, not killed
        assert re.search(r"stopping every generation", out)
        wait_until(lambda: not ns_pids(ns), timeout=10, what="the namespace to be empty")
    finally:
        if bpid and proc_status(bpid):
            os.kill(bpid, signal.SIGKILL)


# ---- control socket guards ----


def raw_exchange(path, data, shut=True, timeout=10.0):
    """Send data over a fresh connection to the control socket; return what comes back until
    the server closes (or the timeout)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except socket.timeout:
                raise AssertionError(f"server kept the connection open after {data[:40]!r}")
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
        return b"".join(chunks)


def as_nobody():
    if shutil.which("setpriv"):
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    return None


def test_control_socket_refuses_other_uids_and_bad_messages(env):
    port = free_port()
    tmp = str(env.tmp)
    # the socket lives in a directory another uid can reach: the refusal must come from the
    # server's SO_PEERCRED check, not from file permissions
    cdir = tempfile.mkdtemp(prefix="baton-ctl-")
    sock = os.path.join(cdir, "baton.sock")
    try:
        run_config(tmp, port, app_bin(), extra=f'[control]\nsocket = "{sock}"')
        b = env.baton("run")
        b.wait_line(r"generation 1 serving", timeout=30)
        assert (os.stat(sock).st_mode & 0o777) == 0o600
        os.chmod(cdir, 0o755)
        os.chmod(sock, 0o666)

        nobody = as_nobody()
        if os.geteuid() == 0 and nobody:
            for verb in ("status", "reload", "stop"):
                mark = b.mark()
                r = env.run([*nobody, BATON, verb, "-s", sock])
                assert r.returncode == 1, (verb, r.stdout, r.stderr)
                assert "permission denied" in r.stderr, r.stderr
                b.wait_line(r"control socket: refused pid \d+ \(uid 65534\): permission denied",
                            timeout=5, start=mark)
            # nothing happened: still generation 1, still running
            st = status_json(env, "-s", sock)
            assert [(g["id"], g["state"]) for g in st["generations"]] == [(1, "ready")]
            assert st["last_reload"] is None
        else:
            print("skipped the other-uid check: not root or no setpriv/runuser")

        first = pid_of(port)
        bad = [
            (b"relaod\n", b"error unknown command"),            # malformed: unknown verb
            (b"reload now please\n", b"error"),                  # malformed: wrong arguments
            (b"status\x00\n", b"error"),                         # NUL byte
            (b"sta\x01tus\n", b"error"),                         # control character
            (b"\xff\xfe status\n", b"error"),                    # invalid UTF-8
            (b"status " + b"x" * 3000 + b"\n", b"error"),         # oversized line (> 512 bytes)
            (b"s" * 4000, b"error"),                             # oversized, no newline at all
            (b"stat", b"error unknown command"),                 # truncated, then EOF
            (b"status \xe2\x82", b"error"),                      # truncated UTF-8, then EOF
        ]
        for data, want in bad:
            reply = raw_exchange(sock, data)
            lines = reply.split(b"\n")
            assert reply.startswith(want), (data[:40], reply[:200])
            assert reply.endswith(b"\n") and len(lines) == 2, (data[:40], reply[:200])
            assert not reply.startswith(b"error idle"), reply
        # a client that sends half a request and vanishes
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(sock)
            s.sendall(b"rel")
        # a valid request after a bad one on the same connection is never reached: the
        # server answers the error and closes
        reply = raw_exchange(sock, b"bogus\nstatus\n")
        assert reply.startswith(b"error") and b"body" not in reply, reply

        # baton keeps serving: requests work, the app answers, nothing was reloaded
        reply = raw_exchange(sock, b"hello 1\nstatus json\n")
        assert reply.startswith(b"ok protocol 1\nbody\n{"), reply[:80]
        assert pid_of(port) == first
        r = env.run([BATON, "reload", "-s", sock])
        assert r.returncode == 0, r.stdout + r.stderr
        assert "generation 2 serving" in r.stdout
        wait_until(lambda: pid_of(port) != first, what="generation 2 to answer")
        b.send(signal.SIGTERM)
        assert b.wait(timeout=20) == 0
        assert not os.path.exists(sock)
    finally:
        shutil.rmtree(cdir, ignore_errors=True)


# ---- coalescing ----


def reload_clients(env, n):
    return [env.start([BATON, "reload", "-t", "60s"]) for _ in range(n)]


def reported_gen(p):
    _, m = p.wait_line(r"generation (\d+) serving", timeout=60)
    assert p.wait(timeout=10) == 0, p.output()
    return int(m.group(1))


def test_concurrent_reloads_coalesce(env):
    port = free_port()
    tmp = str(env.tmp)
    # slow to become ready: each generation is "starting" for 1.5 s
    run_config(tmp, port, app_bin(), ready="delay:1500ms")
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)

    # 10 clients at once: the first starts generation 2, the others arrive while it starts and
    # share one follow-up (generation 3); every one is answered, none with generation 1
    clients = reload_clients(env, 10)
    gens = [reported_gen(p) for p in clients]
    assert all(g >= 2 for g in gens), gens
    last = max(gens)
    # baton logs before it answers; the reader thread may be a line behind
    wait_until(lambda: b.count(r"reload requested \(baton reload\)") == 10,
               what="10 reload requests in baton's log")
    wait_until(lambda: b.count(r"generation \d+ serving") >= last, what="the serving lines")
    started = b.count(r"generation \d+ serving")
    print(f"10 concurrent reloads: reported generations {sorted(gens)}, "
          f"{started - 1} generation(s) started for them")
    assert started == last <= 3, b.output()
    assert status_json(env)["serving"] == last

    # requests made once generation N has been started are covered by N+1, never by N
    mark = b.mark()
    n = last + 1
    first = env.start([BATON, "reload", "-t", "60s"])
    # baton starts generation n right after it logs the request
    b.wait_line(r"reload requested \(baton reload\)", timeout=10, start=mark)
    late = reload_clients(env, 5)
    assert reported_gen(first) == n
    late_gens = [reported_gen(p) for p in late]
    assert all(g >= n + 1 for g in late_gens), (n, late_gens)
    print(f"during generation {n}'s start: later requesters got {late_gens}")
    wait_until(lambda: b.count(r"generation \d+ serving", start=mark) >= max(late_gens) - last,
               what="the serving lines")
    assert b.count(r"generation \d+ serving", start=mark) <= 3
    assert get(port)[0] == 200

    b.send(signal.SIGTERM)
    assert b.wait(timeout=20) == 0


# ---- a ConfigMap volume, as the kubelet updates it ----


def kubelet_write(d, files, n):
    """Publish files into d the way the kubelet's atomic writer updates a ConfigMap or Secret
    volume: a fresh ..<timestamp> directory, the ..data symlink swapped to it by rename, and
    top-level symlinks through ..data; the previous directory is removed."""
    ts = f"..2026_01_01_00_00_{n:02d}.000000001"
    os.mkdir(os.path.join(d, ts))
    for name, text in files.items():
        write(os.path.join(d, ts, name), text)
    data = os.path.join(d, "..data")
    old = os.readlink(data) if os.path.islink(data) else None
    os.symlink(ts, os.path.join(d, "..data_tmp"))
    os.rename(os.path.join(d, "..data_tmp"), data)
    for name in files:
        if not os.path.islink(os.path.join(d, name)):
            os.symlink(os.path.join("..data", name), os.path.join(d, name))
    if old:
        shutil.rmtree(os.path.join(d, old))


def app_env_of(port):
    """The environment of the process that answered /pid, or {} when it exited in between (a
    draining generation may answer once more before it goes): callers wait_until on it."""
    try:
        with open(f"/proc/{pid_of(port)}/environ", "rb") as f:
            return dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    except (ProcessLookupError, FileNotFoundError):
        return {}


def test_configmap_swap_reloads_in_place(env):
    """docs/kubernetes.md's set-up: app settings in a mounted ConfigMap, loaded by env_file and
    watched by a [[reload]] group whose check rejects a malformed file."""
    port = free_port()
    tmp = str(env.tmp)
    cm = os.path.join(tmp, "cm")
    os.mkdir(cm)
    kubelet_write(cm, {"app.env": "# settings\nAPP_SETTING=one\n"}, 1)
    run_config(tmp, port, app_bin(), extra='''env_file = ["cm/app.env"]
[[reload]]
name = "app-config"
paths = ["cm/app.env"]
check = "! grep -Eq '^[^#=]+$' cm/app.env"
''')
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    assert app_env_of(port)[b"APP_SETTING"] == b"one"

    mark = b.mark()
    kubelet_write(cm, {"app.env": "# settings\nAPP_SETTING=two\n"}, 2)
    b.wait_line(r'reload "app-config" changed and passed its checks', timeout=15, start=mark)
    b.wait_line(r"generation 2 serving", timeout=30, start=mark)
    wait_until(lambda: app_env_of(port).get(b"APP_SETTING") == b"two",
               what="generation 2 to answer with the new setting")

    # a malformed file never reaches the app
    mark = b.mark()
    kubelet_write(cm, {"app.env": "APP_SETTING=three\nnot a setting\n"}, 3)
    b.wait_line(r'reload "app-config" rejected: .*the app keeps the previous version',
                timeout=15, start=mark)
    st = status_json(env)
    assert [(g["id"], g["state"]) for g in st["generations"]] == [(2, "ready")]
    assert app_env_of(port)[b"APP_SETTING"] == b"two"

    b.send(signal.SIGTERM)
    assert b.wait(timeout=20) == 0


# ---- the file descriptor store (FDSTORE=1) ----

@pytest.mark.timeout(90)
def test_fdstore_survives_reloads_and_crash(env):
    # the helper keeps a counter in a memfd it stores with FDSTORE=1 FDNAME=counter; every
    # later generation gets it after the listener (fd 4, named in LISTEN_FDNAMES) and counts on
    tmp = str(env.tmp)
    port = free_port()
    run_config(tmp, port, f"{helper('fdstore')} remove-at 5")
    b = env.baton("run")
    b.wait_line(r"^counter 1 stored · LISTEN_FDS=1 LISTEN_FDNAMES=http$", timeout=30)
    b.wait_line(r'generation 1 stored 1 fd as "counter" \(1 of 64 in the store\)')
    b.wait_line(r"generation 1 serving", timeout=30)
    for gen in (2, 3):
        mark = b.mark()
        b.send(signal.SIGHUP)
        b.wait_line(rf"^counter {gen} at fd 4 · LISTEN_FDS=2 LISTEN_FDNAMES=http:counter$",
                    timeout=30, start=mark)
        b.wait_line(rf"generation {gen} serving", timeout=30, start=mark)
    # a crash restart keeps the store
    st = status_json(env)
    assert st["fd_store"] == {"count": 1, "max": 64, "names": ["counter"]}, st
    pid = st["generations"][0]["pid"]
    mark = b.mark()
    os.kill(pid, signal.SIGKILL)
    b.wait_line(r"^counter 4 at fd 4 · LISTEN_FDS=2 LISTEN_FDNAMES=http:counter$", timeout=30,
                start=mark)
    b.wait_line(r"generation 4 serving", timeout=30, start=mark)
    # FDSTOREREMOVE=1: generation 5 drops it, generation 6 starts afresh
    mark = b.mark()
    b.send(signal.SIGHUP)
    b.wait_line(r"^counter 5 at fd 4", timeout=30, start=mark)
    b.wait_line(r'generation 5 removed 1 stored fd named "counter"', timeout=10, start=mark)
    b.wait_line(r"generation 5 serving", timeout=30, start=mark)
    mark = b.mark()
    b.send(signal.SIGHUP)
    b.wait_line(r"^counter 1 stored · LISTEN_FDS=1 LISTEN_FDNAMES=http$", timeout=30,
                start=mark)
    b.wait_line(r"generation 6 serving", timeout=30, start=mark)
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()


@pytest.mark.timeout(60)
def test_fdstore_bound(env):
    # fd_store_max = 0 refuses every fd, with a warning; the app serves anyway and the next
    # generation finds nothing (fd_store_max = N keeps the first N: test_fdstore.c)
    tmp = str(env.tmp)
    port = free_port()
    run_config(tmp, port, helper("fdstore"), extra="fd_store_max = 0")
    b = env.baton("run")
    b.wait_line(r"^counter 1 stored", timeout=30)
    b.wait_line(r'generation 1: the fd store is full \(fd_store_max = 0\): closed 1 fd named '
                r'"counter"', timeout=10)
    b.wait_line(r"generation 1 serving", timeout=30)
    mark = b.mark()
    b.send(signal.SIGHUP)
    b.wait_line(r"^counter 1 stored · LISTEN_FDS=1 LISTEN_FDNAMES=http$", timeout=30,
                start=mark)
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()


# ---- attributing notify datagrams ----

def _by_generation(cmds):
    """A shell command running cmds[N-1] as generation N (the last one for later ones)."""
    parts = [f'[ "$BATON_GENERATION" = {i + 1} ] && exec {c}' for i, c in enumerate(cmds[:-1])]
    return "; ".join(parts + [f"exec {cmds[-1]}"])


@pytest.mark.timeout(90)
def test_ready_from_a_sender_that_is_gone(env):
    # READY=1 from a child that exited and was reaped before baton read the datagram (the
    # helper stops baton meanwhile, so this is certain): generation 1 is the only one running,
    # so it is its; generation 2 starts beside a serving one and says MAINPID= with it; the
    # same without MAINPID= during a reload cannot be attributed, so generation 3 fails
    tmp = str(env.tmp)
    port = free_port()
    sdn = helper("sdnotify")
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = '{_by_generation([f"{sdn} gone", f"{sdn} gone mainpid", f"{sdn} gone"])}'
ready = "notify"
ready_timeout = "3s"
[[listen]]
name = "http"
address = "127.0.0.1:{port}"
''')
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    mark = b.mark()
    b.send(signal.SIGHUP)
    b.wait_line(r"generation 2 serving", timeout=30, start=mark)
    st = status_json(env)
    assert [(g["id"], g["state"]) for g in st["generations"]] == [(2, "ready")], st
    mark = b.mark()
    r = env.run([BATON, "reload"], timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "generation 3 failed: not ready within 3s" in r.stdout + r.stderr
    b.wait_line(r"READY=1 from pid \d+, which exited before baton could tell its generation "
                r"— ignored; send MAINPID= with it", start=mark)
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()


@pytest.mark.timeout(60)
def test_ready_from_a_group_member_reparented_to_baton(env):
    # the sender's parent exited: it is baton's child now (subreaper), no longer a descendant
    # of the generation's main process, but still in its process group
    tmp = str(env.tmp)
    port = free_port()
    run_config(tmp, port, f"{helper('sdnotify')} detached")
    b = env.baton("run")
    _, m = b.wait_line(r"notified from detached pid (\d+) \(parent (\d+)\)", timeout=30)
    assert int(m.group(2)) == b.pid
    b.wait_line(r"generation 1 serving", timeout=30)
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()


@pytest.mark.timeout(60)
def test_extend_timeout_is_bounded(env):
    # EXTEND_TIMEOUT_USEC=2^64-1 gives at most 10 × ready_timeout, then the start fails
    tmp = str(env.tmp)
    port = free_port()
    sdn = helper("sdnotify")
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = '{_by_generation([f"{sdn} ready", f"{sdn} extend 18446744073709551615"])}'
ready = "notify"
ready_timeout = "1s"
stop_timeout = "5s"
''')
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    t0 = time.monotonic()
    r = env.run([BATON, "reload"], timeout=60)
    took = time.monotonic() - t0
    assert r.returncode == 1, r.stdout + r.stderr
    assert "generation 2 failed: not ready within 1s" in r.stdout + r.stderr
    b.wait_line(r"generation 2 asked for more start-up time than 10 × ready_timeout: it has "
                r"until 10s after its start")
    assert took >= 9.5
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()


@pytest.mark.timeout(120)
def test_fdstore_gin_under_load(env):
    # a Gin app keeps its counter in the fd store: two reloads and a crash restart under a
    # poller, each generation answers with the next number, and no request fails
    tmp = str(env.tmp)
    port = free_port()
    run_config(tmp, port, os.path.join(built_apps(), "gin-fdstore"))
    b = env.baton("run")
    b.wait_line(r"gin-fdstore: counter 1 \(generation 1\)", timeout=30)
    b.wait_line(r"generation 1 serving", timeout=30)
    assert get(port, "/") == (200, "counter 1")
    with Poller(port) as poll:
        for n in (2, 3):
            mark = b.mark()
            r = env.run([BATON, "reload"], timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr
            b.wait_line(rf"gin-fdstore: counter {n} \(generation {n}\)", start=mark)
            wait_until(lambda: get(port, "/") == (200, f"counter {n}"),
                       what=f"generation {n} answering alone")
            poll.wait_more(3)
        mark = b.mark()
        os.kill(pid_of(port), signal.SIGKILL)
        b.wait_line(r"gin-fdstore: counter 4 \(generation 4\)", timeout=30, start=mark)
        b.wait_line(r"generation 4 serving", timeout=30, start=mark)
        assert get(port, "/") == (200, "counter 4")
        poll.wait_more(3)
    assert poll.failures == [], poll.failures[:5]
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()


@pytest.mark.timeout(90)
def test_mainpid_switches_the_main_process(env):
    # the generation's first process hands over: a child of its group says READY=1 and
    # MAINPID=<itself>, then the first process exits. The generation serves on (status shows
    # the new main pid); it ends when that process ends: drained on reload, a crash when killed
    tmp = str(env.tmp)
    sdn = helper("sdnotify")
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "exec {sdn} handoff"
ready = "notify"
ready_timeout = "10s"
stop_timeout = "5s"
''')
    b = env.baton("run")
    _, m = b.wait_line(r"^main process (\d+)$", timeout=30)
    main1 = int(m.group(1))
    b.wait_line(r"generation 1 serving", timeout=30)
    b.wait_line(rf"generation 1's first process exited with status 0; its main process "
                rf"{main1} carries on", timeout=10)
    st = status_json(env)
    assert [(g["id"], g["state"], g["pid"]) for g in st["generations"]] == \
        [(1, "ready", main1)], st
    mark = b.mark()
    b.send(signal.SIGHUP)
    _, m = b.wait_line(r"^main process (\d+)$", timeout=30, start=mark)
    main2 = int(m.group(1))
    b.wait_line(r"generation 2 serving", timeout=30, start=mark)
    b.wait_line(rf"generation 1 drained \(exited \(main process {main1}\)\)", timeout=10,
                start=mark)
    b.wait_line(r"generation 2's first process exited with status 0", timeout=10, start=mark)
    mark = b.mark()
    os.kill(main2, signal.SIGKILL)
    b.wait_line(rf"generation 2 exited \(main process {main2}\) while serving", timeout=10,
                start=mark)
    b.wait_line(r"generation 3 serving", timeout=30, start=mark)
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0, b.output()
