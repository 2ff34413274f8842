#!/usr/bin/env bash
# Cocktail-space benchmarks: EMD pairs per second on one core (EmdSolver vs
# LEMON's NetworkSimplex, same problems, same run), then the whole
# compute_cocktail_spaces() per catalog size with per-stage times, CPU time
# and peak resident memory (from /usr/bin/time -v).
#
#   tests/bench/cocktail_space.sh                      all sizes
#   SIZES="1356:610" tests/bench/cocktail_space.sh     recipes:ingredients pairs
#   THREADS=2 BUILD_DIR=build tests/bench/cocktail_space.sh
# Catalogs come from catalog-seed's generator (seed 42), written to a
# temporary SQLite file and read back with load_state, as analytics-regen does.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
threads=${THREADS:-2}
sizes=${SIZES:-"1356:610 10000:2000 100000:10000"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --build "$build" -j2 --target emd_bench cocktail_space_bench >/dev/null

echo "== EMD pairs per second, one core (candidate pairs of a 1,356-recipe catalog)"
"$build/bin/emd_bench" --benchmark_min_time=1 2>/dev/null | grep -E "^BM_|^Benchmark"

for spec in $sizes; do
  recipes=${spec%:*}
  ingredients=${spec#*:}
  args=(--recipes "$recipes" --ingredients "$ingredients")
  echo "== compute_cocktail_spaces: $recipes recipes, $ingredients ingredients, $threads threads"
  /usr/bin/time -v "$build/bin/cocktail_space_bench" "${args[@]}" --threads "$threads" \
    >"$work/out.json" 2>"$work/time.txt"
  python3 - "$work/out.json" "$work/time.txt" <<'PY'
import json, re, sys
out = json.load(open(sys.argv[1]))
time = open(sys.argv[2]).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time).group(1)) / 1024
r = out["result"]
print(f"wall {out['wall_ms'] / 1000:.2f} s, cpu {out['cpu_ms'] / 1000:.2f} s, peak RSS {rss:.0f} MiB "
      f"(seeding and loading the catalog, {out['catalog_ms'] / 1000:.2f} s, not included)")
print("stages (ms):", ", ".join(f"{k} {v:.0f}" for k, v in r["durations_ms"].items()))
c = r["counts"]
print(f"em_points {c['em_points']}, m {c['em_ingredients']}, candidate_k {c['candidate_k']}, "
      f"pairs/iteration {c['candidate_pairs']}, EMD solved {c['pairs_solved']}, iterations {c['em_iterations']} "
      f"(converged {c['em_converged']}), umap init {c['umap_manhattan_init']}/{c['umap_em_init']}")
print("bytes:", ", ".join(f"{k} {v}" for k, v in out["bytes"].items()))
if r["warnings"]:
    print("warnings:", "; ".join(r["warnings"]))
PY
done
