#!/usr/bin/env bash
# Installs the Debian 12 packages appointd needs to build, test and benchmark, if missing.
# Sourced by run.sh and test.sh; safe to run again (it only installs what is absent).
set -euo pipefail

APPOINTD_BUILD_DEPS=(
  g++ cmake ninja-build ccache pkg-config
  libboost-dev libboost-system-dev libsqlite3-dev libssl-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libhowardhinnant-date-dev
  libphonenumber-dev libpq-dev libmimalloc-dev tzdata sqlite3
)
APPOINTD_TEST_DEPS=(libgtest-dev libbenchmark-dev python3 postgresql-15 postgresql-client-15
  postgresql-contrib wrk curl clang-format)

appointd_install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
