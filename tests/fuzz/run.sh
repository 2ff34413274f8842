#!/usr/bin/env bash
# Runs the libFuzzer targets of a fuzz build (cmake --preset fuzz) for a
# bounded time each; exits non-zero when any of them finds a crash, a leak,
# a hang or a broken property. See docs/testing.md.
#
#   tests/fuzz/run.sh [target ...]        every target listed in <build>/fuzz-targets.txt, or those named
#
# Environment:
#   FUZZ_BUILD_DIR  the fuzz build (default build-fuzz)
#   FUZZ_SECONDS    how long each target runs (default 45)
#   FUZZ_LONG=1     a long run: FUZZ_SECONDS defaults to 1800 instead
#   FUZZ_JOBS       libFuzzer worker processes per target (default 1; -fork=N above 1)
#   FUZZ_PARALLEL   targets fuzzed at once (default: cores / FUZZ_JOBS)
#   FUZZ_MERGE=1    afterwards, add the inputs that found new coverage to the
#                   committed seed corpus (minimised with -merge=1): review and commit them
#   FUZZ_ARGS       more libFuzzer flags, e.g. "-only_ascii=1"
#
# Inputs found in a run are kept in <build>/fuzz-corpus/<target> (so repeated
# local runs build on each other); crash reproducers land in
# <build>/fuzz-artifacts/<target>/, and the command that replays one is printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
if [ "${FUZZ_LONG:-0}" = 1 ]; then
  seconds=${FUZZ_SECONDS:-1800}
else
  seconds=${FUZZ_SECONDS:-45}
fi
jobs=${FUZZ_JOBS:-1}
list="$build_dir/fuzz-targets.txt"
if [ ! -f "$list" ]; then
  echo "no $list: configure and build the fuzz preset first" >&2
  echo "  cmake --preset fuzz && cmake --build --preset fuzz" >&2
  exit 2
fi

# UBSan findings abort (the build also says -fno-sanitize-recover); leaks count.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One target: fuzz it, report, merge on request. Exit status: 0 or 1.
fuzz_target() {  # <name> <binary> <corpus> <dict> <max_len>
  local name=$1 binary=$2 corpus=$3 dict=$4 max_len=$5
  local work="$build_dir/fuzz-corpus/$name" artifacts="$build_dir/fuzz-artifacts/$name"
  local log="$build_dir/fuzz-$name.log" start stats
  mkdir -p "$work" "$artifacts"
  local args=(-max_total_time="$seconds" -max_len="$max_len" -timeout=30 -rss_limit_mb=2048
              -print_final_stats=1 -artifact_prefix="$artifacts/")
  [ "$dict" = "-" ] || args+=(-dict="$dict")
  [ "$jobs" -le 1 ] || args+=(-fork="$jobs")
  # shellcheck disable=SC2206
  args+=(${FUZZ_ARGS:-})
  echo "fuzz: $name for ${seconds}s (log: $log)"
  start=$(date +%s)
  # The first directory receives new inputs; the seed corpus is only read.
  if ! "$binary" "${args[@]}" "$work" "$corpus" >"$log" 2>&1; then
    {
      echo "fuzz: $name FAILED; the end of its log:"
      tail -n 60 "$log"
      for crash in "$artifacts"/*; do
        [ -e "$crash" ] && echo "fuzz: reproduce with: $binary $crash"
      done
    } >&2
    return 1
  fi
  stats=$(grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$log" |
          sed 's/^stat:://' | tr -d ' ' | paste -sd' ' -)
  echo "fuzz: $name ok in $(( $(date +%s) - start ))s: $stats"
  if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    "$binary" -merge=1 -max_len="$max_len" "$corpus" "$work" >>"$log" 2>&1
    echo "fuzz: $name merged new inputs into $corpus (review with git status)"
  fi
}

# Targets run FUZZ_PARALLEL at a time (default: one per core, each worker
# process using one core), so the stage takes about
# FUZZ_SECONDS x targets / FUZZ_PARALLEL.
parallel=${FUZZ_PARALLEL:-$(( $(nproc) / jobs > 0 ? $(nproc) / jobs : 1 ))}
status_dir=$(mktemp -d)
trap 'rm -rf "$status_dir"' EXIT
ran=0
while read -r name binary corpus dict max_len; do
  [ -n "$name" ] || continue
  if [ $# -gt 0 ] && [[ ! " $* " == *" $name "* ]]; then
    continue
  fi
  ran=$((ran + 1))
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do
    wait -n || true
  done
  ( fuzz_target "$name" "$binary" "$corpus" "$dict" "$max_len" || touch "$status_dir/$name" ) </dev/null &
done < "$list"
wait
failed=()
for f in "$status_dir"/*; do
  [ -e "$f" ] && failed+=("$(basename "$f")")
done

if [ "$ran" -eq 0 ]; then
  echo "fuzz: no target matched: $*" >&2
  exit 2
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]}" >&2
  exit 1
fi
