"""The HTTPS front (`[[listen]] proxy = "https"`, issue 13), against the real binary and the
plain Gin app tests/apps/gin-shutdown on its private socket: baton terminates TLS with the
certificates of the [[tls]] groups the listener names and swaps them live, without a new
generation; a rejected replacement keeps the old certificate. Certificates are made with the
openssl command line during the run (no committed private keys).

No test sleeps: they wait for log lines and answers, each under a deadline."""
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl

import pytest

from conftest import BATON, wait_until
from certutil import der_sha256, make_certs, tls_request
from devutil import built_apps, free_port, get, write
from loadutil import Workers

pytestmark = [pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl"),
              pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")]

# ec NAME CN: a self-signed P-256 pair for CN; dated (certutil.CA_FUNCS): one with fixed dates
GEN = r"""
ec() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $1.key \
	-out $1.crt -days 90 -subj "/CN=$2" -addext "subjectAltName=DNS:$2"; }
ec site1 localhost
ec site2 localhost
ec site3 localhost
ec b1 b.test
ec b2 b.test
ec c1 c.test
dated expired 20200101000000Z 20200201000000Z localhost
"""

SWAPPED = r'tls "certs/{g}\.crt" changed and passed its checks — new TLS handshakes use it$'


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pairs")
    make_certs(d, GEN)
    return str(d)


def client_ctx(alpn=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def handshake(port, sni="localhost", alpn=None):
    """A fresh TLS handshake: (sha256 of the peer certificate, ALPN protocol selected)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with client_ctx(alpn).wrap_socket(raw, server_hostname=sni) as s:
            return (hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest(),
                    s.selected_alpn_protocol())


def status_body(data):
    """A raw HTTP/1.1 answer: (status, body)."""
    head, _, body = data.partition(b"\r\n\r\n")
    return (int(head.split(b" ", 2)[1]) if head else 0), body.decode("utf-8", "replace")


def https_get(port, path, sni="localhost"):
    """One request on a fresh TLS connection (Connection: close): (status, body)."""
    _, data = tls_request(port, client_ctx(), sni,
                          f"GET {path} HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n"
                          .encode())
    return status_body(data)


class Load(Workers):
    """HTTPS clients in threads: `fresh` of them open a new TLS connection for every request
    (and record the certificate each handshake saw), `kept` of them keep one connection for
    every request. Every answer must be 200 "gin-shutdown v1 gen=N"; anything else, and any
    failed handshake, is a failure. A keep-alive worker never reconnects silently: a dropped
    connection is a failure, and `connects` counts how many it opened."""

    join_timeout = 15

    def __init__(self, port, fresh=2, kept=2, sni="localhost"):
        self.port, self.sni = port, sni
        self.kept_ok = 0
        self.gens = set()
        self.certs = set()
        self.last_cert = None
        self.connects = [0] * kept
        super().__init__([(self._fresh, ())] * fresh + [(self._kept, (i,)) for i in range(kept)])

    def _check(self, status, body):
        if status != 200 or "gen=" not in body:
            raise AssertionError(f"answered {status} {body[:80]!r}")
        return int(body.rsplit("gen=", 1)[1])

    def _fresh(self):
        ctx = client_ctx()
        while not self._stop.is_set():
            try:
                cert, data = tls_request(self.port, ctx, self.sni,
                                         b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                                         b"Connection: close\r\n\r\n")
                gen = self._check(*status_body(data))
                with self.lock:
                    self.ok += 1
                    self.gens.add(gen)
                    self.certs.add(cert)
                    self.last_cert = cert
            except Exception as e:  # refused, reset, failed handshake, wrong answer
                with self.lock:
                    self.failures.append("fresh: " + repr(e))
            self._stop.wait(0.002)

    def _connect(self, i):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10,
                                           context=client_ctx())
        conn.connect()
        self.connects[i] += 1
        return conn

    def _get(self, conn):
        conn.request("GET", "/", headers={"Host": "localhost"})
        r = conn.getresponse()
        return self._check(r.status, r.read().decode("utf-8", "replace"))

    def record(self, gen):
        self.kept_ok += 1
        self.gens.add(gen)

    def _kept(self, i):
        self.keepalive_loop(f"kept {i}", lambda: self._connect(i), self._get, pause=0.002)

    def wait_more(self, k=5, timeout=30.0, kept=False):
        """k more successful requests from now (of the keep-alive workers alone if kept)."""
        super().wait_more(k, timeout, attr="kept_ok" if kept else "ok",
                          unit=f"{'keep-alive ' if kept else ''}successful HTTPS requests")


class Project:
    """gin-shutdown under `baton run` behind HTTPS listeners; certs/ holds the served pairs."""

    def __init__(self, env, pairs):
        self.env, self.pairs = env, pairs
        self.dir = str(env.tmp)
        self.certs = os.path.join(self.dir, "certs")
        os.makedirs(self.certs, exist_ok=True)

    def install(self, group, pair):
        """Like certbot: the key first, then the certificate, each a separate in-place write."""
        shutil.copy(os.path.join(self.pairs, pair + ".key"), os.path.join(self.certs, group + ".key"))
        shutil.copy(os.path.join(self.pairs, pair + ".crt"), os.path.join(self.certs, group + ".crt"))

    def install_atomic(self, group, pair):
        """Like cert-manager's volume update: each file renamed into place."""
        for ext in (".key", ".crt"):
            tmp = os.path.join(self.certs, "." + group + ext + ".tmp")
            shutil.copy(os.path.join(self.pairs, pair + ext), tmp)
            os.rename(tmp, os.path.join(self.certs, group + ext))

    def fp(self, pair):
        return der_sha256(os.path.join(self.pairs, pair + ".crt"))

    def config(self, groups, listeners):
        """groups: {name: hostname}; listeners: [(name, port, proxy, tls list or None)]."""
        app = os.path.join(built_apps(), "gin-shutdown")
        out = [f'''[run]
cmd = '{app}'
ready = "http:/healthz"
ready_timeout = "30s"
stop_timeout = "10s"
env = {{ GIN_MODE = "release" }}
''']
        for name, host in groups.items():
            out.append(f'[[tls]]\nname = "{name}"\ncert = "certs/{name}.crt"\n'
                       f'key = "certs/{name}.key"\nhostnames = ["{host}"]\n')
        for name, port, proxy, tls in listeners:
            out.append(f'[[listen]]\nname = "{name}"\naddress = "127.0.0.1:{port}"\n'
                       f'proxy = "{proxy}"\n')
            if tls is not None:
                out.append("tls = [" + ", ".join(f'"{t}"' for t in tls) + "]\n")
        write(os.path.join(self.dir, "baton.toml"), "\n".join(out))

    def status(self):
        st = self.env.run([BATON, "status", "--json"], timeout=20)
        assert st.returncode == 0, st.stdout + st.stderr
        return json.loads(st.stdout)

    def status_text(self):
        st = self.env.run([BATON, "status"], timeout=20)
        assert st.returncode == 0, st.stdout + st.stderr
        return st.stdout


def start(env):
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=60)
    return b


def stop(b):
    b.send(signal.SIGTERM)
    assert b.wait(timeout=60) == 0, b.output()[-2000:]


def one_site(env, pairs, pair="site1"):
    """A Project serving `pair` as the [[tls]] group "site" (localhost) on one HTTPS listener,
    not started: (project, port)."""
    p = Project(env, pairs)
    port = free_port()
    p.install("site", pair)
    p.config({"site": "localhost"}, [("web", port, "https", ["site"])])
    return p, port


def pids(p):
    st = p.status()
    return st["serving"], sorted(g["pid"] for g in st["generations"])


# ---- (a) rotation under HTTPS load ----

@pytest.mark.timeout(240)
def test_rotation_under_https_load_keeps_the_generation(env, pairs):
    """Key and certificate rotated twice (certbot-style in-place writes, then renames) while
    fresh-connection and keep-alive HTTPS clients run: each fresh handshake after the swap sees
    the new certificate at once, the keep-alive connections opened before it carry on, the
    same generation (same pid) answers everything, no handshake or request fails."""
    p, port = one_site(env, pairs)
    b = start(env)
    before = pids(p)
    assert before[0] == 1, before
    fp1, fp2, fp3 = p.fp("site1"), p.fp("site2"), p.fp("site3")
    assert handshake(port)[0] == fp1
    with Load(port) as load:
        load.wait_more(10)
        load.wait_more(5, kept=True)
        for install, pair, fp in ((p.install, "site2", fp2), (p.install_atomic, "site3", fp3)):
            mark = b.mark()
            install("site", pair)
            b.wait_line(SWAPPED.format(g="site"), timeout=30, start=mark)
            assert handshake(port)[0] == fp, pair  # at once: the swap precedes the log line
            wait_until(lambda: load.last_cert == fp, timeout=30, what=f"load sees {pair}")
            load.wait_more(10)
            load.wait_more(5, kept=True)
            assert b.count(r"rejected|generation 2|cannot load", start=mark) == 0, b.output()
    assert load.failures == [], load.failures[:5]
    assert load.certs == {fp1, fp2, fp3}
    assert load.gens == {1}
    assert load.connects == [1, 1], load.connects  # never dropped: no reconnect
    assert pids(p) == before
    assert b.count(r"starting a new generation|signalling the app") == 0
    print(f"https requests: {load.ok} ({load.kept_ok} keep-alive), failures: 0")
    stop(b)


# ---- (b) an expired replacement is rejected, the old one keeps serving ----

@pytest.mark.timeout(240)
def test_expired_replacement_rejected_then_good_one_accepted(env, pairs):
    """An expired pair is rejected (logged, in `baton status` and its JSON), then a certificate
    without its key and a truncated one: the first certificate keeps serving fresh handshakes
    and the load throughout. Then a good pair is taken at once and the status clears."""
    p, port = one_site(env, pairs)
    b = start(env)
    before = pids(p)
    fp1, fp2 = p.fp("site1"), p.fp("site2")
    with Load(port, fresh=1, kept=1) as load:
        load.wait_more(5)
        mark = b.mark()
        p.install("site", "expired")
        line = b.wait_line(r'tls "certs/site\.crt" rejected: "certs/site\.crt": expired \d+ days '
                           r'ago .* — the HTTPS front keeps serving the previous certificate',
                           timeout=30, start=mark)
        assert line
        # the old certificate keeps serving, to fresh handshakes and to the load
        assert handshake(port)[0] == fp1
        load.wait_more(5)
        assert load.last_cert == fp1
        st = p.status()
        grp = [g for g in st["reload_groups"] if g["name"] == "certs/site.crt"]
        assert len(grp) == 1 and grp[0]["ok"] is False, st
        assert re.search(r"expired \d+ days ago", grp[0]["error"]), grp
        assert re.search(r'tls "certs/site\.crt": rejected, applied 0.* — .*expired',
                         p.status_text()), p.status_text()
        # other bad replacements, each rejected with its reason while the first one serves: a
        # certificate whose key never comes (after the in-flux retry gives up), a truncated one
        crt = os.path.join(p.certs, "site.crt")
        with open(os.path.join(pairs, "site2.crt")) as f:
            pem = f.read()
        for why, text in ((r"the private key does not match the certificate", pem),
                          (r'"certs/site\.crt": truncated', pem[:len(pem) // 2])):
            mark = b.mark()
            write(crt, text)
            b.wait_line(r'tls "certs/site\.crt" rejected: .*' + why, timeout=30, start=mark)
            assert handshake(port)[0] == fp1, why
            load.wait_more(3)
            assert load.last_cert == fp1, why
        # a good pair is accepted and served; the status clears
        mark = b.mark()
        p.install("site", "site2")
        b.wait_line(SWAPPED.format(g="site"), timeout=30, start=mark)
        assert handshake(port)[0] == fp2
        wait_until(lambda: load.last_cert == fp2, timeout=30, what="load sees the new one")
        load.wait_more(5)
        grp = [g for g in p.status()["reload_groups"] if g["name"] == "certs/site.crt"][0]
        assert grp["ok"] is True and grp["error"] is None and grp["applied"] == 1, grp
    assert load.failures == [], load.failures[:5]
    assert load.certs == {fp1, fp2}
    assert load.gens == {1}
    assert pids(p) == before
    stop(b)


# ---- (c) several ports, SNI, ALPN, X-Forwarded-Proto ----

@pytest.mark.timeout(240)
def test_several_https_ports_sni_alpn_and_plain_http(env, pairs):
    """Port A serves groups "site" (localhost, the default) and "b" (b.test), port B serves
    "c" (c.test), and a plain http listener sits beside them. SNI picks the certificate on A;
    a name no group covers, or no SNI, gets the default; ALPN says http/1.1; the app sees
    X-Forwarded-Proto https on both TLS ports and http on the plain one. Swapping "b" changes
    only b.test's handshakes."""
    p = Project(env, pairs)
    a, c, plain = free_port(), free_port(), free_port()
    p.install("site", "site1")
    p.install("b", "b1")
    p.install("c", "c1")
    p.config({"site": "localhost", "b": "b.test", "c": "c.test"},
             [("a", a, "https", ["site", "b"]), ("c", c, "https", ["c"]),
              ("plain", plain, "http", None)])
    b = start(env)
    site, b1, b2, c1 = p.fp("site1"), p.fp("b1"), p.fp("b2"), p.fp("c1")
    assert handshake(a, "localhost")[0] == site
    assert handshake(a, "b.test")[0] == b1
    assert handshake(a, "nobody.test")[0] == site
    assert handshake(a, None)[0] == site
    assert handshake(c, "c.test")[0] == c1
    assert handshake(c, "localhost")[0] == c1  # its only group, whatever the name
    for port in (a, c):
        assert handshake(port, alpn=["h2", "http/1.1"])[1] == "http/1.1"
        assert handshake(port, alpn=["http/1.1"])[1] == "http/1.1"
        assert handshake(port)[1] is None  # no ALPN offered: none selected, still served
        assert https_get(port, "/header?name=X-Forwarded-Proto") == (200, "https\n")
        assert https_get(port, "/") == (200, "gin-shutdown v1 gen=1\n")
    assert get(plain, "/header?name=X-Forwarded-Proto") == (200, "http\n")
    assert get(plain, "/") == (200, "gin-shutdown v1 gen=1\n")
    # a client that says it was https is not believed on the plain port
    hc = http.client.HTTPConnection("127.0.0.1", plain, timeout=10)
    hc.request("GET", "/header?name=X-Forwarded-Proto",
               headers={"X-Forwarded-Proto": "https", "Connection": "close"})
    r = hc.getresponse()
    assert (r.status, r.read()) == (200, b"http\n")
    hc.close()
    # swap "b": only b.test's handshakes change
    mark = b.mark()
    p.install("b", "b2")
    b.wait_line(SWAPPED.format(g="b"), timeout=30, start=mark)
    assert handshake(a, "b.test")[0] == b2
    assert handshake(a, "localhost")[0] == site
    assert handshake(c, "c.test")[0] == c1
    assert b.count(r"generation 2") == 0
    stop(b)


# ---- (d) bad input ----

def test_https_config_mistakes_are_refused_with_the_reason(env, pairs):
    """An https listener naming no existing group, a tls list on a plain listener, an https
    listener with no tls list: `baton check` and `baton run` both refuse, naming the key."""
    p = Project(env, pairs)
    p.install("site", "site1")
    port, plain = free_port(), free_port()
    cases = [
        ([("web", port, "https", ["site", "nope"])],
         "'listen.tls': no [[tls]] group is named \"nope\" (give the group name = \"nope\")"),
        ([("web", port, "https", ["site"]), ("plain", plain, "http", ["site"])],
         "'listen.tls': listener 'plain' does not terminate TLS: 'tls' needs proxy = "
         "\"https\""),
        ([("web", port, "https", None)],
         "listener 'web': proxy = \"https\" needs 'tls', the names of the [[tls]] groups "
         "whose certificates it serves"),
    ]
    for listeners, msg in cases:
        p.config({"site": "localhost"}, listeners)
        r = env.run([BATON, "check"], timeout=30)
        assert r.returncode == 1, (msg, r.stdout, r.stderr)
        assert msg in r.stderr, r.stderr
        r = env.run([BATON, "run"], timeout=60)
        assert r.returncode != 0, (msg, r.stdout, r.stderr)
        assert msg in r.stderr, r.stderr
    # the good config passes check: the mistakes above were the only problems
    p.config({"site": "localhost"}, [("web", port, "https", ["site"])])
    r = env.run([BATON, "check"], timeout=30)
    assert r.returncode == 0, r.stderr


def test_https_start_refuses_a_key_that_does_not_match(env, pairs):
    """At start a group whose key is another certificate's stops `baton run` with the file
    named; no generation is started."""
    p, port = one_site(env, pairs)
    shutil.copy(os.path.join(pairs, "site2.key"), os.path.join(p.certs, "site.key"))
    r = env.run([BATON, "run"], timeout=60)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "certs/site." in r.stderr and "[[tls]] 'site'" in r.stderr, r.stderr
    assert env.leftovers() == []  # no generation was started


@pytest.mark.timeout(240)
def test_https_start_serves_an_expired_certificate_until_a_good_one_comes(env, pairs):
    """A certificate that loads but fails a check at start (expired) is served, with the
    problem logged and in `baton status` (as HAProxy and nginx do: refusing to start would take
    the site down); a good pair written later is taken like any change."""
    p, port = one_site(env, pairs, "expired")
    b = start(env)
    b.wait_line(r'tls "certs/site\.crt": "certs/site\.crt": expired \d+ days ago', timeout=10)
    assert handshake(port)[0] == p.fp("expired")
    assert https_get(port, "/") == (200, "gin-shutdown v1 gen=1\n")
    grp = [g for g in p.status()["reload_groups"] if g["name"] == "certs/site.crt"][0]
    assert grp["ok"] is False and "expired" in grp["error"], grp
    mark = b.mark()
    p.install("site", "site1")
    b.wait_line(SWAPPED.format(g="site"), timeout=30, start=mark)
    assert handshake(port)[0] == p.fp("site1")
    assert b.count(r"generation 2") == 0
    stop(b)
