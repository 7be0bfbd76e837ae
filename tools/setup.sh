#!/usr/bin/env bash
# Installs what is missing (Debian packages, LibTorch via pip into .venv), configures and builds.
# Idempotent: a second call only rebuilds what changed. Usage: tools/setup.sh [--report-tools]
set -euo pipefail
cd "$(dirname "$0")/.."

need=(cmake ninja-build ccache g++ libboost-dev libboost-program-options-dev libtomlplusplus-dev
      nlohmann-json3-dev libgtest-dev gnuplot-nox libgloo-dev clang libclang-rt-dev  # clang: sanitizer build, libFuzzer
      libsentencepiece-dev)  # the text_corpus task's BPE tokenizer
# PDF reports: pandoc + a LaTeX engine (only the main job needs them).
[ "${1:-}" = "--report-tools" ] && need+=(pandoc texlive-xetex fonts-dejavu-core lmodern texlive-fonts-recommended)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

TORCH_VERSION=2.11.0
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  echo "setup: installing torch==$TORCH_VERSION into .venv (LibTorch for C++; a few minutes)"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "torch==$TORCH_VERSION"
fi
TP=$(.venv/bin/python -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)

if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TP" -DCMAKE_CUDA_ARCHITECTURES=90 \
    >build-configure.log 2>&1 || { cat build-configure.log; exit 1; }
fi
cmake --build build -j "$(nproc)"
