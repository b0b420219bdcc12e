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
. "$repo/bench/lib.sh"
bench_need wrk haproxy nginx openssl systemd-socket-activate go
bench_scratch tls-front
bench_on_exit() {
	bench_save_logs baton-tls-front-logs 200 '*.log' wrk.out '*.cfg' '*.conf' '*.toml'
}
bench_build "$work/bin"
mkdir "$work/pairs"
for p in p1 p2; do # ECDSA P-256, what certbot issues by default
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-keyout "$work/pairs/$p.key" -out "$work/pairs/$p.crt" -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost 2>/dev/null
done
bench_drive /usr/bin/python3 "$repo/bench/tls-front/bench.py" --work "$work/runs" \
	--pairs "$work/pairs" --app "$work/bin/gin-shutdown" --baton "$work/bin/baton" \
	--json "$repo/bench/tls-front/last-run.json" "$@"
