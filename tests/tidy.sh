#!/usr/bin/env bash
# Runs clang-tidy (the checks of .clang-tidy) over the project's own sources,
# libs/, services/ and tests/, as a build's compile_commands.json compiles
# them, several files at a time. Headers are checked through the files that
# include them (every header under libs/, services/ and tests/). Prints each
# finding once, a count per check and the time taken; exits non-zero on any
# finding. See docs/testing.md.
#
#   tests/tidy.sh                       the whole tree
#   tests/tidy.sh --since <commit>      only what changed since <commit> (see below)
#   tests/tidy.sh <path> ...            only these files, or the files under these folders
#   tests/tidy.sh --fix [...]           apply the checks' fixes, then clang-format the files they touched
#   tests/tidy.sh --list [...]          only print the files that would be checked
#   tests/tidy.sh --checks '-*,readability-braces-around-statements' --fix libs/core
#                                       only some checks (a clang-tidy -checks glob, added to .clang-tidy's)
#
# --since <commit> checks the .cc files changed since <commit> (committed or
# not) and, for each changed header, one file that includes it: the .cc of the
# same name if it does, else the first one found. A header's own findings are
# reported through any file that includes it, so that is enough to check it.
# When .clang-tidy itself changed, it checks the whole tree.
#
# Environment:
#   TIDY_BUILD_DIR=build   where compile_commands.json is; configured with the
#                          release preset when it is missing (no build needed)
#   TIDY_JOBS=N            clang-tidy processes at once (default: nproc)
#   CLANG_TIDY, CLANG_APPLY_REPLACEMENTS, CLANG_FORMAT   the binaries (default: the -14 ones)
#
# --fix exits 0 once the fixes are applied (and non-zero only when a file did
# not compile); run the script again to see what is left.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

pick() {  # the first of these programs that exists
  local p
  for p in "$@"; do
    if command -v "$p" >/dev/null 2>&1; then
      echo "$p"
      return
    fi
  done
  echo "$1"
}
clang_tidy=${CLANG_TIDY:-$(pick clang-tidy-14 clang-tidy)}
apply_replacements=${CLANG_APPLY_REPLACEMENTS:-$(pick clang-apply-replacements-14 clang-apply-replacements)}
clang_format=${CLANG_FORMAT:-$(pick clang-format-14 clang-format)}
build=${TIDY_BUILD_DIR:-build}
jobs=${TIDY_JOBS:-$(nproc)}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

since=""
fix=0
list=0
checks=""
paths=()
while [ $# -gt 0 ]; do
  case "$1" in
    --since) [ $# -ge 2 ] || usage; since=$2; shift 2 ;;
    --since=*) since=${1#--since=}; shift ;;
    --fix) fix=1; shift ;;
    --list) list=1; shift ;;
    --checks) [ $# -ge 2 ] || usage; checks=$2; shift 2 ;;
    --checks=*) checks=${1#--checks=}; shift ;;
    -h | --help) usage ;;
    -*) echo "tidy: unknown option $1" >&2; usage ;;
    *) paths+=("${1%/}"); shift ;;
  esac
done

command -v "$clang_tidy" >/dev/null 2>&1 ||
  { echo "tidy: $clang_tidy not found: install clang-tidy (tests/install-deps.sh ci)" >&2; exit 2; }
if [ ! -f "$build/compile_commands.json" ]; then
  echo "tidy: configuring $build (preset release) for its compile_commands.json"
  cmake --preset release -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
fi
build=$(cd "$build" && pwd)
start=$(date +%s)

# ---- The files to check: those of the compilation database under libs/,
# services/ and tests/, as paths relative to the root (sorted).
mapfile -t compiled < <(sed -n 's/^ *"file": "\(.*\)",\{0,1\}$/\1/p' "$build/compile_commands.json" |
                          sed "s#^$root/##" | grep -E '^(libs|services|tests)/' | sort -u)

in_paths() {  # <file>: is it one of the paths given (or under one)?
  local p
  [ ${#paths[@]} -eq 0 ] && return 0
  for p in "${paths[@]}"; do
    p=${p#./}
    [[ "$1" == "$p" || "$1" == "$p/"* ]] && return 0
  done
  return 1
}

files=()
if [ -n "$since" ]; then
  git rev-parse --verify --quiet "$since^{commit}" >/dev/null ||
    { echo "tidy: $since is not a commit" >&2; exit 2; }
  if ! git diff --quiet "$since" -- .clang-tidy; then
    echo "tidy: .clang-tidy changed since $since: checking the whole tree"
    since=""
  fi
fi
if [ -n "$since" ]; then
  declare -A wanted=()
  mapfile -t changed < <(git diff --name-only --diff-filter=ACMR "$since" -- \
                           'libs/*' 'services/*' 'tests/*' | grep -E '\.(cc|cpp|h|hpp)$' || true)
  declare -A is_compiled=()
  for f in "${compiled[@]}"; do is_compiled[$f]=1; done
  for f in "${changed[@]}"; do
    case "$f" in
      *.cc | *.cpp) [ -n "${is_compiled[$f]:-}" ] && wanted[$f]=1 ;;
      *)
        # How the header is included: its path after include/, or its own name.
        if [[ "$f" == */include/* ]]; then name=${f##*/include/}; else name=${f##*/}; fi
        mapfile -t includers < <(printf '%s\n' "${compiled[@]}" |
                                   xargs grep -lF "#include \"$name\"" 2>/dev/null || true)
        if [ ${#includers[@]} -eq 0 ]; then
          echo "tidy: no compiled file includes $f: not checked" >&2
          continue
        fi
        stem=${f##*/}
        stem=${stem%.*}
        pickd=${includers[0]}
        for inc in "${includers[@]}"; do
          [[ "$inc" == */"$stem".cc ]] && { pickd=$inc; break; }
        done
        wanted[$pickd]=1
        ;;
    esac
  done
  for f in "${compiled[@]}"; do
    [ -n "${wanted[$f]:-}" ] && in_paths "$f" && files+=("$f")
  done
else
  for f in "${compiled[@]}"; do
    in_paths "$f" && files+=("$f")
  done
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "tidy: no files to check${since:+ (nothing changed since $since)}"
  exit 0
fi
if [ "$list" = 1 ]; then
  printf '%s\n' "${files[@]}"
  exit 0
fi

# ---- Run clang-tidy, one process per file, $jobs at a time. Each writes its
# own output file, so that parallel runs never interleave.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/out" "$tmp/fixes"
echo "tidy: ${#files[@]} files, $jobs at a time ($("$clang_tidy" --version | grep -oE '[0-9]+\.[0-9.]+' | head -1))"

# Project headers only, anchored at the root so that the build folders and
# system headers never match (.clang-tidy's HeaderFilterRegex is the same,
# unanchored, for editors).
header_filter="^$root/(libs|services|tests)/"
export TIDY_BIN="$clang_tidy" TIDY_BUILD="$build" TIDY_TMP="$tmp" TIDY_FIX="$fix" TIDY_CHECKS="$checks" \
       TIDY_HEADER_FILTER="$header_filter"
run_one() {  # <index> <file>
  local args=(-p "$TIDY_BUILD" --quiet "--header-filter=$TIDY_HEADER_FILTER"
              --extra-arg=-Wno-unknown-warning-option)
  [ -n "$TIDY_CHECKS" ] && args+=("--checks=$TIDY_CHECKS")
  [ "$TIDY_FIX" = 1 ] && args+=("--export-fixes=$TIDY_TMP/fixes/$1.yaml")
  local rc=0
  "$TIDY_BIN" "${args[@]}" "$2" >"$TIDY_TMP/out/$1.txt" 2>"$TIDY_TMP/out/$1.err" || rc=$?
  if [ $rc -ne 0 ]; then
    echo "$2" >"$TIDY_TMP/out/$1.failed"
  fi
  return 0
}
export -f run_one
for i in "${!files[@]}"; do
  printf '%s\0%s\0' "$(printf '%04d' "$i")" "${files[$i]}"
done | xargs -0 -n 2 -P "$jobs" bash -c 'run_one "$@"' _

# ---- Gather: each finding once (a header's come from every file including
# it), paths relative to the root, in file order.
for i in "${!files[@]}"; do
  cat "$tmp/out/$(printf '%04d' "$i").txt"
done | sed "s#^$root/##" | awk '
  /^[^ ]+:[0-9]+:[0-9]+: (warning|error): / { keep = !seen[$0]++ }
  keep' >"$tmp/findings.txt"
cat "$tmp/findings.txt"

failed=()
for f in "$tmp"/out/*.failed; do
  [ -e "$f" ] || continue
  failed+=("$(cat "$f")")
  # What clang-tidy said on stderr, less its counts of suppressed warnings.
  grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^$' \
    "${f%.failed}.err" >&2 || true
done

count=$(grep -cE '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' "$tmp/findings.txt" || true)
took=$(($(date +%s) - start))
if [ "$count" -gt 0 ]; then
  echo "tidy: findings per check:"
  grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' "$tmp/findings.txt" |
    grep -oE '\[[a-z0-9.,-]+\]$' | tr -d '[]' | tr ',' '\n' | sort | uniq -c | sort -rn
fi

if [ "$fix" = 1 ]; then
  if compgen -G "$tmp/fixes/*.yaml" >/dev/null; then
    # Which files the fixes touch (the YAML lists each replacement's file).
    mapfile -t touched < <(cat "$tmp"/fixes/*.yaml | sed -n "s#^ *FilePath: *'\{0,1\}\([^']*\)'\{0,1\}\$#\1#p" |
                             sort -u | grep "^$root/" || true)
    "$apply_replacements" "$tmp/fixes"
    if [ ${#touched[@]} -gt 0 ]; then
      "$clang_format" -i "${touched[@]}"
      echo "tidy: fixed and reformatted ${#touched[@]} files:"
      printf '  %s\n' "${touched[@]#"$root/"}"
    fi
  fi
  echo "tidy: $count findings in ${#files[@]} files, ${took}s; fixes applied where the checks have one"
  [ ${#failed[@]} -eq 0 ] || { echo "tidy: clang-tidy failed on: ${failed[*]}" >&2; exit 1; }
  exit 0
fi

echo "tidy: $count findings in ${#files[@]} files, ${took}s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "tidy: clang-tidy failed on: ${failed[*]}" >&2
  exit 1
fi
[ "$count" -eq 0 ]
