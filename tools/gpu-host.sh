#!/usr/bin/env bash
# On the GPU host (torch in /opt/torch/.venv, no Boost/TOML++): unpack the carried Debian packages
# (.debs/, fetched here by tools/fetch-debs.sh) into /opt/deps, configure and build into /tmp/build.
# Then run what is asked: tools/gpu-host.sh [ctest] [smoke <outdir>] [bench <spec>]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p /opt/deps && for f in .debs/*.deb; do dpkg -x "$f" /opt/deps; done
export LD_LIBRARY_PATH=/opt/deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
TP=$(/opt/torch/.venv/bin/python -c 'import torch;print(torch.utils.cmake_prefix_path)')
if [ ! -f /tmp/build/build.ninja ]; then
  cmake -S . -B /tmp/build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TP;/opt/deps/usr" \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DTOMLPP_INCLUDE_DIR=/opt/deps/usr/include >/tmp/configure.log 2>&1 \
    || { cat /tmp/configure.log; exit 1; }
fi
time cmake --build /tmp/build -j 16 2>&1 | tail -3
while [ $# -gt 0 ]; do
  case $1 in
    ctest) ctest --test-dir /tmp/build --output-on-failure -j 8 2>&1 | tail -25; shift ;;
    smoke)
      out=$2; shift 2
      /tmp/build/repro run paper/smoke.toml --device cuda --store /tmp/store --results "$out/results" \
        --reports "$out/reports" --no-pdf 2>&1 | tail -20 ;;
    bench) /tmp/build/repro-bench-models "$2" --device cuda 2>&1 | tail -20; shift 2 ;;
    *) echo "unknown step $1"; exit 2 ;;
  esac
done
