#!/usr/bin/env bash
# CI: every committed report equals a fresh render from the committed results (no training), every
# figure it shows exists as PNG and PDF, every spec in paper/ has a report, and reports/index.md is
# current. Usage: reports_fresh.sh <repro binary> <source dir>
# A report reports/<sub>/<name>.md is rendered from paper/<name>.toml and results/<sub>/<name>/; reports/<base>-<scale>.md
# from paper/<base>.toml at that scale.
set -uo pipefail
repro=$1
cd "$2" || exit 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
problem() { echo "$*"; fail=1; }

for spec in paper/*.toml; do
  name=$(basename "$spec" .toml)
  [ -f "reports/$name.md" ] || problem "MISSING: reports/$name.md (run: repro report $spec)"
done

while IFS= read -r md; do
  rel=${md#reports/}
  sub=$(dirname "$rel")
  name=$(basename "$rel" .md)
  spec=paper/$name.toml scale=()
  # reports/<base>-<scale>.md: paper/<base>.toml at that scale
  [ -f "$spec" ] || [[ "$name" != *-* ]] || [ ! -f "paper/${name%-*}.toml" ] ||
    { spec=paper/${name%-*}.toml scale=(--scale "${name##*-}"); }
  results=results
  [ "$sub" != "." ] && results=results/$sub
  if [ ! -f "$spec" ]; then problem "ORPHAN: $md has no spec $spec"; continue; fi
  if ! "$repro" report "$spec" "${scale[@]}" --results "$results" --reports "$work/$sub" --no-pdf -q >"$work/log" 2>&1; then
    problem "FAILED: repro report $spec ${scale[*]} --results $results"; cat "$work/log"; continue
  fi
  if ! diff -u "$md" "$work/$sub/$name.md" >"$work/diff"; then
    problem "STALE: $md differs from a fresh render; run: repro report $spec ${scale[*]} --results $results --reports $(dirname "$md")"
    head -40 "$work/diff"
  fi
  [ -f "${md%.md}.pdf" ] || problem "MISSING: ${md%.md}.pdf"
  for fig in $(grep -o '](figures/[^)]*\.png)' "$md" | sed 's/^](//; s/)$//'); do
    for f in "$(dirname "$md")/$fig" "$(dirname "$md")/${fig%.png}.pdf"; do
      [ -f "$f" ] || problem "MISSING figure: $f"
    done
  done
done < <(find reports -name '*.md' ! -name index.md | sort)

if "$repro" index paper/*.toml --reports "$work/index" -q >"$work/log" 2>&1; then
  diff -u reports/index.md "$work/index/index.md" >"$work/diff" ||
    { problem "STALE: reports/index.md; run: repro index paper/*.toml"; head -40 "$work/diff"; }
else
  problem "FAILED: repro index"; cat "$work/log"
fi
[ $fail -eq 0 ] && echo "reports are current"
exit $fail
