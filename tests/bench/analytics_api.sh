#!/usr/bin/env bash
# analytics-api against nginx serving the same bytes from files, both on
# 127.0.0.1, measured in the same run with wrk; then analytics-api's resident
# memory with the generation loaded.
#
# The generation is real: catalog-seed (1,356 recipes, 610 ingredients by
# default) then analytics-regen --once. Bodies measured: cocktail-space when
# the generation has it, else the largest analytic it has (named in the
# output), and recipe-complexity (under 1 KB). Each round measures both
# servers back to back, alternating which goes first, for identity and for
# gzip (analytics-api: its pre-compressed copy; nginx: gzip_static with the
# same .gz bytes); the table shows medians, the ratio of the medians, and
# each server's CPU time per request (all its threads and processes, from
# /proc), which stays steady when other work on the machine makes
# requests/s swing.
#
#   cmake --build build --target analytics-api analytics-regen catalog-seed
#   tests/bench/analytics_api.sh                    # wrk -t2 -c64 -d10s, 3 rounds, access logs on
#   ACCESS_LOG=off DURATION=5s ROUNDS=5 tests/bench/analytics_api.sh
#   REGEN=/path/to/analytics-regen tests/bench/analytics_api.sh   # generation written by another build
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BUILD_DIR:-$root/build}/bin
duration=${DURATION:-10s}
threads=${WRK_THREADS:-2}
connections=${CONNECTIONS:-64}
access_log=${ACCESS_LOG:-on}
io_threads=${IO_THREADS:-2}
rounds=${ROUNDS:-3}
recipes=${RECIPES:-1356}
regen=${REGEN:-$bin/analytics-regen}  # another build's analytics-regen may write the generation
# shellcheck source-path=SCRIPTDIR source=lib/wrk_vs_nginx.sh
source "$root/tests/bench/lib/wrk_vs_nginx.sh"

for tool in wrk nginx curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
for b in analytics-api catalog-seed; do
  [[ -x $bin/$b ]] || { echo "missing $bin/$b (cmake --build build --target $b)" >&2; exit 1; }
done
[[ -x $regen ]] || { echo "missing $regen (cmake --build build --target analytics-regen)" >&2; exit 1; }

work=$(mktemp -d /tmp/analytics-api-bench-XXXXXX)
chmod 755 "$work"
api_pid=""
nginx_pid=""
cleanup() {
  stop_process "$api_pid"
  stop_process "$nginx_pid"
  rm -rf "$work"
}
trap cleanup EXIT

# ---- One generation written by the engine.
"$bin/catalog-seed" --db "$work/catalog.db" --recipes "$recipes" >/dev/null 2>&1
"$regen" --once --db "$work/catalog.db" --analytics-path "$work/analytics" >"$work/regen.json" 2>/dev/null
generation=$(cat "$work/analytics/v1/CURRENT")
gen_dir=$work/analytics/v1/generations/$generation
if [[ -f $gen_dir/cocktail-space.json ]]; then
  large=cocktail-space
else
  large=$(ls -S "$gen_dir" | grep '\.json$' | grep -v '^manifest' | head -1)
  large=${large%.json}
  echo "note: generation $generation has no cocktail-space; measuring its largest analytic, $large" >&2
fi
small=recipe-complexity

# ---- analytics-api
api_port=$(free_port)
"$bin/analytics-api" --analytics-path "$work/analytics" --http "127.0.0.1:$api_port" --sub "" \
  --io-threads "$io_threads" --access-log="$([[ $access_log == on ]] && echo true || echo false)" \
  2>"$work/api.log" &
api_pid=$!

# ---- nginx: the bytes analytics-api serves, as files at the same paths
# (with .gz beside them for gzip_static). Debian's defaults otherwise.
mkdir -p "$work/www/api/v1/analytics"
for t in "$large" "$small"; do
  cp "$gen_dir/$t.json" "$work/www/api/v1/analytics/$t"
done
write_nginx_conf '  default_type application/json;
  gzip_static on;
  gzip_vary on;'

for _ in $(seq 1 200); do
  curl -sf "http://127.0.0.1:$api_port/api/v1/analytics/$small" >/dev/null 2>&1 && break
  sleep 0.05
done
# The gzip bytes analytics-api sends, for nginx to send too.
for t in "$large" "$small"; do
  curl -s -H 'Accept-Encoding: gzip' "http://127.0.0.1:$api_port/api/v1/analytics/$t" \
    >"$work/www/api/v1/analytics/$t.gz"
done
chmod -R a+rX "$work/www"
start_nginx
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$nginx_port/api/v1/analytics/$small" >/dev/null 2>&1 && break
  sleep 0.05
done

# Same bytes from both, identity and gzip.
for t in "$large" "$small"; do
  for enc in identity gzip; do
    cmp -s <(curl -s -H "Accept-Encoding: $enc" "http://127.0.0.1:$api_port/api/v1/analytics/$t") \
      <(curl -s -H "Accept-Encoding: $enc" "http://127.0.0.1:$nginx_port/api/v1/analytics/$t") ||
      { echo "bodies differ for $t ($enc)" >&2; exit 1; }
  done
done

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
rss_loaded=$(rss_kib "$api_pid")

echo "wrk -t$threads -c$connections -d$duration on 127.0.0.1, $rounds rounds; access logs $access_log;" \
  "analytics-api io threads $io_threads; nginx workers auto ($(nproc) cores); generation $generation" \
  "($recipes recipes)"
cases="$large.identity $small.identity $large.gzip $small.gzip"
case_request() { echo "/api/v1/analytics/${1%.*} ${1##*.} ${1%.*} ${1##*.}"; }
# shellcheck disable=SC2086  # $cases: one word per case
measure_rounds api "$api_port" "$api_pid" $cases

printf '%-28s %8s | %-31s | %-31s | %s\n' "" "" "analytics-api" "nginx" "ratio"
printf '%-28s %8s | %8s %9s %12s | %8s %9s %12s | %6s\n' body bytes "req/s" p99 "CPU us/req" "req/s" p99 \
  "CPU us/req" "req/s"
for c in $cases; do
  t=${c%.*}
  enc=${c##*.}
  if [[ $enc == gzip ]]; then bytes=$(stat -c %s "$work/www/api/v1/analytics/$t.gz"); else bytes=$(stat -c %s "$gen_dir/$t.json"); fi
  ours=$(col "${rps[api.$c]}" | median)
  theirs=$(col "${rps[nginx.$c]}" | median)
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')
  printf '%-28s %8s | %8.0f %7.2fms %12.1f | %8.0f %7.2fms %12.1f | %6s\n' "$t ($enc)" "$bytes" "$ours" \
    "$(col "${p99[api.$c]}" | to_ms | median)" "$(col "${cpu[api.$c]}" | median)" "$theirs" \
    "$(col "${p99[nginx.$c]}" | to_ms | median)" "$(col "${cpu[nginx.$c]}" | median)" "$ratio"
done
total=$(du -sb "$gen_dir" | cut -f1)
echo "analytics-api VmRSS: $((rss_loaded / 1024)) MiB with generation $generation loaded ($((total / 1024)) KiB on disk)," \
  "$(($(rss_kib "$api_pid") / 1024)) MiB after the runs"
