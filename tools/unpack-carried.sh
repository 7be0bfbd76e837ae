#!/usr/bin/env bash
# On the GPU host: unpacks what tools/gpu-bundle.sh packed and the device call carried, once per machine —
# .repro/bundle.tar.xz (binaries, plugins, libraries) into .repro/bundle and .repro/corpus.tar.xz (Table 4's text)
# into data/corpus. Absent tarballs are skipped. Sourced by tools/gpu-slice.sh and tools/gpu-measure.sh.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -d "$root/.repro/bundle" ] || [ ! -f "$root/.repro/bundle.tar.xz" ] || tar xJf "$root/.repro/bundle.tar.xz" -C "$root/.repro"
[ -d "$root/data/corpus" ] || [ ! -f "$root/.repro/corpus.tar.xz" ] || tar xJf "$root/.repro/corpus.tar.xz" -C "$root"
