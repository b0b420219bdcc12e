#!/usr/bin/env bash
# Build the dev-loop peers that Debian does not package, offline, from Debian's Go packages:
#   air v1.42.0            (github.com/cosmtrek/air, tag v1.42.0)
#   CompileDaemon v1.2.1   (github.com/githubnemo/CompileDaemon, tag v1.2.1: later tags need
#                        github.com/radovskyb/watcher, which Debian does not package)
# Usage: bench/devloop/build-peers.sh AIR_GIT_DIR COMPILEDAEMON_GIT_DIR [DEST (/usr/local/bin)]
# Each *_GIT_DIR is a clone of that repository (any checkout: the tag is read with git archive).
# Needs root for apt-get (the libraries) and for DEST. Nothing is downloaded but Debian packages.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
air_git=$1 cd_git=$2 dest=${3:-/usr/local/bin}
apt-get install -y -q golang-go golang-github-fsnotify-fsnotify-dev golang-github-fatih-color-dev \
	golang-github-creack-pty-dev golang-github-imdario-mergo-dev \
	golang-github-pelletier-go-toml-dev >&2
gopath=$(mktemp -d /tmp/baton-peers.XXXXXX)
trap 'rm -rf "$gopath"' EXIT
build() { # git dir, tag, import path, binary, extra go build flags...
	local git=$1 tag=$2 imp=$3 bin=$4
	shift 4
	mkdir -p "$gopath/src/$(dirname "$imp")"
	git -C "$git" archive --prefix="$(basename "$imp")/" "$tag" |
		tar -x -C "$gopath/src/$(dirname "$imp")"
	(cd "$gopath/src/$imp" && GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS= \
		GOPROXY=off go build "$@" -o "$dest/$bin" .)
	echo "build-peers.sh: $dest/$bin ($tag)" >&2
}
build "$air_git" v1.42.0 github.com/cosmtrek/air air -ldflags "-X main.airVersion=v1.42.0"
build "$cd_git" v1.2.1 github.com/githubnemo/CompileDaemon CompileDaemon
