#!/usr/bin/env bash
# Runs paper/smoke.toml from scratch on CPU in a scratch directory and checks the accuracy bar.
set -euo pipefail
repro=$1
root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
"$repro" run "$root/paper/smoke.toml" --device cpu --store "$work/store" --results "$work/results" \
  --reports "$work/reports" --no-pdf -q
secs=$(( $(date +%s) - start ))
acc=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tests"]["mqar"]["example_accuracy"])' \
  "$work/results/smoke/mqar__transformer__s0.json")
echo "smoke: example accuracy $acc in ${secs}s on CPU"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.95 else 1)' "$acc" \
  && echo "smoke: 1 passed, 0 failed" || { echo "smoke: 0 passed, 1 failed (accuracy below 0.95)"; exit 1; }
