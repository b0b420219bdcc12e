#!/usr/bin/env bash
# Dev-loop benchmark: edit -> new version latency, failed requests, build/start split, idle CPU
# and RSS of the supervisor, for `baton dev` and its peers (nodemon, entr; air, CompileDaemon,
# reflex when found on PATH) on examples/gin-hello. A benchmark, not a test: `make test` never
# runs it. See bench/devloop/README.md.
#
# Usage: bench/devloop/run.sh [--edits N] [--tools a,b,c] [--no-doc]
#   --edits N    measured edits per tool (default 10; one warm-up edit more is not counted)
#   --tools LIST comma-separated, exactly these (default: baton,baton-d0,baton-fwd,baton-zero,
#                nodemon,entr,reflex, and air and CompileDaemon when found on PATH)
#   --no-doc     print the table only; do not rewrite the "## Dev loop" section of
#                docs/benchmarks.md
# Environment: BATON_BENCH_NPM (nodemon install prefix, default ~/.cache/baton-bench/npm).
# Needs root to apt-get install entr and reflex (Debian) when missing; nodemon comes from the npm
# registry; air and CompileDaemon are not packaged: see README.md for how to get them.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cmdline="bench/devloop/run.sh${*:+ $*}"
edits=10
tools=""
doc="$repo/docs/benchmarks.md"
while [ $# -gt 0 ]; do
	case "$1" in
	--edits) edits=$2; shift 2 ;;
	--tools) tools=$2; shift 2 ;;
	--no-doc) doc=""; shift ;;
	*) echo "usage: $0 [--edits N] [--tools a,b,c] [--no-doc]" >&2; exit 2 ;;
	esac
done

work=$(mktemp -d /tmp/baton-devloop.XXXXXX)
driver=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
		kill -TERM "$driver" 2>/dev/null || true # the driver stops its tools
		for _ in $(seq 100); do kill -0 "$driver" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$driver" 2>/dev/null || true
	fi
	# last resort: anything still running in the scratch tree (an app a tool orphaned)
	for p in /proc/[0-9]*; do
		case "$(readlink "$p/cwd" 2>/dev/null)" in
		"$work"/*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;;
		esac
	done
	if [ -d "$work" ]; then
		logs=${TMPDIR:-/tmp}/baton-devloop-logs
		rm -rf "$logs" && mkdir -p "$logs" && cp "$work"/*/*.log "$logs"/ 2>/dev/null || true
		echo "run.sh: tool logs in $logs" >&2
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# baton: build it, then run a private copy (other work in the tree may rebuild build/baton)
make -C "$repo" -s build/baton WERROR=1 >&2
mkdir -p "$work/bin"
cp "$repo/build/baton" "$work/bin/baton"

# peers: installed only when they are to run
want() { [ -z "$tools" ] || [[ ",$tools," == *",$1,"* ]]; }
for t in entr reflex; do
	if want "$t" && ! command -v "$t" >/dev/null; then
		echo "run.sh: installing $t" >&2
		apt-get install -y "$t" >&2
	fi
done
npm_prefix=${BATON_BENCH_NPM:-${HOME:-/root}/.cache/baton-bench/npm}
nodemon="$npm_prefix/node_modules/.bin/nodemon"
if want nodemon && [ ! -x "$nodemon" ]; then
	echo "run.sh: installing nodemon into $npm_prefix" >&2
	mkdir -p "$npm_prefix"
	timeout 300 npm install --prefix "$npm_prefix" --no-audit --no-fund nodemon >&2
fi
skipped=""
if [ -z "$tools" ]; then # the default set: what is on PATH of the optional peers
	tools="baton,baton-d0,baton-fwd,baton-zero,nodemon,entr"
	for t in reflex air CompileDaemon; do
		if command -v "$t" >/dev/null; then tools="$tools,$t"; else skipped="$skipped,$t"; fi
	done
fi # --tools: exactly those, each at most once
tools=$(tr ',' '\n' <<<"$tools" | awk 'NF && !seen[$0]++' | paste -sd, -)

export GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS=
if want nodemon; then echo "run.sh: nodemon $("$nodemon" --version)" >&2; fi

/usr/bin/python3 "$repo/bench/devloop/measure.py" --repo "$repo" --work "$work" \
	--baton "$work/bin/baton" --nodemon "$nodemon" --tools "$tools" --edits "$edits" \
	--skipped "${skipped#,}" --command "$cmdline" --json "$repo/bench/devloop/last-run.json" \
	${doc:+--doc "$doc"} &
driver=$!
wait "$driver"
