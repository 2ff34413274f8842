#!/usr/bin/env bash
# Checks that every C++ file of the tree is formatted as .clang-format says
# (clang-format --dry-run -Werror); exits non-zero and lists the files that
# are not. See docs/testing.md.
#
#   tests/format.sh              check the whole tree
#   tests/format.sh --fix        reformat the files in place instead
#   tests/format.sh <file> ...   only these files
#
# Environment: FORMAT_BASE=<commit> checks only the files changed since that
# commit; CLANG_FORMAT picks the binary (default clang-format).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

clang_format=${CLANG_FORMAT:-clang-format}
fix=0
if [ "${1:-}" = "--fix" ]; then
  fix=1
  shift
fi

files=()
if [ $# -gt 0 ]; then
  files=("$@")
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  if [ -n "${FORMAT_BASE:-}" ]; then
    mapfile -t files < <(git diff --name-only --diff-filter=ACMR "$FORMAT_BASE" -- '*.cc' '*.h' '*.cpp' '*.hpp')
  else
    mapfile -t files < <(git ls-files -- '*.cc' '*.h' '*.cpp' '*.hpp')
  fi
else
  # Not a git checkout (an exported tree): every C++ file outside build and dependency folders.
  mapfile -t files < <(find . \( -path './build*' -o -path './var' -o -path '*/node_modules' \) -prune -o \
                         -type f \( -name '*.cc' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) -print | sort)
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "format: no C++ files to check"
  exit 0
fi

if [ "$fix" = 1 ]; then
  printf '%s\0' "${files[@]}" | xargs -0 -n 32 -P "$(nproc)" "$clang_format" -i
  echo "format: reformatted ${#files[@]} files"
  exit 0
fi

# One clang-format per batch of files, in parallel; each lists its own findings.
if ! out=$(printf '%s\0' "${files[@]}" |
           xargs -0 -n 32 -P "$(nproc)" "$clang_format" --dry-run -Werror 2>&1); then
  printf '%s\n' "$out" | head -n 60
  echo "format: these files differ from .clang-format (fix with tests/format.sh --fix):" >&2
  printf '%s\n' "$out" | grep -oE '^[^:]+\.(cc|h|cpp|hpp):' | sort -u | sed 's/:$//; s/^/  /' >&2
  exit 1
fi
echo "format: ${#files[@]} files clean ($("$clang_format" --version | grep -oE '[0-9]+\.[0-9.]+' | head -1))"
