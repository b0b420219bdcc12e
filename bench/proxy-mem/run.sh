#!/bin/sh
# Memory per idle keep-alive client connection through the HTTP front (see idle_mem.c).
# Needs `make` first (build/libbaton.a) and an fd limit above N + 100.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-10000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -std=c11 -D_GNU_SOURCE -O2 -I"$root/src" -o "$out/idle_mem" "$root/bench/proxy-mem/idle_mem.c" \
	"$root/build/libbaton.a"
ulimit -n $((n + 100)) 2>/dev/null || true
timeout 300 "$out/idle_mem" "$n"
