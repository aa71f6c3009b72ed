#!/usr/bin/env bash
# Calendar sync throughput: books JOBS appointments while no sync worker runs (one `create` job
# each, spread over 50 staff mapped to distinct fake Cal.com hosts), then restarts appointd on
# the same database with one worker at CONCURRENCY calls in flight and times the drain of the
# backlog into tests/fakes/fake_calcom.py (no faults). The baseline, in the same run: the
# fake's own ceiling (its --bench: 8 keep-alive client threads creating bookings for 3 s).
# Prints jobs/s, the ceiling and their ratio, and appointd's and the fake's CPU per job.
#
# Usage: bench/sync.sh [jobs=20000] [concurrency=8]
# Env:   BUILD_DIR (default build; built Release unless BENCH_NO_BUILD=1), BENCH_STAFF (50).
# Exits non-zero unless every booking answered 201, every job ended done, the fake holds
# exactly JOBS accepted bookings and `appointd audit` is clean (ctest bench.sync_smoke: 500).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${1:-20000}
CONC=${2:-8}
NSTAFF=${BENCH_STAFF:-50}
BUILD=${BUILD_DIR:-build}
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  source scripts/deps.sh
  appointd_install_missing "${APPOINTD_BUILD_DEPS[@]}" python3 curl
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --target appointd -j "$(nproc)" >/dev/null
fi
bin="$BUILD/appointd"
fake_py=tests/fakes/fake_calcom.py
KEY=cal_test_bench

work=$(mktemp -d)
pid="" fpid=""
stop_server() { [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }; }
trap 'stop_server; [ -z "$fpid" ] || kill "$fpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; echo "--- server log (tail)"; tail -n 5 "$work"/serve*.log || true; exit 1; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, clock ticks
hz=$(getconf CLK_TCK)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"

# The fake Cal.com, and its own ceiling measured against that very process (then reset).
python3 "$fake_py" --port 0 --api-key "$KEY" >"$work/fake.out" 2>"$work/fake.log" &
fpid=$!
for _ in $(seq 100); do grep -q listening "$work/fake.out" && break; sleep 0.1; done
fport=$(awk '/listening/{print $2}' "$work/fake.out")
[ -n "$fport" ] || fail "the fake did not start"
furl="http://127.0.0.1:$fport"
echo "== baseline: the fake's ceiling (--bench, 8 threads, 3 s)"
ceil=$(python3 "$fake_py" --bench --bench-threads 8 --bench-seconds 3 --bench-url "$furl" --api-key "$KEY")
echo "$ceil"
ceiling=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["errors"]==0, d; print(d["creates_per_s"])' "$ceil")
curl -sf -X POST "$furl/_fake/reset" -d '{}' >/dev/null

# appointd without workers: the backlog piles up.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
db="sqlite:$work/bench.db"
python3 -c 'import secrets; print(secrets.token_hex(32))' >"$work/secrets.key"
platform=$("$bin" keys create --platform --db "$db" 2>/dev/null)
serve() {  # serve LOG WORKERS CONCURRENCY
  "$bin" serve --db "$db" --listen "127.0.0.1:$port" --durability full --log-level warn \
    --calcom-url "$furl" --secrets-key-file "$work/secrets.key" --calcom-reconcile-minutes 0 \
    --sync-workers "$2" --sync-concurrency "$3" >"$work/$1" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && return; sleep 0.1; done
  fail "appointd did not start"
}
serve serve1.log 0 1
read -r ckey service staff < <(python3 bench/setup_company.py "$base" "$platform" "$NSTAFF")
echo "== booking $JOBS appointments (sync workers: 0)"
python3 - "$base" "$ckey" "$service" "$staff" "$furl" "$JOBS" "$KEY" <<'EOF' || fail "booking"
import http.client, json, sys, threading, time, urllib.parse
base, key, service, staff, furl, jobs, calkey = sys.argv[1:8]
staff, jobs = staff.split(","), int(jobs)
def conn(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)
def call(c, method, path, body, auth=True):
    h = {"Content-Type": "application/json", **({"Authorization": "Bearer " + key} if auth else {})}
    c.request(method, path, body=json.dumps(body), headers=h)
    r = c.getresponse()
    return r.status, r.read()
a, f = conn(base), conn(furl)  # one fake event type (own host, 30 min) per staff member
s, b = call(f, "POST", "/_fake/event-types",
            [{"id": 1000 + i, "host": f"staff-{sid}", "length": 30} for i, sid in enumerate(staff)], False)
assert s == 201, b
for i, sid in enumerate(staff):
    s, b = call(a, "PUT", f"/v1/staff/{sid}/calcom", {"event_types": {service: 1000 + i}})
    assert s == 200, b
s, b = call(a, "PUT", "/v1/integrations/calcom", {"api_key": calkey, "webhook_secret": "x"})
assert s == 200, b
t2030 = 1893456000  # 2030-01-01T00:00:00Z; staff have no working hours: bookable any time
bad = []
def worker(t, n):
    c = conn(base)
    for i in range(t, jobs, n):
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t2030 + (i // len(staff)) * 1800))
        s, b = call(c, "POST", "/v1/appointments", {
            "customer": {"phone": "+4930%07d" % (1000000 + i % 1000), "name": "Bench"},
            "segments": [{"staff_id": int(staff[i % len(staff)]), "service_id": int(service), "start": at}]})
        if s != 201:
            bad.append((s, b[:200]))
t0 = time.monotonic()
ts = [threading.Thread(target=worker, args=(t, 8)) for t in range(8)]
[t.start() for t in ts] + [t.join() for t in ts]
dt = time.monotonic() - t0
print(f"booked {jobs - len(bad)} in {dt:.1f} s ({(jobs - len(bad)) / dt:.0f}/s)")
if bad:
    sys.exit(f"{len(bad)} bookings not 201, first: {bad[0]}")
EOF
jobs_in() { curl -sf -H "Authorization: Bearer $ckey" "$base/v1/sync/jobs?state=$1&limit=${2:-1}" |
  { grep -o '"id":' || true; } | wc -l; }
[ "$(jobs_in pending 1000)" = $((JOBS < 1000 ? JOBS : 1000)) ] || fail "the backlog did not pile up"
stop_server

echo "== drain: sync workers 1 x concurrency $CONC, load $(cut -d' ' -f1-3 /proc/loadavg)"
f0=$(cpu "$fpid")
t0=$(date +%s.%N)
serve serve2.log 1 "$CONC"
# Polling costs the server: the done counter (/metrics) every 0.1 s, the job lists (a sort of
# the whole backlog each) every 5 s; drained = no pending and no running job left.
done_count() { curl -sf "$base/metrics" | awk '/^appointd_sync_job_results_total\{.*result="done"/{s+=$NF} END{print s+0}'; }
drained() { [ "$(jobs_in pending)" = 0 ] && [ "$(jobs_in running)" = 0 ]; }
limit=$((SECONDS + 60 + JOBS / 40)) i=0
until [ "$(done_count)" -ge "$JOBS" ] || { [ $((++i % 50)) = 0 ] && drained; }; do
  [ "$SECONDS" -lt "$limit" ] || break
  sleep 0.1
done
t1=$(date +%s.%N)
drained || fail "not drained after $((60 + JOBS / 40)) s"
s1=$(cpu "$pid") f1=$(cpu "$fpid") load=$(cut -d' ' -f1-3 /proc/loadavg)
metrics=$(curl -sf "$base/metrics")
stats=$(curl -sf "$furl/_fake/stats")
accepted=$(curl -sf "$furl/_fake/bookings?status=accepted" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["bookings"]))')
failed=$(jobs_in failed) skipped=$(jobs_in skipped)
stop_server
audit=$("$bin" audit --db "$db" | tail -1)

echo "$metrics" | grep -E '^appointd_sync_job_results_total' || true
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("fake:", {k: d[k] for k in ("total_requests","max_concurrent","calls")})' "$stats"
echo "server log (--log-level warn): $(wc -l <"$work/serve2.log") lines"; echo "$audit"
done_n=$(echo "$metrics" | awk '/^appointd_sync_job_results_total\{.*result="done"/{s+=$NF} END{print s+0}')
[ "$done_n" = "$JOBS" ] || fail "$done_n jobs done, expected $JOBS"
[ "$failed" = 0 ] && [ "$skipped" = 0 ] || fail "$failed failed, $skipped skipped jobs"
[ "$accepted" = "$JOBS" ] || fail "the fake holds $accepted accepted bookings, expected $JOBS"
[ "$audit" = "audit: clean" ] || fail "audit"
python3 - "$JOBS" "$CONC" "$t0" "$t1" "$ceiling" "$s1" "$f0" "$f1" "$hz" "$load" <<'EOF'
import sys
jobs, conc, t0, t1, ceil, s1, f0, f1, hz = map(float, sys.argv[1:10])
rate = jobs / (t1 - t0)
print(f"RESULT jobs={jobs:.0f} workers=1x{conc:.0f} secs={t1 - t0:.2f} jobs_per_s={rate:.0f} fake_ceiling={ceil:.0f} "
      f"ratio={rate / ceil:.2f} appointd_cpu_us_per_job={s1 / hz / jobs * 1e6:.0f} "
      f"fake_cpu_us_per_job={(f1 - f0) / hz / jobs * 1e6:.0f} load_after=\"{sys.argv[10]}\"")
EOF
