#!/usr/bin/env bash
# The event bus with and without CURVE (tests/bench/bus/bus_bench.cc):
# throughput, one-event latency and connect time, in alternating rounds of
# the same run, with the CURVE / anonymous ratios.
#
#   tests/bench/bus.sh
#   ROUNDS=9 EVENTS=100000 tests/bench/bus.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
bench=$build/bin/bus-bench
[[ -x $bench ]] || { echo "missing $bench: cmake --build $build --target bus-bench" >&2; exit 1; }
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bench" --rounds "${ROUNDS:-5}" --events "${EVENTS:-50000}" --samples "${SAMPLES:-2000}"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
