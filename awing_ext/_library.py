"""Loads the compiled kernels, which register the torch.ops.awing_ext ops.

awing_ext._C holds the op schemas, the scalar CPU kernels and the CUDA kernels; the vectorised
CPU kernels come in one module per CPU capability (setup.py), of which exactly one is loaded:
the one matching the capability torch itself runs with, so `ATEN_CPU_CAPABILITY=default` lowers
both alike and a wheel built on an AVX2 machine runs on any x86-64 CPU.

There is no silent fallback: if the extension did not build or was built for another torch,
importing awing_ext fails with one line that says how to rebuild it.
"""
import importlib.util
import json
from pathlib import Path

import torch

REBUILD = "rebuild it against the torch you run with: `pip install .` in the awing source tree"
# torch's CPU capabilities that can run awing's AVX2 kernels (AVX512 machines have AVX2 and FMA).
_AVX2_CAPABLE = ("AVX2", "AVX512")


def _release(version: str) -> tuple:
    return tuple(version.split("+")[0].split(".")[:2])


def read_build_record(folder: Path = Path(__file__).parent) -> dict:
    """What setup.py recorded about the build (awing_ext/_build.json): the torch it was built
    against and the CPU capabilities compiled; {} for a build that predates the record."""
    try:
        return json.loads((folder / "_build.json").read_text())
    except (OSError, ValueError):
        return {}


def check_build_torch(built: str, running: str) -> None:
    """A build is only valid for the torch release it was compiled against (the C++ ABI changes
    between releases): raise ImportError naming both versions otherwise."""
    if built and _release(built) != _release(running):
        raise ImportError(f"awing_ext was built against torch {built} but torch {running} is running: {REBUILD}")


def choose_cpu_capability(torch_capability: str, built: list) -> str:
    """The CPU module to load: AVX2 where torch runs its own AVX2 (or AVX512) kernels and it was
    built, else the portable one."""
    if torch_capability in _AVX2_CAPABLE and "avx2" in built:
        return "avx2"
    return "default"


_record = read_build_record()
check_build_torch(_record.get("torch_version", ""), torch.__version__)
try:
    from . import _C
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(f"awing_ext: the compiled extension awing_ext._C could not be loaded ({exc}); {REBUILD}") from exc
check_build_torch(_C.build_info()["torch_version"], torch.__version__)

CPU_CAPABILITY = choose_cpu_capability(torch.backends.cpu.get_cpu_capability(),
                                       _record.get("cpu_capabilities", ["default"]))


def _load_cpu_kernels(capability: str) -> None:
    """Loads awing_ext/_cpu_<capability>.*.so, a library of op kernels (no Python module in it)."""
    name = f"{__package__}._cpu_{capability}"
    spec = importlib.util.find_spec(name)
    try:
        if spec is None or spec.origin is None:
            raise OSError("not built")
        torch.ops.load_library(spec.origin)
    except OSError as exc:  # pragma: no cover - exercised only on a broken install
        raise ImportError(f"awing_ext: the CPU kernels {name} could not be loaded ({exc}); {REBUILD}") from exc


_load_cpu_kernels(CPU_CAPABILITY)


def build_info() -> dict:
    """Which backends were compiled and which CPU kernels run:
    {'cpu', 'cuda', 'cuda_version', 'torch_version', 'cpu_capability', 'cpu_capabilities_built'}."""
    info = dict(_C.build_info())
    info["cpu_capability"] = CPU_CAPABILITY
    info["cpu_capabilities_built"] = list(_record.get("cpu_capabilities", ["default"]))
    return info


ops = torch.ops.awing_ext
MAX_KERNEL_SIZE = int(_C.MAX_KERNEL_SIZE)  # largest dilation window of the loss and loss_map_mask
