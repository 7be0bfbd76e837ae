#!/usr/bin/env bash
# The main job: set up, build, run the default experiment, render its report (Markdown + PDF).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --report-tools
./build/repro run paper/smoke.toml "$@"
echo "main: report at reports/smoke.md and reports/smoke.pdf"
