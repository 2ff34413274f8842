#!/usr/bin/env bash
# Freshness as a user sees it, on a seeded catalog with the default debounce
# windows and both lanes on: from a write acknowledged by catalog-api (its
# catalog_seq S) to
#   - exact visible: analytics-api answering a read of ingredient-usage
#     with min_seq=S (issued at once, parked until covered);
#   - maps visible:  the same for cocktail-space-em (the EM map);
#   - announced:     the analytics.snapshot event covering S (exact / every file),
# p50 / p90 / p99 / max, in three phases:
#   - spaced: SPACED writes, one every INTERVAL_MS (isolated writes)
#   - stream: RATE writes per second for STREAM_S seconds
#   - burst:  BURST writes within one second (how many generations it costs)
# Each phase also reports the generations it cost (and how many had new
# maps) and the snapshot directory's growth on disk (each inode once).
#
#   tests/bench/freshness.sh
#   RECIPES=1356 SPACED=50 INTERVAL_MS=2000 RATE=50 STREAM_S=10 BURST=100 tests/bench/freshness.sh
#   RECIPES=5000 SPACED=0 RATE=5 STREAM_S=30 BURST=0 tests/bench/freshness.sh   # disk growth
#   QUIET_MS=100 MAX_DELAY_MS=1000 REGEN_ARGS="--split-lanes=false" tests/bench/freshness.sh
#
# The machine's load (uptime) is printed before and after: figures taken
# under load from other work are not comparable. Run it at least twice.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
bench=$build/bin/freshness-bench
for b in freshness-bench catalog-seed catalog-api analytics-regen analytics-api; do
  [[ -x $build/bin/$b ]] || { echo "missing $build/bin/$b: cmake --build $build" >&2; exit 1; }
done
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r), load before:$(uptime | sed 's/.*load average://')"
"$bench" --bin-dir "$build/bin" \
  --recipes "${RECIPES:-1356}" --spaced "${SPACED:-50}" --interval-ms "${INTERVAL_MS:-2000}" \
  --rate "${RATE:-50}" --stream-seconds "${STREAM_S:-10}" --burst "${BURST:-100}" \
  --quiet-ms "${QUIET_MS:-200}" --max-delay-ms "${MAX_DELAY_MS:-2000}" --regen-args "${REGEN_ARGS:-}"
echo "# load after:$(uptime | sed 's/.*load average://')"
