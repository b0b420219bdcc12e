#!/usr/bin/env bash
# Soak: RELOADS reloads (SIGHUP) of examples/gin-hello under `baton run` while keep-alive,
# new-connection and unix-socket clients keep it busy; failed requests by kind, and baton's fd
# count, children and RSS after a warm-up and at the end. A benchmark, not a test: `make test`
# never runs it. See bench/soak/README.md.
#
# Usage: bench/soak/run.sh [--reloads N] [--json PATH] [--no-docs]
#   --reloads N   reloads (default 1000; the first 20 are the warm-up)
#   --json PATH   also write the results there (they always go to bench/soak/last-run.json)
#   --no-docs     print the section only; do not rewrite "## Soak" in docs/benchmarks.md
# Loopback and a unix socket in a scratch directory only. Needs Go and Debian's Gin packages
# (tests/apps/build.sh builds the app offline).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cmdline=${BENCH_COMMAND:-"bench/soak/run.sh${*:+ $*}"}
doc="$repo/docs/benchmarks.md"
pass=()
while [ $# -gt 0 ]; do
	case "$1" in
	--reloads | --json)
		[ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }
		pass+=("$1" "$2")
		shift 2
		;;
	--no-docs) doc=""; shift ;;
	*) echo "usage: $0 [--reloads N] [--json PATH] [--no-docs]" >&2; exit 2 ;;
	esac
done

work=$(mktemp -d /tmp/baton-soak.XXXXXX)
driver=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
		kill -TERM "$driver" 2>/dev/null || true # the driver stops what it started
		for _ in $(seq 100); do kill -0 "$driver" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$driver" 2>/dev/null || true
	fi
	# last resort: anything still running from the scratch directory
	for p in /proc/[0-9]*; do
		case "$(readlink "$p/cwd" 2>/dev/null)" in
		"$work" | "$work"/*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;;
		esac
	done
	if [ -d "$work" ]; then
		logs=${TMPDIR:-/tmp}/baton-soak-logs
		rm -rf "$logs" && mkdir -p "$logs"
		for f in "$work"/*.log "$work"/*.toml; do
			[ -f "$f" ] && tail -n 300 "$f" >"$logs/$(basename "$f")"
		done
		echo "run.sh: last 300 lines of every log in $logs" >&2
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
"$repo/tests/apps/build.sh" "$work/bin" >&2

/usr/bin/python3 "$repo/bench/soak/bench.py" --baton "$work/bin/baton" --app "$work/bin/gin-hello" \
	--work "$work" --command "$cmdline" --json "$repo/bench/soak/last-run.json" \
	${doc:+--doc "$doc"} "${pass[@]}" &
driver=$!
wait "$driver"
