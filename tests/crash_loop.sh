#!/usr/bin/env bash
# The crash loop: N rounds of (a stream of writes from several clients, SIGKILL of the server
# mid-stream, restart, every acknowledged write checked as acknowledged, audit) on each store:
# SQLite, then a throwaway PostgreSQL (scripts/pg_tmp.sh). The rounds are test_crash.py's;
# ./test.sh runs 5 of them per store, this script as many as asked.
# Usage: tests/crash_loop.sh [rounds=50]   (BUILD_DIR: the build to use, default build-asan, as
# ./test.sh leaves it; STORES: "sqlite postgresql" by default)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-50}
BUILD=${BUILD_DIR:-build-asan}
if [ ! -x "$BUILD/appointd" ]; then
  echo "no $BUILD/appointd: run ./test.sh first (or set BUILD_DIR)" >&2
  exit 2
fi
export APPOINTD_BIN="$PWD/$BUILD/appointd" APPOINTD_CRASH_ROUNDS=$ROUNDS
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export APPOINTD_VERIFY_BLOCK_INDEX=${APPOINTD_VERIFY_BLOCK_INDEX:-1}
source scripts/pg_tmp.sh
trap pg_tmp_stop EXIT
for store in ${STORES:-sqlite postgresql}; do
  [ "$store" = postgresql ] && [ -z "${APPOINTD_PG_URL:-}" ] && pg_tmp_start
  began=$(date +%s)
  (cd tests/system && APPOINTD_TEST_DB=$store python3 -m unittest test_crash)
  echo "crash loop: $store: $ROUNDS rounds passed in $(($(date +%s) - began)) s"
done
