#!/usr/bin/env bash
# Optimizer steps/s of a benchmark spec on the visible GPU(s), in three modes: one cell alone ("single", the
# spec's first cell), every cell as a thread of one process ("threads", -j N, one CUDA stream per cell) and every
# cell as a worker process ("processes", --gpus 0,...,0). One JSON line per mode on stdout:
#   bench/step-rate.sh LABEL SPEC REPRO... >> out.jsonl     e.g. STEP_RATE_GPU=1 bench/step-rate.sh new \
#       bench/achilles-step-rate.toml .repro/bundle/env repro
# steps_per_s = the cells' optimizer steps / the mode's wall time (generation excluded: datasets are made once
# first; model build, evaluation at epoch ends and publishing included, as in a real sweep).
# STEP_RATE_GPU (default 0) is the GPU used, by physical id (the sweep sets each worker's CUDA_VISIBLE_DEVICES).
# STEP_RATE_MODES picks modes (default "single threads processes"); STEP_RATE_TIMEOUT stops a mode after that many
# seconds (default 300), reporting the cells it finished. STEP_RATE_DEVICE=cpu checks the script on the CPU.
set -euo pipefail
gpu=${STEP_RATE_GPU:-0}
label=$1 spec=$2; shift 2
repro=("$@")
w=${STEP_RATE_DIR:-/tmp/step-rate}/$label
rm -rf "$w" && mkdir -p "$w"
"${repro[@]}" generate "$spec" --store "$w/gen" -q
cells=$(python3 -c "import tomllib,sys; g=tomllib.load(open(sys.argv[1],'rb'))['grid']; print(len(g['seeds'])*len(g['models'])*len(g['train']))" "$spec")
first=$("${repro[@]}" run "$spec" --dry-run --store "$w/gen" 2>&1 | awk '/ params /{print $1; exit}')
mode() {
  local name=$1; shift
  cp -r "$w/gen" "$w/$name"
  local t0=$EPOCHREALTIME
  CUDA_VISIBLE_DEVICES=$gpu timeout "${STEP_RATE_TIMEOUT:-300}" "${repro[@]}" run "$spec" --device "${STEP_RATE_DEVICE:-cuda}" --no-pdf -q --store "$w/$name" --results "$w/$name.r" --reports "$w/$name.rep" "$@" || true
  python3 - "$label" "$name" "$t0" "$EPOCHREALTIME" "$w/$name.r" <<'PY'
import glob, json, sys
label, mode, t0, t1, rdir = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
rs = [json.load(open(f)) for f in sorted(glob.glob(rdir + "/*/*.json"))]
steps = sum(r["training"]["steps"] for r in rs)
print(json.dumps({"label": label, "mode": mode, "cells": len(rs), "steps": steps, "wall_s": round(t1 - t0, 2),
                  "steps_per_s": round(steps / (t1 - t0), 1), "device": rs[0]["provenance"]["device"] if rs else None,
                  "git": rs[0]["provenance"]["git"] if rs else None,
                  "cell_train_s": [round(r["provenance"]["train_seconds"], 2) for r in rs]}))
PY
}
for m in ${STEP_RATE_MODES:-single threads processes}; do
  case $m in
    single) mode single --only "$first" ;;
    threads) mode threads -j "$cells" ;;
    processes) mode processes --gpus "$(python3 -c "print(','.join(['$gpu']*$cells))")" ;;
  esac
done
