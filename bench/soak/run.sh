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

. "$repo/bench/lib.sh"
bench_scratch soak
bench_on_exit() {
	bench_save_logs baton-soak-logs 300 '*.log' '*.toml'
	echo "run.sh: last 300 lines of every log in ${TMPDIR:-/tmp}/baton-soak-logs" >&2
}
bench_build "$work/bin"

bench_drive /usr/bin/python3 "$repo/bench/soak/bench.py" --baton "$work/bin/baton" --app "$work/bin/gin-hello" \
	--work "$work" --command "$cmdline" --json "$repo/bench/soak/last-run.json" \
	${doc:+--doc "$doc"} "${pass[@]}"
