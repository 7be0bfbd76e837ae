#!/usr/bin/env bash
# `repro run --gpus`: worker processes on one store. Usage: sweep.sh <repro binary> <tests dir> <test plugin dir>
# On a machine without a GPU the ids only pin CUDA_VISIBLE_DEVICES; the cells train on --device cpu.
set -uo pipefail
repro=$1
src=$2
test_plugins=$3
# shellcheck source=check.sh
source "$src/check.sh"
cp "$src/data/sweep.toml" spec.toml
cells=3

# 1. Every worker is SIGKILLed once per cell at step 3 (after the step-2 checkpoint): the parent restarts
#    killed workers, each cell is taken over and resumes from its checkpoint, and the run ends cleanly.
REPRO_KILL_AT_STEP=3 "$repro" run spec.toml --gpus 0,0 --no-pdf --store a --results ra --reports pa >kill.log 2>&1
check "killed workers: run exits 0" [ $? -eq 0 ]
check "killed workers: the kills happened" [ "$(grep -c 'killed by signal 9' kill.log)" -eq $cells ]
check "killed workers: every cell published" [ "$(ls ra/sweep/*.json 2>/dev/null | wc -l)" -eq $cells ]
check "killed workers: every cell resumed from its step-2 checkpoint" \
  [ "$(grep -l '"resumed_from_step": 2' ra/sweep/*.json | wc -l)" -eq $cells ]
check "killed workers: report rendered" test -f pa/sweep.md
check "killed workers: sweep directory removed" [ -z "$(ls a/sweeps 2>/dev/null)" ]

# 2. Two sweeps at once on one store and results: four workers, three cells, no cell trained or probed
#    twice (the store's per-model lock alone would allow a second probe; the cell claims do not).
"$repro" run spec.toml --gpus 0,0 --no-pdf --store b --results rb --reports pb >b1.log 2>&1 &
first=$!
"$repro" run spec.toml --gpus 0,1 --no-pdf --store b --results rb --reports pb >b2.log 2>&1
rc2=$?
wait $first
rc1=$?
check "concurrent sweeps: both exit 0" [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]
check "concurrent sweeps: each cell trained exactly once" [ "$(cat b1.log b2.log | grep -c ': trained ')" -eq $cells ]
check "concurrent sweeps: every cell published" [ "$(ls rb/sweep/*.json | wc -l)" -eq $cells ]
for c in std__tf__s0 std__tf__s1 std__tf__s2; do
  check "concurrent sweeps: $c trained once" [ "$(cat b1.log b2.log | grep -c "^$c: trained ")" -eq 1 ]
  check "concurrent sweeps: $c probed once" [ "$(cat b1.log b2.log | grep -c "^$c: test std: ")" -eq 1 ]
done

# 3. A failing cell: the others finish, the report is rendered, the exit code says 1.
sed -e 's/models = \["tf"\]/models = ["tf", "bad"]/' -e 's/seeds = \[0, 1, 2\]/seeds = [0]/' spec.toml >fail.toml
printf '\n[models.bad]\narchitecture = "explode"\nconfig = { nan_at = 3 }\n' >>fail.toml
"$repro" run fail.toml --gpus 0,0 --no-pdf --plugin-path "$test_plugins" --store c --results rc --reports pc >fail.log 2>&1
check "failing cell: exit 1" [ $? -eq 1 ]
check "failing cell: named" grep -q "cell std__bad__s0 failed: .*non-finite loss" fail.log
check "failing cell: the other cell published" test -f rc/sweep/std__tf__s0.json
check "failing cell: report rendered" test -f pc/sweep.md

# 4. --gpus with --jobs: one worker process runs its cells as threads (as tiny models share a GPU best), killed
#    once per cell; the cells resume and publish, each trained once per attempt.
REPRO_KILL_AT_STEP=3 "$repro" run spec.toml --gpus 0 --jobs 3 --no-pdf --store d --results rd --reports pd >threads.log 2>&1
check "worker threads: run exits 0" [ $? -eq 0 ]
check "worker threads: one worker of 3 threads" grep -q "3 cells on 1 worker processes (GPUs 0) of 3 threads each" threads.log
check "worker threads: every cell published" [ "$(ls rd/sweep/*.json 2>/dev/null | wc -l)" -eq $cells ]
# (a kill takes every thread's cell down, so a cell may be killed again later and resume from a later checkpoint)
check "worker threads: every cell resumed from a checkpoint" \
  [ "$(grep -lE '"resumed_from_step": [1-9]' rd/sweep/*.json | wc -l)" -eq $cells ]

"$repro" run spec.toml --gpus 0,x >bad.log 2>&1
check "bad --gpus: exit 2" [ $? -eq 2 ]
check "bad --gpus: says what was expected" grep -q "expected comma-separated GPU ids" bad.log

echo "$passed passed, $failed failed"
[ $failed -eq 0 ] || { for f in *.log; do echo "== $f"; tail -30 "$f"; done; exit 1; }
