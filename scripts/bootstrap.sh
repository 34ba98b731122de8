#!/usr/bin/env bash
# Prepares a virtual environment with torch and a fresh build of awing_ext, then runs "$@" in it.
#
#   AWING_VENV   where the environment lives (default: .venv in the repository)
#   AWING_TORCH  the torch to install when none is there (default: torch==2.14.1; e.g.
#                "torch==2.13.0" for a CPU-only build, or a spec with --index-url for your CUDA)
#   AWING_FORCE_CUDA, AWING_CPU_SIMD, TORCH_CUDA_ARCH_LIST, MAX_JOBS: see setup.py
# The build is `pip install --no-build-isolation -e .` (fast: no isolated environment to set up);
# plain `pip install .` works as well (see README, Installing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${AWING_VENV:-.venv}"
python_bin="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv"
  "$python_bin" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip setuptools wheel
fi
py="$venv/bin/python"

if ! "$py" -c "import torch" 2>/dev/null; then
  spec="${AWING_TORCH:-torch==2.14.1}"
  echo "== installing $spec"
  # shellcheck disable=SC2086  # a spec may carry pip options
  "$py" -m pip install -q $spec
fi
# the installed torch as a constraint: a test dependency (timm -> torchvision) must not move it
torch_pin="$(mktemp)"
"$py" -c 'import torch; print("torch==" + torch.__version__.split("+")[0])' > "$torch_pin"
"$py" -m pip install -q -r requirements-dev.txt -c "$torch_pin"
rm -f "$torch_pin"

echo "== building awing_ext (torch $("$py" -c 'import torch; print(torch.__version__)'))"
MAX_JOBS="${MAX_JOBS:-2}" "$py" -m pip install -q --no-build-isolation -e . >/dev/null
"$py" -c "import awing_ext; print('awing_ext build:', awing_ext.build_info())"

export PATH="$PWD/$venv/bin:$PATH"
exec "$@"
