"""OpenCV painting primitives for the synthetic faces: anti-aliased sub-pixel polygons and
polylines, colour clamping, masked blending, drawing clipped to a polygon and a fixed noise
texture."""
from typing import Optional, Tuple

import cv2
import numpy as np

_SHIFT = 4                      # cv2 fixed-point bits: coordinates are drawn with 1/16 px precision
_ONE = float(1 << _SHIFT)
_AA = cv2.LINE_AA


def _fix(pts, offset=None) -> np.ndarray:
    """Float (x, y) pixel coordinates -> cv2 fixed point (shift=_SHIFT)."""
    p = pts[..., :2] if offset is None else pts[..., :2] - offset
    return np.rint(p * _ONE).astype(np.int32)


def _fill(img, pts, color, offset=None):
    cv2.fillPoly(img, [_fix(pts, offset)], color, _AA, _SHIFT)


def _line(img, pts, color, thickness, closed=False, offset=None):
    """A polyline (or a list of polylines) of the given thickness (px, at least 1)."""
    polys = [_fix(p, offset) for p in pts] if isinstance(pts, list) else [_fix(pts, offset)]
    cv2.polylines(img, polys, closed, color, max(1, int(round(thickness))), _AA, _SHIFT)


def _col(c) -> Tuple[float, float, float]:
    a, b, d = c
    return (min(max(float(a), 0.0), 255.0), min(max(float(b), 0.0), 255.0), min(max(float(d), 0.0), 255.0))


def _blend(top: np.ndarray, bottom: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """top where mask is 255, bottom where it is 0, linear in between (uint8 images)."""
    w = mask.astype(np.float32) * np.float32(1.0 / 255.0)
    return cv2.blendLinear(np.ascontiguousarray(top), np.ascontiguousarray(bottom), w, 1.0 - w)


def _clipped(canvas, clip_poly, draw, pad=2):
    """Run draw(patch, offset) on a copy of the clip polygon's bounding box and keep the result
    only inside the (anti-aliased) polygon."""
    S = canvas.shape[0]
    lo = np.floor(clip_poly.min(axis=0)).astype(int) - pad
    hi = np.ceil(clip_poly.max(axis=0)).astype(int) + pad
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0] + 1, S), min(hi[1] + 1, S)
    if x1 <= x0 or y1 <= y0:
        return
    roi = canvas[y0:y1, x0:x1]
    patch = roi.copy()
    off = np.array([x0, y0], dtype=np.float64)
    draw(patch, off)
    mask = np.zeros(roi.shape[:2], np.uint8)
    _fill(mask, clip_poly, 255, off)
    roi[:] = _blend(patch, roi, mask)


_NOISE_BANK: Optional[np.ndarray] = None


def _noise_bank() -> np.ndarray:
    """A fixed 512x512x3 standard-normal float32 texture (same in every process)."""
    global _NOISE_BANK
    if _NOISE_BANK is None:
        _NOISE_BANK = np.random.default_rng(20190407).standard_normal((512, 512, 3)).astype(np.float32)
    return _NOISE_BANK


def _noise_patch(rng, h: int, w: int) -> np.ndarray:
    """An (h, w, 3) window of the noise texture at a random place (two rng.integers draws)."""
    bank = _noise_bank()
    if h > bank.shape[0] or w > bank.shape[1]:
        bank = np.tile(bank, (h // bank.shape[0] + 1, w // bank.shape[1] + 1, 1))
    y = int(rng.integers(0, bank.shape[0] - h + 1))
    x = int(rng.integers(0, bank.shape[1] - w + 1))
    return bank[y:y + h, x:x + w]
