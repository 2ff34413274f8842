#!/usr/bin/env bash
# usage-api on this machine, with wrk and keep-alive clients on 127.0.0.1:
#   1. durable events per second through HTTP (POST /api/analytics/track),
#      single events and arrays of 100, p50/p99 latency; with group commit
#      (the default: one transaction and one WAL sync per batch of requests)
#      and, as the baseline measured in the same run, one commit with
#      synchronous=FULL per request (--commit each); every run checks that the
#      events answered 200 are in the database;
#   2. GET /api/analytics/rollups?hours=168 latency (one connection, and 8) on
#      30 days of events at 10,000 an hour (usage_bench --make-db, ~3 min).
#
#   tests/bench/usage_api.sh                       # wrk -t2 -c64 -d10s
#   DURATION=5s CONNECTIONS=128 tests/bench/usage_api.sh
#   SKIP_ROLLUPS=1 tests/bench/usage_api.sh        # writes only
#   SKIP_WRITES=1 tests/bench/usage_api.sh         # roll-up reads only
#
# Files go to a temporary directory under TMPDIR (default /var/tmp: on a
# tmpfs fsync is free, so keep it on a real disk to measure durability).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BUILD_DIR:-$root/build}/bin
duration=${DURATION:-10s}
threads=${WRK_THREADS:-2}
connections=${CONNECTIONS:-64}
io_threads=${IO_THREADS:-2}

for tool in wrk curl sqlite3 python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (Debian packages wrk curl sqlite3 python3)" >&2; exit 1; }
done
for b in usage-api usage_bench; do
  [[ -x $bin/$b ]] || { echo "missing $bin/$b (cmake --build build --target usage-api usage_bench)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/var/tmp}/usage-api-bench-XXXXXX")
server_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# POST /api/analytics/track: one event, or an array of BATCH, each from one of
# 500 sessions; unique per thread and request so nothing is deduplicated.
cat >"$work/track.lua" <<'LUA'
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  counter = 0
  batch = tonumber(args[1])
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
end
local function event(n)
  return string.format('{"event_type":"tool_used","session_id":"session_%d_%d","tool_name":"cocktail-space",' ..
    '"action":"viewed","properties":{"risk_mode":"protect","n":%d}}', tid, n % 500, n)
end
function request()
  counter = counter + 1
  local body
  if batch == 1 then
    body = event(counter)
  else
    local items = {}
    for i = 1, batch do items[i] = event(counter * batch + i) end
    body = "[" .. table.concat(items, ",") .. "]"
  end
  return wrk.format(nil, "/api/analytics/track", nil, body)
end
LUA

start_server() {  # db, extra args...
  local db=$1; shift
  http_port=$(free_port)
  "$bin/usage-api" --db "$db" --http "127.0.0.1:$http_port" --pub "tcp://127.0.0.1:$(free_port)" \
    --io-threads "$io_threads" --access-log=false --log-level warn "$@" 2>>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:$http_port/health" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "usage-api did not start; see $work/server.log" >&2
  exit 1
}

stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}

# wrk output -> "rps p50 p99 non2xx requests"
parse_wrk() {
  awk '
    /Requests\/sec/ {rps=$2}
    $1 == "50%" {p50=$2}
    $1 == "99%" {p99=$2}
    /Non-2xx/ {bad=$NF}
    / requests in / {reqs=$1}
    END {printf "%s %s %s %s %s\n", rps, p50, p99, (bad == "" ? 0 : bad), reqs}' "$1"
}

metric() {  # name -> value from /metrics
  curl -fsS "http://127.0.0.1:$http_port/metrics" | awk -v n="$1" '$1 == n {print $2}'
}

echo "load before: $(uptime)"
declare -A results
modes=(group each)
[[ -n ${SKIP_WRITES:-} ]] && modes=()
for mode in "${modes[@]}"; do
  for batch in 1 100; do
    rm -f "$work"/usage.db*
    start_server "$work/usage.db" --commit "$mode"
    cpu0=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
    wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$work/track.lua" \
      "http://127.0.0.1:$http_port" -- "$batch" >"$work/wrk-$mode-$batch.txt"
    cpu1=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
    read -r rps p50 p99 bad reqs < <(parse_wrk "$work/wrk-$mode-$batch.txt")
    bsum=$(metric cocktail_usage_write_batch_size_sum)
    bcount=$(metric cocktail_usage_write_batch_size_count)
    accepted=$(metric cocktail_usage_events_accepted_total)
    stop_server
    stored=$(sqlite3 "$work/usage.db" "SELECT COUNT(*) FROM usage_events")
    rolled=$(sqlite3 "$work/usage.db" "SELECT COALESCE(SUM(total_events),0) FROM usage_hourly_rollups")
    # The server's own CPU time per event (clock ticks of 10 ms): what the
    # figure would be on cores of its own, whatever else the machine runs.
    cpu_us=$(python3 -c "print(f'{($cpu1 - $cpu0) * 1e6 / $(getconf CLK_TCK) / max(float(${accepted:-0}), 1):.1f}')")
    results[$mode-$batch]="$rps $p50 $p99 $bad $accepted $stored $rolled $bsum $bcount $cpu_us"
  done
done
echo "load after writes: $(uptime)"
if [[ -z ${SKIP_WRITES:-} ]]; then

echo
echo "usage-api POST /api/analytics/track, wrk -t$threads -c$connections -d$duration, io threads $io_threads, $(nproc) cores"
printf '%-24s %12s %12s %9s %9s %7s %11s %11s %9s %12s\n' "run" "requests/s" "events/s" "p50" "p99" "non2xx" \
  "acked" "stored" "avg batch" "CPU us/event"
for mode in group each; do
  for batch in 1 100; do
    read -r rps p50 p99 bad accepted stored rolled bsum bcount cpu_us <<<"${results[$mode-$batch]}"
    eps=$(python3 -c "print(f'{float($rps)*$batch:,.0f}')")
    avg=$(python3 -c "print(f'{float($bsum)/max(float($bcount),1):.1f}')")
    printf '%-24s %12s %12s %9s %9s %7s %11s %11s %9s %12s\n' "commit=$mode batch=$batch" "$rps" "$eps" "$p50" \
      "$p99" "$bad" "${accepted%.*}" "$stored" "$avg" "$cpu_us"
    if [[ ${accepted%.*} -gt $stored || $stored -ne $rolled ]]; then
      echo "  !! acknowledged $accepted, stored $stored, counted in roll-ups $rolled" >&2
    fi
  done
done
read -r g1 _ <<<"${results[group-1]}"
read -r e1 _ <<<"${results[each-1]}"
read -r g100 _ <<<"${results[group-100]}"
read -r e100 _ <<<"${results[each-100]}"
python3 -c "print(f'group commit / one commit per request: single events {float($g1)/float($e1):.1f}x, arrays of 100 {float($g100)/float($e100):.1f}x')"
fi

if [[ -z ${SKIP_ROLLUPS:-} ]]; then
  echo
  echo "building 30 days at 10,000 events/hour (7.2 M events) ..."
  "$bin/usage_bench" --make-db "$work/usage-30d.db"
  start_server "$work/usage-30d.db" --retention-interval-s 86400
  curl -fsS -o "$work/rollups.json" "http://127.0.0.1:$http_port/api/analytics/rollups?hours=168"
  echo "$(head -c 120 "$work/rollups.json") ..."
  echo "load before reads: $(uptime)"
  for c in 1 8; do
    wrk -t1 -c"$c" -d"$duration" --latency "http://127.0.0.1:$http_port/api/analytics/rollups?hours=168" \
      >"$work/wrk-rollups-$c.txt"
    read -r rps p50 p99 bad reqs < <(parse_wrk "$work/wrk-rollups-$c.txt")
    printf 'GET rollups?hours=168, %d connection(s): %s req/s, p50 %s, p99 %s, non2xx %s\n' "$c" "$rps" "$p50" "$p99" "$bad"
  done
  wrk -t1 -c1 -d"$duration" --latency "http://127.0.0.1:$http_port/api/analytics/track?hours=24" \
    >"$work/wrk-track-get.txt"
  read -r rps p50 p99 bad reqs < <(parse_wrk "$work/wrk-track-get.txt")
  printf 'GET track?hours=24 (100 events of 240,000), 1 connection: %s req/s, p50 %s, p99 %s\n' "$rps" "$p50" "$p99"
  echo "load after reads: $(uptime)"
  stop_server
fi
