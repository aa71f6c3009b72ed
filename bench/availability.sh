#!/usr/bin/env bash
# Availability computation (Google Benchmark): one staff-week with 500 appointments, and 20
# staff. Usage: bench/availability.sh [extra Google Benchmark flags]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
appointd_install_missing "${APPOINTD_BUILD_DEPS[@]}" libbenchmark-dev
BUILD=${BUILD_DIR:-build-bench}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAPPOINTD_BENCH=ON -DAPPOINTD_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target availability_bench -j "$(nproc)" >/dev/null
"$BUILD"/bench/availability_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true "$@"
