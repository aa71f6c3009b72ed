#!/usr/bin/env bash
# Installs what is missing, builds appointd (Release), creates a demo company on an empty
# store, and serves the API on 127.0.0.1:8080 with the store at ./data/appointd.db.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
appointd_install_missing "${APPOINTD_BUILD_DEPS[@]}"

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAPPOINTD_TESTS=OFF >/dev/null
cmake --build build --target appointd -j "$(nproc)"

export APPOINTD_DB="${APPOINTD_DB:-sqlite:data/appointd.db}"
mkdir -p data
# On an empty store: a demo company (its key goes to data/demo_api_key); else nothing.
./build/appointd demo --if-empty --key-file data/demo_api_key --log-level warn >/dev/null \
  2>data/demo.log || { cat data/demo.log; exit 1; }
key=$(cat data/demo_api_key 2>/dev/null || true)
cat <<MSG

appointd is starting on http://127.0.0.1:8080 (store: $APPOINTD_DB)
Demo company API key (also in data/demo_api_key): $key

Try:
  curl -s http://127.0.0.1:8080/v1/staff -H "Authorization: Bearer $key"
  curl -s -X POST http://127.0.0.1:8080/v1/appointments -H "Authorization: Bearer $key" \\
    -d '{"customer":{"phone":"+49 30 1234567","name":"Max"},"segments":[{"staff_id":1,"service_id":1,"start":"2030-01-07T09:00:00+01:00"}]}'

MSG
exec ./build/appointd serve --listen "${APPOINTD_LISTEN:-127.0.0.1:8080}" "$@"
