#!/usr/bin/env bash
# ThreadSanitizer run of the concurrency tests: the store's group-commit unit tests, and the
# race and idempotency system tests against a TSan-built server, on SQLite and on a throwaway
# PostgreSQL. Slow; not part of ./test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
appointd_install_missing "${APPOINTD_BUILD_DEPS[@]}" "${APPOINTD_TEST_DEPS[@]}"
BUILD=build-tsan
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAPPOINTD_TSAN=ON >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
# A throwaway PostgreSQL for the PostgreSQL tests below, stopped whatever happens.
source scripts/pg_tmp.sh
trap pg_tmp_stop EXIT
pg_tmp_start
# The SQLite writer's group commit, and the PostgreSQL driver's fibers and merged round trips.
"$BUILD"/tests/unit_tests --gtest_filter='StoreTest.*:WriterCacheFuzz.*:Fiber*:PgBatch*:PgDriver*:Sync*:Calcom*:*IntakeStore*'
export APPOINTD_BIN="$PWD/$BUILD/appointd"
# Every answer of the SQLite writer's block index is checked against SQL (aborts on a difference).
export APPOINTD_VERIFY_BLOCK_INDEX=${APPOINTD_VERIFY_BLOCK_INDEX:-1}
python3 tests/system/run_all.py test_races test_idempotency test_crash test_retell
# The calendar sync: worker threads, executors, the webhook inbox and the breaker, under faults.
(cd tests/system && python3 -m unittest test_sync.SoakTest test_sync.RC3Test \
  test_sync.UncertainTest test_sync.WebhookTest)
# The PostgreSQL store runs writes as fibers on a driver thread and shares catalog copies and the
# probe policy between threads: the same races on the throwaway server,
# across two instances, and with two driver threads in one instance.
APPOINTD_TEST_DB=postgresql python3 tests/system/run_all.py test_races test_idempotency \
  test_multi_instance
(cd tests/system && APPOINTD_TEST_DB=postgresql python3 -m unittest test_sync.SoakTest \
  test_sync.TwoInstancesTest)
APPOINTD_TEST_DB=postgresql APPOINTD_PG_WRITERS=2 python3 tests/system/run_all.py test_races test_idempotency test_outcome
