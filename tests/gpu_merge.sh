#!/usr/bin/env bash
# tools/gpu-merge.sh: a slice's results come home without overwriting a published number — new cells are added, a
# stale result (other result_key) is replaced, a re-run of a published cell goes to results/replicates/, identical
# files and a re-probe with the same numbers change nothing; a scale's results (<name>-<scale>/) are re-rendered at
# that scale. Usage: gpu_merge.sh <tests dir>
set -uo pipefail
src=$1
# shellcheck source=check.sh
source "$src/check.sh"
merge="$src/../tools/gpu-merge.sh"
cell() {  # cell <file> <result_key> <accuracy>
  printf '{"result_key": "%s", "tests": {"t": {"query_accuracy": %s}}, "provenance": {"device": "cuda:0 (NVIDIA H100 80GB HBM3)", "finished_at": "2026-11-26T16:15:11Z"}}\n' "$2" "$3" >"$1"
}
mkdir -p results/spec host/r/spec
cell results/spec/same.json k1 0.5
cell results/spec/rerun.json k1 0.5
cell results/spec/stale.json old 0.1
echo committed >results/spec/rerun.probe.safetensors
cp results/spec/same.json host/r/spec/
cell host/r/spec/rerun.json k1 0.75
echo rerun >host/r/spec/rerun.probe.safetensors
cell host/r/spec/stale.json new 0.9
cell results/spec/reprobed.json k1 0.5  # a warm host probed it again: same numbers, other probe times
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["probe_seconds"]=4.8; d["checksum"]="x"; d["provenance"]["finished_at"]="2026-11-27T00:00:00Z"; json.dump(d,open(sys.argv[2],"w"))' results/spec/reprobed.json host/r/spec/reprobed.json
cell host/r/spec/fresh__lr0.001__s0.json k2 0.3
echo m >host/r/spec/fresh__lr0.001__s0.probe.safetensors
mkdir -p paper host/r/tiny-paper && touch paper/tiny.toml  # a scale's results: results/<name>-<scale>/
cell host/r/tiny-paper/c__s0.json k3 0.2
tar czf slice.tgz -C host r

bash "$merge" --results results slice.tgz >out.log 2>&1
check "merge exits 0" [ $? -eq 0 ]
check "a new cell and its matrices are added" cmp host/r/spec/fresh__lr0.001__s0.probe.safetensors results/spec/fresh__lr0.001__s0.probe.safetensors
check "a stale result is replaced" grep -q '"new"' results/spec/stale.json
check "a re-run leaves the published result alone" grep -q '0.5' results/spec/rerun.json
check "and its matrices" grep -qx committed results/spec/rerun.probe.safetensors
rep=results/replicates/spec-cuda-0-nvidia-h100-80gb-hbm3-2026-11-26
check "the re-run is kept as a replicate" grep -q '0.75' "$rep/rerun.json"
check "with its matrices" grep -qx rerun "$rep/rerun.probe.safetensors"
check "identical files are not reported" bash -c "! grep -q same.json out.log"
check "a re-probe with the same numbers is not a replicate" bash -c "! grep -q reprobed out.log && [ ! -e $rep/reprobed.json ]"
check "and the committed file stays" bash -c "! grep -q 2026-11-27 results/spec/reprobed.json"
check "each change is named" [ "$(grep -c '^\(new\|replaced\|replicate\): ' out.log)" -eq 6 ]
check "and the report to re-render" grep -qx '  build/repro report paper/spec.toml' out.log
check "a scale's report from its spec at that scale" grep -qx '  build/repro report paper/tiny.toml --scale paper' out.log

bash "$merge" --results results slice.tgz >again.log 2>&1
check "merging twice adds nothing new" bash -c "! grep -q '^\(new\|replaced\): ' again.log"
bash "$merge" --results results missing.tgz >bad.log 2>&1
check "a missing tarball is an error" [ $? -eq 1 ]
check "that names it" grep -q 'missing.tgz: no such file' bad.log
tar czf empty.tgz -C host r/spec/same.json --transform 's|^r/|x/|'
bash "$merge" --results results empty.tgz >bad2.log 2>&1
check "a tarball without r/ is refused" grep -q 'has no r/ folder' bad2.log

echo "$passed passed, $failed failed"
[ $failed -eq 0 ] || { cat out.log again.log bad.log bad2.log; exit 1; }
