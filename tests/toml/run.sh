#!/usr/bin/env bash
# toml-test conformance: tests/toml/run.sh DECODER
# Runs every file listed in ../shared/toml-test/tests/files-toml-1.0.0 through DECODER (one
# Python process for the whole run, see compare.py) and ends with
#   toml-test valid: N passed, M failed
#   toml-test invalid: N passed, M failed
#   toml-test total: N passed, M failed
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
suite="$here/../../../shared/toml-test"
if [ $# -ne 1 ]; then
	echo "usage: $0 DECODER" >&2
	exit 2
fi
if [ ! -f "$suite/tests/files-toml-1.0.0" ]; then
	echo "toml-test: skipped (../shared/toml-test not found)"
	exit 0
fi
if [ ! -x "$1" ]; then
	echo "toml-test: decoder '$1' not found or not executable" >&2
	exit 2
fi
exec /usr/bin/python3 "$here/compare.py" run "$1" "$suite/tests"
