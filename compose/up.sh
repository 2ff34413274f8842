#!/usr/bin/env bash
# Starts the whole stack without containers: catalog-api, analytics-regen,
# analytics-api, usage-api and (unless --no-prometheus) a Prometheus scraping
# the four.
# On first run it installs missing packages, builds, generates a sample
# catalog, a write token and the event bus's CURVE keys (one pair per
# service) in the data directory. Ctrl-C / SIGTERM stops every child cleanly.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

data_dir="$root/var"
recipes=1500
ingredients=600
seed=42
host=127.0.0.1
catalog_port=8080
api_port=8081
regen_port=8082
usage_port=8083
prom_port=9090
catalog_pub=5561
regen_pub=5562
usage_pub=5563
api_pub=5564
with_prometheus=1
build_dir="$root/build"

usage() {
  cat <<USAGE
Usage: compose/up.sh [OPTIONS]

Starts catalog-api, analytics-regen, analytics-api, usage-api and Prometheus on
loopback, on a sample catalog generated in the data directory on first run
(usage-api keeps its own database, usage.db, in the same directory).

Options:
  --data-dir DIR         where the catalog, snapshots, token, bus keys and logs live (default: ./var)
  --recipes N            sample catalog size on first run (default: $recipes)
  --ingredients N        sample catalog ingredients on first run (default: $ingredients)
  --seed S               sample catalog seed (default: $seed)
  --catalog-port P       catalog-api HTTP port (default: $catalog_port)
  --api-port P           analytics-api HTTP port (default: $api_port)
  --regen-port P         analytics-regen HTTP port (default: $regen_port)
  --usage-port P         usage-api HTTP port (default: $usage_port)
  --prometheus-port P    Prometheus port (default: $prom_port)
  --catalog-pub-port P   catalog-api ZeroMQ PUB port (default: $catalog_pub)
  --regen-pub-port P     analytics-regen ZeroMQ PUB port (default: $regen_pub)
  --usage-pub-port P     usage-api ZeroMQ PUB port, usage.hour (default: $usage_pub)
  --api-pub-port P       analytics-api ZeroMQ PUB port, analytics.repair (default: $api_pub)
  --no-prometheus        do not start Prometheus
  --postgres             keep the catalog in a local PostgreSQL (Debian's postgresql) under
                         DATA_DIR/postgres instead of DATA_DIR/catalog.db
  --postgres-port P      its loopback port (default: $pg_port)
  --build-dir DIR        build directory (default: ./build)
  -h, --help             this text
USAGE
}

with_postgres=0
pg_port=5433

while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) data_dir=$2; shift 2 ;;
    --recipes) recipes=$2; shift 2 ;;
    --ingredients) ingredients=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --catalog-port) catalog_port=$2; shift 2 ;;
    --api-port) api_port=$2; shift 2 ;;
    --regen-port) regen_port=$2; shift 2 ;;
    --usage-port) usage_port=$2; shift 2 ;;
    --prometheus-port) prom_port=$2; shift 2 ;;
    --catalog-pub-port) catalog_pub=$2; shift 2 ;;
    --regen-pub-port) regen_pub=$2; shift 2 ;;
    --usage-pub-port) usage_pub=$2; shift 2 ;;
    --api-pub-port) api_pub=$2; shift 2 ;;
    --no-prometheus) with_prometheus=0; shift ;;
    --postgres) with_postgres=1; shift ;;
    --postgres-port) pg_port=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "up.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '[up] %s\n' "$*"; }

# 1. Packages and build.
sections=(build runtime)
[ "$with_prometheus" = 1 ] && sections+=(test)
"$root/tests/install-deps.sh" "${sections[@]}"
bins=(catalog-seed catalog-api analytics-regen analytics-api usage-api usage-admin bus-keygen)
need_build=0
for b in "${bins[@]}"; do [ -x "$build_dir/bin/$b" ] || need_build=1; done
if [ "$need_build" = 1 ]; then
  say "building (first run takes a few minutes)"
  if command -v ccache >/dev/null 2>&1; then export CCACHE_BASEDIR="$root"; fi
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOCKTAIL_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" --target "${bins[@]}"
fi
bin="$build_dir/bin"

# 2. Data: catalog, token, directories.
mkdir -p "$data_dir/analytics" "$data_dir/logs"
data_dir=$(cd "$data_dir" && pwd)
catalog="$data_dir/catalog.db"
token_file="$data_dir/write-token"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_postgres() {  # PostgreSQL refuses to run as root: its commands run as the postgres user
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$with_postgres" = 1 ]; then
  pg_dir="$data_dir/postgres"
  mkdir -p "$pg_dir"
  [ "$(id -u)" = 0 ] && chown postgres "$pg_dir" && chmod 700 "$pg_dir"
  if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
    say "initialising a PostgreSQL cluster in $pg_dir/data"
    as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$pg_dir/initdb.log"
  fi
  as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$pg_dir" start >/dev/null
  say "started PostgreSQL on 127.0.0.1:$pg_port (log $pg_dir/server.log)"
  catalog="postgresql://postgres@127.0.0.1:$pg_port/cocktaildb"
  if ! "$pg_bin/psql" -X -h 127.0.0.1 -p "$pg_port" -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'cocktaildb'" | grep -q 1; then
    "$pg_bin/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -c "CREATE DATABASE cocktaildb"
    say "generating a sample catalog in PostgreSQL: $recipes recipes, $ingredients ingredients (seed $seed)"
    "$bin/catalog-seed" --db "$catalog" --recipes "$recipes" --ingredients "$ingredients" --seed "$seed"
  fi
elif [ ! -f "$catalog" ]; then
  say "generating a sample catalog: $recipes recipes, $ingredients ingredients (seed $seed)"
  "$bin/catalog-seed" --db "$catalog" --recipes "$recipes" --ingredients "$ingredients" --seed "$seed"
fi
if [ ! -s "$token_file" ]; then
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$token_file")
  say "generated a write token in $token_file"
fi
# The event bus runs with CURVE: a key pair per service; each publisher
# admits only its subscriber's public key (docs/operations.md).
keys="$data_dir/bus-keys"
mkdir -p "$keys"
chmod 700 "$keys"
for service in catalog-api analytics-regen analytics-api usage-api; do
  if [ ! -s "$keys/$service.key_secret" ]; then
    "$bin/bus-keygen" --out "$keys/$service" --force >/dev/null
    say "generated the bus key pair of $service in $keys/"
  fi
done

# 3. Start the services.
pids=()
stop_all() {
  trap "" INT TERM  # a second Ctrl-C must not cut the clean stop short
  trap - EXIT
  say "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ "$with_postgres" = 1 ] && [ -f "$data_dir/postgres/data/postmaster.pid" ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$data_dir/postgres/data" -m fast -w stop >/dev/null || true
  fi
  say "stopped"
}
trap "stop_all; exit 0" INT TERM
trap stop_all EXIT

start() {  # name, command...
  local name=$1; shift
  "$@" >>"$data_dir/logs/$name.log" 2>&1 &
  pids+=($!)
  say "started $name (pid $!, log $data_dir/logs/$name.log)"
}

start catalog-api "$bin/catalog-api" --db "$catalog" --http "$host:$catalog_port" \
  --pub "tcp://$host:$catalog_pub" --token-file "$token_file" \
  --bus-key-file "$keys/catalog-api.key_secret" --bus-authorized-keys "$keys/analytics-regen.key"
start analytics-regen "$bin/analytics-regen" --db "$catalog" --analytics-path "$data_dir/analytics" \
  --http "$host:$regen_port" --sub "tcp://$host:$catalog_pub" --pub "tcp://$host:$regen_pub" \
  --token-file "$token_file" \
  --bus-key-file "$keys/analytics-regen.key_secret" --bus-server-key "$keys/catalog-api.key" \
  --bus-authorized-keys "$keys/analytics-api.key" \
  --repair-sub "tcp://$host:$api_pub" --repair-server-key "$keys/analytics-api.key"
# The dashboard (served by analytics-api) posts usage events to usage-api and
# draws its roll-ups, cross-origin: analytics-api tells the page where it is.
# analytics-api also publishes analytics.repair (a file that failed
# verification) for analytics-regen only.
start analytics-api "$bin/analytics-api" --db "$catalog" --analytics-path "$data_dir/analytics" \
  --http "$host:$api_port" --sub "tcp://$host:$regen_pub" --usage-api-url "http://$host:$usage_port" \
  --pub "tcp://$host:$api_pub" \
  --bus-key-file "$keys/analytics-api.key_secret" --bus-server-key "$keys/analytics-regen.key" \
  --bus-authorized-keys "$keys/analytics-regen.key"
# usage.hour has no subscriber in the stack yet: every service of this
# deployment may subscribe (the public keys of the key directory).
start usage-api "$bin/usage-api" --db "$data_dir/usage.db" --http "$host:$usage_port" \
  --pub "tcp://$host:$usage_pub" --cors-origins "http://$host:$api_port,http://localhost:$api_port" \
  --bus-key-file "$keys/usage-api.key_secret" --bus-authorized-keys "$keys"

if [ "$with_prometheus" = 1 ]; then
  mkdir -p "$data_dir/prometheus"
  sed -e "s/catalog-api:8080/$host:$catalog_port/" -e "s/analytics-api:8081/$host:$api_port/" \
      -e "s/analytics-regen:8082/$host:$regen_port/" -e "s/usage-api:8083/$host:$usage_port/" \
      "$root/compose/prometheus/prometheus.yml" > "$data_dir/prometheus/prometheus.yml"
  cp "$root/compose/prometheus/alerts.yml" "$data_dir/prometheus/alerts.yml"
  start prometheus prometheus --config.file="$data_dir/prometheus/prometheus.yml" \
    --storage.tsdb.path="$data_dir/prometheus/data" --web.listen-address="$host:$prom_port"
fi

# 4. Wait until healthy and the first generation is served.
wait_for() {  # description, url, seconds
  local what=$1 url=$2 secs=$3
  for _ in $(seq 1 $((secs * 10))); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { say "a service exited early; see $data_dir/logs/"; exit 1; }
    done
    sleep 0.1
  done
  say "$what did not become ready within ${secs}s; see $data_dir/logs/"
  exit 1
}
wait_for catalog-api "http://$host:$catalog_port/health" 30
wait_for analytics-regen "http://$host:$regen_port/health" 30
wait_for analytics-api "http://$host:$api_port/health" 30
wait_for usage-api "http://$host:$usage_port/health" 30
wait_for "the first generation" "http://$host:$api_port/api/v1/analytics/cocktail-space" 120
[ "$with_prometheus" = 1 ] && wait_for prometheus "http://$host:$prom_port/-/ready" 30

cat <<INFO

cocktaildb-analytics is up.
  dashboard        http://$host:$api_port/                        (open it in a browser: live, no internet needed)
  catalog-api      http://$host:$catalog_port/api/v1/recipes      (writes need the token in $token_file)
  analytics-api    http://$host:$api_port/api/v1/analytics/status
  dashboard feed   http://$host:$api_port/api/v1/analytics/stream  (server-sent events)
  analytics-regen  http://$host:$regen_port/health
  usage-api        http://$host:$usage_port/api/analytics/rollups?hours=24  (usage events, seed 004's API)
$( [ "$with_prometheus" = 1 ] && echo "  prometheus       http://$host:$prom_port/targets" )
  logs             $data_dir/logs/
  bus keys         $keys/  (CURVE; the bus refuses any other key)

Try:
  # 1. a write (the answer carries catalog_seq)
  curl -s -X POST http://$host:$catalog_port/api/v1/ingredients \\
       -H "Authorization: Bearer \$(cat $token_file)" -H 'Content-Type: application/json' \\
       -d '{"name": "Yuzu juice", "parent_id": null}'
  # 2. the read that reflects it (replace N by the catalog_seq returned above)
  curl -s "http://$host:$api_port/api/v1/analytics/ingredient-usage?min_seq=N&wait_ms=5000"
  # 3. the metrics
  curl -s http://$host:$regen_port/metrics | grep cocktail_regen
  # 4. a usage event, and the hour's roll-up
  curl -s -X POST http://$host:$usage_port/api/analytics/track \
       -d '{"event_type": "tool_used", "session_id": "session_1", "tool_name": "Start/Sit"}'
  curl -s "http://$host:$usage_port/api/analytics/rollups?hours=1"

Ctrl-C stops everything.
INFO

# Stay in the foreground until a signal or a child exits.
while :; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then say "a service exited (pid $pid); see $data_dir/logs/"; exit 1; fi
  done
  sleep 1 &
  wait $! || true
done
