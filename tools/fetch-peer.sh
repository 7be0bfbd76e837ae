#!/usr/bin/env bash
# Downloads the public mamba-ssm sdist (PyPI has no wheel) into .peer/ (ignored by git; carried to the GPU host),
# for bench/peer/compare.py: our selective scan against theirs on the same GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .peer && cd .peer
V=2.3.2.post1
[ -d mamba_ssm-$V ] && exit 0
url=$(python3 -c "import json,urllib.request;d=json.load(urllib.request.urlopen('https://pypi.org/pypi/mamba-ssm/$V/json'));print([f['url'] for f in d['urls'] if f['packagetype']=='sdist'][0])")
curl -sSL "$url" | tar xz
