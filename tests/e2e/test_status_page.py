"""The live status page (on the [metrics] address): /events streams a snapshot of the current
state, then every event in order; the page, in headless Chromium, follows a reload without
being reloaded."""
import os
import re
import signal
import socket
import time

from browser import Browser
from devutil import free_port, get, write
from test_reload import SIGECHO, stop


def start(env, port, extra=""):
    write(os.path.join(str(env.tmp), "baton.toml"), f'''
[run]
cmd = "{SIGECHO}"
ready = "notify"
stop_timeout = "2s"
{extra}
[metrics]
address = "127.0.0.1:{port}"
''')
    b = env.baton("run")
    b.wait_line(rf"metrics on http://127\.0\.0\.1:{port}/metrics", timeout=20)
    b.wait_line(r"generation 1 serving", timeout=20)
    return b


class Stream:
    """A plain HTTP client of /events: yields (event, data) in order, with a deadline."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b"text/event-stream" in head.lower(), head

    def _until(self, sep):
        deadline = time.monotonic() + 20
        while sep not in self.buf:
            self.s.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = self.s.recv(65536)
            assert chunk, f"stream closed; so far: {self.buf!r}"
            self.buf += chunk
        out, self.buf = self.buf.split(sep, 1)
        return out

    def next(self):
        """The next event (comments and retry: skipped): (type, json text)."""
        while True:
            block = self._until(b"\n\n").decode()
            ev = re.search(r"^event: (.*)$", block, re.M)
            data = re.search(r"^data: (.*)$", block, re.M)
            if ev and data:
                return ev.group(1), data.group(1)

    def until(self, pred):
        seen = []
        while True:
            e = self.next()
            seen.append(e)
            if pred(*e):
                return seen

    def close(self):
        self.s.close()


def test_events_stream_sends_snapshot_then_events_in_order(env):
    port = free_port()
    b = start(env, port)
    s = Stream(port)
    try:
        snap = s.until(lambda t, d: t == "live")
        assert snap[0][0] == "snapshot", snap
        states = [d for t, d in snap if t == "gen_state"]
        assert len(states) == 1 and '"generation":1,' in states[0] and \
            '"state":"ready"' in states[0], snap

        b.send(signal.SIGHUP)
        evs = s.until(lambda t, d: t == "gen_state" and '"generation":1,' in d and
                      '"exited"' in d)
        got = [(t, re.search(r'"generation":(\d+)', d) and
                int(re.search(r'"generation":(\d+)', d).group(1)),
                (re.search(r'"state":"(\w+)"', d) or [None, None])[1]) for t, d in evs]
        assert got == [
            ("reload_requested", None, None),
            ("gen_state", 2, "starting"),
            ("gen_state", 2, "ready"),
            ("gen_state", 1, "draining"),
            ("reload_succeeded", 2, None),
            ("gen_state", 1, "exited"),
        ], got

        # a second client now gets the new state as its snapshot, the reload among it
        s2 = Stream(port)
        snap2 = s2.until(lambda t, d: t == "live")
        s2.close()
        kinds = [t for t, d in snap2]
        assert "reload_succeeded" in kinds, snap2
        states = [d for t, d in snap2 if t == "gen_state"]
        assert len(states) == 1 and '"generation":2,' in states[0], snap2
    finally:
        s.close()
    st, body = get(port, "/nope")
    assert st == 404
    stop(b)


def test_page_follows_a_reload_live(env):
    port = free_port()
    b = start(env, port)
    with Browser(env=env.env) as br:
        br.open(f"http://127.0.0.1:{port}/")
        assert br.eval("document.title") == "baton"
        br.wait_until("document.getElementById('conn').textContent == 'live'", timeout=20)
        br.wait_until("(document.querySelector('.gen[data-gen=\"1\"]') || {}).dataset?.state"
                      " == 'ready'", timeout=20, what="generation 1 shown ready")
        pid1 = br.eval("document.querySelector('.gen[data-gen=\"1\"]').innerText")
        assert re.search(r"pid \d+", pid1), pid1

        mark = b.mark()
        b.send(signal.SIGHUP)
        b.wait_line(r"generation 2 serving", timeout=20, start=mark)
        # no navigation: the page follows the stream
        br.wait_until("(document.querySelector('.gen[data-gen=\"2\"]') || {}).dataset?.state"
                      " == 'ready'", timeout=20, what="generation 2 shown ready")
        br.wait_until("!document.querySelector('.gen[data-gen=\"1\"]')", timeout=20,
                      what="generation 1 gone once drained")
        row = br.wait_until("(document.querySelector('#reloads tr.reload') || {}).innerText",
                            timeout=20)
        assert "succeeded" in row and "#2" in row, row
        assert br.eval("document.querySelectorAll('.gen').length") == 1
    stop(b)
