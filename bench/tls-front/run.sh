#!/usr/bin/env bash
# TLS termination: baton's HTTPS front against HAProxy and nginx terminating TLS for the same
# Gin app (tests/apps/gin-shutdown) on a unix socket, the same wrk run (keep-alive and a new TLS
# connection per request), then baton again while its certificate is swapped during the run.
# A benchmark, not a test: `make test` never runs it. See bench/tls-front/README.md.
#
# Usage: bench/tls-front/run.sh [--duration S] [--connections C] [--threads T] [--swaps N]
#                               [--fronts baton,haproxy,nginx] [--kinds keep-alive,close]
#   [--rounds R]
#   defaults: 10 s per run, 50 connections, 2 wrk threads, 5 swaps. Prints the tables; the raw
#   figures go to bench/tls-front/last-run.json, the logs of the last run to
#   /tmp/baton-tls-front-logs/.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
for t in wrk haproxy nginx openssl systemd-socket-activate go; do
	command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] ||
		{ echo "run.sh: $t is not installed (scripts/deps.sh)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/baton-tls-front.XXXXXX)
driver=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
		kill -TERM "$driver" 2>/dev/null || true # the driver stops what it started
		for _ in $(seq 100); do kill -0 "$driver" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$driver" 2>/dev/null || true
	fi
	for p in /proc/[0-9]*; do # last resort: anything still running from the scratch directory
		case "$(readlink "$p/cwd" 2>/dev/null)" in
		"$work" | "$work"/*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;;
		esac
	done
	logs=${TMPDIR:-/tmp}/baton-tls-front-logs
	rm -rf "$logs" && mkdir -p "$logs"
	(cd "$work" && find . -name '*.log' -o -name 'wrk.out' -o -name '*.cfg' -o -name '*.conf' \
		-o -name '*.toml' | while read -r f; do
		mkdir -p "$logs/$(dirname "$f")"
		tail -n 200 "$f" >"$logs/$f"
	done) || true
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT INT TERM

make -C "$repo" -s build/baton WERROR=1
cp "$repo/build/baton" "$work/baton"
"$repo/tests/apps/build.sh" "$work/apps" >/dev/null
mkdir "$work/pairs"
for p in p1 p2; do # ECDSA P-256, what certbot issues by default
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-keyout "$work/pairs/$p.key" -out "$work/pairs/$p.crt" -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost 2>/dev/null
done
/usr/bin/python3 "$repo/bench/tls-front/bench.py" --work "$work/runs" --pairs "$work/pairs" \
	--app "$work/apps/gin-shutdown" --baton "$work/baton" \
	--json "$repo/bench/tls-front/last-run.json" "$@" &
driver=$!
wait "$driver"
