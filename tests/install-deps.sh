#!/usr/bin/env bash
# Installs the Debian packages listed in debian-packages.txt that are missing.
#   tests/install-deps.sh build runtime test   (sections to install; default all)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(build runtime test)

wanted=()
section=""
while IFS= read -r line; do
  case "$line" in
    "# section: "*) section=${line#"# section: "}; continue ;;
    ""|"#"*) continue ;;
  esac
  for s in "${sections[@]}"; do
    [ "$s" = "$section" ] && wanted+=("$line")
  done
done < "$root/debian-packages.txt"

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages and not root: run as root or install them: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
