#!/usr/bin/env bash
# The kernel benchmarks of kernels/README.md on the GPU host, in one device call, on one GPU (run it with
# CUDA_VISIBLE_DEVICES=N beside other work):
#   tools/gpu-bench.sh OUTDIR
# Everything lands in OUTDIR/bench.tgz, one file (a device call returns at most 8 from $OUT; an earlier call that
# left a dozen there got none of them back), packed also when the script is stopped by `timeout`.
# 1. repro-bench-kernels: our scan, conv and WKV against the pure-LibTorch paths, with HBM shares → kernels.json,
#    and again with a candidate build ($REPRO_BENCH_CANDIDATE, STAGING:BWD, kernels/info.hpp; default elements:regs,
#    the build before 2026-12-07, as the baseline) → kernels-cand.json
# 2. bench/peer/compare.py: mamba-ssm's selective scan (its sources under .peer/: tools/fetch-peer.sh), compiled
#    for this GPU (built once per machine in /tmp/peer-build; the build starts first, on the CPU), beside each of
#    our scan's builds (staging elements|quads × backward regs|smem5|smem6) in one process → peer.json
# 3. repro-bench-models bench/mamba130m.toml with our kernels, with the candidate build and with REPRO_KERNELS=off
#    → models-{on,cand,off}.log
# 4. Nsight Compute, when the host has ncu: one forward and one backward launch of the candidate build of our scan at
#    the first shape (B=64 L=512 D=1536 N=16 bf16), full section set → ncu-cand-{fwd,bwd}.txt (the default build's
#    are under results/bench/ncu-h100-quads-smem6/, mamba-ssm's under results/bench/ncu-h200/)
# Each step is time-boxed and logged to bench.log; a failing step does not stop the others.
# Uses the carried .repro/bundle (tools/gpu-bundle.sh); `tests/gpu_bench.sh` runs it with fake programs on CPU.
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: tools/gpu-bench.sh OUTDIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tools/unpack-carried.sh"
dest=$1 out=/tmp/gpu-bench; rm -rf "$out"; mkdir -p "$out" "$dest"
pack() { tar czf "$dest/bench.tgz" -C "$(dirname "$out")" "$(basename "$out")"; }
# A signal (`timeout` around this script) stops the running step too: steps run in the background so that the trap
# runs at once, not after the step.
trap pack EXIT; trap 'log "stopped during ${current:-the start}"; kill ${child:-} ${build:-} 2>/dev/null; exit 143' TERM INT
# Tests set REPRO_BENCH_BIN (a folder with the two bench programs) instead of the bundle.
if [ -n "${REPRO_BENCH_BIN:-}" ]; then env=(env PATH="$REPRO_BENCH_BIN:$PATH"); else env=("$root/.repro/bundle/env"); fi
peer=$(ls -d "$root"/.peer/mamba_ssm-* 2>/dev/null | head -1)
compare=(/opt/torch/.venv/bin/python "$root/bench/peer/compare.py" "$peer" "$root/.repro/bundle/librepro_kernels.so")
cand_build=${REPRO_BENCH_CANDIDATE:-elements:regs}
cand=(env REPRO_SCAN_STAGING="${cand_build%%:*}" REPRO_SCAN_BWD="${cand_build#*:}")
builds=elements:regs,quads:regs,elements:smem5,quads:smem5,elements:smem6,quads:smem6
mamba130m=("$root/bench/mamba130m.toml" --device cuda)
export PEER_BUILD=/tmp/peer-build; mkdir -p "$PEER_BUILD"
log() { echo "[$(date -u +%T)] $*" | tee -a "$out/bench.log"; }
step() {  # step SECONDS LOGFILE CMD...: runs CMD with a time limit, its output to LOGFILE, its exit code logged
  local limit=$1 file=$2 t=$SECONDS rc; shift 2
  current=$(basename "$file")
  timeout "$limit" "$@" >"$file" 2>&1 &
  child=$!; wait $child; rc=$?
  log "rc=$rc $((SECONDS - t))s $current: $*"
}
if [ -n "$peer" ]; then
  "${env[@]}" "${compare[@]}" --build-only >"$out/peer-build.log" 2>&1 &
  build=$!
else log "no .peer/mamba_ssm-*: the peer comparison is skipped (tools/fetch-peer.sh)"; fi
step 240 "$out/kernels.log" "${env[@]}" repro-bench-kernels --json "$out/kernels.json"
step 240 "$out/kernels-cand.log" "${cand[@]}" "${env[@]}" repro-bench-kernels --json "$out/kernels-cand.json"
step 120 "$out/models-on.log" "${env[@]}" repro-bench-models "${mamba130m[@]}"
step 120 "$out/models-cand.log" "${cand[@]}" "${env[@]}" repro-bench-models "${mamba130m[@]}"
step 180 "$out/models-off.log" env REPRO_KERNELS=off "${env[@]}" repro-bench-models "${mamba130m[@]}"
if [ -n "$peer" ]; then
  wait "$build"; log "peer build rc=$?: $(tail -1 "$out/peer-build.log")"
  step 300 "$out/peer.log" "${env[@]}" "${compare[@]}" --builds "$builds" --json "$out/peer.json"
fi
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ -z "$ncu" ]; then log "no ncu on this host: no kernel profiles"; exit 0; fi
for k in fwd bwd; do
  step 150 "$out/ncu-cand-$k.txt" "${cand[@]}" "${env[@]}" "$ncu" --set full -c 1 -k "regex:scan_$k" repro-bench-kernels --iters 1
done
