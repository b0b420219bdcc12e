#!/usr/bin/env bash
# File-watcher benchmark: baton watch vs inotifywait -r, fswatch and chokidar, on one generated
# tree (10,000 directories, 100,000 files), measured in the same run. Writes the "## File watcher"
# section of docs/benchmarks.md (other sections are kept).
#
# usage: bench/watch/run.sh [--dirs N] [--files N] [--keep DIR] [--no-docs]
#        bench/watch/run.sh --keep DIR --docs-only   (rewrite the docs from DIR's last table)
# Needs: inotify-tools, fswatch, nodejs + npm (installed with apt-get when missing, as root or
# with sudo); chokidar 3 (what nodemon depends on) is installed into a temp npm prefix.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
BATON=${BATON_BIN:-$REPO/build/baton}
DOCS=1
DOCS_ONLY=0
ARGS=()
KEEP=""
while [ $# -gt 0 ]; do
	case "$1" in
	--no-docs) DOCS=0 ;;
	--docs-only) DOCS_ONLY=1 ;;
	--keep) KEEP=$2; ARGS+=(--keep "$2"); shift ;;
	*) ARGS+=("$1") ;;
	esac
	shift
done

need=()
command -v inotifywait >/dev/null || need+=(inotify-tools)
command -v fswatch >/dev/null || need+=(fswatch)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	echo "bench: installing ${need[*]}" >&2
	$sudo apt-get install -y -q --no-install-recommends "${need[@]}" >&2 ||
		{ $sudo apt-get update -q >&2 && $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >&2; }
fi

[ -x "$BATON" ] || make -s "$BATON" >&2

WORK=${KEEP:-$(mktemp -d /tmp/baton-bench-XXXXXX)}
mkdir -p "$WORK"
NPM_PREFIX=$WORK/npm
if [ ! -f "$NPM_PREFIX/node_modules/chokidar/package.json" ]; then
	echo "bench: npm install chokidar@3 (as nodemon uses it) into $NPM_PREFIX" >&2
	mkdir -p "$NPM_PREFIX"
	npm install --silent --no-audit --no-fund --prefix "$NPM_PREFIX" chokidar@3 >&2
fi
[ -n "$KEEP" ] || ARGS+=(--keep "$WORK")

cc -O2 -o "$WORK/floor" bench/watch/floor.c

OUT=$WORK/table.md
[ "$DOCS_ONLY" = 1 ] || /usr/bin/python3 bench/watch/bench.py --baton "$BATON" --chokidar "$NPM_PREFIX/node_modules" \
	--floor "$WORK/floor" --md "$OUT" "${ARGS[@]}"

if [ "$DOCS" = 1 ]; then
	BENCH_TREE=$WORK/tree /usr/bin/python3 - "$OUT" "$REPO/docs/benchmarks.md" <<'EOF'
import os, platform, subprocess, sys, time
table = open(sys.argv[1]).read().strip()
doc = sys.argv[2]
cpu = "?"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
tree = os.environ.get("BENCH_TREE", "/tmp")
fs = subprocess.run(["findmnt", "-no", "FSTYPE", "-T", tree], capture_output=True,
                    text=True).stdout.strip() or "?"
section = f"""## File watcher

`bench/watch/run.sh`, {time.strftime('%Y-%m-%d')}: Linux {platform.release()}, {os.cpu_count()} CPUs
({cpu}), tree on {fs}, warm page cache. One generated tree of 10,000 directories (+ root) and
100,000 small `.go` files; every tool watches all of it, in the same run.

{table}

- **ready**: the tool's own signal that every directory is watched (baton's `watching N
  directories (M files) in T ms` line, inotifywait's `Watches established.`, chokidar's `ready`);
  fswatch prints none, so a probe file is rewritten every 25 ms until fswatch reports it (an
  upper bound that includes its latency). Ratios are against the first row.
- **CPU busy until**: when the process's CPU counter stops moving. For baton this includes the
  background fingerprint pass (stat + content hash of every tracked file, done between events
  after the ready line) — the first row fingerprints all 100,000 files, the second only the 10,000
  its filter tracks.
- **RSS** is VmRSS once idle: it includes shared library pages (baton links only libc, ~1.7
  MiB mapped before its first allocation; libcrypto is loaded only to check a certificate).
  **RssAnon** is the process's own memory; for baton it is ~200 B per directory plus ~24 B +
  name per tracked file (the difference between its two rows).
- **idle CPU**: CPU time used over 5 s of quiet after set-up.
- **latency**: from the end of a write to the output line naming the file (median of 15). baton
  waits for a quiet window before it reports a batch: 5 ms after a completed write of a few
  files (`fast_settle`, what this probe is), else the 50 ms `debounce`; it then stats the file
  and hashes it, so a `touch` is never a batch. inotifywait and chokidar report raw events
  (a `touch` is one).
- Kernel memory is the same for every inotify-based tool (~1 KiB per watched directory) and is
  not counted.
- **fswatch** 1.14's inotify monitor subscribes to every event, including the reads of its own
  directory walk; on this tree its queue overflows during set-up and it exits ("Event queue
  overflow.", status 5), with or without `--event` filters.
- **Against the issue's targets** (set-up < 60 ms for 10k directories, RSS < 4 MiB, idle CPU 0):
  idle CPU is 0. Set-up is bounded by syscalls, and a syscall on this VM costs 1–4 µs
  (`getppid` in a loop), 10–50× bare metal: the floor (walk + watches) is far above 60 ms here,
  and the 10,001 `inotify_add_watch` calls alone take about as long as the target (see the
  notes under the table). baton's ratio to the floor is the figure to compare across machines.
  RSS is over 4 MiB: 4.3 MiB when one file in ten is tracked (inotifywait, which tracks no
  file, is 4.0–4.8 MiB in the same runs), 6.3 MiB when all 100,000 files are: the per-file
  content hash that makes `touch` and identical rewrites no-ops costs ~24 B + name per tracked
  file, and ~1.8 MiB are libc's and baton's mapped pages.
"""
text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n"
start = text.find("## File watcher")
if start < 0:
    text = text.rstrip("\n") + "\n\n" + section
else:
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
open(doc, "w").write(text)
print(f"bench: wrote the 'File watcher' section of {doc}", file=sys.stderr)
EOF
fi
