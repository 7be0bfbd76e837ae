#!/usr/bin/env bash
# The whole test suite: set up, build (tests included), run CTest. CUDA tests skip without a GPU.
# Then the sanitizer leg (tools/sanitize.sh): an ASan+UBSan build of the core with its reliability tests and the
# spec fuzzer (about 12 min of build on 2 cores, 2 min of tests); REPRO_SANITIZE=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
rc=0
ctest --test-dir build --output-on-failure -j "$(nproc)" || rc=$?
if [ "${REPRO_SANITIZE:-1}" = 1 ]; then bash tools/sanitize.sh || rc=$?; fi
# The reliability tests' numbers (kills survived, corruptions caught, fuzz executions), passed or not.
echo "== reliability summary"
grep -h '^reliability: ' build/Testing/Temporary/LastTest.log build-asan/Testing/Temporary/LastTest.log 2>/dev/null |
  sed 's/^/  /' || true
exit "$rc"
