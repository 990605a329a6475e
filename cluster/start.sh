#!/usr/bin/env bash
# Starts local stockd nodes on loopback (default: nodes 1 2 3 of cluster/node*.toml), waits
# until every started node knows the same leader, and prints the cluster's status.
#
#   cluster/start.sh          # the 3-node cluster (make cluster)
#   cluster/start.sh 4        # also start the spare node 4 (then: stockctl cluster add-learner)
#   TLS=1 cluster/start.sh    # with TLS: clients and nodes need certificates (make cluster TLS=1)
#   RESTORE=backup.snap cluster/start.sh   # new nodes seeded from a backup (stockctl snapshot save)
#
# With TLS=1, a private CA and certificates for loopback are generated once into
# cluster/data/tls (stockctl certs), each node runs on cluster/data/nodeN-tls.toml (its
# cluster/nodeN.toml plus a [tls] table requiring client certificates), and stockctl needs
# --ca, --cert and --key (printed at the end).
#
# Each node logs to cluster/data/nodeN.log; cluster/stop.sh stops them.
set -euo pipefail
cd "$(dirname "$0")/.."

STOCKD=${STOCKD:-target/debug/stockd}
STOCKCTL=${STOCKCTL:-target/debug/stockctl}
DATA=cluster/data
# Whether a pid is a live process. `kill -0` is not enough: a node killed after this script
# exited stays a zombie until its new parent reaps it, and a zombie still answers `kill -0`.
alive() { local state; state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $state != Z* ]]; }
# How long to wait for an election (normally well under a second).
WAIT_SECONDS=${WAIT_SECONDS:-30}
nodes=("${@:-1 2 3}")
read -r -a nodes <<<"${nodes[*]}"

mkdir -p "$DATA"
tls_flags=()
if [[ -n ${TLS:-} ]]; then
    if [[ ! -f $DATA/tls/ca.pem ]]; then
        "$STOCKCTL" certs "$DATA/tls" --nodes 4
    fi
    tls_flags=(--ca "$DATA/tls/ca.pem" --cert "$DATA/tls/client.pem" --key "$DATA/tls/client-key.pem")
fi
endpoints=()
for n in "${nodes[@]}"; do
    [[ -f cluster/node$n.toml ]] || { echo "start.sh: no cluster/node$n.toml" >&2; exit 2; }
    endpoints+=("127.0.0.1:700$n")
    pidfile=$DATA/node$n.pid
    if [[ -f $pidfile ]] && alive "$(cat "$pidfile")"; then
        echo "node $n: already running (pid $(cat "$pidfile"))"
        continue
    fi
    config=cluster/node$n.toml
    if [[ -n ${TLS:-} ]]; then
        config=$DATA/node$n-tls.toml
        { cat "cluster/node$n.toml"; printf '\n[tls]\ncert = "%s"\nkey = "%s"\nca = "%s"\nrequire_client_cert = true\n' \
            "$DATA/tls/node$n.pem" "$DATA/tls/node$n-key.pem" "$DATA/tls/ca.pem"; } >"$config"
    fi
    restore=()
    if [[ -n ${RESTORE:-} ]]; then
        restore=(--restore "$RESTORE")
    fi
    "$STOCKD" --config "$config" "${restore[@]}" >>"$DATA/node$n.log" 2>&1 &
    echo $! >"$pidfile"
    echo "node $n: started (pid $!, 127.0.0.1:700$n, log $DATA/node$n.log)"
done

list=$(IFS=,; echo "${endpoints[*]}")
deadline=$((SECONDS + WAIT_SECONDS))
while true; do
    # One JSON line per node; ready when every node answers and names the same leader.
    leaders=$("$STOCKCTL" "${tls_flags[@]}" --endpoints "$list" --timeout 2 --output json cluster status 2>/dev/null \
        | grep -o '"leaderId":[0-9]*' | sort | uniq -c || true)
    if [[ $(wc -l <<<"$leaders") == 1 && $leaders != *'"leaderId":0' && $leaders == *" ${#nodes[@]} "* ]]; then
        break
    fi
    for n in "${nodes[@]}"; do
        if ! alive "$(cat "$DATA/node$n.pid")"; then
            echo "start.sh: node $n exited; the end of its log:" >&2
            tail -n 20 "$DATA/node$n.log" >&2
            exit 1
        fi
    done
    if ((SECONDS >= deadline)); then
        echo "start.sh: no common leader after ${WAIT_SECONDS}s (node 4 alone never elects one: add it with stockctl)" >&2
        "$STOCKCTL" "${tls_flags[@]}" --endpoints "$list" --timeout 2 cluster status >&2 || true
        exit 1
    fi
    sleep 0.2
done
"$STOCKCTL" "${tls_flags[@]}" --endpoints "$list" cluster status
echo
echo "Try: $STOCKCTL ${tls_flags[*]} --endpoints $list reserve --sku moutai-flash --buyer alice --hold order-1"
echo "Metrics: curl -s http://127.0.0.1:910${nodes[0]}/metrics"
