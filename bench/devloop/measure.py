#!/usr/bin/python3
"""Dev-loop benchmark driver: baton dev vs nodemon / entr (and air, CompileDaemon, reflex when on
PATH) on the example Gin app. Started by bench/devloop/run.sh, which builds baton and installs
the peers; see the README there for what is measured and how.

For each tool: start it in a fresh copy of the app, wait for the first version to answer, then
EDITS+1 times (the first is a warm-up, not counted) rewrite main.go in place (truncate + write)
with the next version of the greeting and poll GET / on a new connection every 5 ms until the
body is the new greeting. Then 10 s of idleness for the supervisor's CPU, and its RSS.

Every wait is bounded; every process started is killed (its process group, its descendants and
anything left whose cwd is under the tool's directory), also on failure or SIGTERM."""
import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from docsection import replace_section  # noqa: E402

mono = time.monotonic
HZ = os.sysconf("SC_CLK_TCK")
POLL_INTERVAL = 0.005
EDIT_TIMEOUT = 60.0
START_TIMEOUT = 180.0
IDLE_SECONDS = 10.0
AFTER_WINDOW = 0.3  # keep polling this long after the new version to catch flapping
GOENV = {"GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOFLAGS": ""}


def log(*a):
    print("measure:", *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- HTTP


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, timeout=2.0):
    """One GET / on a new connection: ("ok", body) or ("err", kind)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", "/", headers={"Connection": "close"})
        r = c.getresponse()
        body = r.read().decode("utf-8", "replace").strip()
        if r.status != 200:
            return "err", f"http {r.status}"
        return "ok", body
    except ConnectionRefusedError:
        return "err", "refused"
    except ConnectionResetError:
        return "err", "reset"
    except socket.timeout:
        return "err", "timeout"
    except http.client.RemoteDisconnected:
        return "err", "closed"
    except Exception as e:  # noqa: BLE001 - every other failure counts too
        return "err", type(e).__name__
    finally:
        c.close()


def poll_until(port, want, t0, deadline, interval=POLL_INTERVAL):
    """Poll every `interval` (fixed ticks from t0; a slow request is followed at once) until a
    200 whose body is `want`. Returns (seconds from t0 to that response, counts of the rest)."""
    counts = {}
    tick = t0
    while True:
        kind, body = get(port)
        now = mono()
        if kind == "ok" and body == want:
            return now - t0, counts
        key = "old" if kind == "ok" else body
        counts[key] = counts.get(key, 0) + 1
        if now - t0 > deadline:
            return None, counts
        tick += interval
        if tick > now:
            time.sleep(tick - now)
        else:
            tick = now


def poll_for(port, want, seconds):
    """Poll for `seconds` more; count answers that are not `want` (flapping, failures)."""
    counts, t0 = {}, mono()
    tick = t0
    while mono() - t0 < seconds:
        kind, body = get(port)
        if not (kind == "ok" and body == want):
            key = f"old:{body[:40]}" if kind == "ok" else body
            counts[key] = counts.get(key, 0) + 1
        tick += POLL_INTERVAL
        now = mono()
        if tick > now:
            time.sleep(tick - now)
        else:
            tick = now
    return counts


# ---------------------------------------------------------------- processes


def ppid_map():
    m = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    s = f.read()
                m[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return m


def descendants(pid):
    m = ppid_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c, pp in m.items():
            if pp == p:
                out.append(c)
                todo.append(c)
    return out


def pids_with_cwd_under(root):
    root = os.path.realpath(root) + "/"
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            try:
                cwd = os.readlink(f"/proc/{d}/cwd") + "/"
            except OSError:
                continue
            if cwd.startswith(root):
                out.append(int(d))
    return out


def kill_pids(pids, sig=signal.SIGKILL):
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


class Tool:
    """A supervisor under test, in its own session, its output read by a thread."""

    def __init__(self, name, argv, cwd, env, stdin_data=None):
        self.name, self.cwd = name, cwd
        self.lines = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.logf = open(os.path.join(os.path.dirname(cwd), f"{name}.log"), "w")
        self.p = subprocess.Popen(argv, cwd=cwd, env=env, start_new_session=True,
                                  stdin=subprocess.PIPE if stdin_data else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if stdin_data:
            self.p.stdin.write(stdin_data.encode())
            self.p.stdin.close()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for raw in self.p.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.logf.write(line + "\n")
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def wait_line(self, rx, start, timeout):
        """The first line matching rx at index >= start (None after timeout)."""
        rx = re.compile(rx)
        end = mono() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                    i += 1
                left = end - mono()
                if left <= 0 or self.p.poll() is not None and i >= len(self.lines):
                    return None
                self.cond.wait(min(left, 0.5))

    def stop(self):
        """SIGINT (baton: graceful), then SIGTERM, then SIGKILL for the group, every descendant
        and everything whose cwd is in the project directory."""
        pid = self.p.pid
        kids = descendants(pid)
        for sig, wait in ((signal.SIGINT, 5), (signal.SIGTERM, 3), (signal.SIGKILL, 3)):
            if self.p.poll() is not None:
                break
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            try:
                self.p.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        kill_pids(kids + descendants(pid) + pids_with_cwd_under(self.cwd))
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log(f"{self.name}: pid {pid} did not exit after SIGKILL")
        self.t.join(timeout=5)
        self.logf.close()


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


# ---------------------------------------------------------------- setup


def project(work, name, app, port=None):
    """A fresh copy of the app (main.go only) in work/name/app. gin-zero: gin-plain with its
    address written into the code, r.Run("127.0.0.1:PORT"), as most Gin apps have it."""
    src = {"gin-hello": os.path.join(ARGS.repo, "examples", "gin-hello"),
           "gin-plain": os.path.join(ARGS.repo, "tests", "apps", "gin-plain"),
           "gin-zero": os.path.join(ARGS.repo, "tests", "apps", "gin-plain")}[app]
    top = os.path.join(work, name)
    shutil.rmtree(top, ignore_errors=True)
    dst = os.path.join(top, "app")
    os.makedirs(dst)
    shutil.copy(os.path.join(src, "main.go"), dst)
    if app == "gin-zero":
        main_go = os.path.join(dst, "main.go")
        with open(main_go) as f:
            code = f.read()
        assert "r.Run()" in code
        with open(main_go, "w") as f:
            f.write(code.replace("r.Run()", f'r.Run("127.0.0.1:{port}")'))
    return dst


GREETING = {"gin-hello": ('const greeting = "hello from gin-hello v1"',
                          'const greeting = "{}"', "hello from gin-hello v{}"),
            "gin-plain": ('const version = "gin-plain v1"', 'const version = "{}"',
                          "gin-plain v{}"),
            "gin-zero": ('const version = "gin-plain v1"', 'const version = "{}"',
                         "gin-plain v{}")}


def set_version(main_go, app, text):
    """Rewrite main.go in place (truncate + write, like a non-atomic editor save)."""
    old, fmt, _ = GREETING[app]
    with open(main_go) as f:
        src = f.read()
    src = re.sub(re.escape(old.split('"')[0]) + r'"[^"]*"', fmt.format(text), src, count=1)
    with open(main_go, "w") as f:
        f.write(src)


def go_shim(work):
    """A `go` first on the peers' PATH that logs each run's wall-clock start and end
    (bash $EPOCHREALTIME: no fork) to $BENCH_GO_LOG, then runs /usr/bin/go. Written once,
    before any tool starts, and put in place by a rename: a peer that is running it (its first
    build) never sees it half-written (rewriting it per tool once made a peer's build a
    silent no-op)."""
    d = os.path.join(work, "shim")
    p = os.path.join(d, "go")
    if os.path.exists(p):
        return d
    os.makedirs(d, exist_ok=True)
    with open(p + ".tmp", "w") as f:
        f.write('#!/bin/bash\nt0=$EPOCHREALTIME\n/usr/bin/go "$@"\nrc=$?\n'
                'echo "$t0 $EPOCHREALTIME $rc $*" >> "$BENCH_GO_LOG"\nexit $rc\n')
    os.chmod(p + ".tmp", 0o755)
    os.rename(p + ".tmp", p)
    return d


def read_go_log(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                a = line.split()
                if len(a) >= 3 and "build" in a[3:4]:
                    out.append((float(a[0]), float(a[1]), int(a[2])))
    except FileNotFoundError:
        pass
    return out


def measure_app_start(work, n=10):
    """Exec of the built gin-hello binding its own port -> first HTTP 200, polled every 1 ms on a
    new connection. Also warms the Go build cache."""
    d = project(work, "startup", "gin-hello")
    env = dict(os.environ, **GOENV)
    t = mono()
    subprocess.run(["/usr/bin/go", "build", "-o", "app", "."], cwd=d, env=env, check=True,
                   timeout=300)
    build_s = mono() - t
    res = []
    for _ in range(n):
        port = free_port()
        t0 = mono()
        p = subprocess.Popen(["./app"], cwd=d, env=dict(env, PORT=str(port), GIN_MODE="debug"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            lat, _ = poll_until(port, "hello from gin-hello v1", t0, 20.0, interval=0.001)
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=10)
        if lat is not None:
            res.append(lat * 1000)
    return build_s * 1000, res


# ---------------------------------------------------------------- tools


def baton_toml(port, forward=None, debounce=None):
    listen = f'[[listen]]\nname = "http"\naddress = "127.0.0.1:{port}"\n'
    if forward:
        listen += f'forward = "127.0.0.1:{forward}"\n'
    watch = '[watch]\ninclude_ext = ["go"]\n'
    if debounce is not None:
        watch += f'debounce = "{debounce}"\n'
    return ('[build]\ncmd = "GO111MODULE=off GOPATH=/usr/share/gocode go build -o .baton/bin/app ."'
            '\n\n[run]\ncmd = ".baton/bin/app"\n'
            f'ready = "{"port" if forward else "notify"}"\n\n{listen}\n{watch}')


TOOLS = {
    # name: (app, description)
    "baton": ("gin-hello", "baton dev, socket handoff ([[listen]], ready = \"notify\"), defaults"),
    "baton-d0": ("gin-hello", "baton dev, socket handoff, [watch] debounce = \"0s\""),
    "baton-fwd": ("gin-plain", "baton dev, forward mode (gin-plain binds $PORT, ready = \"port\")"),
    "baton-zero": ("gin-zero", "baton dev, no baton.toml: gin-plain with r.Run(\"127.0.0.1:PORT\") "
                   "in its code (the bind takeover, where baton has it)"),
    "nodemon": ("gin-hello", "nodemon --watch . --ext go --exec 'go build -o app . && ./app' "
                "--signal SIGTERM"),
    "entr": ("gin-hello", "ls *.go | entr -n -r sh -c 'go build -o app . && exec ./app'"),
    "air": ("gin-hello", "air (defaults, build cmd go build -o ./tmp/main .)"),
    "CompileDaemon": ("gin-hello", "CompileDaemon -build='go build -o app .' -command=./app"),
    "reflex": ("gin-hello", "reflex -r '\\.go$' -s -- sh -c 'go build -o app . && exec ./app'"),
}


def start_tool(name, work):
    app = TOOLS[name][0]
    port = free_port()
    d = project(work, name, app, port)
    golog = os.path.join(work, name, f"{name}.go.log")  # run.sh keeps work/*/*.log: one each
    env = dict(os.environ, **GOENV, BENCH_GO_LOG=golog)
    env.pop("LISTEN_FDS", None)
    env.pop("NOTIFY_SOCKET", None)
    if name == "baton-zero":
        tool = Tool(name, [ARGS.baton, "dev"], d, env)
    elif name.startswith("baton"):
        fwd = free_port() if name == "baton-fwd" else None
        with open(os.path.join(d, "baton.toml"), "w") as f:
            f.write(baton_toml(port, fwd, "0s" if name == "baton-d0" else None))
        tool = Tool(name, [ARGS.baton, "dev"], d, env)
    else:
        env["PORT"] = str(port)
        env["PATH"] = go_shim(work) + ":" + env["PATH"]
        if name == "nodemon":
            argv = [ARGS.nodemon, "--watch", ".", "--ext", "go", "--exec",
                    "go build -o app . && ./app", "--signal", "SIGTERM"]
            tool = Tool(name, argv, d, env)
        elif name == "entr":
            argv = ["entr", "-n", "-r", "sh", "-c", "go build -o app . && exec ./app"]
            tool = Tool(name, argv, d, env, stdin_data="main.go\n")
        elif name == "air":
            with open(os.path.join(d, ".air.toml"), "w") as f:
                f.write('[build]\ncmd = "go build -o ./tmp/main ."\nbin = "./tmp/main"\n'
                        'include_ext = ["go"]\n')
            tool = Tool(name, ["air"], d, env)
        elif name == "CompileDaemon":
            tool = Tool(name, ["CompileDaemon", "-build=go build -o app .", "-command=./app"],
                        d, env)
        elif name == "reflex":
            tool = Tool(name, ["reflex", "-r", r"\.go$", "-s", "--", "sh", "-c",
                               "go build -o app . && exec ./app"], d, env)
        else:
            raise ValueError(name)
    return tool, app, d, port, golog


BATON_READY = (r"built in ([\d.]+) ms .{1,5} restarted in ([\d.]+) ms .{1,5}"
               r"ready \(generation (\d+), pid (\d+)\)")


def edit_once(r, i, nonce):
    """One edit of tool run r: rewrite main.go, poll until the new version, record."""
    name, tool = r["res"]["tool"], r["tool"]
    text = GREETING[r["app"]][2].format(f"{i + 2}.{nonce}")
    mark = len(tool.lines)
    wall0 = time.time()
    set_version(r["main_go"], r["app"], text)
    t0 = mono()
    lat, counts = poll_until(r["port"], text, t0, EDIT_TIMEOUT)
    after = poll_for(r["port"], text, AFTER_WINDOW) if lat is not None else {}
    e = {"i": i, "warmup": i == 0, "latency_ms": None if lat is None else lat * 1000,
         "failed": sum(v for k, v in counts.items() if k != "old"),
         "old_answers": counts.get("old", 0), "errors": counts, "after": after, "wall0": wall0}
    if name.startswith("baton"):
        m = tool.wait_line(BATON_READY, mark, 5.0)
        if m:
            e["built_ms"], e["start_ms"] = float(m[1][1]), float(m[1][2])
            e["generation"] = int(m[1][3])
    r["res"]["edits"].append(e)
    log(f"{name} edit {i}: " + ("timeout" if lat is None else f"{lat * 1000:.0f} ms")
        + f", failed {e['failed']}, old {e['old_answers']}"
        + (f", baton built {e.get('built_ms')} restarted {e.get('start_ms')}"
           if name.startswith("baton") else "")
        + (f", AFTER new version: {after}" if after else ""))
    if lat is None:
        r["timeouts"] += 1
        if r["timeouts"] >= 2:
            raise RuntimeError("two edits never showed the new version")


def run_all(names, work, edits, nonce):
    """Start every tool, then edit round-robin (tool A, B, C, A, B, C...) so that the load of a
    shared machine spreads over all tools alike; only one tool builds at a time. Then one idle
    window for all of them at once."""
    runs = []
    go_shim(work)  # before any peer starts (see go_shim)
    try:
        for name in names:
            res = {"tool": name, "what": TOOLS[name][1], "edits": [], "error": None}
            try:
                tool, app, d, port, golog = start_tool(name, work)
            except Exception as e:  # noqa: BLE001
                res["error"] = f"cannot start: {e}"
                runs.append({"res": res, "tool": None})
                continue
            runs.append({"res": res, "tool": tool, "app": app, "port": port, "golog": golog,
                         "main_go": os.path.join(d, "main.go"), "timeouts": 0, "t": mono()})
        for r in runs:
            if not r["tool"]:
                continue
            want = GREETING[r["app"]][2].format(1)
            lat, _ = poll_until(r["port"], want, mono(), START_TIMEOUT, interval=0.05)
            if lat is None:
                r["res"]["error"] = (f"first version never answered within {START_TIMEOUT:.0f} "
                                     f"s; log tail: {r['tool'].lines[-5:]}")
                log(f"{r['res']['tool']}: ERROR {r['res']['error']}")
            else:
                r["res"]["first_ready_ms"] = (mono() - r["t"]) * 1000
        for i in range(edits + 1):
            for r in runs:
                if not r["tool"] or r["res"]["error"]:
                    continue
                try:
                    edit_once(r, i, nonce)
                except Exception as e:  # noqa: BLE001 - report, go on with the others
                    r["res"]["error"] = str(e)
                    log(f"{r['res']['tool']}: ERROR {e}")
        live = [r for r in runs if r["tool"] and not r["res"]["error"]]
        for r in live:  # peers: the first `go build` started after each edit (go shim log)
            if r["res"]["tool"].startswith("baton"):
                continue
            builds = read_go_log(r["golog"])
            r["res"]["go_builds"] = builds
            for e in r["res"]["edits"]:
                b = [x for x in builds if x[0] >= e["wall0"]]
                if b:
                    e["built_ms"] = (b[0][1] - b[0][0]) * 1000
        # idle: every supervisor's utime + stime over IDLE_SECONDS, then its RSS
        c0 = {id(r): cpu_ticks(r["tool"].p.pid) for r in live}
        t0 = mono()
        end = t0 + IDLE_SECONDS
        while mono() < end:
            time.sleep(min(0.5, max(0.0, end - mono())))
        t1 = mono()
        for r in live:
            pid, res = r["tool"].p.pid, r["res"]
            if r["tool"].p.poll() is not None:
                res["error"] = "exited during the idle window"
                continue
            res["idle_cpu_ticks"] = cpu_ticks(pid) - c0[id(r)]
            res["idle_cpu_pct"] = res["idle_cpu_ticks"] / HZ / (t1 - t0) * 100
            res["rss_kib"] = rss_kib(pid)
            res["supervisor"] = os.readlink(f"/proc/{pid}/exe")
            res["threads"] = len(os.listdir(f"/proc/{pid}/task"))
    finally:
        for r in runs:
            if r["tool"]:
                r["tool"].stop()
                r["res"]["log_tail"] = r["tool"].lines[-15:]
    return [r["res"] for r in runs]


# ---------------------------------------------------------------- report


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize(res, app_start_ms):
    ed = [e for e in res["edits"] if not e["warmup"] and e["latency_ms"] is not None]
    s = {"tool": res["tool"], "n": len(ed), "timeouts": sum(1 for e in res["edits"]
                                                           if e["latency_ms"] is None)}
    if not ed:
        return s
    lat = [e["latency_ms"] for e in ed]
    s["median"], s["p90"] = statistics.median(lat), pct(lat, 0.9)
    b = [e["built_ms"] for e in ed if "built_ms" in e]
    s["build"] = statistics.median(b) if b else None
    if res["tool"].startswith("baton"):
        st = [e["start_ms"] for e in ed if "start_ms" in e]
        s["start"] = statistics.median(st) if st else None
        s["start_src"] = "baton"
        over = [e["latency_ms"] - e["built_ms"] - e["start_ms"] for e in ed
                if "built_ms" in e and "start_ms" in e]
    else:
        s["start"] = app_start_ms
        s["start_src"] = "standalone"
        over = [e["latency_ms"] - e["built_ms"] - app_start_ms for e in ed if "built_ms" in e]
    s["overhead"] = statistics.median(over) if over else None
    s["failed"] = statistics.mean(e["failed"] for e in ed)
    s["failed_max"] = max(e["failed"] for e in ed)
    s["after"] = sum(sum(e["after"].values()) for e in ed)
    s["idle_cpu"] = res.get("idle_cpu_pct")
    s["rss_mib"] = res["rss_kib"] / 1024 if res.get("rss_kib") else None
    return s


def fmt(x, nd=0):
    return "—" if x is None else f"{x:.{nd}f}"


def ratio(a, b, nd=1):
    if a is None or b is None:
        return "—"
    if b == 0:
        return "—" if a == 0 else "∞"
    return f"{a / b:.{nd}f}×"


def render(data):
    m, rows = data["machine"], data["summary"]
    base = next((r for r in rows if r["tool"] == "baton" and "median" in r), None)
    out = []
    psi = (f", CPU pressure {m['cpu_pressure']} %" if m.get("cpu_pressure") is not None
           else "")
    out.append(f"Measured {data['date']} on {m['nproc']} × {m['model']} "
               f"({m['kernel']}; Go {m['go']}; load average at start {m['loadavg']}{psi}), "
               f"{data['edits']} edits per tool after one warm-up edit, the tools taking turns "
               "edit by edit (one builds at a time), by\n")
    out.append(f"```sh\n{data['command']}\n```\n")
    out.append("| tool | edit → new version median / p90 (ms) | build median (ms) | "
               "app start (ms) | latency − build − start, median (ms) | failed requests per "
               "edit, mean (max) | idle CPU % (10 s) | RSS (MiB) |")
    out.append("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "median" not in r:
            out.append(f"| {r['tool']} | failed: {r.get('error', 'no result')} | | | | | | |")
            continue
        start = fmt(r["start"]) + ("" if r["start_src"] == "baton" else " ¹")
        out.append(f"| {r['tool']} | {fmt(r['median'])} / {fmt(r['p90'])} | {fmt(r['build'])} | "
                   f"{start} | {fmt(r['overhead'])} | {fmt(r['failed'], 1)} ({r['failed_max']}) "
                   f"| {fmt(r['idle_cpu'], 2)} | {fmt(r['rss_mib'], 1)} |")
    out.append("")
    if base:
        out.append("Ratios to `baton` (handoff, defaults):\n")
        out.append("| tool | edit → new version (median) | latency − build − start | failed "
                   "requests per edit | idle CPU | RSS |")
        out.append("|---|---|---|---|---|---|")
        for r in rows:
            if "median" not in r or r is base:
                continue
            out.append(f"| {r['tool']} | {ratio(r['median'], base['median'], 2)} | "
                       f"{ratio(r['overhead'], base['overhead'])} | "
                       f"{ratio(r['failed'], base['failed'])} | "
                       f"{ratio(r['idle_cpu'], base['idle_cpu'])} | "
                       f"{ratio(r['rss_mib'], base['rss_mib'])} |")
        out.append("")
    out.append("What each row runs:\n")
    for r in rows:
        out.append(f"- `{r['tool']}`: {TOOLS[r['tool']][1]}")
    if data.get("skipped"):
        out.append(f"- not on PATH, not measured: {', '.join(data['skipped'])}")
    out.append("")
    out.append(
        "Edit → new version: from the end of the in-place rewrite of `main.go` (truncate + "
        "write, a new greeting) to the first HTTP 200 carrying the new greeting, polled on a new "
        "connection every 5 ms. Failed requests: refused, reset, closed or timed-out requests "
        "(and non-200 answers) of that poller between the edit and the new version. Build: "
        "baton's own `built in` for baton rows; for the peers the wall time of the `go build` "
        "that followed the edit (a `go` wrapper first on their PATH logs it). App start: "
        "baton's `restarted in` for baton rows (stop of the old generation to ready of the "
        "new); ¹ for the peers the median time from exec of the built app (binding its own "
        f"port) to its first HTTP 200, measured alone, polled every 1 ms "
        f"({fmt(data['app_start_ms'], 1)} ms over {len(data['app_start_runs'])} runs). "
        "latency − build − start is the median over edits of that difference: watcher delay, "
        "stop of the old process, polling granularity (up to 5 ms) and hand-over costs. Idle "
        "CPU: utime + stime of the supervisor process alone (not the app, not its children) "
        "from /proc over 10 s without edits or requests (clock ticks of "
        f"{1000 // HZ} ms, so 0.1 % resolution); RSS: its VmRSS at the end. CPU pressure: "
        "PSI `some avg60` (share of the last minute in which a task waited for a CPU). "
        "baton's defaults (`[watch] debounce = \"50ms\"`, `fast_settle = \"5ms\"`): the "
        "rewrite ends with a close, so its batch settles 5 ms later, or up to the 50 ms "
        "debounce while CPUs or disks are contended (a writer may be held back); `baton-d0` "
        "is the same setup with `debounce = \"0s\"` (no settle window at all). In handoff "
        "mode the old generation keeps answering "
        "the poller during the build, so baton's build shares the CPU with it; the peers' app "
        "is already stopped then.")
    if data.get("notes"):
        out.append("")
        for n in data["notes"]:
            out.append(f"- {n}")
    return "\n".join(out) + "\n"


def write_section(path, body):
    """Replace (or append) the '## Dev loop' section of path, keeping every other section.
    Re-reads the file right before writing; writes via a temp file + rename."""
    replace_section(path, "## Dev loop", f"## Dev loop\n\n{body}")


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    go = subprocess.run(["/usr/bin/go", "env", "GOVERSION"], capture_output=True, text=True,
                        timeout=30).stdout.strip()
    with open("/proc/loadavg") as f:
        la = " ".join(f.read().split()[:3])
    psi = None  # baton's fast settle waits while CPUs are contended: say how much they were
    try:
        with open("/proc/pressure/cpu") as f:
            psi = f.readline().split()[2].split("=")[1]  # "some avg10 avg60 ...": avg60
    except (OSError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "model": model, "kernel": "Linux " + os.uname().release,
            "go": go.removeprefix("go"), "loadavg": la, "cpu_pressure": psi}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--baton", required=True)
    ap.add_argument("--nodemon")
    ap.add_argument("--tools", default="baton,nodemon,entr")
    ap.add_argument("--edits", type=int, default=12)
    ap.add_argument("--command", default="bench/devloop/run.sh")
    ap.add_argument("--json", required=True)
    ap.add_argument("--doc")
    ap.add_argument("--skipped", default="")
    ap.add_argument("--render-only", action="store_true")
    ARGS = ap.parse_args()

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    if ARGS.render_only:
        with open(ARGS.json) as f:
            data = json.load(f)
    else:
        data = {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
                "machine": machine(), "edits": ARGS.edits, "command": ARGS.command,
                "skipped": [s for s in ARGS.skipped.split(",") if s], "results": [],
                "notes": []}
        log("warming the Go build cache and timing the app's start-up")
        build_ms, starts = measure_app_start(ARGS.work)
        log(f"standalone build {build_ms:.0f} ms, start {sorted(starts)}")
        data["app_start_runs"] = starts
        data["app_start_ms"] = statistics.median(starts) if starts else None
        nonce = os.urandom(3).hex()
        data["results"] = run_all(ARGS.tools.split(","), ARGS.work, ARGS.edits, nonce)
    data["summary"] = []
    for r in data["results"]:
        s = summarize(r, data["app_start_ms"])
        if r.get("error"):
            s["error"] = r["error"]
        data["summary"].append(s)
    with open(ARGS.json, "w") as f:
        json.dump(data, f, indent=1)
    text = render(data)
    print(text)
    if ARGS.doc:
        write_section(ARGS.doc, text)


ARGS = None
if __name__ == "__main__":
    main()
