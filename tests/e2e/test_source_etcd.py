"""[[source]] with a real etcd (Debian's etcd-server 3.4, started per test on free loopback
ports with a temporary data directory): the key's value is in its file before generation 1,
good values are applied once, bad ones rejected with the last good kept, bursts settle into one
apply, an etcd outage and a compacted history are ridden out. The app is the sigecho helper,
started through a shell that first prints the file it finds."""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import urllib.request

import pytest

from conftest import BATON, BUILD, wait_until
from devutil import free_port, write

SIGECHO = os.path.join(BUILD, "helpers", "sigecho")
ETCD = shutil.which("etcd")

pytestmark = pytest.mark.skipif(ETCD is None, reason="etcd (Debian's etcd-server) is not "
                                "installed: apt-get install etcd-server")


class Etcd:
    """One etcd member on loopback ports; stop() and start() keep its data and ports."""

    def __init__(self, env, tls=None):
        self.env = env
        self.dir = os.path.join(str(env.tmp), "etcd-data")
        self.port = free_port()
        self.peer = free_port()
        self.tls = tls  # {"ca", "cert", "key", "client_cert", "client_key"} paths, or None
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.proc = None
        self.ctx = None
        if tls:
            import ssl
            self.ctx = ssl.create_default_context(cafile=tls["ca"])
            self.ctx.load_cert_chain(tls["client_cert"], tls["client_key"])

    def start(self):
        args = [ETCD, "--name", "t", "--data-dir", self.dir,
                "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer}",
                "--initial-cluster", f"t=http://127.0.0.1:{self.peer}",
                "--log-level", "warn"]
        if self.tls:
            args += ["--cert-file", self.tls["cert"], "--key-file", self.tls["key"],
                     "--client-cert-auth", "--trusted-ca-file", self.tls["ca"]]
        self.proc = self.env.start(args)
        wait_until(self.healthy, timeout=30, what="etcd to answer /health")

    def healthy(self):
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=1, context=self.ctx) as r:
                return json.loads(r.read()).get("health") == "true"
        except Exception:
            return False

    def stop(self):
        self.proc.send(signal.SIGTERM)
        self.proc.wait(timeout=20)

    def call(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10, context=self.ctx) as r:
            return json.loads(r.read())

    def put(self, key, value):
        r = self.call("/v3/kv/put", {"key": b64(key), "value": b64(value)})
        return int(r["header"]["revision"])

    def delete(self, key):
        return int(self.call("/v3/kv/deleterange", {"key": b64(key)})["header"]["revision"])

    def txn(self, puts, deletes):
        ops = [{"request_put": {"key": b64(k), "value": b64(v)}} for k, v in puts]
        ops += [{"request_delete_range": {"key": b64(k)}} for k in deletes]
        return int(self.call("/v3/kv/txn", {"success": ops})["header"]["revision"])

    def compact(self, rev):
        self.call("/v3/kv/compaction", {"revision": str(rev), "physical": True})


def b64(s):
    return base64.b64encode(s.encode()).decode()


@pytest.fixture
def etcd(env):
    e = Etcd(env)
    e.start()
    return e


def config(env, etcd_urls, source, debounce="50ms", max_wait="1s"):
    tmp = str(env.tmp)
    # the app prints what it finds in its config file at start, then reports signals
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "echo \\"app sees: $(cat config/app.conf 2>&1)\\"; exec {SIGECHO}"
ready = "notify"
stop_timeout = "2s"

[watch]
debounce = "{debounce}"
max_wait = "{max_wait}"

[[source]]
name = "appconf"
etcd = {json.dumps(etcd_urls)}
{source}
''')


KEY_SOURCE = '''key = "/myapp/app.conf"
file = "config/app.conf"
check = "grep -q good \\"$BATON_FILE\\" || { echo 'app.conf: expected good' >&2; exit 3; }"
action = "signal:SIGHUP"
'''


def content(env, rel="config/app.conf"):
    with open(os.path.join(str(env.tmp), rel)) as f:
        return f.read()


def status(env):
    st = json.loads(env.run([BATON, "status", "--json"]).stdout)
    return {g["name"]: g for g in st.get("reload_groups", [])}


def stop(b):
    b.send(signal.SIGTERM)
    assert b.wait(timeout=20) == 0, b.output()


def test_value_in_place_before_gen1_good_applied_once_bad_rejected(env, etcd):
    etcd.put("/myapp/app.conf", "good 1")
    # endpoints are tried in turn: a dead first one costs no backoff and no "down"
    dead = f"http://127.0.0.1:{free_port()}"
    config(env, [dead, etcd.url], KEY_SOURCE)
    b = env.baton("run")
    b.wait_line(r"app sees: good 1$", timeout=30)
    b.wait_line(r"generation 1 serving", timeout=30)
    b.wait_line(r'source "appconf": watching', timeout=30)
    assert b.count(r"retrying") == 0

    mark = b.mark()
    etcd.put("/myapp/app.conf", "good 2")
    b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20, start=mark)
    assert content(env) == "good 2"

    mark = b.mark()
    etcd.put("/myapp/app.conf", "bad 3")
    b.wait_line(r'source "appconf": value at revision \d+ rejected: check .* exited with '
                r'status 3', timeout=20, start=mark)
    b.wait_line(r"app.conf: expected good", timeout=5, start=mark)
    assert content(env) == "good 2"
    g = status(env)["appconf"]
    assert g["kind"] == "source" and g["ok"] is False
    assert "exited with status 3" in g["error"]
    # no staged copy is left next to the file
    assert os.listdir(os.path.join(str(env.tmp), "config")) == ["app.conf"]

    # back to the value in place: nothing to do; then a new good value: one more SIGHUP
    etcd.put("/myapp/app.conf", "good 2")
    b.wait_line(r'source "appconf" is back to the value in place', timeout=20, start=mark)
    etcd.put("/myapp/app.conf", "good 4")
    b.wait_line(r"revision \d+ in place", timeout=20, start=mark)
    wait_until(lambda: b.count(r"got SIGHUP") == 2, timeout=20, what="the second SIGHUP")
    assert content(env) == "good 4"
    assert status(env)["appconf"]["ok"] is True
    stop(b)
    assert b.count(r"got SIGHUP") == 2


def test_burst_of_puts_applies_once_with_the_last_value(env, etcd):
    etcd.put("/myapp/app.conf", "good 0")
    # the burst settles within the quiet time however slow this machine is
    config(env, [etcd.url], KEY_SOURCE, debounce="1s", max_wait="60s")
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    b.wait_line(r'source "appconf": watching', timeout=30)
    mark = b.mark()
    last = 0
    for i in range(1, 21):
        last = etcd.put("/myapp/app.conf", f"good {i}")
    _, m = b.wait_line(r'source "appconf": revision (\d+) in place', timeout=20, start=mark)
    assert int(m.group(1)) == last
    b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20, start=mark)
    assert content(env) == "good 20"
    # a later change is the next apply: nothing else was queued by the burst
    mark2 = b.mark()
    rev = etcd.put("/myapp/app.conf", "good 21")
    b.wait_line(rf'source "appconf": revision {rev} in place', timeout=20, start=mark2)
    b.wait_line(r"got SIGHUP", timeout=20, start=mark2)
    assert b.count(r"in place", start=mark) == 2
    assert b.count(r"got SIGHUP", start=mark) == 2
    stop(b)


def test_etcd_down_then_back_keeps_serving_and_applies_the_next_change(env, etcd):
    etcd.put("/myapp/app.conf", "good 1")
    config(env, [etcd.url], KEY_SOURCE)
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    b.wait_line(r'source "appconf": watching', timeout=30)
    mark = b.mark()
    etcd.stop()
    # baton notices, keeps the app, and retries with backoff
    b.wait_line(r'source "appconf": .* — retrying; "config/app.conf" keeps its value',
                timeout=20, start=mark)
    i, _ = b.wait_line(r"retrying in \d+ ms", timeout=20, start=mark)
    b.wait_line(r"retrying in \d+ ms", timeout=20, start=i + 1)
    g = status(env)["appconf"]
    assert g["warning"] and "etcd" in g["warning"]
    assert b.p.poll() is None and b.count(r"sigecho gen=1 stopping") == 0
    etcd.start()
    b.wait_line(r'source "appconf": watching', timeout=60, start=mark)
    mark = b.mark()
    etcd.put("/myapp/app.conf", "good 2")
    b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20, start=mark)
    assert content(env) == "good 2"
    stop(b)


def test_frozen_baton_converges_after_restart_and_compaction(env, etcd):
    etcd.put("/myapp/app.conf", "good 1")
    config(env, [etcd.url], KEY_SOURCE)
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    b.wait_line(r'source "appconf": watching', timeout=30)
    mark = b.mark()
    b.send(signal.SIGSTOP)
    try:
        etcd.stop()
        etcd.start()
        etcd.put("/myapp/app.conf", "good 2")
        rev = etcd.put("/myapp/app.conf", "good 3")
        etcd.compact(rev)
    finally:
        b.send(signal.SIGCONT)
    b.wait_line(r"was compacted .* reading the whole key again", timeout=30, start=mark)
    b.wait_line(rf'source "appconf": revision {rev} in place', timeout=30, start=mark)
    b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20, start=mark)
    assert content(env) == "good 3"
    # converged once: the next change is the second apply, not a third
    mark2 = b.mark()
    rev = etcd.put("/myapp/app.conf", "good 4")
    b.wait_line(rf'source "appconf": revision {rev} in place', timeout=20, start=mark2)
    b.wait_line(r"got SIGHUP", timeout=20, start=mark2)
    assert b.count(r"got SIGHUP", start=mark) == 2
    stop(b)


def test_prefix_directory_swapped_as_a_whole(env, etcd):
    etcd.put("/myapp/conf.d/a.conf", "good a1")
    etcd.put("/myapp/conf.d/b.conf", "good b1")
    config(env, [etcd.url], '''prefix = "/myapp/conf.d/"
file = "conf.d"
check = "test -d \\"$BATON_FILE\\" && cat \\"$BATON_FILE\\"/* | grep -qv bad"
action = "signal:SIGHUP"
''')
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    b.wait_line(r'source "appconf": watching', timeout=30)
    d = os.path.join(str(env.tmp), "conf.d")

    def view():
        return {n: open(os.path.join(d, n)).read() for n in os.listdir(d)
                if not n.startswith(".")}

    assert view() == {"a.conf": "good a1", "b.conf": "good b1"}
    v1 = os.readlink(os.path.join(d, "..data"))
    assert os.readlink(os.path.join(d, "a.conf")) == "..data/a.conf"

    # one revision changing a, adding c and deleting b: one swap, one SIGHUP
    mark = b.mark()
    rev = etcd.txn([("/myapp/conf.d/a.conf", "good a2"), ("/myapp/conf.d/c.conf", "good c1")],
                   ["/myapp/conf.d/b.conf"])
    b.wait_line(rf'source "appconf": revision {rev} in place', timeout=20, start=mark)
    b.wait_line(r"got SIGHUP", timeout=20, start=mark)
    assert view() == {"a.conf": "good a2", "c.conf": "good c1"}
    v2 = os.readlink(os.path.join(d, "..data"))
    assert v2 != v1 and not os.path.exists(os.path.join(d, v1))
    assert sorted(os.listdir(os.path.join(d, v2))) == ["a.conf", "c.conf"]

    # a rejected set leaves the whole directory as it was
    mark = b.mark()
    etcd.put("/myapp/conf.d/a.conf", "bad")
    b.wait_line(r"rejected: check", timeout=20, start=mark)
    assert view() == {"a.conf": "good a2", "c.conf": "good c1"}
    assert os.readlink(os.path.join(d, "..data")) == v2
    assert [n for n in os.listdir(d) if n.startswith("..v")] == [v2]
    stop(b)
    assert b.count(r"got SIGHUP") == 1


def test_unreachable_etcd_with_a_file_from_an_earlier_run_starts_with_it(env):
    dead = f"http://127.0.0.1:{free_port()}"
    write(os.path.join(str(env.tmp), "config", "app.conf"), "good old")
    config(env, [dead], KEY_SOURCE)
    b = env.baton("run")
    b.wait_line(r'source "appconf": .* — starting with "config/app.conf" from an earlier run',
                timeout=30)
    b.wait_line(r"app sees: good old$", timeout=30)
    b.wait_line(r"generation 1 serving", timeout=30)
    stop(b)


def test_unreachable_etcd_and_no_file_fails_after_initial_timeout(env):
    dead = f"http://127.0.0.1:{free_port()}"
    config(env, [dead], KEY_SOURCE + 'initial_timeout = "1s"\n')
    b = env.baton("run")
    b.wait_line(r'source "appconf": no value in place after 1s \(etcd "http://127\.0\.0\.1:'
                r'\d+": .*\) and no file .* — not starting the app', timeout=30)
    assert b.wait(timeout=20) == 1
    assert b.count(r"^app sees:") == 0


def test_an_endpoint_with_a_host_name_is_refused_by_check(env):
    config(env, ["https://etcd-0.etcd:2379"], KEY_SOURCE)
    r = env.run([BATON, "check"])
    assert r.returncode != 0
    assert "baton does no name lookups" in r.stdout + r.stderr


def test_etcd_auth_token_and_a_wrong_password(env, etcd):
    etcd.call("/v3/auth/role/add", {"name": "root"})
    etcd.call("/v3/auth/user/add", {"name": "root", "password": "s3cret"})
    etcd.call("/v3/auth/user/grant", {"user": "root", "role": "root"})
    etcd.call("/v3/auth/enable", {})
    token = etcd.call("/v3/auth/authenticate", {"name": "root", "password": "s3cret"})["token"]
    req = urllib.request.Request(
        etcd.url + "/v3/kv/put",
        data=json.dumps({"key": b64("/myapp/app.conf"), "value": b64("good secret")}).encode(),
        headers={"Authorization": token})
    urllib.request.urlopen(req, timeout=10).read()

    config(env, [etcd.url], KEY_SOURCE + 'username = "root"\npassword = "wrong"\n'
           'initial_timeout = "2s"\n')
    b = env.baton("run")
    b.wait_line(r'source "appconf": no value in place after 2s \(.*authentication failed',
                timeout=30)
    assert b.wait(timeout=20) == 1

    config(env, [etcd.url], KEY_SOURCE + 'username = "root"\npassword = "s3cret"\n')
    b = env.baton("run")
    b.wait_line(r"app sees: good secret$", timeout=30)
    b.wait_line(r'source "appconf": watching', timeout=30)
    stop(b)


class FakeEtcd:
    """A fake etcd gateway on a loopback port, answering from a script: bad answers on purpose.
    Runs in a thread of the test process (nothing to leave behind)."""

    def __init__(self, answers):
        import socket
        import threading
        self.answers = answers  # path -> list of raw responses (the last one repeats)
        self.seen = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        import socket
        while not self.stop_ev.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            with c:
                c.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    head, _, body = data.partition(b"\r\n\r\n")
                    n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                    while len(body) < n:
                        body += c.recv(4096)
                    path = head.split(b" ")[1].decode()
                    self.seen.append(path)
                    script = self.answers[path]
                    k = sum(1 for p in self.seen if p == path) - 1
                    c.sendall(script[min(k, len(script) - 1)])
                except (OSError, AttributeError):
                    pass

    def close(self):
        self.stop_ev.set()
        self.t.join(timeout=5)
        self.sock.close()


def chunked(*parts):
    out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    for p in parts:
        out += b"%x\r\n%s\r\n" % (len(p), p)
    return out


def test_garbage_from_the_gateway_is_survived(env):
    value = b64("good fake")
    rng = json.dumps({"header": {"revision": "5"},
                      "kvs": [{"key": b64("/myapp/app.conf"), "value": value,
                               "mod_revision": "5"}]}).encode()
    fake = FakeEtcd({
        "/v3/kv/range": [b"this is not HTTP\r\n\r\n",
                         b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(rng), rng)],
        "/v3/watch": [
            # created, then bytes that are no JSON object: the stream is dropped
            chunked(b'{"result":{"header":{"revision":"5"},"created":true}}\n', b"xx{{"),
            # chunk framing that lies about its size
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            # then a well-formed stream with an event, split inside a key
            chunked(b'{"result":{"header":{"revision":"6"},"created":true}}\n{"result":'
                    b'{"header":{"revision":"7"},"events":[{"kv":{"key":"' +
                    b64("/myapp/app.conf").encode()[:5],
                    b64("/myapp/app.conf").encode()[5:] + b'","mod_revision":"7","value":"' +
                    b64("good event").encode() + b'"}}]}}\n'),
        ],
    })
    try:
        config(env, [fake.url], KEY_SOURCE)
        b = env.baton("run")
        b.wait_line(r"not an HTTP/1.1 answer — retrying in \d+ ms", timeout=30)
        b.wait_line(r"app sees: good fake$", timeout=30)
        b.wait_line(r"generation 1 serving", timeout=30)
        b.wait_line(r"bad watch message|unexpected byte", timeout=30)
        b.wait_line(r"bad HTTP framing", timeout=30)
        b.wait_line(r'source "appconf": revision 7 in place', timeout=30)
        b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20)
        assert content(env) == "good event"
        # every reconnect resumed after the last revision seen: no range after the first one
        assert fake.seen.count("/v3/kv/range") == 2
        stop(b)
    finally:
        fake.close()


def test_rejected_or_missing_value_at_start_falls_back_to_the_earlier_file(env, etcd):
    write(os.path.join(str(env.tmp), "config", "app.conf"), "good old")
    etcd.put("/myapp/app.conf", "bad new")
    config(env, [etcd.url], KEY_SOURCE)
    b = env.baton("run")
    b.wait_line(r'source "appconf": its value was rejected — starting with "config/app.conf" '
                r'from an earlier run', timeout=30)
    b.wait_line(r"app sees: good old$", timeout=30)
    b.wait_line(r"generation 1 serving", timeout=30)
    stop(b)

    etcd.delete("/myapp/app.conf")
    b = env.baton("run")
    b.wait_line(r'source "appconf": the key does not exist — starting with "config/app.conf" '
                r'from an earlier run', timeout=30)
    b.wait_line(r"app sees: good old$", timeout=30)
    mark = b.mark()
    etcd.put("/myapp/app.conf", "good new")
    b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20, start=mark)
    assert content(env) == "good new"
    stop(b)


def make_pki(env, name):
    """A CA, a server certificate for IP 127.0.0.1 and a client certificate, by openssl(1)."""
    d = os.path.join(str(env.tmp), name)
    os.makedirs(d)

    def ssl(*args):
        r = env.run(["openssl", *args], cwd=d)
        assert r.returncode == 0, r.stderr

    ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", f"/CN={name} test CA")
    # the server certificate serves as a client one too: etcd's JSON gateway dials etcd with it
    for who, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"),
                     ("client", "extendedKeyUsage=clientAuth")):
        ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{who}.key", "-out", f"{who}.csr", "-subj", f"/CN={who}")
        write(os.path.join(d, f"{who}.ext"), ext + "\n")
        ssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{who}.pem", "-days", "2", "-extfile", f"{who}.ext")
    return {"ca": f"{d}/ca.pem", "cert": f"{d}/server.pem", "key": f"{d}/server.key",
            "client_cert": f"{d}/client.pem", "client_key": f"{d}/client.key"}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl(1) is not installed")
def test_tls_to_etcd_with_a_client_certificate_and_a_wrong_ca(env):
    pki = make_pki(env, "pki")
    other = make_pki(env, "other")
    etcd = Etcd(env, tls=pki)
    etcd.start()
    etcd.put("/myapp/app.conf", "good tls")

    # a CA that did not sign etcd's certificate: refused, said, retried; no file, no start
    config(env, [etcd.url], KEY_SOURCE + f'ca = "{other["ca"]}"\ncert = "{pki["client_cert"]}"\n'
           f'cert_key = "{pki["client_key"]}"\ninitial_timeout = "2s"\n')
    b = env.baton("run")
    b.wait_line(r"TLS: certificate verify failed: .* — retrying in \d+ ms", timeout=30)
    assert b.wait(timeout=30) == 1
    assert b.count(r"^app sees:") == 0

    # the right CA and the client certificate: read, watched, applied
    config(env, [etcd.url], KEY_SOURCE + f'ca = "{pki["ca"]}"\ncert = "{pki["client_cert"]}"\n'
           f'cert_key = "{pki["client_key"]}"\n')
    b = env.baton("run")
    b.wait_line(r"app sees: good tls$", timeout=30)
    b.wait_line(r'source "appconf": watching', timeout=30)
    mark = b.mark()
    etcd.put("/myapp/app.conf", "good tls 2")
    b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20, start=mark)
    assert content(env) == "good tls 2"
    stop(b)


def test_after_baton_upgrade_the_source_acts_on_the_serving_app(env, etcd):
    etcd.put("/myapp/app.conf", "good 1")
    config(env, [etcd.url], KEY_SOURCE)
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    b.wait_line(r'source "appconf": watching', timeout=30)
    mark = b.mark()
    r = env.run([BATON, "upgrade"], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    b.wait_line(r'source "appconf": watching', timeout=30, start=mark)
    # the new image reads and watches again, and acts on the generation it inherited
    mark = b.mark()
    etcd.put("/myapp/app.conf", "good 2")
    b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20, start=mark)
    assert content(env) == "good 2"
    assert b.count(r"^app sees:") == 1  # still generation 1
    stop(b)


def test_a_watch_canceled_at_once_backs_off(env):
    rng = json.dumps({"header": {"revision": "5"},
                      "kvs": [{"key": b64("/myapp/app.conf"), "value": b64("good 1"),
                               "mod_revision": "5"}]}).encode()
    fake = FakeEtcd({
        "/v3/kv/range": [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(rng), rng)],
        # a member without a leader: created, then canceled (Grpc-Metadata-hasleader)
        "/v3/watch": [chunked(b'{"result":{"header":{"revision":"5"},"created":true}}\n',
                              b'{"result":{"header":{"revision":"5"},"canceled":true,'
                              b'"cancel_reason":"etcdserver: no leader"}}\n', b"")],
    })
    try:
        config(env, [fake.url], KEY_SOURCE)
        b = env.baton("run")
        b.wait_line(r"generation 1 serving", timeout=30)
        waits = []
        i = 0
        for _ in range(4):
            i, m = b.wait_line(r"watch ended: etcdserver: no leader — retrying in (\d+) ms",
                               timeout=30, start=i)
            waits.append(int(m.group(1)))
            i += 1
        assert waits == [250, 500, 1000, 2000], waits
        assert b.count(r'source "appconf": revision 5 in place') == 1
        stop(b)
    finally:
        fake.close()


def test_an_etcd_whose_revision_went_back_is_read_again(env):
    def rng(rev, value):
        body = json.dumps({"header": {"revision": str(rev)},
                           "kvs": [{"key": b64("/myapp/app.conf"), "value": b64(value),
                                    "mod_revision": str(rev)}]}).encode()
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    fake = FakeEtcd({
        # first a store at revision 50; then, restored from an older backup, at revision 3
        "/v3/kv/range": [rng(50, "good 50"), rng(3, "good restored")],
        "/v3/watch": [
            chunked(b'{"result":{"header":{"revision":"50"},"created":true}}\n', b""),
            chunked(b'{"result":{"header":{"revision":"3"},"created":true}}\n'),
        ],
    })
    try:
        config(env, [fake.url], KEY_SOURCE)
        b = env.baton("run")
        b.wait_line(r"app sees: good 50$", timeout=30)
        b.wait_line(r"etcd is at revision 3, behind the 50 baton saw — reading the whole key "
                    r"again", timeout=30)
        b.wait_line(r'source "appconf": revision 3 in place', timeout=30)
        b.wait_line(r"sigecho gen=1 got SIGHUP", timeout=20)
        assert content(env) == "good restored"
        stop(b)
    finally:
        fake.close()
