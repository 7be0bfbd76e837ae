#!/usr/bin/env bash
# bench/step-rate.sh (a GPU benchmark) on CPU with a tiny spec: one JSON line per mode with every cell's steps, and a
# mode stopped by its time limit reports only the cells it finished. Usage: step_rate.sh <repro binary> <tests dir>
set -uo pipefail
repro=$1
src=$2
# shellcheck source=check.sh
source "$src/check.sh"
cp "$src/data/sweep.toml" spec.toml
field() { python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readlines()[int(sys.argv[2])])[sys.argv[3]])" "$@"; }

STEP_RATE_DIR=$PWD/w STEP_RATE_DEVICE=cpu bash "$src/../bench/step-rate.sh" tiny spec.toml "$repro" >out.jsonl 2>err.log
check "exits 0" [ $? -eq 0 ]
check "one line per mode" [ "$(wc -l <out.jsonl)" -eq 3 ]
cells=$(python3 -c "import tomllib; g=tomllib.load(open('spec.toml','rb'))['grid']; print(len(g['seeds'])*len(g['models']))")
check "single: one cell" [ "$(field out.jsonl 0 cells)" = 1 ]
check "threads: all $cells cells" [ "$(field out.jsonl 1 cells)" = "$cells" ]
check "processes: all $cells cells" [ "$(field out.jsonl 2 cells)" = "$cells" ]
check "a positive step rate" python3 -c "import json; assert all(json.loads(l)['steps_per_s'] > 0 for l in open('out.jsonl'))"

sed 's/^epochs = 2$/epochs = 5000/' spec.toml >long.toml
STEP_RATE_DIR=$PWD/w STEP_RATE_DEVICE=cpu STEP_RATE_MODES=single STEP_RATE_TIMEOUT=5 \
  bash "$src/../bench/step-rate.sh" long long.toml "$repro" >long.jsonl 2>>err.log
check "a mode past its limit reports no finished cell" [ "$(field long.jsonl 0 cells)" = 0 ]

echo "$passed passed, $failed failed"
[ $failed -eq 0 ] || { cat err.log; exit 1; }
