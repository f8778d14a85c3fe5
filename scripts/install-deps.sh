#!/usr/bin/env bash
# Installs what mlworker needs on Debian 12. Idempotent: skips what is present.
#   scripts/install-deps.sh build   compiler and libraries (make, make demo)
#   scripts/install-deps.sh test    the above plus test peers (make test)
set -euo pipefail
what=${1:-test}

build_pkgs=(build-essential cmake pkg-config
  libsqlite3-dev libpq-dev libcurl4-openssl-dev libssl-dev libcjson-dev
  libutf8proc-dev libmicrohttpd-dev libopenblas-dev)
test_pkgs=(libcmocka-dev valgrind sqlite3 postgresql python3 python3-torch python3-numpy python3-psycopg2 procps time prometheus curl clang libclang-rt-14-dev chromium)
# Node.js may come from another repository (nodesource ships npm inside
# nodejs), so these are checked by command, not by package name.
command -v node >/dev/null 2>&1 || test_pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || test_pkgs+=(npm)

want=("${build_pkgs[@]}")
[ "$what" = test ] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$what" = test ] && [ -f tests/package.json ]; then
  if [ ! -d tests/node_modules ] || [ tests/package.json -nt tests/node_modules ]; then
    echo "install-deps: installing npm test packages"
    (cd tests && npm install --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
    touch tests/node_modules
  fi
fi
