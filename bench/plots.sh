#!/usr/bin/env bash
# Draw the benchmark plots from the results in bench/results/ (no benchmark is run): gnuplot
# scripts in bench/plots/ write docs/img/*.png, then the header and the "## Plots" section of
# docs/benchmarks.md are rewritten (every other section is kept). `make bench-plots` runs this;
# `make bench` (bench/run-all.sh) runs it after the benchmarks.
#
# usage: bench/plots.sh [--collect]
#   --collect  first copy each benchmark's last-run.json (bench/devloop, bench/reload) into
#              bench/results/ when it is a complete run newer than the copy there
# Needs gnuplot (Debian gnuplot-nox: scripts/deps.sh bench).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
py=/usr/bin/python3

case "${1:-}" in
--collect) "$py" bench/plots/plots.py collect --repo "$repo" ;;
"") ;;
*) echo "usage: $0 [--collect]" >&2; exit 2 ;;
esac

if ! command -v gnuplot >/dev/null; then
	echo "plots: gnuplot is missing: scripts/deps.sh bench (Debian gnuplot-nox)" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/baton-plots.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
figs=$("$py" bench/plots/plots.py data --repo "$repo" --out "$tmp")
mkdir -p docs/img
drawn=()
for fig in ${figs//,/ }; do
	case "$fig" in
	devloop-latency) gp=devloop.gp ;;
	failed-requests) gp=failed.gp ;;
	watch-setup) gp=watch-setup.gp ;;
	*) continue ;;
	esac
	# draw into the scratch directory, then move: a failed gnuplot leaves the old PNG in place
	if gnuplot -e "datadir='$tmp'; out='$tmp/$fig.png'" "bench/plots/$gp"; then
		mv "$tmp/$fig.png" "docs/img/$fig.png"
		drawn+=("$fig")
		echo "plots: docs/img/$fig.png" >&2
	else
		echo "plots: gnuplot failed on bench/plots/$gp" >&2
		exit 1
	fi
done
joined=$(IFS=,; echo "${drawn[*]:-}")
"$py" bench/plots/plots.py doc --repo "$repo" --figures "$joined"
