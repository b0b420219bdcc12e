#!/usr/bin/python3
"""Take docs/status-page.png: run baton on the sigecho helper with the status page on, a
[[tls]] group, reloads (one that fails, the old generation serving on), then
screenshot the page in headless Chromium. `make screenshot` runs it (after `make helpers`)."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from browser import Browser  # noqa: E402
from devutil import free_port  # noqa: E402

BUILD = os.environ.get("BATON_BUILD", os.path.join(REPO, "build"))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "docs", "status-page.png")


def wait_log(path, pattern, start=0, timeout=30):
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
        for i in range(start, len(lines)):
            if rx.search(lines[i]):
                return i + 1
        time.sleep(0.05)
    raise SystemExit(f"no {pattern!r} in the log within {timeout}s")


def main():
    tmp = tempfile.mkdtemp(prefix="baton-shot-")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", "site.key", "-out",
                    "site.crt", "-days", "45", "-subj", "/CN=example.test",
                    "-addext", "subjectAltName=DNS:example.test"],
                   cwd=tmp, check=True, capture_output=True)
    port = free_port()
    sigecho = os.path.join(BUILD, "helpers", "sigecho")
    with open(os.path.join(tmp, "baton.toml"), "w") as f:
        f.write(f'''
[run]
cmd = "test -e fail && exit 3; exec {sigecho}"
ready = "notify"
stop_timeout = "2s"

[[tls]]
cert = "site.crt"
key = "site.key"
action = "signal:SIGUSR1"

[metrics]
address = "127.0.0.1:{port}"
''')
    log = os.path.join(tmp, "baton.log")
    with open(log, "w") as lf:
        b = subprocess.Popen([os.path.join(BUILD, "baton"), "run"], cwd=tmp, stdout=lf,
                             stderr=subprocess.STDOUT, start_new_session=True,
                             env=dict(os.environ, NO_COLOR="1"))
    try:
        n = wait_log(log, r"generation 1 serving")
        b.send_signal(signal.SIGHUP)
        n = wait_log(log, r"generation 2 serving", n)
        open(os.path.join(tmp, "fail"), "w").close()
        b.send_signal(signal.SIGHUP)
        n = wait_log(log, r"generation 3 failed", n)
        os.unlink(os.path.join(tmp, "fail"))
        b.send_signal(signal.SIGHUP)
        n = wait_log(log, r"generation 4 serving", n)
        with Browser(width=1200, height=720) as br:
            br.open(f"http://127.0.0.1:{port}/")
            br.wait_until("!!document.querySelector('.gen[data-gen=\"4\"]')", timeout=20)
            b.send_signal(signal.SIGHUP)  # one more, while the page is open
            n = wait_log(log, r"generation 4 drained", n)
            br.wait_until("document.querySelector('.gen[data-gen=\"5\"]')?.dataset.state"
                          " == 'ready' && document.querySelectorAll('.gen').length == 1",
                          timeout=20)
            br.screenshot(OUT)
        print(f"wrote {OUT}")
    finally:
        b.send_signal(signal.SIGTERM)
        try:
            b.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(b.pid, signal.SIGKILL)
            b.wait()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
