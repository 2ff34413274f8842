#!/usr/bin/env bash
# The catalog per backend, SQLite and PostgreSQL, on the same generated
# catalogs (1,356 and 100,000 recipes by default):
#   1. catalog load for regeneration (load_state: one read transaction;
#      REPEATABLE READ + COPY on PostgreSQL), min and median of 5 rounds;
#   2. durable single-recipe writes per second through catalog-api (group
#      commit, wrk POST /api/v1/recipes, unique names, one ingredient row);
#   3. change-to-published latency for an outside writer (an INSERT by a
#      raw connection, as the sqlite3 shell or psql would, until catalog-api
#      publishes it on catalog.change), p50/p99 of 50 writes.
# Every measurement starts from a freshly seeded catalog. The seed's rows are
# all unpublished change_log rows (558,699 at 100,000 recipes): they are
# marked published before catalog-api starts, as in a deployment that has
# been running, so that the writes are not measured against the publisher
# sending that backlog; the script checks the outbox lag is 0 before wrk
# starts.
#
# BASE_BUILD_DIR=<another build directory> measures that build's binaries
# too, on the same kind of catalog, next to this build's: before / after
# figures from one run, under the same load. ROUNDS=N repeats everything,
# the builds in alternating order (the machine's load drifts).
# PostgreSQL is a local server started here (initdb/pg_ctl as the postgres
# user in a temporary directory, loopback only) and stopped at the end.
#
#   tests/bench/postgres.sh
#   SIZES="1356" DURATION=5s tests/bench/postgres.sh
#   BASE_BUILD_DIR=/tmp/base/build ROUNDS=3 SIZES=100000 tests/bench/postgres.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BUILD_DIR:-$root/build}/bin
sizes=${SIZES:-"1356 100000"}
duration=${DURATION:-10s}
rounds=${ROUNDS:-1}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
builds=("new:$bin")
[[ -n ${BASE_BUILD_DIR:-} ]] && builds=("base:$BASE_BUILD_DIR/bin" "new:$bin")
for build in "${builds[@]}"; do
  for b in catalog-api catalog-seed catalog-backend-bench; do
    [[ -x ${build#*:}/$b ]] || { echo "missing ${build#*:}/$b" >&2; exit 1; }
  done
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
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
lag() { curl -fsS "http://127.0.0.1:$1/metrics" | awk '$1 == "cocktail_outbox_lag" {print $2}'; }

echo "load: $(uptime | sed 's/.*load average: //')"
printf '%-5s %-9s %8s %10s %10s %10s %10s %10s\n' build backend recipes load_min load_med writes/s pub_p50 pub_p99
for round in $(seq 1 "$rounds"); do
for size in $sizes; do
  ingredients=$(( size > 10000 ? 3000 : 610 ))
  for backend in sqlite postgres; do
    order=("${builds[@]}")
    (( round % 2 == 0 && ${#builds[@]} == 2 )) && order=("${builds[1]}" "${builds[0]}")
    for build in "${order[@]}"; do
      name=${build%%:*} b=${build#*:}
      if [[ $backend == sqlite ]]; then
        db="$work/catalog-$size-$name.db"
      else
        psql_admin -c "CREATE DATABASE bench_${size}_$name"
        db="postgresql://postgres@127.0.0.1:$pg_port/bench_${size}_$name"
      fi
      "$bin/catalog-seed" --db "$db" --recipes "$size" --ingredients "$ingredients" >/dev/null 2>&1
      "$bin/catalog-backend-bench" mark-published --db "$db" --cursor catalog-api >/dev/null
      load_json=$("$b/catalog-backend-bench" load --db "$db" --rounds 5)
      http_port=$(free_port); pub_port=$(free_port)
      # The bus on loopback without CURVE keys (builds that know the flag need it).
      anonymous=()
      "$b/catalog-api" --help 2>&1 | grep -q -- --allow-anonymous-bus && anonymous=(--allow-anonymous-bus)
      "$b/catalog-api" --db "$db" --http "127.0.0.1:$http_port" --pub "tcp://127.0.0.1:$pub_port" \
        --token-file "$work/token" --log-level warn "${anonymous[@]}" 2>"$work/api-$backend-$size-$name.log" &
      server_pid=$!
      for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$http_port/health" >/dev/null 2>&1 && break; sleep 0.05; done
      for _ in $(seq 1 100); do [[ $(lag "$http_port") == 0 ]] && break; sleep 0.1; done
      [[ $(lag "$http_port") == 0 ]] || { echo "outbox lag $(lag "$http_port") before measuring" >&2; exit 1; }
      wrk -t2 -c64 -d"$duration" -s "$root/tests/bench/lib/create_recipe.lua" "http://127.0.0.1:$http_port" \
        -- "$backend$size$name" "$token" >"$work/wrk.txt"
      rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
      non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt")
      [[ -z $non2xx ]] || { echo "$non2xx failed writes ($name, $backend, $size)" >&2; exit 1; }
      pub_json=$("$b/catalog-backend-bench" outside-write --db "$db" --sub "tcp://127.0.0.1:$pub_port" --writes 50)
      kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
      printf '%-5s %-9s %8s %10s %10s %10s %10s %10s\n' "$name" "$backend" "$size" "$(field "$load_json" min_ms)ms" \
        "$(field "$load_json" median_ms)ms" "$rps" "$(field "$pub_json" p50_ms)ms" "$(field "$pub_json" p99_ms)ms"
      [[ $backend == postgres ]] && psql_admin -c "DROP DATABASE bench_${size}_$name"
      rm -f "$work/catalog-$size-$name.db"*
    done
  done
done
done
echo "load: $(uptime | sed 's/.*load average: //')"
