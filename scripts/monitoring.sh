#!/usr/bin/env bash
# Checks what ships for monitoring (cluster/monitoring/) with promtool, from Debian's prometheus
# package (scripts/ensure-deps.sh installs it): the scrape config, the alert rules and their
# unit tests, and every query of the Grafana dashboard (parsed as recording rules, so a typo in
# a panel fails here, not on an SRE's screen). tests/operations.rs checks that the metric
# names they use are the ones stockd exports.
set -euo pipefail
cd "$(dirname "$0")/../cluster/monitoring"
promtool check config prometheus.yml
promtool check rules alerts.yml
promtool test rules alerts.test.yml
queries=$(mktemp --suffix=.yml)
trap 'rm -f "$queries"' EXIT
python3 - grafana-dashboard.json >"$queries" <<'PY'
import json, sys
dashboard = json.load(open(sys.argv[1]))
print("groups:\n  - name: dashboard\n    rules:")
for panel in dashboard["panels"]:
    for target in panel["targets"]:
        print(f"      - record: dashboard:panel_{panel['id']}_{target['refId']}")
        print(f"        expr: {json.dumps(target['expr'])}")
PY
echo "Checking the dashboard's queries"
promtool check rules "$queries" | sed "s|$queries|grafana-dashboard.json|"
