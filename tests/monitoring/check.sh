#!/usr/bin/env bash
# Checks the monitoring files against promtool and a live appointd:
#   1. promtool check rules   deploy/prometheus/alerts.yml (syntax and lint)
#   2. promtool test rules    deploy/prometheus/alerts_test.yml (each alert fires and stays quiet)
#   3. the Grafana dashboard is JSON and every query in it parses as PromQL
#   4. promtool check metrics on a real /metrics scrape of `$APPOINTD_BIN serve` (SQLite, demo
#      company, a booking, a conflict, a 404): any finding fails, and the metrics the alerts
#      read must be there.
# Usage: APPOINTD_BIN=build/appointd tests/monitoring/check.sh   (ctest: monitoring.promtool)
# Needs promtool (Debian `prometheus`, scripts/deps.sh), python3 and curl.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${APPOINTD_BIN:-$ROOT/build/appointd}
RULES=$ROOT/deploy/prometheus/alerts.yml
RULE_TESTS=$ROOT/deploy/prometheus/alerts_test.yml
DASHBOARD=$ROOT/deploy/grafana/appointd.json

# Metric names the alerts need from a SQLite `serve` once it has written something (the
# PostgreSQL ones appear only on that store).
EXPECTED=(
  appointd_http_requests_total
  appointd_http_request_duration_seconds_bucket
  appointd_write_queue_wait_seconds_bucket
  appointd_write_commit_seconds_count
  appointd_booking_outcomes_total
  appointd_sync_oldest_due_seconds
  appointd_sync_backlog
  appointd_audit_violations
  appointd_audit_last_run_timestamp_seconds
)

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

for tool in promtool python3 curl; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (scripts/deps.sh installs it)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "FAIL: appointd binary not found at $BIN (set APPOINTD_BIN)" >&2; exit 1; }

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== promtool check rules"
promtool check rules "$RULES" || fail "promtool check rules $RULES"

echo "== promtool test rules"
promtool test rules "$RULE_TESTS" || fail "promtool test rules $RULE_TESTS"

echo "== Grafana dashboard"
if python3 -m json.tool "$DASHBOARD" >/dev/null; then
  # Every panel query, with the dashboard's variables filled in, as a recording rule (JSON is
  # YAML), so promtool parses it.
  python3 - "$DASHBOARD" >"$WORK/dashboard_rules.yml" <<'EOF'
import json, sys
dash = json.load(open(sys.argv[1]))
rules = []
def walk(panels):
    for p in panels:
        walk(p.get("panels", []))
        for t in p.get("targets", []):
            expr = (t["expr"].replace("$__rate_interval", "5m")
                    .replace("$job", "appointd").replace("$instance", ".*"))
            rules.append({"record": "dashboard:query_%d" % len(rules), "expr": expr})
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, sys.stdout, indent=1)
EOF
  promtool check rules --lint=none "$WORK/dashboard_rules.yml" >/dev/null ||
    fail "a query of $DASHBOARD does not parse: promtool check rules $WORK/dashboard_rules.yml"
else
  fail "$DASHBOARD is not valid JSON"
fi

echo "== promtool check metrics on a live scrape"
DB="sqlite:$WORK/appointd.db"
if ! KEY=$("$BIN" demo --db "$DB" 2>"$WORK/demo.log"); then
  cat "$WORK/demo.log" >&2
  fail "$BIN demo failed"
  exit 1
fi
"$BIN" serve --db "$DB" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --threads 2 \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

# The "listening" log line names both ports (port 0: the server picks them).
API_PORT="" OPS_PORT=""
for _ in $(seq 300); do
  line=$(grep -m1 '"msg":"listening"' "$WORK/server.log" || true)
  if [ -n "$line" ]; then
    API_PORT=$(sed -E 's/.*"port":([0-9]+).*/\1/' <<<"$line")
    OPS_PORT=$(sed -E 's/.*"metrics_port":([0-9]+).*/\1/' <<<"$line")
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$API_PORT" ] || [ -z "$OPS_PORT" ]; then
  cat "$WORK/server.log" >&2
  fail "appointd serve did not start"
  exit 1
fi
API=http://127.0.0.1:$API_PORT
OPS=http://127.0.0.1:$OPS_PORT

request() {  # request EXPECTED_STATUS METHOD PATH [BODY]
  local want=$1 method=$2 path=$3 body=${4:-}
  local got
  got=$(curl -s -o "$WORK/reply" -w '%{http_code}' -X "$method" "$API$path" \
    -H "Authorization: Bearer $KEY" ${body:+-H 'Content-Type: application/json' -d "$body"})
  [ "$got" = "$want" ] || fail "$method $path answered $got, expected $want: $(cat "$WORK/reply")"
}
# The demo company: staff 1..3 all do service 1 (Haircut, 30 min) on weekdays.
booking='{"customer":{"phone":"+49 30 1234567","name":"Max"},"segments":[{"staff_id":3,"service_id":1,"start":"2030-01-07T09:00:00+01:00"}]}'
request 201 POST /v1/appointments "$booking"
request 409 POST /v1/appointments "$booking"
request 404 GET /v1/no-such-route
request 200 GET '/v1/availability?service_id=1&staff_id=3&from=2030-01-07T00:00:00Z&to=2030-01-08T00:00:00Z'

# The outbox job of the booking is run (skipped: no Cal.com integration) and the sync gauges
# are refreshed every 5 s: wait for both, so the scrape has every kind of series.
for _ in $(seq 150); do
  curl -sf "$OPS/metrics" >"$WORK/metrics.txt" || true
  grep -q '^appointd_sync_jobs{' "$WORK/metrics.txt" &&
    grep -q '^appointd_sync_job_results_total{' "$WORK/metrics.txt" && break
  sleep 0.1
done
curl -sf "$OPS/metrics" >"$WORK/metrics.txt" || fail "GET $OPS/metrics failed"

# promtool prints one line per finding (and exits 3); none is accepted.
if ! out=$(promtool check metrics <"$WORK/metrics.txt" 2>&1) || [ -n "$out" ]; then
  fail "promtool check metrics reported:"
  echo "$out" >&2
fi
for m in "${EXPECTED[@]}"; do
  grep -q "^$m[{ ]" "$WORK/metrics.txt" || fail "metric $m missing from /metrics (the alerts read it)"
done
echo "scraped $(grep -vc '^#' "$WORK/metrics.txt") samples of $(grep -c '^# TYPE' "$WORK/metrics.txt") metrics"

if [ "$failures" -ne 0 ]; then
  echo "monitoring checks: $failures failure(s)" >&2
  exit 1
fi
echo "monitoring checks: all passed"
