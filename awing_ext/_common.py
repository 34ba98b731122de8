"""Helpers the op modules share: dtypes, the opmath dtype, integer and size arguments, and the
deprecated-name warning. Argument *validation* is not here: each op's arguments are checked once,
in C++ (csrc/include/awing/<op>.h), by the kernels and, through awing_ext._C.check_<op>_args,
by the fake kernels."""
import math
import operator
import warnings
from typing import Sequence, Tuple, Union

import torch

FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
REDUCTIONS = ("none", "mean", "sum")

SizeLike = Union[int, Sequence[int]]


def opmath_dtype(dtype: torch.dtype) -> torch.dtype:
    """The arithmetic dtype of the kernels for inputs of `dtype`: float64 for float64, else float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def integer_arg(value, name: str, op: str) -> int:
    """`value` as an int, or a TypeError naming the argument: 3.7 is refused, never truncated to 3."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an integer, got {value!r}") from None


def sigma_arg(value, op: str, what: str = "") -> float:
    """`value` as a float when it is a finite number > 0 (a Gaussian sigma), else the ops'
    RuntimeError naming `op` (and `what` the sigma is, when given)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise RuntimeError(f"{op}: sigma must be a finite number > 0{what}, got {value!r}")
    return float(value)


def size_pair(size: SizeLike, op: str) -> Tuple[int, int]:
    """(H, W) from an int or a pair."""
    if isinstance(size, int):
        return size, size
    size = tuple(int(s) for s in size)
    if len(size) != 2:
        raise ValueError(f"{op}: size must be an int or (H, W), got {size!r}")
    return size


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    """The DeprecationWarning of a name kept for one release (removed in awing 0.4), pointing at
    the caller of the deprecated function (stacklevel counts from here)."""
    warnings.warn(f"{old} is deprecated and will be removed in awing 0.4; use {new}", DeprecationWarning,
                  stacklevel=stacklevel)
