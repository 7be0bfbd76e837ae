#!/usr/bin/env bash
# The kernel benchmarks of kernels/README.md on the GPU host, in one device call, on one GPU (run it with
# CUDA_VISIBLE_DEVICES=N beside other work):
#   tools/gpu-bench.sh OUTDIR
# 1. repro-bench-kernels: our scan, conv and WKV against the pure-LibTorch paths, with HBM shares → kernels.json
# 2. bench/peer/compare.py: mamba-ssm's selective scan (its sources under .peer/: tools/fetch-peer.sh), compiled
#    for this GPU (built once per machine in /tmp/peer-build; the build starts first, on the CPU) → peer.json
# 3. repro-bench-models bench/mamba130m.toml with our kernels and with REPRO_KERNELS=off → models-{on,off}.log
# 4. Nsight Compute, when the host has ncu: one forward and one backward launch of ours and of mamba-ssm's scan at
#    the first shape (B=64 L=512 D=1536 N=16 bf16), full section set → ncu-{ours,peer}-{fwd,bwd}.txt
# Each step is time-boxed and logged to OUTDIR/bench.log; a failing step does not stop the others.
# Uses the carried .repro/bundle (tools/gpu-bundle.sh).
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: tools/gpu-bench.sh OUTDIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tools/unpack-carried.sh"
out=$1; mkdir -p "$out"
env=("$root/.repro/bundle/env") py=/opt/torch/.venv/bin/python
peer=$(ls -d "$root"/.peer/mamba_ssm-* 2>/dev/null | head -1)
export PEER_BUILD=/tmp/peer-build; mkdir -p "$PEER_BUILD"
log() { echo "[$(date -u +%T)] $*" | tee -a "$out/bench.log"; }
step() {  # step SECONDS LOGFILE CMD...: runs CMD with a time limit, its output to LOGFILE, its exit code logged
  local limit=$1 file=$2 t=$SECONDS; shift 2
  timeout "$limit" "$@" >"$file" 2>&1
  log "rc=$? ${SECONDS}-${t}s $(basename "$file"): $*"
}
if [ -n "$peer" ]; then
  "${env[@]}" "$py" "$root/bench/peer/compare.py" "$peer" "$root/.repro/bundle/librepro_kernels.so" --build-only \
    >"$out/peer-build.log" 2>&1 &
  build=$!
else log "no .peer/mamba_ssm-*: the peer comparison is skipped (tools/fetch-peer.sh)"; fi
step 240 "$out/kernels.log" "${env[@]}" repro-bench-kernels --json "$out/kernels.json"
step 120 "$out/models-on.log" "${env[@]}" repro-bench-models "$root/bench/mamba130m.toml" --device cuda
step 180 "$out/models-off.log" env REPRO_KERNELS=off "${env[@]}" repro-bench-models "$root/bench/mamba130m.toml" --device cuda
if [ -n "$peer" ]; then
  wait "$build"; log "peer build rc=$?: $(tail -1 "$out/peer-build.log")"
  step 240 "$out/peer.log" "${env[@]}" "$py" "$root/bench/peer/compare.py" "$peer" \
    "$root/.repro/bundle/librepro_kernels.so" --json "$out/peer.json"
fi
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ -z "$ncu" ]; then log "no ncu on this host: no kernel profiles"; exit 0; fi
for k in fwd bwd; do
  step 150 "$out/ncu-ours-$k.txt" "${env[@]}" "$ncu" --set full -k "regex:scan_$k" -c 1 \
    repro-bench-kernels --iters 1
  [ -z "$peer" ] || step 150 "$out/ncu-peer-$k.txt" "${env[@]}" "$ncu" --set full -k "regex:selective_scan_${k}_kernel" \
    -c 1 "$py" "$root/bench/peer/compare.py" "$peer" "$root/.repro/bundle/librepro_kernels.so" --iters 1
done
