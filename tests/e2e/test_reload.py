"""[[reload]] and [[tls]] groups in `baton run`: watch, validate, then apply — a bad file never
reaches the app. The app is a C helper that prints every signal it receives."""
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import BUILD, wait_until
from devutil import write

SIGECHO = os.path.join(BUILD, "helpers", "sigecho")


def start(env, groups, extra_run=""):
    tmp = str(env.tmp)
    os.makedirs(os.path.join(tmp, "config"), exist_ok=True)
    write(os.path.join(tmp, "sentinel.txt"), "0\n")
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "{SIGECHO}"
ready = "notify"
stop_timeout = "2s"
{extra_run}
{groups}
[[reload]]
name = "sentinel"
paths = ["sentinel.txt"]
action = "signal:SIGUSR2"
''')
    b = env.baton("run")
    b.wait_line(r"sigecho ready pid=\d+ gen=1", timeout=20)
    b.wait_line(r"generation 1 serving", timeout=20)
    return b


def sentinel(env, b, n):
    """Write the sentinel and wait for its signal: everything before it has been handled."""
    mark = b.mark()
    write(os.path.join(str(env.tmp), "sentinel.txt"), f"{n}\n")
    b.wait_line(r"sigecho gen=\d+ got SIGUSR2", timeout=20, start=mark)


def stop(b):
    b.send(signal.SIGTERM)
    assert b.wait(timeout=20) == 0, b.output()


def test_failing_check_leaves_app_untouched_then_good_edit_applies_once(env):
    cfg = os.path.join(str(env.tmp), "config", "app.conf")
    write(cfg, "good v1\n")
    b = start(env, '''
[[reload]]
name = "config"
paths = ["config/app.conf"]
check = "grep -q good config/app.conf || { echo 'app.conf: line 1: expected good' >&2; exit 3; }"
action = "signal:SIGHUP"
''')
    mark = b.mark()
    write(cfg, "bad v2\n")
    b.wait_line(r'reload "config" rejected: check .* exited with status 3', timeout=20,
                start=mark)
    b.wait_line(r"app.conf: line 1: expected good", timeout=5, start=mark)
    sentinel(env, b, 1)
    assert b.count(r"got SIGHUP") == 0
    import json
    from conftest import BATON
    st = json.loads(env.run([BATON, "status", "--json"]).stdout)
    groups = {g["name"]: g for g in st["reload_groups"]}
    assert groups["config"]["ok"] is False
    assert "exited with status 3" in groups["config"]["error"]
    assert groups["config"]["good"]  # the last good content is still known
    assert groups["sentinel"]["ok"] is True and groups["sentinel"]["applied"] == 1
    mark = b.mark()
    write(cfg, "good v3\n")
    b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20, start=mark)
    sentinel(env, b, 2)
    assert b.count(r"got SIGHUP") == 1
    stop(b)


def test_hanging_check_is_killed_at_its_timeout(env):
    cfg = os.path.join(str(env.tmp), "config", "app.conf")
    write(cfg, "v1\n")
    b = start(env, '''
[[reload]]
name = "config"
paths = ["config/app.conf"]
check = "echo checking; exec tail -f /dev/null"
check_timeout = "300ms"
action = "signal:SIGHUP"
''')
    mark = b.mark()
    write(cfg, "v2\n")
    b.wait_line(r'reload "config" rejected: check .* did not finish within 300 ms', timeout=20,
                start=mark)
    sentinel(env, b, 1)
    assert b.count(r"got SIGHUP") == 0
    stop(b)


def test_signal_reaches_an_app_restarted_behind_batons_back(env):
    cfg = os.path.join(str(env.tmp), "config", "app.conf")
    write(cfg, "v1\n")
    b = start(env, '''
[[reload]]
name = "config"
paths = ["config/app.conf"]
action = "signal:SIGUSR1"
''', extra_run="restart_on_crash = true")
    _, m = b.wait_line(r"sigecho ready pid=(\d+) gen=1", timeout=5)
    os.kill(int(m.group(1)), signal.SIGKILL)
    b.wait_line(r"sigecho ready pid=\d+ gen=2", timeout=20)
    mark = b.mark()
    write(cfg, "v2\n")
    b.wait_line(r"sigecho gen=2 got SIGUSR1", timeout=20, start=mark)
    stop(b)


def atomic_writer_update(d, files, ts):
    """Kubernetes AtomicWriter: write a new ..<ts> dir, point ..data_tmp at it, rename it over
    ..data, remove the old dir (pkg/volume/util/atomic_writer.go)."""
    new = os.path.join(d, f"..{ts}")
    os.mkdir(new)
    for name, content in files.items():
        write(os.path.join(new, name), content)
    old = os.readlink(os.path.join(d, "..data")) if os.path.islink(os.path.join(d, "..data")) \
        else None
    os.symlink(f"..{ts}", os.path.join(d, "..data_tmp"))
    os.rename(os.path.join(d, "..data_tmp"), os.path.join(d, "..data"))
    for name in files:
        link = os.path.join(d, name)
        if not os.path.islink(link):
            os.symlink(os.path.join("..data", name), link)
    if old:
        shutil.rmtree(os.path.join(d, old))


def test_kubernetes_configmap_swap_reloads_once_and_removal_is_reported(env):
    d = os.path.join(str(env.tmp), "cm")
    os.mkdir(d)
    atomic_writer_update(d, {"app.yaml": "a: 1\n"}, "2026_11_23_01")
    b = start(env, '''
[[reload]]
name = "configmap"
paths = ["cm/app.yaml"]
action = "signal:SIGHUP"
''')
    mark = b.mark()
    atomic_writer_update(d, {"app.yaml": "a: 2\n"}, "2026_11_23_02")
    b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20, start=mark)
    sentinel(env, b, 1)
    assert b.count(r"got SIGHUP") == 1
    assert b.count(r"rejected|mismatch|is missing") == 0
    mark = b.mark()
    os.unlink(os.path.join(d, "app.yaml"))
    b.wait_line(r'reload "configmap": ".*app.yaml" is missing', timeout=20, start=mark)
    sentinel(env, b, 2)
    assert b.count(r"got SIGHUP") == 1
    stop(b)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pair(d, name, host="localhost", days=30):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", str(days),
            "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}", cwd=d)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_cert_key_and_config_changed_together_cause_one_reload(env):
    tmp = str(env.tmp)
    certs = os.path.join(tmp, "certs")
    gen = os.path.join(tmp, "gen")
    os.makedirs(certs)
    os.makedirs(gen)
    make_pair(gen, "a")
    make_pair(gen, "b")
    shutil.copy(os.path.join(gen, "a.crt"), os.path.join(certs, "tls.crt"))
    shutil.copy(os.path.join(gen, "a.key"), os.path.join(certs, "tls.key"))
    cfg = os.path.join(tmp, "config", "app.conf")
    os.makedirs(os.path.dirname(cfg))
    write(cfg, "v1\n")
    b = start(env, '''
[[reload]]
name = "config"
paths = ["config/app.conf"]
action = "restart"
[[tls]]
cert = "certs/tls.crt"
key = "certs/tls.key"
hostnames = ["localhost"]
action = "restart"
''')
    mark = b.mark()
    # written separately, like certbot: key, config, cert
    shutil.copy(os.path.join(gen, "b.key"), os.path.join(certs, "tls.key"))
    write(cfg, "v2\n")
    shutil.copy(os.path.join(gen, "b.crt"), os.path.join(certs, "tls.crt"))
    b.wait_line(r"generation 2 serving", timeout=30, start=mark)
    sentinel(env, b, 1)
    assert b.count(r"generation \d+ serving", start=mark) == 1
    assert b.count(r"rejected", start=mark) == 0
    stop(b)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_kubernetes_tls_secret_swap_reloads_once_without_mismatch(env):
    tmp = str(env.tmp)
    gen = os.path.join(tmp, "gen")
    os.makedirs(gen)
    make_pair(gen, "a")
    make_pair(gen, "b")

    def pair(n):
        return {"tls.crt": open(os.path.join(gen, f"{n}.crt")).read(),
                "tls.key": open(os.path.join(gen, f"{n}.key")).read()}

    d = os.path.join(tmp, "secret")
    os.mkdir(d)
    atomic_writer_update(d, pair("a"), "2026_11_23_01")
    b = start(env, '''
[[tls]]
cert = "secret/tls.crt"
key = "secret/tls.key"
hostnames = ["localhost"]
action = "signal:SIGHUP"
''')
    mark = b.mark()
    atomic_writer_update(d, pair("b"), "2026_11_23_02")
    b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20, start=mark)
    sentinel(env, b, 1)
    assert b.count(r"got SIGHUP") == 1
    assert b.count(r"rejected|mismatch|does not match|is missing") == 0
    stop(b)


def test_reload_groups_work_in_baton_dev_too(env):
    tmp = str(env.tmp)
    cfg = os.path.join(tmp, "config", "app.conf")
    write(cfg, "v1\n")
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "{SIGECHO}"
ready = "notify"
[watch]
include_ext = ["go"]
[[reload]]
name = "config"
paths = ["config/app.conf"]
action = "signal:SIGHUP"
''')
    b = env.baton("dev")
    b.wait_line(r"ready \(generation 1,", timeout=20)
    mark = b.mark()
    write(cfg, "v2\n")
    b.wait_line(r"app 1 │ sigecho gen=1 got SIGHUP", timeout=20, start=mark)
    b.send(signal.SIGINT)
    assert b.wait(timeout=20) == 0


def test_reload_signal_mode_signals_the_app_instead_of_a_new_generation(env):
    from conftest import BATON
    b = start(env, "", extra_run='reload_signal = "SIGHUP"')
    r = env.run([BATON, "reload"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "sent SIGHUP to generation 1" in r.stdout + r.stderr
    b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=10)
    mark = b.mark()
    b.send(signal.SIGHUP)  # SIGHUP to baton: the same
    b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=10, start=mark)
    assert b.count(r"generation 2") == 0
    stop(b)


def test_max_draining_kills_the_oldest_draining_generation(env):
    from conftest import BUILD
    ignoreterm = os.path.join(BUILD, "helpers", "ignoreterm")
    tmp = str(env.tmp)
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "{ignoreterm}"
ready = "exec"
stop_timeout = "60s"
max_draining = 1
''')
    b = env.baton("run")
    _, m1 = b.wait_line(r"^ready (\d+)", timeout=20)
    # ready = "exec" cuts over at exec, before the helper ignores SIGTERM: each signal waits
    # for the new generation's own "ready" line (printed once SIGTERM is ignored)
    mark = b.mark()
    b.send(signal.SIGHUP)
    b.wait_line(r"generation 2 serving .*draining 1", timeout=20, start=mark)
    b.wait_line(r"^ready (\d+)", timeout=20, start=mark)
    mark = b.mark()
    b.send(signal.SIGHUP)
    b.wait_line(r"generation 3 serving .*draining 2", timeout=20, start=mark)
    b.wait_line(r"^ready (\d+)", timeout=20, start=mark)
    b.wait_line(r"too many draining generations: killing generation 1", timeout=20)
    b.wait_line(r"generation 1 drained \(killed by SIGKILL\)", timeout=20)
    # generation 2 keeps draining (it ignores SIGTERM; its stop_timeout is 60 s)
    b.send(signal.SIGINT)
    # two signals sent back to back may arrive as one (standard signals don't queue)
    b.wait_line(r"SIGINT: stopping every generation", timeout=20)
    b.send(signal.SIGINT)  # a second SIGINT kills everything now
    b.wait_line(r"SIGINT again: killing every generation", timeout=20)
    assert b.wait(timeout=20) == 0


def test_fifo_and_special_files_in_a_watched_dir_never_block_baton(env):
    """A FIFO (or a socket, a device node) in a watched directory counts by name and type: it
    is never opened, so hashing cannot block on it (a blocking open() of a FIFO waits for a
    writer for ever). Every wait here has a deadline, so the unfixed code fails, not hangs."""
    import socket as socketmod
    from conftest import BATON
    tmp = str(env.tmp)
    d = os.path.join(tmp, "confdir")
    write(os.path.join(d, "a.conf"), "v1\n")
    os.symlink(os.path.join(d, "a.conf"), os.path.join(d, "link.conf"))  # followed
    os.mkfifo(os.path.join(d, "early.fifo"))  # there at start-up (the first hash)
    b = start(env, '''
[[reload]]
name = "confdir"
paths = ["confdir"]
action = "signal:SIGHUP"
''')
    os.mkfifo(os.path.join(d, "pipe"))
    os.symlink("/dev/null", os.path.join(d, "null"))  # a device, through a symlink
    srv = socketmod.socket(socketmod.AF_UNIX, socketmod.SOCK_STREAM)
    srv.bind(os.path.join(d, "sock"))
    try:
        mark = b.mark()
        write(os.path.join(d, "a.conf"), "v2\n")
        b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20, start=mark)
        st = env.run([BATON, "status"], timeout=10)
        assert st.returncode == 0, st.stdout + st.stderr
        assert "generation 1" in st.stdout or "serving" in st.stdout, st.stdout
        # again, through the symlink: still followed, the FIFO still skipped
        mark = b.mark()
        write(os.path.join(d, "a.conf"), "v3\n")
        b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20, start=mark)
        sentinel(env, b, 1)
        assert b.count(r"got SIGHUP") == 2
        assert b.count(r"rejected") == 0
    finally:
        srv.close()
    stop(b)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_rejected_certificate_crash_restart_warns_and_reverting_releases_the_hold(env):
    """A crash while a [[tls]] pair is rejected restarts the app anyway (holding it would leave
    nothing serving), with a warning; putting the last good files back ends the rejection and
    runs the held reload."""
    from conftest import BATON
    tmp = str(env.tmp)
    certs, gen = os.path.join(tmp, "certs"), os.path.join(tmp, "gen")
    os.makedirs(certs)
    os.makedirs(gen)
    make_pair(gen, "a")
    make_pair(gen, "w", host="other.example")

    def install(n):
        shutil.copy(os.path.join(gen, f"{n}.key"), os.path.join(certs, "tls.key"))
        shutil.copy(os.path.join(gen, f"{n}.crt"), os.path.join(certs, "tls.crt"))

    install("a")
    b = start(env, '''
[[tls]]
cert = "certs/tls.crt"
key = "certs/tls.key"
hostnames = ["localhost"]
action = "signal:SIGHUP"
''', extra_run="restart_on_crash = true")
    mark = b.mark()
    install("w")
    b.wait_line(r'tls "certs/tls\.crt" rejected: .*does not cover "localhost"', timeout=20,
                start=mark)
    r = env.run([BATON, "reload"], timeout=30)
    assert r.returncode != 0
    assert re.search(r'certificate "certs/tls\.crt" rejected: .*does not cover "localhost".* — '
                     r'reload held, generation 1 keeps serving', r.stdout + r.stderr), r.stderr
    _, m = b.wait_line(r"sigecho ready pid=(\d+) gen=1", timeout=5)
    os.kill(int(m.group(1)), signal.SIGKILL)
    b.wait_line(r'certificate "certs/tls\.crt" rejected: .* — restarting generation 1 on it '
                r'anyway: nothing else can serve', timeout=20, start=mark)
    b.wait_line(r"generation 2 serving", timeout=20, start=mark)
    mark = b.mark()
    install("a")  # back to the last good pair: nothing to apply but the held reload
    b.wait_line(r'tls "certs/tls\.crt" is back to its last good version', timeout=20, start=mark)
    b.wait_line(r"the certificates pass again — starting the held reload", timeout=20,
                start=mark)
    b.wait_line(r"generation 3 serving", timeout=20, start=mark)
    assert b.count(r"got SIGHUP", start=mark) == 0
    r = env.run([BATON, "reload"], timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    stop(b)


def test_check_output_and_file_names_are_printed_escaped_on_one_line(env):
    """Control characters from outside (a check's output, a file name) are shown as \\x1b, \\r,
    \\n text: they can neither drive the terminal nor forge a line of baton's own."""
    tmp = str(env.tmp)
    cfg = os.path.join(tmp, "config", "app.conf")
    write(cfg, "v1\n")
    write(os.path.join(tmp, "check.sh"),
          "printf 'bad \\033[31mred\\033[0m\\rbaton: generation 9 serving (ready in 1 ms)\\n'\n"
          "exit 1\n")
    b = start(env, '''
[[reload]]
name = "config"
paths = ["config/app.conf"]
check = "sh check.sh"
action = "signal:SIGHUP"
''')
    mark = b.mark()
    write(cfg, "v2\n")
    b.wait_line(r'reload "config" rejected: check "sh check.sh" exited with status 1', timeout=20,
                start=mark)
    sentinel(env, b, 1)
    out = b.output()
    assert "\x1b" not in out and "\r" not in out, repr(out[-500:])
    lines = b.lines[mark:]
    want = r"  │ bad \x1b[31mred\x1b[0m\rbaton: generation 9 serving (ready in 1 ms)"
    assert any(line.startswith(want) for line in lines), lines
    assert b.count(r"^baton: generation 9") == 0
    stop(b)

    # baton dev prints the names of changed files: one in a watched reload directory
    d = os.path.join(tmp, "confdir")
    write(os.path.join(d, "a.conf"), "1\n")
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "{SIGECHO}"
ready = "notify"
[watch]
include_ext = ["conf"]
[[reload]]
name = "confdir"
paths = ["confdir"]
action = "signal:SIGHUP"
''')
    b = env.baton("dev")
    b.wait_line(r"ready \(generation 1,", timeout=20)
    mark = b.mark()
    write(os.path.join(d, "x\n[baton] generation 9 serving\x1b[2J.conf"), "2\n")
    b.wait_line(r'"confdir/x\\n\[baton\] generation 9 serving\\x1b\[2J\.conf"', timeout=20,
                start=mark)
    b.wait_line(r"ready \(generation 2,", timeout=20, start=mark)
    out = b.output()
    assert "\x1b" not in out, repr(out[-500:])
    assert b.count(r"^\[baton\] generation 9") == 0
    b.send(signal.SIGINT)
    assert b.wait(timeout=20) == 0
