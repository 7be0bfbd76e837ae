#!/usr/bin/env bash
# The sanitizer leg of the suite: an ASan+UBSan build (clang) of the core, the plugins its tests use, the
# spec/store/train/reliability tests (tiny configs) and the libFuzzer spec fuzzer, in build-asan/; then
# its CTest (the fuzzer runs REPRO_FUZZ_SECONDS, default 60). Needs tools/setup.sh (clang, LibTorch) first.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
if [ ! -f build-asan/build.ninja ]; then
  TP=$(.venv/bin/python -c 'import torch; print(torch.utils.cmake_prefix_path)')
  # -O1: sanitizer reports stay readable and the build stays short; no NDEBUG, so assertions run too.
  CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DREPRO_SANITIZE=ON -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -gline-tables-only" -DCMAKE_PREFIX_PATH="$TP" \
    >build-asan-configure.log 2>&1 || { cat build-asan-configure.log; exit 1; }
fi
cmake --build build-asan -j "$(nproc)" --target repro_tests spec_fuzz
built=$(date +%s)
# Child `repro` processes inherit these. LibTorch is not instrumented: its allocations are not checked.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rc=0
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" || rc=$?
echo "sanitize: ASan+UBSan build $((built - start)) s, its tests $(($(date +%s) - built)) s"
exit "$rc"
