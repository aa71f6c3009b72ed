#!/usr/bin/env bash
# Installs what is missing, builds appointd and its tests with ASan+UBSan, and runs every test:
# GoogleTest units and the system tests that drive the real binary over HTTP on loopback, each
# once on SQLite and once on a throwaway PostgreSQL 15 started here (scripts/pg_tmp.sh).
# Short runs of the benchmarks check their outcomes (bench.*); full runs live in bench/.
# Ends with ctest's summary line. Options: TEST_FILTER=regex (ctest -R).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
appointd_install_missing "${APPOINTD_BUILD_DEPS[@]}" "${APPOINTD_TEST_DEPS[@]}"
# Retell's official SDK signs the intake tests' requests (tests/fakes/package.json pins it).
appointd_install_npm tests/fakes

BUILD=${BUILD_DIR:-build-asan}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAPPOINTD_SANITIZE=ON \
  -DAPPOINTD_BENCH=ON >/dev/null
cmake --build "$BUILD" -j "$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export APPOINTD_BIN="$PWD/$BUILD/appointd"
# Every answer of the SQLite writer's block index is checked against SQL (aborts on a difference).
export APPOINTD_VERIFY_BLOCK_INDEX=${APPOINTD_VERIFY_BLOCK_INDEX:-1}

# A throwaway PostgreSQL 15 for the system.postgres.* variants, stopped whatever happens.
source scripts/pg_tmp.sh
trap pg_tmp_stop EXIT
pg_tmp_start
echo "PostgreSQL for the tests: $APPOINTD_PG_URL"

cd "$BUILD"
ctest --output-on-failure --timeout 900 -j 2 ${TEST_FILTER:+-R "$TEST_FILTER"}
