#!/usr/bin/env bash
# Booking throughput over HTTP with durability full, against /healthz of the same server in the
# same run. Usage: bench/booking.sh [seconds=10] [connections=64]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-64}
BUILD=${BUILD_DIR:-build}
source scripts/deps.sh
appointd_install_missing "${APPOINTD_BUILD_DEPS[@]}" wrk python3
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target appointd -j "$(nproc)" >/dev/null

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
db="sqlite:$work/bench.db"
platform=$("$BUILD"/appointd keys create --platform --db "$db" 2>/dev/null)
"$BUILD"/appointd serve --db "$db" --listen "127.0.0.1:$port" --durability full --log-level warn ${BENCH_THREADS:+--threads $BENCH_THREADS} \
  >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

read -r key service staff < <(python3 bench/setup_company.py "http://127.0.0.1:$port" "$platform" 50)
export BENCH_KEY=$key BENCH_SERVICE=$service BENCH_STAFF=$staff

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/{print $2}') GiB"
echo "== bookings: POST /v1/appointments, $CONNS connections, ${SECS}s, durability full"
book=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s bench/booking.lua "http://127.0.0.1:$port" | grep RESULT)
echo "$book"
echo "== baseline: GET /healthz, $CONNS connections, ${SECS}s"
health=$(wrk -t2 -c"$CONNS" -d"${SECS}s" -s bench/healthz.lua "http://127.0.0.1:$port/healthz" | grep RESULT)
echo "$health"
"$BUILD"/appointd audit --db "$db" | tail -1
b=$(sed -E 's/.* rps=([0-9]+).*/\1/' <<<"$book")
h=$(sed -E 's/.* rps=([0-9]+).*/\1/' <<<"$health")
echo "ratio bookings/healthz: $(python3 -c "print(f'{$b/$h:.2f}')")"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^appointd_write_batch_size_(sum|count)' || true
