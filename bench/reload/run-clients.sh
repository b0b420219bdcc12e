#!/usr/bin/env bash
# The strict client through 200 reloads and the memory of 10,000 idle keep-alive connections,
# for each front of bench/reload (baton, baton-proxy, HAProxy, nginx, Caddy) in front of the
# plain gin-hello app. A benchmark, not a test. See bench/reload/clients.py.
#
# Usage: bench/reload/run-clients.sh [clients.py options: --what strict,idle --modes a,b
#                                     --reloads 200 --interval 0.25 --threads 4 --idle 10000]
# Raw figures: bench/reload/last-clients.json. Loopback only.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/bench/lib.sh"
bench_scratch clients
bench_build "$work/bin"
bench_drive /usr/bin/python3 "$repo/bench/reload/clients.py" --baton "$work/bin/baton" \
	--app "$work/bin/gin-hello" --work "$work" \
	--haproxy "$(command -v haproxy || echo /usr/sbin/haproxy)" \
	--nginx "$(command -v nginx || echo /usr/sbin/nginx)" --caddy "$(command -v caddy)" \
	--json "$repo/bench/reload/last-clients.json" "$@"
