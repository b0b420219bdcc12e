#!/usr/bin/python3
"""Plot data and the plot section of docs/benchmarks.md, from the results in bench/results/.

usage: plots.py collect --repo DIR [--force]
           copy each benchmark's last-run.json into bench/results/ when it is a complete run
           (every default tool/mode measured) and newer than the copy there
       plots.py data --repo DIR --out TMPDIR
           write the gnuplot inputs (TSV + vars.gp) for the figures that have results
       plots.py doc --repo DIR --figures a,b,c
           rewrite the header and the "## Plots" section of docs/benchmarks.md

Results files (JSON, as the benchmarks write them):
  bench/results/devloop.json      bench/devloop/run.sh (its last-run.json)
  bench/results/reload.json       bench/reload/run.sh (its last-run.json)
  bench/results/watch.json        bench/watch/run.sh --json (the one-tree table)
  bench/results/watch-sweep.json  bench/watch/run.sh --sizes ... --json (set-up vs tree size)
A missing file leaves its figure (or panel) out; the doc says so.
"""
import argparse
import json
import math
import os
import shutil
import statistics
import sys
import textwrap

DOC_TITLE = "# Benchmarks"
PLOTS_TITLE = "## Plots"
DRAWN_BY = "bench/plots.sh"
BATON_BLUE = 0x1F77B4
PEER_ORANGE = 0xE6550D
REFERENCE_GREY = 0x888888

# (key, results file, the benchmark's own output, default tools/modes that make a run complete)
SOURCES = [
    ("devloop", "devloop.json", "bench/devloop/last-run.json", {"baton", "nodemon", "entr"}),
    ("reload", "reload.json", "bench/reload/last-run.json", {"direct", "baton", "naive",
                                                             "haproxy"}),
]


def log(msg):
    print(f"plots: {msg}", file=sys.stderr)


def load(repo, name):
    path = os.path.join(repo, "bench/results", name)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError as e:
        log(f"{path}: not JSON ({e}); ignored")
        return None


def run_date(key, d):
    return d.get("started") if key == "reload" else d.get("date")


def measured(key, d):
    """The tools/modes a results file measured without error."""
    if key == "devloop":
        return {r["tool"] for r in d.get("results", []) if not r.get("error")}
    return {r["mode"] for rr in d.get("rounds", []) for r in rr}


def collect(repo, force):
    os.makedirs(os.path.join(repo, "bench/results"), exist_ok=True)
    for key, name, src, need in SOURCES:
        path = os.path.join(repo, src)
        if not os.path.exists(path):
            log(f"{key}: no {src} yet")
            continue
        with open(path) as f:
            new = json.load(f)
        missing = need - measured(key, new)
        if missing and not force:
            log(f"{key}: {src} lacks {', '.join(sorted(missing))} (a partial run); kept "
                f"bench/results/{name}")
            continue
        old = load(repo, name)
        if old and (run_date(key, old) or "") > (run_date(key, new) or "") and not force:
            log(f"{key}: bench/results/{name} is newer than {src}; kept")
            continue
        shutil.copyfile(path, os.path.join(repo, "bench/results", name))
        log(f"{key}: {src} ({run_date(key, new)}) -> bench/results/{name}")


# ---------------------------------------------------------------- gnuplot inputs


def gp_str(s):
    """A gnuplot single-quoted string literal."""
    return "'" + s.replace("'", "''") + "'"


def tsv(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write("\t".join("NaN" if v is None else (f"{v:.3f}" if isinstance(v, float) else
                                                       str(v)) for v in r) + "\n")


def jitter(j, n, width=0.44):
    return 0.0 if n <= 1 else (j / (n - 1) - 0.5) * width


def machine_devloop(d):
    m = d["machine"]
    return (f"{m['nproc']} × {m['model']}, {m['kernel']}, Go {m['go']}, "
            f"load at start {m['loadavg']}")


def machine_sweep(d):
    m = d["machine"]
    return (f"{m['nproc']} × {m['model']}, {m['kernel']}, tree on {m.get('fs', '?')}, "
            f"load at start {m['loadavg']}")


def devloop_data(d, out, var):
    rows = [r for r in d["summary"] if r.get("median") is not None]
    edits = {r["tool"]: [e for e in r["edits"] if not e["warmup"] and e["latency_ms"] is not None]
             for r in d["results"]}
    summ, pts = [], []
    for i, r in enumerate(rows):
        rest = r["median"] - (r["build"] or 0) - (r["start"] or 0)
        color = BATON_BLUE if r["tool"].startswith("baton") else PEER_ORANGE
        summ.append([i, r["tool"], r["median"], r["p90"], r["build"], r["start"], rest,
                     r["overhead"], r["failed"], r["failed_max"], r["n"], color])
        ed = edits.get(r["tool"], [])
        for j, e in enumerate(ed):
            start = e.get("start_ms") if r["start_src"] == "baton" else r["start"]
            over = (e["latency_ms"] - e["built_ms"] - start
                    if e.get("built_ms") is not None and start is not None else None)
            pts.append([i + jitter(j, len(ed)), e["latency_ms"], over, e["failed"]])
    tsv(os.path.join(out, "devloop.tsv"), summ)
    tsv(os.path.join(out, "devloop_edits.tsv"), pts)
    var["dl_n"] = len(rows)
    var["dl_src1"] = f"dev loop: {d['command']} · {d['date']} · {d['edits']} edits per tool"
    var["dl_src2"] = f"machine: {machine_devloop(d)}"


RELOAD_ORDER = ["direct", "baton", "baton-drain", "naive", "haproxy"]


def reload_data(d, out, var):
    """Failed requests per reload per mode: wrk's error counters divided by the reloads done,
    median over rounds (the kinds each on its own); direct (no reloads) is divided by the
    reloads of the other modes."""
    args = d["args"]
    by = {}
    for rr in d["rounds"]:
        for r in rr:
            by.setdefault(r["mode"], []).append(r)
    modes = [m for m in RELOAD_ORDER if m in by] + sorted(set(by) - set(RELOAD_ORDER))
    summ, pts = [], []
    for i, m in enumerate(modes):
        rs = by[m]

        def med(f):
            return statistics.median(f(r) / (r["reloads"] or args["reloads"] or 1) for r in rs)

        refused = med(lambda r: r["connect"] + r["write"])
        closed = med(lambda r: r["read"])
        timeout = med(lambda r: r["timeout"])
        non2xx = med(lambda r: r["non2xx"])
        total = med(lambda r: r["errors"])
        label = m + ("*" if m == "direct" else "")
        color = (REFERENCE_GREY if m == "direct" else
                 BATON_BLUE if m.startswith("baton") else PEER_ORANGE)
        kinds = [k for k, v in (("refused", refused), ("closed", closed),
                                ("timeouts", timeout), ("non-2xx", non2xx))
                 if total and v >= 0.1 * total]
        kinds = kinds or ["none"]
        summ.append([i, label, refused, closed, timeout, non2xx, total, color,
                     ", ".join(kinds)])
        for j, r in enumerate(rs):
            per = r["reloads"] or args["reloads"] or 1
            pts.append([i + jitter(j, len(rs), 0.3), r["errors"] / per])
    tsv(os.path.join(out, "reload.tsv"), summ)
    tsv(os.path.join(out, "reload_rounds.tsv"), pts)
    vals = [v for r in summ for v in (r[6],) if v > 0] + [p[1] for p in pts if p[1] > 0]
    var["rl_ymin"] = min(1.0, 10 ** math.floor(math.log10(min(vals)))) if vals else 0.1
    var["rl_ymax"] = 10 ** math.ceil(math.log10(max(vals) * 2)) if vals else 10.0
    var["rl_n"] = len(modes)
    var["rl_src1"] = (f"reloads: {args['command']} · {d['started']} · {args['reloads']} "
                      f"reloads in {args['duration']} s per mode, {len(d['rounds'])} round(s)")
    var["rl_src2"] = f"machine: {d['machine']}"


SWEEP_TOOLS = ["baton", "inotifywait", "fswatch", "chokidar"]


def sweep_data(d, out, var):
    rows = []
    for s in d["sizes"]:
        t = s["tools"]
        rows.append([s["dirs"], s["files"], s.get("floor_ms")]
                    + [t.get(k, {}).get("ready_ms") for k in SWEEP_TOOLS]
                    + [t.get("baton", {}).get("own_ms"), f"{s['dirs']:,} dirs",
                       f"{s['files']:,} files"])
    tsv(os.path.join(out, "sweep.tsv"), rows)
    for k in SWEEP_TOOLS:
        label = d["tools"].get(k)
        var[f"sw_t_{k}"] = label or ""
        var[f"sw_has_{k}"] = int(any(s["tools"].get(k, {}).get("ready_ms") is not None
                                     for s in d["sizes"]))
        fails = [s["dirs"] for s in d["sizes"] if k in s["tools"] and s["tools"][k]["error"]]
        if label and fails:
            var[f"sw_t_{k}"] = f"{label}: failed from {min(fails):,} dirs"
    var["sw_src1"] = f"data: {d['command']} · {d['date']} · median of {d['repeat']} starts"
    var["sw_src2"] = f"machine: {machine_sweep(d)}"
    var["sw_fpd"] = d["files_per_dir"]
    dirs = [s["dirs"] for s in d["sizes"]] or [1]
    var["sw_xmin"], var["sw_xmax"] = min(dirs) / 1.6, max(dirs) * 1.6


def data(repo, out):
    var = {"drawn": f" · drawn by {DRAWN_BY}"}
    figs = []
    dl, rl, sw = load(repo, "devloop.json"), load(repo, "reload.json"), load(repo,
                                                                              "watch-sweep.json")
    if dl:
        devloop_data(dl, out, var)
        figs += ["devloop-latency", "failed-requests"]
    if rl:
        reload_data(rl, out, var)
        if not dl:
            figs.append("failed-requests")
    var["have_devloop"], var["have_reload"] = int(bool(dl)), int(bool(rl))
    if sw:
        sweep_data(sw, out, var)
        figs.append("watch-setup")
    with open(os.path.join(out, "vars.gp"), "w") as f:
        for k, v in var.items():
            f.write(f"{k} = {gp_str(v) if isinstance(v, str) else v}\n")
    print(",".join(figs))


# ---------------------------------------------------------------- docs/benchmarks.md


HEADER = """# Benchmarks

Everything on this page is produced by one command, `make bench` (`bench/run-all.sh`, several
minutes on two idle cores): each benchmark in `bench/` rewrites its own section below and leaves
its raw figures in `bench/results/` (JSON, committed), then `bench/plots.sh` draws the PNGs in
`docs/img/` with gnuplot (`bench/plots/*.gp`) and rewrites this header and the Plots section.
`make bench-plots` redraws the plots from the committed results without rerunning anything;
`BENCH_ONLY=devloop,reload,watch,watch-sweep` (any subset) or `BENCH_SKIP=...` picks the
benchmarks `make bench` runs; the soak (1,000 reloads, about 2 minutes) is opt-in:
`BENCH_ONLY=soak` or add it to the list. Benchmarks are never part of `make test`.

The machine is a shared virtual machine: compare the rows of one run (every table below measures
baton and its peers in the same run), not runs; each section and each figure says when, where
and by which command it was measured.
"""


def fmt(x, nd=0):
    return "—" if x is None else f"{x:,.{nd}f}"


def cmd(s):
    return f"`{s}`"


def devloop_caption(d):
    rows = [r for r in d["summary"] if r.get("median") is not None]
    parts = [f"{r['tool']} {fmt(r['median'])} (build {fmt(r['build'])}, app start "
             f"{fmt(r['start'])}, the rest {fmt(r['overhead'])})" for r in rows]
    return ("Median edit → new version: " + "; ".join(parts) + " (ms). In the left panel each "
            "bar is that median split into the median go build, the app start and the rest. The "
            "build dominates every tool's latency; the right panel (median over edits of "
            "latency − build − app start, the table's column) is what the supervisor itself "
            "adds: the watcher's delay and settle window (`baton-d0` sets `debounce = \"0s\"`), "
            "stopping the old process, the hand-over, ≤ 5 ms of polling. For the peers the app "
            "start is measured standalone.")


def reload_per(rl):
    by = {}
    for rr in rl["rounds"]:
        for r in rr:
            by.setdefault(r["mode"], []).append(r)
    out = []
    for m in [m for m in RELOAD_ORDER if m in by] + sorted(set(by) - set(RELOAD_ORDER)):
        out.append((m, statistics.median(r["errors"] / (r["reloads"] or rl["args"]["reloads"]
                                                        or 1) for r in by[m])))
    return out


def failed_caption(dl, rl):
    out = []
    if dl:
        rows = [r for r in dl["summary"] if r.get("median") is not None]
        out.append("Dev loop, failed requests per edit, mean (max): " + ", ".join(
            f"{r['tool']} {fmt(r['failed'], 1)} ({r['failed_max']})" for r in rows) + ".")
    if rl:
        out.append("Reloads under load, failed requests per reload (wrk's errors ÷ reloads, "
                   f"median of {len(rl['rounds'])} round(s)): " + ", ".join(
                       f"{m}{'*' if m == 'direct' else ''} {fmt(v, 1)}"
                       for m, v in reload_per(rl)) + ". Refused: connect/write errors while "
                   "nothing listens; closed: a request sent on a keep-alive connection the old "
                   "app closed without answering (read errors). * `direct` (the app alone) is "
                   "never reloaded: its errors over the same run, divided by the same number of "
                   "reloads, are the background.")
    else:
        out.append("Reloads under load: no results yet (`bench/results/reload.json` is "
                   "missing: `bench/reload/run.sh` has not completed a full run), so that "
                   "panel is left out.")
    return " ".join(out)


def sweep_caption(sw):
    last = sw["sizes"][-1] if sw["sizes"] else None
    if not last:
        return ""
    t = last["tools"]
    parts = [f"At {last['dirs']:,} directories ({last['files']:,} files): syscall floor "
             f"{fmt(last.get('floor_ms'))} ms"
             + (f" (of which {fmt(last['add_watch_ms'])} ms are the inotify_add_watch calls "
                "alone)" if last.get("add_watch_ms") is not None else "")]
    for k in SWEEP_TOOLS:
        if k in t and t[k]["ready_ms"] is not None:
            parts.append(f"{sw['tools'][k]} {fmt(t[k]['ready_ms'])} ms")
    txt = ", ".join(parts) + "."
    fails = {k: min(s["dirs"] for s in sw["sizes"] if s["tools"].get(k, {}).get("error"))
             for k in SWEEP_TOOLS if any(s["tools"].get(k, {}).get("error") for s in sw["sizes"])}
    for k, n in fails.items():
        err = next(s["tools"][k]["error"] for s in sw["sizes"] if s["dirs"] == n)
        txt += f" {k} failed from {n:,} directories on ({err.strip()[:120]})."
    return txt


def sweep_table(sw):
    keys = [k for k in SWEEP_TOOLS if k in sw["tools"]]
    lines = ["| directories | files | floor | inotify_add_watch alone | "
             + " | ".join(sw["tools"][k] for k in keys)
             + " | baton's own figure |", "|---:|---:|---:|---:|" + "---:|" * (len(keys) + 1)]
    for s in sw["sizes"]:
        cells = []
        for k in keys:
            r = s["tools"].get(k)
            cells.append("—" if r is None else "failed" if r["ready_ms"] is None else
                         fmt(r["ready_ms"], 1 if r["ready_ms"] < 10 else 0))
        own = s["tools"].get("baton", {}).get("own_ms")
        fl, aw = s.get("floor_ms"), s.get("add_watch_ms")
        lines.append(f"| {s['dirs']:,} | {s['files']:,} | "
                     f"{fmt(fl, 1 if fl is not None and fl < 10 else 0)} | "
                     f"{fmt(aw, 1 if aw is not None and aw < 10 else 0)} | " + " | ".join(cells)
                     + f" | {fmt(own, 1 if own is not None and own < 10 else 0)} |")
    return "\n".join(lines)


def wrap(text):
    return textwrap.fill(text, 100, break_long_words=False, break_on_hyphens=False)


def plots_section(repo, figs, titles):
    """titles: the '## ' headings of docs/benchmarks.md, for links to the sections that exist."""
    dl, rl, sw = load(repo, "devloop.json"), load(repo, "reload.json"), load(repo,
                                                                              "watch-sweep.json")

    def see(title):
        anchor = title.lower().replace(" ", "-")
        return f" (see [{title}](#{anchor}))" if f"## {title}" in titles else ""

    out = [PLOTS_TITLE, ""]
    out.append(wrap("Drawn by `bench/plots.sh` (gnuplot) from `bench/results/`; each figure names "
                    "the machine, the date and the command of its data in its footer, repeated "
                    "below it."))
    out.append("")
    n = 0
    if "devloop-latency" in figs and dl:
        n += 1
        out += [f"### Figure {n}: dev-loop latency per tool", "",
                "![dev-loop latency per tool](img/devloop-latency.png)", "",
                wrap(devloop_caption(dl)), "",
                wrap(f"Machine: {machine_devloop(dl)}. Date: {dl['date']}. Command: "
                     f"{cmd(dl['command'])}, {dl['edits']} edits per tool{see('Dev loop')}, "
                     "then `bench/plots.sh`."), ""]
    if "failed-requests" in figs and (dl or rl):
        n += 1
        src = []
        if dl:
            src.append(f"dev loop: machine {machine_devloop(dl)}, date {dl['date']}, command "
                       f"{cmd(dl['command'])}{see('Dev loop')}")
        if rl:
            src.append(f"reloads: machine {rl['machine']}, date {rl['started']}, command "
                       f"{cmd(rl['args']['command'])}{see('Reloads under load')}")
        out += [f"### Figure {n}: failed requests per edit and per reload, per tool", "",
                "![failed requests per edit and per reload](img/failed-requests.png)", "",
                wrap(failed_caption(dl, rl)), "",
                wrap("Machine, date and command — " + "; ".join(src) + "; then "
                     "`bench/plots.sh`."), ""]
    if "watch-setup" in figs and sw:
        n += 1
        out += [f"### Figure {n}: watcher set-up time vs tree size", "",
                "![watcher set-up time vs tree size](img/watch-setup.png)", "",
                wrap(sweep_caption(sw) + " Set-up is each tool's own ready signal (baton's "
                     "start line, inotifywait's `Watches established.`, chokidar's `ready`; "
                     "fswatch has none, so a probe file is rewritten every 25 ms until it is "
                     "reported: an upper bound), from spawn, median of "
                     f"{sw['repeat']} starts; baton's own figure is the `in T ms` of its start "
                     "line (after exec and config). The floor is `bench/watch/floor.c` (open + "
                     "getdents64 every directory, one inotify watch each, nothing else); it also times "
                     "the inotify_add_watch calls alone, on a fresh instance with the directory "
                     "list known beforehand: the kernel's share that no walk avoids. Trees: "
                     "100 top-level directories, the rest one level below, "
                     f"{sw['files_per_dir']} small `.go` files in each; warm page cache."
                     + (" Memory, idle CPU and latency on the largest tree are in the table "
                        "below" + see("File watcher") + "." if see("File watcher") else "")),
                "",
                sweep_table(sw), "",
                wrap(f"Machine: {machine_sweep(sw)}. Date: {sw['date']}. Command: "
                     f"{cmd(sw['command'])} (what `make bench` runs for it), then "
                     "`bench/plots.sh`."), ""]
    if n == 0:
        out += ["No results in `bench/results/` yet: run `make bench`.", ""]
    return "\n".join(out)


def write_doc(repo, figs):
    """Replace the header (everything before the first '## ') and the '## Plots' section of
    docs/benchmarks.md; every other section is kept as it is. The file is re-read right before
    writing and replaced by a rename."""
    path = os.path.join(repo, "docs/benchmarks.md")
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    lines = text.splitlines(keepends=True)
    heads = [i for i, l in enumerate(lines) if l.startswith("## ")]
    section = plots_section(repo, figs, {lines[i].rstrip() for i in heads})
    sections = []  # (title, text)
    for k, i in enumerate(heads):
        end = heads[k + 1] if k + 1 < len(heads) else len(lines)
        sections.append((lines[i].rstrip(), "".join(lines[i:end]).rstrip("\n") + "\n"))
    others = [s for t, s in sections if t != PLOTS_TITLE]
    new = HEADER + "\n" + section.rstrip("\n") + "\n" + "".join("\n" + s for s in others)
    tmp = path + ".plots.tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, path)
    log(f"wrote the header and the '{PLOTS_TITLE[3:]}' section of docs/benchmarks.md")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["collect", "data", "doc"])
    ap.add_argument("--repo", required=True)
    ap.add_argument("--out")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--figures", default="")
    a = ap.parse_args()
    if a.what == "collect":
        collect(a.repo, a.force)
    elif a.what == "data":
        data(a.repo, a.out)
    else:
        write_doc(a.repo, [f for f in a.figures.split(",") if f])
    return 0


if __name__ == "__main__":
    sys.exit(main())
