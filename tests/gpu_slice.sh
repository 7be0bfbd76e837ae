#!/usr/bin/env bash
# tools/gpu-slice.sh (run on the GPU host inside one time-limited call), here on CPU with a fake nvidia-smi: a slice
# that finishes packs its results; one stopped by its budget still packs what finished and says rc=124; a spec left
# without time is skipped, not started (with -p it runs beside the others); a cell with a committed result is not
# run again; SPEC:SCALE runs a scale. Usage: gpu_slice.sh <repro binary> <tests dir>
set -uo pipefail
repro=$1
src=$2
# shellcheck source=check.sh
source "$src/check.sh"
cp "$src/data/sweep.toml" spec.toml
mkdir -p bin && printf '#!/bin/sh\necho "GPU 0: fake"\n' >bin/nvidia-smi && chmod +x bin/nvidia-smi
slice() { PATH="$work/bin:$PATH" REPRO_SLICE_DEVICE=cpu REPRO_SLICE_REPRO="$repro" REPRO_SLICE_WORK="$work/$1" \
  OUT="$work/$1/out" bash "$src/../tools/gpu-slice.sh" "${@:2}" >"$1.log" 2>&1; }

slice a 120 2 "spec.toml@*__s0"
check "finished slice exits 0" [ $? -eq 0 ]
check "slice.log says rc=0 with 2 workers on 1 GPU" grep -q '^spec.toml@\*__s0 rc=0 wall_s=[0-9]* gpus=1 workers=2 threads_each=1$' a/out/slice.log
check "results.tgz holds exactly the selected cell" [ "$(tar tzf a/out/results.tgz | grep -c '\.json$')" -eq 1 ]
check "the cell's result is the s0 one" grep -qx r/sweep/std__tf__s0.json <(tar tzf a/out/results.tgz)

export REPRO_SLICE_COMMITTED="$work/a/r"  # as if slice a's results were committed
slice c 120 2 "spec.toml@*__s0"
check "a cell with a committed result is not run again" grep -q "1 up to date, 2 not selected, 0 to run" c.log c/out/sweeps.log
check "and its result is packed as committed" cmp c/r/sweep/std__tf__s0.json a/r/sweep/std__tf__s0.json
unset REPRO_SLICE_COMMITTED

# SPEC:SCALE runs the spec at that scale (results in <name>-<scale>/), and is seeded from <name>-<scale>/ too.
printf '\n[scales]\ndefault = "small"\n\n[scales.tiny]\ngrid.seeds = [1]\n' >>scaled.toml
cat spec.toml scaled.toml >scaled2.toml && mv scaled2.toml scaled.toml
slice s 120 2 "scaled.toml:tiny"
check "a scaled slice exits 0" [ $? -eq 0 ]
check "its one cell is packed under <name>-<scale>/" [ "$(tar tzf s/out/results.tgz | grep '\.json$')" = r/sweep-tiny/std__tf__s1.json ]
REPRO_SLICE_COMMITTED="$work/s/r" slice s2 120 2 "scaled.toml:tiny@*__s1"
check "a scaled cell with a committed result is not run again" grep -q "1 up to date, 0 to run" s2/out/sweeps.log

slice t 120 1x3 "spec.toml@*__s[12]"
check "threads slice exits 0" [ $? -eq 0 ]
check "slice.log says 1 worker of 3 threads" grep -q ' gpus=1 workers=1 threads_each=3$' t/out/slice.log
check "results.tgz holds the two selected cells" [ "$(tar tzf t/out/results.tgz | grep -c '\.json$')" -eq 2 ]
slice u 120 1x3 "spec.toml@*__s1|std__tf__s2"
check "GLOB|GLOB selects the cells of either" [ "$(tar tzf u/out/results.tgz | grep -c '\.json$')" -eq 2 ]
printf '#!/bin/sh\nprintf "GPU 0: fake\\nGPU 1: fake\\nGPU 2: fake\\n"\n' >bin/nvidia-smi
REPRO_SLICE_GPUS=1,2 slice g 120 1 "spec.toml@*__s0"
check "REPRO_SLICE_GPUS limits the slice to its GPUs" grep -q ' gpus=2 workers=2 threads_each=1$' g/out/slice.log
check "and the sweep is given exactly those" grep -q '(GPUs 1,2)' g/out/sweeps.log
slice g3 120 1 "spec.toml@*__s0"
check "without it, every GPU the host lists" grep -q ' gpus=3 workers=3 ' g3/out/slice.log
REPRO_SLICE_GPUS=1,x slice gbad 120 1 spec.toml
check "a bad REPRO_SLICE_GPUS is refused with exit 2" [ $? -eq 2 ]
check "and says what was expected" grep -q "expected e.g. 1,2,3, got '1,x'" gbad.log
printf '#!/bin/sh\necho "GPU 0: fake"\n' >bin/nvidia-smi
slice bad 120 2x spec.toml
check "a bad WORKERS_PER_GPU is refused with exit 2" [ $? -eq 2 ]
check "and says what was expected" grep -q "expected e.g. 6 or 1x4, got '2x'" bad.log

sed 's/^epochs = 2$/epochs = 5000/' spec.toml >long.toml  # minutes of training: stopped by the budget
slice b 35 1 long.toml spec.toml
check "stopped slice still exits 0" [ $? -eq 0 ]
check "the stopped sweep is reported as rc=124" grep -q '^long.toml rc=124 ' b/out/slice.log
check "the spec after it is skipped" grep -q '^spec.toml skipped: no time left$' b/out/slice.log
check "results.tgz is written anyway" grep -qx r/ <(tar tzf b/out/results.tgz)
check "GPU utilization is sampled" [ -s b/out/smi.csv ]

slice p -p 35 1 long.toml spec.toml  # side by side: the long sweep no longer starves the one after it
check "parallel slice exits 0" [ $? -eq 0 ]
check "the long sweep is stopped by the budget" grep -q '^long.toml rc=124 ' p/out/slice.log
check "the other finishes beside it" grep -q '^spec.toml rc=0 ' p/out/slice.log
check "and its cells are packed" [ "$(tar tzf p/out/results.tgz | grep -c '^r/sweep/.*\.json$')" -eq 3 ]

echo "$passed passed, $failed failed"
[ $failed -eq 0 ] || { for f in *.log */out/*.log; do echo "== $f"; tail -30 "$f"; done; exit 1; }
