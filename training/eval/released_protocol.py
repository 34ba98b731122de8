"""The evaluation protocol of the authors' released code (protossw512/AdaptiveWingLoss), for
checking that a converted released model gives the published WFLW numbers here.

How it differs from this package's own protocol (training.eval.protocol):

====================  =================================================  ================================
step                  released                                           awing (default)
====================  =================================================  ================================
crop                  two crops (below), each a square cut + bilinear    one affine warp of the landmark
                      cv2.resize; the first one is saved as a JPEG       box x 1.25 (or the detector box)
                      by the released scripts (not repeated here)
decode                first argmax, +-0.25 px towards the larger         DARK (Taylor step of the
                      neighbour (inner pixels only)                      log-heatmap), quarter fallback
heatmap -> crop       x_crop = (S / H) * (i + 0.5 +- 0.25): pixel i       x_crop = (i + 0.5) * S / H - 0.5
                      maps to 4 i + 2                                     (pixel i -> 4 i + 1.5)
NME normaliser        WFLW: points 60, 72; 68 points: the eye centres     WFLW: 60, 72; 68: corners 36, 45;
                      (means of 36-41, 42-47); 29 points: 16, 17          29: 16, 17
====================  =================================================  ================================

Crops (WFLW test set, dataset/convert_WFLW.py then the test dataloader of the released code):
1. the annotation box (x0, y0, x1, y1, truncated to ints) grows by int(0.05 x width / 2) left and
   right and int(0.05 x height / 2) top and bottom (the left/top clamped at 0); centre = its
   centre, scale = (width + height) / 250 (a square of side 200 x scale); the image is cut to that
   square (zero padding where it leaves the image) and resized to 450 x 450. While a landmark
   falls outside [10, 440] the divisor drops by 10 (a larger square) and the crop is redone.
2. from the 450 image, the square of side 360 around (225, 225) (scale 1.8), resized to 256; if
   a landmark then falls outside [5, 250], the whole 450 image (scale 2.25 after a 100 px border,
   centre shifted by the border) resized to 256.
Both crops are a scale and a translation, so NMEs computed in the 256 crop equal NMEs in the image
up to resampling.
"""
from typing import Tuple

import cv2
import numpy as np
import torch
from torch import Tensor

from . import metrics
from ..core.codec import HeatmapCodec
from ..models.inputs import model_input

__all__ = ["square_crop", "released_crop", "released_decode", "released_nme", "FIRST_SIZE", "INPUT_SIZE"]

FIRST_SIZE = 450
INPUT_SIZE = 256


def square_crop(image: np.ndarray, points: np.ndarray, center, scale: float, resolution: int,
                border: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """The released square cut: an optional zero `border` (which moves the centre and points), the
    square of side 200 x scale whose integer bounds are int(centre -+ side // 2), zero padding
    where it leaves the image, a bilinear resize to `resolution`; the points follow (float)."""
    img = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_CONSTANT, value=[0, 0, 0])
    cx, cy = float(center[0]) + border, float(center[1]) + border
    pts = np.asarray(points, np.float64) + border
    side = 200.0 * scale
    half = side // 2
    top, bottom, left, right = int(cy - half), int(cy + half), int(cx - half), int(cx + half)
    y_pad = abs(min(top, img.shape[0] - bottom, 0))
    x_pad = abs(min(left, img.shape[1] - right, 0))
    top, bottom, left, right = top + y_pad, bottom + y_pad, left + x_pad, right + x_pad
    img = cv2.copyMakeBorder(img, y_pad, y_pad, x_pad, x_pad, cv2.BORDER_CONSTANT, value=[0, 0, 0])
    out = cv2.resize(img[top:bottom, left:right], (int(resolution), int(resolution)), interpolation=cv2.INTER_LINEAR)
    mapped = np.stack([(pts[:, 0] + x_pad - left) * resolution / side,
                       (pts[:, 1] + y_pad - top) * resolution / side], axis=1)
    return out, mapped


def released_crop(image: np.ndarray, points: np.ndarray, box) -> Tuple[np.ndarray, np.ndarray]:
    """The two released test crops of one face: (256 x 256 x 3 image, points in that crop)."""
    left, top, right, bottom = (int(v) for v in box)
    lr_pad, tb_pad = int(0.05 * (right - left) / 2), int(0.05 * (bottom - top) / 2)
    left, right = max(0, left - lr_pad), right + lr_pad
    top, bottom = max(0, top - tb_pad), bottom + tb_pad
    center = (right - (right - left) / 2.0, bottom - (bottom - top) / 2.0)
    divisor = 250.0
    while True:
        first, pts = square_crop(image, points, center, (right - left + bottom - top) / divisor, FIRST_SIZE)
        if pts.min() >= 10 and pts.max() <= FIRST_SIZE - 10:
            break
        divisor -= 10
        if divisor <= 0:
            raise ValueError("released_crop: the landmarks do not fit any crop of the annotation box")
    crop, crop_pts = square_crop(first, pts, (225.0, 225.0), 1.8, INPUT_SIZE)
    if crop_pts.max() > 250 or crop_pts.min() < 5:
        crop, crop_pts = square_crop(first, pts, (225.0, 225.0), 2.25, INPUT_SIZE, border=100)
    return crop, crop_pts


def released_decode(heatmaps: Tensor, input_size: int = INPUT_SIZE) -> Tensor:
    """Landmarks (N, K, 2) in crop pixels from (N, K, H, W) heatmaps, the released way: the first
    maximum (i, j), 0.25 px towards the larger neighbour on each axis for inner pixels, then
    x = (input_size / W) * (j + 0.5 + dx), y likewise."""
    hm = heatmaps.detach().float().cpu()
    n, k, h, w = hm.shape
    planes = hm.reshape(n * k, h, w)
    idx = planes.reshape(n * k, h * w).argmax(dim=-1)
    ys, xs = idx // w, idx % w
    b = torch.arange(n * k)
    inner = (xs > 0) & (xs < w - 1) & (ys > 0) & (ys < h - 1)

    def step(hi, lo):  # 0.25 towards the larger neighbour, inner pixels only
        return torch.where(inner, 0.25 * torch.sign(hi - lo), torch.zeros(()))

    dx = step(planes[b, ys, (xs + 1).clamp(max=w - 1)], planes[b, ys, (xs - 1).clamp(min=0)])
    dy = step(planes[b, (ys + 1).clamp(max=h - 1), xs], planes[b, (ys - 1).clamp(min=0), xs])
    out = torch.stack([xs + dx, ys + dy], dim=-1).double().reshape(n, k, 2)
    return (out + 0.5) * (input_size / w)


def released_nme(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-image NME (N,) with the released normalisers: 98 points: |gt60 - gt72|; 68 points: the
    distance of the eye centres (means of 36-41 and 42-47); 29 points: |gt16 - gt17|."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    k = gt.shape[1]
    if k == 98:
        norm = np.linalg.norm(gt[:, 60] - gt[:, 72], axis=-1)
    elif k == 68:
        norm = np.linalg.norm(gt[:, 36:42].mean(1) - gt[:, 42:48].mean(1), axis=-1)
    elif k == 29:
        norm = np.linalg.norm(gt[:, 16] - gt[:, 17], axis=-1)
    else:
        raise ValueError(f"released_nme: the released code defines normalisers for 98, 68 and 29 points, got {k}")
    return np.linalg.norm(pred - gt, axis=-1).mean(axis=1) / norm


@torch.no_grad()
def evaluate_released(model: torch.nn.Module, base, device: torch.device, batch_size: int = 16,
                      threshold: float = 0.1) -> dict:
    """The released protocol on a raw WFLW split `base` (build_base's: samples with "image",
    "landmarks" and the annotation box "det_box"): per-image NMEs with the released decoding and,
    on the same crops, with DARK decoding (what the decoder alone changes); FR@threshold and
    AUC@threshold (the released code reports no AUC: computed here with training.eval.metrics)."""
    cfg = model.config
    if cfg.input_size != INPUT_SIZE:
        raise ValueError(f"the released protocol feeds {INPUT_SIZE} x {INPUT_SIZE} crops; this model takes "
                         f"{cfg.input_size} x {cfg.input_size}")
    codec = HeatmapCodec(INPUT_SIZE, cfg.heatmap_size, boundary_scheme=None)
    model.eval()
    released, dark, gts = [], [], []
    for start in range(0, len(base), batch_size):
        crops, points = [], []
        for i in range(start, min(start + batch_size, len(base))):
            sample = base[i]
            if sample.get("det_box") is None:
                raise ValueError("the released protocol crops around the annotation box: this dataset has none "
                                 "(it is defined for WFLW)")
            crop, pts = released_crop(sample["image"], sample["landmarks"], sample["det_box"])
            crops.append(crop)
            points.append(pts)
        images = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous().to(device)
        heat = model(model_input(images, cfg))[-1][:, :cfg.num_landmarks]
        released.append(released_decode(heat, INPUT_SIZE).numpy())
        dark.append(codec.decode(heat, cfg.num_landmarks)[0].cpu().numpy())
        gts.append(np.stack(points))
    gt = np.concatenate(gts)
    rows = {}
    for name, pred in (("released decoding", np.concatenate(released)), ("DARK decoding", np.concatenate(dark))):
        nmes = released_nme(pred, gt)
        rows[name] = metrics.summarize(nmes, threshold)
    return {"protocol": "released", "samples": len(gt), "threshold": threshold,
            "normaliser": "the released code's (WFLW: points 60, 72)", "results": rows}
