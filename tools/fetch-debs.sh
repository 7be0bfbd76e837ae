#!/usr/bin/env bash
# Downloads the Debian packages the GPU host lacks into .debs/ (ignored by git; carried by the device tool).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .debs && cd .debs
apt-get update -qq >/dev/null 2>&1 || true
apt-get download libboost1.74-dev libboost-program-options1.74-dev libboost-program-options1.74.0 \
  libtomlplusplus-dev libtomlplusplus3 nlohmann-json3-dev libgloo-dev \
  libsentencepiece-dev libsentencepiece0 2>/dev/null  # SentencePiece: the text_corpus task's BPE tokenizer
ls -1
