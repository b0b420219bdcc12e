"""`baton check` validates every [[tls]] pair, against the real binary: each certificate problem
with its own message naming the file, every problem of every pair listed (exit 1), warnings
printed with exit 0. Certificates and keys are made by the openssl command line in a temporary
directory (no committed private keys); `openssl ca` backdates or postdates where a test needs
dates far from today. Nothing here starts a long-running process."""
import os
import re
import shutil
import subprocess

import pytest

from certutil import make_certs
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

GEN = r"""
ec() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $1.key \
	-out $1.crt -days ${DAYS:-90} -subj "/CN=${CN:-example.com}" $2; }
ec good "-addext subjectAltName=DNS:example.com,DNS:www.example.com"
ec other "-addext subjectAltName=DNS:example.com"
DAYS=3 ec soon "-addext subjectAltName=DNS:example.com"
openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.crt -days 90 \
	-subj /CN=example.com -addext subjectAltName=DNS:example.com
openssl pkey -in good.key -aes256 -passout pass:secret -out enc.key
head -c $(( $(wc -c < good.crt) / 2 )) good.crt > trunc.crt
: > empty.crt
# a CA and a leaf it signed
CN='Test Root' ec ca
printf '[leaf]\nsubjectAltName=DNS:example.com\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
	-out leaf.csr -subj /CN=example.com
openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -set_serial 7 -days 90 \
	-extfile ext.cnf -extensions leaf -out leaf.crt
# dates far from today
dated old 20200101000000Z 20200201000000Z
dated future 20990101000000Z 21000101000000Z
"""


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    make_certs(d, GEN)
    return d


@pytest.fixture
def proj(env, certs, tmp_path):
    """A project directory with every fixture under certs/."""
    shutil.copytree(certs, tmp_path / "certs")
    return tmp_path


def config(*pairs, root=None):
    """baton.toml with one [[tls]] table per pair: (cert, key[, hostnames[, ca]])."""
    out = []
    if root:
        out.append(f'root = "{root}"')
    out.append('[run]\ncmd = "./app"')
    for p in pairs:
        cert, key = p[0], p[1]
        out.append(f'[[tls]]\ncert = "{cert}"\nkey = "{key}"')
        if len(p) > 2 and p[2]:
            out.append("hostnames = [" + ", ".join(f'"{h}"' for h in p[2]) + "]")
        if len(p) > 3 and p[3]:
            out.append(f'ca = "{p[3]}"')
    return "\n".join(out) + "\n"


def check(env, proj, *pairs, args=(), root=None):
    (proj / "baton.toml").write_text(config(*pairs, root=root))
    return env.run([env.baton_path, "check", *args], cwd=str(proj), timeout=30)


@pytest.fixture
def e(env, baton_bin):
    env.baton_path = baton_bin
    return env


def openssl_field(path, flag):
    r = subprocess.run(["openssl", "x509", "-in", str(path), "-noout", flag], capture_output=True,
                       text=True, check=True)
    return r.stdout.strip().split("=", 1)[1]


def test_good_pair(e, proj):
    r = check(e, proj, ("certs/good.crt", "certs/good.key", ["example.com", "www.example.com"]))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    serial = openssl_field(proj / "certs/good.crt", "-serial")
    lines = r.stdout.splitlines()
    assert lines[0] == ('baton.toml: ok — no build step, run "./app", no listener, watching 1 '
                        'path, 1 certificate')
    assert re.fullmatch(r'"certs/good\.crt": ok — serial ' + serial +
                        r', valid until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC', lines[1]), lines[1]
    assert len(lines) == 2


@pytest.mark.parametrize("pair,message", [
    (("certs/old.crt", "certs/old.key"),
     r'"certs/old\.crt": expired \d+ days ago \(notAfter 2020-02-01 00:00:00 UTC\)'),
    (("certs/future.crt", "certs/future.key"),
     r'"certs/future\.crt": not valid yet: valid in \d+ days \(notBefore 2099-01-01 00:00:00 '
     r'UTC\)'),
    (("certs/good.crt", "certs/good.key", ["api.example.com"]),
     r'"certs/good\.crt": does not cover "api\.example\.com" \(SANs: example\.com, '
     r'www\.example\.com\)'),
    (("certs/good.crt", "certs/other.key"),
     r'"certs/other\.key": the private key does not match the certificate \(another ECDSA '
     r'P-256 key\)'),
    (("certs/good.crt", "certs/rsa.key"),
     r'"certs/rsa\.key": the private key does not match the certificate \(RSA key, ECDSA '
     r'certificate\)'),
    (("certs/empty.crt", "certs/good.key"), r'"certs/empty\.crt": empty file'),
    (("certs/trunc.crt", "certs/good.key"),
     r'"certs/trunc\.crt": truncated: the CERTIFICATE block on line 1 has no END line'),
    (("certs/good.crt", "certs/enc.key"),
     r'"certs/enc\.key": the private key is encrypted; baton never asks for a passphrase .*'),
    (("certs/good.crt", "certs/good.key", None, "certs/ca.crt"),
     r'"certs/good\.crt": does not verify against "certs/ca\.crt": self-signed certificate '
     r'\(at "CN=example\.com"\)'),
], ids=["expired", "not-yet-valid", "hostname", "other-key", "rsa-key-ecdsa-cert", "empty",
        "truncated", "encrypted-key", "self-signed-with-ca"])
def test_each_problem_has_its_message(e, proj, pair, message):
    r = check(e, proj, pair)
    assert r.returncode == 1, r.stdout
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr
    assert re.fullmatch(message, lines[0]), lines[0]
    assert lines[1] == ("baton: baton.toml: the config is valid, its certificates are not "
                        "(1 problem)")


def test_every_problem_of_every_pair_listed(e, proj):
    r = check(e, proj,
              ("certs/good.crt", "certs/good.key", ["example.com"]),
              ("certs/old.crt", "certs/rsa.key", ["api.example.com"]),
              ("certs/empty.crt", "certs/enc.key"))
    assert r.returncode == 1
    # the good pair is still reported as good; no summary line while anything is wrong
    assert r.stdout.startswith('"certs/good.crt": ok — serial ')
    want = [
        r'"certs/rsa\.key": the private key does not match the certificate \(RSA key, ECDSA '
        r'certificate\)',
        r'"certs/old\.crt": expired \d+ days ago \(notAfter 2020-02-01 00:00:00 UTC\)',
        r'"certs/old\.crt": does not cover "api\.example\.com" \(SANs: example\.com\)',
        r'"certs/empty\.crt": empty file',
        r'"certs/enc\.key": the private key is encrypted; .*',
        r"baton: baton\.toml: the config is valid, its certificates are not \(5 problems\)",
    ]
    lines = r.stderr.splitlines()
    assert len(lines) == len(want), r.stderr
    for line, rx in zip(lines, want):
        assert re.fullmatch(rx, line), line


def test_expiring_soon_is_a_warning(e, proj):
    r = check(e, proj, ("certs/soon.crt", "certs/soon.key", ["example.com"]))
    assert r.returncode == 0, r.stderr
    # 3 days from generation: 2 days and some hours left, or 3 days within the same second
    assert re.fullmatch(r'warning: "certs/soon\.crt": expires in [23] days \(notAfter .* UTC\)\n',
                        r.stderr), r.stderr
    assert '"certs/soon.crt": ok — serial' in r.stdout


def test_chain_verified_against_ca(e, proj):
    r = check(e, proj, ("certs/leaf.crt", "certs/leaf.key", ["example.com"], "certs/ca.crt"))
    assert r.returncode == 0, r.stderr
    assert '"certs/leaf.crt": ok — serial 07,' in r.stdout


def test_paths_relative_to_root(e, proj):
    os.makedirs(proj / "srv")
    shutil.move(str(proj / "certs"), str(proj / "srv" / "certs"))
    r = check(e, proj, ("certs/good.crt", "certs/other.key"), root="srv")
    assert r.returncode == 1
    assert r.stderr.startswith('"certs/other.key": the private key does not match')


def test_print_still_checks_certificates(e, proj):
    r = check(e, proj, ("certs/old.crt", "certs/old.key"), args=("--print",))
    assert r.returncode == 1
    assert "[[tls]]" in r.stdout  # the effective config is printed all the same
    assert '"certs/old.crt": expired' in r.stderr
    assert "ok — serial" not in r.stdout


def test_missing_file_is_a_config_error(e, proj):
    # unreadable files are caught with the config's line and column, before any cert check
    r = check(e, proj, ("certs/nope.crt", "certs/good.key"))
    assert r.returncode == 1
    assert re.search(r'^baton\.toml:\d+:\d+: \'tls\.cert\': cannot read "certs/nope\.crt"',
                     r.stderr, re.M), r.stderr


def test_fifo_or_device_as_certificate_is_refused_without_blocking(e, proj):
    # a blocking open() of a FIFO waits for a writer for ever: `baton check` must answer
    os.mkfifo(proj / "certs" / "pipe.crt")
    os.symlink("/dev/zero", proj / "certs" / "zero.key")
    r = check(e, proj, ("certs/pipe.crt", "certs/good.key"), ("certs/good.crt", "certs/zero.key"))
    assert r.returncode == 1, r.stdout
    lines = r.stderr.splitlines()
    assert lines[0] == '"certs/pipe.crt": cannot read: not a regular file', r.stderr
    assert lines[1] == '"certs/zero.key": cannot read: not a regular file', r.stderr
