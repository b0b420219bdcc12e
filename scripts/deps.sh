#!/usr/bin/env bash
# Install the Debian packages baton's build, tests or demo need, only those that are missing.
# Usage: scripts/deps.sh build|test|demo|bench
# Works as root; uses sudo otherwise.
set -euo pipefail

build_pkgs="gcc make libc6-dev libssl-dev pkg-config"
test_pkgs="$build_pkgs libcmocka-dev python3 python3-pytest python3-pytest-timeout clang libclang-rt-14-dev vim-nox inotify-tools openssl
	golang-go golang-github-gin-gonic-gin-dev golang-github-coreos-go-systemd-dev curl
	groff-base man-db zsh build-essential dpkg-dev debhelper lintian
	python3-h11 python3-websocket prometheus etcd-server etcd-client chromium"
demo_pkgs="$build_pkgs golang-go golang-github-gin-gonic-gin-dev golang-github-coreos-go-systemd-dev curl"
bench_pkgs="$test_pkgs fswatch entr nodejs npm gnuplot-nox wrk hyperfine haproxy nginx caddy"

case "${1:-test}" in
build) want=$build_pkgs ;;
test) want=$test_pkgs ;;
demo) want=$demo_pkgs ;;
bench) want=$bench_pkgs ;;
*) echo "usage: $0 build|test|demo|bench" >&2; exit 2 ;;
esac

missing=()
for p in $want; do
	# vim-nox: any vim will do for the editor tests
	if [ "$p" = vim-nox ] && command -v vim >/dev/null 2>&1; then continue; fi
	if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
	if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
	$sudo apt-get update -q >&2
	$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
