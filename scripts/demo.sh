#!/usr/bin/env bash
# `make demo`: baton dev on examples/gin-hello.
#  - at a terminal: prints what to try, then runs `baton dev` in the foreground (Ctrl-C stops);
#  - without a terminal (or DEMO_AUTO=1): a scripted tour — start, request, edit the greeting,
#    request again (served by the rebuilt app, nothing refused), undo the edit, stop.
# Usage: scripts/demo.sh BUILD_DIR      (`make demo` passes build/)
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
baton=$(cd "$1" && pwd)/baton
cd "$(dirname "$0")/../examples/gin-hello"
url=http://127.0.0.1:8080/

"$baton" check

if [ -t 0 ] && [ -t 1 ] && [ -z "${DEMO_AUTO:-}" ]; then
	cat <<EOF

== baton dev on examples/gin-hello (Ctrl-C to stop)
Try, in another terminal:
  while :; do curl -s $url; done          # a request loop; never refused
  \$EDITOR $PWD/main.go                    # change the greeting "hello from gin-hello v1"
Each save rebuilds and restarts the app; the loop switches to the new greeting without
an error. Type r + Enter here to force a rebuild.

EOF
	exec "$baton" dev
fi

log=$(mktemp)
cp main.go main.go.demo-orig
cleanup() {
	if [ -n "${pid:-}" ]; then
		kill -INT "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	mv -f main.go.demo-orig main.go
	rm -f "$log"
}
trap cleanup EXIT

wait_for() { # pattern timeout_s
	local deadline=$((SECONDS + $2))
	until grep -q "$1" "$log"; do
		if [ $SECONDS -ge $deadline ]; then
			echo "demo: timed out waiting for '$1'" >&2
			cat "$log" >&2
			exit 1
		fi
		read -r -t 0.05 _ <> <(:) || true # a 50 ms poll interval
	done
}

echo "== baton dev (scripted; run 'make demo' at a terminal to drive it yourself)"
NO_COLOR=1 "$baton" dev </dev/null >"$log" 2>&1 &
pid=$!
wait_for "ready (generation 1" 120
grep '^baton:' "$log"
echo "\$ curl $url  ->  $(curl -s $url)"
echo "== editing main.go: v1 -> v2"
sed -i 's/hello from gin-hello v1/hello from gin-hello v2 (edited by the demo)/' main.go
wait_for "ready (generation 2" 120
grep '^baton:' "$log" | tail -n 2
echo "\$ curl $url  ->  $(curl -s $url)"
echo "== stopping (Ctrl-C): the app drains and exits, nothing is left behind"
kill -INT "$pid"
wait "$pid" || true
pid=
grep '^baton:' "$log" | tail -n 2
