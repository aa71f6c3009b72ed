#!/usr/bin/env bash
# PostgreSQL throughput, both measured in one run on the same throwaway server (fsync on):
#   (a) raw ceiling: pgbench, 32 clients, each transaction inserting one non-overlapping range
#       into a table with the segments' EXCLUDE constraint (bench/pgbench_*.sql);
#   (b) appointd: POST /v1/appointments over HTTP (bench/booking.lua, as bench/booking.sh) on
#       the same server, with the same number of connections.
# Prints both and the ratio (target: appointd >= 0.5 of the raw ceiling).
# Usage: bench/postgres.sh [seconds=10] [clients=32]; BENCH_ROUNDS=N repeats (a) then (b) N times
# Env:   BUILD_DIR (default build; built Release unless BENCH_NO_BUILD=1), BENCH_THREADS,
#        BENCH_POOL (appointd's --threads and --pool-size; default: appointd's defaults).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CLIENTS=${2:-32}
BUILD=${BUILD_DIR:-build}
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  source scripts/deps.sh
  appointd_install_missing "${APPOINTD_BUILD_DEPS[@]}" wrk python3 postgresql-15 \
    postgresql-client-15 postgresql-contrib
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --target appointd -j 2 >/dev/null
fi
bin="$BUILD/appointd"

source scripts/pg_tmp.sh
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  pg_tmp_stop
  rm -rf "$work"
}
trap cleanup EXIT
pg_tmp_start
db_url() { echo "postgresql://postgres@/$1?host=$APPOINTD_PG_DIR&port=$APPOINTD_PG_PORT"; }
psql -q "$APPOINTD_PG_URL" -c "CREATE DATABASE bench_raw"
# CPU (clock ticks) of a process, and of the PostgreSQL server: the postmaster with its reaped
# children (backends that exited) and its live ones. Less noisy than rates on a shared machine.
hz=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
server_cpu() {
  local pm c t
  pm=$(head -1 "$APPOINTD_PG_DIR/data/postmaster.pid")
  t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
  for c in $(pgrep -P "$pm"); do t=$((t + $(cpu_of "$c" 2>/dev/null || echo 0))); done
  echo "$t"
}
per() { python3 -c "print(f'{($2 - $1) / $hz / max(1, $3) * 1e6:.0f}')"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/{print $2}') GiB"
# (a) and (b) alternate, ROUNDS times (BENCH_ROUNDS, default 1): on a shared machine either
# phase alone can catch a busy minute, so the ratio of each round and their median are printed.
ROUNDS=${BENCH_ROUNDS:-1}
ratios=()
for round in $(seq "$ROUNDS"); do
  echo "== round $round/$ROUNDS (a) raw ceiling: pgbench, $CLIENTS clients, ${SECS}s, INSERT of a non-overlapping range under EXCLUDE USING gist"
  psql -q "$(db_url bench_raw)" -f bench/pgbench_schema.sql
  s0=$(server_cpu)
  raw=$(pgbench -n -c "$CLIENTS" -j 2 -T "$SECS" -f bench/pgbench_ranges.sql "$(db_url bench_raw)" 2>&1 |
    sed -nE 's/^tps = ([0-9.]+) .*/\1/p')
  s1=$(server_cpu)
  raw_n=$(psql -qtA "$(db_url bench_raw)" -c "SELECT count(*) FROM ranges")
  echo "RESULT raw tps=$raw server_cpu_us_per_tx=$(per "$s0" "$s1" "$raw_n") rows=$raw_n"
  # What (a) left behind is cleaned up before (b) starts, not during it: autovacuum of the
  # inserted rows and the checkpoint of their pages would otherwise take (b)'s CPU.
  psql -q "$(db_url bench_raw)" -c "VACUUM ANALYZE ranges" -c "CHECKPOINT"

  echo "== round $round/$ROUNDS (b) appointd: POST /v1/appointments, $CLIENTS connections, ${SECS}s, PostgreSQL"
  # A fresh database and server each round: the same empty week, the same mix of 201 and 409.
  psql -q "$APPOINTD_PG_URL" -c "CREATE DATABASE bench_app_$round"
  db=$(db_url "bench_app_$round")
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  platform=$("$bin" keys create --platform --db "$db" 2>/dev/null)
  "$bin" serve --db "$db" --listen "127.0.0.1:$port" --log-level warn \
    ${BENCH_THREADS:+--threads $BENCH_THREADS} ${BENCH_POOL:+--pool-size $BENCH_POOL} \
    >"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  read -r key service staff < <(python3 bench/setup_company.py "http://127.0.0.1:$port" "$platform" 50)
  export BENCH_KEY=$key BENCH_SERVICE=$service BENCH_STAFF=$staff
  s0=$(server_cpu)
  a0=$(cpu_of "$pid")
  book=$(wrk -t2 -c"$CLIENTS" -d"${SECS}s" --latency -s bench/booking.lua "http://127.0.0.1:$port" | grep RESULT)
  a1=$(cpu_of "$pid")
  s1=$(server_cpu)
  n=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$book")
  echo "$book"
  echo "CPU per booking request: appointd $(per "$a0" "$a1" "$n") us, PostgreSQL $(per "$s0" "$s1" "$n") us"
  "$bin" audit --db "$db" | tail -1
  curl -s "http://127.0.0.1:$port/metrics" |
    grep -E '^appointd_pg_(retries_total|deadlocks_total|pool_size|pool_max|retries_exhausted_total|catalog_stale_total|probe_missed_total)' || true
  kill "$pid" && wait "$pid" 2>/dev/null || true
  pid=

  rps=$(sed -E 's/.* rps=([0-9]+).*/\1/' <<<"$book")
  created=$(sed -E 's/.* created_rps=([0-9]+).*/\1/' <<<"$book")
  ratio=$(python3 -c "print(f'{$rps/$raw:.2f}')")
  ratios+=("$ratio")
  echo "== round $round summary"
  echo "raw ceiling (pgbench inserts/s):         $raw"
  echo "appointd bookings/s (201 + 409):         $rps"
  echo "appointd created/s (201 only):           $created"
  python3 -c "print(f'ratio appointd/raw: {$rps/$raw:.2f} (all booking transactions), {$created/$raw:.2f} (created only); target >= 0.50')"
done
python3 -c "import statistics; r=[float(x) for x in '${ratios[*]}'.split()]; print(f'== ratios of the {len(r)} rounds: {\" \".join(f\"{x:.2f}\" for x in r)}; median {statistics.median(r):.2f} (target >= 0.50)')"
