#!/usr/bin/env bash
# On the GPU host (torch in /opt/torch/.venv, no Boost/TOML++): unpack the carried Debian packages
# (.debs/, fetched here by tools/fetch-debs.sh) into /opt/deps, configure and build into /tmp/build.
# Then run what is asked: tools/gpu-host.sh [ctest] [gtest <filter> <outfile>] [smoke <outdir>] [bench <spec>]
#   [kernels <outdir>]  (repro-bench-kernels, and bench/peer/compare.py against mamba-ssm when .peer/ was carried
#   by tools/fetch-peer.sh; start `compare.py ... none --build-only` in the background first to overlap its build)
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
    gtest) /tmp/build/tests/repro_tests --gtest_filter="$2" >"$3" 2>&1 || true; grep -E "FAILED|PASSED" "$3" | tail -12; shift 3 ;;
    kernels)
      mkdir -p "$2"
      /tmp/build/repro-bench-kernels --json "$2/kernels.json" 2>&1 | tee "$2/kernels.txt"
      if [ -d .peer ]; then
        PEER_BUILD=/tmp/peer-build; mkdir -p $PEER_BUILD; export PEER_BUILD
        /opt/torch/.venv/bin/python bench/peer/compare.py .peer/mamba_ssm-* /tmp/build/librepro_kernels.so \
          --json "$2/peer.json" 2>&1 | grep -v "^ptxas\|Compiling\|Function properties\|bytes stack" | tail -20 | tee "$2/peer.txt"
      fi
      shift 2 ;;
    *) echo "unknown step $1"; exit 2 ;;
  esac
done
