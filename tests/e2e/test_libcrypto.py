"""libcrypto is loaded only when a certificate is checked (src/tls/ossl.c): baton itself links no
OpenSSL, `baton watch` never maps it, `baton check` and `baton run` load it for their [[tls]]
pairs, and a libcrypto that cannot be used is an ordinary certificate error with the reason,
not a crash. libssl goes through the same loader: TLS to an https:// etcd endpoint that cannot
load it (or libcrypto) says which library and package it needs. The unusable library is a real
one: an empty shared object named libcrypto.so.3 (or libssl.so.3), found first through
LD_LIBRARY_PATH (built with the C compiler during the test)."""
import json
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import BATON, BUILD
from devutil import free_port, write

SIGECHO = os.path.join(BUILD, "helpers", "sigecho")
NEED = (r"certificate checks need OpenSSL's libcrypto \(libcrypto\.so\.3, Debian package "
        r"libssl3\): ")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def maps(pid):
    with open(f"/proc/{pid}/maps") as f:
        return f.read()


def make_pair(d, name):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key", "-out",
                    f"{name}.crt", "-days", "30", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost"],
                   cwd=d, check=True, capture_output=True, timeout=60)


@pytest.fixture
def certs(tmp_path):
    """tmp/certs with two pairs, a and b, and tls.crt/tls.key = a."""
    d = tmp_path / "certs"
    d.mkdir()
    make_pair(d, "a")
    make_pair(d, "b")
    shutil.copy(d / "a.crt", d / "tls.crt")
    shutil.copy(d / "a.key", d / "tls.key")
    return d


def fake_lib(tmp_path, soname):
    """A directory holding a library named soname without any of OpenSSL's functions."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("needs a C compiler")
    d = tmp_path / "fakelib"
    d.mkdir()
    (d / "fake.c").write_text("int baton_test_not_openssl;\n")
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(d / soname), str(d / "fake.c")],
                   check=True, capture_output=True, timeout=60)
    return d


@pytest.fixture
def fake_libcrypto(tmp_path):
    return fake_lib(tmp_path, "libcrypto.so.3")


def test_binary_needs_no_libcrypto(env):
    # what the dynamic loader maps for any baton command (the ldd view, without ldd)
    r = env.run([BATON, "--version"], env={"LD_TRACE_LOADED_OBJECTS": "1"})
    assert r.returncode == 0, r.stderr
    assert "libc.so" in r.stdout
    assert "libcrypto" not in r.stdout, r.stdout
    assert env.run([BATON, "--version"]).returncode == 0


def test_watch_does_not_map_libcrypto(env, tmp_path):
    root = tmp_path / "proj"
    write(str(root / "main.go"), "package main\n")
    write(str(root / "pkg" / "a.go"), "package pkg\n")
    b = env.baton("watch", cwd=str(root))
    b.wait_line(r"^watching \d+ directories \(\d+ files\) in [0-9.]+ ms$", timeout=10)
    m = maps(b.pid)
    assert "libc.so" in m
    assert "libcrypto" not in m
    b.send(signal.SIGTERM)
    assert b.wait(timeout=10) == 0, b.output()


def tls_config(cert="certs/tls.crt", key="certs/tls.key"):
    return f'''[run]
cmd = "{SIGECHO}"
ready = "notify"
stop_timeout = "2s"
[[tls]]
cert = "{cert}"
key = "{key}"
hostnames = ["localhost"]
action = "signal:SIGHUP"
'''


@needs_openssl
def test_check_loads_libcrypto_and_validates(env, tmp_path, certs):
    write(str(tmp_path / "baton.toml"), tls_config())
    r = env.run([BATON, "check"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert re.search(r'^"certs/tls\.crt": ok — serial [0-9A-F]+, valid until ', r.stdout, re.M)
    write(str(tmp_path / "baton.toml"), tls_config(key="certs/b.key"))
    r = env.run([BATON, "check"], cwd=str(tmp_path))
    assert r.returncode == 1
    assert ('"certs/b.key": the private key does not match the certificate (another ECDSA '
            'P-256 key)') in r.stderr


@needs_openssl
def test_check_reports_an_unusable_libcrypto(env, tmp_path, certs, fake_libcrypto):
    write(str(tmp_path / "baton.toml"), tls_config())
    r = env.run([BATON, "check"], cwd=str(tmp_path),
                env={"LD_LIBRARY_PATH": str(fake_libcrypto)})
    assert r.returncode == 1, r.stdout
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr
    assert re.fullmatch('"certs/tls\\.crt": ' + NEED + re.escape(str(fake_libcrypto)) +
                        r"/libcrypto\.so\.3: undefined symbol: \w+", lines[0]), lines[0]
    assert lines[1] == ("baton: baton.toml: the config is valid, its certificates are not "
                        "(1 problem)")


def start_run(env, tmp_path, extra_env=None):
    write(str(tmp_path / "sentinel.txt"), "0\n")
    write(str(tmp_path / "baton.toml"), tls_config() + '''[[reload]]
name = "sentinel"
paths = ["sentinel.txt"]
action = "signal:SIGUSR2"
''')
    b = env.baton("run", cwd=str(tmp_path), env=extra_env)
    b.wait_line(r"sigecho ready pid=\d+ gen=1", timeout=20)
    b.wait_line(r"generation 1 serving", timeout=20)
    return b


def sentinel(tmp_path, b, n):
    """Write the sentinel and wait for its signal: every change before it has been handled."""
    mark = b.mark()
    write(str(tmp_path / "sentinel.txt"), f"{n}\n")
    b.wait_line(r"sigecho gen=\d+ got SIGUSR2", timeout=20, start=mark)


def stop(b):
    b.send(signal.SIGTERM)
    assert b.wait(timeout=20) == 0, b.output()


@needs_openssl
def test_run_loads_libcrypto_for_its_tls_pairs(env, tmp_path, certs):
    b = start_run(env, tmp_path)
    assert b.count(r"rejected|certificate checks need") == 0, b.output()
    assert "libcrypto.so.3" in maps(b.pid)  # the start-up check loaded it
    mark = b.mark()
    shutil.copy(certs / "b.key", certs / "tls.key")
    shutil.copy(certs / "b.crt", certs / "tls.crt")
    b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20, start=mark)
    stop(b)


@needs_openssl
def test_run_reports_an_unusable_libcrypto_and_keeps_serving(env, tmp_path, certs,
                                                             fake_libcrypto):
    b = start_run(env, tmp_path, {"LD_LIBRARY_PATH": str(fake_libcrypto)})
    b.wait_line(r'tls "[^"]+": "certs/tls\.crt": ' + NEED + r".*undefined symbol: \w+",
                timeout=10)
    real = [l for l in maps(b.pid).splitlines()
            if "libcrypto" in l and str(fake_libcrypto) not in l]
    assert not real, real
    # a new pair cannot be checked either: not applied (the same reason is not logged twice),
    # the reason stays in the status, the app keeps running
    shutil.copy(certs / "b.key", certs / "tls.key")
    shutil.copy(certs / "b.crt", certs / "tls.crt")
    sentinel(tmp_path, b, 1)
    assert b.count(r"got SIGHUP") == 0
    st = json.loads(env.run([BATON, "status", "--json"]).stdout)
    groups = {g["name"]: g for g in st["reload_groups"]}
    tls = groups["certs/tls.crt"]
    assert tls["ok"] is False
    assert re.search(NEED + r".*undefined symbol", tls["error"]), tls
    assert b.p.poll() is None
    stop(b)


@pytest.mark.parametrize("lib", ["libssl", "libcrypto"])
def test_tls_to_etcd_reports_an_unusable_openssl_and_starts_nothing(env, tmp_path, lib):
    fake = fake_lib(tmp_path, f"{lib}.so.3")
    # nothing listens on the endpoint: the TLS context is made before any connection
    write(str(tmp_path / "baton.toml"), f'''[run]
cmd = "echo app started; exec {SIGECHO}"
ready = "notify"
stop_timeout = "2s"

[[source]]
name = "appconf"
etcd = ["https://127.0.0.1:{free_port()}"]
key = "/myapp/app.conf"
file = "config/app.conf"
action = "signal:SIGHUP"
initial_timeout = "5s"
''')
    r = env.run([BATON, "run"], cwd=str(tmp_path), env={"LD_LIBRARY_PATH": str(fake)})
    assert r.returncode == 1, r.stdout + r.stderr
    want = (r'^baton: error: source "appconf": TLS to etcd needs OpenSSL\'s ' + lib +
            r" \(" + re.escape(lib) + r"\.so\.3, Debian package libssl3\): " +
            re.escape(f"{fake}/{lib}.so.3") + r": undefined symbol: \w+$")
    assert re.search(want, r.stderr, re.M), r.stderr
    out = r.stdout + r.stderr
    assert not re.search(r"^app started$", out, re.M) and "sigecho ready" not in out, out
    assert not (tmp_path / "config" / "app.conf").exists()
