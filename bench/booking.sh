#!/usr/bin/env bash
# Booking throughput over HTTP with durability full: wrk books random 15-minute slots of 50
# staff over one week (BENCH_DAYS) at 64 connections, then /healthz of the same server in the
# same run as the baseline. Prints both, their ratio, and the server's CPU per request.
#
# Usage: bench/booking.sh [seconds=10] [connections=64]
# Env:   BUILD_DIR (default build; built Release unless BENCH_NO_BUILD=1), BENCH_THREADS,
#        BENCH_DAYS (default 7), BENCH_NEW_CUSTOMERS=1 (a new phone number per booking, as
#        phone callers mostly are; default: one of 1,000 returning customers). Exits non-zero if any answer was neither 201 nor 409, or the
#        audit finds a violation, so a short run doubles as a smoke test (ctest bench.smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-64}
BUILD=${BUILD_DIR:-build}
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  source scripts/deps.sh
  appointd_install_missing "${APPOINTD_BUILD_DEPS[@]}" wrk python3 curl
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --target appointd -j "$(nproc)" >/dev/null
fi
bin="$BUILD/appointd"

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
db="sqlite:$work/bench.db"
platform=$("$bin" keys create --platform --db "$db" 2>/dev/null)
"$bin" serve --db "$db" --listen "127.0.0.1:$port" --durability full --log-level warn \
  ${BENCH_THREADS:+--threads $BENCH_THREADS} >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

read -r key service staff < <(python3 bench/setup_company.py "http://127.0.0.1:$port" "$platform" 50)
export BENCH_KEY=$key BENCH_SERVICE=$service BENCH_STAFF=$staff

cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }  # utime + stime, clock ticks
hz=$(getconf CLK_TCK)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/{print $2}') GiB, $(uname -r)"
echo "== bookings: POST /v1/appointments, $CONNS connections, ${SECS}s, ${BENCH_DAYS:-7} days, $([ "${BENCH_NEW_CUSTOMERS:-0}" = 1 ] && echo "a new customer each" || echo "1,000 returning customers"), durability full"
c0=$(cpu)
book=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s bench/booking.lua "http://127.0.0.1:$port" | grep RESULT)
c1=$(cpu)
echo "$book"
echo "== baseline: GET /healthz, $CONNS connections, ${SECS}s"
health=$(wrk -t2 -c"$CONNS" -d"${SECS}s" -s bench/healthz.lua "http://127.0.0.1:$port/healthz" | grep RESULT)
echo "$health"
field() { sed -E "s/.* $1=([0-9.]+).*/\1/" <<<"$2"; }
b=$(field rps "$book")
h=$(field rps "$health")
n=$(field requests "$book")
echo "ratio bookings/healthz: $(python3 -c "print(f'{$b/$h:.2f}')")"
echo "server CPU per booking request: $(python3 -c "print(f'{($c1-$c0)/$hz/$n*1e6:.0f}')") us"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^appointd_write_batch_size_(sum|count)' || true
audit=$("$bin" audit --db "$db" | tail -1)
echo "$audit"
other=$(field other "$book")
[ "$other" = 0 ] || { echo "FAIL: $other answers were neither 201 nor 409"; exit 1; }
[ "$audit" = "audit: clean" ] || { echo "FAIL: audit"; exit 1; }
