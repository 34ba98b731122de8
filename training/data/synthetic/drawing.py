"""Rendering of one synthetic face: `render_synthetic_face` poses the random 3-D face, then draws
it feature by feature (one function each, called in this order) and degrades the image. The
pose, colours and background are in scene.py, the features in features.py; the occluders, the
degradations and the whole in this module.

3. **Pose**: yaw +-30 deg and pitch +-12 deg (orthographic 3-D rotation: the far side is
   compressed, nose and mouth shift towards the turned side), in-plane rotation +-30 deg.
   The landmarks' bounding box (larger side) is scaled to 45-75% of the image side and placed
   at the centre plus a random offset of up to 10% of the side, clipped so that every point lies
   inside [margin, S-1-margin]; all positions are continuous (sub-pixel).
4. **Drawing**, all from the same projected points, anti-aliased with sub-pixel (shift=4)
   coordinates: background (4-corner colour gradient plus 3-12 random shapes: discs, boxes,
   bars, lines, polygons), clothing and neck (shadowed skin), hair (none / short / long / with
   fringe; 12 colours), ears, the head (a closed spline through the jaw points 0-16 and a skull
   arc; skin tone from pale to dark brown, smoothly darkened towards the outline and shaded on
   the side away from the light), eye sockets, nose bridge shadow and highlight, brows (a filled
   band whose upper third carries the brow points), eyes (sclera polygon through the lid points,
   iris with pupil and glint clipped to the eye, dark upper lid line, lower lid line), nose
   (alar creases, nostrils, the nose-bottom curve through 31-35), lips (upper and lower lip
   polygons through the outer and inner lip points, dark mouth interior and teeth when open,
   the line where the lips meet), sometimes glasses (8%).
5. **Degradations**: occluding patches (35% of faces, 1-2 patches of solid colour, noise
   texture or a skin-coloured "hand" blob, each covering 3-20% of the face box), a lighting
   gradient (x0.55-1.45 across the face, direction at random, clamped to 0.35-1.6 over the
   image), brightness x0.8-1.15 with per-channel gains 0.9-1.1, Gaussian blur (60%, sigma
   0.3-1.4 px at S = 256, scaled with S) and Gaussian noise (sigma 0-9 grey levels).

The points are the drawn features: jaw points lie on the head outline, brow points on the brows,
eye points on the lid outlines, nose points on the bridge / under-nose curve and lip points on
the lip contours, so a model has to find the features to beat the mean shape.

All randomness comes from one `Sampler` (scalar draws) and its ``rng`` (vector draws), in a fixed
order, so the image is a deterministic function of the generator's state.
"""
from typing import Tuple

import cv2
import numpy as np

from .canvas import _clipped, _col, _fill, _line, _noise_patch
from .face_model import Sampler, sample_face
from .geometry import _ellipse_pts
from .features import (_draw_back_hair, _draw_brows, _draw_ears, _draw_eyes, _draw_glasses, _draw_hair, _draw_head,
                       _draw_mouth, _draw_neck_and_body, _draw_nose, _hair_style)
from .scene import _background, _Colours, _colours, _pose, _View

__all__ = ["render_synthetic_face"]


def _draw_occluders(img, rand: Sampler, v: _View, c: _Colours) -> None:
    """Sometimes (35%) 1-2 boxes or blobs over the face: solid colour, noise texture or skin ("hand")."""
    if rand.uniform(0.0, 1.0) >= 0.35:
        return
    rng = rand.rng
    lo_l, hi_l = v.L.min(axis=0), v.L.max(axis=0)
    box_area = float(np.prod(hi_l - lo_l))
    for _ in range(int(rand.uniform(1, 3))):
        area = rand.uniform(0.03, 0.20) * box_area
        asp = np.exp(rand.uniform(np.log(0.4), np.log(2.5)))
        ow, oh = np.sqrt(area * asp), np.sqrt(area / asp)
        oc = lo_l + rng.uniform(0, 1, 2) * (hi_l - lo_l)
        ang = rand.uniform(0, np.pi)
        c_, s_ = np.cos(ang), np.sin(ang)
        rot = np.array([[c_, s_], [-s_, c_]])
        kind = int(rand.uniform(0, 3))
        if kind == 0:
            shape = np.array([[-ow, -oh], [ow, -oh], [ow, oh], [-ow, oh]]) / 2 @ rot + oc
        else:
            shape = _ellipse_pts(0, 0, ow / np.sqrt(np.pi), oh / np.sqrt(np.pi), 16)[:, :2] @ rot + oc
        style = int(rand.uniform(0, 3))
        if style == 0:
            _fill(img, shape, _col(rng.uniform(0, 255, 3)))
        elif style == 1:
            base = rng.uniform(30, 220, 3)
            amp = rand.uniform(20, 70)

            def draw_tex(patch, off, base=base, amp=amp):
                nz = _noise_patch(rng, patch.shape[0], patch.shape[1])
                patch[:] = np.clip(base + amp * nz, 0, 255).astype(np.uint8)

            _clipped(img, shape, draw_tex)
        else:                                     # skin-coloured blob ("hand")
            _fill(img, shape, _col(c.skin * rand.uniform(0.8, 1.15)))
            _line(img, shape, _col(c.skin * 0.6), max(1.0, 0.015 * v.unit), closed=True)


def _degrade(img, rand: Sampler, v: _View, c: _Colours) -> np.ndarray:
    """Lighting gradient, brightness and per-channel gain, sometimes blur, Gaussian noise."""
    rng, S, centre = rand.rng, v.S, v.centre
    k = c.light_k / max(v.unit * 1.0, 1.0)
    xs = (np.arange(S, dtype=np.float32) - centre[0]) * np.float32(k * c.light_dir[0])
    ys = (np.arange(S, dtype=np.float32) - centre[1]) * np.float32(k * c.light_dir[1])
    field = np.clip(1.0 + ys[:, None] + xs[None, :], 0.35, 1.6)
    gain = rng.uniform(0.9, 1.1, 3) * rand.uniform(0.8, 1.15)
    field3 = cv2.merge([field * np.float32(g) for g in gain])
    if rand.uniform(0.0, 1.0) < 0.6:
        img = cv2.GaussianBlur(img, (0, 0), rand.uniform(0.3, 1.4) * S / 256)
    out = cv2.multiply(img, field3, dtype=cv2.CV_32F)
    sigma_n = rand.uniform(0.0, 9.0)
    out = cv2.scaleAdd(_noise_patch(rng, S, S), sigma_n, out)
    return np.clip(out, 0, 255).astype(np.uint8)


def render_synthetic_face(rng: np.random.Generator, image_size: int = 256, *,
                          max_rotation: float = 30.0, max_yaw: float = 30.0, max_pitch: float = 12.0,
                          face_size: Tuple[float, float] = (0.45, 0.75), offset: bool = True,
                          shape_variation: bool = True, expression: bool = True, asymmetry: bool = True,
                          occlusion: bool = True, degrade: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one random face. Returns (image uint8 (S, S, 3) RGB, landmarks float32 (68, 2) (x, y)).

    Keyword arguments switch variations off (for tests and demos): `max_rotation`, `max_yaw`,
    `max_pitch` (degrees; 0 = none), `face_size` (range of the landmark box's larger side as a
    fraction of S), `offset` (random placement), `shape_variation` (False = the mean face),
    `expression`, `asymmetry` (per-point jitter), `occlusion` (occluding patches), `degrade`
    (lighting gradient, colour gain, blur and noise).
    """
    S = int(image_size)
    if S < 32:
        raise ValueError(f"render_synthetic_face: image_size must be >= 32, got {image_size}")

    rand = Sampler(rng, shape_variation)
    P3, aux = sample_face(rand, expression, asymmetry)
    v = _pose(rand, P3, aux, S, max_yaw, max_pitch, max_rotation, face_size, offset)
    c = _colours(rand)

    img = _background(rand, S)
    hair_style = _hair_style(rand)
    _draw_back_hair(img, rand, v, c, hair_style)
    _draw_neck_and_body(img, rand, v, c)
    _draw_ears(img, rand, v, c)
    _draw_head(img, rand, v, c)
    _draw_hair(img, rand, v, c, hair_style)
    _draw_brows(img, rand, v, c)
    _draw_eyes(img, rand, v, c)
    _draw_nose(img, v, c)
    _draw_mouth(img, rand, v, c)
    _draw_glasses(img, rand, v)
    if occlusion:
        _draw_occluders(img, rand, v, c)
    if degrade:
        img = _degrade(img, rand, v, c)

    L = v.L.astype(np.float32)
    np.clip(L, 0.0, S - 1.0, out=L)
    return np.ascontiguousarray(img), L
