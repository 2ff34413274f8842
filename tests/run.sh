#!/usr/bin/env bash
# The CI run (.ci/run calls it): installs what is missing (Debian 12, as
# root), then runs the stages below in order. A failing stage fails the run
# (exit non-zero); the run stops at the first failure unless KEEP_GOING=1.
# Each stage prints its time, and a summary ends the run. docs/testing.md
# says what each stage covers and how long it takes.
#
# Stages:
#   format   clang-format --dry-run -Werror over every C++ file (tests/format.sh)
#   tidy     clang-tidy over the C++ files changed since tests/tidy-base (tests/tidy.sh)
#   release  release build (-Werror), every ctest label: unit, integration, e2e, corpus
#   asan     address + undefined-behaviour sanitizers (preset asan), labels unit and integration
#   tsan     thread sanitizer (preset tsan), labels unit and integration
#   fuzz     libFuzzer targets (preset fuzz), each for FUZZ_SECONDS (tests/fuzz/run.sh)
#
# Environment:
#   STAGES="format release"   run only these stages (default: all, in the order above)
#   SKIP_STAGES="tsan fuzz"   leave these out
#   KEEP_GOING=1              run the remaining stages after a failure (the run still fails)
#   PRESET=asan               as before: only the build-and-test stage of that preset
#   BUILD_DIR=build           the release stage's build directory (others: build-<stage>)
#   JOBS=N                    build parallelism (default: nproc)
#   CTEST_JOBS=N              tests run at once (default 2)
#   CTEST_ARGS="-L unit"      more ctest arguments for the release stage
#   SANITIZER_LABELS=regex    ctest labels of the asan and tsan stages (default unit|integration)
#   SANITIZER_CTEST_ARGS=...  more ctest arguments for the asan and tsan stages
#   TIDY_ALL=1                the tidy stage checks the whole tree (about 7 minutes on 2 cores)
#   TIDY_JOBS=N               clang-tidy processes at once (default: nproc)
#   FUZZ_SECONDS=45, FUZZ_LONG=1, FUZZ_JOBS, FUZZ_ARGS   see tests/fuzz/run.sh
#   COCKTAIL_REQUIRE_POSTGRES=0  let the PostgreSQL suites skip (default 1: they must run)
#   CCACHE_DIR                the compiler cache (default ~/.cache/ccache); CCACHE_DISABLE=1 for a cold build
#
#   tests/run.sh                                   the whole CI run
#   STAGES=release CTEST_ARGS="-L unit" tests/run.sh   a quick subset
#   STAGES=tsan SANITIZER_CTEST_ARGS="-R http" tests/run.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

all_stages=(format tidy release asan tsan fuzz)

"$root/tests/install-deps.sh" build runtime test ci

jobs=${JOBS:-$(nproc)}
ctest_jobs=${CTEST_JOBS:-2}
# The PostgreSQL suites start their own server (tests/support/postgres_server.h);
# postgresql is installed above, so they must run rather than skip.
export COCKTAIL_REQUIRE_POSTGRES=${COCKTAIL_REQUIRE_POSTGRES:-1}
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
  export CCACHE_BASEDIR="$root"
  export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
fi

# ---- Which stages run.
if [ -n "${PRESET:-}" ]; then
  case "$PRESET" in
    asan | tsan | fuzz) stages=("$PRESET") ;;
    *) stages=(release) ;;
  esac
elif [ -n "${STAGES:-}" ]; then
  read -r -a stages <<<"${STAGES//,/ }"
else
  stages=("${all_stages[@]}")
fi
for s in "${stages[@]}"; do
  [[ " ${all_stages[*]} " == *" $s "* ]] || { echo "unknown stage '$s' (stages: ${all_stages[*]})" >&2; exit 2; }
done
if [ -n "${SKIP_STAGES:-}" ]; then
  read -r -a skip <<<"${SKIP_STAGES//,/ }"
  kept=()
  for s in "${stages[@]}"; do
    [[ " ${skip[*]} " == *" $s "* ]] || kept+=("$s")
  done
  stages=("${kept[@]}")
fi

# ---- The stages.

configure_and_build() {  # <preset> <build dir> [cmake --build args...]
  local preset=$1 dir=$2
  shift 2
  cmake --preset "$preset" -B "$dir" -DCOCKTAIL_WERROR=ON >/dev/null
  cmake --build "$dir" -j "$jobs" "$@"
}

stage_format() {
  tests/format.sh
}

# The files changed since the last commit whose whole tree was checked clean
# (recorded in tests/tidy-base): the whole tree costs about 14 CPU-minutes.
# TIDY_ALL=1 checks everything. Until a base is recorded the stage only says so.
stage_tidy() {
  if [ "${TIDY_ALL:-0}" = 1 ]; then
    tests/tidy.sh
  elif [ -s tests/tidy-base ] && git cat-file -e "$(cat tests/tidy-base)^{commit}" 2>/dev/null; then
    tests/tidy.sh --since "$(git merge-base HEAD "$(cat tests/tidy-base)")"
  elif [ -s tests/tidy-base ]; then
    # A clone without that commit (shallow): check everything.
    echo "tidy: $(cat tests/tidy-base) is not in this clone: checking the whole tree"
    tests/tidy.sh
  else
    echo "tidy: no tests/tidy-base recorded yet: nothing checked (TIDY_ALL=1 checks the whole tree)"
  fi
}

stage_release() {
  local dir=${BUILD_DIR:-build}
  configure_and_build "${PRESET:-release}" "$dir"
  # Tests start real processes and bind loopback ports; two at a time keeps a
  # 2-core machine responsive without serialising everything.
  # shellcheck disable=SC2086
  ctest --test-dir "$dir" --output-on-failure -j "$ctest_jobs" ${CTEST_ARGS:-}
}

# Sanitizer reports go to files rather than to stderr, so that a report from
# a service process a test started (whose stderr the test keeps to itself)
# is seen too: any report fails the stage.
sanitizer_stage() {  # <preset>
  local preset=$1 dir="build-$1"
  configure_and_build "$preset" "$dir"
  local reports="$root/$dir/sanitizer-reports"
  rm -rf "$reports"
  mkdir -p "$reports"
  local status=0
  if [ "$preset" = tsan ]; then
    # halt_on_error=0: every race of a process is reported, and it still
    # exits non-zero (66) at the end.
    export TSAN_OPTIONS="log_path=$reports/tsan:suppressions=$root/tests/sanitizers/tsan.supp:second_deadlock_stack=1:halt_on_error=0${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
  else
    # One log_path for both: the runtimes share it (the last one set wins).
    export ASAN_OPTIONS="log_path=$reports/asan-ubsan:detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export UBSAN_OPTIONS="log_path=$reports/asan-ubsan:print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  fi
  # shellcheck disable=SC2086
  ctest --test-dir "$dir" --output-on-failure -j "$ctest_jobs" -L "${SANITIZER_LABELS:-unit|integration}" \
    ${SANITIZER_CTEST_ARGS:-} || status=1
  if compgen -G "$reports/*" >/dev/null; then
    echo "$preset: sanitizer reports in $reports:" >&2
    for f in "$reports"/*; do
      echo "---- $f" >&2
      head -n 80 "$f" >&2
    done
    status=1
  fi
  return $status
}

stage_asan() { sanitizer_stage asan; }
stage_tsan() { sanitizer_stage tsan; }

stage_fuzz() {
  configure_and_build fuzz build-fuzz --target fuzz_targets
  FUZZ_BUILD_DIR=build-fuzz tests/fuzz/run.sh
}

# ---- Run them, timing each.
summary=()
failed=()
run_start=$(date +%s)
for s in "${stages[@]}"; do
  echo "==== stage $s"
  start=$(date +%s)
  # A subshell that is not the condition of an `if`, so that `set -e` holds
  # inside the stage: its first failing command fails it.
  set +e
  (
    set -e
    "stage_$s"
  )
  rc=$?
  set -e
  if [ $rc -eq 0 ]; then
    result=ok
  else
    result=FAILED
    failed+=("$s")
  fi
  took=$(($(date +%s) - start))
  summary+=("$(printf '%-8s %-6s %4dm%02ds' "$s" "$result" $((took / 60)) $((took % 60)))")
  echo "==== stage $s: $result in $((took / 60))m$((took % 60))s"
  if [ "$result" = FAILED ] && [ "${KEEP_GOING:-0}" != 1 ]; then
    break
  fi
done
total=$(($(date +%s) - run_start))

echo "==== summary ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%s\n' "${summary[@]}"
printf '%-8s %-6s %4dm%02ds\n' total '' $((total / 60)) $((total % 60))
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed stages: ${failed[*]}" >&2
  exit 1
fi
