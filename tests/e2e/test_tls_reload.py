"""[[tls]] rotation under continuous HTTPS load against examples/gin-multi (which reloads its
certificate on SIGHUP): a valid new pair is served after the rotation with zero failed
handshakes or requests; each kind of bad pair is rejected with its own message while the old
certificate keeps being served. Certificates are generated with openssl during the run."""
import os
import re
import shutil
import signal
import ssl
import threading

import pytest

from conftest import wait_until
from certutil import der_sha256, make_certs, tls_request
from devutil import built_apps, free_port, write
from test_check_tls import GEN

pytestmark = [pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl"),
              pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")]


class HttpsLoad:
    """New TLS connection per request; records the peer certificate of every handshake."""

    def __init__(self, port):
        self.port = port
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE
        self.ok = 0
        self.failures = []
        self.last_cert = None
        self.seen = set()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def one(self):
        cert, data = tls_request(
            self.port, self.ctx, "example.com",
            b"GET /healthz HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
            timeout=5)
        if not data.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(data[:80])
        return cert

    def _run(self):
        while not self._stop.is_set():
            try:
                c = self.one()
                self.ok += 1
                self.last_cert = c
                self.seen.add(c)
            except Exception as e:
                self.failures.append(repr(e))
            self._stop.wait(0.005)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(timeout=10)


BAD = [
    ("expired", "old.crt", "old.key", r'"certs/tls\.crt": expired \d+ days ago'),
    ("wrong hostname", "other.crt", "other.key", None),
    ("key from another pair", "good.crt", "other.key",
     r'"certs/tls\.key": the private key does not match the certificate'),
    ("empty cert", "empty.crt", "good.key", r'"certs/tls\.crt": empty file'),
    ("truncated cert", "trunc.crt", "good.key", r'"certs/tls\.crt": truncated'),
    ("encrypted key", "good.crt", "enc.key", r'"certs/tls\.key": the private key is encrypted'),
]


def tls_app(env, extra_pairs, admin=False):
    """Certificates made by GEN plus extra_pairs (more GEN lines), gin-multi under `baton run`
    with an http and an https listener (and a unix admin one) and a [[tls]] group on
    certs/tls.*, the good pair installed. Returns (gen dir, install(crt, key), http, https)."""
    gen = os.path.join(str(env.tmp), "gen")
    os.makedirs(gen)
    make_certs(gen, GEN + extra_pairs)
    app = os.path.join(built_apps(), "gin-multi")
    tmp = str(env.tmp)
    certs = os.path.join(tmp, "certs")
    os.makedirs(certs)

    def install(crt, key):
        # like certbot: key first, then the certificate, two separate writes
        shutil.copy(os.path.join(gen, key), os.path.join(certs, "tls.key"))
        shutil.copy(os.path.join(gen, crt), os.path.join(certs, "tls.crt"))

    install("good.crt", "good.key")
    http, https = free_port(), free_port()
    admin_listen = '[[listen]]\nname = "admin"\naddress = "unix:admin.sock"\n' if admin else ""
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "{app}"
ready = "notify"
stop_timeout = "10s"
env = {{ TLS_CERT = "certs/tls.crt", TLS_KEY = "certs/tls.key", GIN_MODE = "release" }}
[[listen]]
name = "http"
address = "127.0.0.1:{http}"
[[listen]]
name = "https"
address = "127.0.0.1:{https}"
{admin_listen}[[tls]]
cert = "certs/tls.crt"
key = "certs/tls.key"
hostnames = ["example.com"]
action = "signal:SIGHUP"
''')
    return gen, install, http, https


@pytest.mark.timeout(240)
def test_rotation_under_https_load(env):
    # one more pair for www.example.com only: "wrong hostname" for a config asking example.com
    gen, install, http, https = tls_app(
        env, '\nCN=www.example.com ec other2 "-addext subjectAltName=DNS:www.example.com"'
        '\nCN=example.com ec next "-addext subjectAltName=DNS:example.com"\n', admin=True)
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    good, nxt = der_sha256(os.path.join(gen, "good.crt")), der_sha256(os.path.join(gen, "next.crt"))
    bad_messages = dict((name, msg) for name, _, _, msg in BAD)
    bad_messages["wrong hostname"] = r'"certs/tls\.crt": does not cover "example\.com"'
    with HttpsLoad(https) as load:
        wait_until(lambda: load.last_cert == good, timeout=10, what="the first certificate")
        mark = b.mark()
        install("next.crt", "next.key")
        b.wait_line(r'tls "certs/tls\.crt": sent SIGHUP', timeout=30, start=mark)
        wait_until(lambda: load.last_cert == nxt, timeout=10, what="the new certificate")
        assert b.count(r"rejected", start=mark) == 0
        for name, crt, key, _ in BAD:
            if name == "wrong hostname":
                crt, key = "other2.crt", "other2.key"
            mark = b.mark()
            install(crt, key)
            b.wait_line(r'tls "certs/tls\.crt" rejected: ' + bad_messages[name], timeout=30,
                        start=mark)
            assert b.count(r"sent SIGHUP", start=mark) == 0, name
            n = load.ok
            wait_until(lambda: load.ok > n + 3, timeout=10, what="more requests")
            assert load.last_cert == nxt, name
    assert load.failures == [], load.failures[:5]
    assert load.seen == {good, nxt}
    print(f"https requests: {load.ok}, failures: {len(load.failures)}")
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0


@pytest.mark.timeout(240)
def test_rejected_certificate_holds_every_reload_until_the_files_pass(env):
    """While a [[tls]] pair is rejected, no new generation may start on it (the app would read
    the rejected files): `baton reload` and SIGHUP are refused with the reason, the serving
    generation is untouched, no request fails. Once the files pass, the held reload runs by
    itself, and the next `baton reload` succeeds."""
    import json
    from conftest import BATON
    from devutil import Poller
    gen, install, http, https = tls_app(
        env, '\nCN=example.com ec next "-addext subjectAltName=DNS:example.com"\n')

    def status():
        st = env.run([BATON, "status", "--json"], timeout=20)
        assert st.returncode == 0, st.stdout + st.stderr
        return json.loads(st.stdout)

    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=60)
    pid1 = [g["pid"] for g in status()["generations"] if g["id"] == 1][0]
    good, nxt = der_sha256(os.path.join(gen, "good.crt")), der_sha256(os.path.join(gen, "next.crt"))
    held = (r'certificate "certs/tls\.crt" rejected: expired \d+ days ago \(notAfter '
            r'2020-02-01 00:00:00 UTC\) — reload held, generation 1 keeps serving')
    with Poller(http) as poll, HttpsLoad(https) as load:
        poll.wait_more(3, timeout=30)
        wait_until(lambda: load.last_cert == good, timeout=30, what="the first certificate")
        mark = b.mark()
        install("old.crt", "old.key")  # expired in 2020
        b.wait_line(r'tls "certs/tls\.crt" rejected: "certs/tls\.crt": expired', timeout=30,
                    start=mark)
        r = env.run([BATON, "reload"], timeout=60)
        assert r.returncode != 0, r.stdout + r.stderr
        assert re.search(held, r.stdout + r.stderr), r.stdout + r.stderr
        b.wait_line(r"reload \(baton reload\): " + held, timeout=10, start=mark)
        b.send(signal.SIGHUP)
        b.wait_line(r"reload \(SIGHUP\): " + held, timeout=10, start=mark)
        st = status()
        assert st["serving"] == 1, st
        assert [g["pid"] for g in st["generations"]] == [pid1], st
        assert st["last_reload"]["ok"] is False and re.search(held, st["last_reload"]["reason"])
        assert [g["ok"] for g in st["reload_groups"]] == [False], st
        poll.wait_more(3, timeout=30)
        n = load.ok
        wait_until(lambda: load.ok >= n + 3, timeout=30, what="more https requests")
        assert load.last_cert == good
        assert b.count(r"generation 2", start=mark) == 0
        # the release: a valid pair passes, and the held reload runs by itself (once)
        mark = b.mark()
        install("next.crt", "next.key")
        b.wait_line(r"the certificates pass again — starting the held reload", timeout=30,
                    start=mark)
        b.wait_line(r"generation 2 serving", timeout=60, start=mark)
        wait_until(lambda: load.last_cert == nxt, timeout=30, what="the new certificate")
        r = env.run([BATON, "reload"], timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        b.wait_line(r"generation 3 serving", timeout=60, start=mark)
        poll.wait_more(3, timeout=30)
        assert b.count(r"generation \d+ serving", start=mark) == 2
    assert poll.failures == [], poll.failures[:5]
    assert load.failures == [], load.failures[:5]
    assert load.seen == {good, nxt}
    b.send(signal.SIGTERM)
    assert b.wait(timeout=30) == 0
