#!/usr/bin/env bash
# Build the Go test apps into OUTDIR, offline, from Debian's packaged Go libraries (GOPATH mode):
#   OUTDIR/gin-hello   examples/gin-hello: LISTEN_FDS + sd_notify + graceful shutdown
#   OUTDIR/gin-plain   tests/apps/gin-plain: binds :$PORT itself (forward mode)
#   OUTDIR/gin-multi   examples/gin-multi: http + https + unix admin socket by name, drain
#   OUTDIR/gin-fdstore tests/apps/gin-fdstore: a counter kept in the fd store (FDSTORE=1)
#   OUTDIR/gin-shutdown tests/apps/gin-shutdown: LISTEN_FDS or PORT, plain Server.Shutdown,
#                      POST echo, a health path that can fail, WebSocket echo (proxy mode);
#                      GET /who ("PID MODE gen=N") and /fail (503), where MODE is read at start
#                      from ./mode: "ok", "bad" (500 on 30 % of /who), "slow" (+250 ms on /who)
#   OUTDIR/gin-takeover tests/apps/gin-takeover: r.Run("127.0.0.1:18090") hard-coded (takeover)
# Usage: tests/apps/build.sh OUTDIR
# The Go build cache is shared (GOCACHE, default `go env GOCACHE`): a cold build takes ~15 s,
# a warm one ~1 s.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)

export GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS=
if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ]; then
	export GOCACHE=/tmp/baton-gocache-$(id -u)
fi

build() { # name dir
	if ! (cd "$2" && go build -o "$out/$1" .); then
		echo "build.sh: building \"$1\" failed (are golang-go, golang-github-gin-gonic-gin-dev and" \
			"golang-github-coreos-go-systemd-dev installed? scripts/deps.sh test installs them)" >&2
		exit 1
	fi
}
build gin-hello "$repo/examples/gin-hello"
build gin-plain "$repo/tests/apps/gin-plain"
build gin-multi "$repo/examples/gin-multi"
build gin-fdstore "$repo/tests/apps/gin-fdstore"
build gin-shutdown "$repo/tests/apps/gin-shutdown"
build gin-takeover "$repo/tests/apps/gin-takeover"
