#!/usr/bin/env bash
# One time-boxed slice of paper runs on the GPU host, inside one device `run` call:
#   tools/gpu-slice.sh [-p] SECONDS WORKERS_PER_GPU[xTHREADS] SPEC[:SCALE][@GLOB] ...
# runs each spec in turn (with -p: all at once, so that one spec's last long cells do not leave GPUs idle) as a sweep
# of WORKERS_PER_GPU worker processes on every GPU (`repro run --gpus`), each running THREADS cells at once as threads
# (`--jobs`; default 1; e.g. 1x4 for tiny models, which share a GPU far better as threads than as processes), at the
# spec's SCALE when given (e.g. paper/achilles-interventions.toml:paper, results in results/<name>-paper/), cells
# limited to GLOB when given (e.g. paper/table3.toml@'*__s1'; several as 'a|b'), and stops the sweep SECONDS after
# it started, less a margin, so that what finished is always packed into $OUT/results.tgz (results/<spec>/ of every
# spec) with $OUT/slice.log (one line per spec: exit code, wall seconds). A killed cell keeps its checkpoint in
# /tmp/store: the next slice on the same warm machine resumes it. Each spec's committed results (results/<name>/, or
# REPRO_SLICE_COMMITTED/<name>/; <name>-<scale>/ at a scale) seed the host's results folder first, so cells already
# published are not run again (their JSONs come back in results.tgz too; they are unchanged). $OUT/smi.csv samples
# every GPU's utilization every 20 s (what the GPU time bought). REPRO_SLICE_GPUS=1,2,3 limits the slice to those GPUs
# (another job, e.g. a benchmark, has the rest; two slices side by side need their own OUT and REPRO_SLICE_WORK).
# Uses the carried .repro/bundle (tools/gpu-bundle.sh), else a build from tools/gpu-host.sh in /tmp/build. Tests set
# REPRO_SLICE_DEVICE=cpu, REPRO_SLICE_REPRO, REPRO_SLICE_WORK.
set -uo pipefail
parallel=0; [ "${1:-}" = "-p" ] && { parallel=1; shift; }
[ $# -ge 3 ] || { echo "usage: tools/gpu-slice.sh [-p] SECONDS WORKERS_PER_GPU[xTHREADS] SPEC[:SCALE][@GLOB] ..." >&2; exit 2; }
budget=$1 per_gpu=${2%%x*} jobs=1
[[ "$2" != *x* ]] || jobs=${2#*x}
[[ "$per_gpu" =~ ^[1-9][0-9]*$ && "$jobs" =~ ^[1-9][0-9]*$ ]] ||
  { echo "gpu-slice: WORKERS_PER_GPU[xTHREADS]: expected e.g. 6 or 1x4, got '$2'" >&2; exit 2; }
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
start=$SECONDS margin=20
source "$root/tools/unpack-carried.sh"  # the binaries, and the text corpus of paper/table4.toml
if [ -n "${REPRO_SLICE_REPRO:-}" ]; then repro=("$REPRO_SLICE_REPRO")  # tests: a given binary
elif [ -x "$root/.repro/bundle/env" ]; then repro=("$root/.repro/bundle/env" repro); else repro=(/tmp/build/repro); fi
w=${REPRO_SLICE_WORK:-/tmp}  # store/, r/ (results), reports/
committed=${REPRO_SLICE_COMMITTED:-$root/results}
export NCCL_NVLS_ENABLE=0  # NVLink multicast off (the device notes ask it)
device=${REPRO_SLICE_DEVICE:-cuda}  # tests run it on cpu
ids=${REPRO_SLICE_GPUS:-$(seq -s, 0 $(($(nvidia-smi -L | grep -c '^GPU') - 1)))}
[[ "$ids" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "gpu-slice: REPRO_SLICE_GPUS: expected e.g. 1,2,3, got '$ids'" >&2; exit 2; }
ngpu=$(tr , '\n' <<<"$ids" | wc -l)
gpus=$(for g in ${ids//,/ }; do for _ in $(seq "$per_gpu"); do printf '%s,' "$g"; done; done)
out=${OUT:-$w/out}; mkdir -p "$out" "$w/r"
nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv,noheader -l 20 >"$out/smi.csv" 2>/dev/null &
smi=$!
# An item SPEC[:SCALE][@GLOB]: its spec file, and its scale (empty: the spec's default).
spec_of() { local s=${1%%@*}; echo "${s%%:*}"; }
scale_of() { local s=${1%%@*}; [[ "$s" != *:* ]] || echo "${s#*:}"; }
for item in "$@"; do  # seeded before any sweep starts: -p runs them side by side
  spec=$(spec_of "$item") scale=$(scale_of "$item")
  name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$spec" | head -1)${scale:+-$scale}
  [ "$name" = "${scale:+-$scale}" ] || [ ! -d "$committed/$name" ] || [ -d "$w/r/$name" ] || cp -r "$committed/$name" "$w/r/"
done
sweep() {
  local item=$1 spec scale args=() globs=() left t
  spec=$(spec_of "$item") scale=$(scale_of "$item")
  if [[ "$item" == *@* ]]; then IFS='|' read -ra globs <<<"${item#*@}"; args=(--only "${globs[@]}"); fi
  [ -z "$scale" ] || args+=(--scale "$scale")
  left=$((budget - margin - (SECONDS - start)))
  [ "$left" -gt 10 ] || { echo "$item skipped: no time left" >>"$out/slice.log"; return; }
  t=$SECONDS
  timeout "$left" "${repro[@]}" run "$spec" "${args[@]}" --device "$device" --no-pdf --gpus "${gpus%,}" --jobs "$jobs" \
    --store "$w/store" --results "$w/r" --reports "$w/reports" >>"$out/sweeps.log" 2>&1
  echo "$item rc=$? wall_s=$((SECONDS - t)) gpus=$ngpu workers=$((ngpu * per_gpu)) threads_each=$jobs" >>"$out/slice.log"
}
pids=()
for item in "$@"; do
  if [ "$parallel" = 1 ]; then sweep "$item" & pids+=($!); else sweep "$item"; fi
done
[ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"
kill "$smi" 2>/dev/null
tar czf "$out/results.tgz" -C "$w" r
cat "$out/slice.log"
