#!/usr/bin/env bash
# Packs this machine's CUDA-enabled Release build (build/, sm_90) into .repro/bundle so the GPU host runs it
# instead of compiling: the host lacks Boost/TOML++/SentencePiece, and a build there costs minutes of device time.
# The bundle holds the binaries, the plugins, the three Debian shared libraries they need and `env`, a wrapper that
# points them at the host's LibTorch. The sha it records is HEAD's, so commit before bundling (refused if dirty).
# Also packed as .repro/bundle.tar.xz (5 MB instead of 20: carry that), and with --corpus, data/corpus (from
# tools/fetch-corpus.py, 119 MB) as .repro/corpus.tar.xz (28 MB), also split in halves .repro/corpus.part-1of2 and
# -2of2: with the 38 MB of tracked files a call's tree is over its 64 MiB with bundle and corpus together, so carry
# the bundle and one half in one call and the other half in the next (the warm host keeps them); tools/gpu-slice.sh
# unpacks the corpus on the host once it has every part.
#   here:  bash tools/gpu-bundle.sh [--corpus]   host:  .repro/bundle/env repro run paper/table2.toml --device cuda
set -euo pipefail
cd "$(dirname "$0")/.."
[ -z "$(git status --porcelain --untracked-files=no)" ] || { echo "gpu-bundle: commit first (results carry HEAD's sha)"; exit 1; }
cmake --build build -j "$(nproc)" >/dev/null
B=.repro/bundle
rm -rf "$B" && mkdir -p "$B/plugins" "$B/lib" "$B/tests"
cp build/repro build/librepro_kernels.so build/repro-bench-kernels build/repro-bench-models "$B/"
cp build/plugins/*.so "$B/plugins/"
cp build/tests/repro_tests "$B/tests/" && cp -r build/test-plugins "$B/tests/"
for f in build/repro build/plugins/*.so; do ldd "$f"; done | awk '/boost|sentencepiece/ {print $3}' | sort -u |
  xargs -I{} cp -L {} "$B/lib/"
git rev-parse --short HEAD >"$B/sha"
cat >"$B/env" <<'WRAP'
#!/usr/bin/env bash
# Runs a command with the bundle's libraries and plugins and the host's LibTorch (/opt/torch/.venv), git sha set.
B=$(cd "$(dirname "$0")" && pwd)
T=$(ls -d /opt/torch/.venv/lib/python3*/site-packages 2>/dev/null | head -1)
export LD_LIBRARY_PATH="$B/lib:$B:$T/torch/lib:$T/nvidia/cu13/lib:$T/nvidia/nccl/lib:${LD_LIBRARY_PATH:-}"
export REPRO_PLUGIN_PATH="$B/plugins" REPRO_GIT_SHA="$(cat "$B/sha")" PATH="$B:$PATH"
exec "$@"
WRAP
chmod +x "$B/env"
tar cf - -C .repro bundle | xz -T0 -6 >.repro/bundle.tar.xz.tmp && mv .repro/bundle.tar.xz.tmp .repro/bundle.tar.xz
if [ "${1:-}" = "--corpus" ]; then
  [ -f data/corpus/MANIFEST.json ] || { echo "gpu-bundle: no data/corpus (run python3 tools/fetch-corpus.py)"; exit 1; }
  tar cf - data/corpus | xz -T0 -6 >.repro/corpus.tar.xz.tmp && mv .repro/corpus.tar.xz.tmp .repro/corpus.tar.xz
  rm -f .repro/corpus.part-*
  split -n 2 --numeric-suffixes=1 -a 1 --additional-suffix=of2 .repro/corpus.tar.xz .repro/corpus.part-
fi
ls -la .repro/*.tar.xz .repro/corpus.part-* 2>/dev/null
