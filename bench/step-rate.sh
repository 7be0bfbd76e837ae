#!/usr/bin/env bash
# Optimizer steps/s of a benchmark spec on the visible GPU(s), in three modes: one cell alone ("single", the
# spec's first cell), every cell as a thread of one process ("threads", -j N, one CUDA stream per cell) and every
# cell as a worker process ("processes", --gpus 0,...,0). One JSON line per mode on stdout:
#   bench/step-rate.sh LABEL SPEC REPRO... >> out.jsonl     e.g. CUDA_VISIBLE_DEVICES=1 bench/step-rate.sh new \
#       bench/achilles-step-rate.toml .repro/bundle/env repro
# steps_per_s = the cells' optimizer steps / the mode's wall time (generation excluded: datasets are made once
# first; model build, evaluation at epoch ends and publishing included, as in a real sweep).
# STEP_RATE_DEVICE=cpu runs it on the CPU (a check of the script, not a benchmark).
set -euo pipefail
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
  "${repro[@]}" run "$spec" --device "${STEP_RATE_DEVICE:-cuda}" --no-pdf -q --store "$w/$name" --results "$w/$name.r" --reports "$w/$name.rep" "$@"
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
mode single --only "$first"
mode threads -j "$cells"
mode processes --gpus "$(python3 -c "print(','.join(['0']*$cells))")"
