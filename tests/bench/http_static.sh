#!/usr/bin/env bash
# Static-body throughput: libs/http (http-bench-server, bodies in memory)
# against nginx (Debian nginx-light, the same bytes from files), both on
# 127.0.0.1, measured in the same run with wrk.
#
#   tests/bench/http_static.sh                      # wrk -t2 -c64 -d10s, access logs on
#   DURATION=5s CONNECTIONS=128 tests/bench/http_static.sh
#   ACCESS_LOG=off IO_THREADS=2 ROUNDS=5 tests/bench/http_static.sh
#
# Each round measures both servers back to back (alternating which goes
# first), so that background load on a shared machine hits both alike; the
# table shows the median of the rounds and the ratio of the medians. On a
# busy machine requests/s swing with the load; the server's CPU time per
# request (from /proc, all threads; nginx: master and workers) is steadier.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BUILD_DIR:-$root/build}/bin/http-bench-server
duration=${DURATION:-10s}
threads=${WRK_THREADS:-2}
connections=${CONNECTIONS:-64}
access_log=${ACCESS_LOG:-on}
io_threads=${IO_THREADS:-2}
rounds=${ROUNDS:-3}
# shellcheck source-path=SCRIPTDIR source=lib/wrk_vs_nginx.sh
source "$root/tests/bench/lib/wrk_vs_nginx.sh"

for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
[[ -x $bin ]] || { echo "missing $bin (cmake --build build --target http-bench-server)" >&2; exit 1; }

work=$(mktemp -d /tmp/http-bench-XXXXXX)
chmod 755 "$work"
server_pid=""
nginx_pid=""
cleanup() {
  stop_process "$server_pid"
  stop_process "$nginx_pid"
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" --dump "$work/www"
chmod -R a+rX "$work/www"

# ---- nginx: the same files, typed as the server types them.
write_nginx_conf '  types { application/json json; }
  default_type application/octet-stream;'
start_nginx

# ---- libs/http
"$bin" --http 127.0.0.1:0 --io-threads "$io_threads" --access-log="$([[ $access_log == on ]] && echo true || echo false)" \
  >"$work/server.out" 2>"$work/server.log" &
server_pid=$!

for _ in $(seq 1 100); do
  grep -q "listening port=" "$work/server.out" 2>/dev/null && curl -sf "http://127.0.0.1:$nginx_port/small.json" >/dev/null 2>&1 && break
  sleep 0.05
done
server_port=$(sed -n 's/^listening port=//p' "$work/server.out")
[[ -n $server_port ]] || { echo "http-bench-server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

# Same bytes from both.
for f in large.json small.json; do
  cmp -s <(curl -s "http://127.0.0.1:$server_port/$f") <(curl -s "http://127.0.0.1:$nginx_port/$f") ||
    { echo "bodies differ for $f" >&2; exit 1; }
done

echo "wrk -t$threads -c$connections -d$duration on 127.0.0.1, $rounds rounds; access logs $access_log;" \
  "libs/http io threads $io_threads; nginx workers auto ($(nproc) cores)"
case_request() { echo "/$1 identity $1"; }
measure_rounds ours "$server_port" "$server_pid" large.json small.json

printf '%-11s %7s | %-33s | %-33s | %s\n' "" "" "libs/http" "nginx" "ratio"
printf '%-11s %7s | %9s %9s %13s | %9s %9s %13s | %6s\n' body bytes "req/s" p99 "CPU us/req" "req/s" p99 "CPU us/req" "req/s"
for f in large.json small.json; do
  bytes=$(stat -c %s "$work/www/$f")
  ours=$(col "${rps[ours.$f]}" | median)
  theirs=$(col "${rps[nginx.$f]}" | median)
  ours_p99=$(col "${p99[ours.$f]}" | to_ms | median)
  theirs_p99=$(col "${p99[nginx.$f]}" | to_ms | median)
  ours_cpu=$(col "${cpu[ours.$f]}" | median)
  theirs_cpu=$(col "${cpu[nginx.$f]}" | median)
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')
  printf '%-11s %7s | %9.0f %7.2fms %13.1f | %9.0f %7.2fms %13.1f | %6s\n' "$f" "$bytes" "$ours" "$ours_p99" \
    "$ours_cpu" "$theirs" "$theirs_p99" "$theirs_cpu" "$ratio"
done
