#!/usr/bin/env bash
# Soak (opt-in, not part of ctest): the whole stack under writes, reads,
# server-sent event clients and a SIGKILL of one service every 30 s in turn,
# for 10 minutes; one line every 10 s with each process's RSS, open fds and
# threads, the disk use, and acknowledged writes lost; at the end, the
# convergence, every acknowledged write looked up, clean SIGTERM exits, and
# RSS / fd growth per process lifetime. Exit 1 on a lost write, no
# convergence, or an unclean stop. See tests/bench/soak.py for the details.
#
#   tests/bench/soak.sh                 # 10 minutes
#   tests/bench/soak.sh --short         # 90 s, a kill every 10 s
#   tests/bench/soak.sh --seconds 300 --write-rate 50 --sse 32
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
for b in catalog-seed catalog-api analytics-regen analytics-api usage-api bus-keygen; do
  [[ -x $build/bin/$b ]] || { echo "missing $build/bin/$b: cmake --build $build" >&2; exit 1; }
done
echo "# $(date -u +%FT%TZ) $(nproc) cores, load before:$(uptime | sed 's/.*load average://')"
status=0
python3 "$root/tests/bench/soak.py" --bin-dir "$build/bin" "$@" || status=$?
echo "# load after:$(uptime | sed 's/.*load average://')"
exit $status
