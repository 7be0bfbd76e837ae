#!/usr/bin/env bash
# Merges what GPU slices brought back (tools/gpu-slice.sh's results.tgz, r/<spec>/ inside) into results/, never
# overwriting a published number by accident:
#   tools/gpu-merge.sh [--results DIR] TARBALL...
# For every r/<spec>/<file> in a tarball:
#   new        not in results/<spec>/ yet: copied;
#   same       byte-identical to the committed file: nothing to do;
#   replaced   a .json whose result_key differs from the committed one (the spec or code changed, so the committed
#              result is stale and this run is its current version): replaces it;
#   replicate  a .json with the same result_key but other numbers (a re-run of an already published cell): kept in
#              results/replicates/<spec>-<device>-<date>/ beside, the committed result stays;
#   reprobed   the same result_key and numbers, only the probe's times differ (a cell whose tests were not all run
#              is probed again by every sweep on a warm host): the committed file, with its training's times, stays;
# a non-JSON file (probe matrices) follows the decision for its cell's JSON. Prints one line per file that changed
# something and then the `repro report` commands for the specs that gained or changed results.
set -euo pipefail
results=results
[ "${1:-}" = "--results" ] && { results=$2; shift 2; }
[ $# -ge 1 ] || { echo "usage: tools/gpu-merge.sh [--results DIR] TARBALL..." >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
changed_specs=()
for tarball in "$@"; do
  [ -f "$tarball" ] || { echo "gpu-merge: $tarball: no such file" >&2; exit 1; }
  rm -rf "${tmp:?}"/*
  tar xzf "$tarball" -C "$tmp" || { echo "gpu-merge: $tarball: not a gzip tarball" >&2; exit 1; }
  [ -d "$tmp/r" ] || { echo "gpu-merge: $tarball: has no r/ folder (expected gpu-slice's results.tgz)" >&2; exit 1; }
  # JSONs first: they decide what happens to their cell's other files.
  # A replicate's verdict carries its folder tag: "replicate <device>-<date>".
  declare -A verdict=()
  while IFS= read -r f; do
    rel=${f#"$tmp/r/"} spec=${rel%%/*} cell=$(basename "$f" .json) dst="$results/$rel"
    if [ ! -f "$dst" ]; then v=new
    elif cmp -s "$f" "$dst"; then v=same
    else
      v=$(python3 - "$f" "$dst" <<'PY'
import json, re, sys
new, old = (json.load(open(p)) for p in sys.argv[1:3])
p = new.get("provenance", {})
def numbers(r):  # what a re-probe of the same model changes: the probe's and the run's times, hence the checksum
    r = {k: v for k, v in r.items() if k not in ("checksum", "probe_seconds")}
    r["provenance"] = {k: v for k, v in r.get("provenance", {}).items()
                       if k not in ("cell_seconds_this_run", "finished_at", "probe_seconds")}
    return r
gpu = re.sub(r"[^a-z0-9]+", "-", p.get("device", "unknown").lower()).strip("-")
print("replaced" if new.get("result_key") != old.get("result_key") else "reprobed" if numbers(new) == numbers(old)
      else f"replicate {gpu}-{p.get('finished_at', 'unknown')[:10]}")
PY
)
    fi
    verdict["$spec/$cell"]=$v
  done < <(find "$tmp/r" -mindepth 2 -name '*.json' | sort)
  while IFS= read -r f; do
    rel=${f#"$tmp/r/"} spec=${rel%%/*} name=$(basename "$f")
    cell=${name%.json} cell=${cell%.probe.safetensors} dst="$results/$rel"
    read -r v tag <<<"${verdict["$spec/$cell"]:-new}"
    [ "$v" = new ] && [ -f "$dst" ] && ! cmp -s "$f" "$dst" && v=replicate tag=unknown  # a matrix without its JSON
    case $v in
      same | reprobed) continue ;;
      new | replaced) mkdir -p "$(dirname "$dst")" && cp "$f" "$dst" ;;
      replicate)
        dst="$results/replicates/$spec-$tag/$name"
        mkdir -p "$(dirname "$dst")" && cp "$f" "$dst" ;;
    esac
    echo "$v: $dst"
    [ "$v" = replicate ] || changed_specs+=("$spec")
  done < <(find "$tmp/r" -mindepth 2 -type f | sort)
  unset verdict
done
if [ ${#changed_specs[@]} -gt 0 ]; then
  echo "re-render:"
  # results/<name>-<scale>/ (a scale's results) re-render from paper/<name>.toml at that scale.
  printf '%s\n' "${changed_specs[@]}" | sort -u | while IFS= read -r spec; do
    if [ -f "paper/$spec.toml" ] || [[ "$spec" != *-* ]] || [ ! -f "paper/${spec%-*}.toml" ]; then
      echo "  build/repro report paper/$spec.toml"
    else
      echo "  build/repro report paper/${spec%-*}.toml --scale ${spec##*-}"
    fi
  done
  echo "  build/repro index paper/*.toml"
fi
