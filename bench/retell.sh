#!/usr/bin/env bash
# Phone-intake latency over HTTP (issue 14): wrk sends Retell function calls, signed as Retell
# signs them, to POST /v1/retell/functions at CONNS concurrent calls: check_availability of a
# random day and book_appointment of random starts by new callers, first paced as callers talk,
# then back to back; then GET /healthz of the same server in the same run as the baseline. Every
# request is a distinct call, so none is answered from the replay store. Signature checking is
# included.
#
# Usage: bench/retell.sh [seconds=10] [connections=32]
# Env:   BUILD_DIR (default build; built Release unless BENCH_NO_BUILD=1), BENCH_THREADS,
#        BENCH_STAFF (default 20). Exits non-zero when an answer was not a 200 with a result,
#        nothing was booked, or the audit finds a violation, so a short run doubles as a smoke
#        test (ctest bench.retell_smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-32}
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
  ${BENCH_THREADS:+--threads $BENCH_THREADS} \
  >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

# Enough distinct requests for the run at well above the rate the machine reaches.
n=$((SECS * 9000 + 1000))
python3 bench/retell_setup.py "http://127.0.0.1:$port" "$platform" "${BENCH_STAFF:-20}" "$n" "$work" \
  $((SECS * 1500 + 500))

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/{print $2}') GiB, $(uname -r)"
run() {  # name file [pace_ms]
  echo "== $1: POST /v1/retell/functions, $CONNS connections${3:+ pacing ${3} ms}, ${SECS}s, durability full" >&2
  RETELL_REQUESTS="$work/$2" RETELL_PACE_MS="${3:-0}" RETELL_THREADS=2 wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s bench/retell.lua \
    "http://127.0.0.1:$port" | grep RESULT
}
# First CONNS calls at a caller's pace (PACE_MS between one connection's requests: the agent
# talks between function calls), on a calendar that fills as they book; then back to back (the
# server saturated: latency is mostly queueing), which fills most of the 60 days, so the last
# book_appointment answers are mostly "taken", the costliest kind.
PACE_MS=${BENCH_PACE_MS:-50}
check_paced=$(run check_availability paced_check.txt "$PACE_MS")
echo "$check_paced"
book_paced=$(run book_appointment paced_book.txt "$PACE_MS")
echo "$book_paced"
check=$(run check_availability check.txt)
echo "$check"
book=$(run book_appointment book.txt)
echo "$book"
echo "== baseline: GET /healthz, $CONNS connections, ${SECS}s"
health=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s bench/healthz.lua "http://127.0.0.1:$port/healthz" | grep RESULT)
echo "$health"
field() { sed -E "s/.* $1=([0-9.]+).*/\1/" <<<"$2"; }
echo "p99 ms, saturated: check_availability $(field p99_ms "$check"), book_appointment $(field p99_ms "$book"), healthz $(field p99_ms "$health")"
echo "p99 ms, ${PACE_MS} ms pace: check_availability $(field p99_ms "$check_paced"), book_appointment $(field p99_ms "$book_paced")"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^appointd_retell_functions_total' || true
audit=$("$bin" audit --db "$db" | tail -1)
echo "$audit"
for r in "$check" "$book" "$check_paced" "$book_paced"; do
  [ "$(field other "$r")" = 0 ] || { echo "FAIL: answers that were not a 200 with a result"; exit 1; }
  [ "$(field exhausted "$r")" = 0 ] || echo "NOTE: the requests ran out and were sent again (replays)"
done
[ "$(field booked "$book")" -gt 0 ] || { echo "FAIL: nothing was booked"; exit 1; }
[ "$audit" = "audit: clean" ] || { echo "FAIL: audit"; exit 1; }
