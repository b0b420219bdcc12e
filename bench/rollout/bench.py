#!/usr/bin/python3
"""Weight changes under load (issue 13, "Performance"): the Gin app tests/apps/gin-shutdown
behind `baton run` with `proxy = "http"` and a canary rollout whose weight changes every
INTERVAL (steps 10, 20, ..., 100), started again and again with `baton reload` for DURATION
seconds, under two clients at once:

  wrk     keep-alive: T threads, C connections, GET /who; failed = socket errors (connect, read,
          write, timeout) + non-2xx/3xx responses, as wrk reports them;
  strict  new connections: N threads, each a new connection per GET /who, no retries; failed =
          any connection, read or write error, a timeout, a status other than 200, or a body
          that is not "PID ok gen=N".

It reports the requests, the failed requests, the rollouts (promoted / rolled back), the weight
steps taken (baton's "rollout: generation N gets X% of requests" lines), the median and longest
gap between two weight changes (from a rollout's end to the next one's first step includes
starting the next generation), and the raw figures as JSON. Started by bench/rollout/run.sh; a benchmark, never a
test. Loopback only; every wait has a deadline; every process started here is stopped at the end,
also on failure or Ctrl-C."""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import free_port  # noqa: E402

mono = time.monotonic
WHO = re.compile(r"^\d+ ok gen=\d+\n$")
STEP = re.compile(r"rollout: generation (\d+) gets (\d+)% of requests")


def log(msg):
    print(f"[bench/rollout] {msg}", file=sys.stderr, flush=True)


def wait_for(cond, timeout, what):
    deadline = mono() + timeout
    while not cond():
        if mono() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def strict_worker(port, stop, stats, lock):
    while not stop.is_set():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        err = None
        try:
            c.request("GET", "/who", headers={"Connection": "close"})
            r = c.getresponse()
            body = r.read().decode("utf-8", "replace")
            if r.status != 200:
                err = f"HTTP {r.status}"
            elif not WHO.match(body):
                err = "wrong body"
        except (OSError, http.client.HTTPException) as e:
            err = type(e).__name__
        finally:
            c.close()
        with lock:
            stats["requests"] += 1
            if err:
                stats["failed"] += 1
                stats["why"][err] = stats["why"].get(err, 0) + 1


def wrk_figures(out):
    """requests and failures from wrk's summary."""
    m = re.search(r"(\d+) requests in", out)
    res = {"requests": int(m.group(1)) if m else None, "failed": 0, "why": {}}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        for k, v in zip(("connect", "read", "write", "timeout"), m.groups()):
            if int(v):
                res["why"][k] = int(v)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["why"]["non-2xx"] = int(m.group(1))
    res["failed"] = sum(res["why"].values())
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baton", required=True)
    ap.add_argument("--app", required=True, help="the gin-shutdown binary")
    ap.add_argument("--work", required=True, help="a scratch directory")
    ap.add_argument("--duration", type=float, default=20, help="seconds of reloads (20)")
    ap.add_argument("--interval", default="100ms", help="[rollout] interval (100ms)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument("--strict", type=int, default=2, help="new-connection client threads (2)")
    ap.add_argument("--sticky", action="store_true", help="sticky = true (default false: "
                    "every request is routed by the weight of the moment)")
    ap.add_argument("--json", help="write the raw figures here")
    a = ap.parse_args()

    work = os.path.abspath(a.work)
    a.baton, a.app = os.path.abspath(a.baton), os.path.abspath(a.app)
    os.makedirs(work, exist_ok=True)
    port = free_port()
    steps = ", ".join(str(p) for p in range(10, 101, 10))
    with open(os.path.join(work, "mode"), "w") as f:
        f.write("ok\n")
    with open(os.path.join(work, "baton.toml"), "w") as f:
        f.write(f'''[run]
cmd = '{a.app}'
ready = "http:/healthz"
ready_timeout = "30s"
stop_timeout = "10s"
env = {{ GIN_MODE = "release" }}
[[listen]]
name = "web"
address = "127.0.0.1:{port}"
proxy = "http"
[rollout]
strategy = "canary"
steps = [{steps}]
interval = "{a.interval}"
min_requests = 1
latency_floor = "60s"
sticky = {"true" if a.sticky else "false"}
[control]
socket = "ctl.sock"
''')
    blog_path = os.path.join(work, "baton.log")
    blog = open(blog_path, "w")
    procs = []
    stop = threading.Event()
    seen = []  # (monotonic time, line) of baton's output, as it comes

    def reader(f):
        for ln in f:
            seen.append((mono(), ln))
            blog.write(ln)
            blog.flush()

    def text():
        return "".join(ln for _, ln in list(seen))

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    res = {}
    try:
        baton = subprocess.Popen([a.baton, "run"], cwd=work, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, start_new_session=True)
        procs.append(baton)
        rt = threading.Thread(target=reader, args=(baton.stdout,), daemon=True)
        rt.start()
        wait_for(lambda: "generation 1 serving" in text(), 60, "generation 1 serving")
        stats = {"requests": 0, "failed": 0, "why": {}}
        lock = threading.Lock()
        threads = [threading.Thread(target=strict_worker, args=(port, stop, stats, lock),
                                    daemon=True) for _ in range(a.strict)]
        wrk_secs = int(a.duration + 4)
        wrk = subprocess.Popen(["wrk", "-t", str(a.threads), "-c", str(a.connections), "-d",
                                f"{wrk_secs}s", "--timeout", "5s",
                                f"http://127.0.0.1:{port}/who"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
        procs.append(wrk)
        for t in threads:
            t.start()
        # generation 1 alone first, until both clients are seen to get answers
        wait_for(lambda: stats["requests"] >= 20, 30, "the strict client's first answers")
        reloads = {"promoted": 0, "rolled back": 0, "other": 0}
        why = []
        t0 = mono()
        while mono() - t0 < a.duration:
            r = subprocess.run([a.baton, "reload", "-s", os.path.join(work, "ctl.sock")],
                               capture_output=True, text=True, timeout=120)
            if r.returncode == 0:
                reloads["promoted"] += 1
            elif "rolled back" in r.stderr:
                reloads["rolled back"] += 1
                why.append(r.stderr.strip()[-300:])
            else:
                reloads["other"] += 1
                why.append(r.stderr.strip()[-300:])
        stepping_s = mono() - t0
        out, _ = wrk.communicate(timeout=wrk_secs + 60)
        stop.set()
        for t in threads:
            t.join(timeout=15)
        # weight changes: the steps, and each rollout's end (100 % to one generation)
        changes = [t for t, ln in list(seen) if t >= t0 and (STEP.search(ln) or
                   re.search(r"rollout: generation \d+ (promoted|rolled back)", ln))]
        nsteps = sum(1 for _, ln in list(seen) if STEP.search(ln))
        gaps = [b - a for a, b in zip(changes, changes[1:])]
        res = {"duration_s": round(stepping_s, 2), "interval": a.interval,
               "sticky": a.sticky, "wrk_connections": a.connections,
               "strict_threads": a.strict, "reloads": reloads, "reload_failures": why[:5],
               "weight_steps": nsteps, "weight_changes": len(changes),
               "max_gap_ms": round(1000 * max(gaps), 1) if gaps else None,
               "median_gap_ms": round(1000 * sorted(gaps)[len(gaps) // 2], 1) if gaps else None,
               "wrk": wrk_figures(out), "strict": stats,
               "wrk_output": out}
    except KeyboardInterrupt:
        log("interrupted")
        raise
    finally:
        stop.set()
        for p in reversed(procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=30)
                except (OSError, subprocess.TimeoutExpired):
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(timeout=10)
        if procs:
            rt.join(timeout=10)
        blog.close()
    w, s = res["wrk"], res["strict"]
    log(f"{res['weight_steps']} weight steps in {res['duration_s']} s "
        f"({res['reloads']['promoted']} rollouts promoted, {res['reloads']['rolled back']} "
        f"rolled back, {res['reloads']['other']} other); weight changes every "
        f"{res['median_gap_ms']} ms (median), longest gap {res['max_gap_ms']} ms")
    log(f"wrk (keep-alive, {a.connections} connections): {w['requests']} requests, "
        f"{w['failed']} failed {w['why'] or ''}")
    log(f"strict (new connections, {a.strict} threads): {s['requests']} requests, "
        f"{s['failed']} failed {s['why'] or ''}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({k: v for k, v in res.items() if k != "wrk_output"}, f, indent=1)
            f.write("\n")
    return 0 if w["failed"] == 0 and s["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
