#!/usr/bin/env bash
# Every benchmark in bench/, then the plots: what `make bench` runs. Each benchmark rewrites its
# own section of docs/benchmarks.md and leaves its raw figures in bench/results/ (JSON); then
# bench/plots.sh draws docs/img/*.png and rewrites the header and the "## Plots" section.
# Takes several minutes on two idle cores. A benchmark, not a test: `make test` never runs it.
#
# usage: bench/run-all.sh
# Environment:
#   BENCH_ONLY=a,b   run only these (default: devloop,reload,watch,watch-sweep; soak is opt-in)
#   BENCH_SKIP=a,b   skip these
#   BENCH_SIZES      directory counts of the watcher sweep (default 100,1000,5000,10000; 10 files
#                    per directory)
#   BENCH_KEEP=DIR   keep the watcher trees and chokidar there for the next run (default: a
#                    scratch directory removed at the end)
#   BENCH_FORCE=1    run even though another benchmark is running (figures will be noisy)
# The benchmarks:
#   devloop      bench/devloop/run.sh: edit -> new version, baton dev vs nodemon and entr
#   reload       bench/reload/run.sh: wrk during reloads, direct / baton / naive / HAProxy
#                (skipped with a note while bench/reload/run.sh does not exist)
#   watch        bench/watch/run.sh: watchers on a 10k-directory tree
#   watch-sweep  bench/watch/run.sh --sizes: watcher set-up time vs tree size
#   soak         bench/soak/run.sh: 1,000 reloads under keep-alive, new-connection and unix
#                clients; fds, children and RSS of baton (opt-in: BENCH_ONLY=soak, or add it)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

all="devloop,reload,watch,watch-sweep"
known="$all,soak"
only=${BENCH_ONLY:-$all}
skip=${BENCH_SKIP:-}
sizes=${BENCH_SIZES:-100,1000,5000,10000}
for b in ${only//,/ } ${skip//,/ }; do
	case ",$known," in
	*",$b,"*) ;;
	*) echo "run-all: unknown benchmark '$b' (known: $known)" >&2; exit 2 ;;
	esac
done
want() {
	case ",$only," in *",$1,"*) ;; *) return 1 ;; esac
	case ",$skip," in *",$1,"*) return 1 ;; esac
	return 0
}

# two shared cores: a second benchmark running at the same time skews both
others=$(pgrep -af 'bench/(devloop|watch|reload|soak)/' | grep -v "^$$ " || true)
if [ -n "$others" ] && [ "${BENCH_FORCE:-}" != 1 ]; then
	echo "run-all: another benchmark is running (BENCH_FORCE=1 to run anyway):" >&2
	echo "$others" >&2
	exit 1
fi

keep=${BENCH_KEEP:-}
scratch=""
if [ -z "$keep" ]; then
	scratch=$(mktemp -d /tmp/baton-bench-all.XXXXXX)
	keep=$scratch
fi
trap '[ -z "$scratch" ] || rm -rf "$scratch"' EXIT
mkdir -p bench/results "$keep"

failed=()
run() { # name command...
	local name=$1
	shift
	echo "run-all: == $name: $*" >&2
	local t0=$SECONDS rc=0
	"$@" || rc=$?
	if [ "$rc" = 0 ]; then
		echo "run-all: $name done in $((SECONDS - t0)) s" >&2
		return 0
	fi
	echo "run-all: $name FAILED (exit $rc); its section and results are left as they were" >&2
	failed+=("$name")
	return 1
}

if want devloop; then
	if run devloop bench/devloop/run.sh; then
		cp bench/devloop/last-run.json bench/results/devloop.json
	fi
fi
if want reload; then
	if [ -x bench/reload/run.sh ]; then
		if run reload bench/reload/run.sh; then
			cp bench/reload/last-run.json bench/results/reload.json
		fi
	else
		echo "run-all: bench/reload/run.sh does not exist yet; reload skipped" >&2
	fi
fi
if want watch; then
	BENCH_COMMAND="bench/watch/run.sh" \
		run watch bench/watch/run.sh --keep "$keep" --json "$repo/bench/results/watch.json" || true
fi
if want watch-sweep; then
	# the command as one would type it again (--keep only caches the trees)
	BENCH_COMMAND="bench/watch/run.sh --no-docs --sizes $sizes --json bench/results/watch-sweep.json" \
		run watch-sweep bench/watch/run.sh --no-docs --keep "$keep" --sizes "$sizes" \
		--json "$repo/bench/results/watch-sweep.json" || true
fi
if want soak; then
	BENCH_COMMAND="bench/soak/run.sh" \
		run soak bench/soak/run.sh --json "$repo/bench/results/soak.json" || true
fi

run plots bench/plots.sh || true
if [ ${#failed[@]} -gt 0 ]; then
	echo "run-all: failed: ${failed[*]}" >&2
	exit 1
fi
echo "run-all: docs/benchmarks.md and docs/img/*.png are up to date (data in bench/results/)" >&2
