#!/usr/bin/env bash
# Weight changes under load: the Gin app (tests/apps/gin-shutdown) behind `proxy = "http"`, a
# canary rollout stepping 10, 20, ..., 100 % every 100 ms, restarted by `baton reload` for 20 s,
# under wrk (keep-alive) and a strict new-connection client. A benchmark, not a test. See
# bench/rollout/README.md and bench.py.
#
# Usage: bench/rollout/run.sh [bench.py options: --duration 20 --interval 100ms --connections 32
#                              --threads 2 --strict 2 --sticky]
# Raw figures: bench/rollout/last-run.json. Loopback only.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/baton-rollout.XXXXXX)
driver=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
		kill -TERM "$driver" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$driver" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$driver" 2>/dev/null || true
	fi
	for p in /proc/[0-9]*; do
		case "$(readlink "$p/cwd" 2>/dev/null)" in
		"$work" | "$work"/*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;;
		esac
	done
	if [ -f "$work/run/baton.log" ]; then
		mkdir -p /tmp/baton-rollout-logs
		tail -n 200 "$work/run/baton.log" >/tmp/baton-rollout-logs/baton.log
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
command -v wrk >/dev/null || { echo "run.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
make -C "$repo" -s build/baton WERROR=1 >&2
mkdir -p "$work/bin"
cp "$repo/build/baton" "$work/bin/baton"
"$repo/tests/apps/build.sh" "$work/bin" >&2
/usr/bin/python3 "$repo/bench/rollout/bench.py" --baton "$work/bin/baton" \
	--app "$work/bin/gin-shutdown" --work "$work/run" \
	--json "$repo/bench/rollout/last-run.json" "$@" &
driver=$!
wait "$driver"
