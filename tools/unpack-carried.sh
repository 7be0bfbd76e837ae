#!/usr/bin/env bash
# On the GPU host: unpacks what tools/gpu-bundle.sh packed and the device call carried, once per machine —
# .repro/bundle.tar.xz (binaries, plugins, libraries) into .repro/bundle and .repro/corpus.tar.xz (Table 4's text)
# into data/corpus, or the corpus from its parts .repro/corpus.part-KofN once all N are here (one per call: see
# tools/gpu-bundle.sh). Absent tarballs are skipped. Sourced by tools/gpu-slice.sh and tools/gpu-measure.sh.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -d "$root/.repro/bundle" ] || [ ! -f "$root/.repro/bundle.tar.xz" ] || tar xJf "$root/.repro/bundle.tar.xz" -C "$root/.repro"
[ -d "$root/data/corpus" ] || [ ! -f "$root/.repro/corpus.tar.xz" ] || tar xJf "$root/.repro/corpus.tar.xz" -C "$root"
if [ ! -d "$root/data/corpus" ] && [ ! -f "$root/.repro/corpus.tar.xz" ]; then
  _p=$(ls "$root"/.repro/corpus.part-*of* 2>/dev/null | sort)
  _n=$(head -1 <<<"$_p" | sed -n 's/.*of\([0-9]*\)$/\1/p')
  if [ -n "$_n" ] && [ "$(wc -l <<<"$_p")" -eq "$_n" ]; then cat $_p | tar xJf - -C "$root"
  elif [ -n "$_n" ]; then echo "unpack-carried: $(wc -l <<<"$_p") of $_n corpus parts here; the corpus waits for the rest" >&2; fi
fi
