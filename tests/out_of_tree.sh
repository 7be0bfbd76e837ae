#!/usr/bin/env bash
# Builds tests/out_of_tree against this build tree's SDK (find_package(repro)) and loads it via --plugin-path.
# Usage: out_of_tree.sh <repro binary> <tests dir> <repro build dir> <cmake prefix path>
set -euo pipefail
repro=$1 src=$2 build=$3 prefix=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S "$src/out_of_tree" -B "$work" -G Ninja -DCMAKE_BUILD_TYPE=Release -Drepro_DIR="$build" \
  -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
cmake --build "$work" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
out=$("$repro" plugins --plugin-path "$work")
if grep -q "architecture bigram (version 1)" <<<"$out"; then
  echo "out-of-tree: 1 passed, 0 failed"
else
  echo "$out"; echo "out-of-tree: 0 passed, 1 failed"; exit 1
fi
