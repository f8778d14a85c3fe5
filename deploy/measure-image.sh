#!/usr/bin/env bash
# deploy/measure-image.sh - build deploy/Dockerfile's two stages without a Docker engine and
# measure the runtime image.
#
#   sudo deploy/measure-image.sh [WORKDIR]        (default /tmp/mlw-image; about 10 minutes)
#
# Needs root, debootstrap and the Debian mirror. Steps, mirroring the Dockerfile:
#   1. debootstrap --variant=minbase bookworm                     (what debian:12 is made from)
#   2. "slim": the same minbase with what debian:12-slim leaves out (docs, man pages, info,
#      locales; dpkg told to skip them for later packages too), apt lists and caches emptied
#   3. build stage: minbase + BUILD_PACKAGES, deploy/image/build-openblas.sh (kept between
#      runs: delete WORKDIR/build to redo it), the source tree, deploy/image/build-mlworker.sh
#   4. runtime stage: slim + RUNTIME_PACKAGES + user + CA bundle + binary + placeholders
#   5. sizes: each root filesystem as an uncompressed tar stream (a layer's size as the
#      registry and `docker images` count it) and gzip -6 of it (what a pull transfers),
#      plus the same runtime with the libopenblas0 package, for comparison
#   6. smoke test inside the runtime root, as the image's user: version, migrate, run with
#      the endpoints, `mlworker healthcheck`
# The package lists are read from the Dockerfile's ARG lines, so the two cannot drift.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
W=${1:-/tmp/mlw-image}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "apt-get install debootstrap" >&2; exit 1; }

arg() { sed -n "s/^ARG $1=\"\(.*\)\"\$/\1/p" "$SRC/deploy/Dockerfile"; }
BUILD_PACKAGES=$(arg BUILD_PACKAGES)
RUNTIME_PACKAGES=$(arg RUNTIME_PACKAGES)
[ -n "$BUILD_PACKAGES" ] && [ -n "$RUNTIME_PACKAGES" ] || { echo "no package lists" >&2; exit 1; }
mkdir -p "$W"
log() { printf '== %s\n' "$*" >&2; }

in_root() { # in_root ROOT CMD...: run in the root with DNS, /proc and /dev/null
  local r=$1
  shift
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  mountpoint -q "$r/proc" || mount -t proc proc "$r/proc"
  chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root DEBIAN_FRONTEND=noninteractive "$@"
}
release() { mountpoint -q "$1/proc" && umount "$1/proc" || true; }
apt_install() { # apt_install ROOT PACKAGES...
  local r=$1
  shift
  in_root "$r" apt-get update -qq
  in_root "$r" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  in_root "$r" apt-get clean
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/log/apt "$r"/var/log/dpkg.log
}
layer_bytes() { tar --numeric-owner -C "$1" --exclude=./proc/* -cf - . | wc -c; }
gz_bytes() { tar --numeric-owner -C "$1" --exclude=./proc/* -cf - . | gzip -6 | wc -c; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000000 }'; }

# 1. minbase
if [ ! -x "$W/minbase/usr/bin/apt-get" ]; then
  log "debootstrap --variant=minbase bookworm"
  debootstrap --variant=minbase bookworm "$W/minbase" "$MIRROR" >"$W/debootstrap.log"
fi
release "$W/minbase"
rm -f "$W"/minbase/var/cache/apt/archives/*.deb

# 2. slim (debuerreotype's --slimify, as the debian:*-slim images are made)
log "slim root"
rm -rf "$W/slim"
cp -a "$W/minbase" "$W/slim"
cat >"$W/slim/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
find "$W/slim/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$W/slim/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$W"/slim/usr/share/{groff,info,linda,locale,man}/* "$W"/slim/usr/share/lintian/overrides/*
rm -rf "$W"/slim/var/lib/apt/lists/* "$W"/slim/var/cache/apt/*.bin "$W"/slim/var/cache/apt/archives/*.deb \
       "$W"/slim/var/log/apt "$W"/slim/var/log/dpkg.log "$W"/slim/var/log/bootstrap.log

# 3. build stage (the Dockerfile's RUN steps are these two scripts)
if [ ! -x "$W/build/usr/bin/cmake" ]; then
  log "build stage: $BUILD_PACKAGES"
  rm -rf "$W/build"
  cp -a "$W/minbase" "$W/build"
  apt_install "$W/build" $BUILD_PACKAGES
fi
cp "$SRC/deploy/image/build-openblas.sh" "$SRC/deploy/image/build-mlworker.sh" "$W/build/usr/local/bin/"
if [ ! -f "$W/build/opt/openblas/lib/libopenblas.a" ]; then
  log "build stage: OpenBLAS from Debian's source package (about 10 minutes)"
  in_root "$W/build" build-openblas.sh /opt/openblas
fi
log "build stage: mlworker"
rm -rf "$W/build/src" "$W/build/build"
mkdir -p "$W/build/src"
cp -a "$SRC/CMakeLists.txt" "$SRC/cmake" "$SRC/data" "$SRC/src" "$W/build/src/"
in_root "$W/build" build-mlworker.sh
release "$W/build"

# 4. runtime stage
log "runtime stage: $RUNTIME_PACKAGES"
rm -rf "$W/runtime"
cp -a "$W/slim" "$W/runtime"
apt_install "$W/runtime" $RUNTIME_PACKAGES
in_root "$W/runtime" groupadd --system --gid 10001 mlworker
in_root "$W/runtime" useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/mlworker \
  --create-home --shell /usr/sbin/nologin mlworker
release "$W/runtime"
rm -f "$W/runtime/etc/resolv.conf"
mkdir -p "$W/runtime/etc/ssl/certs" "$W/runtime/opt/mlworker/model" "$W/runtime/opt/mlworker/loinc"
cp "$W/build/etc/ssl/certs/ca-certificates.crt" "$W/runtime/etc/ssl/certs/"
install -m 0755 "$W/build/build/mlworker" "$W/runtime/usr/local/bin/mlworker"
cp "$SRC/deploy/image/no-model/"* "$W/runtime/opt/mlworker/model/"
cp "$SRC/deploy/image/no-loinc-index/"* "$W/runtime/opt/mlworker/loinc/"

# 5. sizes
log "measuring"
rm -rf "$W/runtime-dyn"
cp -a "$W/runtime" "$W/runtime-dyn"
apt_install "$W/runtime-dyn" libopenblas0
release "$W/runtime-dyn"
rm -f "$W/runtime-dyn/etc/resolv.conf"
SLIM=$(layer_bytes "$W/slim")
RUNTIME=$(layer_bytes "$W/runtime")
RUNTIME_GZ=$(gz_bytes "$W/runtime")
DYN=$(layer_bytes "$W/runtime-dyn")
BIN=$(stat -c %s "$W/runtime/usr/local/bin/mlworker")
{
  echo "debian:12-slim (emulated) root:         $(mb "$SLIM") MB"
  echo "runtime packages, user, CA bundle:      $(mb $((RUNTIME - SLIM - BIN))) MB"
  echo "mlworker binary (stripped, static BLAS): $(mb "$BIN") MB"
  echo "image, uncompressed (sum of layers):     $(mb "$RUNTIME") MB"
  echo "image, gzip -6 (what a pull transfers):  $(mb "$RUNTIME_GZ") MB"
  echo "same with the libopenblas0 package:      $(mb "$DYN") MB (+$(mb $((DYN - RUNTIME))) MB)"
} | tee "$W/sizes.txt"

# 6. smoke test as the image's user
log "smoke test in the runtime root"
run_as() { in_root "$W/runtime" setpriv --reuid=10001 --regid=10001 --init-groups \
  env HOME=/var/lib/mlworker ML_WORKER_HTTP_ADDR=127.0.0.1:19090 "$@"; }
run_as sh -c 'cd /var/lib/mlworker && /usr/local/bin/mlworker version &&
  DATABASE_URL=sqlite:///var/lib/mlworker/smoke.db /usr/local/bin/mlworker migrate >/dev/null &&
  (DATABASE_URL=sqlite:///var/lib/mlworker/smoke.db ML_WORKER_POLL_INTERVAL=0.5 \
     /usr/local/bin/mlworker run >/var/lib/mlworker/run.log 2>&1 & echo $! >/var/lib/mlworker/pid) &&
  i=0; until /usr/local/bin/mlworker healthcheck >/dev/null 2>&1 || [ $i -ge 50 ]; do
    sleep 0.2; i=$((i+1)); done &&
  /usr/local/bin/mlworker healthcheck && /usr/local/bin/mlworker healthcheck /readyz &&
  kill -TERM "$(cat /var/lib/mlworker/pid)" && sleep 1 && tail -n 2 /var/lib/mlworker/run.log &&
  id'
release "$W/runtime"
rm -f "$W"/runtime/var/lib/mlworker/{smoke.db*,run.log,pid} "$W/runtime/etc/resolv.conf"
log "done: $W/sizes.txt"
