"""Shared fixtures for baton's end-to-end tests.

Every process a test starts carries BATON_TEST_ID=<unique> in its environment, and baton passes
its environment on to the apps and builds it runs. At teardown any process still carrying the
marker is reported and killed: a test that leaves something behind fails.
Tests synchronise on output lines, sockets or files (with deadlines), never on sleeps.
"""
import os
import re
import signal
import subprocess
import threading
import time
import uuid

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("BATON_BUILD", os.path.join(REPO, "build"))
BATON = os.environ.get("BATON_BIN", os.path.join(BUILD, "baton"))


def wait_until(pred, timeout=10.0, interval=0.005, what="condition"):
    """Poll pred() until it returns a truthy value or the deadline passes (no fixed sleeps:
    the interval is a polling granularity under a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Proc:
    """A process whose merged stdout+stderr is collected line by line in a thread."""

    def __init__(self, args, env, cwd=None, stdin=subprocess.DEVNULL):
        self.args = args
        self.p = subprocess.Popen(args, cwd=cwd, env=env, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    def _reader(self):
        for raw in self.p.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    @property
    def pid(self):
        return self.p.pid

    def output(self):
        with self.cond:
            return "\n".join(self.lines)

    def wait_line(self, pattern, timeout=10.0, start=0):
        """Wait for a line matching regex `pattern` at index >= start; returns (index, match)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    raise AssertionError(
                        f"no line matching {pattern!r} within {timeout}s "
                        f"(eof={self.eof}); output so far:\n" + "\n".join(self.lines[-60:]))
                self.cond.wait(left)

    def count(self, pattern, start=0):
        rx = re.compile(pattern)
        with self.cond:
            return sum(1 for l in self.lines[start:] if rx.search(l))

    def mark(self):
        with self.cond:
            return len(self.lines)

    def send(self, sig):
        if self.p.poll() is None:
            os.kill(self.p.pid, sig)

    def wait(self, timeout=10.0):
        return self.p.wait(timeout=timeout)

    def write(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()


def marked_pids(marker):
    needle = f"BATON_TEST_ID={marker}".encode()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    with open(f"/proc/{d}/stat") as s:
                        state = s.read().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        pids.append(int(d))
        except OSError:
            pass
    return pids


class Env:
    """Per-test environment: a marker, a base env, and the processes started."""

    def __init__(self, tmp_path):
        self.marker = uuid.uuid4().hex
        self.tmp = tmp_path
        self.procs = []
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("LISTEN_") or k == "NOTIFY_SOCKET":
                del self.env[k]
        self.env["BATON_TEST_ID"] = self.marker
        self.env["NO_COLOR"] = "1"

    def start(self, args, cwd=None, env=None, stdin=subprocess.DEVNULL):
        e = dict(self.env)
        if env:
            e.update(env)
        p = Proc(args, e, cwd=cwd or str(self.tmp), stdin=stdin)
        self.procs.append(p)
        return p

    def baton(self, *args, cwd=None, env=None, stdin=subprocess.DEVNULL):
        return self.start([BATON, *args], cwd=cwd, env=env, stdin=stdin)

    def run(self, args, cwd=None, env=None, timeout=30, input=None):
        e = dict(self.env)
        if env:
            e.update(env)
        return subprocess.run(args, cwd=cwd or str(self.tmp), env=e, capture_output=True,
                              text=True, timeout=timeout, input=input)

    def leftovers(self):
        return marked_pids(self.marker)

    def cleanup(self):
        for p in self.procs:
            if p.p.poll() is None:
                # a test that failed half-way: ask baton to stop its apps first
                try:
                    os.kill(p.p.pid, signal.SIGTERM)
                    p.p.wait(timeout=15)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if p.p.poll() is None:
                try:
                    os.killpg(p.p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.p.wait(timeout=10)
        left = self.leftovers()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return left


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    left = e.cleanup()
    assert not left, f"processes left behind: {left}"


@pytest.fixture
def baton_bin():
    return BATON
