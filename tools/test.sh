#!/usr/bin/env bash
# The whole test suite: set up, build (tests included), run CTest, then the ASan+UBSan build with its tests
# and the spec fuzzer (tools/sanitize.sh). CUDA tests skip without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
rc=0
ctest --test-dir build --output-on-failure -j "$(nproc)" || rc=$?
bash tools/sanitize.sh || rc=$?
# The reliability tests' numbers (kills survived, corruptions caught, fuzz executions), passed or not.
echo "== reliability summary"
grep -h '^reliability: ' build/Testing/Temporary/LastTest.log build-asan/Testing/Temporary/LastTest.log 2>/dev/null |
  sed 's/^/  /' || true
exit "$rc"
