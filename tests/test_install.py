"""`pip install .` as a user runs it, in a fresh virtual environment with the machine's stock pip
(slow: installs torch 2.13.0, the CPU build, and compiles the CPU kernels; run with -m slow).

* with torch installed, `pip install --no-build-isolation -e .` builds against it (the pyproject
  build goes through PEP 660 editable wheels, also on pip 23.2) and awing_ext imports;
* plain `pip install .` (build isolation hides torch) stops with one line saying what to run.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1800, **kwargs)


def test_fresh_venv_install(tmp_path):
    python = shutil.which("python3") or sys.executable
    src = tmp_path / "src"
    files = run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout.split()
    for f in files:
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    venv = tmp_path / "venv"
    assert run([python, "-m", "venv", str(venv)]).returncode == 0
    py = str(venv / "bin" / "python")
    env = {**os.environ, "AWING_FORCE_CUDA": "0", "MAX_JOBS": "2", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    got = run([py, "-m", "pip", "install", "-q", "torch==2.13.0", "setuptools>=64", "wheel", "ninja"], env=env)
    if got.returncode != 0:
        pytest.skip(f"cannot install torch 2.13.0 here: {got.stderr[-500:]}")

    plain = run([py, "-m", "pip", "install", "--no-deps", str(src)], env=env)
    assert plain.returncode != 0
    if "pip install --no-build-isolation ." not in plain.stdout + plain.stderr:
        pytest.skip(f"the isolated build could not start here (no index?): {(plain.stdout + plain.stderr)[-500:]}")

    editable = run([py, "-m", "pip", "install", "--no-build-isolation", "-e", str(src)], env=env)
    assert editable.returncode == 0, editable.stdout[-2000:] + editable.stderr[-2000:]
    probe = run([py, "-c", "import awing_ext, training.train; print(awing_ext.__version__, awing_ext.build_info())"],
                env=env, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr[-2000:]
    version = (ROOT / "awing_ext" / "_version.py").read_text().split('"')[1]
    assert probe.stdout.startswith(version) and "'torch_version': '2.13.0" in probe.stdout
