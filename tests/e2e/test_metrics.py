"""[metrics]: baton's /metrics scraped by a real Prometheus (Debian's 2.42), checked by promtool;
the alert rules in docs/observability.md checked by promtool too."""
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import REPO, wait_until
from devutil import free_port, write, write_fd3_app

pytestmark = pytest.mark.skipif(not shutil.which("prometheus") or not shutil.which("promtool"),
                                reason="Debian's prometheus is not installed (scripts/deps.sh)")


def fetch(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def start_baton(env, tmp, mport):
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "sh -c '[ -e fail ] && exit 1; exec sleep 600'"
ready = "delay:300ms"
stop_timeout = "5s"
[metrics]
address = "127.0.0.1:{mport}"
[control]
socket = "ctl.sock"
''')
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=20)
    return b


def reload(env, tmp):
    return env.run([os.environ.get("BATON_BIN"), "reload", "-s", os.path.join(tmp, "ctl.sock")],
                   timeout=60)


def test_prometheus_scrapes_reloads_by_result(env, tmp_path):
    tmp = str(tmp_path)
    mport, pport = free_port(), free_port()
    b = start_baton(env, tmp, mport)
    st, ctype, body = fetch(f"http://127.0.0.1:{mport}/metrics")
    assert st == 200
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                          text=True, timeout=30)
    assert lint.returncode == 0 and not lint.stdout.strip() and not lint.stderr.strip(), \
        lint.stdout + lint.stderr
    write(os.path.join(tmp, "prom.yml"), f'''
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: baton
    static_configs:
      - targets: ["127.0.0.1:{mport}"]
''')
    env.start(["prometheus", f"--config.file={tmp}/prom.yml", f"--storage.tsdb.path={tmp}/data",
               f"--web.listen-address=127.0.0.1:{pport}"])
    assert reload(env, tmp).returncode == 0
    assert reload(env, tmp).returncode == 0
    write(os.path.join(tmp, "fail"), "")
    r = reload(env, tmp)
    assert r.returncode == 1, r.stdout + r.stderr

    def values():
        try:
            _, _, q = fetch(f"http://127.0.0.1:{pport}/api/v1/query?query=baton_reloads_total")
        except OSError:
            return None
        res = json.loads(q)["data"]["result"]
        return {x["metric"]["result"]: x["value"][1] for x in res}

    wait_until(lambda: values() == {"success": "2", "failed": "1", "rolled_back": "0"},
               timeout=60, interval=0.5, what="Prometheus to see two successes and a failure")
    _, _, q = fetch(f"http://127.0.0.1:{pport}/api/v1/query?query=baton_last_reload_successful")
    assert json.loads(q)["data"]["result"][0]["value"][1] == "0"
    _, _, t = fetch(f"http://127.0.0.1:{pport}/api/v1/targets")
    targets = json.loads(t)["data"]["activeTargets"]
    assert [x["health"] for x in targets] == ["up"], targets
    b.send(15)
    assert b.wait(30) == 0


def test_metrics_listener_that_cannot_open_never_stops_the_app(env, tmp_path):
    tmp = str(tmp_path)
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    busy = s.getsockname()[1]
    b = start_baton(env, tmp, busy)
    b.wait_line(r"\[metrics\] address 127\.0\.0\.1:\d+: .*baton runs on without it")
    assert reload(env, tmp).returncode == 0
    s.close()
    b.send(15)
    assert b.wait(30) == 0


def test_alert_rules_in_the_docs_are_valid(tmp_path):
    doc = open(os.path.join(REPO, "docs", "observability.md")).read()
    m = re.search(r"```yaml\n(groups:.*?)```", doc, re.S)
    assert m, "docs/observability.md has no alert rules block"
    path = tmp_path / "rules.yml"
    path.write_text(m.group(1))
    r = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 2 rules found" in r.stdout, r.stdout



def test_front_requests_are_counted_by_generation_and_class(env, tmp_path):
    tmp = str(tmp_path)
    port, mport = free_port(), free_port()
    write_fd3_app(tmp)
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = "python3 app.py"
ready = "http:/"
stop_timeout = "5s"
[[listen]]
name = "web"
address = "127.0.0.1:{port}"
proxy = "http"
[metrics]
address = "127.0.0.1:{mport}"
''')
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=30)
    for path in ("/", "/", "/fail"):
        try:
            fetch(f"http://127.0.0.1:{port}{path}")
        except urllib.error.HTTPError as e:
            assert e.code == 503
            # the app writes its head and body apart: the exchange (and its count) ends with
            # the body, which urllib does not wait for when it raises on the status
            assert e.read().decode().endswith("ok\n")
    _, _, body = fetch(f"http://127.0.0.1:{mport}/metrics")
    lines = set(body.splitlines())
    # the readiness probe went to the private socket, not through the front
    assert 'baton_http_requests_total{listener="web",generation="1",code="2xx"} 2' in lines, body
    assert 'baton_http_requests_total{listener="web",generation="1",code="5xx"} 1' in lines, body
    assert ('baton_http_request_duration_seconds_count{listener="web",generation="1"} 3'
            in lines), body
    assert 'baton_generation_weight{generation="1"} 100' in lines, body
    assert "baton_upstream_retries_total 0" in lines, body
    lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                          text=True, timeout=30)
    assert lint.returncode == 0 and not (lint.stdout + lint.stderr).strip(), lint.stdout + lint.stderr

    # baton status has the page's figures: the last second's rate, errors and p99, the weight
    def figures():
        for _ in range(5):
            fetch(f"http://127.0.0.1:{port}/")
        r = env.run([os.environ["BATON_BIN"], "status", "--json"], cwd=tmp)
        gens = json.loads(r.stdout)["listeners"][0]["proxy"]["generations"]
        return gens[0] if gens and gens[0]["rps"] > 0 else None

    wait_until(lambda: figures() is not None, timeout=20, interval=0.2,
               what="baton status to show a request rate")
    g = figures()
    assert g["weight"] == 100 and g["p99_ms"] is not None and g["p99_ms"] >= 0, g
    text = env.run([os.environ["BATON_BIN"], "status"], cwd=tmp).stdout
    assert re.search(r"gen 1: 100% of requests, [\d.]+/s, [\d.]+% errors", text), text
    b.send(15)
    assert b.wait(30) == 0
