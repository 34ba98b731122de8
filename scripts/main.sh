#!/usr/bin/env bash
# The main job: builds awing_ext in .venv (installing torch if missing) and trains the small FAN
# on the built-in synthetic faces (`python -m training.train`, ~6 minutes on 2 CPU cores).
# Extra arguments go to training.train (see `--help`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec bash scripts/bootstrap.sh python -m training.train "$@"
