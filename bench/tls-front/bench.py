#!/usr/bin/python3
"""TLS termination benchmark driver, started by bench/tls-front/run.sh (see the README there).

The same wrk run against three fronts terminating TLS for the same app (tests/apps/gin-shutdown,
GIN_MODE=release, no access log), each on a unix socket the app serves through LISTEN_FDS:

  baton    `baton run`, `[[listen]] proxy = "https"` with one [[tls]] group; the app's socket is
           the generation's private socket baton hands it
  haproxy  HAProxy (Debian's), `bind ... ssl crt ... alpn http/1.1`, the app behind it on a unix
           socket made by systemd-socket-activate (server keep-alive, the default)
  nginx    nginx (Debian's), `listen ... ssl`, `ssl_session_cache shared:SSL:10m`,
           `ssl_protocols TLSv1.2 TLSv1.3` (1.22's default leaves TLS 1.3 out), upstream
           keep-alive to the same kind of unix socket, 2 workers (auto on 2 cores)

Two rows per front: keep-alive (wrk's default) and a new TLS connection per request
(`-H "Connection: close"`). Then `baton` again under each kind of load while the certificate and
key are replaced SWAPS times (renamed into place, key first, two pairs alternating): wrk's
errors for those runs, and how many swaps baton logged.

Every process is started in its own session and its group is killed when its mode ends, also on
failure or SIGTERM; every wait has a deadline; only 127.0.0.1 and unix sockets are used."""
import argparse
import datetime
import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from benchlib import Abort, Procs, free_port, logger, on_term  # noqa: E402

mono = time.monotonic
HZ = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 30.0
FRONTS = ["baton", "haproxy", "nginx"]


log = logger("bench:")


def https_answers(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def negotiated(port):
    """The protocol and cipher a default client gets: every front must be on the same."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return f"{s.version()} {s.cipher()[0]}"


def wait_until(pred, what, proc=None, timeout=START_TIMEOUT):
    deadline = mono() + timeout
    while not pred():
        if mono() > deadline:
            raise Abort(f"{what}: not within {timeout:.0f} s")
        if proc is not None and proc.poll() is not None:
            raise Abort(f"{what}: exited with {proc.returncode}")
        time.sleep(0.02)


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / HZ


def group_pids(pgid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[2]) == pgid:
                        out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def app_env(extra=None):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIN_MODE": "release"}
    env.update(extra or {})
    return env


class Front:
    def __init__(self, a, procs, dir_):
        self.a, self.procs, self.dir = a, procs, dir_
        os.makedirs(dir_)
        self.certs = os.path.join(dir_, "certs")
        os.makedirs(self.certs)
        for ext in ("crt", "key"):
            shutil.copy(os.path.join(a.pairs, "p1." + ext), os.path.join(self.certs, "site." + ext))
        self.port = free_port()
        self.front = None  # the process whose group is the front (CPU measured)

    def logp(self, name):
        return os.path.join(self.dir, name + ".log")

    def app_on_socket(self):
        """gin-shutdown on a unix socket it gets as LISTEN_FDS (like baton's private socket)."""
        self.sock = os.path.join(self.dir, "app.sock")
        p = self.procs.start([self.a.activate, "-l", self.sock, "-E", "GIN_MODE=release",
                              self.a.app], self.logp("app"), cwd=self.dir, env=app_env())
        wait_until(lambda: os.path.exists(self.sock), "the app's socket", p)
        return p

    def front_pids(self):
        return group_pids(self.front.pid)


class Baton(Front):
    name = "baton"

    def setup(self):
        with open(os.path.join(self.dir, "baton.toml"), "w") as f:
            f.write(f'''[run]
cmd = '{self.a.app}'
ready = "http:/healthz"
ready_timeout = "30s"
env = {{ GIN_MODE = "release" }}

[[tls]]
name = "site"
cert = "certs/site.crt"
key = "certs/site.key"
hostnames = ["localhost"]

[[listen]]
name = "web"
address = "127.0.0.1:{self.port}"
proxy = "https"
tls = ["site"]
''')
        self.front = self.procs.start([self.a.baton, "run"], self.logp("baton"), cwd=self.dir,
                                      env=app_env())
        wait_until(lambda: https_answers(self.port), "baton", self.front)

    def front_pids(self):
        return [self.front.pid]  # baton alone, not its generation

    def swaps_logged(self):
        with open(self.logp("baton"), errors="replace") as f:
            text = f.read()
        return (text.count("new TLS handshakes use it"), text.count("rejected"),
                text.count("generation 2"))


class Haproxy(Front):
    name = "haproxy"

    def setup(self):
        self.app_on_socket()
        pem = os.path.join(self.dir, "site.pem")
        with open(pem, "w") as f:
            for ext in ("crt", "key"):
                with open(os.path.join(self.certs, "site." + ext)) as g:
                    f.write(g.read())
        self.stats = os.path.join(self.dir, "haproxy.sock")
        cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(f'''global
    stats socket {self.stats} mode 600 level admin
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    option forwardfor

frontend fe
    bind 127.0.0.1:{self.port} ssl crt {pem} alpn http/1.1
    http-request set-header X-Forwarded-Proto https
    default_backend be

backend be
    server app {self.sock}
''')
        self.front = self.procs.start([self.a.haproxy, "-db", "-f", cfg], self.logp("haproxy"),
                                      cwd=self.dir, env=app_env())
        wait_until(lambda: https_answers(self.port), "haproxy", self.front)

    def info(self):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(5)
                s.connect(self.stats)
                s.sendall(b"show info\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
            return dict(l.split(": ", 1) for l in data.decode().splitlines() if ": " in l)
        except OSError:
            return {}


class Nginx(Front):
    name = "nginx"

    def setup(self):
        self.app_on_socket()
        os.makedirs(os.path.join(self.dir, "tmp"))
        cfg = os.path.join(self.dir, "nginx.conf")
        # as root nginx's workers would switch to nobody, who cannot reach the app's socket in
        # the private scratch directory: they run as this user, like baton and HAProxy
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
        with open(cfg, "w") as f:
            f.write(f'''{user}worker_processes auto;
pid {self.dir}/nginx.pid;
error_log {self.dir}/nginx-error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {self.dir}/tmp;
    proxy_temp_path {self.dir}/tmp;
    upstream be {{
        server unix:{self.sock};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{self.port} ssl;
        ssl_certificate {self.certs}/site.crt;
        ssl_certificate_key {self.certs}/site.key;
        ssl_session_cache shared:SSL:10m;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto https;
        }}
    }}
}}
''')
        self.front = self.procs.start([self.a.nginx, "-p", self.dir, "-c", cfg],
                                      self.logp("nginx"), cwd=self.dir, env=app_env())
        wait_until(lambda: https_answers(self.port), "nginx", self.front)


CLASSES = {"baton": Baton, "haproxy": Haproxy, "nginx": Nginx}

def parse_wrk(out):
    r = benchlib.parse_wrk(out)
    r.setdefault("requests", 0)
    r.setdefault("rps", 0.0)
    return r


def swap_files(front, i):
    """Pair p2 on odd swaps, p1 on even ones: the key renamed into place, then the
    certificate (the two-write window the in-flux retry covers)."""
    pair = "p2" if i % 2 == 0 else "p1"
    for ext in ("key", "crt"):
        tmp = os.path.join(front.certs, f".site.{ext}.new")
        shutil.copy(os.path.join(front.a.pairs, f"{pair}.{ext}"), tmp)
        os.replace(tmp, os.path.join(front.certs, f"site.{ext}"))


def run_one(a, work, name, kind, swaps=0, tag=""):
    procs = Procs()
    front = CLASSES[name](a, procs, os.path.join(work, f"{name}-{kind}{tag}"))
    try:
        front.setup()
        argv = [a.wrk, f"-t{a.threads}", f"-c{a.connections}", f"-d{a.duration}s", "--latency",
                "--timeout", "5s"]
        if kind == "close":
            argv += ["-H", "Connection: close"]
        argv.append(f"https://127.0.0.1:{front.port}/")
        log(f"{name} {kind}{' with %d swaps' % swaps if swaps else ''}: {' '.join(argv[1:])}")
        tls = negotiated(front.port)
        pids = front.front_pids()
        cpu0 = cpu_seconds(pids)
        t0 = mono()
        wrk = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
        done = 0
        try:
            for i in range(swaps):  # evenly over the run, the first after 1/(n+1) of it
                at = t0 + a.duration * (i + 1) / (swaps + 1)
                while mono() < at and wrk.poll() is None:
                    time.sleep(min(0.05, max(0.0, at - mono())))
                if wrk.poll() is not None:
                    break
                swap_files(front, i)
                done += 1
            out, _ = wrk.communicate(timeout=a.duration + 60)
        finally:
            if wrk.poll() is None:
                os.killpg(wrk.pid, signal.SIGKILL)
                wrk.wait(timeout=10)
        cpu = cpu_seconds(pids) - cpu0
        with open(os.path.join(front.dir, "wrk.out"), "w") as f:
            f.write(out)
        r = parse_wrk(out)
        r.update(front=name, kind=kind, tls=tls, front_cpu_s=round(cpu, 2),
                 front_us_per_req=round(cpu * 1e6 / r["requests"], 1) if r["requests"] else None)
        if name == "haproxy":
            info = front.info()
            r["haproxy_ssl_reuse_pct"] = info.get("SslFrontendSessionReuse_pct")
            r["haproxy_nbthread"] = info.get("Nbthread")
        if swaps:
            # the last swap's log line may follow the run's end by a moment
            wait_until(lambda: front.swaps_logged()[0] + front.swaps_logged()[1] >= done,
                       "baton logging every swap", timeout=30)
            applied, rejected, gen2 = front.swaps_logged()
            r.update(swaps_done=done, swaps_applied=applied, swaps_rejected=rejected,
                     new_generations=gen2)
        log(f"  {r['rps']:.0f} req/s, {r['errors']} errors, front CPU {cpu:.2f} s"
            + (f", swaps {done} done / {r['swaps_applied']} applied" if swaps else ""))
        return r
    finally:
        procs.stop_all()


def med(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def table(rows):
    """One line per front and kind: medians over the rounds, every round's requests/s."""
    out = ["| front | connections | TLS | requests/s (median) | per round | p99 (ms) "
           "| errors (c/r/w/t/non-2xx, all rounds) | front CPU / request (µs) | vs HAProxy |",
           "|---|---|---|---:|---|---:|---|---:|---:|"]
    for kind in ("keep-alive", "close"):
        plain = [r for r in rows if r["kind"] == kind and not r.get("swaps_done")]
        ref = med(r["rps"] for r in plain if r["front"] == "haproxy")
        for name in FRONTS:
            rs = [r for r in plain if r["front"] == name]
            if not rs:
                continue
            rps = med(r["rps"] for r in rs)
            err = "/".join(str(sum(r[k] for r in rs))
                           for k in ("connect", "read", "write", "timeout", "non2xx"))
            ratio = f"{rps / ref:.2f}×" if ref else "—"
            per = " / ".join(f"{r['rps']:,.0f}" for r in rs)
            out.append(
                f"| {name} | {'keep-alive' if kind == 'keep-alive' else 'new per request'} "
                f"| {rs[0]['tls']} | {rps:,.0f} | {per} "
                f"| {med(r.get('p99_ms') for r in rs):.2f} | {err} "
                f"| {med(r['front_us_per_req'] for r in rs):.1f} | {ratio} |")
    return "\n".join(out)


def swap_table(rows):
    out = ["| connections | requests/s | swaps done | swaps applied | rejected | new generations "
           "| wrk errors (c/r/w/t/non-2xx) |", "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if r.get("swaps_done"):
            out.append(f"| {'keep-alive' if r['kind'] == 'keep-alive' else 'new per request'} "
                       f"| {r['rps']:,.0f} | {r['swaps_done']} | {r['swaps_applied']} "
                       f"| {r['swaps_rejected']} | {r['new_generations']} "
                       f"| {r['connect']}/{r['read']}/{r['write']}/{r['timeout']}/{r['non2xx']} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--app", required=True)
    ap.add_argument("--baton", required=True)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--swaps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--fronts", default=",".join(FRONTS))
    ap.add_argument("--kinds", default="keep-alive,close")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    a.wrk, a.haproxy, a.nginx = shutil.which("wrk"), shutil.which("haproxy") or \
        "/usr/sbin/haproxy", shutil.which("nginx") or "/usr/sbin/nginx"
    a.activate = shutil.which("systemd-socket-activate")
    if not a.wrk or not a.activate:
        raise SystemExit("bench: needs wrk and systemd-socket-activate")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    started = datetime.datetime.now(datetime.timezone.utc)
    rows = []
    try:
        kinds = a.kinds.split(",")
        fronts = a.fronts.split(",")
        for rnd in range(a.rounds):  # every other round in reverse order
            for kind in kinds:
                for name in (fronts if rnd % 2 == 0 else fronts[::-1]):
                    rows.append(run_one(a, a.work, name, kind, tag=f"-r{rnd + 1}"))
        if a.swaps and "baton" in a.fronts.split(","):
            for kind in kinds:
                rows.append(run_one(a, a.work, "baton", kind, swaps=a.swaps, tag="-swaps"))
    except Abort as e:
        log(f"aborted: {e}")
        return 1
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    meta = {"started": started.strftime("%Y-%m-%d %H:%M UTC"), "loadavg_end": load,
            "duration": a.duration, "connections": a.connections, "threads": a.threads,
            "swaps": a.swaps, "rounds": a.rounds, "kernel": os.uname().release, "nproc": os.cpu_count(),
            "haproxy": subprocess.run([a.haproxy, "-v"], capture_output=True, text=True)
            .stdout.splitlines()[0],
            "nginx": subprocess.run([a.nginx, "-v"], capture_output=True, text=True)
            .stderr.strip()}
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
    print(f"{meta['started']}, {meta['nproc']} CPUs, load at the end {load}; wrk "
          f"-t{a.threads} -c{a.connections} -d{a.duration}s, {a.rounds} round(s)\n")
    print(table(rows))
    if any(r.get("swaps_done") for r in rows):
        print("\nbaton under the same load with the certificate and key replaced during the run:"
              "\n")
        print(swap_table(rows))
    reuse = [r.get("haproxy_ssl_reuse_pct") for r in rows if r["front"] == "haproxy"
             and r["kind"] == "close"]
    if reuse:
        print(f"\nHAProxy's TLS session reuse in the new-connection run: {reuse[0]} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
