"""A small driver for Debian's headless Chromium over the DevTools protocol.

    with Browser(env=env.env) as b:       # skips the test when chromium is absent
        b.open("http://127.0.0.1:8080/")
        b.wait_until("document.querySelectorAll('.gen').length == 2", timeout=20)
        assert b.eval("document.title") == "baton"
        b.screenshot("/tmp/page.png")

Chromium runs with a temporary profile and --remote-debugging-port=0; the port it picked is read
from DevToolsActivePort in the profile directory. It runs in its own session (process group),
which is killed on exit of the context manager, with the profile removed: nothing is left behind
even when a test fails half-way. Every wait has a deadline; nothing sleeps for a fixed time.
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium():
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def session_pids(sid):
    """Live (non-zombie) processes of session sid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(d))
    return out


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, env=None, width=1280, height=900, timeout=30.0):
        self.exe = find_chromium()
        if not self.exe:
            pytest.skip("chromium is not installed (apt-get install chromium) - browser test skipped")
        try:
            import websocket  # noqa: F401 (python3-websocket)
        except ImportError:
            pytest.skip("python3-websocket is not installed - browser test skipped")
        self.env = dict(env if env is not None else os.environ)
        self.width, self.height, self.timeout = width, height, timeout
        self.proc = None
        self.ws = None
        self.profile = None
        self.msg_id = 0
        self.events = []

    # --- life cycle -------------------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self):
        self.profile = tempfile.mkdtemp(prefix="baton-chromium-")
        args = [
            self.exe, "--headless=new", "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}", f"--window-size={self.width},{self.height}",
            "--no-first-run", "--no-default-browser-check", "--disable-gpu",
            "--disable-extensions", "--disable-background-networking", "--disable-sync",
            "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars",
            "--password-store=basic", "--use-mock-keychain", "about:blank",
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")
        self.log = open(os.path.join(self.profile, "chromium.log"), "wb")
        self.proc = subprocess.Popen(args, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        port = self._wait_port()
        target = self._page_target(port)
        import websocket
        self.ws = websocket.create_connection(target, timeout=self.timeout,
                                              suppress_origin=True)
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _wait_port(self):
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError(f"chromium exited with {self.proc.returncode}: {self._log()}")
            try:
                with open(path) as f:
                    first = f.readline().strip()
                if first.isdigit():
                    return int(first)
            except OSError:
                pass
            time.sleep(0.02)
        raise BrowserError(f"chromium wrote no DevToolsActivePort within {self.timeout}s: "
                           + self._log())

    def _page_target(self, port):
        import urllib.request
        deadline = time.monotonic() + self.timeout
        last = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list",
                                            timeout=5) as r:
                    for t in json.loads(r.read()):
                        if t.get("type") == "page" and t.get("webSocketDebuggerUrl"):
                            return t["webSocketDebuggerUrl"]
            except OSError as e:
                last = e
            time.sleep(0.02)
        raise BrowserError(f"no page target from chromium within {self.timeout}s ({last})")

    def _log(self):
        try:
            with open(os.path.join(self.profile, "chromium.log"), "rb") as f:
                return f.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def close(self):
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:
                pass
            self.ws = None
        if self.proc is not None:
            # chromium forks zygote, renderer and GPU processes, some in process groups of
            # their own: kill every process of its session and wait until none is left
            sid = self.proc.pid
            deadline = time.monotonic() + 10
            while True:
                pids = session_pids(sid)
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                if self.proc.poll() is None:
                    try:
                        self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        pass
                if not pids or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    # --- protocol ---------------------------------------------------------------------------

    def call(self, method, timeout=None, **params):
        """Send one DevTools command and return its result (events that arrive meanwhile are
        kept in self.events)."""
        self.msg_id += 1
        mid = self.msg_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"{method}: no answer within {timeout or self.timeout}s")
            self.ws.settimeout(left)
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
                del self.events[:-500]

    def open(self, url, timeout=None):
        """Navigate and wait for the document to be loaded."""
        r = self.call("Page.navigate", url=url)
        if r.get("errorText"):
            raise BrowserError(f"navigate {url}: {r['errorText']}")
        self.wait_until("document.readyState === 'complete'", timeout=timeout or self.timeout,
                        what=f"{url} to load")

    def eval(self, expr, timeout=None):
        """Evaluate a JS expression in the page and return its value (JSON-able values only);
        promises are awaited; an exception in the page raises BrowserError."""
        r = self.call("Runtime.evaluate", timeout=timeout, expression=expr, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            text = d.get("exception", {}).get("description") or d.get("text")
            raise BrowserError(f"JS exception in {expr!r}: {text}")
        return r.get("result", {}).get("value")

    def wait_until(self, expr, timeout=10.0, what=None, interval=0.05):
        """Poll the JS expression until it is truthy; returns its value; raises AssertionError
        (with the expression) at the deadline."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                v = self.eval(expr, timeout=max(1.0, deadline - time.monotonic()))
                if v:
                    return v
                last = v
            except BrowserError as e:
                last = e
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for "
                                     f"{what or expr} (last: {last!r})")
            time.sleep(interval)

    def text(self, selector="body"):
        return self.eval(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText")

    def screenshot(self, path, full_page=False):
        """Write a PNG of the viewport (or of the whole page) to path."""
        params = {"format": "png"}
        if full_page:
            m = self.call("Page.getLayoutMetrics")
            size = m.get("cssContentSize") or m.get("contentSize")
            params["clip"] = {"x": 0, "y": 0, "width": size["width"],
                              "height": size["height"], "scale": 1}
            params["captureBeyondViewport"] = True
        r = self.call("Page.captureScreenshot", **params)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return path

    def console_messages(self):
        """Console messages and uncaught exceptions seen so far (for a test's diagnostics)."""
        out = []
        for m in self.events:
            if m["method"] == "Runtime.consoleAPICalled":
                out.append(" ".join(str(a.get("value", a.get("description")))
                                    for a in m["params"].get("args", [])))
            elif m["method"] == "Runtime.exceptionThrown":
                out.append(m["params"]["exceptionDetails"].get("text", "exception"))
        return out
