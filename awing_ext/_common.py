"""Helpers the op modules share: dtypes, the opmath dtype, reductions, size arguments and the
landmark/render checks of the fake kernels (the Python half of csrc/include/awing/gaussian.h)."""
import operator
from typing import Sequence, Tuple, Union

import torch

FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
REDUCTIONS = ("none", "mean", "sum")

SizeLike = Union[int, Sequence[int]]


def opmath_dtype(dtype: torch.dtype) -> torch.dtype:
    """The arithmetic dtype of the kernels for inputs of `dtype`: float64 for float64, else float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def check_reduction(reduction: str, where: str) -> None:
    """ValueError naming `where` unless `reduction` is one of REDUCTIONS."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{where}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def integer_arg(value, name: str, op: str) -> int:
    """`value` as an int, or a TypeError naming the argument: 3.7 is refused, never truncated to 3."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an integer, got {value!r}") from None


def size_pair(size: SizeLike, op: str) -> Tuple[int, int]:
    """(H, W) from an int or a pair."""
    if isinstance(size, int):
        return size, size
    size = tuple(int(s) for s in size)
    if len(size) != 2:
        raise ValueError(f"{op}: size must be an int or (H, W), got {size!r}")
    return size


def check_landmarks(op, landmarks):
    torch._check(landmarks.dim() == 3 and landmarks.shape[-1] == 2,
                 lambda: f"{op}: landmarks must be 3-D (N, K, 2), got shape {tuple(landmarks.shape)}")
    torch._check(landmarks.dtype in FLOATS,
                 lambda: f"{op}: landmarks must be float32, float64, float16 or bfloat16, got {landmarks.dtype}")


def check_render(op, height, width, sigma, truncate):
    torch._check(height > 0 and width > 0, lambda: f"{op}: size must be positive (H, W), got ({height}, {width})")
    torch._check(sigma > 0, lambda: f"{op}: sigma must be a finite number > 0, got {sigma}")
    torch._check(truncate > 0, lambda: f"{op}: truncate must be a finite number > 0, got {truncate}")
