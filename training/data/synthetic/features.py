"""The features of a synthetic face, one function each, drawn in the order drawing.py calls them:
back hair, neck and body, ears, head, hair, brows, eyes, nose, mouth, glasses."""
import cv2
import numpy as np

from .canvas import _blend, _clipped, _col, _fill, _line
from .face_model import Sampler
from .geometry import _ellipse_pts, _spline
from .scene import _View, _Colours


def _hair_style(rand: Sampler) -> int:
    """0 none (12%), 1 short (45%), 2 long (30%), 3 short with a fringe (13%)."""
    return int(np.searchsorted([0.12, 0.57, 0.87], rand.uniform(0.0, 1.0), side="right"))


def _draw_back_hair(img, rand: Sampler, v: _View, c: _Colours, hair_style: int) -> None:
    """Long hair: the part behind the head and shoulders."""
    if hair_style == 2:
        aux = v.aux
        yl = rand.uniform(0.6, 2.4)
        back = np.concatenate([[[1.25, yl, -0.6]], [[1.15, aux["jaw_top"], -0.5]],
                               aux["skull"] * [1.16, 1.0, 1.0] + [0, -0.12, 0],
                               [[-1.15, aux["jaw_top"], -0.5]], [[-1.25, yl, -0.6]]])
        _fill(img, _spline(v.proj(back), 4), _col(c.hair * 0.8))


def _draw_neck_and_body(img, rand: Sampler, v: _View, c: _Colours) -> None:
    body_c = rand.rng.uniform(0, 255, 3)
    _fill(img, v.proj(v.aux["neck"]), _col(c.skin * rand.uniform(0.55, 0.8)))
    _fill(img, _spline(v.proj(v.aux["body"]), 4), _col(body_c))


def _draw_ears(img, rand: Sampler, v: _View, c: _Colours) -> None:
    ear_c = _col(c.skin * rand.uniform(0.8, 0.95))
    for key in ("ear_l", "ear_r"):
        e = v.proj(v.aux[key])
        _fill(img, e, ear_c)
        _line(img, _spline(e[[1, 3, 5, 7, 9]], 4), _col(c.skin * 0.6), 0.02 * v.unit)


def _draw_head(img, rand: Sampler, v: _View, c: _Colours) -> None:
    """The head's skin: a soft-shaded layer (drawn at reduced resolution, blurred and upscaled)
    with rim darkening, the lit side, eye sockets, nose shading and the shadow under the lower
    lip, blended into the image inside the head outline (jaw points 0-16 and the skull arc)."""
    S, L, P3, proj, unit, skin = v.S, v.L, v.P3, v.proj, v.unit, c.skin
    head = _spline(proj(np.concatenate([P3[0:17], v.aux["skull"]])), 6, closed=True)
    lo_h = np.maximum(np.floor(head.min(axis=0)).astype(int) - 1, 0)
    hi_h = np.minimum(np.ceil(head.max(axis=0)).astype(int) + 2, S)
    x0, y0 = int(lo_h[0]), int(lo_h[1])
    w, h = int(hi_h[0]) - x0, int(hi_h[1]) - y0
    if w <= 2 or h <= 2:
        return
    f = 4 if unit > 40 else 2                   # the soft layer is drawn at 1/f resolution
    sw, sh = w // f + 2, h // f + 2
    off = np.array([x0, y0], np.float64)
    soft = np.empty((sh, sw, 3), np.uint8)
    rim = rand.uniform(0.72, 0.88)
    soft[:] = _col(skin * rim)

    def sp(p):            # image -> soft-layer pixels (cv2.resize's pixel-centre mapping)
        return (p - off + 0.5) / f - 0.5

    centre_f = L[[27, 28, 29, 30, 33, 8, 21, 22]].mean(axis=0)
    inner = centre_f + (head - centre_f) * np.array([0.86, 0.90])
    _fill(soft, sp(inner), _col(skin))
    # lit side highlight and shadow side
    lit = centre_f + c.light_dir * 0.45 * unit
    _fill(soft, sp(_ellipse_pts(lit[0], lit[1], 0.55 * unit, 0.75 * unit, 16)[:, :2]),
          _col(skin * (1.0 + 0.5 * c.light_k)))
    # eye sockets
    for a in (36, 42):
        ec = P3[a:a + 6].mean(axis=0)
        _fill(soft, sp(proj(_ellipse_pts(ec[0], ec[1] - 0.03, 0.30, 0.17, 12, ec[2]))), _col(skin * 0.86))
    # nose: shadow beside the bridge, highlight on it, shadow under it
    nrm = L[30] - L[27]
    nrm = np.array([-nrm[1], nrm[0]]) / (np.hypot(*nrm) + 1e-6)
    if nrm[0] * c.shadow_side < 0:
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


def _draw_hair(img, rand: Sampler, v: _View, c: _Colours, hair_style: int) -> None:
    """The hair in front of the head (styles 1-3): the cap down to the hairline, a few strands."""
    if hair_style not in (1, 2, 3):
        return
    aux = v.aux
    hl3 = aux["hairline"].copy()
    if hair_style == 3:                          # fringe down towards the brows
        low = aux["brow_top"] - rand.uniform(0.04, 0.2)
        hl3[:, 1] = np.maximum(hl3[:, 1], np.minimum(low, hl3[:, 1] + 0.5 * (1 - np.abs(hl3[:, 0]))))
    vol = rand.uniform(1.08, 1.2)
    outer = aux["skull"] * [vol, 1.0, 1.0] + [0, -0.12 * vol, 0]
    side_y = aux["jaw_top"] - 0.1 if hair_style != 2 else aux["jaw_top"] + 0.2
    poly3 = np.concatenate([[[1.1, side_y, -0.45]], outer, [[-1.1, side_y, -0.45]], hl3])
    hair_pts = _spline(v.proj(poly3), 4, closed=True)
    _fill(img, hair_pts, _col(c.hair))
    # a few strands from the crown to the hairline (outer runs right -> left, the hairline left -> right)
    js = rand.rng.integers(1, len(outer) - 1, size=5)
    strands = [_spline(v.proj(np.stack([outer[j] * 0.9 + [0, 0.1, 0], (outer[j] + hl3[8 - j]) / 2,
                                        hl3[8 - j] + [0, -0.03, 0]])), 4) for j in js]
    _line(img, strands, _col(c.hair * rand.uniform(0.6, 1.4)), 0.015 * v.unit)


def _draw_brows(img, rand: Sampler, v: _View, c: _Colours) -> None:
    """Each brow: a tapered filled band whose upper third carries the brow points, plus 3 hairs."""
    th = v.aux["brow_th"]
    for a in (17, 22):
        b3 = v.P3[a:a + 5]
        taper = np.linspace(0.55, 1.0, 5) if a == 17 else np.linspace(1.0, 0.55, 5)
        up = b3 - np.stack([np.zeros(5), 0.25 * th * taper, np.zeros(5)], axis=1)
        dn = b3 + np.stack([np.zeros(5), 0.75 * th * taper, np.zeros(5)], axis=1)
        poly = np.concatenate([_spline(v.proj(up), 4), _spline(v.proj(dn[::-1]), 4)])
        _fill(img, poly, _col(c.brow))
        ks = rand.rng.uniform(0, 4, size=3)
        i0 = np.minimum(ks, 3).astype(int)
        base = b3[i0] + (b3[i0 + 1] - b3[i0]) * (ks - i0)[:, None]
        tip_dx = 0.03 * (1 if a == 17 else -1)
        hairs = v.proj(np.stack([base + [0, 0.7 * th, 0], base + [tip_dx, -0.25 * th, 0]], axis=1))
        _line(img, list(hairs), _col(c.brow * 0.7), 0.012 * v.unit)


def _draw_eyes(img, rand: Sampler, v: _View, c: _Colours) -> None:
    """Sclera through the lid points, iris, pupil and glint clipped to it, lid lines, crease."""
    L, unit = v.L, v.unit
    sclera = np.array([232.0, 226.0, 220.0]) * rand.uniform(0.82, 1.0)
    lid_c = np.minimum(c.brow, c.skin * 0.35) * 0.8
    for a, iris_k, pupil_k in ((36, "iris_l", "pupil_l"), (42, "iris_r", "pupil_r")):
        e = L[a:a + 6]
        upper = _spline(e[[0, 1, 2, 3]], 5)
        lower = _spline(e[[3, 4, 5, 0]], 5)
        eye_poly = np.concatenate([upper, lower[1:-1]])
        _fill(img, eye_poly, _col(sclera))
        iris = v.proj(v.aux[iris_k])
        pupil = v.proj(v.aux[pupil_k])
        glint = pupil.mean(axis=0) + np.array([0.3, -0.3]) * 0.05 * unit

        def draw_iris(patch, off, iris=iris, pupil=pupil, glint=glint):
            _fill(patch, iris, _col(c.iris), off)
            _line(patch, iris, _col(c.iris * 0.5), 0.012 * unit, closed=True, offset=off)
            _fill(patch, pupil, (10, 10, 10), off)
            g = _ellipse_pts(glint[0], glint[1], 0.018 * unit, 0.018 * unit, 8)[:, :2]
            _fill(patch, g, (250, 250, 250), off)

        if v.aux["eye_h"] * unit > 1.5:
            _clipped(img, eye_poly, draw_iris)
        _line(img, upper, _col(lid_c), max(1.0, 0.035 * unit))
        _line(img, lower, _col(c.skin * 0.55), max(1.0, 0.014 * unit))
        crease = upper[2:-2] + (upper[2:-2] - L[a:a + 6].mean(axis=0)) * 0.35 + np.array([0, -0.03 * unit])
        _line(img, crease, _col(c.skin * 0.72), max(1.0, 0.012 * unit))


def _draw_nose(img, v: _View, c: _Colours) -> None:
    """Alar creases, nostrils, the nose-bottom curve through 31-35 and a tip highlight."""
    L, unit, skin = v.L, v.unit, c.skin
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
    tip = v.P3[30]
    _fill(img, v.proj(_ellipse_pts(tip[0], tip[1], 0.035, 0.03, 10, tip[2])), _col(skin * 1.12 + 8))


def _draw_mouth(img, rand: Sampler, v: _View, c: _Colours) -> None:
    """Upper and lower lip through the outer and inner lip points; the dark interior and teeth
    when open; the line where the lips meet."""
    L, unit, lip_c = v.L, v.unit, c.lip
    up_out = _spline(L[48:55], 4)
    up_in = _spline(L[60:65], 4)
    lo_out = _spline(L[[54, 55, 56, 57, 58, 59, 48]], 4)
    lo_in = _spline(L[[64, 65, 66, 67, 60]], 4)
    if v.aux["mouth_open"] > 0.015:
        interior = np.concatenate([up_in, lo_in[1:-1]])
        teeth = rand.uniform(0.0, 1.0) < 0.65
        tooth_h = min(0.07, v.aux["mouth_open"] * 0.5) * unit
        down = (L[66] - L[62]) / (np.hypot(*(L[66] - L[62])) + 1e-6)

        def draw_mouth(patch, off):
            _fill(patch, interior, (40, 12, 14), off)
            if teeth:
                _fill(patch, np.concatenate([up_in, (up_in + down * tooth_h)[::-1]]), (235, 232, 220), off)

        _clipped(img, interior, draw_mouth)
    _fill(img, np.concatenate([up_out, up_in[::-1]]), _col(lip_c))
    _fill(img, np.concatenate([lo_out, lo_in[::-1]]), _col(lip_c * 1.1 + 6))
    _line(img, up_in, _col(lip_c * 0.45), max(1.0, 0.016 * unit))
    if v.aux["mouth_open"] <= 0.015:
        _line(img, up_in, _col(lip_c * 0.35), max(1.0, 0.02 * unit))


def _draw_glasses(img, rand: Sampler, v: _View) -> None:
    """Sometimes (8%) a pair of glasses: two rings in front of the eyes and a bridge."""
    if rand.uniform(0.0, 1.0) >= 0.08:
        return
    P3, unit = v.P3, v.unit
    gc = _col(rand.rng.uniform(0, 120, 3))
    for a in (36, 42):
        ec = P3[a:a + 6].mean(axis=0)
        ring = v.proj(_ellipse_pts(ec[0], ec[1] + 0.02, 0.30, 0.2, 16, ec[2] + 0.12))
        _line(img, ring, gc, max(1.0, 0.02 * unit), closed=True)
    bridge = v.proj(np.array([[P3[39, 0] - 0.02, P3[39, 1] - 0.03, 0.2], [0, P3[27, 1] - 0.02, 0.3],
                              [P3[42, 0] + 0.02, P3[42, 1] - 0.03, 0.2]]))
    _line(img, bridge, gc, max(1.0, 0.02 * unit))

