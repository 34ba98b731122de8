"""The in-tree PEP 517 backend (build_backend/awing_build.py) finds the torch the kernels must be
built against: importable as it is, hidden in the target environment by build isolation (then
exposed, nothing downloaded), or nowhere (then torch is the one build requirement)."""
import importlib.util
import sys

import pytest

from helpers import REPO as ROOT

try:
    import tomllib
except ModuleNotFoundError:  # python < 3.11
    import tomli as tomllib



@pytest.fixture
def backend(monkeypatch):
    spec = importlib.util.spec_from_file_location("awing_build_under_test", ROOT / "build_backend" / "awing_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hide_torch(monkeypatch, backend, site_packages):
    """What pip's build isolation does: torch is not on sys.path, the target's site-packages
    (what sysconfig still names) is `site_packages`."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(backend.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    monkeypatch.setattr(backend.sysconfig, "get_paths",
                        lambda: {"purelib": str(site_packages), "platlib": str(site_packages)})


def test_pyproject_names_the_in_tree_backend():
    system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    assert system["build-backend"] == "awing_build" and system["backend-path"] == ["build_backend"]
    assert not any(r.startswith("torch") for r in system["requires"])  # found or declared by the backend


def test_torch_importable_as_it_is(backend):
    assert backend.find_torch() == ("importable", None)


def test_torch_hidden_in_the_target_environment_is_exposed_without_a_download(backend, monkeypatch, tmp_path):
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("")
    hide_torch(monkeypatch, backend, tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert backend.find_torch() == ("target", str(tmp_path))
    seen = {}
    monkeypatch.setattr(backend._setuptools, "get_requires_for_build_wheel",
                        lambda config_settings=None: seen.setdefault("path", list(sys.path)) and [])
    assert backend.get_requires_for_build_wheel() == []  # no torch requirement: nothing to download
    # exposed for setup.py, after the isolated build's own tools so that they keep precedence
    assert seen["path"][-1] == str(tmp_path)
    backend._expose_torch()
    assert sys.path.count(str(tmp_path)) == 1


def test_no_torch_anywhere_declares_it_without_running_setup_py(backend, monkeypatch, tmp_path):
    hide_torch(monkeypatch, backend, tmp_path)
    monkeypatch.setattr(backend._setuptools, "get_requires_for_build_wheel",
                        lambda config_settings=None: pytest.fail("setup.py would import the missing torch"))
    assert backend.find_torch() == ("missing", None)
    assert backend.get_requires_for_build_wheel() == ["torch>=2.11"]
    assert backend.get_requires_for_build_editable() == ["torch>=2.11"]
    assert backend.get_requires_for_build_sdist() == ["torch>=2.11"]


def test_the_build_requirement_can_be_chosen(monkeypatch, tmp_path):
    monkeypatch.setenv("AWING_BUILD_TORCH", "torch==2.13.0")
    spec = importlib.util.spec_from_file_location("awing_build_env", ROOT / "build_backend" / "awing_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    hide_torch(monkeypatch, module, tmp_path)
    assert module.get_requires_for_build_wheel() == ["torch==2.13.0"]
