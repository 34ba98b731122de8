"""Independent float64 numpy decoders, written from the papers and the docs rather than from the
kernels: DARK (Zhang et al., CVPR 2020: distribution modulation, then the Taylor step of the
log-heatmap) and the windowed relu expectation of integral_coords. Plain loops over planes and
pixels; scipy's convolution for DARK's smoothing."""
import math

import numpy as np
from scipy import ndimage


def first_argmax(plane: np.ndarray) -> tuple:
    """(row, column) of the first maximal non-NaN value in row-major order, (0, 0) if none."""
    best, where = -math.inf, (0, 0)
    for r in range(plane.shape[0]):
        for c in range(plane.shape[1]):
            v = plane[r, c]
            if v > best:
                best, where = v, (r, c)
    return where


def windowed_expectation(heatmaps: np.ndarray, radius: int) -> np.ndarray:
    """(N, K, 2): sum v * (col, row) / sum v over the (2 radius + 1)^2 window around the first
    maximum (clipped), v = max(h, 0); the argmax pixel where sum v == 0."""
    n, k, h, w = heatmaps.shape
    out = np.zeros((n, k, 2))
    for i in range(n):
        for j in range(k):
            plane = heatmaps[i, j].astype(np.float64)
            row, col = first_argmax(plane)
            s = sx = sy = 0.0
            for r in range(max(0, row - radius), min(h - 1, row + radius) + 1):
                for c in range(max(0, col - radius), min(w - 1, col + radius) + 1):
                    v = plane[r, c] if (plane[r, c] > 0 or np.isnan(plane[r, c])) else 0.0
                    s, sx, sy = s + v, sx + v * c, sy + v * r
            out[i, j] = (col, row) if s == 0 else (sx / s, sy / s)
    return out


def gaussian_blur(plane: np.ndarray, sigma: float) -> np.ndarray:
    """The plane convolved with the normalised 2-D Gaussian of sigma on [-ceil(3 sigma),
    ceil(3 sigma)]^2, zeros beyond the border (DARK pads with zeros before its cv2.GaussianBlur)."""
    r = max(1, math.ceil(3 * sigma - 1e-9))
    x = np.arange(-r, r + 1, dtype=np.float64)
    k1 = np.exp(-x * x / (2 * sigma * sigma))
    kernel = np.outer(k1, k1)
    return ndimage.convolve(plane, kernel / kernel.sum(), mode="constant", cval=0.0)


def dark(heatmaps: np.ndarray, sigma: float) -> tuple:
    """((N, K, 2) coordinates, (N, K) scores) by DARK: modulate (blur, rescale to the original
    maximum, floor at 1e-10), take the first maximum of the modulated plane, then the Newton step
    -H^-1 g of log(h') with 1-px central differences, clamped to [-1, 1] per axis, where the
    3 x 3 neighbourhood is inside the plane and H is negative definite; elsewhere the quarter
    step of the modulated plane. Score: the original plane's first maximum (NaN ignored)."""
    n, k, h, w = heatmaps.shape
    coords, scores = np.zeros((n, k, 2)), np.zeros((n, k))
    for i in range(n):
        for j in range(k):
            original = heatmaps[i, j].astype(np.float64)
            r0, c0 = first_argmax(original)
            scores[i, j] = original[r0, c0]
            plane = np.where(np.isnan(original), 0.0, original)
            blurred = gaussian_blur(plane, sigma)
            if blurred.max() != 0:
                blurred = blurred * (plane.max() / blurred.max())
            mod = np.maximum(blurred, 1e-10)
            row, col = first_argmax(mod)
            x, y = float(col), float(row)
            qx = 0.25 * np.sign(mod[row, col + 1] - mod[row, col - 1]) if 0 < col < w - 1 else 0.0
            qy = 0.25 * np.sign(mod[row + 1, col] - mod[row - 1, col]) if 0 < row < h - 1 else 0.0
            if 0 < col < w - 1 and 0 < row < h - 1:
                lg = np.log(mod[row - 1:row + 2, col - 1:col + 2])
                gx, gy = 0.5 * (lg[1, 2] - lg[1, 0]), 0.5 * (lg[2, 1] - lg[0, 1])
                hxx = lg[1, 2] - 2 * lg[1, 1] + lg[1, 0]
                hyy = lg[2, 1] - 2 * lg[1, 1] + lg[0, 1]
                hxy = 0.25 * (lg[2, 2] - lg[0, 2] - lg[2, 0] + lg[0, 0])
                det = hxx * hyy - hxy * hxy
                if hxx < 0 and det > 0:
                    offset = -np.linalg.solve(np.array([[hxx, hxy], [hxy, hyy]]), np.array([gx, gy]))
                    qx, qy = np.clip(offset, -1, 1)
            coords[i, j] = (x + qx, y + qy)
    return coords, scores
