"""Result plots: CED curves (matplotlib) and landmark prediction grids (cv2).

Nothing here opens a window: figures are drawn with matplotlib's object API on an Agg canvas
(``matplotlib.figure.Figure`` + ``FigureCanvasAgg``), which neither touches pyplot's global state
nor needs a display, and grids are drawn with cv2 and written with ``cv2.imwrite``.

Coordinates follow the project convention: (x, y) pixels, pixel centres at integer coordinates
(the convention cv2's drawing functions use too), so a point (10.0, 20.0) is drawn centred on the
pixel in column 10, row 20. Sub-pixel positions are kept (cv2 ``shift`` = 4 fractional bits).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import cv2
import numpy as np

from . import metrics

__all__ = ["plot_ced", "prediction_grid", "GT_COLOR", "PRED_COLOR"]

GT_COLOR = (0, 200, 0)      # RGB green: ground truth
PRED_COLOR = (230, 0, 0)    # RGB red: prediction

PathLike = Union[str, os.PathLike]


def _prepare_path(path: PathLike) -> Path:
    p = Path(path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    return p


def plot_ced(curves: Mapping[str, np.ndarray], path: PathLike, threshold: float = 0.1,
             title: Optional[str] = None, figsize=(6.4, 4.8), dpi: int = 100) -> Path:
    """Plot the CED curves of several methods on one figure and save it (PNG for a .png path).

    ``curves``: method name -> per-image NMEs (fractions, 1-D). x axis: NME in percent, from 0 to
    ``threshold``; y axis: share of images with NME <= x. Each legend entry reads
    ``name (NME 3.07 %, AUC@10 0.5719, FR@10 0.99 %)`` (exact AUC, see :func:`metrics.auc`).
    The image is ``figsize * dpi`` pixels (640 x 480 by default). Returns the path.
    Raises ValueError for no curves or invalid NMEs (naming the method).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not curves:
        raise ValueError("plot_ced: no curves given")
    t = metrics._threshold(threshold)
    p = metrics._pct_label(t)
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for name, nmes in curves.items():
        try:
            s = metrics.summarize(nmes, t)
            x, y = metrics.ced(nmes, t, num=1000)
        except ValueError as exc:
            raise ValueError(f"plot_ced: curve {name!r}: {exc}") from None
        label = (f"{name} (NME {s['nme'] * 100:.2f} %, AUC@{p} {s['auc']:.4f}, "
                 f"FR@{p} {s['fr'] * 100:.2f} %)")
        ax.step(x * 100.0, y, where="post", linewidth=1.8, label=label)
    ax.set_xlim(0.0, t * 100.0)
    ax.set_ylim(-0.01, 1.01)  # curves lying on 0 or 1 stay visible
    ax.set_xlabel("NME (%)")
    ax.set_ylabel("fraction of images")
    ax.grid(True, alpha=0.35)
    # Below the axes, so it never hides a curve; tight_layout makes room for it.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize="small", frameon=False)
    ax.set_title(title if title is not None else f"Cumulative error distribution (NME <= {p} %)")
    fig.tight_layout()
    out = _prepare_path(path)
    fig.savefig(out, dpi=dpi)
    return out


def _points(x, name: str, n: int) -> np.ndarray:
    arr = metrics._to_numpy(x, name)
    if arr.ndim != 3 or arr.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (N, K, 2), got {tuple(arr.shape)}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries but there are {n} images")
    return arr


def _draw_points(img_bgr: np.ndarray, pts: np.ndarray, color_rgb, radius: int) -> None:
    color = tuple(int(c) for c in color_rgb[::-1])
    shift = 4
    for x, y in pts:
        if not (np.isfinite(x) and np.isfinite(y)):
            continue  # nothing to draw for a missing/diverged point
        centre = (int(round(x * (1 << shift))), int(round(y * (1 << shift))))
        cv2.circle(img_bgr, centre, radius << shift, color, thickness=-1,
                   lineType=cv2.LINE_AA, shift=shift)


def prediction_grid(images: Sequence[np.ndarray], preds, gts, path: PathLike, cols: int = 4,
                    labels: Optional[Sequence[str]] = None, radius: Optional[int] = None,
                    gap: int = 4) -> Path:
    """Draw landmarks on each image and tile the images into one grid image (PNG for .png).

    ``images``: N RGB uint8 arrays (H, W, 3) (sizes may differ; each sits top-left in a cell of
    the largest height and width). ``preds``: (N, K, 2) predictions, drawn as red filled circles;
    ``gts``: (N, K, 2) ground truth drawn as green circles underneath, or None. Non-finite points
    are skipped. ``labels``: optional N short strings written in each tile's top-left corner
    (e.g. the image's NME). ``radius``: circle radius in pixels (default ``max(1, min(H, W) // 128)``
    per image). Grid: ``c = min(cols, N)`` columns, ``r = ceil(N / c)`` rows, so the output is
    ``r * Hmax + (r + 1) * gap`` by ``c * Wmax + (c + 1) * gap`` pixels on a white background.
    Written with ``cv2.imwrite`` after RGB -> BGR. Returns the path.

    Raises ValueError for no images, a non-uint8/non-RGB image, mismatched lengths or shapes,
    cols < 1, gap < 0; OSError if cv2 cannot write the file (e.g. an unknown extension).
    """
    n = len(images)
    if n == 0:
        raise ValueError("prediction_grid: no images")
    if isinstance(cols, bool) or not isinstance(cols, (int, np.integer)) or cols < 1:
        raise ValueError(f"cols must be an int >= 1, got {cols!r}")
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or gap < 0:
        raise ValueError(f"gap must be an int >= 0, got {gap!r}")
    for i, im in enumerate(images):
        if not isinstance(im, np.ndarray) or im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
            desc = (f"{im.dtype} array of shape {im.shape}" if isinstance(im, np.ndarray)
                    else type(im).__name__)
            raise ValueError(f"images[{i}] must be an RGB uint8 array (H, W, 3), got {desc}")
    preds = _points(preds, "preds", n)
    if gts is not None:
        gts = _points(gts, "gts", n)
        if gts.shape != preds.shape:
            raise ValueError(f"gts and preds must have the same shape, got gts {tuple(gts.shape)} "
                             f"and preds {tuple(preds.shape)}")
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries but there are {n} images")
    if radius is not None and (not isinstance(radius, (int, np.integer)) or radius < 1):
        raise ValueError(f"radius must be an int >= 1, got {radius!r}")

    c = min(int(cols), n)
    r = -(-n // c)
    cell_h = max(im.shape[0] for im in images)
    cell_w = max(im.shape[1] for im in images)
    grid = np.full((r * cell_h + (r + 1) * gap, c * cell_w + (c + 1) * gap, 3), 255, np.uint8)
    for i, im in enumerate(images):
        h, w = im.shape[:2]
        tile = np.ascontiguousarray(im[:, :, ::-1])  # RGB -> BGR, a copy we can draw on
        rad = radius if radius is not None else max(1, min(h, w) // 128)
        if gts is not None:
            _draw_points(tile, gts[i], GT_COLOR, rad)
        _draw_points(tile, preds[i], PRED_COLOR, rad)
        if labels is not None and str(labels[i]):
            scale = max(0.35, min(h, w) / 512.0)
            org = (3, 3 + int(round(14 * scale)))
            cv2.putText(tile, str(labels[i]), org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                        thickness=3, lineType=cv2.LINE_AA)
            cv2.putText(tile, str(labels[i]), org, cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (255, 255, 255), thickness=1, lineType=cv2.LINE_AA)
        row, col = divmod(i, c)
        y0 = gap + row * (cell_h + gap)
        x0 = gap + col * (cell_w + gap)
        grid[y0:y0 + h, x0:x0 + w] = tile
    out = _prepare_path(path)
    try:
        ok = cv2.imwrite(str(out), grid)
    except cv2.error as exc:
        raise OSError(f"cv2.imwrite could not write {str(out)!r}: {exc}") from None
    if not ok:
        raise OSError(f"cv2.imwrite could not write {str(out)!r}")
    return out
