"""Pure-PyTorch references, written straight from the paper's formulas.

For tests and benchmarks only: the package never falls back to these. They upcast to float32
(float64 for float64 inputs), like the kernels, and use autograd for gradients.
"""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import warn_renamed

__all__ = ["loss_map_mask_reference", "adaptive_wing_loss_reference", "render_heatmaps_reference",
           "catmull_rom_segments_reference", "render_boundaries_reference", "decode_heatmaps_reference", "integral_coords_reference",
           "mse_loss_reference", "l1_loss_reference", "smooth_l1_loss_reference", "wing_loss_reference",
           "focal_heatmap_loss_reference"]


def _opmath(t: Tensor) -> Tensor:
    return t.double() if t.dtype == torch.float64 else t.float()


def loss_map_mask_reference(target: Tensor, threshold: float = 0.2, kernel_size: int = 3) -> Tensor:
    """M = grey_dilation(target, size=k) > threshold per (N, C) plane, as a 0/1 tensor of target's dtype.

    max_pool2d with -inf padding is the clipped-window max, which equals scipy's reflect mode.
    NaN never counts (the window's other values decide): it is replaced by -inf first.
    """
    n, c, h, w = target.shape
    planes = _opmath(target).nan_to_num(nan=float("-inf"), posinf=float("inf"), neginf=float("-inf"))
    planes = planes.reshape(n * c, 1, h, w)
    dilated = F.max_pool2d(planes, kernel_size, stride=1, padding=kernel_size // 2)
    return (dilated > threshold).reshape(n, c, h, w).to(target.dtype)



def weight_mask_reference(target: Tensor, threshold: float = 0.2, kernel_size: int = 3) -> Tensor:
    """Deprecated name of :func:`loss_map_mask_reference` (removed in awing 0.4)."""
    warn_renamed("awing_ext.reference.weight_mask_reference", "loss_map_mask_reference")
    return loss_map_mask_reference(target, threshold, kernel_size)

def adaptive_wing_loss_reference(pred: Tensor, target: Tensor, target_weight: Optional[Tensor] = None, *,
                                 omega: float = 14.0, theta: float = 0.5, epsilon: float = 1.0,
                                 alpha: float = 2.1, W: float = 10.0, threshold: float = 0.2,
                                 kernel_size: int = 3, reduction: str = "mean",
                                 weights: Optional[Tensor] = None) -> Tensor:
    """The Adaptive Wing loss of Wang et al. (2019), eq. (7)-(8), with the weighted loss map.

    ln(1 + x) is evaluated with log1p, so tiny differences keep their relative accuracy. At d = 0
    the value is 0 and the gradient 0 (where alpha - y < 1, (d/eps)^(alpha - y) has an infinite
    slope there, which autograd would turn into 0 * inf = NaN; the kernels give 0, the subgradient
    of a loss that is symmetric in d).
    """
    p, y = _opmath(pred), _opmath(target)
    d = (y - p).abs()
    e = alpha - y
    ratio = theta / epsilon
    A = omega * (1 / (1 + torch.pow(ratio, e))) * e * torch.pow(ratio, e - 1) / epsilon
    C = theta * A - omega * torch.log1p(torch.pow(ratio, e))
    positive = d > 0
    near = omega * torch.log1p(torch.pow(torch.where(positive, d, torch.ones_like(d)) / epsilon, e))
    near = torch.where(positive, near, torch.zeros_like(near))
    loss = torch.where(d < theta, near, A * d - C)
    if weights is None:
        weight = W * loss_map_mask_reference(y, threshold, kernel_size) + 1
    else:
        weight = _opmath(weights)
    loss = loss * weight
    if target_weight is not None:
        loss = loss * _opmath(target_weight)[:, :, None, None]
    if reduction == "none":
        out = loss
    elif reduction == "sum":
        out = loss.sum()
    elif reduction == "mean":
        out = loss.mean()
    else:
        raise ValueError(f"unknown reduction {reduction!r}")
    return out.to(pred.dtype)


# ---------------------------------------------------------------------------------- targets
# Dense, brute-force versions of the target ops (same conventions: (x, y), pixel centres at
# integer coordinates, values 0 at and beyond truncate * sigma).

def _pixel_grid(height: int, width: int, dtype, device):
    ys = torch.arange(height, dtype=dtype, device=device).view(height, 1)
    xs = torch.arange(width, dtype=dtype, device=device).view(1, width)
    return xs, ys


def render_heatmaps_reference(landmarks: Tensor, size: Tuple[int, int], sigma: float,
                              visible: Optional[Tensor] = None, truncate: float = 3.0) -> Tensor:
    """Every pixel of every channel evaluated directly, in float64."""
    h, w = size
    pts = landmarks.double()
    xs, ys = _pixel_grid(h, w, torch.float64, landmarks.device)
    cx = pts[..., 0, None, None]
    cy = pts[..., 1, None, None]
    r2 = (xs - cx) ** 2 + (ys - cy) ** 2
    cut = truncate * sigma
    out = torch.where(r2 < cut * cut, torch.exp(-r2 / (2 * sigma * sigma)), torch.zeros_like(r2))
    out = torch.nan_to_num(out, nan=0.0)  # NaN landmarks: all-zero channel
    finite = torch.isfinite(pts).all(-1)
    if visible is not None:
        finite = finite & visible.bool()
    return out * finite[..., None, None]


def catmull_rom_segments_reference(landmarks: Tensor, curve: Sequence[int], samples: int) -> Tensor:
    """(N, (len(curve) - 1) * samples, 4) segments (ax, ay, bx, by) of the uniform Catmull-Rom
    spline through landmarks[:, curve] (end points duplicated), in matrix form."""
    pts = landmarks.double()[:, list(curve)]  # (N, m, 2)
    padded = torch.cat([pts[:, :1], pts, pts[:, -1:]], dim=1)
    t = torch.arange(samples + 1, dtype=torch.float64, device=pts.device) / samples
    basis = 0.5 * torch.stack([-t**3 + 2 * t**2 - t, 3 * t**3 - 5 * t**2 + 2,
                               -3 * t**3 + 4 * t**2 + t, t**3 - t**2], dim=1)  # (S+1, 4)
    segs = []
    for i in range(pts.shape[1] - 1):
        ctrl = padded[:, i:i + 4]  # (N, 4, 2)
        poly = torch.einsum("sj,njc->nsc", basis, ctrl)  # (N, S+1, 2)
        segs.append(torch.cat([poly[:, :-1], poly[:, 1:]], dim=-1))
    return torch.cat(segs, dim=1)


def render_boundaries_reference(landmarks: Tensor, curves: Sequence[Sequence[int]], size: Tuple[int, int],
                                sigma: float = 1.0, truncate: float = 3.0, samples: int = 8,
                                per_curve: bool = False) -> Tensor:
    """Distance from every pixel to every segment, brute force, in float64."""
    h, w = size
    xs, ys = _pixel_grid(h, w, torch.float64, landmarks.device)
    px, py = xs.reshape(1, 1, 1, w), ys.reshape(1, 1, h, 1)
    channels = []
    for curve in curves:
        seg = catmull_rom_segments_reference(landmarks, curve, samples)  # (N, M, 4)
        ax, ay, bx, by = (seg[..., i, None, None] for i in range(4))
        ex, ey = bx - ax, by - ay
        qx, qy = px - ax, py - ay
        len2 = ex * ex + ey * ey
        t = torch.where(len2 > 0, (qx * ex + qy * ey) / torch.where(len2 > 0, len2, 1.0), 0.0).clamp(0, 1)
        d2 = (qx - t * ex) ** 2 + (qy - t * ey) ** 2  # (N, M, H, W)
        d2 = torch.nan_to_num(d2, nan=float("inf"))
        channels.append(d2.amin(dim=1))
    d2 = torch.stack(channels, dim=1)  # (N, C, H, W)
    if not per_curve:
        d2 = d2.amin(dim=1, keepdim=True)
    cut = truncate * sigma
    return torch.where(d2 < cut * cut, torch.exp(-d2 / (2 * sigma * sigma)), torch.zeros_like(d2))


def decode_heatmaps_reference(heatmaps: Tensor, method: str = "taylor") -> Tuple[Tensor, Tensor]:
    """The op's methods: argmax (first maximum) + quarter step or the Taylor step of log(h)
    (DARK's second step), vectorised in float64."""
    n, k, h, w = heatmaps.shape
    hm = heatmaps.double().reshape(n * k, h, w)
    flat = hm.reshape(n * k, -1)
    idx = flat.argmax(dim=1)
    score = flat.gather(1, idx[:, None])[:, 0]
    py, px = idx // w, idx % w
    pad = F.pad(hm, (1, 1, 1, 1))  # neighbours outside the map are never used (border checks)
    b = torch.arange(n * k, device=hm.device)

    def at(dy, dx):
        return pad[b, py + 1 + dy, px + 1 + dx]

    inner_x = (px > 0) & (px < w - 1)
    inner_y = (py > 0) & (py < h - 1)
    qx = torch.where(inner_x, 0.25 * torch.sign(at(0, 1) - at(0, -1)), 0.0)
    qy = torch.where(inner_y, 0.25 * torch.sign(at(1, 0) - at(-1, 0)), 0.0)
    if method == "taylor":
        nb = torch.stack([at(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], dim=1)
        ok = inner_x & inner_y & (nb > 0).all(dim=1)
        lg = torch.log(nb.clamp_min(1e-300)).reshape(-1, 3, 3)
        gx = 0.5 * (lg[:, 1, 2] - lg[:, 1, 0])
        gy = 0.5 * (lg[:, 2, 1] - lg[:, 0, 1])
        hxx = lg[:, 1, 2] - 2 * lg[:, 1, 1] + lg[:, 1, 0]
        hyy = lg[:, 2, 1] - 2 * lg[:, 1, 1] + lg[:, 0, 1]
        hxy = 0.25 * (lg[:, 2, 2] - lg[:, 0, 2] - lg[:, 2, 0] + lg[:, 0, 0])
        det = hxx * hyy - hxy * hxy
        ok = ok & (hxx < 0) & (det > 0)
        safe = torch.where(ok, det, 1.0)
        ox = (-(hyy * gx - hxy * gy) / safe).clamp(-1, 1)
        oy = (-(hxx * gy - hxy * gx) / safe).clamp(-1, 1)
        qx = torch.where(ok, ox, qx)
        qy = torch.where(ok, oy, qy)
    elif method != "quarter":
        raise ValueError(f"unknown method {method!r}")
    coords = torch.stack([px + qx, py + qy], dim=-1).reshape(n, k, 2)
    out_dtype = torch.float64 if heatmaps.dtype == torch.float64 else torch.float32
    return coords.to(out_dtype), score.reshape(n, k).to(out_dtype)


def integral_coords_reference(heatmaps: Tensor, radius: int = 3) -> Tensor:
    """The relu(h) expectation of the pixel coordinates in the (2 radius + 1)^2 window around each
    plane's first maximum, written with a mask over the whole plane in float64 (differentiable by
    autograd); a window without a positive value gives the argmax pixel."""
    n, k, h, w = heatmaps.shape
    hm = _opmath(heatmaps).double()
    idx = torch.nan_to_num(hm, nan=-float("inf")).reshape(n, k, -1).argmax(dim=-1)
    row, col = (idx // w)[..., None, None], (idx % w)[..., None, None]
    ys = torch.arange(h, dtype=torch.float64, device=hm.device)[:, None]
    xs = torch.arange(w, dtype=torch.float64, device=hm.device)[None, :]
    inside = ((ys - row).abs() <= radius) & ((xs - col).abs() <= radius)
    v = torch.where(inside, torch.where(torch.isnan(hm), hm, hm.clamp_min(0)), torch.zeros_like(hm))
    s = v.sum(dim=(2, 3))
    mx, my = (v * xs).sum(dim=(2, 3)), (v * ys).sum(dim=(2, 3))
    safe = torch.where(s == 0, torch.ones_like(s), s)
    x = torch.where(s == 0, col[..., 0, 0].double(), mx / safe)
    y = torch.where(s == 0, row[..., 0, 0].double(), my / safe)
    out_dtype = torch.float64 if heatmaps.dtype == torch.float64 else torch.float32
    return torch.stack([x, y], dim=-1).to(out_dtype)


def _weighted_reduction(loss: Tensor, target: Tensor, target_weight: Optional[Tensor], weights: Optional[Tensor],
                        W: float, threshold: float, kernel_size: int, reduction: str,
                        mean_divisor: Optional[float] = None) -> Tensor:
    """loss * (W * M + 1 or weights) * target_weight, reduced; "mean" divides by the number of
    elements or by `mean_divisor`."""
    weight = W * loss_map_mask_reference(target, threshold, kernel_size) + 1 if weights is None else _opmath(weights)
    loss = loss * _opmath(weight)
    if target_weight is not None:
        loss = loss * _opmath(target_weight)[:, :, None, None]
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / mean_divisor if mean_divisor is not None else loss.mean()
    raise ValueError(f"unknown reduction {reduction!r}")


def _heatmap_loss_reference(per_pixel, pred, target, target_weight, W, threshold, kernel_size, reduction, weights):
    p, y = _opmath(pred), _opmath(target)
    out = _weighted_reduction(per_pixel(p, y), y, target_weight, weights, W, threshold, kernel_size, reduction)
    return out.to(pred.dtype)


def mse_loss_reference(pred: Tensor, target: Tensor, *, W: float = 10.0, threshold: float = 0.2,
                       kernel_size: int = 3, target_weight: Optional[Tensor] = None, reduction: str = "mean",
                       weights: Optional[Tensor] = None) -> Tensor:
    """(p - y)^2 with the weighted loss map (awing_ext.mse_loss)."""
    return _heatmap_loss_reference(lambda p, y: (p - y) ** 2, pred, target, target_weight, W, threshold,
                                   kernel_size, reduction, weights)


def l1_loss_reference(pred: Tensor, target: Tensor, *, W: float = 10.0, threshold: float = 0.2,
                      kernel_size: int = 3, target_weight: Optional[Tensor] = None, reduction: str = "mean",
                      weights: Optional[Tensor] = None) -> Tensor:
    """|p - y| with the weighted loss map (awing_ext.l1_loss)."""
    return _heatmap_loss_reference(lambda p, y: (p - y).abs(), pred, target, target_weight, W, threshold,
                                   kernel_size, reduction, weights)


def smooth_l1_loss_reference(pred: Tensor, target: Tensor, *, beta: float = 1.0, W: float = 10.0,
                             threshold: float = 0.2, kernel_size: int = 3, target_weight: Optional[Tensor] = None,
                             reduction: str = "mean", weights: Optional[Tensor] = None) -> Tensor:
    """torch's smooth L1 per pixel (F.smooth_l1_loss, reduction none) with the weighted loss map."""
    return _heatmap_loss_reference(lambda p, y: F.smooth_l1_loss(p, y, reduction="none", beta=beta), pred, target,
                                   target_weight, W, threshold, kernel_size, reduction, weights)


def wing_loss_reference(pred: Tensor, target: Tensor, *, omega: float = 14.0, epsilon: float = 1.0,
                        W: float = 10.0, threshold: float = 0.2, kernel_size: int = 3,
                        target_weight: Optional[Tensor] = None, reduction: str = "mean",
                        weights: Optional[Tensor] = None) -> Tensor:
    """Feng et al. (CVPR 2018), eq. (5): omega ln(1 + d/epsilon) if d < omega, else d - C."""
    C = omega - omega * math.log1p(omega / epsilon)

    def per_pixel(p, y):
        d = (p - y).abs()
        return torch.where(d < omega, omega * torch.log1p(d / epsilon), d - C)

    return _heatmap_loss_reference(per_pixel, pred, target, target_weight, W, threshold, kernel_size, reduction,
                                   weights)


def focal_heatmap_loss_reference(logits: Tensor, target: Tensor, *, alpha: float = 2.0, beta: float = 4.0,
                                 positive_threshold: float = 0.75, W: float = 10.0, threshold: float = 0.2,
                                 kernel_size: int = 3, target_weight: Optional[Tensor] = None,
                                 reduction: str = "mean", weights: Optional[Tensor] = None) -> Tensor:
    """CornerNet's focal loss (Law & Deng, ECCV 2018, eq. 1) written as the paper does, with
    p = sigmoid(logits) and log(p), log(1 - p) from F.logsigmoid; "mean" divides by the number of
    planes (n, c) holding a positive pixel (at least 1), counted plane by plane in a loop."""
    x, y = _opmath(logits), _opmath(target)
    p = torch.sigmoid(x)
    positive = y >= positive_threshold
    pos = -((1 - p) ** alpha) * F.logsigmoid(x)
    neg = -((1 - y).clamp_min(0) ** beta) * p ** alpha * F.logsigmoid(-x)
    loss = torch.where(positive, pos, neg)
    planes = sum(bool(positive[n, c].any()) for n in range(y.shape[0]) for c in range(y.shape[1]))
    divisor = max(float(planes), 1.0) if reduction == "mean" else None
    out = _weighted_reduction(loss, y, target_weight, weights, W, threshold, kernel_size, reduction, divisor)
    return out.to(logits.dtype)
