#!/usr/bin/env bash
# What specs will cost on this GPU, measured before they run (one device call):
#   tools/gpu-measure.sh SECONDS SPEC...
# for each spec, `repro run SPEC --dry-run --measure` (5 timed training steps per model, times each cell's steps)
# and `repro-bench-models SPEC --profile` (a Kineto trace per model and its top kernels per step), each stopped
# SECONDS after it started; everything lands in $OUT/measure/<spec name>.{dry-run,bench}.log and $OUT/measure/prof/.
# Uses the carried .repro/bundle (tools/gpu-bundle.sh). Tests set REPRO_MEASURE_DEVICE=cpu, REPRO_MEASURE_BIN.
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: tools/gpu-measure.sh SECONDS SPEC..." >&2; exit 2; }
limit=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tools/unpack-carried.sh"
if [ -n "${REPRO_MEASURE_BIN:-}" ]; then bin=(env PATH="$REPRO_MEASURE_BIN:$PATH"); else bin=("$root/.repro/bundle/env"); fi
device=${REPRO_MEASURE_DEVICE:-cuda}
out=${OUT:-/tmp/out}/measure
mkdir -p "$out/prof"
for spec in "$@"; do
  name=$(basename "$spec" .toml)
  timeout "$limit" "${bin[@]}" repro run "$spec" --dry-run --measure --device "$device" --store /tmp/measure-store \
    >"$out/$name.dry-run.log" 2>&1
  echo "$spec dry-run rc=$?: $(grep '^measured:' "$out/$name.dry-run.log")"
  timeout "$limit" "${bin[@]}" repro-bench-models "$spec" --device "$device" --steps 10 --profile "$out/prof/$name" \
    >"$out/$name.bench.log" 2>&1
  echo "$spec bench rc=$?"
  grep -A4 " profile (" "$out/$name.bench.log" | head -40
done
