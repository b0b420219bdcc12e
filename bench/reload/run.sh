#!/usr/bin/env bash
# Reloads under load: wrk against examples/gin-hello while it is restarted RELOADS times, for
# the app alone (direct, no reloads), baton run (SIGHUP), a naive kill+start shell loop and
# HAProxy in front of two instances (backend switch per reload) — same script, same run — plus
# baton run with examples/gin-multi (baton-drain) when tests/apps/build.sh builds it.
# A benchmark, not a test: `make test` never runs it. See bench/reload/README.md.
#
# Usage: bench/reload/run.sh [--reloads N] [--duration S] [--connections C] [--threads T]
#                            [--rounds R] [--modes a,b,c] [--no-doc]
#   defaults: 20 reloads over 20 s per mode, 50 connections, 2 wrk threads, 1 round,
#   modes direct,baton,baton-drain,naive,haproxy; the table goes to stdout and to the
#   "## Reloads under load" section of docs/benchmarks.md (not with --no-doc).
# Installs wrk and haproxy with apt-get when missing (root). Loopback only.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cmdline="bench/reload/run.sh${*:+ $*}"
doc="$repo/docs/benchmarks.md"
pass=()
while [ $# -gt 0 ]; do
	case "$1" in
	--reloads | --duration | --connections | --threads | --rounds | --modes)
		[ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }
		pass+=("$1" "$2")
		shift 2
		;;
	--no-doc) doc=""; shift ;;
	*)
		echo "usage: $0 [--reloads N] [--duration S] [--connections C] [--threads T]" \
			"[--rounds R] [--modes a,b,c] [--no-doc]" >&2
		exit 2
		;;
	esac
done

. "$repo/bench/lib.sh"
bench_scratch reload
bench_on_exit() {
	bench_save_logs baton-reload-logs 200 '*.log' wrk.out '*.cfg' '*.toml'
	echo "run.sh: last 200 lines of every log in ${TMPDIR:-/tmp}/baton-reload-logs" >&2
}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v caddy >/dev/null || missing+=(caddy)
if [ ${#missing[@]} -gt 0 ]; then
	echo "run.sh: installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
nginx=$(command -v nginx || echo /usr/sbin/nginx)

bench_build "$work/bin"
# the baton-drain mode runs examples/gin-multi (a drain that closes keep-alive connections
# politely) when build.sh built it
drain_app=""
[ -x "$work/bin/gin-multi" ] && drain_app="$work/bin/gin-multi"

bench_drive /usr/bin/python3 "$repo/bench/reload/bench.py" --baton "$work/bin/baton" \
	--app "$work/bin/gin-hello" ${drain_app:+--app-drain "$drain_app"} --naive "$repo/bench/reload/naive.sh" --work "$work" \
	--wrk "$(command -v wrk)" --haproxy "$haproxy" \
	--nginx "$nginx" --caddy "$(command -v caddy)" --command "$cmdline" \
	--json "$repo/bench/reload/last-run.json" --notes "$repo/bench/reload/notes.md" \
	${doc:+--doc "$doc"} "${pass[@]}"
