#!/usr/bin/env bash
# `repro export slurm`: the script is valid bash, lists exactly the stale cells, and one of its array
# tasks, run by hand as Slurm would run it, trains its cell. Usage: slurm_export.sh <repro binary> <tests dir>
set -uo pipefail
repro=$1
src=$2
# shellcheck source=check.sh
source "$src/check.sh"
cp "$src/data/sweep.toml" spec.toml

# One cell is made fresh first; the other two are stale.
"$repro" probe spec.toml --cell std__tf__s1 --store store >probe.log 2>&1
check "probe --cell exits 0" [ $? -eq 0 ]
check "probe --cell ran only that cell" [ "$(ls results/sweep/*.json | wc -l)" -eq 1 ]

"$repro" export slurm spec.toml --store store --device cpu --sbatch=--partition=test --out job.sbatch >export.log 2>&1
check "export exits 0" [ $? -eq 0 ]
check "script is valid bash" bash -n job.sbatch
check "script is executable" test -x job.sbatch
listed=$(sed -n '/^cells=(/,/^)/p' job.sbatch | grep -o "'[^']*'" | tr -d "'" | sort | tr '\n' ' ')
check "lists exactly the stale cells (got: $listed)" [ "$listed" = "std__tf__s0 std__tf__s2 " ]
check "array has one task per stale cell" grep -qx '#SBATCH --array=0-1' job.sbatch
check "extra sbatch option kept" grep -qx '#SBATCH --partition=test' job.sbatch
check "no GPU requested for --device cpu" test -z "$(grep gres job.sbatch)"
check "tasks call repro train --cell" grep -q " train '.*spec.toml' --cell \"\${cells\[\$task\]}\"" job.sbatch

# Array task 1 as Slurm would start it (from another directory): trains std__tf__s2 into the shared store.
(cd / && SLURM_ARRAY_TASK_ID=1 bash "$work/job.sbatch") >task.log 2>&1
check "array task exits 0" [ $? -eq 0 ]
check "array task trained its cell" grep -q "^std__tf__s2: trained " task.log
(cd / && bash "$work/job.sbatch") >notask.log 2>&1
check "without SLURM_ARRAY_TASK_ID the script refuses" [ $? -ne 0 ]

# Once every cell is fresh there is nothing to export.
"$repro" run spec.toml --store store --no-pdf >run.log 2>&1
"$repro" export slurm spec.toml --store store --out none.sbatch >none.log 2>&1
check "nothing stale: exit 0" [ $? -eq 0 ]
check "nothing stale: no script" test ! -e none.sbatch
check "nothing stale: says so" grep -q "nothing to export" none.log

echo "$passed passed, $failed failed"
[ $failed -eq 0 ] || { for f in *.log job.sbatch; do echo "== $f"; tail -30 "$f"; done; exit 1; }
