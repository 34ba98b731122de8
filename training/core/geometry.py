"""Crop geometry, the one definition every crop uses (training's, evaluation's, the Predictor's,
export's): the square crop around a landmark box, and the affine map from image to crop pixels
(pixel centres at integer coordinates, docs/design.md "Conventions")."""
from typing import Sequence, Tuple

import numpy as np

__all__ = ["CROP_SCALE", "Crop", "crop_box", "box_to_crop", "image_as_crop", "crop_matrix", "apply_affine"]

CROP_SCALE = 1.25   # crop side / the landmark box's larger side: the usual FAN margin, used everywhere a crop is made
Crop = Tuple[float, ...]   # (cx, cy, side) or (cx, cy, side, angle): image pixels, degrees counter-clockwise


def crop_box(landmarks: np.ndarray, scale: float = CROP_SCALE) -> tuple:
    """(cx, cy, side): the square crop around the landmarks' bounding box, `scale` × its larger side."""
    pts = landmarks[np.isfinite(landmarks).all(axis=1)]
    if len(pts) == 0:
        raise ValueError("crop_box: no finite landmark to crop around")
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre = (lo + hi) / 2
    side = float(max(hi - lo)) * scale
    return float(centre[0]), float(centre[1]), max(side, 1.0)


def crop_matrix(cx: float, cy: float, side: float, input_size: int, rotation_deg: float = 0.0,
                flip: bool = False) -> np.ndarray:
    """2x3 affine matrix taking image pixels to crop pixels (pixel centres at integers).

    The crop's centre (cx, cy) lands on the output centre ((S-1)/2, (S-1)/2); `side` image pixels
    span the output's S pixels; rotation is counter-clockwise in the image; flip mirrors x.
    """
    s = input_size / side
    a = np.deg2rad(rotation_deg)
    cos, sin = np.cos(a) * s, np.sin(a) * s
    m = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]])
    m[:, 2] = np.array([(input_size - 1) / 2, (input_size - 1) / 2]) - m[:, :2] @ np.array([cx, cy])
    if flip:
        m = np.array([[-1.0, 0.0, input_size - 1], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0, 0, 1]])
    return m


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def box_to_crop(box: Sequence[float], scale: float = CROP_SCALE) -> Tuple[float, float, float]:
    """A landmark box (x, y, w, h) -> the training crop (cx, cy, side), exactly crop_box's
    for landmarks spanning the box: the box covers pixels x .. x + w - 1, so the landmarks span
    w - 1 pixels from centre to centre, the crop's centre is x + (w - 1) / 2 and its side
    scale * (max(w, h) - 1) (at least 1)."""
    if len(box) != 4:
        raise ValueError(f"a face box is (x, y, w, h), got {tuple(box)!r}")
    x, y, w, h = (float(v) for v in box)
    if not np.all(np.isfinite([x, y, w, h])) or w <= 0 or h <= 0:
        raise ValueError(f"a face box (x, y, w, h) needs finite values and w, h > 0, got {tuple(box)!r}")
    return x + (w - 1) / 2, y + (h - 1) / 2, max(scale * (max(w, h) - 1), 1.0)


def image_as_crop(image: np.ndarray) -> Tuple[float, float, float]:
    """The whole image as the crop: its centre, side = its larger side."""
    h, w = image.shape[:2]
    return (w - 1) / 2, (h - 1) / 2, float(max(h, w))
