#!/usr/bin/env bash
# Run each libFuzzer target for a bounded time: scripts/fuzz.sh SECONDS target...
# Corpora start from fuzz/seeds/<target>/ (committed) and grow in build-fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=$1
shift
for t in "$@"; do
	corpus=build-fuzz/corpus/$t
	mkdir -p "$corpus"
	seeds=fuzz/seeds/$t
	[ -d "$seeds" ] || seeds=
	echo "fuzz: $t for ${secs}s"
	build-fuzz/"$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build-fuzz/ -print_final_stats=1 "$corpus" $seeds 2>&1 |
		grep -E '^(#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)' || true
	if ls build-fuzz/crash-* build-fuzz/leak-* build-fuzz/timeout-* >/dev/null 2>&1; then
		echo "fuzz: $t found a problem; see build-fuzz/" >&2
		exit 1
	fi
done
