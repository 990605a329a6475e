#!/usr/bin/env bash
# Checks what ships for running stockd under systemd (cluster/systemd/): the units parse and
# their programs exist (systemd-analyze verify, with the built stockd and stockctl standing in
# for /usr/local/bin), their hardening stays where it is (systemd-analyze security, exposure at
# most 3.0 of 10), the sysusers file is valid, and the example stockd.toml is a configuration
# stockd accepts. systemd-analyze comes with Debian's systemd package (scripts/ensure-deps.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root"/cluster/systemd/*.service "$root"/cluster/systemd/*.timer "$work/"
sed -i "s|/usr/local/bin/|$bin/|g" "$work"/*.service
cd "$work"
# The units name their man pages (stockctl man writes them); this machine need not have them.
systemd-analyze verify --man=no ./stockd.service ./stockraft-backup.service ./stockraft-backup.timer
systemd-analyze security --offline=yes --threshold=30 ./stockd.service ./stockraft-backup.service | grep 'Overall exposure'
if ! out=$(systemd-sysusers --dry-run "$root/cluster/systemd/stockraft.sysusers" 2>&1); then
    echo "$out" >&2
    exit 1
fi
# TLS files are checked for being PEM: stand-ins at the example's paths, under a fake root.
tls="$work/etc/stockraft/tls"
mkdir -p "$tls"
for f in node.pem node-key.pem ca.pem; do echo '-----BEGIN CERTIFICATE-----' >"$tls/$f"; done
sed "s|/etc/stockraft/|$work/etc/stockraft/|g" "$root/cluster/systemd/stockd.toml" >"$work/stockd.toml"
"$bin/stockd" --config "$work/stockd.toml" --data-dir "$work/data" --print-config >/dev/null
echo "systemd units, sysusers file and example configuration: ok"
