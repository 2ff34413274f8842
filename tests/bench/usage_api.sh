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
#   MODES=group BATCHES=1 tests/bench/usage_api.sh # only some of the write runs
#
# A/B against another build (e.g. of the main branch) under the same load:
#   BASE_BUILD_DIR=/tmp/usage-base/build ROUNDS=3 MODES=group tests/bench/usage_api.sh
# runs every measurement with both usage-api binaries, alternating (the
# order flips every round), and prints each run with the load average at
# that moment, then the medians and the ratio new/base. The roll-up reads
# use the same generated file for both.
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
rounds=${ROUNDS:-1}
read -r -a modes <<<"${MODES:-group each}"
read -r -a batches <<<"${BATCHES:-1 100}"
# label -> usage-api binary
declare -A server_bin=([new]=$bin/usage-api)
labels=(new)
if [[ -n ${BASE_BUILD_DIR:-} ]]; then
  server_bin[base]=$BASE_BUILD_DIR/bin/usage-api
  [[ -x ${server_bin[base]} ]] || { echo "missing ${server_bin[base]}" >&2; exit 1; }
  labels=(base new)
fi
# The labels in the order of round $1 (flipped every round).
order() { if (($1 % 2)); then echo "${labels[@]}"; else printf '%s\n' "${labels[@]}" | tac | tr '\n' ' '; fi; }
load1() { cut -d' ' -f1 /proc/loadavg; }
median() { python3 -c 'import sys, statistics; v=[float(x) for x in sys.argv[1:]]; print(statistics.median(v))' "$@"; }

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

start_server() {  # label, db, extra args...
  local label=$1 db=$2; shift 2
  http_port=$(free_port)
  "${server_bin[$label]}" --db "$db" --http "127.0.0.1:$http_port" --pub "tcp://127.0.0.1:$(free_port)" \
    --io-threads "$io_threads" --access-log=false --log-level warn --allow-anonymous-bus "$@" 2>>"$work/server.log" &
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
echo "binaries: $(for l in "${labels[@]}"; do printf '%s=%s ' "$l" "${server_bin[$l]}"; done)"
declare -A results
[[ -n ${SKIP_WRITES:-} ]] && modes=()
runs=()
for ((round = 1; round <= rounds; round++)); do
  for mode in "${modes[@]}"; do
    for batch in "${batches[@]}"; do
      for label in $(order "$round"); do
        rm -f "$work"/usage.db*
        start_server "$label" "$work/usage.db" --commit "$mode"
        load=$(load1)
        cpu0=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
        wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$work/track.lua" \
          "http://127.0.0.1:$http_port" -- "$batch" >"$work/wrk.txt"
        cpu1=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
        read -r rps p50 p99 bad reqs < <(parse_wrk "$work/wrk.txt")
        bsum=$(metric cocktail_usage_write_batch_size_sum)
        bcount=$(metric cocktail_usage_write_batch_size_count)
        accepted=$(metric cocktail_usage_events_accepted_total)
        stop_server
        stored=$(sqlite3 "$work/usage.db" "SELECT COUNT(*) FROM usage_events")
        rolled=$(sqlite3 "$work/usage.db" "SELECT COALESCE(SUM(total_events),0) FROM usage_hourly_rollups")
        # The server's own CPU time per event (clock ticks of 10 ms): what the
        # figure would be on cores of its own, whatever else the machine runs.
        cpu_us=$(python3 -c "print(f'{($cpu1 - $cpu0) * 1e6 / $(getconf CLK_TCK) / max(float(${accepted:-0}), 1):.1f}')")
        key=$label-$mode-$batch-$round
        results[$key]="$rps $p50 $p99 $bad $accepted $stored $rolled $bsum $bcount $cpu_us $load"
        runs+=("$key")
        if [[ ${accepted%.*} -gt $stored || $stored -ne $rolled ]]; then
          echo "  !! $key: acknowledged $accepted, stored $stored, counted in roll-ups $rolled" >&2
        fi
      done
    done
  done
done
echo "load after writes: $(uptime)"
if ((${#runs[@]})); then

echo
echo "usage-api POST /api/analytics/track, wrk -t$threads -c$connections -d$duration, io threads $io_threads, $(nproc) cores"
printf '%-34s %6s %11s %11s %9s %9s %7s %10s %10s %9s %12s\n' "run" "load" "requests/s" "events/s" "p50" "p99" \
  "non2xx" "acked" "stored" "avg batch" "CPU us/event"
for key in "${runs[@]}"; do
  read -r rps p50 p99 bad accepted stored rolled bsum bcount cpu_us load <<<"${results[$key]}"
  IFS=- read -r label mode batch round <<<"$key"
  eps=$(python3 -c "print(f'{float($rps)*$batch:,.0f}')")
  avg=$(python3 -c "print(f'{float($bsum)/max(float($bcount),1):.1f}')")
  printf '%-34s %6s %11s %11s %9s %9s %7s %10s %10s %9s %12s\n' \
    "$label commit=$mode batch=$batch #$round" "$load" "$rps" "$eps" "$p50" "$p99" "$bad" "${accepted%.*}" \
    "$stored" "$avg" "$cpu_us"
done
echo
echo "medians over $rounds round(s):"
for mode in "${modes[@]}"; do
  for batch in "${batches[@]}"; do
    declare -A med_eps=() med_cpu=()
    for label in "${labels[@]}"; do
      e=() c=()
      for ((round = 1; round <= rounds; round++)); do
        read -r rps _ _ _ _ _ _ _ _ cpu_us _ <<<"${results[$label-$mode-$batch-$round]}"
        e+=("$(python3 -c "print(float($rps)*$batch)")")
        c+=("$cpu_us")
      done
      med_eps[$label]=$(median "${e[@]}")
      med_cpu[$label]=$(median "${c[@]}")
      printf '  %-4s commit=%-5s batch=%-3s %10.0f events/s %8.1f CPU us/event\n' "$label" "$mode" "$batch" \
        "${med_eps[$label]}" "${med_cpu[$label]}"
    done
    if [[ -n ${med_eps[base]:-} ]]; then
      python3 -c "print(f'  new/base commit=$mode batch=$batch: events/s {${med_eps[new]}/${med_eps[base]}:.2f}x, CPU per event {${med_cpu[new]}/${med_cpu[base]}:.2f}x')"
    fi
  done
done
if [[ " ${modes[*]} " == *" group "* && " ${modes[*]} " == *" each "* ]]; then
  for label in "${labels[@]}"; do
    for batch in "${batches[@]}"; do
      read -r g _ <<<"${results[$label-group-$batch-1]}"
      read -r e _ <<<"${results[$label-each-$batch-1]}"
      python3 -c "print(f'$label: group commit / one commit per request, batch=$batch: {float($g)/float($e):.1f}x (round 1)')"
    done
  done
fi
fi

if [[ -z ${SKIP_ROLLUPS:-} ]]; then
  echo
  echo "building 30 days at 10,000 events/hour (7.2 M events) ..."
  "$bin/usage_bench" --make-db "$work/usage-30d.db"
  for ((round = 1; round <= rounds; round++)); do
    for label in $(order "$round"); do
      start_server "$label" "$work/usage-30d.db" --retention-interval-s 86400
      curl -fsS -o "$work/rollups.json" "http://127.0.0.1:$http_port/api/analytics/rollups?hours=168"
      echo "$label #$round: $(head -c 100 "$work/rollups.json") ..."
      for c in 1 8; do
        load=$(load1)
        wrk -t1 -c"$c" -d"$duration" --latency "http://127.0.0.1:$http_port/api/analytics/rollups?hours=168" \
          >"$work/wrk-rollups.txt"
        read -r rps p50 p99 bad reqs < <(parse_wrk "$work/wrk-rollups.txt")
        printf '%-4s #%d load %5s GET rollups?hours=168, %d connection(s): %s req/s, p50 %s, p99 %s, non2xx %s\n' \
          "$label" "$round" "$load" "$c" "$rps" "$p50" "$p99" "$bad"
      done
      load=$(load1)
      wrk -t1 -c1 -d"$duration" --latency "http://127.0.0.1:$http_port/api/analytics/track?hours=24" \
        >"$work/wrk-track-get.txt"
      read -r rps p50 p99 bad reqs < <(parse_wrk "$work/wrk-track-get.txt")
      printf '%-4s #%d load %5s GET track?hours=24 (100 events of 240,000), 1 connection: %s req/s, p50 %s, p99 %s\n' \
        "$label" "$round" "$load" "$rps" "$p50" "$p99"
      stop_server
    done
  done
  echo "load after reads: $(uptime)"
fi
