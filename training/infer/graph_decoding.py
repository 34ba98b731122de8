"""Heatmap decoding written in standard torch ops, for graphs that must run without awing_ext:
``python -m training.export --with-decoding`` (ONNX, TorchScript) puts it after the model, so the
exported file maps crops to landmarks and scores by itself.

Each decoder here is the plain-op twin of one method of awing_ext.decode_heatmaps (the kernels'
rules, awing_ext/decode_heatmaps.py and csrc/include/awing/decode_heatmaps.h):
  quarter   the first maximum (NaN ignored) + 0.25 px towards the larger neighbour per axis (no
            step at the border or on a tie);
  taylor    the first maximum + the Taylor step -H^-1 g of log(h) from the 3 x 3 neighbourhood
            (central differences), taken only where the neighbourhood is inside the map, every
            value > 0, hxx < 0 and det H > 0; clamped to [-1, 1] per axis; else the quarter step;
  dark      DARK: the modulation of awing_ext.modulate_heatmaps (NaN -> 0, the separable Gaussian
            of the training sigma on a (2 ceil(3 sigma) + 1) support as two fixed convolutions,
            zeros beyond the border, rescaled to the plane's maximum, floored at 1e-10), then
            taylor on the modulated planes;
  integral  the relu(h) expectation of the pixel coordinates in the (2 ceil(3 sigma) + 1)^2
            window around the first maximum (clipped to the plane); the argmax pixel where the
            window holds no positive value; NaN inside the window gives NaN.
The score is the heatmap's value at its first maximum (for every method, as the op's).

``LandmarkModel`` = a model's last heatmaps -> its activation (sigmoid for a model trained with
--loss focal, whose outputs are logits; none otherwise) -> one decoder -> crop pixels
``x_crop = (x_hm + 0.5) * S / H - 0.5``. Shapes other than the batch are fixed when the module
is built (the model's K, H and S), so the graph has no data-dependent control flow.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["GRAPH_DECODE_METHODS", "GraphDecoder", "LandmarkModel", "DARK_FLOOR"]

GRAPH_DECODE_METHODS = ("dark", "taylor", "quarter", "integral")
DARK_FLOOR = 1e-10   # awing_ext.decode_heatmaps.DARK_FLOOR


def _radius(sigma: float) -> int:
    """awing_ext.integral_radius: ceil(3 sigma), at least 1."""
    return max(1, math.ceil(3 * sigma - 1e-9))


def _gaussian_1d(sigma: float) -> Tensor:
    """awing_ext.decode_heatmaps.gaussian_kernel_1d: computed in float64, then float32."""
    r = _radius(sigma)
    x = torch.arange(-r, r + 1, dtype=torch.float64)
    k = torch.exp(-x * x / (2 * sigma * sigma))
    return (k / k.sum()).float()


class GraphDecoder(nn.Module):
    """(N, K, H, W) heatmaps (already activated) -> coordinates (N, K, 2) in heatmap pixels and
    scores (N, K); K, H, W fixed at construction (module docstring)."""

    def __init__(self, method: str, height: int, width: int, sigma: float = 1.0):
        super().__init__()
        if method not in GRAPH_DECODE_METHODS:
            raise ValueError(f"decode method must be one of {', '.join(GRAPH_DECODE_METHODS)}, got {method!r}")
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma <= 0:
            raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
        self.method, self.height, self.width, self.sigma = method, int(height), int(width), float(sigma)
        self.radius = _radius(self.sigma)
        kernel = _gaussian_1d(self.sigma)
        self.register_buffer("kernel_x", kernel.view(1, 1, 1, -1).clone(), persistent=False)
        self.register_buffer("kernel_y", kernel.view(1, 1, -1, 1).clone(), persistent=False)
        self.register_buffer("cols", torch.arange(self.width, dtype=torch.float32).view(1, 1, 1, -1), persistent=False)
        self.register_buffer("rows", torch.arange(self.height, dtype=torch.float32).view(1, 1, -1, 1), persistent=False)

    def extra_repr(self) -> str:
        return f"method={self.method!r}, size=({self.height}, {self.width}), sigma={self.sigma:g}"

    # ------------------------------------------------------------------------------ the pieces
    def _argmax(self, flat: Tensor) -> Tensor:
        """(N, K, HW) -> (N, K) int64: the first maximal value, NaN ignored (all NaN: 0)."""
        clean = torch.where(torch.isnan(flat), torch.full_like(flat, -math.inf), flat)
        return clean.argmax(dim=-1)

    def _neighbourhood(self, flat: Tensor, idx: Tensor):
        """The 3 x 3 values around idx, row-major (N, K, 9) (indices clamped at the border: those
        values are never used), and the argmax's column and row."""
        w, h = self.width, self.height
        px, py = idx % w, idx // w
        taken = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                taken.append((py + dy).clamp(0, h - 1) * w + (px + dx).clamp(0, w - 1))
        return flat.gather(-1, torch.stack(taken, dim=-1)), px, py

    @staticmethod
    def _step(hi: Tensor, lo: Tensor) -> Tensor:
        """+0.25 where hi > lo, -0.25 where hi < lo, 0 on a tie or NaN (the kernel's sign_step)."""
        return (hi > lo).to(hi.dtype) * 0.25 - (hi < lo).to(hi.dtype) * 0.25

    def _refine(self, flat: Tensor, taylor: bool):
        """The argmax of `flat` and its refined (x, y) in heatmap pixels."""
        idx = self._argmax(flat)
        nb, px, py = self._neighbourhood(flat, idx)
        inner_x = (px > 0) & (px < self.width - 1)
        inner_y = (py > 0) & (py < self.height - 1)
        ul, u, ur, l, c, r, dl, d, dr = nb.unbind(-1)
        zero = torch.zeros_like(c)
        qx = torch.where(inner_x, self._step(r, l), zero)
        qy = torch.where(inner_y, self._step(d, u), zero)
        if taylor:
            positive = (nb > 0).all(dim=-1)
            lg = torch.log(torch.where(nb > 0, nb, torch.ones_like(nb)))   # unused where not positive
            lul, lu, lur, ll, lc, lr, ldl, ld, ldr = lg.unbind(-1)
            gx = 0.5 * (lr - ll)
            gy = 0.5 * (ld - lu)
            hxx = lr - 2 * lc + ll
            hyy = ld - 2 * lc + lu
            hxy = 0.25 * (ldr - lur - ldl + lul)
            det = hxx * hyy - hxy * hxy
            ok = inner_x & inner_y & positive & (hxx < 0) & (det > 0)
            safe = torch.where(ok, det, torch.ones_like(det))
            ox = (-(hyy * gx - hxy * gy) / safe).clamp(-1.0, 1.0)
            oy = (-(hxx * gy - hxy * gx) / safe).clamp(-1.0, 1.0)
            qx = torch.where(ok, ox, qx)
            qy = torch.where(ok, oy, qy)
        return idx, torch.stack([px.to(flat.dtype) + qx, py.to(flat.dtype) + qy], dim=-1)

    def modulate(self, heat: Tensor) -> Tensor:
        """awing_ext.modulate_heatmaps in the same ops: (N, K, H, W) -> (N, K, H, W)."""
        h, w = self.height, self.width
        planes = heat.reshape(-1, 1, h, w)
        planes = torch.where(torch.isnan(planes), torch.zeros_like(planes), planes)
        blurred = F.conv2d(planes, self.kernel_x, padding=(0, self.radius))
        blurred = F.conv2d(blurred, self.kernel_y, padding=(self.radius, 0))
        original_max = planes.amax(dim=(2, 3), keepdim=True)
        blurred_max = blurred.amax(dim=(2, 3), keepdim=True)
        nonzero = blurred_max != 0
        one = torch.ones_like(blurred_max)
        scale = torch.where(nonzero, original_max / torch.where(nonzero, blurred_max, one), one)
        return (blurred * scale).clamp_min(DARK_FLOOR).reshape_as(heat)

    def _integral(self, heat: Tensor, idx: Tensor) -> Tensor:
        col = (idx % self.width).to(heat.dtype)[..., None, None]
        row = (idx // self.width).to(heat.dtype)[..., None, None]
        inside = ((self.cols - col).abs() <= self.radius) & ((self.rows - row).abs() <= self.radius)
        keep = (heat > 0) | torch.isnan(heat)                     # relu that keeps NaN
        v = torch.where(inside & keep, heat, torch.zeros_like(heat))
        s = v.sum(dim=(2, 3))
        sx = (v * self.cols).sum(dim=(2, 3))
        sy = (v * self.rows).sum(dim=(2, 3))
        empty = s == 0
        safe = torch.where(empty, torch.ones_like(s), s)
        x = torch.where(empty, col[..., 0, 0], sx / safe)
        y = torch.where(empty, row[..., 0, 0], sy / safe)
        return torch.stack([x, y], dim=-1)

    def forward(self, heat: Tensor):
        heat = heat.float()
        flat = heat.flatten(2)
        idx = self._argmax(flat)
        scores = flat.gather(-1, idx[..., None])[..., 0]
        if self.method == "quarter":
            coords = self._refine(flat, taylor=False)[1]
        elif self.method == "taylor":
            coords = self._refine(flat, taylor=True)[1]
        elif self.method == "dark":
            modulated = self.modulate(heat).flatten(2)
            coords = self._refine(modulated, taylor=True)[1]
        else:
            coords = self._integral(heat, idx)
        return coords, scores


class LandmarkModel(nn.Module):
    """A model (any --model) + its activation + a GraphDecoder: (N, 3, S, S) normalised images ->
    landmarks (N, K, 2) in crop pixels and scores (N, K) (module docstring).

    Args:
        model: returns a list of heatmaps, the last (N, K [+1], S/4, S/4) the prediction.
        method: one of GRAPH_DECODE_METHODS.
        sigma: the training targets' sigma in heatmap pixels (dark's smoothing, integral's window).
        logits: the model outputs logits (trained with --loss focal): decode their sigmoid.
    """

    def __init__(self, model: nn.Module, method: str = "dark", sigma: float = 1.0, logits: bool = False):
        super().__init__()
        self.model = model
        self.config = model.config
        self.num_landmarks = self.config.num_landmarks
        self.logits = bool(logits)
        h = self.config.heatmap_size
        self.decoder = GraphDecoder(method, h, h, sigma)
        self.scale = self.config.input_size / h

    def decode(self, heat: Tensor):
        """(N, >= K, H, H) raw heatmaps -> crop landmarks and scores."""
        heat = heat[:, :self.num_landmarks].float()
        if self.logits:
            heat = torch.sigmoid(heat)
        coords, scores = self.decoder(heat)
        return (coords + 0.5) * self.scale - 0.5, scores

    def forward(self, images: Tensor):
        return self.decode(self.model(images)[-1])
