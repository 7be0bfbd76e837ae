#!/usr/bin/env bash
# The whole test suite: set up, build (tests included), run CTest. CUDA tests skip without a GPU.
# REPRO_SANITIZE=1 also runs the ASan+UBSan build with its tests and the spec fuzzer (tools/sanitize.sh); it is not
# in the default run yet because its build time on CI's 2 cores has not been measured (a second full build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
rc=0
ctest --test-dir build --output-on-failure -j "$(nproc)" || rc=$?
if [ "${REPRO_SANITIZE:-0}" = 1 ]; then bash tools/sanitize.sh || rc=$?; fi
# The reliability tests' numbers (kills survived, corruptions caught, fuzz executions), passed or not.
echo "== reliability summary"
grep -h '^reliability: ' build/Testing/Temporary/LastTest.log build-asan/Testing/Temporary/LastTest.log 2>/dev/null |
  sed 's/^/  /' || true
exit "$rc"
