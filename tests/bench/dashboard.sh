#!/usr/bin/env bash
# The dashboard in headless Chromium over the real stack on the 1,356-recipe
# catalog-seed sample: open -> all panels drawn, write -> page redrawn, bytes
# on the wire for a first load, a cached reload and a live update
# (tests/bench/dashboard.py says exactly what each figure is).
#
#   tests/bench/dashboard.sh
#   ROUNDS=3 RECIPES=1356 QUIET_MS=200 MAX_DELAY_MS=2000 tests/bench/dashboard.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
for b in catalog-seed catalog-api analytics-regen analytics-api; do
  [[ -x $build/bin/$b ]] || { echo "missing $build/bin/$b: cmake --build $build" >&2; exit 1; }
done
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r), $(/usr/bin/chromium --version 2>/dev/null || true)"
exec /usr/bin/python3 "$root/tests/bench/dashboard.py" "$build/bin" --rounds "${ROUNDS:-5}" \
  --recipes "${RECIPES:-1356}" --quiet-ms "${QUIET_MS:-200}" --max-delay-ms "${MAX_DELAY_MS:-2000}"
