#!/usr/bin/env bash
# End-to-end through the CLI in a scratch directory. Usage: e2e.sh <repro binary> <tests dir>
set -uo pipefail
repro=$1
src=$2
# shellcheck source=check.sh
source "$src/check.sh"

cp "$src/data/e2e.toml" spec.toml
"$repro" run spec.toml --dry-run >dry0.log 2>&1
check "dry run before anything lists both cells" grep -q "0 fresh, 2 to run" dry0.log
"$repro" run spec.toml --dry-run --measure --device cpu >dry-measure.log 2>&1
check "dry run --measure times each cell's steps" [ "$(grep -cE "steps +[0-9.]+ ms/step ≈ [0-9.]+ min" dry-measure.log)" -eq 2 ]
check "dry run --measure totals them" grep -qE "^measured: ≈ [0-9.]+ min of training on cpu" dry-measure.log
"$repro" run spec.toml --measure >measure-alone.log 2>&1
check "--measure without --dry-run is refused" [ $? -eq 2 ]
"$repro" run spec.toml --no-pdf >run1.log 2>&1
check "first run exits 0" [ $? -eq 0 ]
# The dry run's step count is what training then takes, cell by cell.
for c in std__tf__s0 std__tf__s1; do
  steps=$(grep -oE "^$c: trained [0-9]+ params for [0-9]+ steps" run1.log | awk '{print $6}')
  check "dry run predicts $c's $steps steps" grep -qE "^  $c +[0-9]+ params +[0-9.e+]+ train FLOP +$steps steps" dry0.log
done
check "report written" test -f reports/e2e.md
check "two seeds' results" [ "$(ls results/e2e/*.json | wc -l)" -eq 2 ]
check "report has the table with a verdict" grep -q "Verdict" reports/e2e.md
check "unreported paper cell stays unreported" grep -q "zero filler" reports/e2e.md
check "provenance lists the device" grep -qE "\| (cpu|cuda:0 \(.*\)) \|" reports/e2e.md
# A third seed: the dry run estimates it from the committed cells' training times as well.
sed 's/^seeds = \[0, 1\]/seeds = [0, 1, 2]/' spec.toml >more.toml
"$repro" run more.toml --dry-run >dry-more.log 2>&1
check "a third seed is the one cell to run" grep -q "2 fresh, 1 to run" dry-more.log
check "estimated from the committed cells' training times" \
  grep -qE "^from committed results: 1 of the 1 cells to train .* ≈ [0-9.]+ min of cell time" dry-more.log

# The index lists a spec's other scales (e.g. paper) once they have results (results/<name>-<scale>/).
sed 's/^\[\[report.tables\]\]$/[[report.tables]]\nartifact = "x:t"/' spec.toml >scaled.toml
printf '\n[scales]\ndefault = "small"\n\n[scales.paper]\ngrid.seeds = [0]\n' >>scaled.toml
printf '[[artifact]]\nid = "x:t"\npaper = "P"\ntitle = "T"\n' >art.toml
"$repro" index scaled.toml --artifacts art.toml --reports idx >idx.log 2>&1
check "the index lists the default scale" grep -q '| \[e2e\](e2e.md) | table "E2E accuracy" | ' idx/index.md
check "and no scale without results" bash -c "! grep -q e2e-paper idx/index.md"
cp -r results/e2e results/e2e-paper
"$repro" index scaled.toml --artifacts art.toml --reports idx >idx.log 2>&1
check "the index lists a scale that has results" grep -q '| \[e2e-paper\](e2e-paper.md) | table "E2E accuracy" | ' idx/index.md
rm -r results/e2e-paper

"$repro" generate spec.toml --show 2 --split test --dataset zero >show.log 2>&1
check "generate --show decodes examples" grep -qE "^example [0-9]+ \[L16-n2\] length 16" show.log
check "generate --show marks query targets" grep -qE "\?[0-9]+=[0-9]+" show.log
"$repro" generate spec.toml --show 1 --split tst >show-bad.log 2>&1
check "generate --show refuses a bad split" [ $? -eq 2 ]

start=$(date +%s%N)
"$repro" run spec.toml --no-pdf >run2.log 2>&1
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "second run exits 0" [ $rc -eq 0 ]
check "second run has nothing to run" grep -q "2 up to date, 0 to run" run2.log
check "second run is fast (${ms} ms)" [ "$ms" -lt 10000 ]

rm -rf .repro
"$repro" report spec.toml --no-pdf >rep.log 2>&1
check "report renders from results alone" [ $? -eq 0 ]
check "re-rendered report still has results" grep -q "2 of 2 cells have results" reports/e2e.md

"$repro" run spec.toml --dry-run >dry.log 2>&1
check "dry run lists nothing stale" grep -q "2 fresh, 0 to run" dry.log

# Editing a result file by hand is detected and the cell recomputed.
sed -i 's/"example_accuracy": [0-9.e-]*/"example_accuracy": 1.0/' results/e2e/std__tf__s0.json
"$repro" run spec.toml --no-pdf >run3.log 2>&1
check "edited result detected" grep -q "checksum mismatch" run3.log
check "and recomputed" grep -q "1 up to date, 1 to run" run3.log

"$repro" run spec.toml --force -j 2 --no-pdf >run4.log 2>&1
check "forced parallel run exits 0" [ $? -eq 0 ]
check "forced parallel run recomputed both cells" grep -q "0 up to date, 2 to run" run4.log

# The interventions probe (Achilles Fig. 6): agreements per pair in the result, drawn by pair in the report.
cp "$src/data/e2e_interventions.toml" iv.toml
"$repro" run iv.toml --device cpu --no-pdf >iv.log 2>&1
check "interventions run exits 0" [ $? -eq 0 ]
check "interventions logged" grep -qE "interventions: blocking agreement [0-9.]+ \(worst subset [0-9.]+\), substitution agreement" iv.log
# The twin of a "43" sequence is the sequence itself: its substitution agreement is 1 by construction.
check "per-pair agreements in the result" bash -c "grep -A16 '\"43\": {' results/iv-tiny/composite__m__s0.json | grep -q '\"substitution_agreement\": 1.0'"
check "blocking figure drawn by pair" test -f reports/figures/iv-tiny-blk.png
check "the control is measured when asked" grep -qE "interventions: control blocking agreement [0-9.]+ \([0-9]+ examples\)" iv.log

printf '[experiment]\nname = "x"\nbogus = 1\n' >bad.toml
"$repro" validate bad.toml 2>err.txt
rc=$?
check "bad spec exits 2" [ $rc -eq 2 ]
check "one-line error" [ "$(wc -l <err.txt)" -eq 1 ]
check "error has file:line:col and key" grep -q "bad.toml:3:1: experiment.bogus: unknown key" err.txt

"$repro" frobnicate 2>/dev/null
check "unknown command exits 2" [ $? -eq 2 ]
"$repro" run does-not-exist.toml 2>err2.txt
check "missing spec exits 2" [ $? -eq 2 ]
"$repro" run spec.toml --jobs 0 2>/dev/null
check "bad flag value exits 2" [ $? -eq 2 ]
"$repro" plugins >plugins.txt 2>&1
check "plugins lists mqar and transformer" grep -q "task mqar" plugins.txt
check "plugins lists transformer" grep -q "architecture transformer" plugins.txt

"$repro" clean >/dev/null 2>&1
check "clean removes the store" [ ! -e .repro/store ]

if [ "$failed" -ne 0 ]; then
  for f in run1.log run2.log run3.log rep.log; do echo "== $f"; tail -5 "$f"; done
fi
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
