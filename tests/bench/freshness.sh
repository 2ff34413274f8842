#!/usr/bin/env bash
# Freshness: time from a mutation's commit (the catalog-api response) to the
# analytics.snapshot announcing a generation that covers it, p50 / p99, on a
# seeded catalog, with the default debounce windows:
#   - spaced: 200 mutations, one every 400 ms (beyond the 200 ms quiet window)
#   - stream: 50 mutations per second for 10 s
#
#   tests/bench/freshness.sh
#   RECIPES=1356 SPACED=200 INTERVAL_MS=400 RATE=50 STREAM_S=10 tests/bench/freshness.sh
#   QUIET_MS=100 MAX_DELAY_MS=1000 tests/bench/freshness.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
bench=$build/bin/freshness-bench
[[ -x $bench ]] || { echo "missing $bench: cmake --build $build --target freshness-bench" >&2; exit 1; }
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r)"
exec "$bench" --bin-dir "$build/bin" \
  --recipes "${RECIPES:-1356}" --spaced "${SPACED:-200}" --interval-ms "${INTERVAL_MS:-400}" \
  --rate "${RATE:-50}" --stream-seconds "${STREAM_S:-10}" \
  --quiet-ms "${QUIET_MS:-200}" --max-delay-ms "${MAX_DELAY_MS:-2000}" --regen-args "${REGEN_ARGS:-}"
