#!/usr/bin/env bash
# Fetches the public mamba-ssm sources (PyPI has no wheel, only an sdist) into .peer/ (ignored by git; carried to the
# GPU host), for bench/peer/compare.py: our selective scan against theirs on the same GPU. Without a route to PyPI,
# a local clone of github.com/state-spaces/mamba serves: REPRO_PEER_GIT=/path/to/clone takes the same release's
# csrc/selective_scan from its tag (all compare.py compiles).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .peer && cd .peer
V=2.3.2.post1
[ -d mamba_ssm-$V ] && exit 0
if [ -n "${REPRO_PEER_GIT:-}" ]; then
  mkdir -p mamba_ssm-$V.tmp && git -C "$REPRO_PEER_GIT" archive "v$V" csrc/selective_scan | tar x -C mamba_ssm-$V.tmp
else
  url=$(python3 -c "import json,urllib.request;d=json.load(urllib.request.urlopen('https://pypi.org/pypi/mamba-ssm/$V/json'));print([f['url'] for f in d['urls'] if f['packagetype']=='sdist'][0])")
  mkdir -p mamba_ssm-$V.tmp && curl -sSL "$url" | tar xz -C mamba_ssm-$V.tmp --strip-components=1
fi
mv mamba_ssm-$V.tmp mamba_ssm-$V
