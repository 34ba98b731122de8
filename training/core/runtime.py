"""Process-level settings of the entry points: the --device option, memory reuse on the CPU, and
data-loader workers that end with their parent.

``resolve_device`` checks --device before anything runs: an unknown kind, CUDA on a machine
without it, or ``cuda:N`` past the devices present is a ValueError saying what there is (torch's
own failure comes later and reads "AttributeError: ... _cuda_setDevice").

``worker_init()`` (every DataLoader of the package passes it as worker_init_fn) asks Linux to
SIGKILL a worker when the process that started it dies (prctl PR_SET_PDEATHSIG): a SIGKILLed
training run leaves no workers behind (torch's own watchdog only notices between samples).

glibc hands large freed blocks back to the kernel (mmap threshold, heap trimming) and then
faults fresh pages in on the next allocation of the same size. A training step frees and
re-allocates the same activation buffers every iteration, so on machines where page faults are
slow (seen on a 2-core VM here: a small FAN step took 11 s instead of 0.17 s) that dominates.
`keep_freed_memory` raises both thresholds so freed memory stays in the process for reuse, as
the CUDA caching allocator does on the GPU. It is a no-op outside glibc.
"""
import ctypes
import ctypes.util
import functools
import os
import signal
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
    """A --device option as a torch.device: "auto" is CUDA when present, else the CPU; "cpu",
    "cuda" or "cuda:N" (checked against the devices present: ValueError naming --device)."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"--device {spec!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return device
    if device.type == "mps" and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return device
    if device.type != "cuda":
        raise ValueError(f"--device {spec}: expected auto, cpu, cuda or cuda:N")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        why = "this torch is built without CUDA" if torch.version.cuda is None else "no CUDA device is visible"
        raise ValueError(f"--device {spec}: {why}; use --device cpu (or auto)")
    if device.index is not None and device.index >= count:
        names = "cuda:0" if count == 1 else f"cuda:0 .. cuda:{count - 1}"
        raise ValueError(f"--device {spec}: there {'is' if count == 1 else 'are'} {count} CUDA device"
                         f"{'' if count == 1 else 's'} here ({names})")
    return device


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int, worker_id: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:   # the parent died before prctl: nobody will read our samples
        os._exit(0)


def worker_init():
    """A DataLoader worker_init_fn (call it in the process that makes the loader): the worker is
    SIGKILLed when that process dies (Linux), and exits at once if it died before the worker got here."""
    return functools.partial(_die_with_parent, os.getpid())
