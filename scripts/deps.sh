#!/usr/bin/env bash
# Installs the Debian 12 packages appointd needs to build, test and benchmark, if missing.
# Sourced by run.sh and test.sh; safe to run again (it only installs what is absent).
set -euo pipefail

APPOINTD_BUILD_DEPS=(
  g++ cmake ninja-build ccache pkg-config
  libboost-dev libboost-system-dev libsqlite3-dev libssl-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libhowardhinnant-date-dev
  libphonenumber-dev libpq-dev libmimalloc-dev tzdata sqlite3 python3
)
APPOINTD_TEST_DEPS=(libgtest-dev libbenchmark-dev python3 postgresql-15 postgresql-client-15
  postgresql-contrib wrk curl clang-format nodejs prometheus)

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

# Installs the npm packages that the package.json in directory $1 names, at the versions its
# package-lock.json pins, into $1/node_modules, unless they are there already (`npm ls` passes).
# npm comes with NodeSource's nodejs, which conflicts with Debian's `npm` package; Debian's nodejs
# has none, so the Debian package is installed only when no npm is on the PATH.
appointd_install_npm() {
  local dir=$1
  command -v npm >/dev/null 2>&1 || appointd_install_missing npm
  npm ls --prefix "$dir" --depth=0 >/dev/null 2>&1 && return 0
  echo "installing npm packages in $dir"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
}
