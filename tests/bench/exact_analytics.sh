#!/usr/bin/env bash
# Exact analytics (open + load + model + compute + serialize) against the
# seed's SQL on the same catalog files, at three sizes, plus one end-to-end
# `analytics-regen --once` (which also writes and fsyncs the generation).
#
#   tests/bench/exact_analytics.sh                    all three sizes
#   SIZES="1356:610 100000:10000" tests/bench/exact_analytics.sh
#   TIME_LIMIT_S=60 SAMPLE=20 WORK=/var/tmp/bench tests/bench/exact_analytics.sh
#
# Catalogs are written once into $WORK by catalog-seed (the realistic
# generator; GENERATOR=bench uses the bench's own simpler one) and reused.
# The SQL figures are
# measured when the full query fits in TIME_LIMIT_S, else extrapolated from
# SAMPLE random ingredients ("measured": false in the output).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
bench=$build/bin/exact_analytics_bench
regen=$build/bin/analytics-regen
seeder=$build/bin/catalog-seed
generator=${GENERATOR:-seed}
work=${WORK:-/tmp/cocktail-bench-exact}
sizes=${SIZES:-"1356:610 100000:10000 1000000:50000"}
limit=${TIME_LIMIT_S:-60}
sample=${SAMPLE:-20}
repeat=${REPEAT:-3}

for b in "$bench" "$regen" "$seeder"; do
  [[ -x $b ]] || { echo "missing $b: cmake --build $build --target exact_analytics_bench analytics-regen catalog-seed" >&2; exit 1; }
done
mkdir -p "$work"
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r)"
for size in $sizes; do
  recipes=${size%%:*}
  ingredients=${size##*:}
  db=$work/catalog-$generator-$recipes-$ingredients.db
  if [[ ! -s $db ]]; then
    if [[ $generator == seed ]]; then
      "$seeder" --replace --db "$db" --recipes "$recipes" --ingredients "$ingredients" >&2
    else
      "$bench" generate --out "$db" --recipes "$recipes" --ingredients "$ingredients" >&2
    fi
  fi
  engine=$("$bench" engine --db "$db" --repeat "$repeat")
  sql=$("$bench" sql --db "$db" --time-limit-s "$limit" --sample "$sample")
  rm -rf "$work/analytics"
  once_start=$(date +%s%N)
  "$regen" --once --no-gc --log-level warn --db "$db" --analytics-path "$work/analytics" > "$work/once.json"
  once_ms=$(( ($(date +%s%N) - once_start) / 1000000 ))
  python3 - "$recipes" "$ingredients" "$engine" "$sql" "$once_ms" "$work/once.json" <<'PY'
import json, sys
recipes, ingredients, engine, sql, once_ms, once_path = sys.argv[1:]
e, s = json.loads(engine), json.loads(sql)
once = json.load(open(once_path))
em, sm = e["ms"]["total"], s["total_ms"]
how = "measured" if s["usage_all"]["measured"] and s["usage_roots"]["measured"] else "extrapolated from %d ingredients" % s["sample"]["ingredients"]
print(f"{recipes:>8} recipes / {ingredients:>6} ingredients")
print(f"  engine  {em:10.1f} ms  (load {e['ms']['load']:.1f}, model {e['ms']['model']:.1f}, "
      f"compute {e['ms']['compute']:.1f}, serialize {e['ms']['serialize']:.1f}; best of {e['repeat']})")
print(f"  SQL     {sm:10.1f} ms  (usage-all {s['usage_all']['ms']:.0f}, roots {s['usage_roots']['ms']:.0f}, "
      f"complexity {s['complexity_ms']:.0f}; {how})")
print(f"  ratio   {sm / em:10.0f} x")
print(f"  analytics-regen --once: {once_ms} ms wall (process start to exit, with fsynced write); "
      f"stages {json.dumps(once['durations_ms'])}")
PY
done
