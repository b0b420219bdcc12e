"""Shared by the bench drivers (bench/*/bench.py): the log line, the abort a signal raises, free
ports, and the processes a mode starts, each in its own session, stopped with their process
groups. A driver puts bench/ on sys.path and imports what it needs."""
import os
import re
import signal
import socket
import subprocess
import sys


def logger(prefix):
    """A log(*parts) that writes "prefix parts..." to stderr at once."""

    def log(*a):
        print(prefix, *a, file=sys.stderr, flush=True)

    return log


class Abort(Exception):
    pass


def on_term(signum, frame):
    """For SIGTERM and SIGINT: the driver unwinds, stopping what it started."""
    raise Abort(f"signal {signum}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    """Every process a mode starts; stop_all() ends their process groups."""

    def __init__(self):
        self.ps = []

    def start(self, argv, log_path, cwd=None, env=None, stdin=subprocess.DEVNULL):
        with open(log_path, "ab") as f:
            p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=stdin, stdout=f,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        self.ps.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=15.0):
        if p.poll() is None:
            try:
                os.kill(p.pid, sig)
                p.wait(timeout=timeout)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait(timeout=10)
        # anything the process left in its group (an app baton or the shell loop started)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass

    def stop_all(self):
        for p in reversed(self.ps):
            self.stop(p)
        self.ps = []


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def ms(text):
    """wrk's "1.23ms", "850.00us", "2.01s" in milliseconds; None if it is not one."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return float(m.group(1)) * UNIT[m.group(2)] if m else None


def parse_wrk(out):
    """wrk's summary (run with --latency): avg_ms, max_ms, p50_ms, p99_ms, requests and rps
    when it printed them; the socket errors (connect, read, write, timeout), non2xx, and their
    sum in errors, 0 when it printed none."""
    r = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "non2xx": 0}
    m = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", out, re.M)
    if m:
        r["avg_ms"], r["max_ms"] = ms(m.group(1)), ms(m.group(3))
    for pct in ("50", "99"):
        m = re.search(rf"^\s*{pct}%\s+(\S+)", out, re.M)
        if m:
            r[f"p{pct}_ms"] = ms(m.group(1))
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(\w+)", out, re.M)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["connect"], r["read"], r["write"], r["timeout"] = map(int, m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["non2xx"] = int(m.group(1))
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"] + r["non2xx"]
    return r
