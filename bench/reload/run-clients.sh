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
work=$(mktemp -d /tmp/baton-clients.XXXXXX)
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
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
make -C "$repo" -s build/baton WERROR=1 >&2
mkdir -p "$work/bin"
cp "$repo/build/baton" "$work/bin/baton"
"$repo/tests/apps/build.sh" "$work/bin" >&2
/usr/bin/python3 "$repo/bench/reload/clients.py" --baton "$work/bin/baton" \
	--app "$work/bin/gin-hello" --work "$work" \
	--haproxy "$(command -v haproxy || echo /usr/sbin/haproxy)" \
	--nginx "$(command -v nginx || echo /usr/sbin/nginx)" --caddy "$(command -v caddy)" \
	--json "$repo/bench/reload/last-clients.json" "$@" &
driver=$!
wait "$driver"
