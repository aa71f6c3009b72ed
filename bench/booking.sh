#!/usr/bin/env bash
# Booking throughput over HTTP with durability full: wrk books random 15-minute slots of 50
# staff over one week (BENCH_DAYS) at 64 connections, then /healthz of the same server in the
# same run as the baseline. Prints both, their ratio, and the server's CPU per request.
#
# Usage: bench/booking.sh [seconds=10] [connections=64]
# Env:   BUILD_DIR (default build; built Release unless BENCH_NO_BUILD=1), APPOINTD_BIN (a
#        binary to run instead of BUILD_DIR/appointd; nothing is built then), BENCH_THREADS,
#        BENCH_DAYS (default 7), BENCH_STAFF_COUNT (default 50),
#        BENCH_NEW_CUSTOMERS=1 (a new phone number per booking, as phone callers mostly are;
#        default: one of 1,000 returning customers),
#        BENCH_SCHEDULED=1 (issue 15's set-up: staff work Mon-Fri 08:00-18:00 Europe/Berlin, the
#        company's horizon is 730 days, and the starts are drawn inside those hours over the
#        BENCH_DAYS days from tomorrow; default off: unscheduled staff, any 15 minutes from
#        2030-01-01, the figures of BENCHMARKS.md before issue 15),
#        BENCH_RSS=1 (print the server's VmRSS and VmHWM after setup and at the end, with the
#        bookings created so far), BENCH_BASELINE_SECS (the /healthz run; default: seconds).
# Exits non-zero if any answer was neither 201 nor 409 (so none was 422 outside_working_hours,
# beyond_horizon, too_soon), or the audit finds a violation, so a short run doubles as a smoke
# test (ctest bench.booking_smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-64}
BUILD=${BUILD_DIR:-build}
if [ "${BENCH_NO_BUILD:-0}" != 1 ] && [ -z "${APPOINTD_BIN:-}" ]; then
  source scripts/deps.sh
  appointd_install_missing "${APPOINTD_BUILD_DEPS[@]}" wrk python3 curl
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --target appointd -j "$(nproc)" >/dev/null
fi
bin=${APPOINTD_BIN:-$BUILD/appointd}
NSTAFF=${BENCH_STAFF_COUNT:-50}
SCHEDULED=${BENCH_SCHEDULED:-0}
SCHED_FLAG=()  # bench/setup_company.py: working hours and the 730-day horizon
[ "$SCHEDULED" = 1 ] && SCHED_FLAG=(--scheduled)

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
db="sqlite:$work/bench.db"
platform=$("$bin" keys create --platform --db "$db" 2>/dev/null)
"$bin" serve --db "$db" --listen "127.0.0.1:$port" --durability full --log-level warn \
  ${BENCH_THREADS:+--threads $BENCH_THREADS} >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

read -r key service staff < <(python3 bench/setup_company.py "http://127.0.0.1:$port" "$platform" \
  "$NSTAFF" "${SCHED_FLAG[@]}")
[ -n "$staff" ] || { echo "FAIL: company set-up (serve.log follows)"; tail -20 "$work/serve.log"; exit 1; }
export BENCH_KEY=$key BENCH_SERVICE=$service BENCH_STAFF=$staff BENCH_SCHEDULED=$SCHEDULED
mem() { awk '/^(VmRSS|VmHWM)/{printf "%s %.1f MB  ", $1, $2 / 1024}' "/proc/$pid/status"; }
created_total() {
  curl -s "http://127.0.0.1:$port/metrics" |
    awk '/^appointd_booking_outcomes_total\{/ && /op="book"/ && /outcome="ok"/{n += $NF} END{printf "%d", n}'
}
[ "${BENCH_RSS:-0}" = 1 ] && echo "server memory after set-up: $(mem)"

cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }  # utime + stime, clock ticks
hz=$(getconf CLK_TCK)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/{print $2}') GiB, $(uname -r)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== bookings: POST /v1/appointments, $CONNS connections, ${SECS}s, $NSTAFF staff, ${BENCH_DAYS:-7} days, $([ "$SCHEDULED" = 1 ] && echo "scheduled (Mon-Fri 08:00-18:00 Europe/Berlin, horizon 730 days)" || echo "unscheduled staff"), $([ "${BENCH_NEW_CUSTOMERS:-0}" = 1 ] && echo "a new customer each" || echo "1,000 returning customers"), durability full"
c0=$(cpu)
# TZ: booking.lua draws scheduled starts in the staff's local time (the company's zone).
book=$(TZ=Europe/Berlin wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s bench/booking.lua "http://127.0.0.1:$port" | grep RESULT)
c1=$(cpu)
echo "$book"
BSECS=${BENCH_BASELINE_SECS:-$SECS}
echo "== baseline: GET /healthz, $CONNS connections, ${BSECS}s"
health=$(wrk -t2 -c"$CONNS" -d"${BSECS}s" -s bench/healthz.lua "http://127.0.0.1:$port/healthz" | grep RESULT)
echo "$health"
field() { sed -E "s/.* $1=([0-9.]+).*/\1/" <<<"$2"; }
b=$(field rps "$book")
h=$(field rps "$health")
n=$(field requests "$book")
echo "ratio bookings/healthz: $(python3 -c "print(f'{$b/$h:.2f}')")"
if [ "$SCHEDULED" = 1 ]; then
  echo "issue 15 targets: bookings created/s >= $([ "${BENCH_NEW_CUSTOMERS:-0}" = 1 ] && echo 20,000 || echo 25,000)," \
    "p99 < 15 ms: here $(field created_rps "$book") created/s, p99 $(field p99_ms "$book") ms"
fi
echo "server CPU per booking request: $(python3 -c "print(f'{($c1-$c0)/$hz/$n*1e6:.0f}')") us"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^appointd_write_batch_size_(sum|count)' || true
[ "${BENCH_RSS:-0}" = 1 ] && echo "server memory at the end: $(mem)after $(created_total) bookings created"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
audit=$("$bin" audit --db "$db" | tail -1)
echo "$audit"
other=$(field other "$book")
[ "$other" = 0 ] || { echo "FAIL: $other answers were neither 201 nor 409"; exit 1; }
[ "$audit" = "audit: clean" ] || { echo "FAIL: audit"; exit 1; }
