"""The random parametric 3-D face: 68 iBUG landmarks plus the auxiliary geometry the drawing needs
(skull, ears, irises, neck, body, hairline), and `Sampler`, the renderer's source of scalar
random numbers.

Canonical units: the jaw spans x = -1..1; x right, y down, z towards the camera. Every point has
a depth, so rotations foreshorten it like a 3-D head.

1. **Shape**: a mean face with human proportions is built from parameters, each drawn uniformly
   (`Sampler.shape`; with shape variation off each takes the mean face's value): face width
   x0.88-1.12, lower-face height x0.90-1.12, upper-face height x0.95-1.06; jaw contour a half
   super-ellipse with exponent 1.7-3.2 (pointed to square chin), its 17 points spaced equally by
   arc length; eye width 0.38-0.48, eye spacing (inner corners) +-0.24-0.33, eye opening
   0.26-0.42 of the eye width (7% of faces half-close them: x0.25-0.9), canthal tilt
   -0.02..0.045; brow gap above the eyes 0.24-0.36, arch 0.03-0.11, thickness 0.05-0.11; nose
   length (tip at y 0.06-0.22), nose width +-0.16-0.26, nose depth 0.42-0.65; mouth half-width
   0.32-0.46, lip thicknesses 0.055-0.10 (upper) / 0.075-0.135 (lower); plus a small per-point
   asymmetry (Gaussian, sigma 0.012, 0.006 on the eyes; closed lips stay closed).
2. **Expression**: mouth open (40% of faces, gap 0.03-0.40, the lower lip, chin and lower jaw
   drop, the mouth narrows), smile/frown (corners up to 0.10 up or 0.04 down), brows raised
   (35%, 0.04-0.16, inner ends more) or knitted (10%, inner ends down 0.02-0.06).
"""
from dataclasses import dataclass

import numpy as np

from .geometry import _ellipse_pts

__all__ = ["Sampler", "sample_face"]


class Sampler:
    """Scalar random draws for one face, served from a buffer that one vectorised ``rng.random``
    call refills (much cheaper per draw than scalar rng calls). ``rng`` stays available for the
    vector draws made directly on it; the two interleave deterministically.

    - ``uniform(lo, hi)``: a plain uniform draw from [lo, hi), always consumes one buffered number.
    - ``shape(lo, hi, mean)``: a face-shape parameter: ``uniform(lo, hi)`` when shape variation is
      on, else ``mean`` (the mean face's value) without consuming a number.
    """
    __slots__ = ("rng", "shape_variation", "_buf", "_i")

    def __init__(self, rng: np.random.Generator, shape_variation: bool = True, n: int = 96):
        self.rng, self.shape_variation = rng, bool(shape_variation)
        self._buf, self._i = rng.random(n).tolist(), 0

    def uniform(self, lo: float, hi: float) -> float:
        if self._i == len(self._buf):
            self._buf, self._i = self.rng.random(len(self._buf)).tolist(), 0
        v = self._buf[self._i]
        self._i += 1
        return lo + (hi - lo) * v

    def shape(self, lo: float, hi: float, mean: float) -> float:
        return self.uniform(lo, hi) if self.shape_variation else mean


@dataclass
class _FaceParams:
    """The face's shape and expression parameters (canonical units)."""
    fw: float                # face width factor
    fh: float                # lower face height factor
    fu: float                # upper face height factor
    jaw_n: float             # jaw super-ellipse exponent
    jaw_top: float           # y of the jaw's ends
    chin_y: float
    eye_w: float
    eye_in: float            # x of the inner eye corners (magnitude)
    eye_y: float
    eye_open: float          # eye opening as a fraction of eye_w
    tilt: float              # canthal tilt
    brow_gap: float
    brow_arch: float
    brow_th: float
    brow_out: float
    nose_tip: float
    nose_w: float
    nose_z: float
    nose_bot: float
    mouth_w: float
    mouth_gap: float         # nose bottom to lip line
    up_lip: float
    lo_lip: float
    mouth_open: float = 0.0
    smile: float = 0.0
    brow_raise: float = 0.0
    brow_knit: float = 0.0

    @property
    def eye_h(self) -> float:
        return self.eye_w * self.eye_open


def _shape_params(rand: Sampler) -> _FaceParams:
    """The shape parameters, drawn in this (fixed) order; expression neutral."""
    return _FaceParams(
        fw=rand.shape(0.88, 1.12, 1.0), fh=rand.shape(0.90, 1.12, 1.0), fu=rand.shape(0.95, 1.06, 1.0),
        jaw_n=rand.shape(1.7, 3.2, 2.3), jaw_top=rand.shape(-0.36, -0.22, -0.30),
        chin_y=rand.shape(1.08, 1.22, 1.15),
        eye_w=rand.shape(0.38, 0.48, 0.43), eye_in=rand.shape(0.24, 0.33, 0.28),
        eye_y=rand.shape(-0.40, -0.30, -0.35), eye_open=rand.shape(0.26, 0.42, 0.34),
        tilt=rand.shape(-0.02, 0.045, 0.015),
        brow_gap=rand.shape(0.24, 0.36, 0.30), brow_arch=rand.shape(0.03, 0.11, 0.07),
        brow_th=rand.shape(0.05, 0.11, 0.08), brow_out=rand.shape(0.06, 0.16, 0.11),
        nose_tip=rand.shape(0.06, 0.22, 0.14), nose_w=rand.shape(0.16, 0.26, 0.21),
        nose_z=rand.shape(0.42, 0.65, 0.55), nose_bot=rand.shape(0.07, 0.13, 0.10),
        mouth_w=rand.shape(0.32, 0.46, 0.39), mouth_gap=rand.shape(0.26, 0.36, 0.31),
        up_lip=rand.shape(0.055, 0.10, 0.08), lo_lip=rand.shape(0.075, 0.135, 0.10))


def _expression(rand: Sampler, f: _FaceParams) -> None:
    """Draw an expression into `f`: open mouth, smile/frown, raised or knitted brows, half-closed eyes."""
    if rand.uniform(0.0, 1.0) < 0.40:
        f.mouth_open = rand.uniform(0.03, 0.40)
    f.smile = rand.uniform(-0.04, 0.10)
    r = rand.uniform(0.0, 1.0)
    if r < 0.35:
        f.brow_raise = rand.uniform(0.04, 0.16)
    elif r < 0.45:
        f.brow_knit = rand.uniform(0.02, 0.06)
    if rand.uniform(0.0, 1.0) < 0.07:
        f.eye_open *= rand.shape(0.25, 0.9, 0.5)


def _jaw(P: np.ndarray, f: _FaceParams) -> None:
    """0-16: half super-ellipse from (-1, jaw_top) over the chin, equal arc length."""
    phi = np.linspace(0.0, np.pi, 121)
    c, s = np.cos(phi), np.sin(phi)
    e = 2.0 / f.jaw_n
    jx = -np.sign(c) * np.abs(c) ** e
    jy = f.jaw_top + (f.chin_y - f.jaw_top) * np.abs(s) ** e
    seg = np.hypot(np.diff(jx), np.diff(jy))
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0.0, arc[-1], 17)
    P[0:17, 0] = np.interp(t, arc, jx)
    P[0:17, 1] = np.interp(t, arc, jy)
    yf = (P[0:17, 1] - f.jaw_top) / (f.chin_y - f.jaw_top)
    P[0:17, 2] = -0.38 * (1 - yf) + 0.18 * yf ** 2
    P[0:17, 1] += 0.85 * f.mouth_open * yf ** 2          # the jaw drops with the mouth


def _eyes(P: np.ndarray, f: _FaceParams) -> None:
    """36 outer, 37-38 upper lid, 39 inner, 40-41 lower lid (left eye = image left); 42-47 mirrored."""
    eye_y, tilt = f.eye_y, f.tilt
    xo, xi = -(f.eye_in + f.eye_w), -f.eye_in
    eh = f.eye_h
    hu, hl = 0.58 * eh, 0.42 * eh
    lx = np.array([xo, xo + (xi - xo) / 3, xo + 2 * (xi - xo) / 3, xi, xo + 2 * (xi - xo) / 3, xo + (xi - xo) / 3])
    ly = np.array([eye_y - tilt, eye_y - hu - 0.6 * tilt, eye_y - 0.95 * hu - 0.25 * tilt, eye_y,
                   eye_y + 0.95 * hl - 0.25 * tilt, eye_y + hl - 0.6 * tilt])
    lz = np.array([-0.16, -0.04, 0.0, -0.02, -0.02, -0.06])
    P[36:42] = np.stack([lx, ly, lz], axis=1)
    P[42:48] = P[[39, 38, 37, 36, 41, 40]] * [-1, 1, 1]


def _brows(P: np.ndarray, f: _FaceParams) -> None:
    """17 outer .. 21 inner; 22-26 mirrored."""
    xo, xi = -(f.eye_in + f.eye_w), -f.eye_in
    bx = np.linspace(xo - f.brow_out, xi + 0.04, 5)
    prof = np.array([0.15, 0.75, 1.0, 0.85, 0.55])
    by = f.eye_y - f.brow_gap - f.brow_arch * prof
    by -= f.brow_raise * np.array([0.55, 0.75, 0.9, 1.0, 1.0])
    by += f.brow_knit * np.array([0.0, 0.1, 0.35, 0.7, 1.0])
    bx += f.brow_knit * np.array([0.0, 0.05, 0.15, 0.3, 0.5]) * 0.5
    P[17:22] = np.stack([bx, by, np.array([-0.18, -0.04, 0.04, 0.09, 0.11])], axis=1)
    P[22:27] = P[[21, 20, 19, 18, 17]] * [-1, 1, 1]


def _nose(P: np.ndarray, f: _FaceParams) -> None:
    """27-30 bridge (30 tip), 31-35 bottom."""
    nose_tip, nose_w, nose_z = f.nose_tip, f.nose_w, f.nose_z
    y27 = f.eye_y - 0.03
    tb = np.array([0.0, 1 / 3, 2 / 3, 1.0])
    P[27:31, 1] = y27 + (nose_tip - y27) * tb
    P[27:31, 2] = 0.16 + (nose_z - 0.16) * tb ** 0.8
    yb = nose_tip + f.nose_bot
    P[31:36] = [[-nose_w, yb - 0.035, nose_z - 0.40], [-0.5 * nose_w, yb + 0.005, nose_z - 0.26],
                [0.0, yb + 0.012, nose_z - 0.20], [0.5 * nose_w, yb + 0.005, nose_z - 0.26],
                [nose_w, yb - 0.035, nose_z - 0.40]]


def _mouth(P: np.ndarray, f: _FaceParams) -> None:
    """48-59 outer lip contour, 60-67 inner."""
    up_lip, lo_lip = f.up_lip, f.lo_lip
    ym = f.nose_tip + f.nose_bot + f.mouth_gap
    mw = f.mouth_w * (1 - 0.25 * f.mouth_open)
    o = f.mouth_open
    ou = 0.12 * o                                      # the upper lip lifts a little
    ys = f.smile
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
    P[48:68, 2] = 0.32 - 0.30 * (np.abs(P[48:68, 0]) / f.mouth_w) ** 2


def _auxiliary(rand: Sampler, P: np.ndarray, f: _FaceParams) -> dict:
    """Skull arc, irises and pupils, ears, neck, body, hairline (each (n, 3)) and a few scalars."""
    aux = {}
    jaw_top, eye_w, eh = f.jaw_top, f.eye_w, f.eye_h
    psi = np.linspace(0.0, np.pi, 11)[1:-1]             # skull arc (between the jaw's ends)
    sk_h = rand.shape(1.15, 1.40, 1.28)
    aux["skull"] = np.stack([np.cos(psi) * 1.0, jaw_top - sk_h * np.sin(psi),
                             -0.38 - 0.25 * np.sin(psi)], axis=1)          # right -> left
    eye_c = P[36:42].mean(axis=0)
    # the gaze is drawn even without shape variation (same draw sequence), then zeroed
    gaze = np.array([rand.uniform(-0.09, 0.09), rand.uniform(-0.025, 0.02)]) * (eye_w if rand.shape_variation else 0.0)
    iris_r = eye_w * rand.shape(0.19, 0.23, 0.21)
    aux["iris_l"] = _ellipse_pts(eye_c[0] + gaze[0], eye_c[1] + gaze[1] + 0.1 * eh, iris_r, iris_r, 14, 0.04)
    aux["iris_r"] = _ellipse_pts(-eye_c[0] + gaze[0], eye_c[1] + gaze[1] + 0.1 * eh, iris_r, iris_r, 14, 0.04)
    aux["pupil_l"] = _ellipse_pts(eye_c[0] + gaze[0], eye_c[1] + gaze[1] + 0.1 * eh, 0.42 * iris_r,
                                  0.42 * iris_r, 10, 0.05)
    aux["pupil_r"] = _ellipse_pts(-eye_c[0] + gaze[0], eye_c[1] + gaze[1] + 0.1 * eh, 0.42 * iris_r,
                                  0.42 * iris_r, 10, 0.05)
    ear_y = (f.eye_y + f.nose_tip) / 2
    aux["ear_l"] = _ellipse_pts(-0.97, ear_y, 0.13, 0.30, 12, -0.55)
    aux["ear_r"] = _ellipse_pts(0.97, ear_y, 0.13, 0.30, 12, -0.55)
    nw = rand.shape(0.48, 0.66, 0.56)
    aux["neck"] = np.array([[-nw, 0.2, -0.45], [-nw * 1.08, 2.6, -0.5], [nw * 1.08, 2.6, -0.5], [nw, 0.2, -0.45]])
    cy = 1.55 + 0.2 * f.fh
    aux["body"] = np.array([[-3.4, 5.0, -0.6], [-3.1, cy + 0.75, -0.6], [-1.7, cy + 0.05, -0.6], [-nw * 1.1, cy, -0.5],
                            [0.0, cy + rand.shape(0.05, 0.45, 0.2), -0.3], [nw * 1.1, cy, -0.5],
                            [1.7, cy + 0.05, -0.6], [3.1, cy + 0.75, -0.6], [3.4, 5.0, -0.6]])
    # hairline (left -> right)
    hx = np.linspace(-0.97, 0.97, 9)
    h_c = jaw_top - rand.shape(0.72, 0.95, 0.82) * sk_h
    h_t = rand.shape(-0.70, -0.42, -0.55)
    aux["hairline"] = np.stack([hx, h_c + (h_t - h_c) * (np.abs(hx) / 0.97) ** 3.5,
                                -0.25 + 0.3 * (1 - np.abs(hx))], axis=1)
    aux["brow_top"] = float(P[17:27, 1].min())
    aux["sk_h"], aux["jaw_top"] = sk_h, jaw_top
    aux["eye_ctr"] = eye_c
    return aux


def _warp(q, f: _FaceParams) -> np.ndarray:
    """The global shape warp: widths and heights of the face (upper and lower face separately)."""
    q = np.array(q, dtype=np.float64, copy=True)
    q[..., 0] *= f.fw
    q[..., 1] = np.where(q[..., 1] > 0, q[..., 1] * f.fh, q[..., 1] * f.fu)
    return q


def sample_face(rand: Sampler, expression: bool, asymmetry: bool):
    """A random face: 68 landmarks (68, 3) and a dict of auxiliary 3-D geometry and parameters,
    in canonical units. Shape parameters come from ``rand.shape``, so with shape variation off
    this is the mean face (still with expression and asymmetry if those are on)."""
    f = _shape_params(rand)
    if expression:
        _expression(rand, f)
    P = np.zeros((68, 3))
    _jaw(P, f)
    _eyes(P, f)
    _brows(P, f)
    _nose(P, f)
    _mouth(P, f)
    aux = _auxiliary(rand, P, f)

    if asymmetry:                       # small per-point jitter; the lips stay closed when closed
        jit = rand.rng.normal(0.0, 0.012, size=(68, 2))
        jit[36:48] *= 0.5
        jit[[65, 66, 67]] = jit[[63, 62, 61]]
        P[:, :2] += jit

    P = _warp(P, f)
    for k, v in list(aux.items()):
        if isinstance(v, np.ndarray) and v.ndim == 2 and v.shape[1] == 3:
            aux[k] = _warp(v, f)
    aux["brow_top"] *= f.fu
    aux["brow_th"] = f.brow_th
    aux["mouth_open"] = f.mouth_open
    aux["eye_h"] = f.eye_h
    return P, aux
