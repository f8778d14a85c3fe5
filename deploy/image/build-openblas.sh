#!/bin/sh
# deploy/image/build-openblas.sh PREFIX - OpenBLAS for the container image, built from
# Debian's own source package (the version libopenblas-dev has) as a static library with
# BLAS only (no LAPACK: mlworker calls cblas_* only) and kernels for the CPUs Fargate
# runs on, the oldest of them as the fallback. Linked into mlworker it adds about 6 MB,
# against 26 MB for Debian's static archive (kernels for 21 CPU families) and 47 MB for the
# libopenblas0-pthread package plus libgfortran5 (docs/deployment.md).
# Run by deploy/Dockerfile and deploy/measure-image.sh, as root in a Debian 12 root with
# build-essential.
set -eu
prefix=${1:-/opt/openblas}
case "$(dpkg --print-architecture)" in
amd64) target=PRESCOTT list="PRESCOTT HASWELL SKYLAKEX ZEN" ;;
arm64) target=ARMV8 list="ARMV8 NEOVERSEN1 NEOVERSEV1" ;;
*) echo "build-openblas.sh: no CPU list for $(dpkg --print-architecture)" >&2; exit 1 ;;
esac
if ! grep -rqs '^deb-src\|^Types:.*deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb-src http://deb.debian.org/debian bookworm main" >/etc/apt/sources.list.d/deb-src.list
fi
apt-get update -qq
work=$(mktemp -d)
cd "$work"
apt-get source -qq openblas >/dev/null 2>&1
cd openblas-*/
set -- DYNAMIC_ARCH=1 "DYNAMIC_LIST=$list" "TARGET=$target" NO_LAPACK=1 NO_LAPACKE=1 NOFORTRAN=1 \
    NO_SHARED=1 USE_OPENMP=0 USE_THREAD=1 NUM_THREADS=64
if ! make -j"$(nproc)" "$@" libs >"$work/make.log" 2>&1; then
    tail -n 40 "$work/make.log" >&2
    exit 1
fi
make "$@" PREFIX="$prefix" install >"$work/install.log" 2>&1 || { tail -n 40 "$work/install.log" >&2; exit 1; }
cd /
rm -rf "$work" /var/lib/apt/lists/*
ls -l "$prefix/lib/libopenblas.a"
