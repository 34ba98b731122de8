"""Procedural synthetic faces with 68 iBUG landmarks: the built-in dataset that needs no download.

Each sample is drawn with OpenCV from a random parametric 3-D face, deterministically from a
numpy Generator; ``SyntheticFaces`` seeds it from ``(seed, split, index)``, so a sample depends on
nothing else (any data-loader worker reproduces it) and the "train", "val" and "test" splits never
share a sample.

Coordinates follow docs/design.md: (x, y) image pixels, pixel centres at integer coordinates. The 68
points are in iBUG order (0-based): jaw 0-16 (image left to right, i.e. from the subject's right
ear over the chin), brows 17-21 / 22-26, nose bridge 27-30 (30 = tip), nose bottom 31-35, eyes
36-41 / 42-47 (36 = outer corner of the eye on the image left, the subject's right eye), outer lips
48-59, inner lips 60-67.

How a face is made
------------------
1. **Shape** (canonical units: the jaw spans x = -1..1; x right, y down, z towards the camera).
   A mean face with human proportions is built from parameters, each drawn uniformly:
   face width x0.88-1.12, lower-face height x0.90-1.12, upper-face height x0.95-1.06; jaw contour a
   half super-ellipse with exponent 1.7-3.2 (pointed to square chin), its 17 points spaced
   equally by arc length; eye width 0.38-0.48, eye spacing (inner corners) +-0.24-0.33,
   eye opening 0.26-0.42 of the eye width (7% of faces half-close them: x0.25-0.9), canthal
   tilt -0.02..0.045;
   brow gap above the eyes 0.24-0.36, arch 0.03-0.11, thickness 0.05-0.11; nose length (tip at
   y 0.06-0.22), nose width +-0.16-0.26, nose depth 0.42-0.65; mouth half-width 0.32-0.46,
   lip thicknesses 0.055-0.10 (upper) / 0.075-0.135 (lower); plus a small per-point asymmetry
   (Gaussian, sigma 0.012, 0.006 on the eyes; closed lips stay closed). Every point has a depth,
   so rotations foreshorten it like a 3-D head.
2. **Expression**: mouth open (40% of faces, gap 0.03-0.40, the lower lip, chin and lower jaw
   drop, the mouth narrows), smile/frown (corners up to 0.10 up or 0.04 down), brows raised
   (35%, 0.04-0.16, inner ends more) or knitted (10%, inner ends down 0.02-0.06).
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
the lip contours, so a model has to find the features to beat the mean shape (pose, scale and
expression make the mean shape a poor predictor).

Difficulty: on bounding-box crops (as training/data/transforms.py makes them) predicting the
training set's mean shape gives an inter-ocular NME of about 0.18.

Speed: about 4 ms per 256x256 image and 3.3 ms per 160x160 image on one CPU core.

``render_synthetic_face(rng, image_size, max_rotation=..., max_yaw=..., ...)`` takes keyword
arguments to switch variations off (e.g. ``max_rotation=0, max_yaw=0, max_pitch=0,
asymmetry=False, offset=False`` gives an upright, frontal, symmetric face), used by the tests.
"""
from typing import Dict, Optional, Tuple

import cv2
import numpy as np
import torch

__all__ = ["SyntheticFaces", "render_synthetic_face", "SPLITS"]

SPLITS = {"train": 0, "val": 1, "test": 2}
_SHIFT = 4                      # cv2 fixed-point bits: coordinates are drawn with 1/16 px precision
_ONE = float(1 << _SHIFT)
_AA = cv2.LINE_AA


# --------------------------------------------------------------------------------------------
# small geometry helpers
# --------------------------------------------------------------------------------------------
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


_CIRCLES: Dict[int, np.ndarray] = {}


def _ellipse_pts(cx, cy, rx, ry, n=16, z=0.0):
    """(n, 3) points of an axis-aligned ellipse (in the plane at depth z)."""
    c = _CIRCLES.get(n)
    if c is None:
        a = np.linspace(0, 2 * np.pi, n, endpoint=False)
        c = _CIRCLES[n] = np.stack([np.cos(a), np.sin(a), np.zeros(n)], axis=1)
    return c * (rx, ry, 0.0) + (cx, cy, z)


def _col(c) -> Tuple[float, float, float]:
    a, b, d = c
    return (min(max(float(a), 0.0), 255.0), min(max(float(b), 0.0), 255.0), min(max(float(d), 0.0), 255.0))


_NOISE_BANK: Optional[np.ndarray] = None


def _noise_bank() -> np.ndarray:
    """A fixed 512x512x3 standard-normal float32 texture (same in every process)."""
    global _NOISE_BANK
    if _NOISE_BANK is None:
        _NOISE_BANK = np.random.default_rng(20190407).standard_normal((512, 512, 3)).astype(np.float32)
    return _NOISE_BANK


def _noise_patch(rng, h: int, w: int) -> np.ndarray:
    bank = _noise_bank()
    if h > bank.shape[0] or w > bank.shape[1]:
        bank = np.tile(bank, (h // bank.shape[0] + 1, w // bank.shape[1] + 1, 1))
    y = int(rng.integers(0, bank.shape[0] - h + 1))
    x = int(rng.integers(0, bank.shape[1] - w + 1))
    return bank[y:y + h, x:x + w]


# --------------------------------------------------------------------------------------------
# palettes (RGB)
# --------------------------------------------------------------------------------------------
_SKIN_LIGHT = np.array([238.0, 206.0, 182.0])
_SKIN_DARK = np.array([92.0, 58.0, 40.0])
_HAIR = np.array([[20, 16, 14], [45, 30, 20], [70, 45, 28], [100, 66, 38], [140, 98, 56], [190, 150, 95],
                  [215, 185, 130], [150, 60, 30], [120, 120, 120], [200, 200, 200], [35, 35, 45],
                  [90, 60, 50]], dtype=np.float64)
_IRIS = np.array([[70, 45, 25], [100, 65, 35], [40, 28, 20], [70, 110, 160], [90, 130, 110],
                  [110, 115, 120], [130, 95, 50]], dtype=np.float64)


# --------------------------------------------------------------------------------------------
# the parametric 3-D face
# --------------------------------------------------------------------------------------------
class _Uniforms:
    """Scalar uniform draws served from one vectorised rng.random call (much cheaper per draw)."""
    __slots__ = ("rng", "buf", "i")

    def __init__(self, rng: np.random.Generator, n: int = 96):
        self.rng, self.buf, self.i = rng, rng.random(n).tolist(), 0

    def __call__(self, lo: float, hi: float) -> float:
        if self.i == len(self.buf):
            self.buf, self.i = self.rng.random(len(self.buf)).tolist(), 0
        v = self.buf[self.i]
        self.i += 1
        return lo + (hi - lo) * v


def _face_model(rng: np.random.Generator, uni: _Uniforms, shape_variation: bool, expression: bool,
                asymmetry: bool):
    """68 landmarks (68, 3) and auxiliary 3-D geometry in canonical units, plus the parameters."""
    sv = shape_variation
    _u = uni

    def u(lo, hi, mid=None):
        if sv:
            return uni(lo, hi)
        return (lo + hi) / 2 if mid is None else mid

    fw = u(0.88, 1.12, 1.0)          # face width
    fh = u(0.90, 1.12, 1.0)          # lower face height
    fu = u(0.95, 1.06, 1.0)          # upper face height
    jaw_n = u(1.7, 3.2, 2.3)         # jaw super-ellipse exponent
    jaw_top = u(-0.36, -0.22, -0.30)
    chin_y = u(1.08, 1.22, 1.15)

    eye_w = u(0.38, 0.48, 0.43)
    eye_in = u(0.24, 0.33, 0.28)     # x of the inner corners (magnitude)
    eye_y = u(-0.40, -0.30, -0.35)
    eye_open = u(0.26, 0.42, 0.34)
    tilt = u(-0.02, 0.045, 0.015)
    brow_gap = u(0.24, 0.36, 0.30)
    brow_arch = u(0.03, 0.11, 0.07)
    brow_th = u(0.05, 0.11, 0.08)
    brow_out = u(0.06, 0.16, 0.11)
    nose_tip = u(0.06, 0.22, 0.14)
    nose_w = u(0.16, 0.26, 0.21)
    nose_z = u(0.42, 0.65, 0.55)
    nose_bot = u(0.07, 0.13, 0.10)
    mouth_w = u(0.32, 0.46, 0.39)
    mouth_gap = u(0.26, 0.36, 0.31)  # nose bottom to lip line
    up_lip = u(0.055, 0.10, 0.08)
    lo_lip = u(0.075, 0.135, 0.10)

    mouth_open = smile = brow_raise = brow_knit = 0.0
    if expression:
        if _u(0.0, 1.0) < 0.40:
            mouth_open = _u(0.03, 0.40)
        smile = _u(-0.04, 0.10)
        r = _u(0.0, 1.0)
        if r < 0.35:
            brow_raise = _u(0.04, 0.16)
        elif r < 0.45:
            brow_knit = _u(0.02, 0.06)
        if _u(0.0, 1.0) < 0.07:
            eye_open *= _u(0.25, 0.9) if sv else 0.5

    P = np.zeros((68, 3))
    # --- jaw: half super-ellipse from (-1, jaw_top) over the chin, equal arc length ---
    phi = np.linspace(0.0, np.pi, 121)
    c, s = np.cos(phi), np.sin(phi)
    e = 2.0 / jaw_n
    jx = -np.sign(c) * np.abs(c) ** e
    jy = jaw_top + (chin_y - jaw_top) * np.abs(s) ** e
    seg = np.hypot(np.diff(jx), np.diff(jy))
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0.0, arc[-1], 17)
    P[0:17, 0] = np.interp(t, arc, jx)
    P[0:17, 1] = np.interp(t, arc, jy)
    yf = (P[0:17, 1] - jaw_top) / (chin_y - jaw_top)
    P[0:17, 2] = -0.38 * (1 - yf) + 0.18 * yf ** 2
    P[0:17, 1] += 0.85 * mouth_open * yf ** 2           # the jaw drops with the mouth

    # --- eyes: 36 outer, 37-38 upper lid, 39 inner, 40-41 lower lid (left eye = image left) ---
    xo, xi = -(eye_in + eye_w), -eye_in
    eh = eye_w * eye_open
    hu, hl = 0.58 * eh, 0.42 * eh
    lx = np.array([xo, xo + (xi - xo) / 3, xo + 2 * (xi - xo) / 3, xi, xo + 2 * (xi - xo) / 3, xo + (xi - xo) / 3])
    ly = np.array([eye_y - tilt, eye_y - hu - 0.6 * tilt, eye_y - 0.95 * hu - 0.25 * tilt, eye_y,
                   eye_y + 0.95 * hl - 0.25 * tilt, eye_y + hl - 0.6 * tilt])
    lz = np.array([-0.16, -0.04, 0.0, -0.02, -0.02, -0.06])
    P[36:42] = np.stack([lx, ly, lz], axis=1)
    P[42:48] = P[[39, 38, 37, 36, 41, 40]] * [-1, 1, 1]

    # --- brows: 17 outer .. 21 inner ---
    bx = np.linspace(xo - brow_out, xi + 0.04, 5)
    prof = np.array([0.15, 0.75, 1.0, 0.85, 0.55])
    by = eye_y - brow_gap - brow_arch * prof
    by -= brow_raise * np.array([0.55, 0.75, 0.9, 1.0, 1.0])
    by += brow_knit * np.array([0.0, 0.1, 0.35, 0.7, 1.0])
    bx += brow_knit * np.array([0.0, 0.05, 0.15, 0.3, 0.5]) * 0.5
    P[17:22] = np.stack([bx, by, np.array([-0.18, -0.04, 0.04, 0.09, 0.11])], axis=1)
    P[22:27] = P[[21, 20, 19, 18, 17]] * [-1, 1, 1]

    # --- nose: 27-30 bridge (30 tip), 31-35 bottom ---
    y27 = eye_y - 0.03
    tb = np.array([0.0, 1 / 3, 2 / 3, 1.0])
    P[27:31, 1] = y27 + (nose_tip - y27) * tb
    P[27:31, 2] = 0.16 + (nose_z - 0.16) * tb ** 0.8
    yb = nose_tip + nose_bot
    P[31:36] = [[-nose_w, yb - 0.035, nose_z - 0.40], [-0.5 * nose_w, yb + 0.005, nose_z - 0.26],
                [0.0, yb + 0.012, nose_z - 0.20], [0.5 * nose_w, yb + 0.005, nose_z - 0.26],
                [nose_w, yb - 0.035, nose_z - 0.40]]

    # --- mouth: 48-59 outer, 60-67 inner ---
    ym = yb + mouth_gap
    mw = mouth_w * (1 - 0.25 * mouth_open)
    o = mouth_open
    ou = 0.12 * o                                      # the upper lip lifts a little
    ys = smile
    outer = [[-mw, ym - ys + 0.1 * o],
             [-0.6 * mw, ym - 0.85 * up_lip - 0.45 * ys - ou], [-0.22 * mw, ym - 1.08 * up_lip - 0.1 * ys - ou],
             [0.0, ym - 0.95 * up_lip - ou], [0.22 * mw, ym - 1.08 * up_lip - 0.1 * ys - ou],
             [0.6 * mw, ym - 0.85 * up_lip - 0.45 * ys - ou], [mw, ym - ys + 0.1 * o],
             [0.6 * mw, ym + 0.78 * lo_lip - 0.45 * ys + 0.8 * o], [0.25 * mw, ym + 0.98 * lo_lip - 0.1 * ys + o],
             [0.0, ym + lo_lip + o], [-0.25 * mw, ym + 0.98 * lo_lip - 0.1 * ys + o],
             [-0.6 * mw, ym + 0.78 * lo_lip - 0.45 * ys + 0.8 * o]]
    wi = 0.86 * mw
    inner = [[-wi, ym - 0.9 * ys + 0.1 * o], [-0.45 * mw, ym - 0.5 * ys - 0.9 * ou - 0.004],
             [0.0, ym - ou - 0.006], [0.45 * mw, ym - 0.5 * ys - 0.9 * ou - 0.004],
             [wi, ym - 0.9 * ys + 0.1 * o], [0.45 * mw, ym - 0.5 * ys + 0.85 * o + 0.004],
             [0.0, ym + o + 0.006], [-0.45 * mw, ym - 0.5 * ys + 0.85 * o + 0.004]]
    P[48:60, :2] = outer
    P[60:68, :2] = inner
    P[48:68, 2] = 0.32 - 0.30 * (np.abs(P[48:68, 0]) / mouth_w) ** 2

    # --- auxiliary geometry ---
    aux = {}
    psi = np.linspace(0.0, np.pi, 11)[1:-1]             # skull arc (between the jaw's ends)
    sk_h = u(1.15, 1.40, 1.28)
    aux["skull"] = np.stack([np.cos(psi) * 1.0, jaw_top - sk_h * np.sin(psi),
                             -0.38 - 0.25 * np.sin(psi)], axis=1)          # right -> left
    eye_c = P[36:42].mean(axis=0)
    gaze = np.array([_u(-0.09, 0.09), _u(-0.025, 0.02)]) * (eye_w if sv else 0.0)
    iris_r = eye_w * u(0.19, 0.23, 0.21)
    aux["iris_l"] = _ellipse_pts(eye_c[0] + gaze[0], eye_c[1] + gaze[1] + 0.1 * eh, iris_r, iris_r, 14, 0.04)
    aux["iris_r"] = _ellipse_pts(-eye_c[0] + gaze[0], eye_c[1] + gaze[1] + 0.1 * eh, iris_r, iris_r, 14, 0.04)
    aux["pupil_l"] = _ellipse_pts(eye_c[0] + gaze[0], eye_c[1] + gaze[1] + 0.1 * eh, 0.42 * iris_r,
                                  0.42 * iris_r, 10, 0.05)
    aux["pupil_r"] = _ellipse_pts(-eye_c[0] + gaze[0], eye_c[1] + gaze[1] + 0.1 * eh, 0.42 * iris_r,
                                  0.42 * iris_r, 10, 0.05)
    ear_y = (eye_y + nose_tip) / 2
    aux["ear_l"] = _ellipse_pts(-0.97, ear_y, 0.13, 0.30, 12, -0.55)
    aux["ear_r"] = _ellipse_pts(0.97, ear_y, 0.13, 0.30, 12, -0.55)
    nw = u(0.48, 0.66, 0.56)
    aux["neck"] = np.array([[-nw, 0.2, -0.45], [-nw * 1.08, 2.6, -0.5], [nw * 1.08, 2.6, -0.5], [nw, 0.2, -0.45]])
    cy = 1.55 + 0.2 * fh
    aux["body"] = np.array([[-3.4, 5.0, -0.6], [-3.1, cy + 0.75, -0.6], [-1.7, cy + 0.05, -0.6], [-nw * 1.1, cy, -0.5],
                            [0.0, cy + u(0.05, 0.45, 0.2), -0.3], [nw * 1.1, cy, -0.5], [1.7, cy + 0.05, -0.6],
                            [3.1, cy + 0.75, -0.6], [3.4, 5.0, -0.6]])
    # hairline (left -> right) and hair outline
    hx = np.linspace(-0.97, 0.97, 9)
    h_c = jaw_top - u(0.72, 0.95, 0.82) * sk_h
    h_t = u(-0.70, -0.42, -0.55)
    aux["hairline"] = np.stack([hx, h_c + (h_t - h_c) * (np.abs(hx) / 0.97) ** 3.5,
                                -0.25 + 0.3 * (1 - np.abs(hx))], axis=1)
    aux["brow_top"] = float(P[17:27, 1].min())
    aux["sk_h"], aux["jaw_top"] = sk_h, jaw_top
    aux["eye_ctr"] = eye_c

    if asymmetry:                       # small per-point jitter; the lips stay closed when closed
        jit = rng.normal(0.0, 0.012, size=(68, 2))
        jit[36:48] *= 0.5
        jit[[65, 66, 67]] = jit[[63, 62, 61]]
        P[:, :2] += jit

    # global shape warp: widths and heights of the face
    def warp(q):
        q = np.array(q, dtype=np.float64, copy=True)
        q[..., 0] *= fw
        q[..., 1] = np.where(q[..., 1] > 0, q[..., 1] * fh, q[..., 1] * fu)
        return q

    P = warp(P)
    for k, v in list(aux.items()):
        if isinstance(v, np.ndarray) and v.ndim == 2 and v.shape[1] == 3:
            aux[k] = warp(v)
    aux["brow_top"] *= fu
    aux["brow_th"] = brow_th
    aux["mouth_open"] = mouth_open
    aux["eye_h"] = eh
    return P, aux


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


# --------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------
def _background(rng, _u: _Uniforms, S: int) -> np.ndarray:
    corners = rng.uniform(0, 255, size=(2, 2, 3))
    if _u(0.0, 1.0) < 0.5:                                   # muted backgrounds are common
        corners = corners * 0.5 + _u(40, 200) * 0.5
    img = cv2.resize(corners.astype(np.uint8), (S, S), interpolation=cv2.INTER_LINEAR)
    for _ in range(int(_u(3, 13))):
        color = _col(rng.uniform(0, 255, 3))
        kind = int(_u(0, 5))
        cx, cy = rng.uniform(-0.1, 1.1, 2) * S
        r = _u(0.03, 0.35) * S
        if kind == 0:
            _fill(img, _ellipse_pts(cx, cy, r, r * _u(0.3, 1.0), 20)[:, :2], color)
        elif kind == 1:
            a = _u(0, np.pi)
            w, h = r, r * _u(0.2, 1.5)
            c, s = np.cos(a), np.sin(a)
            q = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) @ np.array([[c, s], [-s, c]]) + [cx, cy]
            _fill(img, q, color)
        elif kind == 2:
            q = np.array([[cx, cy], rng.uniform(-0.1, 1.1, 2) * S])
            _line(img, q, color, _u(1, 0.03 * S))
        elif kind == 3:
            q = rng.normal(0, r, size=(int(_u(3, 7)), 2)) + [cx, cy]
            _fill(img, q, color)
        else:                                                # stripes
            a = _u(0, np.pi)
            d = np.array([np.cos(a), np.sin(a)]) * 2 * S
            step = _u(0.03, 0.12) * S
            nrm = np.array([-np.sin(a), np.cos(a)])
            for j in range(int(_u(2, 6))):
                o = np.array([cx, cy]) + nrm * step * j
                _line(img, np.array([o - d, o + d]), color, max(1.0, step * 0.35))
    return img


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

    _u = _Uniforms(rng)
    P3, aux = _face_model(rng, _u, shape_variation, expression, asymmetry)
    yaw = np.deg2rad(_u(-max_yaw, max_yaw)) if max_yaw else 0.0
    pitch = np.deg2rad(_u(-max_pitch, max_pitch)) if max_pitch else 0.0
    roll = np.deg2rad(_u(-max_rotation, max_rotation)) if max_rotation else 0.0
    R = _rotation(yaw, pitch, roll)
    q = P3 @ R.T
    lo, hi = q[:, :2].min(axis=0), q[:, :2].max(axis=0)
    side = float(max(hi - lo))
    frac = _u(*face_size) if face_size[1] > face_size[0] else float(face_size[0])
    scale = frac * S / side
    box = (hi - lo) * scale
    margin = 2.0
    centre = np.full(2, (S - 1) / 2.0)
    if offset:
        centre = centre + rng.uniform(-0.1, 0.1, size=2) * S
    half = box / 2
    centre = np.clip(centre, margin + half, S - 1 - margin - half)
    shift = centre - (lo + hi) / 2 * scale

    def proj(p3):
        return (np.asarray(p3) @ R.T)[..., :2] * scale + shift

    L = proj(P3)
    unit = scale                        # pixels per canonical unit

    # ---------------- colours ----------------
    tone = rng.beta(1.6, 1.6)
    skin = _SKIN_LIGHT * (1 - tone) + _SKIN_DARK * tone
    skin = skin * rng.uniform(0.93, 1.07, 3) + _u(-8, 8)
    skin = np.clip(skin, 30, 250)
    hair_c = _HAIR[int(_u(0, len(_HAIR)))] * _u(0.8, 1.2)
    brow_c = np.minimum(hair_c, skin * 0.55) * _u(0.6, 1.0) if _u(0.0, 1.0) < 0.8 else skin * 0.4
    brow_c = np.minimum(brow_c, skin * _u(0.45, 0.7))
    lip_c = skin * np.array([0.86, 0.58, 0.58]) * _u(0.85, 1.05) + np.array([_u(5, 40), 0, 5])
    iris_c = _IRIS[int(_u(0, len(_IRIS)))] * _u(0.8, 1.2)
    light_a = _u(0, 2 * np.pi)
    light_k = _u(0.0, 0.45)
    light_dir = np.array([np.cos(light_a), np.sin(light_a)])
    shadow_side = -1.0 if np.cos(light_a) > 0 else 1.0      # image-x side of the nose in shadow

    img = _background(rng, _u, S)

    # ---------------- body, hair (back), neck, ears ----------------
    # hair: 0 none (12%), 1 short (45%), 2 long (30%), 3 short with a fringe (13%)
    hair_style = int(np.searchsorted([0.12, 0.57, 0.87], _u(0.0, 1.0), side="right"))
    sk = aux["skull"]
    if hair_style == 2:
        yl = _u(0.6, 2.4)
        back = np.concatenate([[[1.25, yl, -0.6]], [[1.15, aux["jaw_top"], -0.5]],
                               sk * [1.16, 1.0, 1.0] + [0, -0.12, 0],
                               [[-1.15, aux["jaw_top"], -0.5]], [[-1.25, yl, -0.6]]])
        _fill(img, _spline(proj(back), 4), _col(hair_c * 0.8))
    body_c = rng.uniform(0, 255, 3)
    neck = proj(aux["neck"])
    _fill(img, neck, _col(skin * _u(0.55, 0.8)))
    _fill(img, _spline(proj(aux["body"]), 4), _col(body_c))
    ear_c = _col(skin * _u(0.8, 0.95))
    for key in ("ear_l", "ear_r"):
        e = proj(aux[key])
        _fill(img, e, ear_c)
        _line(img, _spline(e[[1, 3, 5, 7, 9]], 4), _col(skin * 0.6), 0.02 * unit)

    # ---------------- head skin (soft-shaded layer) ----------------
    head3 = np.concatenate([P3[0:17], aux["skull"]])
    head = _spline(proj(head3), 6, closed=True)
    lo_h = np.maximum(np.floor(head.min(axis=0)).astype(int) - 1, 0)
    hi_h = np.minimum(np.ceil(head.max(axis=0)).astype(int) + 2, S)
    x0, y0 = int(lo_h[0]), int(lo_h[1])
    w, h = int(hi_h[0]) - x0, int(hi_h[1]) - y0
    if w > 2 and h > 2:
        f = 4 if unit > 40 else 2                   # the soft layer is drawn at 1/f resolution
        sw, sh = w // f + 2, h // f + 2
        off = np.array([x0, y0], np.float64)
        soft = np.empty((sh, sw, 3), np.uint8)
        rim = _u(0.72, 0.88)
        soft[:] = _col(skin * rim)

        def sp(p):            # image -> soft-layer pixels (cv2.resize's pixel-centre mapping)
            return (p - off + 0.5) / f - 0.5

        centre_f = L[[27, 28, 29, 30, 33, 8, 21, 22]].mean(axis=0)
        inner = centre_f + (head - centre_f) * np.array([0.86, 0.90])
        _fill(soft, sp(inner), _col(skin))
        # lit side highlight and shadow side
        lit = centre_f + light_dir * 0.45 * unit
        _fill(soft, sp(_ellipse_pts(lit[0], lit[1], 0.55 * unit, 0.75 * unit, 16)[:, :2]),
              _col(skin * (1.0 + 0.5 * light_k)))
        # eye sockets
        for a in (36, 42):
            ec = P3[a:a + 6].mean(axis=0)
            _fill(soft, sp(proj(_ellipse_pts(ec[0], ec[1] - 0.03, 0.30, 0.17, 12, ec[2]))), _col(skin * 0.86))
        # nose: shadow beside the bridge, highlight on it, shadow under it
        nrm = L[30] - L[27]
        nrm = np.array([-nrm[1], nrm[0]]) / (np.hypot(*nrm) + 1e-6)
        if nrm[0] * shadow_side < 0:
            nrm = -nrm
        _line(soft, sp(L[27:31] + nrm * 0.09 * unit), _col(skin * 0.76), 0.07 * unit / f)
        _line(soft, sp(L[28:31]), _col(skin * 1.12), 0.05 * unit / f)
        _fill(soft, sp(np.concatenate([L[31:36], L[[35, 33, 31]] + [0, 0.05 * unit]])), _col(skin * 0.75))
        # under the lower lip, philtrum
        _line(soft, sp(L[[56, 57, 58]] + [0, 0.05 * unit]), _col(skin * 0.8), 0.06 * unit / f)
        soft = cv2.GaussianBlur(soft, (0, 0), max(0.6, 0.05 * unit / f))
        soft = cv2.resize(soft, (sw * f, sh * f), interpolation=cv2.INTER_LINEAR)[:h, :w]
        mask = np.zeros((h, w), np.uint8)
        _fill(mask, head, 255, off)
        roi = img[y0:y0 + h, x0:x0 + w]
        roi[:] = _blend(soft, roi, mask)

    # ---------------- hair (front) ----------------
    if hair_style in (1, 2, 3):
        hl3 = aux["hairline"].copy()
        if hair_style == 3:                          # fringe down towards the brows
            low = aux["brow_top"] - _u(0.04, 0.2)
            hl3[:, 1] = np.maximum(hl3[:, 1], np.minimum(low, hl3[:, 1] + 0.5 * (1 - np.abs(hl3[:, 0]))))
        vol = _u(1.08, 1.2)
        outer = sk * [vol, 1.0, 1.0] + [0, -0.12 * vol, 0]
        side_y = aux["jaw_top"] - 0.1 if hair_style != 2 else aux["jaw_top"] + 0.2
        poly3 = np.concatenate([[[1.1, side_y, -0.45]], outer, [[-1.1, side_y, -0.45]], hl3])
        hair_pts = _spline(proj(poly3), 4, closed=True)
        _fill(img, hair_pts, _col(hair_c))
        # a few strands from the crown to the hairline (outer runs right -> left, the hairline left -> right)
        js = rng.integers(1, len(outer) - 1, size=5)
        strands = [_spline(proj(np.stack([outer[j] * 0.9 + [0, 0.1, 0], (outer[j] + hl3[8 - j]) / 2,
                                          hl3[8 - j] + [0, -0.03, 0]])), 4) for j in js]
        _line(img, strands, _col(hair_c * _u(0.6, 1.4)), 0.015 * unit)

    # ---------------- brows ----------------
    th = aux["brow_th"]
    for a in (17, 22):
        b3 = P3[a:a + 5]
        taper = np.linspace(0.55, 1.0, 5) if a == 17 else np.linspace(1.0, 0.55, 5)
        up = b3 - np.stack([np.zeros(5), 0.25 * th * taper, np.zeros(5)], axis=1)
        dn = b3 + np.stack([np.zeros(5), 0.75 * th * taper, np.zeros(5)], axis=1)
        poly = np.concatenate([_spline(proj(up), 4), _spline(proj(dn[::-1]), 4)])
        _fill(img, poly, _col(brow_c))
        ks = rng.uniform(0, 4, size=3)
        i0 = np.minimum(ks, 3).astype(int)
        base = b3[i0] + (b3[i0 + 1] - b3[i0]) * (ks - i0)[:, None]
        tip_dx = 0.03 * (1 if a == 17 else -1)
        hairs = proj(np.stack([base + [0, 0.7 * th, 0], base + [tip_dx, -0.25 * th, 0]], axis=1))
        _line(img, list(hairs), _col(brow_c * 0.7), 0.012 * unit)

    # ---------------- eyes ----------------
    sclera = np.array([232.0, 226.0, 220.0]) * _u(0.82, 1.0)
    lid_c = np.minimum(brow_c, skin * 0.35) * 0.8
    for a, iris_k, pupil_k in ((36, "iris_l", "pupil_l"), (42, "iris_r", "pupil_r")):
        e = L[a:a + 6]
        upper = _spline(e[[0, 1, 2, 3]], 5)
        lower = _spline(e[[3, 4, 5, 0]], 5)
        eye_poly = np.concatenate([upper, lower[1:-1]])
        _fill(img, eye_poly, _col(sclera))
        iris = proj(aux[iris_k])
        pupil = proj(aux[pupil_k])
        glint = pupil.mean(axis=0) + np.array([0.3, -0.3]) * 0.05 * unit

        def draw_iris(patch, off, iris=iris, pupil=pupil, glint=glint):
            _fill(patch, iris, _col(iris_c), off)
            _line(patch, iris, _col(iris_c * 0.5), 0.012 * unit, closed=True, offset=off)
            _fill(patch, pupil, (10, 10, 10), off)
            g = _ellipse_pts(glint[0], glint[1], 0.018 * unit, 0.018 * unit, 8)[:, :2]
            _fill(patch, g, (250, 250, 250), off)

        if aux["eye_h"] * unit > 1.5:
            _clipped(img, eye_poly, draw_iris)
        _line(img, upper, _col(lid_c), max(1.0, 0.035 * unit))
        _line(img, lower, _col(skin * 0.55), max(1.0, 0.014 * unit))
        crease = upper[2:-2] + (upper[2:-2] - L[a:a + 6].mean(axis=0)) * 0.35 + np.array([0, -0.03 * unit])
        _line(img, crease, _col(skin * 0.72), max(1.0, 0.012 * unit))

    # ---------------- nose ----------------
    nose_dark = _col(skin * 0.45)
    for side, (p_out, p_in) in ((-1, (31, 32)), (1, (35, 34))):
        ala = np.stack([L[p_out] + (L[p_out] - L[33]) * 0.15 + (L[30] - L[33]) * 0.9,
                        L[p_out] + (L[p_out] - L[33]) * 0.25 + (L[30] - L[33]) * 0.4, L[p_out]])
        _line(img, _spline(ala, 4), _col(skin * 0.62), max(1.0, 0.02 * unit))
        nc = (L[p_out] + L[p_in]) / 2 + (L[30] - L[33]) * 0.22
        ax = (L[p_in] - L[p_out]) * 0.55
        ay = (L[30] - L[33]) * 0.22
        t_ = np.linspace(0, 2 * np.pi, 10, endpoint=False)[:, None]
        _fill(img, nc + np.cos(t_) * ax + np.sin(t_) * ay, _col(skin * 0.3))
    _line(img, _spline(L[31:36], 4), nose_dark, max(1.0, 0.018 * unit))
    tip = P3[30]
    _fill(img, proj(_ellipse_pts(tip[0], tip[1], 0.035, 0.03, 10, tip[2])), _col(skin * 1.12 + 8))

    # ---------------- mouth ----------------
    up_out = _spline(L[48:55], 4)
    up_in = _spline(L[60:65], 4)
    lo_out = _spline(L[[54, 55, 56, 57, 58, 59, 48]], 4)
    lo_in = _spline(L[[64, 65, 66, 67, 60]], 4)
    if aux["mouth_open"] > 0.015:
        interior = np.concatenate([up_in, lo_in[1:-1]])
        teeth = _u(0.0, 1.0) < 0.65
        tooth_h = min(0.07, aux["mouth_open"] * 0.5) * unit
        down = (L[66] - L[62]) / (np.hypot(*(L[66] - L[62])) + 1e-6)

        def draw_mouth(patch, off):
            _fill(patch, interior, (40, 12, 14), off)
            if teeth:
                _fill(patch, np.concatenate([up_in, (up_in + down * tooth_h)[::-1]]), (235, 232, 220), off)

        _clipped(img, interior, draw_mouth)
    _fill(img, np.concatenate([up_out, up_in[::-1]]), _col(lip_c))
    _fill(img, np.concatenate([lo_out, lo_in[::-1]]), _col(lip_c * 1.1 + 6))
    _line(img, up_in, _col(lip_c * 0.45), max(1.0, 0.016 * unit))
    if aux["mouth_open"] <= 0.015:
        _line(img, up_in, _col(lip_c * 0.35), max(1.0, 0.02 * unit))

    # ---------------- glasses ----------------
    if _u(0.0, 1.0) < 0.08:
        gc = _col(rng.uniform(0, 120, 3))
        for a in (36, 42):
            ec = P3[a:a + 6].mean(axis=0)
            ring = proj(_ellipse_pts(ec[0], ec[1] + 0.02, 0.30, 0.2, 16, ec[2] + 0.12))
            _line(img, ring, gc, max(1.0, 0.02 * unit), closed=True)
        bridge = proj(np.array([[P3[39, 0] - 0.02, P3[39, 1] - 0.03, 0.2], [0, P3[27, 1] - 0.02, 0.3],
                                [P3[42, 0] + 0.02, P3[42, 1] - 0.03, 0.2]]))
        _line(img, bridge, gc, max(1.0, 0.02 * unit))

    # ---------------- occluders ----------------
    lo_l, hi_l = L.min(axis=0), L.max(axis=0)
    box_area = float(np.prod(hi_l - lo_l))
    if occlusion and _u(0.0, 1.0) < 0.35:
        for _ in range(int(_u(1, 3))):
            area = _u(0.03, 0.20) * box_area
            asp = np.exp(_u(np.log(0.4), np.log(2.5)))
            ow, oh = np.sqrt(area * asp), np.sqrt(area / asp)
            oc = lo_l + rng.uniform(0, 1, 2) * (hi_l - lo_l)
            ang = _u(0, np.pi)
            c_, s_ = np.cos(ang), np.sin(ang)
            rot = np.array([[c_, s_], [-s_, c_]])
            kind = int(_u(0, 3))
            if kind == 0:
                shape = np.array([[-ow, -oh], [ow, -oh], [ow, oh], [-ow, oh]]) / 2 @ rot + oc
            else:
                shape = _ellipse_pts(0, 0, ow / np.sqrt(np.pi), oh / np.sqrt(np.pi), 16)[:, :2] @ rot + oc
            style = int(_u(0, 3))
            if style == 0:
                _fill(img, shape, _col(rng.uniform(0, 255, 3)))
            elif style == 1:
                base = rng.uniform(30, 220, 3)
                amp = _u(20, 70)

                def draw_tex(patch, off, base=base, amp=amp):
                    nz = _noise_patch(rng, patch.shape[0], patch.shape[1])
                    patch[:] = np.clip(base + amp * nz, 0, 255).astype(np.uint8)

                _clipped(img, shape, draw_tex)
            else:                                     # skin-coloured blob ("hand")
                _fill(img, shape, _col(skin * _u(0.8, 1.15)))
                _line(img, shape, _col(skin * 0.6), max(1.0, 0.015 * unit), closed=True)

    # ---------------- lighting, colour, blur, noise ----------------
    if degrade:
        k = light_k / max(unit * 1.0, 1.0)
        xs = (np.arange(S, dtype=np.float32) - centre[0]) * np.float32(k * light_dir[0])
        ys = (np.arange(S, dtype=np.float32) - centre[1]) * np.float32(k * light_dir[1])
        field = np.clip(1.0 + ys[:, None] + xs[None, :], 0.35, 1.6)
        gain = rng.uniform(0.9, 1.1, 3) * _u(0.8, 1.15)
        field3 = cv2.merge([field * np.float32(g) for g in gain])
        if _u(0.0, 1.0) < 0.6:
            img = cv2.GaussianBlur(img, (0, 0), _u(0.3, 1.4) * S / 256)
        out = cv2.multiply(img, field3, dtype=cv2.CV_32F)
        sigma_n = _u(0.0, 9.0)
        out = cv2.scaleAdd(_noise_patch(rng, S, S), sigma_n, out)
        img = np.clip(out, 0, 255).astype(np.uint8)

    L = L.astype(np.float32)
    np.clip(L, 0.0, S - 1.0, out=L)
    return np.ascontiguousarray(img), L


class SyntheticFaces(torch.utils.data.Dataset):
    """`num_samples` procedural faces (see the module docstring); sample i of a split is drawn
    from ``np.random.default_rng([seed, split_id, i])`` (train 0, val 1, test 2), so it depends
    only on (seed, split, i, image_size) and the splits never overlap.

    Items: {"image": uint8 (S, S, 3) RGB, "landmarks": float32 (68, 2) (x, y) image pixels,
    "index": int}. Extra keyword arguments go to `render_synthetic_face`.
    """

    num_points = 68
    scheme = "68"

    def __init__(self, num_samples: int, image_size: int = 256, seed: int = 0, split: str = "train", **render_kwargs):
        if split not in SPLITS:
            raise ValueError(f"SyntheticFaces: split must be one of {tuple(SPLITS)}, got {split!r}")
        if num_samples < 0:
            raise ValueError(f"SyntheticFaces: num_samples must be >= 0, got {num_samples}")
        self.num_samples, self.image_size, self.seed, self.split = int(num_samples), int(image_size), int(seed), split
        self.render_kwargs = render_kwargs

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index) -> dict:
        index = int(index)
        if index < 0:
            index += self.num_samples
        if not 0 <= index < self.num_samples:
            raise IndexError(f"SyntheticFaces: index {index} out of range for {self.num_samples} samples")
        rng = np.random.default_rng([self.seed, SPLITS[self.split], index])
        image, landmarks = render_synthetic_face(rng, self.image_size, **self.render_kwargs)
        return {"image": image, "landmarks": landmarks, "index": index}
