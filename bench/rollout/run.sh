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
. "$repo/bench/lib.sh"
bench_need wrk
bench_scratch rollout
bench_on_exit() {
	if [ -f "$work/run/baton.log" ]; then
		mkdir -p /tmp/baton-rollout-logs
		tail -n 200 "$work/run/baton.log" >/tmp/baton-rollout-logs/baton.log
	fi
}
bench_build "$work/bin"
bench_drive /usr/bin/python3 "$repo/bench/rollout/bench.py" --baton "$work/bin/baton" \
	--app "$work/bin/gin-shutdown" --work "$work/run" \
	--json "$repo/bench/rollout/last-run.json" "$@"
