#!/usr/bin/env bash
# The HTTP/1.1 parser's microbenchmark: bench/h1parse/run.sh [ITERATIONS] (default 1,000,000 a
# case, best of 5 rounds). Builds with the project's compiler at -O2 into build/bench/.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build/bench
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Isrc -o build/bench/h1bench bench/h1parse/h1bench.c \
	src/http/h1.c src/http/h1_body.c
build/bench/h1bench "${1:-1000000}"
