"""Geometry shared by the face model and the drawing: Catmull-Rom splines, ellipse outlines and
the 3-D head rotation. Pure numpy, no randomness."""
from typing import Dict, Tuple

import numpy as np

_SPLINE_CACHE: Dict[Tuple[int, int, bool], np.ndarray] = {}


def _spline_matrix(n: int, k: int, closed: bool) -> np.ndarray:
    """(m, n) matrix taking n control points to the samples of their uniform Catmull-Rom curve
    (k per segment; an open curve is extended by reflecting its end points, so it passes
    through all n points and ends at the last one)."""
    key = (n, k, closed)
    m = _SPLINE_CACHE.get(key)
    if m is None:
        t = np.arange(k, dtype=np.float64) / k
        t2, t3 = t * t, t * t * t
        basis = 0.5 * np.stack([-t3 + 2 * t2 - t, 3 * t3 - 5 * t2 + 2, -3 * t3 + 4 * t2 + t, t3 - t2], axis=1)
        eye = np.eye(n)
        if closed:
            ext, segs = np.concatenate([eye[-1:], eye, eye[:2]]), n
        else:
            ext, segs = np.concatenate([2 * eye[:1] - eye[1:2], eye, 2 * eye[-1:] - eye[-2:-1]]), n - 1
        rows = [basis @ ext[i:i + 4] for i in range(segs)]
        if not closed:
            rows.append(eye[-1:])
        m = _SPLINE_CACHE[key] = np.concatenate(rows)
    return m


def _spline(points: np.ndarray, k: int = 6, closed: bool = False) -> np.ndarray:
    """An interpolating Catmull-Rom curve through `points` (n, 2), k samples per segment."""
    n = len(points)
    if n < 3:
        return np.asarray(points, dtype=np.float64)
    return _spline_matrix(n, k, closed) @ points


_CIRCLES: Dict[int, np.ndarray] = {}


def _ellipse_pts(cx, cy, rx, ry, n=16, z=0.0):
    """(n, 3) points of an axis-aligned ellipse (in the plane at depth z)."""
    c = _CIRCLES.get(n)
    if c is None:
        a = np.linspace(0, 2 * np.pi, n, endpoint=False)
        c = _CIRCLES[n] = np.stack([np.cos(a), np.sin(a), np.zeros(n)], axis=1)
    return c * (rx, ry, 0.0) + (cx, cy, z)


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """3x3 rotation of canonical face points (x right, y down, z towards the camera): yaw about
    the vertical axis (positive turns the nose to the image right), then pitch about the
    horizontal axis (positive turns the nose up), then roll in the image plane (positive is
    counter-clockwise on screen)."""
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    ryaw = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rpitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rroll = np.array([[cr, sr, 0], [-sr, cr, 0], [0, 0, 1]])   # y down: counter-clockwise on screen
    return rroll @ rpitch @ ryaw
