#!/usr/bin/env bash
# Times catalog-seed at today's catalog size (1,356 recipes / 610 ingredients),
# at 100,000 / 10,000 and, with --large, at 1,000,000 / 50,000, and checks that
# the same seed gives the same file. Files go to COCKTAIL_BENCH_DIR (default
# build/bench-data, on a real disk).
#
#   tests/bench/catalog_seed.sh [--large] [--build DIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build"
large=0
while [ $# -gt 0 ]; do
  case $1 in
    --large) large=1; shift ;;
    --build) build=$2; shift 2 ;;
    *) echo "usage: $0 [--large] [--build DIR]" >&2; exit 2 ;;
  esac
done
seed_bin="$build/bin/catalog-seed"
[ -x "$seed_bin" ] || { echo "no $seed_bin: build the catalog-seed target first" >&2; exit 1; }
dir=${COCKTAIL_BENCH_DIR:-$build/bench-data}
mkdir -p "$dir"

sizes=("1356 610" "100000 10000")
[ "$large" = 1 ] && sizes+=("1000000 50000")

printf '%-10s %-12s %-10s %-12s %-10s %-10s\n' recipes ingredients seconds rows/s file_MB same_seed
for size in "${sizes[@]}"; do
  read -r recipes ingredients <<<"$size"
  a="$dir/seed-a.db" b="$dir/seed-b.db"
  start=$(date +%s.%N)
  out=$("$seed_bin" --db "$a" --recipes "$recipes" --ingredients "$ingredients" --seed 42 --replace 2>/dev/null)
  end=$(date +%s.%N)
  seconds=$(awk "BEGIN { print $end - $start }")
  rows=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ingredients"]+d["recipes"]+d["recipe_ingredients"])')
  same=skipped
  if [ "$recipes" -le 100000 ]; then
    "$seed_bin" --db "$b" --recipes "$recipes" --ingredients "$ingredients" --seed 42 --replace >/dev/null 2>&1
    if cmp -s "$a" "$b"; then same=identical; else same=DIFFERENT; fi
  fi
  mb=$(awk "BEGIN { printf \"%.1f\", $(stat -c %s "$a") / 1048576 }")
  printf '%-10s %-12s %-10.2f %-12.0f %-10s %-10s\n' "$recipes" "$ingredients" "$seconds" \
    "$(awk "BEGIN { print $rows / $seconds }")" "$mb" "$same"
  rm -f "$a" "$a-wal" "$a-shm" "$b" "$b-wal" "$b-shm"
  [ "$same" = DIFFERENT ] && { echo "same seed gave different files" >&2; exit 1; }
done
