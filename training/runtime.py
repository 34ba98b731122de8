"""Process-level settings of the entry points: the --device option, and memory reuse on the CPU.

glibc hands large freed blocks back to the kernel (mmap threshold, heap trimming) and then
faults fresh pages in on the next allocation of the same size. A training step frees and
re-allocates the same activation buffers every iteration, so on machines where page faults are
slow (seen on a 2-core VM here: a small FAN step took 11 s instead of 0.17 s) that dominates.
`keep_freed_memory` raises both thresholds so freed memory stays in the process for reuse, as
the CUDA caching allocator does on the GPU. It is a no-op outside glibc.
"""
import ctypes
import ctypes.util
import sys

import torch

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_ONE_GIB = 1 << 30
_applied = False


def keep_freed_memory() -> bool:
    """Keeps freed heap memory (up to 1 GiB blocks) for reuse; True if glibc accepted it."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(_M_MMAP_THRESHOLD, _ONE_GIB)) and bool(mallopt(_M_TRIM_THRESHOLD, _ONE_GIB))
    return _applied


def resolve_device(spec: str = "auto") -> torch.device:
    """A --device option as a torch.device: "auto" is CUDA when present, else the CPU."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(spec)
