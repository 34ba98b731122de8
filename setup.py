"""Builds awing_ext._C: the C++ CPU kernels always, the CUDA kernels when possible.

CUDA kernels are compiled when torch is a CUDA build and nvcc is found (no GPU needed), or
when forced. Environment variables:
  AWING_FORCE_CUDA=1   compile the CUDA kernels or fail (CI uses this so a CUDA compile error fails)
  AWING_FORCE_CUDA=0   never compile them
  AWING_CPU_SIMD=avx2|default   x86-64 SIMD level of the CPU kernels (default: avx2 when the
                       build machine has AVX2, FMA and F16C; the build then needs such a CPU to run)
  TORCH_CUDA_ARCH_LIST GPU architectures (default: the visible GPU's, else 8.0;9.0+PTX)
  MAX_JOBS             parallel compile jobs
Install with `pip install --no-build-isolation .` so the build sees the torch it will run with
(plain `pip install .` builds in an isolated environment without torch and stops with that line).
Metadata and dependencies are in pyproject.toml.
"""
import glob
import os
import platform
import shutil
import sys

from setuptools import setup

try:
    import torch
except ImportError:  # pip's build isolation hides the installed torch
    sys.exit("error: awing's kernels build against the torch installed where awing goes, which this build "
             "cannot see: install torch there first, then run `pip install --no-build-isolation .`")


def _set_cuda_home() -> None:
    """torch guesses CUDA_HOME as the grandparent of the nvcc on PATH, which is wrong when that
    nvcc is a wrapper or link (e.g. /usr/local/bin/nvcc); pick a real toolkit folder instead."""
    if os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH"):
        return
    nvcc = shutil.which("nvcc")
    candidates = [os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))] if nvcc else []
    candidates.append("/usr/local/cuda")
    for home in candidates:
        if os.path.exists(os.path.join(home, "bin", "nvcc")) and os.path.exists(
                os.path.join(home, "include", "cuda_runtime.h")):
            os.environ["CUDA_HOME"] = home
            return


# The oldest torch the extension is built and tested with (CI runs the newest pip allows);
# pyproject.toml's dependency says the same.
MIN_TORCH = (2, 11)


def _check_torch_version() -> None:
    release = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
    if release < MIN_TORCH:
        raise RuntimeError(f"awing needs torch >= {'.'.join(map(str, MIN_TORCH))}, found {torch.__version__}: "
                           "upgrade torch, then reinstall with `pip install --no-build-isolation .`")


_check_torch_version()
_set_cuda_home()
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension  # noqa: E402

ROOT = os.path.dirname(os.path.abspath(__file__))


def want_cuda() -> bool:
    force = os.environ.get("AWING_FORCE_CUDA")
    if force == "0":
        return False
    possible = torch.version.cuda is not None and CUDA_HOME is not None
    if force == "1":
        if not possible:
            raise RuntimeError(
                "AWING_FORCE_CUDA=1 but the CUDA kernels cannot be built: "
                f"torch.version.cuda={torch.version.cuda!r}, CUDA_HOME={CUDA_HOME!r} "
                "(install a CUDA build of torch and the CUDA toolkit, or set CUDA_HOME)"
            )
        return True
    return possible


def cpu_simd() -> str:
    choice = os.environ.get("AWING_CPU_SIMD")
    if choice:
        if choice not in ("avx2", "default"):
            raise RuntimeError(f"AWING_CPU_SIMD must be 'avx2' or 'default', got {choice!r}")
        return choice
    if platform.machine() not in ("x86_64", "AMD64"):
        return "default"
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return "default"
    return "avx2" if all(f" {f}" in flags for f in ("avx2", "fma", "f16c")) else "default"


def extension():
    with_cuda = want_cuda()
    simd = cpu_simd()
    sources = [os.path.join("csrc", "ops.cpp")] + sorted(glob.glob(os.path.join("csrc", "cpu", "*.cpp")))
    # -fopenmp: at::parallel_for is an inline OpenMP region; without it the kernels run serially.
    cxx = ["-O3", "-fopenmp", f'-DAWING_TORCH_VERSION="{torch.__version__}"']
    link = ["-fopenmp"]
    if simd == "avx2":
        # Selects at::vec's AVX2 Vectorized (Sleef exp/log); ATen namespaces it by CPU_CAPABILITY.
        cxx += ["-mavx2", "-mfma", "-mf16c", "-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2",
                '-DAWING_CPU_CAPABILITY="avx2"']
    else:
        cxx += ['-DAWING_CPU_CAPABILITY="default"']
    include_dirs = [os.path.join(ROOT, "csrc", "include")]
    if not with_cuda:
        return CppExtension("awing_ext._C", sources, include_dirs=include_dirs,
                            extra_compile_args={"cxx": cxx}, extra_link_args=link)
    if not os.environ.get("TORCH_CUDA_ARCH_LIST") and not torch.cuda.is_available():
        os.environ["TORCH_CUDA_ARCH_LIST"] = "8.0;9.0+PTX"
    sources += sorted(glob.glob(os.path.join("csrc", "cuda", "*.cu")))
    defines = ["-DAWING_WITH_CUDA", f'-DAWING_CUDA_VERSION="{torch.version.cuda}"']
    nvcc = ["-O3", "-lineinfo"] + defines + [
        f'-DAWING_TORCH_VERSION="{torch.__version__}"']
    return CUDAExtension("awing_ext._C", sources, include_dirs=include_dirs,
                         extra_compile_args={"cxx": cxx + defines, "nvcc": nvcc}, extra_link_args=link)


setup(ext_modules=[extension()], cmdclass={"build_ext": BuildExtension})
