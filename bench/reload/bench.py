#!/usr/bin/python3
"""Reloads-under-load benchmark driver, started by bench/reload/run.sh (see the README there).

One wrk run per mode against examples/gin-hello on loopback, with RELOADS restarts of the app
spread evenly over the DURATION of the run:

  direct   the app alone on its own port; no reloads (the reference)
  baton    `baton run` holds the port; a reload is SIGHUP to baton
  baton-metrics  `baton` with `[metrics] address` set and /metrics scraped every second (opt-in:
           --modes ...,baton-metrics), to show what the metrics cost on the request path
  baton-drain  the same with examples/gin-multi, whose drain answers with `Connection: close`
           for a grace period before it shuts down (when that app was built)
  naive    bench/reload/naive.sh: a shell loop that, per reload, SIGTERMs the app, waits for it
           and starts it again binding the port itself (PORT)
  haproxy  HAProxy in front of two app instances (blue/green): per reload the idle slot gets a
           new process, HAProxy's runtime API switches the backend to it (set server ... state
           ready / drain), the old one is stopped once HAProxy has no session on it

Every process is started in its own session and its group is killed at the end of its mode,
also on failure or SIGTERM; every wait has a deadline; only 127.0.0.1 is used."""
import argparse
import datetime
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import Abort, Procs, free_port, logger, on_term, parse_wrk  # noqa: E402,F401
from docsection import replace_section  # noqa: E402

mono = time.monotonic
HZ = os.sysconf("SC_CLK_TCK")
MODES = ["direct", "baton", "baton-metrics", "baton-drain", "baton-proxy", "baton-proxy-tcp",
         "naive", "haproxy",
         "nginx", "caddy"]
OPT_IN = {"baton-metrics", "baton-proxy-tcp"}  # only with --modes
START_TIMEOUT = 30.0


log = logger("bench:")


# ---------------------------------------------------------------- processes


def cpu_seconds(pid):
    """utime + stime of one process (not its children), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / HZ
    except (OSError, IndexError, ValueError):
        return None


def answers(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def wait_answers(port, timeout=START_TIMEOUT, what="the app"):
    deadline = mono() + timeout
    while not answers(port):
        if mono() > deadline:
            raise Abort(f"{what} does not answer on port {port} within {timeout}s")
        time.sleep(0.005)


def app_env(port=None):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("LISTEN_") and k != "NOTIFY_SOCKET"}
    e["GIN_MODE"] = "release"
    e["ACCESS_LOG"] = "1"  # gin-multi logs each request only then; gin-hello always does
    if port is not None:
        e["PORT"] = str(port)
    return e


# ---------------------------------------------------------------- modes


class Mode:
    name = "?"
    supervisor = None  # Popen whose CPU is reported (baton, haproxy), or None

    def __init__(self, a, procs, dir_):
        self.a, self.procs, self.dir = a, procs, dir_
        os.makedirs(dir_, exist_ok=True)

    def logp(self, name):
        return os.path.join(self.dir, name + ".log")

    def setup(self):
        """Start; return the port wrk targets once it answers."""
        raise NotImplementedError

    def reload(self, i):
        pass

    def check(self, done):
        """After the run: a note on whether the reloads really happened."""
        return ""

    def extra(self):
        """Mode-specific figures for the JSON (and the notes line)."""
        return {}


class Direct(Mode):
    name = "direct"

    def setup(self):
        self.port = free_port()
        self.procs.start([self.a.app], self.logp("app"), cwd=self.dir, env=app_env(self.port))
        wait_answers(self.port)
        return self.port


class Baton(Mode):
    name = "baton"

    def app(self):
        return self.a.app

    def listen_extra(self):
        return ""

    def more_config(self):
        return ""

    def setup(self):
        self.port = free_port()
        self.sock = os.path.join(self.dir, "baton.sock")
        cfg = os.path.join(self.dir, "baton.toml")
        with open(cfg, "w") as f:
            f.write(self.more_config())
            f.write(f'''[run]
cmd = "{self.app()}"
ready = "notify"
ready_timeout = "10s"
stop_timeout = "10s"
[[listen]]
name = "http"
address = "127.0.0.1:{self.port}"
{self.listen_extra()}[control]
socket = "{self.sock}"
''')
        self.supervisor = self.procs.start([self.a.baton, "run", "-c", cfg], self.logp("baton"),
                                           cwd=self.dir, env=app_env())
        wait_answers(self.port, what="baton's first generation")
        return self.port

    def reload(self, i):
        os.kill(self.supervisor.pid, signal.SIGHUP)

    def status(self):
        r = subprocess.run([self.a.baton, "status", "--json", "-s", self.sock],
                           capture_output=True, text=True, timeout=10)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def check(self, done):
        # the last SIGHUP may still be starting: give it a bounded moment
        deadline = mono() + 15
        st = self.status()
        while st and (st["reloading"] or (st["serving"] or 0) < done + 1) and mono() < deadline:
            time.sleep(0.05)
            st = self.status()
        if not st:
            return "status unavailable"
        n = st["serving"] or 0
        # SIGHUPs that arrive while a generation starts coalesce into one follow-up
        return f"{n - 1} generations replaced the first (serving generation {n})"


class BatonMetrics(Baton):
    """baton with [metrics] on, scraped once a second by a thread, like Prometheus would."""
    name = "baton-metrics"

    def more_config(self):
        self.mport = free_port()
        return f'[metrics]\naddress = "127.0.0.1:{self.mport}"\n'

    def setup(self):
        port = super().setup()
        self.stop, self.scrapes, self.failed = threading.Event(), 0, 0
        self.thread = threading.Thread(target=self.scrape_loop, daemon=True)
        self.thread.start()
        return port

    def scrape_once(self):
        with socket.create_connection(("127.0.0.1", self.mport), timeout=2) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.startswith(b"HTTP/1.1 200") and b"baton_reloads_total" in data

    def scrape_loop(self):
        while not self.stop.wait(1.0):
            try:
                ok = self.scrape_once()
            except OSError:
                ok = False
            self.scrapes += 1
            self.failed += 0 if ok else 1

    def check(self, done):
        self.stop.set()
        self.thread.join(timeout=10)
        return f"{super().check(done)}, {self.scrapes} scrapes ({self.failed} failed)"


class BatonDrain(Baton):
    name = "baton-drain"

    def app(self):
        return self.a.app_drain


class Naive(Mode):
    name = "naive"

    def setup(self):
        self.port = free_port()
        self.loop = self.procs.start(["bash", self.a.naive, self.a.app], self.logp("naive"),
                                     cwd=self.dir, env=app_env(self.port), stdin=subprocess.PIPE)
        wait_answers(self.port)
        return self.port

    def reload(self, i):
        self.loop.stdin.write(b"restart\n")
        self.loop.stdin.flush()

    def check(self, done):
        self.loop.stdin.close()  # the loop stops its app and exits at EOF
        try:
            self.loop.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        with open(self.logp("naive")) as f:
            n = sum(1 for l in f if l.startswith("naive: restarted"))
        return f"{n} restarts done"


class Haproxy(Mode):
    name = "haproxy"

    def setup(self):
        self.port = free_port()
        self.slots = {"a": free_port(), "b": free_port()}
        self.apps = {}
        self.live = "a"
        self.sock = os.path.join(self.dir, "haproxy.sock")
        self.switches = 0
        self.drain_waits = []
        cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(f'''global
    stats socket {self.sock} mode 600 level admin
    maxconn {getattr(self.a, "haproxy_maxconn", None) or 4096}

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
    retry-on conn-failure empty-response response-timeout

frontend fe
    bind 127.0.0.1:{self.port}
    default_backend be

backend be
    server a 127.0.0.1:{self.slots["a"]}
    server b 127.0.0.1:{self.slots["b"]} disabled
''')
        self.start_app("a")
        self.supervisor = self.procs.start([self.a.haproxy, "-db", "-f", cfg],
                                           self.logp("haproxy"), cwd=self.dir, env=app_env())
        deadline = mono() + START_TIMEOUT
        while not os.path.exists(self.sock):
            if mono() > deadline or self.supervisor.poll() is not None:
                raise Abort("haproxy did not start (see haproxy.log)")
            time.sleep(0.01)
        wait_answers(self.port, what="haproxy")
        return self.port

    def start_app(self, slot):
        self.apps[slot] = self.procs.start([self.a.app], self.logp("app-" + slot), cwd=self.dir,
                                           env=app_env(self.slots[slot]))
        wait_answers(self.slots[slot], what=f"app in slot {slot}")

    def cmd(self, line):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.sock)
            s.sendall(line.encode() + b"\n")
            out = b""
            while True:
                c = s.recv(65536)
                if not c:
                    break
                out += c
        return out.decode()

    def sessions(self, server):
        """Current sessions HAProxy has on backend server `server` (show stat: scur)."""
        rows = self.cmd("show stat").splitlines()
        head = rows[0].lstrip("# ").split(",")
        for r in rows[1:]:
            v = r.split(",")
            if len(v) == len(head) and v[0] == "be" and v[1] == server:
                return int(v[head.index("scur")] or 0)
        return 0

    def reload(self, i):
        old, new = self.live, "b" if self.live == "a" else "a"
        self.start_app(new)
        for line in (f"set server be/{new} state ready", f"set server be/{old} state drain"):
            out = self.cmd(line).strip()
            if out:
                raise Abort(f"haproxy: {line}: {out}")
        self.live = new
        # stop the old instance once HAProxy has no request in flight on it (bounded)
        t0 = mono()
        while self.sessions(old) > 0 and mono() - t0 < 2.0:
            time.sleep(0.005)
        self.drain_waits.append(mono() - t0)
        self.procs.stop(self.apps.pop(old))
        self.cmd(f"set server be/{old} state maint")
        self.switches += 1

    def check(self, done):
        return f"{self.switches} backend switches"

    def extra(self):
        w = self.drain_waits
        return {"drain_wait_ms": round(statistics.median(w) * 1000, 1)} if w else {}


def established(port):
    """TCP connections established to the app's port (server side, IPv4 or IPv6 sockets: Go
    listens on both), from /proc/net/tcp and tcp6."""
    n = 0
    want = f":{port:04X}"
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                for line in f.readlines()[1:]:
                    v = line.split()
                    if v[1].endswith(want) and v[3] == "01":
                        n += 1
        except OSError:
            pass
    return n


class BlueGreen(Mode):
    """A front (nginx, Caddy) in front of two app instances on their own ports. Per reload: a
    new instance in the idle slot, the front's configuration switched to it by the front's own
    reload, then the old instance stopped once no connection to it is left (at most 2 s)."""

    def start_app(self, slot):
        self.apps[slot] = self.procs.start([self.a.app], self.logp("app-" + slot), cwd=self.dir,
                                           env=app_env(self.slots[slot]))
        wait_answers(self.slots[slot], what=f"app in slot {slot}")

    def setup(self):
        self.port = free_port()
        self.slots = {"a": free_port(), "b": free_port()}
        self.apps = {}
        self.live = "a"
        self.switches = 0
        self.drain_waits = []
        self.start_app("a")
        self.start_front(self.slots["a"])
        wait_answers(self.port, what=self.name)
        return self.port

    def reload(self, i):
        old, new = self.live, "b" if self.live == "a" else "a"
        self.start_app(new)
        self.switch(self.slots[new])
        self.live = new
        t0 = mono()
        while established(self.slots[old]) > 0 and mono() - t0 < 2.0:
            time.sleep(0.005)
        self.drain_waits.append(mono() - t0)
        self.procs.stop(self.apps.pop(old))
        self.switches += 1

    def check(self, done):
        return f"{self.switches} upstream switches"

    def extra(self):
        w = self.drain_waits
        return {"drain_wait_ms": round(statistics.median(w) * 1000, 1)} if w else {}


class Nginx(BlueGreen):
    """nginx 1.22 as an operator configures it for this: upstream keep-alive, HTTP/1.1 to the
    app, no access log (HAProxy logs nothing either); a switch rewrites the upstream's port and
    runs `nginx -s reload` (new workers, the old ones finish their requests and exit)."""
    name = "nginx"

    def conf(self, upstream):
        return f'''worker_processes 2;
pid {self.dir}/nginx.pid;
error_log {self.dir}/nginx-error.log warn;
daemon off;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {self.dir}/tmp;
    proxy_temp_path {self.dir}/tmp;
    upstream be {{
        server 127.0.0.1:{upstream};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502;
        }}
    }}
}}
'''

    def write(self, upstream):
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.cfg = os.path.join(self.dir, "nginx.conf")
        tmp = self.cfg + ".new"
        with open(tmp, "w") as f:
            f.write(self.conf(upstream))
        os.replace(tmp, self.cfg)

    def start_front(self, upstream):
        self.write(upstream)
        self.supervisor = self.procs.start([self.a.nginx, "-p", self.dir, "-c", self.cfg],
                                           self.logp("nginx"), cwd=self.dir, env=app_env())

    def switch(self, upstream):
        self.write(upstream)
        r = subprocess.run([self.a.nginx, "-p", self.dir, "-c", self.cfg, "-s", "reload"],
                           capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise Abort(f"nginx -s reload: {r.stderr.strip()}")


class Caddy(BlueGreen):
    """Caddy 2.6 with a reverse_proxy route; a switch POSTs the new configuration to the admin
    API (/load on a unix socket: what `caddy reload` does), which Caddy applies gracefully."""
    name = "caddy"

    def conf(self, upstream):
        return json.dumps({
            "admin": {"listen": f"unix/{self.sock}"},
            "logging": {"logs": {"default": {"level": "ERROR"}}},
            "apps": {"http": {"servers": {"s": {
                "listen": [f"127.0.0.1:{self.port}"],
                "automatic_https": {"disable": True},
                "routes": [{"handle": [{"handler": "reverse_proxy",
                                        "upstreams": [{"dial": f"127.0.0.1:{upstream}"}]}]}],
            }}}},
        })

    def start_front(self, upstream):
        self.sock = os.path.join(self.dir, "caddy-admin.sock")
        cfg = os.path.join(self.dir, "caddy.json")
        with open(cfg, "w") as f:
            f.write(self.conf(upstream))
        env = app_env()
        env["HOME"] = self.dir  # Caddy's data and config directories
        env["XDG_DATA_HOME"] = os.path.join(self.dir, "data")
        env["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
        self.supervisor = self.procs.start([self.a.caddy, "run", "--config", cfg],
                                           self.logp("caddy"), cwd=self.dir, env=env)

    def switch(self, upstream):
        body = self.conf(upstream).encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.sock)
            s.sendall(b"POST /load HTTP/1.1\r\nHost: \r\nContent-Type: "
                      b"application/json\r\nConnection: close\r\nContent-Length: " +
                      str(len(body)).encode() + b"\r\n\r\n" + body)
            out = b""
            while True:
                c = s.recv(65536)
                if not c:
                    break
                out += c
        if not out.startswith(b"HTTP/1.1 200"):
            raise Abort(f"caddy /load: {out[:300]!r}")


class BatonProxy(Baton):
    """`baton run` with `[[listen]] proxy = "http"`: baton owns the client connections and
    routes each request to the serving generation's private socket; a reload is a SIGHUP."""
    name = "baton-proxy"

    def listen_extra(self):
        # room for the idle-connection measurement's 10,000 clients (default cap: 4096)
        return 'proxy = "http"\nmax_connections = 12000\n'


class BatonProxyTcp(BatonProxy):
    """baton-proxy with loopback TCP private sockets ([proxy] private_socket = "tcp") instead of
    the default unix ones: what TCP costs (Gin's ClientIP() needs it)."""
    name = "baton-proxy-tcp"

    def more_config(self):
        return '[proxy]\nprivate_socket = "tcp"\n'


MODE_CLASSES = {"direct": Direct, "baton": Baton, "baton-metrics": BatonMetrics,
                "baton-drain": BatonDrain, "naive": Naive, "haproxy": Haproxy, "nginx": Nginx,
                "caddy": Caddy, "baton-proxy": BatonProxy, "baton-proxy-tcp": BatonProxyTcp}


# ---------------------------------------------------------------- wrk


def children_cpu():
    """CPU seconds of every reaped descendant of this process (a process's figure includes the
    children it reaped: baton's include its generations and orphans)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_mode(a, name, work):
    procs = Procs()
    mode = MODE_CLASSES[name](a, procs, os.path.join(work, name))
    wrk = None
    wrk_cpu = 0.0
    res = None
    c0 = children_cpu()
    try:
        port = mode.setup()
        reloads = 0 if name == "direct" else a.reloads
        url = f"http://127.0.0.1:{port}/"
        argv = [a.wrk, f"-t{a.threads}", f"-c{a.connections}", f"-d{a.duration}s", "--latency",
                "--timeout", "2s", url]
        log(f"{name}: {' '.join(argv[1:])} with {reloads} reloads")
        cpu0 = cpu_seconds(mode.supervisor.pid) if mode.supervisor else None
        t0 = mono()
        wrk = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
        late = []
        for i in range(reloads):
            at = t0 + a.duration * (i + 1) / (reloads + 1)
            delay = at - mono()
            if delay > 0:
                time.sleep(delay)
            else:
                late.append(-delay)
            mode.reload(i)
        # reap wrk with wait4 for its own CPU, which is not the server side's
        killer = threading.Timer(a.duration + 60, os.killpg, (wrk.pid, signal.SIGKILL))
        killer.start()
        out = wrk.stdout.read().decode("utf-8", "replace")
        _, status, ru = os.wait4(wrk.pid, 0)
        killer.cancel()
        wrk.returncode = os.waitstatus_to_exitcode(status)
        wrk_cpu = ru.ru_utime + ru.ru_stime
        with open(os.path.join(mode.dir, "wrk.out"), "w") as f:
            f.write(out)
        if wrk.returncode != 0:
            raise Abort(f"wrk exited with {wrk.returncode}: {out[-500:]}")
        cpu1 = cpu_seconds(mode.supervisor.pid) if mode.supervisor else None
        res = parse_wrk(out)
        res.update(mode=name, reloads=reloads, check=mode.check(reloads),
                   late_reloads=len([x for x in late if x > 0.2]), **mode.extra())
        if cpu0 is not None and cpu1 is not None:
            res["supervisor_cpu_s"] = round(cpu1 - cpu0, 2)
    finally:
        if wrk and wrk.poll() is None:
            try:
                os.killpg(wrk.pid, signal.SIGKILL)
            except OSError:
                pass
            wrk.wait(timeout=10)
        procs.stop_all()
    # everything the mode started has been reaped: its CPU (apps, baton or haproxy, start-up
    # and drain included; wrk excluded) per answered request
    cpu = children_cpu() - c0 - wrk_cpu
    res["server_cpu_s"] = round(cpu, 2)
    if res.get("requests"):
        res["cpu_us_per_req"] = round(cpu / res["requests"] * 1e6, 1)
    log(f"{name}: {res.get('rps', 0):.0f} req/s, p99 {res.get('p99_ms')} ms, "
        f"max {res.get('max_ms')} ms, errors {res['errors']}, "
        f"{res.get('cpu_us_per_req')} µs CPU/request ({res['check']})")
    return res


# ---------------------------------------------------------------- report


def fmt(v, nd=0):
    if v is None:
        return "—"
    return f"{v:,.{nd}f}"


def combine(rounds):
    """Per mode: median of the rounds for rates and latencies, max for max latency, median of
    the error counts (ranges shown when there are several rounds)."""
    out = {}
    for name in MODES:
        rs = [r for rr in rounds for r in rr if r["mode"] == name]
        if not rs:
            continue
        c = {"mode": name, "n": len(rs), "reloads": rs[0]["reloads"],
             "check": "; ".join(dict.fromkeys(r["check"] for r in rs if r["check"]))}
        for k in ("rps", "p50_ms", "p99_ms", "avg_ms", "supervisor_cpu_s", "drain_wait_ms",
                  "cpu_us_per_req"):
            vals = [r[k] for r in rs if r.get(k) is not None]
            c[k] = statistics.median(vals) if vals else None
        c["max_ms"] = max((r.get("max_ms") or 0) for r in rs)
        for k in ("connect", "read", "write", "timeout", "non2xx", "errors"):
            vals = [r[k] for r in rs]
            c[k] = statistics.median(vals)
            c[k + "_range"] = (min(vals), max(vals))
        out[name] = c
    return out


def errcell(c, k):
    lo, hi = c[k + "_range"]
    v = fmt(c[k])
    return v if lo == hi else f"{v} ({lo}–{hi})"


def render(a, rounds, started, where=None):
    comb = combine(rounds)
    d = comb.get("direct")
    lines = []
    lines.append(f"Measured {started} on {where or machine()}, by\n")
    cmd = " ".join(w for w in a.command.split() if w != "--no-doc")
    lines.append(f"```sh\n{cmd}\n```\n")
    lines.append(f"wrk {a.threads} threads, {a.connections} keep-alive connections, "
                 f"{a.duration} s per mode, `--timeout 2s`; {a.reloads} reloads per mode spread "
                 f"evenly over the run (one every {a.duration / (a.reloads + 1):.2f} s); "
                 f"{len(rounds)} round(s), the modes one after the other"
                 + (", every other round in reverse order" if len(rounds) > 1 else "")
                 + (" (figures are medians over rounds, max latency the max, error ranges in "
                    "brackets)" if len(rounds) > 1 else "") + ".\n")
    lines.append("| mode | requests/s | p50 (ms) | p99 (ms) | max (ms) | connect err | read err "
                 "| write err | timeouts | non-2xx | supervisor CPU (s) | server CPU / request (µs) |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in MODES:
        c = comb.get(name)
        if not c:
            continue
        lines.append(
            f"| {name} | {fmt(c['rps'])} | {fmt(c['p50_ms'], 2)} | {fmt(c['p99_ms'], 2)} | "
            f"{fmt(c['max_ms'], 1)} | {errcell(c, 'connect')} | {errcell(c, 'read')} | "
            f"{errcell(c, 'write')} | {errcell(c, 'timeout')} | {errcell(c, 'non2xx')} | "
            f"{fmt(c['supervisor_cpu_s'], 2)} | {fmt(c.get('cpu_us_per_req'), 1)} |")
    if d and d.get("rps"):
        lines.append("\nRatios to `direct` (same run):\n")
        lines.append("| mode | throughput | p99 latency | max latency | CPU per request "
                     "| failed requests |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for name in MODES:
            c = comb.get(name)
            if not c or name == "direct":
                continue
            p99 = c["p99_ms"] / d["p99_ms"] if c.get("p99_ms") and d.get("p99_ms") else None
            mx = c["max_ms"] / d["max_ms"] if d.get("max_ms") else None
            cr = (c["cpu_us_per_req"] / d["cpu_us_per_req"]
                  if c.get("cpu_us_per_req") and d.get("cpu_us_per_req") else None)
            lines.append(f"| {name} | {c['rps'] / d['rps']:.2f}× | "
                         f"{'—' if p99 is None else f'{p99:.2f}×'} | "
                         f"{'—' if mx is None else f'{mx:.1f}×'} | "
                         f"{'—' if cr is None else f'{cr:.2f}×'} | {fmt(c['errors'])} |")
    checks = []
    for n in MODES:
        if n in comb and comb[n]["check"]:
            c = comb[n]
            more = (f" (the old instance stopped a median {c['drain_wait_ms']:.0f} ms after the "
                    f"switch)" if c.get("drain_wait_ms") is not None else "")
            checks.append(f"{n}: {c['check']}{more}")
    if checks:
        each = " in each round" if len(rounds) > 1 else ""
        lines.append(f"\nReloads that happened{each}: " + "; ".join(checks) + ".")
    return "\n".join(lines) + "\n"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ver = []
    for argv in (["go", "env", "GOVERSION"], ["haproxy", "-v"], ["wrk", "-v"]):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
            ver.append(out.splitlines()[0].strip() if out else "")
        except (OSError, subprocess.TimeoutExpired):
            ver.append("")
    hv = re.search(r"version (\S+)", ver[1])
    wv = re.search(r"wrk (\S+)", ver[2])
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return (f"{os.cpu_count()} × {model} (Linux {os.uname().release}; {ver[0] or 'go ?'}, "
            f"HAProxy {hv.group(1) if hv else '?'}, wrk {wv.group(1) if wv else '?'}; "
            f"load average at start {load})")


def write_doc(path, body, notes):
    """Replace (or append) the '## Reloads under load' section of path, keeping every other
    section. Re-reads the file right before writing; writes via a temp file + rename."""
    title = "## Reloads under load"
    with open(notes) as f:
        tail_notes = f.read().strip() + "\n"
    replace_section(path, title, f"{title}\n\n{body}\n{tail_notes}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baton")
    ap.add_argument("--app")
    ap.add_argument("--app-drain", help="gin-multi, for the baton-drain mode")
    ap.add_argument("--naive")
    ap.add_argument("--work")
    ap.add_argument("--render-only", action="store_true",
                    help="re-render the table (and the doc section) from --json")
    ap.add_argument("--wrk", default="wrk")
    ap.add_argument("--haproxy", default="haproxy")
    ap.add_argument("--nginx", default="/usr/sbin/nginx")
    ap.add_argument("--caddy", default="caddy")
    ap.add_argument("--modes")
    ap.add_argument("--reloads", type=int, default=20)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--doc")
    ap.add_argument("--notes")
    ap.add_argument("--command", default="bench/reload/run.sh")
    a = ap.parse_args()
    if a.render_only:
        if not a.json:
            ap.error("--render-only needs --json")
        with open(a.json) as f:
            saved = json.load(f)
        for k in ("reloads", "duration", "threads", "connections", "command"):
            setattr(a, k, saved["args"][k])
        table = render(a, saved["rounds"], saved["started"], saved.get("machine"))
        print(table)
        if a.doc:
            write_doc(a.doc, table, a.notes)
        return 0
    if not (a.baton and a.app and a.naive and a.work):
        ap.error("--baton, --app, --naive and --work are required")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if a.modes is None:
        a.modes = ",".join(m for m in MODES
                           if m not in OPT_IN and (m != "baton-drain" or a.app_drain))
    modes = [m for m in a.modes.split(",") if m]
    if "baton-drain" in modes and not a.app_drain:
        ap.error("mode baton-drain needs --app-drain (examples/gin-multi)")
    for m in modes:
        if m not in MODE_CLASSES:
            ap.error(f"unknown mode {m!r} (known: {', '.join(MODES)})")
    if not 1 <= a.duration <= 600 or not 0 <= a.reloads <= 1000 or not 1 <= a.rounds <= 10:
        ap.error("--duration 1..600, --reloads 0..1000, --rounds 1..10")
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    where = machine()
    rounds = []
    skipped = {}
    try:
        for r in range(a.rounds):
            rr = []
            # every other round in reverse order, so a drifting machine load evens out
            for m in (modes if r % 2 == 0 else modes[::-1]):
                try:
                    rr.append(run_mode(a, m, os.path.join(a.work, f"round{r + 1}")))
                except Abort as e:
                    if str(e).startswith("signal"):
                        raise
                    # one front that cannot run (not installed, refused) leaves its row out
                    log(f"{m}: skipped: {e}")
                    skipped.setdefault(m, str(e))
            rounds.append(rr)
    except Abort as e:
        log(f"aborted: {e}")
        return 1
    table = render(a, rounds, started, where)
    print(table)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"started": started, "machine": where, "args": vars(a), "rounds": rounds},
                      f, indent=1)
    if a.doc:
        write_doc(a.doc, table, a.notes)
        log(f"wrote the \"Reloads under load\" section of {a.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
