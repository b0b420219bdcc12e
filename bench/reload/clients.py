#!/usr/bin/python3
"""Two more measurements of the fronts in bench.py (same modes, same app), started by
bench/reload/run-clients.sh:

  strict  a strict client through RELOADS reloads: T threads, each on one keep-alive connection,
          alternating GET / and POST / with a 4 KiB body; no retries (a failed request is
          counted and the next one goes on a new connection). A failure is a connection error,
          a read or write error, a timeout, or a status of 500 or more (the plain app has no
          POST route: its 404 proves the request and its body reached the app and the
          connection stays usable; a GET must answer 200).
  idle    memory per idle keep-alive client connection: N connections each send one GET, read
          the answer and stay open; the front's RSS (the front's own processes: baton,
          haproxy, nginx master and workers, caddy; never the app) before and after, divided by N.

A benchmark, never a test. Loopback only; every wait has a deadline; every process the mode
starts is stopped at the end (bench.py's Procs)."""
import argparse
import http.client
import json
import os
import resource
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

mono = time.monotonic
BODY = b"x" * 4096


def strict_worker(port, stop, stats, lock):
    conn = None
    i = 0
    while not stop.is_set():
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        post = i % 2 == 1
        i += 1
        try:
            if post:
                conn.request("POST", "/", body=BODY,
                             headers={"Content-Type": "application/octet-stream"})
            else:
                conn.request("GET", "/")
            r = conn.getresponse()
            r.read()
            bad = r.status >= 500 or (not post and r.status != 200)
            err = f"HTTP {r.status}" if bad else None
        except (OSError, http.client.HTTPException) as e:
            err = type(e).__name__
            conn.close()
            conn = None
        with lock:
            stats["requests"] += 1
            if err:
                stats["failed"] += 1
                stats["why"][err] = stats["why"].get(err, 0) + 1
    if conn:
        conn.close()


def run_strict(a, mode_name, work):
    procs = bench.Procs()
    mode = bench.MODE_CLASSES[mode_name](a, procs, os.path.join(work, "strict-" + mode_name))
    stats = {"requests": 0, "failed": 0, "why": {}}
    stop = threading.Event()
    lock = threading.Lock()
    threads = []
    try:
        port = mode.setup()
        threads = [threading.Thread(target=strict_worker, args=(port, stop, stats, lock),
                                    daemon=True) for _ in range(a.threads)]
        for t in threads:
            t.start()
        t0 = mono()
        for i in range(a.reloads):
            # one reload every interval; requests keep flowing in between
            at = t0 + a.interval * (i + 1)
            while mono() < at:
                time.sleep(min(0.01, max(0.0, at - mono())))
            mode.reload(i)
        time.sleep(a.interval)
        stop.set()
        for t in threads:
            t.join(timeout=15)
        check = mode.check(a.reloads)
    finally:
        stop.set()
        procs.stop_all()
    res = {"mode": mode_name, "reloads": a.reloads, "check": check, **stats}
    bench.log(f"strict {mode_name}: {stats['failed']} failed of {stats['requests']} "
              f"({stats['why']}; {check})")
    return res


def tree_rss_kib(root_pid, names):
    """RSS (KiB) of root_pid and its descendants whose command is one of names."""
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(p))
        except (OSError, ValueError, IndexError):
            pass
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        todo += kids.get(pid, [])
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            if comm not in names:
                continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def apps_rss_kib(workdir):
    """RSS (KiB) of the app processes (gin-hello) running in workdir."""
    total = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{p}/cwd") != workdir:
                continue
            with open(f"/proc/{p}/comm") as f:
                if f.read().strip() != "gin-hello":
                    continue
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


FRONT_COMMS = {"baton", "haproxy", "nginx", "caddy"}


def open_idle(port, n, deadline):
    """n keep-alive connections, each with one GET answered; returns the sockets."""
    sel = selectors.DefaultSelector()
    socks = []
    req = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    pending = 0
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        sel.register(s, selectors.EVENT_WRITE, [b"", False])
        socks.append(s)
        pending += 1
        # keep the connect backlog bounded
        while pending > 500:
            pending -= pump(sel, deadline, req)
    while pending > 0:
        pending -= pump(sel, deadline, req)
    sel.close()
    return socks


def pump(sel, deadline, req):
    """Drive writes and reads once; returns how many connections got their whole answer."""
    if mono() > deadline:
        raise bench.Abort("idle connections: not all answered in time")
    done = 0
    for key, ev in sel.select(timeout=1.0):
        s, st = key.fileobj, key.data
        if ev & selectors.EVENT_WRITE:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise bench.Abort(f"idle connections: connect failed ({os.strerror(err)})")
            s.send(req)
            sel.modify(s, selectors.EVENT_READ, st)
            continue
        c = s.recv(65536)
        if not c:
            raise bench.Abort(f"idle connections: the front closed one after {st[0][:200]!r}")
        st[0] += c
        head, _, body = st[0].partition(b"\r\n\r\n")
        head = head.lower()  # HAProxy sends field names in lower case
        if _ and b"content-length:" in head:
            cl = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
            if len(body) >= cl:
                sel.unregister(s)
                done += 1
    return done


def run_idle(a, mode_name, work):
    procs = bench.Procs()
    mode = bench.MODE_CLASSES[mode_name](a, procs, os.path.join(work, "idle-" + mode_name))
    socks = []
    try:
        port = mode.setup()
        root = mode.supervisor.pid if mode.supervisor else None
        if root is None:
            return None
        # warm the front up with a few requests, then the baseline
        bench.answers(port)
        before = tree_rss_kib(root, FRONT_COMMS)
        app_before = apps_rss_kib(mode.dir)
        socks = open_idle(port, a.idle, mono() + 120)
        time.sleep(1.0)  # let the front settle its buffers (a measurement, not a sync)
        after = tree_rss_kib(root, FRONT_COMMS)
        app_after = apps_rss_kib(mode.dir)
        alive = sum(1 for s in socks if s.fileno() >= 0)
    finally:
        for s in socks:
            s.close()
        procs.stop_all()
    res = {"mode": mode_name, "connections": a.idle, "alive": alive, "rss_before_kib": before,
           "rss_after_kib": after, "kib_per_conn": round((after - before) / a.idle, 2),
           "app_kib_per_conn": round((app_after - app_before) / a.idle, 2)}
    bench.log(f"idle {mode_name}: {res}")
    return res


def main():
    ap = argparse.ArgumentParser()
    for k in ("--baton", "--app", "--work", "--naive"):
        ap.add_argument(k)
    ap.add_argument("--app-drain")
    ap.add_argument("--haproxy", default="haproxy")
    ap.add_argument("--nginx", default="/usr/sbin/nginx")
    ap.add_argument("--caddy", default="caddy")
    ap.add_argument("--modes", default="baton,baton-proxy,haproxy,nginx,caddy")
    ap.add_argument("--what", default="strict,idle")
    ap.add_argument("--reloads", type=int, default=200)
    ap.add_argument("--interval", type=float, default=0.25)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--idle-haproxy", type=int, default=9000,
                    help="HAProxy's count (its fds: two a connection, under the hard limit)")
    ap.add_argument("--json")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    a.haproxy_maxconn = None
    out = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "args": vars(a),
           "strict": [], "idle": []}
    for what in a.what.split(","):
        for m in a.modes.split(","):
            if m == "direct":
                continue  # nothing to reload, and no front to measure
            saved = a.idle
            try:
                if what == "idle" and m == "haproxy":
                    # HAProxy reserves two fds a connection: a hard limit of 20,000 fds caps it
                    a.idle = min(a.idle, a.idle_haproxy)
                    a.haproxy_maxconn = a.idle + 100
                r = run_strict(a, m, a.work) if what == "strict" else run_idle(a, m, a.work)
                if r:
                    out[what].append(r)
            except bench.Abort as e:
                bench.log(f"{what} {m}: skipped: {e}")
            finally:
                a.idle, a.haproxy_maxconn = saved, None
    print(json.dumps(out, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
