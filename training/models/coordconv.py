"""CoordConv (Liu et al. 2018) as the AWing paper uses it: x, y and radius channels, plus
boundary-masked x/y channels from the second stack on.

Coordinate convention: for a map of W columns and H rows, column j has x = -1 + 2j / (W - 1) and
row i has y = -1 + 2i / (H - 1), so the centres of the first and last pixels sit at -1 and +1
(the convention of ``align_corners=True``; a side of 1 pixel gives -1). The radius channel is
sqrt(x^2 + y^2) / sqrt(2), in [0, 1] (1 at the corners).

The channels are built at forward time from the input's shape, device and dtype: no buffers, no
``.cuda()``, so the layer follows ``.to()``, works on the meta device, under autocast,
``torch.compile``, ``torch.jit.trace`` and ``torch.export``, and with channels_last inputs.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["coord_channels", "boundary_coord_channels", "CoordConv", "BOUNDARY_THRESHOLD"]

BOUNDARY_THRESHOLD = 0.05
"""Boundary heatmap value above which a pixel counts as on a boundary (the paper's 0.05)."""


def _axis(n: int, like: Tensor) -> Tensor:
    # float32 first (exact endpoints, then one rounding to bf16/fp16); linspace(-1, 1, 1) == [-1].
    return torch.linspace(-1.0, 1.0, n, device=like.device, dtype=torch.float32)


def coord_channels(x: Tensor, with_r: bool = True) -> Tensor:
    """The (N, 2 or 3, H, W) coordinate channels for x (N, C, H, W): x, y[, radius], in x's
    dtype and device (see the module docstring for the convention)."""
    if x.dim() != 4:
        raise ValueError(f"coord_channels: expected a 4-D (N, C, H, W) input, got shape {tuple(x.shape)}")
    n, _, h, w = x.shape
    xs = _axis(w, x).view(1, 1, 1, w).expand(1, 1, h, w)
    ys = _axis(h, x).view(1, 1, h, 1).expand(1, 1, h, w)
    chans = [xs, ys]
    if with_r:
        chans.append(torch.sqrt(xs * xs + ys * ys) * (1.0 / math.sqrt(2.0)))
    return torch.cat(chans, dim=1).to(x.dtype).expand(n, -1, -1, -1)


def boundary_coord_channels(coords: Tensor, boundary: Tensor, threshold: float = BOUNDARY_THRESHOLD) -> Tensor:
    """The two boundary-coordinate channels: the x and y channels of ``coords`` (N, >=2, H, W)
    where ``boundary`` (N, 1, H, W), the previous stack's raw boundary heatmap, is > threshold,
    else 0. The mask is built from the detached heatmap: no gradient flows through it."""
    if not torch.jit.is_tracing():
        if boundary.dim() != 4 or boundary.shape[1] != 1:
            raise ValueError(f"boundary_coord_channels: expected an (N, 1, H, W) boundary heatmap, "
                             f"got shape {tuple(boundary.shape)}")
        if tuple(boundary.shape[-2:]) != tuple(coords.shape[-2:]):
            raise ValueError(f"boundary_coord_channels: boundary heatmap is {tuple(boundary.shape[-2:])} "
                             f"but the features are {tuple(coords.shape[-2:])}")
    xy = coords[:, :2]
    mask = boundary.detach() > threshold
    return torch.where(mask, xy, torch.zeros_like(xy))


class CoordConv(nn.Module):
    """Concatenates coordinate channels to the input, then applies a Conv2d.

    Channels added: x, y, then radius (``with_r``), then, with ``with_boundary``, the two
    boundary-masked x/y channels (``forward`` then needs the ``boundary`` heatmap).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
                 padding: int = 0, bias: bool = True, with_r: bool = True, with_boundary: bool = False,
                 boundary_threshold: float = BOUNDARY_THRESHOLD):
        super().__init__()
        self.in_channels = in_channels
        self.with_r = with_r
        self.with_boundary = with_boundary
        self.boundary_threshold = boundary_threshold
        extra = 2 + int(with_r) + 2 * int(with_boundary)
        self.conv = nn.Conv2d(in_channels + extra, out_channels, kernel_size, stride=stride, padding=padding,
                              bias=bias)

    def add_coords(self, x: Tensor, boundary: Tensor | None = None) -> Tensor:
        """x (N, C, H, W) with the coordinate channels appended along dim 1."""
        if not torch.jit.is_tracing() and (x.dim() != 4 or x.shape[1] != self.in_channels):
            raise ValueError(f"CoordConv: expected input (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        coords = coord_channels(x, self.with_r)
        parts = [x, coords]
        if self.with_boundary:
            if boundary is None:
                raise ValueError("CoordConv(with_boundary=True) needs the previous stack's boundary heatmap")
            parts.append(boundary_coord_channels(coords, boundary.to(x.dtype), self.boundary_threshold))
        out = torch.cat(parts, dim=1)
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            out = out.contiguous(memory_format=torch.channels_last)  # keep the caller's layout
        return out

    def forward(self, x: Tensor, boundary: Tensor | None = None) -> Tensor:
        return self.conv(self.add_coords(x, boundary))

    def extra_repr(self) -> str:
        return f"with_r={self.with_r}, with_boundary={self.with_boundary}"
