#!/usr/bin/env bash
# Runs the spec fuzzer for a bounded time on a scratch corpus seeded with every spec (*.toml) under the given
# folders, then prints one summary line. A finding fails the test and prints its input. The random seed is fixed
# (REPRO_FUZZ_SEED, default 1) so that CI replays the same inputs instead of failing on a new finding at random;
# REPRO_FUZZ_SEED=0 (a fresh seed each run) and more seconds explore. Findings become bad specs.
# Usage: run.sh <spec_fuzz binary> <seconds> <seed folder>...
set -uo pipefail
fuzz=$1
seconds=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/seeds"
find "$@" -name '*.toml' -exec cp --backup=numbered -t "$work/seeds" {} +
cd "$work" || exit 1  # libFuzzer writes crash-* files into the working directory
"$fuzz" -seed="${REPRO_FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len=8192 -print_final_stats=1 \
  corpus seeds >fuzz.log 2>&1
rc=$?
runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' fuzz.log | grep -oE '[0-9]+$')
if [ "$rc" -ne 0 ]; then
  tail -40 fuzz.log
  for f in crash-* leak-* timeout-* oom-*; do
    [ -e "$f" ] && { echo "== finding $f (base64):"; base64 "$f"; }
  done
fi
echo "reliability: fuzz: ${runs:-0} executions of the spec loader+validator in ${seconds} s from $(ls seeds | wc -l) seed specs, corpus grew to $(ls corpus | wc -l), exit $rc"
exit "$rc"
