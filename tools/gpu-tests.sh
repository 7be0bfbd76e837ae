#!/usr/bin/env bash
# The GPU tests on the GPU host with the carried bundle (tools/gpu-bundle.sh), alone and first in a device call:
#   tools/gpu-tests.sh [SECONDS] [GTEST_FILTER]   (default 300 s; the CUDA, kernel, intervention and optimizer tests)
# The test binary was built here, so it looks for its data and plugins under this machine's source and build
# paths: they are linked to the host's checkout first. OMP_NUM_THREADS is capped: the tests' fp64 CPU references
# are many small OpenMP regions, which an oversubscribed host slows by orders of magnitude (a run beside two
# training sweeps did not finish the conv test in 240 s). Writes $OUT/gtest.log and prints its summary.
set -uo pipefail
limit=${1:-300}
filter=${2:-'*Cuda*:*CUDA*:*Bf16*:Kernels*:Interventions*:InterventionProbe*:Optimizer.*'}
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tools/unpack-carried.sh"
B=$root/.repro/bundle
[ -x "$B/tests/repro_tests" ] || { echo "gpu-tests: no $B/tests/repro_tests (carry .repro/bundle.tar.xz)" >&2; exit 2; }
# The checkout the binary was built from (its REPRO_TESTS_DIR), e.g. /work/main.
src=$(grep -a -o '/[[:alnum:]_./+-]*/build/test-plugins' "$B/tests/repro_tests" | head -1); src=${src%/build/test-plugins}
[ -n "$src" ] || { echo "gpu-tests: cannot find the build paths compiled into the test binary" >&2; exit 2; }
if [ "$src" != "$root" ] && [ ! -e "$src" ]; then mkdir -p "$(dirname "$src")" && ln -s "$root" "$src"; fi
[ -e "$src/build/test-plugins" ] || { mkdir -p "$src/build" && ln -s "$B/tests/test-plugins" "$src/build/test-plugins"; }
out=${OUT:-/tmp/out}; mkdir -p "$out"
OMP_NUM_THREADS=4 timeout "$limit" "$B/env" "$B/tests/repro_tests" --gtest_filter="$filter" >"$out/gtest.log" 2>&1
rc=$?
grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[==========\]" "$out/gtest.log" | tail -20
[ $rc -eq 124 ] && echo "gpu-tests: stopped after $limit s in: $(grep '^\[ RUN' "$out/gtest.log" | tail -1)"
exit $rc
