# shellcheck shell=bash
# shellcheck disable=SC2154  # work, duration, threads, ...: set by the sourcing script
# Measuring one of our servers against nginx serving the same bytes from
# files, both on 127.0.0.1, with wrk, in the same run. Sourced by
# tests/bench/analytics_api.sh and tests/bench/http_static.sh after they set:
#   work          a scratch directory (nginx's files go under $work/nginx,
#                 the served tree is $work/www)
#   duration threads connections rounds access_log   wrk's and nginx's knobs
# Defines nginx_port and nginx_pid (write_nginx_conf, start_nginx) and the
# arrays rps, p99 and cpu (measure_rounds).

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Kills a process we started (if any) and reaps it.
stop_process() {
  [[ -n $1 ]] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null || true
}

# $work/nginx/nginx.conf on a free port: Debian's defaults (worker_processes
# auto, sendfile, tcp_nopush), keep-alive not capped so that both servers keep
# every connection, access log per $access_log. $1: the content-type (and
# other http-level) directives, one per line.
write_nginx_conf() {
  local directives=$1 nginx_log
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
$directives
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
}

# Runs nginx in the foreground of a background job (not a daemon), so that
# nginx_pid is its master and stop_process ends it.
start_nginx() {
  nginx -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
  nginx_pid=$!
}

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
col() { tr ' ' '\n' <<<"$1" | grep .; }

declare -A rps p99 cpu
# Measures every case in $rounds rounds, both servers back to back
# (alternating which goes first) so that background load on a shared machine
# hits both alike; appends to rps, p99 and cpu under "<who>.<case>", who
# being $1 or nginx. `case_request <case>` (the caller's) prints the case's
# "path encoding label...".
measure_rounds() {  # our-name our-port our-pid cases...
  local ours=$1 our_port=$2 our_pid=$3
  shift 3
  local round c who order path enc label r p u
  for round in $(seq 1 "$rounds"); do
    for c in "$@"; do
      read -r path enc label < <(case_request "$c")
      order="$ours nginx"
      ((round % 2 == 0)) && order="nginx $ours"
      for who in $order; do
        if [[ $who == nginx ]]; then
          read -r r p u < <(run_wrk "http://127.0.0.1:$nginx_port$path" "$enc" "$nginx_pid" $(pgrep -P "$nginx_pid"))
        else
          read -r r p u < <(run_wrk "http://127.0.0.1:$our_port$path" "$enc" "$our_pid")
        fi
        rps[$who.$c]+="$r "
        p99[$who.$c]+="$p "
        cpu[$who.$c]+="$u "
        echo "  round $round $label $who: $r req/s, p99 $p, $u us CPU/request" >&2
      done
    done
  done
}
