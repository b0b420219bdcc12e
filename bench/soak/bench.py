#!/usr/bin/python3
"""Soak driver, started by bench/soak/run.sh (see the README there).

`baton run` serves examples/gin-hello (SERVE_ALL=1: it serves both inherited sockets) on a TCP
listener and a unix listener while a load process keeps three kinds of clients busy:

  keepalive  HTTP/1.1 persistent connections (http.client reusing one connection per thread;
             after a failure the thread reconnects and counts it)
  newconn    a new TCP connection per request (Connection: close)
  unix       a new unix-socket connection per request

and this driver reloads RELOADS times by SIGHUP to baton, each waited for ("generation N
serving" on baton's output), back to back, with at least one successful request of each kind
after every reload before the next. baton's fd count, children, process group, threads and RSS
are sampled once the warm-up reloads are done and at the end, each time once every old
generation has drained.

The load process is this file with --load: its counters live in a shared mmap'd file (one slot
per client thread, so no two threads write the same word). Every process is started in its own
session and its process group is killed at the end, also on failure or SIGTERM; every wait has a
deadline; only 127.0.0.1 and unix sockets in the scratch directory are used."""
import argparse
import collections
import datetime
import http.client
import json
import mmap
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import Abort, free_port, logger, on_term  # noqa: E402
from docsection import replace_section  # noqa: E402

mono = time.monotonic
KINDS = ["keepalive", "newconn", "unix"]
# per client thread: one int64 each
FIELDS = ["ok", "refused", "reset", "timeout", "bad_status", "other", "connects"]
FAILS = ["refused", "reset", "timeout", "bad_status", "other"]
REQ_TIMEOUT = 10.0
START_TIMEOUT = 30.0
RELOAD_TIMEOUT = 60.0  # SIGHUP -> "generation N serving"
ANSWER_TIMEOUT = 30.0  # serving -> one success of each kind
DRAIN_TIMEOUT = 60.0
SERIES_EVERY = 100  # every old generation drained (the app's drain is bounded by 25 s)


log = logger("soak:")


# ---------------------------------------------------------------- the load process


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        s.settimeout(self.timeout)
        try:
            s.connect(self.path)
        except OSError:
            s.close()
            raise
        self.sock = s


def classify(e):
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, (http.client.RemoteDisconnected, http.client.IncompleteRead,
                      http.client.BadStatusLine, ConnectionResetError, BrokenPipeError,
                      ConnectionAbortedError)):
        return "reset"
    return "other"


def client(kind, slot, stop, a, errors):
    idx = {f: slot * len(FIELDS) + i for i, f in enumerate(FIELDS)}

    def connection():
        if kind == "unix":
            return UnixConnection(a.unix, REQ_TIMEOUT)
        return http.client.HTTPConnection("127.0.0.1", a.port, timeout=REQ_TIMEOUT)

    conn = None
    headers = {} if kind == "keepalive" else {"Connection": "close"}
    while not stop.is_set():
        if conn is None:
            conn = connection()
            a.counters[idx["connects"]] += 1
        try:
            conn.request("GET", "/", headers=headers)
            r = conn.getresponse()
            body = r.read()
            if r.status == 200 and body.startswith(b"hello"):
                a.counters[idx["ok"]] += 1
            else:
                a.counters[idx["bad_status"]] += 1
                conn.close()
                conn = None
            if kind != "keepalive" and conn is not None:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            what = classify(e)
            a.counters[idx[what]] += 1
            if errors[what] < 3:  # a few examples for the log
                errors[what] += 1
                print(f"load: {kind}[{slot}]: {what}: {type(e).__name__}: {e}", flush=True)
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


def load_main(a):
    """Runs the client threads until SIGTERM (or the driver's pipe closes)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    fd = os.open(a.counters_file, os.O_RDWR | os.O_CLOEXEC)
    mm = mmap.mmap(fd, 0)
    os.close(fd)
    a.counters = memoryview(mm).cast("q")
    plan = (["keepalive"] * a.keepalive + ["newconn"] * a.newconn + ["unix"] * a.unix_clients)
    threads = []
    for slot, kind in enumerate(plan):
        errors = collections.Counter()
        t = threading.Thread(target=client, args=(kind, slot, stop, a, errors), daemon=True)
        t.start()
        threads.append(t)
    print(f"load: {len(threads)} clients running", flush=True)
    while not stop.wait(0.5):
        if os.getppid() == 1:  # the driver is gone
            stop.set()
    for t in threads:
        t.join(timeout=REQ_TIMEOUT + 5)
    a.counters.release()
    mm.close()
    return 0


# ---------------------------------------------------------------- baton and its output


class Baton:
    """`baton run` with its output on a pipe; a thread reads it, keeps baton's own lines and the
    app's log lines (not the per-request [GIN] lines, which it only counts) and tracks the
    generations."""

    LINE = re.compile(r"^baton: (?:\w+: )?generation (\d+) (serving|failed|drained|exited|"
                      r"killed|\S+ while serving)")

    def __init__(self, a, work):
        self.a = a
        self.port = a.port
        self.cfg = os.path.join(work, "baton.toml")
        with open(self.cfg, "w") as f:
            f.write(f'''[run]
cmd = "{a.app}"
ready = "notify"
ready_timeout = "20s"
stop_timeout = "30s"
env = {{ SERVE_ALL = "1", GIN_MODE = "release" }}
[[listen]]
name = "http"
address = "127.0.0.1:{a.port}"
[[listen]]
name = "unix"
address = "unix:{a.unix}"
''')
        self.cond = threading.Condition()
        self.serving = set()
        self.failed = {}
        self.drained = set()
        self.problems = []  # lines about a generation that exited while serving, etc.
        self.gin_lines = 0
        self.lines = 0
        self.log_path = os.path.join(work, "baton.log")
        self.logf = open(self.log_path, "w")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("LISTEN_") and k != "NOTIFY_SOCKET"}
        self.p = subprocess.Popen([a.baton, "run", "-c", self.cfg], cwd=work, env=env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.p.pid
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        for raw in self.p.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("[GIN]"):
                self.gin_lines += 1
                continue
            self.lines += 1
            self.logf.write(line + "\n")
            m = self.LINE.match(line)
            if not m:
                continue
            gid, what = int(m.group(1)), m.group(2)
            with self.cond:
                if what == "serving":
                    self.serving.add(gid)
                elif what == "failed":
                    self.failed[gid] = line
                elif what == "drained":
                    self.drained.add(gid)
                else:
                    self.problems.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait(self, pred, timeout, what):
        deadline = mono() + timeout
        with self.cond:
            while not pred():
                left = deadline - mono()
                if self.p.poll() is not None:
                    raise Abort(f"baton exited ({self.p.returncode}) while waiting for {what}")
                if left <= 0:
                    raise Abort(f"no {what} within {timeout:.0f} s")
                self.cond.wait(min(left, 0.5))

    def wait_serving(self, gid, timeout):
        self.wait(lambda: gid in self.serving or gid in self.failed, timeout,
                  f"'generation {gid} serving'")
        if gid in self.failed:
            raise Abort(f"reload failed: {self.failed[gid]}")

    def wait_quiet(self, gid, timeout=DRAIN_TIMEOUT):
        """Every generation before gid has drained (or failed) and baton has one child."""
        self.wait(lambda: all(g in self.drained or g in self.failed for g in range(1, gid)),
                  timeout, f"generations 1..{gid - 1} drained")
        deadline = mono() + timeout
        while len(children(self.pid)) != 1:
            if mono() > deadline:
                raise Abort(f"baton still has {len(children(self.pid))} children "
                            f"{timeout:.0f} s after every old generation drained")
            time.sleep(0.01)

    def stop(self):
        """SIGTERM, a bounded wait, then SIGKILL to baton's group and to every group a
        descendant of baton is in."""
        kids = descendants(self.pid)
        groups = {pgid(p) for p in kids} - {None}
        rc = self.p.poll()
        if rc is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                rc = self.p.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for g in groups | {self.pid}:
            try:
                os.killpg(g, signal.SIGKILL)
            except OSError:
                pass
        if self.p.poll() is None:
            self.p.wait(timeout=10)
        self.reader.join(timeout=10)
        self.logf.write(f"[soak: {self.gin_lines} [GIN] request lines not kept]\n")
        self.logf.close()
        return rc


# ---------------------------------------------------------------- /proc


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def ppid_pgid_all():
    """{pid: (ppid, pgid)} of every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[int(d)] = (int(fields[1]), int(fields[2]))
        except (OSError, IndexError, ValueError):
            pass
    return out


def children(pid):
    return [p for p, (pp, _) in ppid_pgid_all().items() if pp == pid]


def descendants(pid):
    table = ppid_pgid_all()
    out, todo = [], [pid]
    while todo:
        q = todo.pop()
        for p, (pp, _) in table.items():
            if pp == q:
                out.append(p)
                todo.append(p)
    return out


def pgid(pid):
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def fd_kinds(pid):
    """baton's open fds by kind: 'socket', 'pipe', 'anon_inode:[signalfd]', '/dev/null'..."""
    kinds = collections.Counter()
    d = f"/proc/{pid}/fd"
    for fd in os.listdir(d):
        try:
            t = os.readlink(f"{d}/{fd}")
        except OSError:
            continue
        kinds[re.sub(r":\[\d+\]$", "", t)] += 1
    return kinds


def rss_regions(pid):
    """Rss (kB) by region from /proc/PID/smaps: [heap], [stack], other anonymous mappings, files
    (the binary and libc), so growth can be placed."""
    out = collections.Counter()
    region = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                name = head[5] if len(head) > 5 else ""
                region = (name if name in ("[heap]", "[stack]") else
                          "anon" if not name else "[vdso/vvar]" if name.startswith("[")
                          else "files")
            elif head and head[0] == "Rss:":
                out[region] += int(head[1])
    return dict(sorted(out.items()))


def sample(pid):
    st = proc_status(pid)
    table = ppid_pgid_all()
    kinds = fd_kinds(pid)
    return {
        "fds": sum(kinds.values()),
        "fd_kinds": dict(sorted(kinds.items())),
        "children": sum(1 for pp, _ in table.values() if pp == pid),
        "descendants": len(descendants(pid)),
        "process_group": sum(1 for _, g in table.values() if g == pid),
        "threads": int(st["Threads"]),
        "rss_kb": int(st["VmRSS"].split()[0]),
        "hwm_kb": int(st["VmHWM"].split()[0]),
        "rss_anon_kb": int(st.get("RssAnon", "0 kB").split()[0]),
        "rss_regions_kb": rss_regions(pid),
    }


# ---------------------------------------------------------------- the run


class Counters:
    def __init__(self, path, nslots):
        self.n = nslots
        with open(path, "wb") as f:
            f.write(b"\0" * max(8 * len(FIELDS) * nslots, mmap.PAGESIZE))
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        self.mm = mmap.mmap(fd, 0)
        os.close(fd)
        self.mv = memoryview(self.mm).cast("q")

    def totals(self, plan):
        out = {k: dict.fromkeys(FIELDS, 0) for k in KINDS}
        for slot, kind in enumerate(plan):
            for i, f in enumerate(FIELDS):
                out[kind][f] += self.mv[slot * len(FIELDS) + i]
        return out


def fails(t):
    return sum(t[f] for f in FAILS)


def run(a):
    work = a.work
    a.port = free_port()
    a.unix = os.path.join(work, "app.sock")
    plan = ["keepalive"] * a.keepalive + ["newconn"] * a.newconn + ["unix"] * a.unix_clients
    counters = Counters(os.path.join(work, "counters"), len(plan))
    res = {"reloads_asked": a.reloads, "warmup": a.warmup}
    baton = load = None
    loadlog = open(os.path.join(work, "load.log"), "w")
    t_start = mono()
    try:
        baton = Baton(a, work)
        baton.wait_serving(1, START_TIMEOUT)
        load = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--load", "--counters-file",
             os.path.join(work, "counters"), "--port", str(a.port), "--unix", a.unix,
             "--keepalive", str(a.keepalive), "--newconn", str(a.newconn), "--unix-clients",
             str(a.unix_clients)],
            cwd=work, stdin=subprocess.DEVNULL, stdout=loadlog, stderr=subprocess.STDOUT,
            start_new_session=True)

        def each_kind_answers(since, timeout=ANSWER_TIMEOUT):
            deadline = mono() + timeout
            while True:
                now = counters.totals(plan)
                if all(now[k]["ok"] > since[k]["ok"] for k in KINDS if plan.count(k)):
                    return now
                if load.poll() is not None:
                    raise Abort(f"the load process exited ({load.returncode}); see load.log")
                if mono() > deadline:
                    raise Abort(f"not every kind of client answered within {timeout:.0f} s "
                                f"(ok counts {[now[k]['ok'] for k in KINDS]})")
                time.sleep(0.002)

        each_kind_answers(counters.totals(plan), START_TIMEOUT)
        gen = 1
        reload_ms = []
        per_reload_fail = {k: [] for k in KINDS}  # kind: [[reload, failures], ...]
        start = None
        series = []  # a quiet sample every SERIES_EVERY reloads, for a trend
        progress = mono()
        for i in range(1, a.reloads + 1):
            before = counters.totals(plan)
            t0 = mono()
            os.kill(baton.pid, signal.SIGHUP)
            baton.wait_serving(gen + 1, RELOAD_TIMEOUT)
            gen += 1
            reload_ms.append((mono() - t0) * 1000)
            after = each_kind_answers(counters.totals(plan))
            for k in KINDS:
                n = fails(after[k]) - fails(before[k])
                if n:
                    per_reload_fail[k].append([i, n])
            if i == a.warmup:
                baton.wait_quiet(gen)
                start = {"after_reload": i, **sample(baton.pid),
                         "requests": counters.totals(plan)}
                log(f"start sample after {i} reloads: {brief(start)}")
            if i % SERIES_EVERY == 0 and i != a.reloads:
                baton.wait_quiet(gen)
                x = sample(baton.pid)
                series.append({k: x[k] for k in ("fds", "children", "rss_kb", "rss_anon_kb",
                                                  "rss_regions_kb")}
                              | {"after_reload": i})
            if mono() - progress > 30:
                progress = mono()
                log(f"{i}/{a.reloads} reloads, {mono() - t_start:.0f} s")
        baton.wait_quiet(gen)
        end = {"after_reload": a.reloads, **sample(baton.pid), "requests": counters.totals(plan)}
        log(f"end sample after {a.reloads} reloads: {brief(end)}")
        if start is None:
            raise Abort("--reloads must be more than --warmup")
        res.update(start=start, end=end, generation=gen, reload_ms={
            "median": round(statistics.median(reload_ms), 1),
            "p99": round(sorted(reload_ms)[int(len(reload_ms) * 0.99) - 1], 1),
            "max": round(max(reload_ms), 1)},
            failed_reloads=per_reload_fail, series=series)
        # stop the load first, then count: every request is over when its thread has ended
        load.send_signal(signal.SIGTERM)
        load.wait(timeout=REQ_TIMEOUT + 30)
        res["requests"] = counters.totals(plan)
        res["problems"] = baton.problems
        res["seconds"] = round(mono() - t_start, 1)
    finally:
        if load is not None and load.poll() is None:
            try:
                os.killpg(load.pid, signal.SIGKILL)
            except OSError:
                pass
            load.wait(timeout=10)
        if load is not None:
            try:
                os.killpg(load.pid, signal.SIGKILL)  # anything left in its group
            except OSError:
                pass
        loadlog.close()
        if baton is not None:
            rc = baton.stop()
            res["baton_exit"] = rc
            res["baton_lines"] = baton.lines
    return res


def brief(s):
    return (f"{s['fds']} fds, {s['children']} children, {s['descendants']} descendants, "
            f"{s['process_group']} in baton's group, {s['threads']} threads, "
            f"RSS {s['rss_kb']} kB")


# ---------------------------------------------------------------- report


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        gov = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        gov = ""
    return {"nproc": os.cpu_count(), "model": model, "kernel": os.uname().release,
            "python": sys.version.split()[0], "go": gov or "?"}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def verdicts(r):
    s, e = r["start"], r["end"]
    growth = (e["rss_kb"] - s["rss_kb"]) / s["rss_kb"] * 100
    req = r["requests"]
    return growth, [
        ("fd count equal", s["fds"] == e["fds"], f"{s['fds']} → {e['fds']}"),
        ("child count equal", s["children"] == e["children"]
         and s["descendants"] == e["descendants"] and s["process_group"] == e["process_group"],
         f"children {s['children']} → {e['children']}, descendants {s['descendants']} → "
         f"{e['descendants']}, baton's process group {s['process_group']} → "
         f"{e['process_group']}"),
        ("RSS growth under 1 %", growth < 1.0,
         f"{s['rss_kb']:,} kB → {e['rss_kb']:,} kB, {growth:+.2f} %; 1 % is "
         f"{s['rss_kb'] / 100:.0f} kB, {s['rss_kb'] / 100 / (mmap.PAGESIZE / 1024):.1f} "
         f"pages"),
        ("0 failed new-connection requests", fails(req["newconn"]) == 0,
         f"{fails(req['newconn'])} failed of {req['newconn']['ok'] + fails(req['newconn']):,}"),
    ]


def render(a, r):
    m = r["machine"]
    req = r["requests"]
    growth, checks = verdicts(r)
    s, e = r["start"], r["end"]
    out = [f"Measured {r['started']} on {m['model']} (nproc {m['nproc']}, Linux "
           f"{m['kernel']}; {m['go']}, Python {m['python']}; load average {r['load_start']} "
           f"at start, {r['load_end']} at the end), by\n",
           f"```sh\n{r['command']}\n```\n",
           f"`baton run` serves `examples/gin-hello` (`SERVE_ALL=1`: it serves both inherited "
           f"sockets) on `127.0.0.1` and on a unix socket; {r['generation'] - 1:,} reloads by "
           f"SIGHUP, back to back, each waited for (`generation N serving`) and followed by at "
           f"least one answered request of each kind before the next (SIGHUP → serving: median "
           f"{r['reload_ms']['median']} ms, p99 {r['reload_ms']['p99']} ms, max "
           f"{r['reload_ms']['max']} ms; {r['seconds']:.0f} s in all). Load from one Python "
           f"process: {a.keepalive} keep-alive clients (HTTP/1.1, one connection each, "
           f"reconnecting after a failure), {a.newconn} new-connection-per-request clients, "
           f"{a.unix_clients} unix-socket client{'s' if a.unix_clients > 1 else ''} (new "
           f"connection per request), each sending "
           f"`GET /` back to back, {REQ_TIMEOUT:.0f} s timeout.\n",
           "| clients | requests | failed | refused | reset / EOF | timeout | bad status | other "
           "| connections opened |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    names = {"keepalive": "keep-alive (TCP)", "newconn": "new connection per request (TCP)",
             "unix": "unix socket, new connection per request"}
    for k in KINDS:
        t = req[k]
        out.append(f"| {names[k]} | {t['ok'] + fails(t):,} | {fails(t):,} | {t['refused']:,} | "
                   f"{t['reset']:,} | {t['timeout']:,} | {t['bad_status']:,} | {t['other']:,} | "
                   f"{t['connects']:,} |")
    nfail = {k: len(v) for k, v in r["failed_reloads"].items()}
    out.append("")
    out.append(f"baton, sampled once every old generation had drained, after the "
               f"{s['after_reload']}-reload warm-up and after the last reload:\n")
    out.append("| | after warm-up | at the end |")
    out.append("|---|---:|---:|")
    for key, label in (("fds", "open fds (/proc/PID/fd)"), ("children", "children"),
                       ("descendants", "descendants"),
                       ("process_group", "processes in baton's process group"),
                       ("threads", "threads"), ("rss_kb", "VmRSS (kB)"),
                       ("rss_anon_kb", "RssAnon (kB)"), ("hwm_kb", "VmHWM (kB)")):
        out.append(f"| {label} | {s[key]:,} | {e[key]:,} |")
    rr = sorted(set(s.get("rss_regions_kb", {})) | set(e.get("rss_regions_kb", {})))
    if rr:
        out.append("\nRSS by region from `/proc/PID/smaps` (kB, start → end): " + ", ".join(
            f"`{k}` {s['rss_regions_kb'].get(k, 0):,} → {e['rss_regions_kb'].get(k, 0):,}"
            for k in rr) + ".")
    fk = sorted(set(s["fd_kinds"]) | set(e["fd_kinds"]))
    out.append("\nfds by kind (start → end): " + ", ".join(
        f"`{k}` {s['fd_kinds'].get(k, 0)} → {e['fd_kinds'].get(k, 0)}" for k in fk) + ".\n")
    ser = r.get("series") or []
    if ser:
        out.append(f"Every {SERIES_EVERY} reloads (fds / VmRSS kB / `[heap]` kB): " + ", ".join(
            f"{x['after_reload']}: {x['fds']} / {x['rss_kb']:,} / "
            f"{x['rss_regions_kb'].get('[heap]', 0)}" for x in ser) + ".\n")
    out.append("Against the goals:\n")
    for name, ok, detail in checks:
        out.append(f"- {name}: **{'met' if ok else 'NOT met'}** ({detail})")
    ka = req["keepalive"]
    out.append(f"\nKeep-alive failures ({fails(ka):,}; counted between one reload and the "
               f"next, {nfail['keepalive']:,} of the {r['generation'] - 1:,} reloads had some) "
               f"are expected with plain `baton run`: the old "
               f"generation's `http.Server.Shutdown` closes idle keep-alive connections when it "
               f"drains, and a request sent on one at that moment gets EOF or a reset. baton "
               f"does not proxy HTTP, so it cannot retry it; a client must (or the app's drain "
               f"must answer with `Connection: close` first, as `examples/gin-multi` does).")
    if fails(req["unix"]) or fails(req["newconn"]):
        out.append(f"New connections failed in {nfail['newconn']} reload(s) and unix-socket "
                   f"requests in {nfail['unix']} (per-reload counts in the JSON).")
    if r["problems"]:
        out.append("\nbaton reported: " + "; ".join(f"`{p}`" for p in r["problems"][:5]))
    out.append(f"\nbaton exited with status {r['baton_exit']} at the end. Raw figures: "
               f"`bench/results/soak.json` (from `bench/soak/last-run.json`).")
    return "\n".join(out) + "\n"


def write_json(paths, r):
    """Indented, but the per-reload failure lists on one line per kind."""
    fr = r["failed_reloads"]
    text = json.dumps({**r, "failed_reloads": "@FR@"}, indent=1)
    inner = ",\n".join(f'  "{k}": {json.dumps(v, separators=(",", ":"))}' for k, v in fr.items())
    text = text.replace('"@FR@"', "{\n" + inner + "\n }")
    json.loads(text)  # still JSON
    for p in paths:
        with open(p, "w") as f:
            f.write(text + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--counters-file", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--unix", help=argparse.SUPPRESS)
    ap.add_argument("--baton")
    ap.add_argument("--app")
    ap.add_argument("--work")
    ap.add_argument("--reloads", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--keepalive", type=int, default=2)
    ap.add_argument("--newconn", type=int, default=2)
    ap.add_argument("--unix-clients", type=int, default=1)
    ap.add_argument("--json", action="append", default=[], help="write the results here")
    ap.add_argument("--doc", help="rewrite the '## Soak' section of this file")
    ap.add_argument("--render-only", action="store_true",
                    help="re-render from the first --json file (and --doc)")
    ap.add_argument("--command", default="bench/soak/run.sh")
    a = ap.parse_args()
    if a.load:
        return load_main(a)
    if a.render_only:
        with open(a.json[0]) as f:
            r = json.load(f)
        for k in ("keepalive", "newconn", "unix_clients"):
            setattr(a, k, r["args"][k])
        text = render(a, r)
        print(text)
        if a.doc:
            replace_section(a.doc, "## Soak", f"## Soak\n\n{text}")
        return 0
    if not (a.baton and a.app and a.work):
        ap.error("--baton, --app and --work are required")
    if not 1 <= a.warmup < a.reloads <= 100000:
        ap.error("need 1 <= --warmup < --reloads <= 100000")
    if min(a.keepalive, a.newconn, a.unix_clients) < 1 or a.keepalive + a.newconn + \
            a.unix_clients > 64:
        ap.error("at least one client of each kind, at most 64 in all")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    r = {"started": started, "machine": machine(), "load_start": loadavg(),
         "command": a.command}
    try:
        r.update(run(a))
    except Abort as e:
        log(f"aborted: {e}")
        return 1
    r["load_end"] = loadavg()
    r["args"] = {k: getattr(a, k) for k in ("reloads", "warmup", "keepalive", "newconn",
                                            "unix_clients")}
    text = render(a, r)
    print(text)
    write_json(a.json, r)
    if a.doc:
        replace_section(a.doc, "## Soak", f"## Soak\n\n{text}")
        log(f"wrote the \"Soak\" section of {a.doc}")
    return 0 if r.get("baton_exit") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
