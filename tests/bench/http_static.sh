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

for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
[[ -x $bin ]] || { echo "missing $bin (cmake --build build --target http-bench-server)" >&2; exit 1; }

work=$(mktemp -d /tmp/http-bench-XXXXXX)
chmod 755 "$work"
server_pid=""
nginx_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

"$bin" --dump "$work/www"
chmod -R a+rX "$work/www"

# ---- nginx: Debian's defaults (worker_processes auto, sendfile, tcp_nopush),
# with keep-alive not capped so that both servers keep every connection.
nginx_port=$(free_port)
mkdir -p "$work/nginx"
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
  types { application/json json; }
  default_type application/octet-stream;
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
nginx -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!

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

run_wrk() {  # url pids... -> "requests/s p99 cpu-us-per-request"
  local url=$1
  shift
  local before after out
  before=$(cpu_ticks "$@")
  out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$url")
  after=$(cpu_ticks "$@")
  local rps p99 requests cpu errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  cpu=$(awk -v d=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.1f", d / hz * 1e6 / n }')
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  [[ -n $errors ]] && echo "  wrk: $errors" >&2
  echo "$rps $p99 $cpu"
}

# wrk prints latencies as 850.00us, 12.3ms or 1.2s.
to_ms() { awk '{ v = $1; if (v ~ /us$/) print v / 1000; else if (v ~ /ms$/) print v + 0; else print v * 1000 }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "wrk -t$threads -c$connections -d$duration on 127.0.0.1, $rounds rounds; access logs $access_log;" \
  "libs/http io threads $io_threads; nginx workers auto ($(nproc) cores)"
declare -A rps p99 cpu
for round in $(seq 1 "$rounds"); do
  for f in large.json small.json; do
    order="ours nginx"
    ((round % 2 == 0)) && order="nginx ours"
    for who in $order; do
      if [[ $who == nginx ]]; then
        read -r r p c < <(run_wrk "http://127.0.0.1:$nginx_port/$f" "$nginx_pid" $(pgrep -P "$nginx_pid"))
      else
        read -r r p c < <(run_wrk "http://127.0.0.1:$server_port/$f" "$server_pid")
      fi
      rps[$who.$f]+="$r "
      p99[$who.$f]+="$p "
      cpu[$who.$f]+="$c "
      echo "  round $round $f $who: $r req/s, p99 $p, $c us CPU/request" >&2
    done
  done
done

col() { tr ' ' '\n' <<<"$1" | grep .; }
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
