# Shared by the bench/*/run.sh scripts; sourced after `set -euo pipefail`:
#   . "$repo/bench/lib.sh"
#
# bench_need TOOL...        exit 1 naming the first tool neither on PATH nor in /usr/sbin
# bench_scratch NAME        make the scratch directory $work (/tmp/baton-NAME.XXXXXX) and trap
#                           exit and signals: stop the driver, kill anything still running from
#                           $work, call bench_on_exit (a function the script may define, e.g. to
#                           keep its logs), remove $work
# bench_save_logs DIR N PATTERN...
#                           the last N lines of every file under $work matching a PATTERN, into
#                           ${TMPDIR:-/tmp}/DIR with the same relative paths (DIR emptied first)
# bench_build BIN           build baton, copy it to BIN/baton (other work in the tree may rebuild
#                           build/baton) and the test apps (tests/apps/build.sh) into BIN
# bench_drive CMD...        run the driver in the background and wait for it, so that a signal
#                           reaches the trap, which stops the driver; the driver stops what it
#                           started
# A benchmark, not a test: `make test` never runs any of this.

bench_need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] ||
			{ echo "run.sh: $t is not installed (scripts/deps.sh)" >&2; exit 1; }
	done
}

bench_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
		kill -TERM "$driver" 2>/dev/null || true # the driver stops what it started
		for _ in $(seq 100); do kill -0 "$driver" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$driver" 2>/dev/null || true
	fi
	# last resort: anything still running from the scratch directory
	local p
	for p in /proc/[0-9]*; do
		case "$(readlink "$p/cwd" 2>/dev/null)" in
		"$work" | "$work"/*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;;
		esac
	done
	if [ -d "$work" ] && declare -F bench_on_exit >/dev/null; then
		bench_on_exit || true
	fi
	rm -rf "$work"
	exit "$rc"
}

bench_scratch() {
	work=$(mktemp -d "/tmp/baton-$1.XXXXXX")
	driver=""
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_save_logs() {
	local logs=${TMPDIR:-/tmp}/$1 lines=$2
	shift 2
	local find_args=() pat
	for pat in "$@"; do
		[ ${#find_args[@]} -eq 0 ] || find_args+=(-o)
		find_args+=(-name "$pat")
	done
	rm -rf "$logs" && mkdir -p "$logs"
	(cd "$work" && find . -type f \( "${find_args[@]}" \) | while read -r f; do
		mkdir -p "$logs/$(dirname "$f")"
		tail -n "$lines" "$f" >"$logs/$f"
	done) || true
}

bench_build() {
	make -C "$repo" -s build/baton WERROR=1 >&2
	mkdir -p "$1"
	cp "$repo/build/baton" "$1/baton"
	"$repo/tests/apps/build.sh" "$1" >&2
}

bench_drive() {
	"$@" &
	driver=$!
	wait "$driver"
}
