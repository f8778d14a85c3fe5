#!/bin/sh
# deploy/image/build-mlworker.sh - compile /src into /build/mlworker for the container
# image: Release, stripped, OpenBLAS from /opt/openblas (static, build-openblas.sh).
# Run by deploy/Dockerfile and deploy/measure-image.sh.
set -eu
export PKG_CONFIG_PATH="/opt/openblas/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build /build --target mlworker -j"$(nproc)" >/dev/null
strip /build/mlworker
if ldd /build/mlworker | grep -q -e openblas -e gfortran; then
    echo "build-mlworker.sh: mlworker links OpenBLAS dynamically" >&2
    exit 1
fi
ls -l /build/mlworker
/build/mlworker version
