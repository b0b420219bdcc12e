"""Client load for the end-to-end tests of the fronts: worker threads that count successes and
record every failure, never retrying a request, and the strict keep-alive HTTP client that the
proxy tests run through reloads. Tests synchronise with `wait_more(k)`, never with a rate."""
import http.client
import random
import threading

from conftest import wait_until


class Workers:
    """Threads running until the `with` block ends. `ok` counts successes and `failures` lists
    every failed request (under `lock`). Subclasses give the thread targets and say, in
    `record(result)` (called under the lock), what a success adds."""

    unit = "successful requests"  # what wait_more's timeout message says it waited for
    join_timeout = 60

    def __init__(self, targets):
        """targets: (function, args) for each thread."""
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=fn, args=args, daemon=True)
                         for fn, args in targets]

    def record(self, result):
        pass

    def keepalive_loop(self, label, connect, one, pause=0.0):
        """Until stopped: one(conn) on a connection made once by connect(), its result given to
        record(). No retries: a failure (refused, reset, closed, wrong answer) is recorded as
        "label: error", the connection is closed, and only then is a new one made."""
        conn = None
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = connect()
                result = one(conn)
            except Exception as e:  # any failure counts: the client does not retry
                with self.lock:
                    self.failures.append(f"{label}: {e!r}")
                if conn is not None:
                    conn.close()
                conn = None
            else:
                with self.lock:
                    self.ok += 1
                    self.record(result)
            if pause:
                self._stop.wait(pause)
        if conn is not None:
            conn.close()

    def wait_more(self, k=5, timeout=60.0, attr="ok", unit=None):
        """k more successes (of counter `attr`) than now: proof the service answers at this
        point, whatever the machine's speed."""
        target = getattr(self, attr) + k
        wait_until(lambda: getattr(self, attr) >= target, timeout=timeout,
                   what=f"{k} more {unit or self.unit} (failures so far: {self.failures[:3]})")

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.join_timeout)


class StrictClient(Workers):
    """Workers with one persistent HTTP/1.1 connection each: GET / then POST /echo with a 4 KiB
    body checked byte for byte, no retries. A request that fails (reset, closed, wrong answer)
    is recorded; only then is a fresh connection opened. `gens` holds the generations seen."""

    unit = "GET+POST pairs"

    def __init__(self, port, workers=2):
        self.port = port
        self.gens = set()
        super().__init__([(self._run, (i,)) for i in range(workers)])

    def _one(self, conn, rnd):
        conn.request("GET", "/")
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        if r.status != 200 or "gen=" not in body:
            raise AssertionError(f"GET / answered {r.status} {body!r}")
        gen = int(body.rsplit("gen=", 1)[1])
        payload = rnd.randbytes(4096)
        conn.request("POST", "/echo", body=payload,
                     headers={"Content-Type": "application/octet-stream"})
        r = conn.getresponse()
        got = r.read()
        if r.status != 200 or got != payload:
            raise AssertionError(f"POST /echo answered {r.status} with {len(got)} bytes "
                                 f"(sent 4096), equal={got == payload}")
        return gen, int(r.getheader("X-Gen", "0"))

    def record(self, result):
        self.gens.update(result)

    def through_reloads(self, reload_to, last):
        """Answers now, then for each generation n from 2 to last: reload_to(n), an answer from
        generation n, and more answers after it."""
        self.wait_more()
        for n in range(2, last + 1):
            reload_to(n)
            wait_until(lambda: n in self.gens, timeout=60, what=f"an answer from generation {n}")
            self.wait_more()

    def _run(self, i):
        rnd = random.Random(i)
        self.keepalive_loop(
            f"worker {i}",
            lambda: http.client.HTTPConnection("127.0.0.1", self.port, timeout=30),
            lambda conn: self._one(conn, rnd))
