#!/usr/bin/env bash
# The naive restart, for bench/reload: run APP (it binds $PORT itself) and, for every line read
# on stdin, stop it with SIGTERM, wait for it to exit and start it again — what a plain
# `systemctl restart` or a kill-and-start deploy script does. At EOF the app is stopped and the
# loop ends, so it is bounded by its input. Usage: naive.sh APP < commands
set -u
app=$1
"$app" &
pid=$!
echo "naive: started $pid"
while read -r _; do
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	"$app" &
	pid=$!
	echo "naive: restarted $pid"
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
echo "naive: stopped"
