#!/usr/bin/env bash
# make bench-peers: the same `hot` sale against what platforms use today and against stockraft,
# on this machine, in one run:
#   - etcd: 3 members on loopback (Debian's etcd-server), fsync on (etcd always fsyncs);
#   - Redis: one node (Debian's redis-server), append-only file fsynced on every write;
#   - stockraft: a fresh 3-node cluster started by stockbench.
# Installs the two servers if missing; everything runs in a temporary directory, stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

UNITS=${UNITS:-10000}
BUYERS=${BUYERS:-16,64,256}
STOCKBENCH=${STOCKBENCH:-target/release/stockbench}
# ETCD=0 leaves etcd out (its 256-buyer sale of 10,000 units takes minutes); UNARY=1 sends
# stockraft's reserves as unary calls instead of through the Rust client's batching.
ETCD=${ETCD:-1}
UNARY=${UNARY:-0}
# Runs of each system at each buyer count (alternated); the table gives the medians.
REPEAT=${REPEAT:-3}
# Then the steady state: a long sale (Redis and stockraft; etcd would take hours) at these
# buyer counts. LONG_UNITS=0 leaves it out.
LONG_UNITS=${LONG_UNITS:-1000000}
LONG_BUYERS=${LONG_BUYERS:-256}

missing=()
[ "$ETCD" = 0 ] || command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/bench-peers.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# etcd: members e1..e3, clients on 23791..23793, peers on 23801..23803.
cluster="e1=http://127.0.0.1:23801,e2=http://127.0.0.1:23802,e3=http://127.0.0.1:23803"
etcd_flags=(--etcd 127.0.0.1:23791,127.0.0.1:23792,127.0.0.1:23793)
[ "$ETCD" = 0 ] && etcd_flags=()
for n in 1 2 3; do
  [ "$ETCD" = 0 ] && break
  etcd --name "e$n" --data-dir "$work/etcd$n" \
    --listen-client-urls "http://127.0.0.1:2379$n" --advertise-client-urls "http://127.0.0.1:2379$n" \
    --listen-peer-urls "http://127.0.0.1:2380$n" --initial-advertise-peer-urls "http://127.0.0.1:2380$n" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token stockbench \
    --log-level error >"$work/etcd$n.log" 2>&1 &
  pids+=($!)
done

redis-server --port 6390 --bind 127.0.0.1 --dir "$work" --save "" \
  --appendonly yes --appendfsync always --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)

# Wait until Redis answers (stockbench waits for etcd to elect a leader itself).
for _ in $(seq 1 100); do
  redis-cli -p 6390 ping 2>/dev/null | grep -q PONG && break
  sleep 0.2
done

unary_flags=()
[ "$UNARY" = 1 ] && unary_flags=(--unary)
"$STOCKBENCH" --spawn-cluster 3 "${unary_flags[@]}" peers --units "$UNITS" --buyers "$BUYERS" --repeat "$REPEAT" \
  "${etcd_flags[@]}" --redis 127.0.0.1:6390

if [ "$LONG_UNITS" != 0 ]; then
  "$STOCKBENCH" --spawn-cluster 3 "${unary_flags[@]}" peers --units "$LONG_UNITS" --buyers "$LONG_BUYERS" \
    --repeat "$REPEAT" --redis 127.0.0.1:6390
fi
