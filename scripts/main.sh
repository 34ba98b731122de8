#!/usr/bin/env bash
# The main job: builds awing_ext in .venv (installing torch if missing) and runs the loss
# benchmark (until the training package lands). Extra arguments go to the benchmark.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec bash scripts/bootstrap.sh python -m benchmarks.bench_loss "$@"
