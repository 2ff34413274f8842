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
  [[ -n $api_pid ]] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null || true
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

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
mkdir -p "$work/www/api/v1/analytics" "$work/nginx"
for t in "$large" "$small"; do
  cp "$gen_dir/$t.json" "$work/www/api/v1/analytics/$t"
done
nginx_port=$(free_port)
if [[ $access_log == on ]]; then nginx_log="access_log $work/nginx/access.log;"; else nginx_log="access_log off;"; fi
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 10000000;
  default_type application/json;
  gzip_static on;
  gzip_vary on;
  $nginx_log
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
    location / { }
  }
}
CONF

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
nginx -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
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

# CPU time (clock ticks) used so far by the given processes and their threads.
cpu_ticks() {
  local t=0 task f
  for pid in "$@"; do
    for task in /proc/"$pid"/task/*; do
      read -r -a f <"$task/stat" || continue
      t=$((t + f[13] + f[14]))
    done
  done
  echo "$t"
}

run_wrk() {  # url encoding pids... -> "requests/s p99 cpu-us-per-request"
  local url=$1 enc=$2
  shift 2
  local before after out
  local -a header=()
  [[ $enc == gzip ]] && header=(-H 'Accept-Encoding: gzip')
  before=$(cpu_ticks "$@")
  out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "${header[@]}" "$url")
  after=$(cpu_ticks "$@")
  local errors requests
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  [[ -n $errors ]] && echo "  wrk: $errors" >&2
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  echo "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out")" \
    "$(awk -v d=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.1f", d / hz * 1e6 / n }')"
}
to_ms() { awk '{ v = $1; if (v ~ /us$/) print v / 1000; else if (v ~ /ms$/) print v + 0; else print v * 1000 }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "wrk -t$threads -c$connections -d$duration on 127.0.0.1, $rounds rounds; access logs $access_log;" \
  "analytics-api io threads $io_threads; nginx workers auto ($(nproc) cores); generation $generation" \
  "($recipes recipes)"
declare -A rps p99 cpu
cases="$large.identity $small.identity $large.gzip $small.gzip"
for round in $(seq 1 "$rounds"); do
  for c in $cases; do
    t=${c%.*}
    enc=${c##*.}
    order="api nginx"
    ((round % 2 == 0)) && order="nginx api"
    for who in $order; do
      if [[ $who == nginx ]]; then
        read -r r p u < <(run_wrk "http://127.0.0.1:$nginx_port/api/v1/analytics/$t" "$enc" "$nginx_pid" \
          $(pgrep -P "$nginx_pid"))
      else
        read -r r p u < <(run_wrk "http://127.0.0.1:$api_port/api/v1/analytics/$t" "$enc" "$api_pid")
      fi
      rps[$who.$c]+="$r "
      p99[$who.$c]+="$p "
      cpu[$who.$c]+="$u "
      echo "  round $round $t $enc $who: $r req/s, p99 $p, $u us CPU/request" >&2
    done
  done
done

col() { tr ' ' '\n' <<<"$1" | grep .; }
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
