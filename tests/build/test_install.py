"""Installing awing as a user does, each in a fresh virtual environment (slow: each case compiles
the CPU kernels against torch 2.13.0, the CPU build; run with -m slow, ~15 minutes on 2 cores):

(a) torch installed, plain `pip install .` with the machine's stock pip;
(b) torch installed, `pip install -e .` with a current pip;
(c) no torch, plain `pip install .`: torch becomes a build requirement and the wheel pins it;
(d) `pip wheel . -w dist`, then that wheel installed into another environment with the same torch.

Each imports awing_ext and runs one op. (a), (b) and (d) must build against the torch already
there: AWING_BUILD_TORCH names a package that does not exist, so a build that asked for torch
would fail, and the environment's torch must be unchanged afterwards.
"""
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers import REPO as ROOT

TORCH = "torch==2.13.0"
pytestmark = pytest.mark.slow
PROBE = ("import awing_ext, torch, training.train; "
         "print(awing_ext.__version__, torch.__version__, awing_ext.build_info()['torch_version'], "
         "float(awing_ext.adaptive_wing_loss(torch.rand(1, 2, 8, 8), torch.rand(1, 2, 8, 8))))")


def run(cmd, **kwargs):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=1800, **kwargs)


def output(result) -> str:
    return (result.stdout[-3000:] + result.stderr[-3000:]).strip()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """The repository's files as a clean clone has them (no build products)."""
    src = tmp_path_factory.mktemp("install") / "src"
    files = run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout.split()
    for f in files:
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    return src


@pytest.fixture
def env():
    env = {**os.environ, "AWING_FORCE_CUDA": "0", "MAX_JOBS": "2", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "AWING_BUILD_TORCH": "awing-test-no-such-torch-package"}
    env.pop("PYTHONPATH", None)
    return env


def make_venv(folder: Path, env: dict, torch_spec=TORCH, upgrade_pip=False) -> Path:
    python = shutil.which("python3") or sys.executable
    assert run([python, "-m", "venv", folder]).returncode == 0
    py = folder / "bin" / "python"
    if upgrade_pip:
        assert run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], env=env).returncode == 0
    if torch_spec:
        got = run([py, "-m", "pip", "install", "-q", torch_spec], env=env)
        if got.returncode != 0:
            pytest.skip(f"cannot install {torch_spec} here: {output(got)[-500:]}")
    return py


def torch_version(py: Path, env) -> str:
    return run([py, "-c", "import torch; print(torch.__version__)"], env=env).stdout.strip()


def check_probe(py: Path, env, cwd: Path) -> None:
    probe = run([py, "-c", PROBE], env=env, cwd=cwd)
    assert probe.returncode == 0, output(probe)
    version = re.search(r'__version__ = "([^"]+)"', (ROOT / "awing_ext" / "_version.py").read_text()).group(1)
    ours, running, built, loss = probe.stdout.split()
    assert ours == version and running.startswith("2.13.0") and built.startswith("2.13.0") and float(loss) > 0


def test_a_plain_pip_install_with_torch_present(source, env, tmp_path):
    py = make_venv(tmp_path / "venv", env)
    before = torch_version(py, env)
    got = run([py, "-m", "pip", "install", source], env=env, cwd=tmp_path)
    assert got.returncode == 0, output(got)
    assert torch_version(py, env) == before
    check_probe(py, env, tmp_path)


def test_b_editable_install_with_a_current_pip(source, env, tmp_path):
    py = make_venv(tmp_path / "venv", env, upgrade_pip=True)
    before = torch_version(py, env)
    got = run([py, "-m", "pip", "install", "-e", source], env=env, cwd=tmp_path)
    assert got.returncode == 0, output(got)
    assert torch_version(py, env) == before
    check_probe(py, env, tmp_path)


def test_c_no_torch_declares_it_and_pins_the_wheel(source, env, tmp_path):
    py = make_venv(tmp_path / "venv", env, torch_spec=None)
    env = {**env, "AWING_BUILD_TORCH": TORCH}
    got = run([py, "-m", "pip", "install", source], env=env, cwd=tmp_path)
    assert got.returncode == 0, output(got)
    check_probe(py, env, tmp_path)
    requires = run([py, "-c", "import importlib.metadata as m; print(m.requires('awing'))"], env=env).stdout
    assert "torch==2.13.*" in requires


def test_d_a_built_wheel_installs_into_another_environment(source, env, tmp_path):
    builder = make_venv(tmp_path / "builder", env)
    dist = tmp_path / "dist"
    got = run([builder, "-m", "pip", "wheel", "--no-deps", source, "-w", dist], env=env, cwd=tmp_path)
    assert got.returncode == 0, output(got)
    (wheel,) = dist.glob("awing-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Requires-Dist: torch==2.13.*" in metadata
    assert {"awing_ext/_build.json", *(f"awing_ext/landmark_schemes/{k}.toml" for k in (68, 98, 29))} <= set(names)
    assert any(n.startswith("awing_ext/_cpu_default") for n in names)
    user = make_venv(tmp_path / "user", env)
    got = run([user, "-m", "pip", "install", wheel], env=env, cwd=tmp_path)
    assert got.returncode == 0, output(got)
    check_probe(user, env, tmp_path)
    # The portable kernels load where torch runs without AVX2 (ATEN_CPU_CAPABILITY lowers both).
    portable = run([user, "-c", "import awing_ext; print(awing_ext.build_info()['cpu_capability'])"],
                   env={**env, "ATEN_CPU_CAPABILITY": "default"}, cwd=tmp_path)
    assert portable.stdout.strip() == "default", output(portable)
