"""Builds awing_ext's compiled modules against the torch they will run with.

  awing_ext._C            op schemas, build_info, the scalar CPU kernels and, when possible, the
                          CUDA kernels
  awing_ext._cpu_avx2     the vectorised CPU kernels (loss, weight map) for AVX2+FMA CPUs (x86-64)
  awing_ext._cpu_default  the same kernels for any CPU (at::vec's portable lanes)

awing_ext loads one CPU module at import, the one matching the capability torch itself runs
with (`torch.backends.cpu.get_cpu_capability()`; `ATEN_CPU_CAPABILITY=default` lowers both), so a
wheel built on an AVX2 machine still runs on a CPU without AVX2.

How the build finds torch: build_backend/awing_build.py (the PEP 517 backend pyproject.toml
names) makes the target environment's torch importable here even under pip's build isolation,
or declares torch a build requirement when the target has none. The wheel's runtime requirement
is pinned to the torch release it was built against (`torch==X.Y.*`), and awing_ext/_build.json
records that torch so that importing a build made for another torch fails with one line.

Environment variables:
  AWING_FORCE_CUDA=1   compile the CUDA kernels or fail (CI uses this so a CUDA compile error fails)
  AWING_FORCE_CUDA=0   never compile them (default: when torch is a CUDA build and nvcc is found)
  AWING_CPU_SIMD=default   build only the portable CPU module (default: both on x86-64)
  TORCH_CUDA_ARCH_LIST GPU architectures (default: the visible GPU's, else 8.0;9.0+PTX)
  MAX_JOBS             parallel compile jobs
Project metadata is in pyproject.toml; the dependencies are here because the torch pin is
computed from the build's torch.
"""
import glob
import json
import os
import platform
import shutil
import sys
import threading

from setuptools import setup

try:
    import torch
except ImportError:  # only a front end that bypasses build_backend/awing_build.py gets here
    sys.exit("error: awing's kernels build against torch, which this build cannot import: install torch, "
             "then run `pip install .` (or `pip install --no-build-isolation .`)")


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


# The oldest torch the extension is built and tested with (CI runs the newest pip allows).
MIN_TORCH = (2, 11)
TORCH_RELEASE = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
# Runtime dependencies besides torch (which is pinned to the build's release below).
DEPENDENCIES = [
    "numpy",
    "scipy",
    "opencv-python-headless>=4.8,<5",  # image warps, drawing, Haar face detector (dropped in OpenCV 5)
    "matplotlib",                      # CED plots and prediction grids (Agg backend)
    "tqdm",                            # training progress bars
    "h5py",                            # COFW *_color.mat files are MATLAB v7.3 (HDF5)
    "tomli>=1.1; python_version < '3.11'",  # --config TOML files (tomllib from python 3.11)
]

if TORCH_RELEASE < MIN_TORCH:
    raise RuntimeError(f"awing needs torch >= {'.'.join(map(str, MIN_TORCH))}, found {torch.__version__}: "
                       "upgrade torch, then reinstall with `pip install .`")
_set_cuda_home()
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension  # noqa: E402

ROOT = os.path.dirname(os.path.abspath(__file__))
INCLUDE_DIRS = [os.path.join(ROOT, "csrc", "include")]
# Kernels written with at::vec, compiled once per CPU capability as one unit (the others are
# scalar code and go into _C).
VECTORISED_CPU_UNIT = os.path.join("csrc", "cpu", "vectorised_kernels.cpp")
VECTORISED_CPU_SOURCES = [VECTORISED_CPU_UNIT] + [os.path.join("csrc", "cpu", name)
                                                  for name in ("adaptive_wing_loss.cpp", "heatmap_losses.cpp",
                                                               "loss_map_mask.cpp")]
# -fopenmp: at::parallel_for is an inline OpenMP region; without it the kernels run serially.
BASE_CXX = ["-O3", "-fopenmp", f'-DAWING_TORCH_VERSION="{torch.__version__}"']
LINK = ["-fopenmp"]
# Per capability: the flags ATen compiles its own kernels of that capability with (at::vec picks
# its Vectorized<T> and namespace by CPU_CAPABILITY).
CPU_CAPABILITY_FLAGS = {
    "default": ["-DCPU_CAPABILITY=DEFAULT", "-DCPU_CAPABILITY_DEFAULT"],
    "avx2": ["-mavx2", "-mfma", "-mf16c", "-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2"],
}


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


def cpu_capabilities() -> list:
    """The CPU capabilities to compile: always the portable one, AVX2 too on x86-64 (whatever the
    build machine's own CPU: the choice between them is made at import)."""
    choice = os.environ.get("AWING_CPU_SIMD")
    if choice not in (None, "", "default"):
        raise RuntimeError(f"AWING_CPU_SIMD may only be 'default' (build the portable CPU kernels only), got {choice!r}")
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    return ["default"] if choice == "default" or not x86 else ["default", "avx2"]


def cpu_module(capability: str):
    """A shared library of torch op kernels, not a Python module: awing_ext loads it with
    torch.ops.load_library (no pybind11 to compile, which would cost more than the kernels)."""
    return CppExtension(f"awing_ext._cpu_{capability}", [VECTORISED_CPU_UNIT],
                        include_dirs=INCLUDE_DIRS, extra_link_args=LINK,
                        extra_compile_args={"cxx": BASE_CXX + CPU_CAPABILITY_FLAGS[capability]})


def core_module(with_cuda: bool):
    scalar_cpu = [s for s in sorted(glob.glob(os.path.join("csrc", "cpu", "*.cpp"))) if s not in VECTORISED_CPU_SOURCES]
    sources = [os.path.join("csrc", "ops.cpp")] + scalar_cpu
    cxx = BASE_CXX + CPU_CAPABILITY_FLAGS["default"]
    if not with_cuda:
        return CppExtension("awing_ext._C", sources, include_dirs=INCLUDE_DIRS,
                            extra_compile_args={"cxx": cxx}, extra_link_args=LINK)
    if not os.environ.get("TORCH_CUDA_ARCH_LIST") and not torch.cuda.is_available():
        os.environ["TORCH_CUDA_ARCH_LIST"] = "8.0;9.0+PTX"
    sources += sorted(glob.glob(os.path.join("csrc", "cuda", "*.cu")))
    defines = ["-DAWING_WITH_CUDA", f'-DAWING_CUDA_VERSION="{torch.version.cuda}"']
    nvcc = ["-O3", "-lineinfo"] + defines + [f'-DAWING_TORCH_VERSION="{torch.__version__}"']
    return CUDAExtension("awing_ext._C", sources, include_dirs=INCLUDE_DIRS,
                         extra_compile_args={"cxx": cxx + defines, "nvcc": nvcc}, extra_link_args=LINK)


class BuildAwing(BuildExtension):
    """torch's BuildExtension, with a temporary folder per module (the same kernel unit is
    compiled with other flags for each CPU capability), the modules built at the same time when
    ninja drives the compiles (a capability's single unit then overlaps _C's instead of waiting
    for it), and awing_ext/_build.json written beside the modules: the torch they were built
    against and the CPU capabilities built."""

    _thread = threading.local()  # the temporary folder of the module this thread builds

    @property
    def build_temp(self):
        return getattr(self._thread, "build_temp", None) or self.__dict__.get("_build_temp")

    @build_temp.setter
    def build_temp(self, value):
        self.__dict__["_build_temp"] = value

    def finalize_options(self):
        super().finalize_options()
        if self.use_ninja and not self.parallel:
            self.parallel = len(self.extensions)  # without ninja, torch's compile wrapper is not thread-safe

    def build_extension(self, ext):
        self._thread.build_temp = os.path.join(self.__dict__["_build_temp"], ext.name.rsplit(".", 1)[-1])
        try:
            super().build_extension(ext)
        finally:
            self._thread.build_temp = None

    def run(self):
        super().run()
        record = {"torch_version": torch.__version__, "cpu_capabilities": CAPABILITIES, "cuda": WITH_CUDA}
        folder = os.path.dirname(self.get_ext_fullpath("awing_ext._C"))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "_build.json"), "w") as f:
            json.dump(record, f)
            f.write("\n")

    def get_outputs(self):
        return super().get_outputs() + [os.path.join(os.path.dirname(self.get_ext_fullpath("awing_ext._C")),
                                                     "_build.json")]


WITH_CUDA = want_cuda()
CAPABILITIES = cpu_capabilities()
setup(
    ext_modules=[core_module(WITH_CUDA)] + [cpu_module(c) for c in CAPABILITIES],
    cmdclass={"build_ext": BuildAwing},
    install_requires=[f"torch=={TORCH_RELEASE[0]}.{TORCH_RELEASE[1]}.*"] + DEPENDENCIES,
)
