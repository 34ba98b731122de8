"""Overlays: a face's box, crop square and points drawn on its image (detect's --out), and
writing an overlay image."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

__all__ = ["BOX_COLOR", "CROP_COLOR", "POINT_COLOR", "draw_overlay", "write_image"]

BOX_COLOR = (0, 200, 0)     # RGB
CROP_COLOR = (0, 120, 255)
POINT_COLOR = (230, 0, 0)


def draw_overlay(image_rgb: np.ndarray, faces: Sequence[dict]) -> np.ndarray:
    """A copy of the image (RGB) with each face's box (green), crop square (blue, rotated with the
    crop) and points (red)."""
    out = np.ascontiguousarray(image_rgb.copy())
    size = max(out.shape[:2])
    thick = max(1, round(size / 400))
    radius = max(1, round(size / 250))
    shift = 4
    f = 1 << shift
    for face in faces:
        x, y, w, h = face["box"]
        cv2.rectangle(out, (round(x * f), round(y * f)), (round((x + w - 1) * f), round((y + h - 1) * f)),
                      BOX_COLOR, thick, cv2.LINE_AA, shift)
        cx, cy, side = face["crop"][:3]
        angle = face["crop"][3] if len(face["crop"]) > 3 else 0.0
        # the crop's x axis runs along (cos angle, sin angle) in the image (crop_matrix), as boxPoints' width
        corners = cv2.boxPoints(((cx, cy), (side - 1, side - 1), angle))
        cv2.polylines(out, [np.round(corners * f).astype(np.int32)], True, CROP_COLOR, thick, cv2.LINE_AA, shift)
        for px, py in face["landmarks"]:
            if np.isfinite(px) and np.isfinite(py):
                cv2.circle(out, (round(px * f), round(py * f)), radius * f, POINT_COLOR, -1, cv2.LINE_AA, shift)
    return out


def write_image(path: Path, image_rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        ok = cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    except cv2.error:
        ok = False
    if not ok:
        why = ("its folder is not writable" if not os.access(path.parent, os.W_OK)
               else "the disk may be full, or OpenCV cannot write this format")
        raise ValueError(f"cannot write the overlay to {path}: {why}")
