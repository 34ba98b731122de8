"""awing's PEP 517 build backend: setuptools' own, made to build against the right torch.

The kernels must be compiled against the torch they will run with. A front end that isolates the
build (plain `pip install .`, `pip wheel .`) runs this backend with the target environment's own
interpreter but hides that environment's site-packages, so `import torch` in setup.py would fail
although torch is installed where awing goes. This wrapper looks for torch in the target
environment (`sysconfig.get_paths()` still names its site-packages during an isolated build) and:

* torch is importable already (`--no-build-isolation`, or torch was installed as a build
  requirement): nothing changes;
* torch is in the target environment but hidden: that site-packages is appended to sys.path
  (after the isolated build tools, so they keep precedence) and nothing is downloaded;
* torch is nowhere (a fresh venv, `python -m build`, uv): torch is declared a build requirement,
  the front end installs it into the isolated build environment and the build uses it.

In every case setup.py pins the wheel's runtime requirement to the torch release it was built
against (`torch==X.Y.*`), so an installed wheel never meets a torch it was not built for.
`AWING_BUILD_TORCH` overrides the build requirement's spec (default `torch>=2.11`).
"""
import importlib.machinery
import importlib.util
import os
import sys
import sysconfig

from setuptools import build_meta as _setuptools

TORCH_REQUIREMENT = os.environ.get("AWING_BUILD_TORCH", "torch>=2.11")


def target_site_packages() -> list:
    """The target environment's site-packages folders (purelib, then platlib if it differs)."""
    paths = sysconfig.get_paths()
    folders = []
    for key in ("purelib", "platlib"):
        folder = paths.get(key)
        if folder and folder not in folders and os.path.isdir(folder):
            folders.append(folder)
    return folders


def find_torch() -> tuple:
    """(how, folder): how torch can be imported by the build.

    how is "importable" (on sys.path as it is, folder None), "target" (in the target
    environment's site-packages `folder`, hidden by build isolation) or "missing".
    """
    if importlib.util.find_spec("torch") is not None:
        return "importable", None
    for folder in target_site_packages():
        if importlib.machinery.PathFinder.find_spec("torch", [folder]) is not None:
            return "target", folder
    return "missing", None


def _expose_torch() -> None:
    """Makes the target environment's torch importable for setup.py (run in this process)."""
    how, folder = find_torch()
    if how == "target" and folder not in sys.path:
        sys.path.append(folder)


def _requirements(setuptools_hook, config_settings) -> list:
    """setuptools' hook runs setup.py, which imports torch: with no torch anywhere, the only
    extra requirement is torch itself (setup.py declares no setup_requires)."""
    if find_torch()[0] == "missing":
        return [TORCH_REQUIREMENT]
    _expose_torch()
    return setuptools_hook(config_settings)


# The hooks: setuptools' own, with torch declared when it is nowhere and exposed when hidden.
def get_requires_for_build_wheel(config_settings=None):
    return _requirements(_setuptools.get_requires_for_build_wheel, config_settings)


def get_requires_for_build_editable(config_settings=None):
    return _requirements(_setuptools.get_requires_for_build_editable, config_settings)


def get_requires_for_build_sdist(config_settings=None):
    # setup.py reads the torch version for the metadata even when it only packs the sources.
    return _requirements(_setuptools.get_requires_for_build_sdist, config_settings)


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _expose_torch()
    return _setuptools.prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    _expose_torch()
    return _setuptools.prepare_metadata_for_build_editable(metadata_directory, config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _expose_torch()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _expose_torch()
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    _expose_torch()
    return _setuptools.build_sdist(sdist_directory, config_settings)
