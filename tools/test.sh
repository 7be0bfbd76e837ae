#!/usr/bin/env bash
# The whole test suite: set up, build (tests included), run CTest. CUDA tests skip without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
