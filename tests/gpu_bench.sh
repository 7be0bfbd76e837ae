#!/usr/bin/env bash
# tools/gpu-bench.sh (the kernel benchmarks in one device call), here with fake bench programs: every step's exit
# code is logged, a failing step does not stop the next, and everything comes back as one bench.tgz — also when
# the whole script is stopped by `timeout` in the middle of a step (a device call returns at most 8 files).
# Usage: gpu_bench.sh <tests dir>
set -uo pipefail
src=$1
# shellcheck source=check.sh
source "$src/check.sh"
mkdir -p bin
printf '#!/bin/sh\necho kernels; exit 2\n' >bin/repro-bench-kernels
printf '#!/bin/sh\necho models; exit 3\n' >bin/repro-bench-models
chmod +x bin/*
PATH=/usr/bin:/bin REPRO_BENCH_BIN=$PWD/bin bash "$src/../tools/gpu-bench.sh" out1 >run1.log 2>&1
check "exits 0 when steps fail" [ $? -eq 0 ]
check "one file comes back" [ "$(ls out1)" = bench.tgz ]
tar xzf out1/bench.tgz -C out1
check "the kernel step's exit code is logged" grep -q "rc=2 .* kernels.log" out1/gpu-bench/bench.log
check "both model steps ran after it" [ "$(grep -c 'rc=3 .* models-o' out1/gpu-bench/bench.log)" -eq 2 ]
check "a step's output is kept" grep -q kernels out1/gpu-bench/kernels.log
printf '#!/bin/sh\nsleep 60\n' >bin/repro-bench-kernels
t=$SECONDS
timeout 3 env PATH=/usr/bin:/bin REPRO_BENCH_BIN=$PWD/bin bash "$src/../tools/gpu-bench.sh" out2 >run2.log 2>&1
rc=$?
check "stopped by timeout at once, not after the step" [ $rc -eq 124 -a $((SECONDS - t)) -lt 30 ]
tar xzf out2/bench.tgz -C out2
check "still packed, saying where it stopped" grep -q "stopped during kernels.log" out2/gpu-bench/bench.log
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] || { cat run1.log run2.log out1/gpu-bench/bench.log; exit 1; }
