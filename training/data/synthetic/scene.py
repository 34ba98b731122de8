"""The scene of a synthetic face: the palettes, its pose (the projected view of the 3-D face), its
colours and the background. See drawing.py for the whole rendering."""
from dataclasses import dataclass

import cv2
import numpy as np

from .canvas import _col, _fill, _line
from .face_model import Sampler
from .geometry import _ellipse_pts, _rotation


# palettes (RGB)
_SKIN_LIGHT = np.array([238.0, 206.0, 182.0])
_SKIN_DARK = np.array([92.0, 58.0, 40.0])
_HAIR = np.array([[20, 16, 14], [45, 30, 20], [70, 45, 28], [100, 66, 38], [140, 98, 56], [190, 150, 95],
                  [215, 185, 130], [150, 60, 30], [120, 120, 120], [200, 200, 200], [35, 35, 45],
                  [90, 60, 50]], dtype=np.float64)
_IRIS = np.array([[70, 45, 25], [100, 65, 35], [40, 28, 20], [70, 110, 160], [90, 130, 110],
                  [110, 115, 120], [130, 95, 50]], dtype=np.float64)


@dataclass
class _View:
    """The posed face in the image: 3-D landmarks P3 and auxiliary geometry `aux` (canonical
    units), the rotation R, scale (pixels per canonical unit) and shift of the projection, and
    the projected landmarks L (68, 2)."""
    S: int
    P3: np.ndarray
    aux: dict
    R: np.ndarray
    scale: float
    shift: np.ndarray
    centre: np.ndarray
    L: np.ndarray = None

    def proj(self, p3) -> np.ndarray:
        """Canonical 3-D points (..., 3) -> image pixels (..., 2) (orthographic)."""
        return (np.asarray(p3) @ self.R.T)[..., :2] * self.scale + self.shift

    @property
    def unit(self) -> float:
        return self.scale                # pixels per canonical unit


@dataclass
class _Colours:
    """The face's colours (RGB float arrays) and its light direction and strength."""
    skin: np.ndarray
    hair: np.ndarray
    brow: np.ndarray
    lip: np.ndarray
    iris: np.ndarray
    light_dir: np.ndarray
    light_k: float
    shadow_side: float           # image-x side of the nose in shadow


def _pose(rand: Sampler, P3, aux, S, max_yaw, max_pitch, max_rotation, face_size, offset) -> _View:
    """Rotate the face and fit its landmark box into the image at a random size and place."""
    rng = rand.rng
    yaw = np.deg2rad(rand.uniform(-max_yaw, max_yaw)) if max_yaw else 0.0
    pitch = np.deg2rad(rand.uniform(-max_pitch, max_pitch)) if max_pitch else 0.0
    roll = np.deg2rad(rand.uniform(-max_rotation, max_rotation)) if max_rotation else 0.0
    R = _rotation(yaw, pitch, roll)
    q = P3 @ R.T
    lo, hi = q[:, :2].min(axis=0), q[:, :2].max(axis=0)
    side = float(max(hi - lo))
    frac = rand.uniform(*face_size) if face_size[1] > face_size[0] else float(face_size[0])
    scale = frac * S / side
    box = (hi - lo) * scale
    margin = 2.0
    centre = np.full(2, (S - 1) / 2.0)
    if offset:
        centre = centre + rng.uniform(-0.1, 0.1, size=2) * S
    half = box / 2
    centre = np.clip(centre, margin + half, S - 1 - margin - half)
    shift = centre - (lo + hi) / 2 * scale
    v = _View(S, P3, aux, R, scale, shift, centre)
    v.L = v.proj(P3)
    return v


def _colours(rand: Sampler) -> _Colours:
    rng = rand.rng
    tone = rng.beta(1.6, 1.6)
    skin = _SKIN_LIGHT * (1 - tone) + _SKIN_DARK * tone
    skin = skin * rng.uniform(0.93, 1.07, 3) + rand.uniform(-8, 8)
    skin = np.clip(skin, 30, 250)
    hair_c = _HAIR[int(rand.uniform(0, len(_HAIR)))] * rand.uniform(0.8, 1.2)
    brow_c = np.minimum(hair_c, skin * 0.55) * rand.uniform(0.6, 1.0) if rand.uniform(0.0, 1.0) < 0.8 else skin * 0.4
    brow_c = np.minimum(brow_c, skin * rand.uniform(0.45, 0.7))
    lip_c = skin * np.array([0.86, 0.58, 0.58]) * rand.uniform(0.85, 1.05) + np.array([rand.uniform(5, 40), 0, 5])
    iris_c = _IRIS[int(rand.uniform(0, len(_IRIS)))] * rand.uniform(0.8, 1.2)
    light_a = rand.uniform(0, 2 * np.pi)
    light_k = rand.uniform(0.0, 0.45)
    light_dir = np.array([np.cos(light_a), np.sin(light_a)])
    shadow_side = -1.0 if np.cos(light_a) > 0 else 1.0
    return _Colours(skin, hair_c, brow_c, lip_c, iris_c, light_dir, light_k, shadow_side)


def _background(rand: Sampler, S: int) -> np.ndarray:
    """A 4-corner colour gradient with 3-12 random shapes: discs, boxes, bars, polygons, stripes."""
    rng = rand.rng
    corners = rng.uniform(0, 255, size=(2, 2, 3))
    if rand.uniform(0.0, 1.0) < 0.5:                          # muted backgrounds are common
        corners = corners * 0.5 + rand.uniform(40, 200) * 0.5
    img = cv2.resize(corners.astype(np.uint8), (S, S), interpolation=cv2.INTER_LINEAR)
    for _ in range(int(rand.uniform(3, 13))):
        color = _col(rng.uniform(0, 255, 3))
        kind = int(rand.uniform(0, 5))
        cx, cy = rng.uniform(-0.1, 1.1, 2) * S
        r = rand.uniform(0.03, 0.35) * S
        if kind == 0:
            _fill(img, _ellipse_pts(cx, cy, r, r * rand.uniform(0.3, 1.0), 20)[:, :2], color)
        elif kind == 1:
            a = rand.uniform(0, np.pi)
            w, h = r, r * rand.uniform(0.2, 1.5)
            c, s = np.cos(a), np.sin(a)
            q = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) @ np.array([[c, s], [-s, c]]) + [cx, cy]
            _fill(img, q, color)
        elif kind == 2:
            q = np.array([[cx, cy], rng.uniform(-0.1, 1.1, 2) * S])
            _line(img, q, color, rand.uniform(1, 0.03 * S))
        elif kind == 3:
            q = rng.normal(0, r, size=(int(rand.uniform(3, 7)), 2)) + [cx, cy]
            _fill(img, q, color)
        else:                                                # stripes
            a = rand.uniform(0, np.pi)
            d = np.array([np.cos(a), np.sin(a)]) * 2 * S
            step = rand.uniform(0.03, 0.12) * S
            nrm = np.array([-np.sin(a), np.cos(a)])
            for j in range(int(rand.uniform(2, 6))):
                o = np.array([cx, cy]) + nrm * step * j
                _line(img, np.array([o - d, o + d]), color, max(1.0, step * 0.35))
    return img

