#!/usr/bin/python3
"""File-watcher benchmark: baton watch vs inotifywait -r, fswatch and chokidar (as nodemon uses it),
all run in this script on the same generated tree (10,000 directories, 100,000 files by default).

For each tool: ready time (its own "watching" signal: baton's start line, inotifywait's
"Watches established.", chokidar's 'ready'; fswatch has none, so a probe file is rewritten every
25 ms until it is reported: an upper bound), time until its CPU use stops (background work such as
baton's fingerprint pass or chokidar's stat walk), RSS (VmRSS, and RssAnon: the process's own heap,
without shared library pages) once idle, CPU used while idle over 5 s, and detection latency
(write a file, wait for the line naming it; median of N). Not a test: figures vary with the
machine; ratios within one run are what matter.

usage: bench.py --baton PATH --chokidar DIR [--dirs 10000] [--files 100000] [--keep DIR] [--md FILE]
                [--json FILE]
       bench.py --baton PATH --chokidar DIR --sizes 100,1000,5000,10000 [--files-per-dir 10]
                [--repeat 3] [--keep DIR] [--md FILE] [--json FILE]

--sizes is a sweep over tree sizes instead of the one-tree run: for each directory count a tree
(in DIR/tree-Nd, or DIR/tree when it has the --dirs/--files shape) with --files-per-dir files per
directory, and for each tool only the set-up time (ready, as above; median of --repeat starts,
the tools taking turns) next to the syscall floor (--floor) and baton's own figure. --json writes the raw figures, with
the machine, the date and the command (env BENCH_COMMAND, else this script's argv).
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def gen_tree(base, ndirs, nfiles):
    """ndirs directories under base (100 top-level ones, the rest below them), nfiles .go files
    spread evenly over them. Returns the list of directories (relative)."""
    top = min(100, ndirs)
    dirs = [f"pkg{t:03d}" for t in range(top)]
    per = (ndirs - top) // top
    extra = (ndirs - top) - per * top
    for t in range(top):
        for s in range(per + (1 if t < extra else 0)):
            dirs.append(f"pkg{t:03d}/sub{s:03d}")
    marker = os.path.join(base, ".bench-tree")
    want = f"{ndirs} {nfiles}\n"
    if os.path.exists(marker) and open(marker).read() == want:
        return dirs
    if os.path.exists(base):
        shutil.rmtree(base)
    os.makedirs(base)
    for d in dirs:
        os.makedirs(os.path.join(base, d), exist_ok=True)
    for i in range(nfiles):
        d = dirs[i % len(dirs)]
        with open(os.path.join(base, d, f"file{i // len(dirs)}.go"), "w") as f:
            f.write(f"package p\n\n// file {i}\nfunc F{i}() int {{ return {i} }}\n")
    with open(marker, "w") as f:
        f.write(want)
    return dirs


# Files the measurements write in the tree, with what to put back once the tool has stopped: the
# tree kept with --keep (its marker says it is the generated one) must stay the generated one.
TOUCHED = {}  # path -> (bytes, atime_ns, mtime_ns), or None when it did not exist


def remember(path):
    if path in TOUCHED:
        return
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            TOUCHED[path] = (f.read(), st.st_atime_ns, st.st_mtime_ns)
    except FileNotFoundError:
        TOUCHED[path] = None


def restore_tree():
    """Put back every file the measurements wrote (content and times), remove the probes."""
    for path, old in TOUCHED.items():
        if old is None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            continue
        with open(path, "wb") as f:
            f.write(old[0])
        os.utime(path, ns=(old[1], old[2]))
    TOUCHED.clear()


class Proc:
    def __init__(self, argv, cwd=None, env=None):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
        self.lines = []  # (time, text)
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.p.stdout:
            t = time.monotonic()
            with self.cond:
                self.lines.append((t, raw.decode("utf-8", "replace").rstrip("\n")))
                self.cond.notify_all()

    def wait(self, rx, start=0, timeout=600.0, probe=None):
        rx = re.compile(rx)
        deadline = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    if rx.search(self.lines[i][1]):
                        return i, self.lines[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    tail = "\n".join(l for _, l in self.lines[-20:])
                    raise RuntimeError(f"{rx.pattern!r} not seen: {tail}")
                self.cond.wait(min(left, 0.025) if probe else left)
                if probe:
                    self.cond.release()
                    try:
                        probe()
                    finally:
                        self.cond.acquire()

    def mark(self):
        with self.cond:
            return len(self.lines)

    def cpu_ticks(self):
        with open(f"/proc/{self.p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime (all threads)

    def status(self):
        out = {}
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                    out[k] = int(v.split()[0])
        return out

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(timeout=10)
            except Exception:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()


def busy_until(proc, quiet=1.0, limit=600.0):
    """Seconds from start until the process's CPU counter stops moving (quiet for `quiet` s)."""
    last = proc.cpu_ticks()
    last_change = time.monotonic()
    end = time.monotonic() + limit
    while time.monotonic() < end:
        time.sleep(0.02)
        t = proc.cpu_ticks()
        now = time.monotonic()
        if t != last:
            last, last_change = t, now
        elif now - last_change >= quiet:
            break
    return last_change - proc.t0


def run_tool(name, argv, tree, dirs, ready_rx=None, cwd=None, env=None, nlat=15, subtract=0.0):
    print(f"== {name}: {' '.join(argv)}", file=sys.stderr, flush=True)
    proc = Proc(argv, cwd=cwd, env=env)
    res = {"name": name}
    try:
        return measure(proc, res, tree, dirs, ready_rx, nlat, subtract)
    except RuntimeError as e:
        rc = proc.p.poll()
        last = [l for _, l in proc.lines[-3:]]
        res["error"] = (f"exited with status {rc} after {time.monotonic() - proc.t0:.1f} s: "
                        + " / ".join(last[-2:])) if rc is not None else str(e)[:200]
        print(f"{name}: {res['error']}", file=sys.stderr)
        return res
    finally:
        proc.stop()
        restore_tree()


def wait_ready(proc, ready_rx, probe_dir, timeout):
    """(ms from spawn to the tool's ready line, that line, False); a tool without one (fswatch)
    gets a probe file rewritten until it reports it: (ms, line, True), an upper bound."""
    if ready_rx:
        _, (t, line) = proc.wait(ready_rx, timeout=timeout)
        return (t - proc.t0) * 1000, line, False
    n = [0]

    def probe():
        n[0] += 1
        remember(os.path.join(probe_dir, "probe.go"))
        with open(os.path.join(probe_dir, "probe.go"), "w") as f:
            f.write(f"probe {n[0]}\n")

    probe()
    _, (t, line) = proc.wait(r"probe\.go", timeout=timeout, probe=probe)
    return (t - proc.t0) * 1000, line, True


def measure(proc, res, tree, dirs, ready_rx, nlat, subtract):
    res["ready_ms"], line, res["ready_probe"] = wait_ready(
        proc, ready_rx, os.path.join(tree, dirs[-1]), 600.0)
    if ready_rx:
        res["ready_line"] = line
    res["busy_ms"] = busy_until(proc) * 1000
    st = proc.status()
    res.update(st)
    c0 = proc.cpu_ticks()
    time.sleep(5)
    res["idle_cpu_pct"] = (proc.cpu_ticks() - c0) / TICK / 5 * 100
    lats = []
    for i in range(nlat):
        d = dirs[(i * 7919) % len(dirs)]
        rel = f"{d}/file3.go"
        m = proc.mark()
        time.sleep(0.15)  # let the previous batch window close
        remember(os.path.join(tree, rel))
        t0 = time.monotonic()
        with open(os.path.join(tree, rel), "a") as f:
            f.write(f"// edit {i}\n")
        # "pkg/file3.go" (baton, fswatch, chokidar) or "pkg/ MODIFY file3.go" (inotifywait)
        rx = re.escape(d) + r"/(?: \S+ )?file3\.go"
        _, (t, _) = proc.wait(rx, start=m, timeout=30)
        lats.append((t - t0) * 1000)
    res["lat_ms"] = statistics.median(lats)
    res["lat_max_ms"] = max(lats)
    res["lat_net_ms"] = res["lat_ms"] - subtract
    return res


def fmt_mib(kb):
    return f"{kb / 1024:.1f}" if kb is not None else "?"


def table(results, base):
    b = next(r for r in results if r["name"] == base)
    rows = ["| tool | ready (ms) | CPU busy until (ms) | RSS (MiB) | own heap RssAnon (MiB) "
            "| idle CPU (%) | detection latency, median (ms) |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if r.get("error"):
            rows.append(f"| {r['name']} | failed: {r['error']} | | | | | |")
            continue
        ready = f"{r['ready_ms']:.0f}" + (" (probe)" if r.get("ready_probe") else "")
        ratio = "" if r is b else f" ({r['ready_ms'] / b['ready_ms']:.1f}×)"
        rss_ratio = "" if r is b else f" ({r['VmRSS'] / b['VmRSS']:.1f}×)"
        lat = f"{r['lat_ms']:.1f}"
        if r.get("lat_net_ms") != r.get("lat_ms"):
            if r["lat_net_ms"] >= 0:
                lat += f" ({r['lat_net_ms']:.1f} after the 50 ms debounce)"
            else:  # a completed write settles fast_settle (5 ms) after its close
                lat += " (fast settle: 5 ms quiet after the write's close, not the debounce)"
        rows.append(f"| {r['name']} | {ready}{ratio} | {r['busy_ms']:.0f} | "
                    f"{fmt_mib(r.get('VmRSS'))}{rss_ratio} | {fmt_mib(r.get('RssAnon'))} | "
                    f"{r['idle_cpu_pct']:.2f} | {lat} |")
    return "\n".join(rows)


def chokidar_script(work, chokidar):
    """The chokidar watcher as a node script; returns (path, version label)."""
    js = os.path.join(work, "chokidar-watch.js")
    with open(js, "w") as f:
        f.write("const chokidar = require(process.env.CHOKIDAR_DIR + '/chokidar');\n"
                "const w = chokidar.watch(process.argv[2], {ignoreInitial: true,"
                " persistent: true});\n"
                "w.on('ready', () => console.log('ready'));\n"
                "w.on('all', (ev, p) => console.log(ev + ' ' + p));\n")
    ver = "?"
    try:
        ver = json.load(open(os.path.join(chokidar, "chokidar/package.json")))["version"]
    except Exception:
        pass
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return js, f"chokidar {ver} (node {node})"


def machine_info(tree):
    model = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    fs = subprocess.run(["findmnt", "-no", "FSTYPE", "-T", tree], capture_output=True,
                        text=True).stdout.strip() or "?"
    return {"nproc": os.cpu_count(), "model": model, "kernel": "Linux " + os.uname().release,
            "loadavg": " ".join(open("/proc/loadavg").read().split()[:3]), "fs": fs}


def command_line():
    """What produced the figures: env BENCH_COMMAND (set by bench/run-all.sh), else our argv."""
    return os.environ.get("BENCH_COMMAND") or " ".join(["bench/watch/bench.py"] + sys.argv[1:])


def ready_once(argv, tree, probe_dir, ready_rx, cwd, env):
    """Start a watcher, return (wall ms to its ready signal, the ready line) and stop it."""
    p = Proc(argv, cwd=cwd, env=env)
    try:
        ms, line, _ = wait_ready(p, ready_rx, probe_dir, 300.0)
        return ms, line
    except RuntimeError as e:
        rc = p.p.poll()
        last = [l for _, l in p.lines[-2:]]
        raise RuntimeError(f"exited with status {rc}: " + " / ".join(last) if rc is not None
                           else str(e)[:200]) from None
    finally:
        p.stop()
        restore_tree()


def sweep(a, work, env):
    """Set-up time against tree size: floor, baton, inotifywait, fswatch, chokidar."""
    sizes = [int(x) for x in a.sizes.split(",") if x]
    only = a.only.split(",")
    tools = []  # (key, label, argv(tree), ready_rx, cwd(tree), env)
    if "baton" in only:
        tools.append(("baton", "baton watch", lambda t: [a.baton, "watch", "."],
                      r"^watching \d+ directories", lambda t: t, env))
    if "inotifywait" in only and shutil.which("inotifywait"):
        tools.append(("inotifywait", "inotifywait -m -r",
                      lambda t: ["inotifywait", "-m", "-r", "-e",
                                 "modify,close_write,moved_to,create,delete", t],
                      r"^Watches established", lambda t: None, env))
    if "fswatch" in only and shutil.which("fswatch"):
        tools.append(("fswatch", "fswatch -r -l 0.05 (probe)",
                      lambda t: ["fswatch", "-r", "-l", "0.05", t], None, lambda t: None, env))
    if "chokidar" in only and a.chokidar:
        js, label = chokidar_script(work, a.chokidar)
        tools.append(("chokidar", label, lambda t: ["node", js, t], r"^ready$",
                      lambda t: None, dict(env, CHOKIDAR_DIR=a.chokidar)))
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "command": command_line(),
           "machine": machine_info(work), "files_per_dir": a.files_per_dir, "repeat": a.repeat,
           "tools": {k: label for k, label, *_ in tools}, "sizes": []}
    for n in sizes:
        nfiles = n * a.files_per_dir
        name = "tree" if (n, nfiles) == (a.dirs, a.files) else f"tree-{n}d"
        tree = os.path.join(work, name)
        t = time.monotonic()
        dirs = gen_tree(tree, n, nfiles)
        print(f"== {n} directories, {nfiles} files in {tree} ({time.monotonic() - t:.1f} s)",
              file=sys.stderr, flush=True)
        row = {"dirs": n, "files": nfiles, "tools": {}}
        if a.floor:
            runs, wruns = [], []
            for _ in range(a.repeat):
                out_f = subprocess.run([a.floor, tree], capture_output=True, text=True).stdout
                m = re.search(r"in ([0-9.]+) ms", out_f)
                if m:
                    runs.append(float(m.group(1)))
                m = re.search(r"alone: ([0-9.]+) ms", out_f)
                if m:
                    wruns.append(float(m.group(1)))
            row["floor_runs"] = runs
            row["floor_ms"] = statistics.median(runs) if runs else None
            row["add_watch_ms"] = statistics.median(wruns) if wruns else None
        res = {key: {"runs": [], "error": None} for key, *_ in tools}
        for _ in range(a.repeat):  # the tools take turns, so a changing load falls on all alike
            for key, label, argv, rx, cwd, tenv in tools:
                r = res[key]
                if r["error"]:
                    continue
                try:
                    ms, line = ready_once(argv(tree), tree, os.path.join(tree, dirs[-1]), rx,
                                          cwd(tree), tenv)
                except RuntimeError as e:
                    r["error"] = str(e)
                    continue
                r["runs"].append(round(ms, 2))
                m = re.search(r" in ([0-9.]+) ms", line) if key == "baton" else None
                if m:
                    r.setdefault("own_runs", []).append(float(m.group(1)))
        for key, r in res.items():
            r["ready_ms"] = statistics.median(r["runs"]) if r["runs"] else None
            if r.get("own_runs"):
                r["own_ms"] = statistics.median(r["own_runs"])
            row["tools"][key] = r
            print(f"{n} dirs: {key}: {r['ready_ms']} ms {r['runs']}"
                  + (f" ({r['error']})" if r["error"] else ""), file=sys.stderr, flush=True)
        out["sizes"].append(row)
    keys = [k for k, *_ in tools]
    lines = ["| directories | files | floor (ms) | " + " | ".join(
        out["tools"][k] for k in keys) + " |", "|---:|---:|---:|" + "---:|" * len(keys)]
    for row in out["sizes"]:
        cells = []
        for k in keys:
            r = row["tools"][k]
            cells.append(f"{r['ready_ms']:.0f}" if r["ready_ms"] is not None else "failed")
        fl = row.get("floor_ms")
        lines.append(f"| {row['dirs']} | {row['files']} | {'' if fl is None else f'{fl:.0f}'} | "
                     + " | ".join(cells) + " |")
    md = "\n".join(lines)
    print(md)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md + "\n")
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump(out, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baton", required=True)
    ap.add_argument("--chokidar", help="node_modules directory holding chokidar")
    ap.add_argument("--dirs", type=int, default=10000)
    ap.add_argument("--files", type=int, default=100000)
    ap.add_argument("--keep", help="reuse/generate the tree here")
    ap.add_argument("--md", help="write the markdown section here")
    ap.add_argument("--only", default="baton,baton-dirs,inotifywait,fswatch,chokidar")
    ap.add_argument("--floor", help="the compiled floor.c helper")
    ap.add_argument("--sizes", help="sweep: set-up time for these directory counts (100,1000,...)")
    ap.add_argument("--files-per-dir", type=int, default=10, help="sweep: files per directory")
    ap.add_argument("--repeat", type=int, default=3, help="sweep: starts per tool and size")
    ap.add_argument("--json", help="write the raw figures here")
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="baton-bench-")
    if a.sizes:
        env = dict(os.environ, NO_COLOR="1")
        for k in [k for k in os.environ if k.startswith("LISTEN_") or k == "NOTIFY_SOCKET"]:
            env.pop(k, None)
        sweep(a, work, env)
        return
    tree = os.path.join(work, "tree")
    t = time.monotonic()
    dirs = gen_tree(tree, a.dirs, a.files)
    print(f"tree: {len(dirs)} directories + root, {a.files} files in {tree} "
          f"({time.monotonic() - t:.1f} s)", file=sys.stderr)
    only = a.only.split(",")
    results = []
    floor = watches_only = None
    if a.floor:
        runs, wruns = [], []
        for _ in range(3):
            out = subprocess.run([a.floor, tree], capture_output=True, text=True).stdout
            m = re.search(r"in ([0-9.]+) ms", out)
            if m:
                runs.append(float(m.group(1)))
            m = re.search(r"alone: ([0-9.]+) ms", out)
            if m:
                wruns.append(float(m.group(1)))
        floor = statistics.median(runs) if runs else None
        watches_only = statistics.median(wruns) if wruns else None
        print(f"syscall floor: {floor} ms (runs {runs}); inotify_add_watch alone: "
              f"{watches_only} ms (runs {wruns})", file=sys.stderr)
    starts = []
    if "baton" in only:
        for _ in range(3):  # the start line alone, three times: set-up is cheap to repeat
            p = Proc([a.baton, "watch", "."], cwd=tree)
            try:
                _, (_, line) = p.wait(r"^watching \d+ directories")
                starts.append(float(re.search(r"in ([0-9.]+) ms", line).group(1)))
            finally:
                p.stop()
        print(f"baton set-up (own figure): {starts}", file=sys.stderr)
    env = dict(os.environ, NO_COLOR="1")
    for k in [k for k in os.environ if k.startswith("LISTEN_") or k == "NOTIFY_SOCKET"]:
        env.pop(k, None)
    if "baton" in only:
        # zero-config defaults: include_ext go,tmpl,tpl,html, so every file is fingerprinted
        results.append(run_tool("baton watch", [a.baton, "watch", "--debounce", "50ms", "."],
                                tree, dirs, r"^watching \d+ directories", cwd=tree, env=env,
                                subtract=50.0))
    if "baton-dirs" in only:
        cfgdir = os.path.join(work, "cfg-dirs")
        os.makedirs(cfgdir, exist_ok=True)
        with open(os.path.join(cfgdir, "baton.toml"), "w") as f:
            f.write('[run]\ncmd = "true"\n[watch]\ninclude_ext = ["go"]\n'
                    'exclude = ["file[0-24-9]*.go"]\n')
        results.append(run_tool("baton watch (1 file in 10 tracked)",
                                [a.baton, "watch", "-c", os.path.join(cfgdir, "baton.toml"),
                                 "--debounce", "50ms", tree],
                                tree, dirs, r"^watching \d+ directories", cwd=cfgdir, env=env,
                                subtract=50.0))
    if "inotifywait" in only and shutil.which("inotifywait"):
        results.append(run_tool("inotifywait -m -r",
                                ["inotifywait", "-m", "-r", "-e",
                                 "modify,close_write,moved_to,create,delete", tree],
                                tree, dirs, r"^Watches established", env=env))
    if "fswatch" in only and shutil.which("fswatch"):
        results.append(run_tool("fswatch -r -l 0.05", ["fswatch", "-r", "-l", "0.05", tree],
                                tree, dirs, None, env=env))
    if "chokidar" in only and a.chokidar:
        js, label = chokidar_script(work, a.chokidar)
        cenv = dict(env, CHOKIDAR_DIR=a.chokidar)
        results.append(run_tool(label, ["node", js, tree], tree, dirs, r"^ready$", env=cenv))
    base = results[0]["name"]
    md = table(results, base)
    notes = []
    if starts:
        notes.append(f"baton's own set-up figure (the `in T ms` of its start line), three "
                     f"starts: {', '.join(f'{x:.0f}' for x in starts)} ms (median "
                     f"{statistics.median(starts):.0f} ms).")
    if floor:
        notes.append(f"Syscall floor on this machine (`bench/watch/floor.c`: open + getdents64 "
                     f"every directory and add one watch each, nothing else): {floor:.0f} ms "
                     f"(median of 3)" + (f"; baton's set-up is {statistics.median(starts) / floor:.2f}× "
                                         f"the floor." if starts else ".") +
                     (f" Of the floor, the {a.dirs + 1:,} `inotify_add_watch` calls alone (on a "
                      f"fresh instance, the directory list known beforehand) take "
                      f"{watches_only:.0f} ms." if watches_only else ""))
    if notes:
        md += "\n\n" + "\n".join(notes)
    print(md)
    for r in results:
        if r.get("ready_line"):
            print(f"{r['name']}: {r['ready_line']}", file=sys.stderr)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md + "\n")
    if a.json:
        out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "machine": machine_info(tree), "command": command_line(), "dirs": a.dirs,
               "files": a.files, "floor_ms": floor, "add_watch_ms": watches_only, "baton_own_ms": starts, "results": results}
        with open(a.json + ".tmp", "w") as f:
            json.dump(out, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
