#!/usr/bin/env bash
# Stops local stockd nodes started by cluster/start.sh (default: all of them) with SIGTERM and
# waits for each to exit. `cluster/stop.sh --wipe` also deletes their data.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=cluster/data
# Whether a pid is a live process. `kill -0` is not enough: a node killed after this script
# exited stays a zombie until its new parent reaps it, and a zombie still answers `kill -0`.
alive() { local state; state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $state != Z* ]]; }
wipe=false
nodes=()
for arg in "$@"; do
    if [[ $arg == --wipe ]]; then wipe=true; else nodes+=("$arg"); fi
done
if ((${#nodes[@]} == 0)); then
    for pidfile in "$DATA"/node*.pid; do
        [[ -e $pidfile ]] || continue
        n=${pidfile##*/node}; nodes+=("${n%.pid}")
    done
fi
for n in "${nodes[@]}"; do
    pidfile=$DATA/node$n.pid
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile")
    if alive "$pid" && kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
        if alive "$pid"; then kill -KILL "$pid"; fi
        echo "node $n: stopped"
    fi
    rm -f "$pidfile"
done
if $wipe; then rm -rf "$DATA"; echo "data wiped"; fi
