#!/usr/bin/env bash
# Installs what is missing (Debian 12, as root), configures, builds, and runs
# every test with ctest. Exits non-zero on any failure.
#
#   tests/run.sh                 configure + build (release) + ctest
#   BUILD_DIR=build-asan PRESET=asan tests/run.sh   the sanitizer build
#   CTEST_ARGS="-L unit" tests/run.sh               a subset
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

"$root/tests/install-deps.sh" build runtime test

preset=${PRESET:-release}
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}

if command -v ccache >/dev/null 2>&1; then
  export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
  export CCACHE_BASEDIR="$root"
  export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
fi

cmake --preset "$preset" -B "$build_dir" -DCOCKTAIL_WERROR=ON >/dev/null
cmake --build "$build_dir" -j "$jobs"

# Tests start real processes and bind loopback ports; two at a time keeps a
# 2-core machine responsive without serialising everything.
# The PostgreSQL suites start their own server (tests/support/postgres_server.h);
# postgresql is installed above, so they must run rather than skip.
export COCKTAIL_REQUIRE_POSTGRES=${COCKTAIL_REQUIRE_POSTGRES:-1}
ctest --test-dir "$build_dir" --output-on-failure -j "${CTEST_JOBS:-2}" ${CTEST_ARGS:-}
