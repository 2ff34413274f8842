#!/usr/bin/env bash
# catalog-api throughput on this machine, with wrk and keep-alive clients on
# 127.0.0.1:
#   1. durable single-recipe creates per second (POST /api/v1/recipes, unique
#      names, one ingredient row each), p50/p99 latency, and the outbox lag
#      (cocktail_outbox_lag scraped from /metrics every 200 ms during the run);
#      with group commit (the default) and, as the baseline measured in the
#      same run, with one fsync per commit (--commit each);
#   2. GET one recipe requests per second.
#
#   tests/bench/catalog_api.sh                          # wrk -t2 -c64 -d10s
#   DURATION=5s CONNECTIONS=128 tests/bench/catalog_api.sh
#   ACCESS_LOG=false IO_THREADS=2 tests/bench/catalog_api.sh
#
# Every run starts from a fresh catalog in a temporary directory (TMPDIR: on
# a tmpfs fsync is free, so point it at a real disk to measure durability),
# seeded by catalog-seed at today's size (1,356 recipes, 610 ingredients).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BUILD_DIR:-$root/build}/bin/catalog-api
seed_bin=${BUILD_DIR:-$root/build}/bin/catalog-seed
keygen=${BUILD_DIR:-$root/build}/bin/bus-keygen
duration=${DURATION:-10s}
threads=${WRK_THREADS:-2}
connections=${CONNECTIONS:-64}
io_threads=${IO_THREADS:-2}
access_log=${ACCESS_LOG:-true}

for tool in wrk curl sqlite3 python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
for b in "$bin" "$seed_bin"; do
  [[ -x $b ]] || { echo "missing $b (cmake --build build --target catalog-api catalog-seed)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/var/tmp}/catalog-api-bench-XXXXXX")
server_pid=""
scraper_pid=""
cleanup() {
  [[ -n $scraper_pid ]] && kill "$scraper_pid" 2>/dev/null || true
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

token=bench-token-$RANDOM$RANDOM
echo "$token" >"$work/token"
# The bus runs with CURVE, as deployed (builds from before it had no keys).
bus_args=()
if [[ -x $keygen ]]; then
  "$keygen" --out "$work/catalog-api" >/dev/null
  "$keygen" --out "$work/subscriber" >/dev/null
  bus_args=(--bus-key-file "$work/catalog-api.key_secret" --bus-authorized-keys "$work/subscriber.key")
fi

start_server() {  # commit mode
  local mode=$1
  http_port=$(free_port)
  pub_port=$(free_port)
  rm -f "$work"/catalog.db*
  "$seed_bin" --db "$work/catalog.db" >/dev/null 2>&1
  "$bin" --db "$work/catalog.db" --http "127.0.0.1:$http_port" --pub "tcp://127.0.0.1:$pub_port" \
    --token-file "$work/token" --commit "$mode" --io-threads "$io_threads" --access-log="$access_log" \
    --log-level warn "${bus_args[@]}" 2>"$work/server-$mode.log" &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$http_port/health" >/dev/null 2>&1 && break
    sleep 0.05
  done
}

stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}

metric() {  # name -> value from /metrics
  curl -fsS "http://127.0.0.1:$http_port/metrics" | awk -v n="$1" '$1 == n {print $2}'
}

# wrk output -> "rps p50 p99 non2xx"
parse_wrk() {
  awk '
    /Requests\/sec/ {rps=$2}
    $1 == "50%" {p50=$2}
    $1 == "99%" {p99=$2}
    /Non-2xx/ {bad=$NF}
    END {printf "%s %s %s %s\n", rps, p50, p99, (bad == "" ? 0 : bad)}' "$1"
}

declare -A results
for mode in group each; do
  start_server "$mode"
  # The seed's rows are published first (after the start delay): measure the
  # lag of the load only.
  for _ in $(seq 1 100); do
    [[ $(metric cocktail_outbox_published_seq) != 0 && $(metric cocktail_outbox_lag) == 0 ]] && break
    sleep 0.1
  done
  # Outbox lag sampled during the run.
  (
    while true; do
      metric cocktail_outbox_lag >>"$work/lag-$mode.txt" 2>/dev/null || true
      sleep 0.2
    done
  ) &
  scraper_pid=$!
  wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/tests/bench/lib/create_recipe.lua" \
    "http://127.0.0.1:$http_port" -- "$mode" "$token" >"$work/wrk-$mode.txt"
  kill "$scraper_pid" 2>/dev/null || true
  wait "$scraper_pid" 2>/dev/null || true
  scraper_pid=""
  read -r rps p50 p99 bad < <(parse_wrk "$work/wrk-$mode.txt")
  max_lag=$(sort -n "$work/lag-$mode.txt" | tail -1)
  sleep 0.3
  final_lag=$(metric cocktail_outbox_lag)
  batch_sum=$(metric cocktail_catalog_write_batch_size_sum)
  batch_count=$(metric cocktail_catalog_write_batch_size_count)
  recipes=$(sqlite3 "$work/catalog.db" "SELECT COUNT(*) FROM recipes WHERE name LIKE 'Bench %'")
  results[$mode]="$rps $p50 $p99 $bad ${max_lag:-0} ${final_lag:-0} $recipes $batch_sum $batch_count"

  if [[ $mode == group ]]; then
    wrk -t"$threads" -c"$connections" -d"$duration" --latency "http://127.0.0.1:$http_port/api/v1/recipes/1" \
      >"$work/wrk-get.txt"
    read -r get_rps get_p50 get_p99 get_bad < <(parse_wrk "$work/wrk-get.txt")
  fi
  stop_server
done

echo "catalog-api, wrk -t$threads -c$connections -d$duration, io threads $io_threads, access log $access_log, $(nproc) cores"
printf '%-26s %12s %9s %9s %7s %12s %10s %9s %9s\n' "creates (POST /recipes)" "req/s" "p50" "p99" "non2xx" \
  "max lag" "final lag" "created" "avg batch"
for mode in group each; do
  read -r rps p50 p99 bad max_lag final_lag recipes bsum bcount <<<"${results[$mode]}"
  avg_batch=$(python3 -c "print(f'{float($bsum)/max(float($bcount),1):.1f}')")
  printf '%-26s %12s %9s %9s %7s %12s %10s %9s %9s\n' "commit=$mode" "$rps" "$p50" "$p99" "$bad" "$max_lag" \
    "$final_lag" "$recipes" "$avg_batch"
done
read -r g_rps _ <<<"${results[group]}"
read -r e_rps _ <<<"${results[each]}"
python3 -c "print(f'group commit / one fsync per commit: {float($g_rps)/float($e_rps):.2f}x')"
printf '%-26s %12s %9s %9s %7s\n' "GET /recipes/1" "$get_rps" "$get_p50" "$get_p99" "$get_bad"
