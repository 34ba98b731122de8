#!/usr/bin/env bash
# The test command: builds awing_ext in .venv (installing torch if missing) and runs pytest.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the long tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec bash scripts/bootstrap.sh python -m pytest "$@"
