#!/usr/bin/env bash
# The catalog per backend, SQLite and PostgreSQL, on the same generated
# catalogs (1,356 and 100,000 recipes by default):
#   1. catalog load for regeneration (load_state: one read transaction;
#      REPEATABLE READ + COPY on PostgreSQL), min and median of 5 rounds;
#   2. durable single-recipe writes per second through catalog-api (group
#      commit, wrk POST /api/v1/recipes, unique names);
#   3. change-to-published latency for an outside writer (an INSERT by a
#      raw connection, as the sqlite3 shell or psql would, until catalog-api
#      publishes it on catalog.change), p50/p99 of 50 writes.
# PostgreSQL is a local server started here (initdb/pg_ctl as the postgres
# user in a temporary directory, loopback only) and stopped at the end.
#
#   tests/bench/postgres.sh
#   SIZES="1356" DURATION=5s tests/bench/postgres.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BUILD_DIR:-$root/build}/bin
sizes=${SIZES:-"1356 100000"}
duration=${DURATION:-10s}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
for b in catalog-api catalog-seed catalog-backend-bench; do
  [[ -x $bin/$b ]] || { echo "missing $bin/$b" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "missing wrk" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/postgres-bench-XXXXXX")
chmod 755 "$work"
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
server_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [[ -f $work/pg/data/postmaster.pid ]] && as_postgres "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg"
pg_port=$(free_port)
as_postgres "$pg_bin/initdb" -D "$work/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$work/pg" start >/dev/null
psql_admin() { "$pg_bin/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }

token=bench-token-$RANDOM
echo "$token" >"$work/token"
cat >"$work/create.lua" <<'LUA'
local threads = {}
function setup(thread) thread:set("tid", #threads); table.insert(threads, thread) end
function init(args)
  counter = 0; run = args[1]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
end
function request()
  counter = counter + 1
  local body = string.format('{"name":"Bench %s-%d-%d","instructions":"Shake.","source":"bench",' ..
    '"ingredients":[{"ingredient_id":1,"unit_id":1,"amount":2}]}', run, tid, counter)
  return wrk.format(nil, "/api/v1/recipes", nil, body)
end
LUA

echo "load: $(uptime | sed 's/.*load average: //')"
printf '%-9s %8s %10s %10s %10s %10s %10s\n' backend recipes load_min load_med writes/s pub_p50 pub_p99
for size in $sizes; do
  ingredients=$(( size > 10000 ? 3000 : 610 ))
  for backend in sqlite postgres; do
    if [[ $backend == sqlite ]]; then
      db="$work/catalog-$size.db"
    else
      psql_admin -c "CREATE DATABASE bench_$size"
      db="postgresql://postgres@127.0.0.1:$pg_port/bench_$size"
    fi
    "$bin/catalog-seed" --db "$db" --recipes "$size" --ingredients "$ingredients" >/dev/null 2>&1
    load_json=$("$bin/catalog-backend-bench" load --db "$db" --rounds 5)
    http_port=$(free_port); pub_port=$(free_port)
    "$bin/catalog-api" --db "$db" --http "127.0.0.1:$http_port" --pub "tcp://127.0.0.1:$pub_port" \
      --token-file "$work/token" --log-level warn --allow-anonymous-bus 2>"$work/api-$backend-$size.log" &
    server_pid=$!
    for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$http_port/health" >/dev/null 2>&1 && break; sleep 0.05; done
    # Let the seed's backlog go out before measuring.
    for _ in $(seq 1 600); do
      lag=$(curl -fsS "http://127.0.0.1:$http_port/metrics" | awk '$1 == "cocktail_outbox_lag" {print $2}')
      [[ $lag == 0 ]] && break; sleep 0.1
    done
    wrk -t2 -c64 -d"$duration" -s "$work/create.lua" "http://127.0.0.1:$http_port" -- "$backend$size" "$token" \
      >"$work/wrk.txt"
    rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
    pub_json=$("$bin/catalog-backend-bench" outside-write --db "$db" --sub "tcp://127.0.0.1:$pub_port" --writes 50)
    kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
    field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
    printf '%-9s %8s %10s %10s %10s %10s %10s\n' "$backend" "$size" "$(field "$load_json" min_ms)ms" \
      "$(field "$load_json" median_ms)ms" "$rps" "$(field "$pub_json" p50_ms)ms" "$(field "$pub_json" p99_ms)ms"
  done
done
echo "load: $(uptime | sed 's/.*load average: //')"
