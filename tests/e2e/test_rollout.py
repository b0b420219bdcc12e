"""[rollout]: canary and blue-green through the HTTP front, against the real Gin app
tests/apps/gin-shutdown on baton's private socket. Its GET /who answers "PID MODE gen=N" and
behaves as the file "mode" in its directory said when it started ("ok", "bad": 500 on 30 %,
"slow": 250 ms more), so a reload after rewriting "mode" starts a faulty canary. Steps are short
(1 s; 100 ms in the weight-change test) so each test takes seconds; every wait is on a condition
with a deadline."""
import http.client
import json
import os
import re
import shutil
import threading
import time

import pytest

from conftest import wait_until
from devutil import built_apps, free_port, write

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")


def start(env, tmp, rollout):
    port = free_port()
    app = os.path.join(built_apps(), "gin-shutdown")
    write(os.path.join(tmp, "mode"), "ok")
    write(os.path.join(tmp, "baton.toml"), f'''
[run]
cmd = '{app}'
ready = "http:/healthz"
ready_timeout = "30s"
stop_timeout = "5s"
env = {{ GIN_MODE = "release" }}
[[listen]]
name = "web"
address = "127.0.0.1:{port}"
proxy = "http"
[rollout]
{rollout}
[control]
socket = "ctl.sock"
''')
    b = env.baton("run")
    b.wait_line(r"generation 1 serving", timeout=60)
    return b, port


def get(port, headers=None):
    """GET /who on a new connection: (status, pid, Set-Cookie). baton's own error pages
    ("502 Bad Gateway") give their status as the pid, which no generation has."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/who", headers=dict(headers or {}, Connection="close"))
        r = c.getresponse()
        body = r.read().decode()
        return r.status, int(body.split()[0]), r.getheader("Set-Cookie")
    finally:
        c.close()


def who(port):
    """GET /who on a new connection: (status, "PID MODE gen=N")."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/who", headers={"Connection": "close"})
        r = c.getresponse()
        return r.status, r.read().decode().strip()
    finally:
        c.close()


class Load:
    """Requests on new connections until stopped: (status, pid) of each, and each pid's mode."""

    def __init__(self, port):
        self.port, self.seen, self.stop, self.errors = port, [], False, []
        self.modes = {}
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                st, body = who(self.port)
                pid = int(body.split()[0])
                if st in (200, 500):  # the app's answers; baton's own pages say "502 ..."
                    self.modes[pid] = body.split()[1]
                self.seen.append((st, pid))
            except Exception as e:  # a connection failure is a result too
                self.errors.append(repr(e))

    def end(self):
        self.stop = True
        self.t.join(20)


def reload(env, tmp, timeout=90):
    return env.run([os.environ["BATON_BIN"], "reload", "-s", os.path.join(tmp, "ctl.sock")],
                   timeout=timeout)


def ctl(env, tmp, verb):
    return env.run([os.environ["BATON_BIN"], verb, "-s", os.path.join(tmp, "ctl.sock")])


def reload_until(env, b, tmp, weight):
    """`baton reload` in a thread, until the log says generation 2 gets `weight`% of requests:
    (the thread, a dict that gets the reload's result as "r", the log mark before it)."""
    done = {}
    t = threading.Thread(target=lambda: done.update(r=reload(env, tmp)), daemon=True)
    m = b.mark()
    t.start()
    b.wait_line(rf"rollout: generation 2 gets {weight}% of requests", start=m)
    return t, done, m


def test_failing_canary_is_rolled_back(env, tmp_path):
    tmp = str(tmp_path)
    b, port = start(env, tmp, 'strategy = "canary"\nsteps = [10, 50, 100]\ninterval = "1s"\n'
                              'min_requests = 20\nfast_fail = 0')
    old = get(port)[1]
    load = Load(port)
    # preconditions: traffic flows to the old generation, in mode "ok", before the reload
    wait_until(lambda: load.modes.get(old) == "ok", timeout=30, what="the old generation's answers")
    write(os.path.join(tmp, "mode"), "bad")
    r = reload(env, tmp)
    load.end()
    assert r.returncode == 1, r.stdout + r.stderr + "\nbaton:\n" + b.output()
    # rolled back on the canary's error rate, its errors counted to it alone (old: 0.00%)
    assert "rolled back" in r.stderr and "error rate" in r.stderr, r.stderr
    assert "(old: 0.00%)" in r.stderr, r.stderr
    assert not load.errors, load.errors[:3]
    # errors only from the canary's share, and the canary was the "bad" one
    bad = {pid for st, pid in load.seen if st != 200}
    assert bad and all(pid != old and load.modes.get(pid) == "bad" for pid in bad), \
        (bad, load.modes)
    # after that, only the old generation answers
    assert {get(port)[1] for _ in range(20)} == {old}
    b.wait_line(r"generation 2 rolled back: step 10%: error rate")
    b.send(15)
    assert b.wait(30) == 0


def test_healthy_canary_promoted_step_by_step(env, tmp_path):
    tmp = str(tmp_path)
    b, port = start(env, tmp, 'strategy = "canary"\nsteps = [10, 50, 100]\ninterval = "1s"\n'
                              'min_requests = 10\nsticky = false')
    old = get(port)[1]
    load = Load(port)
    t, done, m = reload_until(env, b, tmp, 10)
    i0 = len(load.seen)
    b.wait_line(r"rollout: generation 2 gets 50% of requests", start=m)
    step10 = load.seen[i0:]
    t.join(90)
    load.end()
    assert done["r"].returncode == 0, done["r"].stdout + done["r"].stderr
    assert not load.errors and all(st == 200 for st, _ in load.seen)
    new = get(port)[1]
    assert new != old
    share = sum(1 for _, pid in step10 if pid != old) / max(1, len(step10))
    assert len(step10) >= 10 and 0.0 < share < 0.35, (len(step10), share)
    b.wait_line(r"generation 2 promoted")
    b.send(15)
    assert b.wait(30) == 0


def test_preview_sticky_and_abort(env, tmp_path):
    tmp = str(tmp_path)
    b, port = start(env, tmp, 'strategy = "canary"\nsteps = [10, 100]\ninterval = "60s"')
    old = get(port)[1]
    t, done, m = reload_until(env, b, tmp, 10)
    txt = ctl(env, tmp, "status")
    assert "rollout: canary, step 1 of 2: 10% of new requests to generation 2" in txt.stdout, \
        txt.stdout
    js = json.loads(env.run([os.environ["BATON_BIN"], "status", "--json", "-s",
                             os.path.join(tmp, "ctl.sock")]).stdout)
    assert js["rollout"]["weight"] == 10 and js["rollout"]["steps"] == 2, js["rollout"]
    assert [g["role"] for g in js["rollout"]["generations"]] == ["old", "new"]
    st, new, cookie = get(port, {"X-Baton-Preview": "1"})
    assert st == 200 and new != old
    assert cookie and cookie.startswith("baton_gen=2"), cookie
    # the cookie keeps the client on the new generation, whatever the weight
    assert {get(port, {"Cookie": "baton_gen=2"})[1] for _ in range(10)} == {new}
    assert {get(port, {"Cookie": "baton_gen=1"})[1] for _ in range(10)} == {old}
    r = ctl(env, tmp, "abort")
    assert r.returncode == 0, r.stdout + r.stderr
    t.join(60)
    assert done["r"].returncode == 1 and "rolled back" in done["r"].stderr
    assert {get(port)[1] for _ in range(10)} == {old}
    assert ctl(env, tmp, "promote").returncode == 1  # nothing runs any more
    b.send(15)
    assert b.wait(30) == 0


def test_blue_green_switch_then_rollback(env, tmp_path):
    tmp = str(tmp_path)
    b, port = start(env, tmp, 'strategy = "blue-green"\nkeep_old = "60s"')
    old = get(port)[1]
    load = Load(port)
    t, done, m = reload_until(env, b, tmp, 100)
    wait_until(lambda: get(port)[1] != old, timeout=10, what="the switch")
    r = ctl(env, tmp, "rollback")
    assert r.returncode == 0, r.stdout + r.stderr
    t.join(60)
    load.end()
    assert done["r"].returncode == 1
    assert {get(port)[1] for _ in range(10)} == {old}  # the old pid answers again
    assert not load.errors and all(st == 200 for st, _ in load.seen), load.errors[:3]
    b.send(15)
    assert b.wait(30) == 0


def test_slow_canary_is_rolled_back_on_latency(env, tmp_path):
    tmp = str(tmp_path)
    b, port = start(env, tmp, 'strategy = "canary"\nsteps = [50, 100]\ninterval = "2s"\n'
                              'min_requests = 5\nfast_fail = 0')
    old = get(port)[1]
    load = Load(port)
    wait_until(lambda: load.modes.get(old) == "ok", timeout=30, what="the old generation's answers")
    write(os.path.join(tmp, "mode"), "slow")  # 250 ms more per request
    r = reload(env, tmp)
    load.end()
    assert r.returncode == 1, r.stdout + r.stderr + "\nbaton:\n" + b.output()
    assert "p99" in r.stderr and "latency_floor" in r.stderr, r.stderr
    assert not load.errors and all(st == 200 for st, _ in load.seen)
    assert "slow" in {load.modes.get(pid) for _, pid in load.seen if pid != old}, load.modes
    assert {get(port)[1] for _ in range(5)} == {old}
    b.send(15)
    assert b.wait(30) == 0


class KeepAlive:
    """GET /who on one keep-alive connection until stopped, no retries: (status, pid) of each;
    a failed request is recorded and the next one goes on a new connection."""

    def __init__(self, port):
        self.port, self.seen, self.stop, self.errors = port, [], False, []
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        c = None
        while not self.stop:
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                c.request("GET", "/who")
                r = c.getresponse()
                body = r.read().decode()
                self.seen.append((r.status, int(body.split()[0])))
            except Exception as e:
                self.errors.append(repr(e))
                c.close()
                c = None
        if c:
            c.close()

    def end(self):
        self.stop = True
        self.t.join(20)


def test_weight_changes_every_100ms_under_load_fail_nothing(env, tmp_path):
    """Issue 13's "weight changes under load": canary rollouts of ten 100 ms steps, one after
    the other for 3 s (at least two), under a new-connection and a keep-alive client routed
    request by request (sticky = false): not one request fails, every step is taken."""
    tmp = str(tmp_path)
    steps = ", ".join(str(p) for p in range(10, 101, 10))
    b, port = start(env, tmp, f'strategy = "canary"\nsteps = [{steps}]\ninterval = "100ms"\n'
                              'min_requests = 1\nlatency_floor = "60s"\nsticky = false')
    first = get(port)[1]
    load, ka = Load(port), KeepAlive(port)
    wait_until(lambda: load.seen and ka.seen, timeout=30, what="both clients' first answers")
    n0, k0 = len(load.seen), len(ka.seen)
    m = b.mark()
    t0, rollouts = time.monotonic(), 0
    while rollouts < 2 or time.monotonic() - t0 < 3:
        r = reload(env, tmp)
        assert r.returncode == 0, r.stdout + r.stderr + "\nbaton:\n" + b.output()
        rollouts += 1
    # both clients got answers during the rollouts, then stop
    target_n, target_k = len(load.seen) + 1, len(ka.seen) + 1
    wait_until(lambda: len(load.seen) >= target_n and len(ka.seen) >= target_k, timeout=30,
               what="answers after the last rollout")
    load.end()
    ka.end()
    assert len(load.seen) > n0 and len(ka.seen) > k0
    assert not load.errors and not ka.errors, (load.errors[:3], ka.errors[:3])
    assert all(st == 200 for st, _ in load.seen + ka.seen), \
        [x for x in load.seen + ka.seen if x[0] != 200][:5]
    out = b.output().splitlines()[m:]
    stepped = [ln for ln in out if re.search(r"rollout: generation \d+ gets \d+% of requests", ln)]
    promoted = [ln for ln in out if re.search(r"rollout: generation \d+ promoted", ln)]
    assert len(promoted) == rollouts and len(stepped) == 10 * rollouts, "\n".join(out)
    assert get(port)[1] != first  # the last promoted generation serves alone
    b.send(15)
    assert b.wait(30) == 0


def test_baseline_exit_promotes_and_says_why(env, tmp_path):
    """The old generation dies mid-rollout: there is nothing to roll back to, so the canary is
    promoted, `baton reload` exits 0, and the log says it was the baseline's exit, not the
    analysis nor `baton promote` (it said "promoted by request" before)."""
    tmp = str(tmp_path)
    b, port = start(env, tmp, 'strategy = "canary"\nsteps = [10, 100]\ninterval = "60s"')
    old = get(port)[1]
    t, done, m = reload_until(env, b, tmp, 10)
    os.kill(old, 9)
    t.join(60)
    assert done["r"].returncode == 0, done["r"].stdout + done["r"].stderr
    b.wait_line(r"rollout: generation 2 promoted \(promoted: generation 1 .* during the "
                r"rollout: nothing to go back to\)", start=m)
    new = get(port)[1]
    assert new != old and {get(port)[1] for _ in range(10)} == {new}
    b.send(15)
    assert b.wait(30) == 0
