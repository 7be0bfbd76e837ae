#!/usr/bin/env bash
# tools/gpu-measure.sh (one device call that measures what specs will cost), here on CPU with the smoke spec: a
# dry-run estimate from timed steps, a Kineto trace and the top operators per step, all under $OUT/measure.
# Usage: gpu_measure.sh <build dir> <tests dir>
set -uo pipefail
build=$1
src=$2
# shellcheck source=check.sh
source "$src/check.sh"
OUT=$work/out REPRO_MEASURE_DEVICE=cpu REPRO_MEASURE_BIN=$build bash "$src/../tools/gpu-measure.sh" 200 \
  "$src/../paper/smoke.toml" >measure.log 2>&1
check "exits 0" [ $? -eq 0 ]
check "the dry run measured the cell" grep -qE "^measured: ≈ [0-9.]+ min of training on cpu" out/measure/smoke.dry-run.log
check "and said so on stdout" grep -qE "smoke.toml dry-run rc=0: measured:" measure.log
check "a Kineto trace per model" test -s out/measure/prof/smoke/transformer.trace.json
check "the top operators per step" grep -qE "^ +[0-9.]+ ms/step +[0-9.]+ % .*aten::" out/measure/smoke.bench.log
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] || { cat measure.log out/measure/*.log; exit 1; }
