#!/usr/bin/env bash
# What publishing the learned ingredient costs (ingredient-distances-em.npy)
# adds to a full `analytics-regen --once`: the same binary on the same
# catalog, alternating runs without the matrix (baseline,
# --space-ingredient-matrix-limit 0) and with it (the default), medians and
# their ratio, plus the matrix's size. Prints the machine load before and
# after, since the figures move with it.
#
#   tests/bench/once_matrices.sh                       1,356 recipes / 610 ingredients
#   RECIPES=10000 INGREDIENTS=2000 ROUNDS=3 tests/bench/once_matrices.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
recipes=${RECIPES:-1356}
ingredients=${INGREDIENTS:-610}
rounds=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --build "$build" -j2 --target analytics-regen catalog-seed >/dev/null
"$build/bin/catalog-seed" --db "$work/c.db" --recipes "$recipes" --ingredients "$ingredients" >/dev/null 2>&1

echo "load before: $(uptime)"
for round in $(seq "$rounds"); do
  for limit in 0 4096; do
    rm -rf "$work/a"
    start=$(date +%s%N)
    "$build/bin/analytics-regen" --once --db "$work/c.db" --analytics-path "$work/a" --no-gc \
      --space-ingredient-matrix-limit "$limit" --log-level error >"$work/out-$limit-$round.json"
    end=$(date +%s%N)
    echo "$limit $(((end - start) / 1000000))" >>"$work/walls"
  done
done
echo "load after: $(uptime)"

python3 - "$work" "$recipes" "$ingredients" <<'PY'
import json, pathlib, statistics, sys
work, recipes, ingredients = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
walls = {"0": [], "4096": []}
for line in (work / "walls").read_text().split("\n"):
    if line:
        limit, ms = line.split()
        walls[limit].append(int(ms))
summary = json.loads(sorted(work.glob("out-4096-*.json"))[0].read_text())
npy = summary["files"]["ingredient-distances-em.npy"]["bytes"]
base, with_matrix = statistics.median(walls["0"]), statistics.median(walls["4096"])
print(f"{recipes} recipes / {ingredients} ingredients, {len(walls['0'])} rounds each, medians:")
print(f"  without the ingredient matrix: {base / 1000:.2f} s wall")
print(f"  with it:                       {with_matrix / 1000:.2f} s wall ({with_matrix / base:.2f}x)")
print(f"  ingredient-distances-em.npy: m = {summary['ingredient_distances_em_count']}, {npy} bytes")
PY
