"""Face-alignment evaluation metrics: NME, FR@X, AUC@X, CED, result tables, a mean-shape baseline.

Conventions (docs/design.md, "Conventions"):

* Landmarks are (x, y) pixel coordinates, arrays of shape (N, K, 2) (a single image (K, 2) is
  accepted and treated as N = 1). numpy arrays and torch tensors (any device, any float dtype)
  are accepted; everything is computed in float64 numpy and returned as numpy / Python floats.
* **NME** of one image = mean over its (visible) points of the Euclidean point-to-point error,
  divided by the image's normaliser, a length measured on the *ground truth*:

  ==============  ======================================================================
  normaliser      definition (0-based indices)
  ==============  ======================================================================
  "inter_ocular"  68 points (300W): outer eye corners 36 and 45;
                  98 points (WFLW): outer eye corners 60 and 72;
                  29 points (COFW): points 16 and 17, as docs/design.md fixes it. In COFW's order
                  16 and 17 are the two *pupils*, so for COFW this is the inter-pupil distance,
                  the convention of the COFW/RCPR paper and of the numbers AWing reports
                  (COFW NME 4.94). Some code bases (e.g. HRNet) call the distance between the
                  outer eye corners 8 and 9 "inter-ocular" for COFW; pass ``normaliser=(8, 9)``
                  to reproduce those.
  "inter_pupil"   68 points: centres (means) of the eye contours 36-41 and 42-47;
                  98 points: the annotated pupils 96 and 97;
                  29 points: the annotated pupils 16 and 17 (same as "inter_ocular").
  ==============  ======================================================================

  The pairs come from awing_ext/schemes.py (normaliser_of). ``normaliser`` may also be a
  pair ``(a, b)`` where each of a, b is a point index or a sequence of indices (their centroid is
  used): the normaliser is then the distance between the two, for any K that has those indices.
* **FR@X** = share of images with NME > X (strictly greater).
* **CED** (cumulative error distribution) = F(x) = share of images with NME <= x.
* **AUC@X** = (integral of F over [0, X]) / X, integrated exactly (see :func:`auc`).

NMEs are fractions (0.0307), not percent; :func:`format_table` shows NME and FR in percent and
AUC as a fraction (as papers do: "NME 3.07 %, FR@10 % 0.99 %, AUC@10 % 0.5719").
"""
from __future__ import annotations

import math
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from awing_ext.schemes import NORMALISER_OF, LandmarkScheme, normaliser_of

__all__ = [
    "NORMALISERS",
    "normaliser_values",
    "normaliser_lengths",
    "nme",
    "failure_rate",
    "ced",
    "auc",
    "summarize",
    "per_subset",
    "format_table",
    "MeanShapeBaseline",
]

# name -> {number of points K -> (left indices, right indices)}; the normaliser is the distance
# between the centroids of the two index groups. awing_ext/schemes.py (normaliser_of,
# from the scheme files) is the single source of the pairs.
NORMALISERS: Dict[str, Dict[int, Tuple[Tuple[int, ...], Tuple[int, ...]]]] = {
    # COFW's is the pupils, i.e. inter-pupil (the COFW paper's convention)
    "inter_ocular": {int(k): n.groups for k, n in NORMALISER_OF.items()},
    "inter_pupil": {int(k): n.pupils for k, n in NORMALISER_OF.items()},
}

NormaliserSpec = Union[str, Tuple]


def _to_numpy(x, name: str) -> np.ndarray:
    """numpy float64 copy-free view of a numpy array / torch tensor / sequence."""
    if x is None:
        raise ValueError(f"{name} is None")
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, got {type(x).__name__}: {exc}") from None
    return arr


def _landmarks(x, name: str) -> np.ndarray:
    arr = _to_numpy(x, name)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (N, K, 2) or (K, 2) as (x, y) points, "
                         f"got {tuple(arr.shape)}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no points (K = 0)")
    return arr


def _check_finite_per_image(arr: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(arr).reshape(arr.shape[0], -1).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: image {i} has non-finite coordinates (NaN or inf)"
                         + (f" ({int(bad.sum())} images in all)" if bad.sum() > 1 else ""))


def _index_group(g, name: str) -> Tuple[int, ...]:
    if isinstance(g, (int, np.integer)):
        return (int(g),)
    try:
        out = tuple(int(i) for i in g)
    except TypeError:
        raise ValueError(f"{name}: expected a point index or a sequence of indices, got {g!r}") from None
    if not out:
        raise ValueError(f"{name}: empty index group")
    return out


def _pair_distance(gt: np.ndarray, left: Sequence[int], right: Sequence[int]) -> np.ndarray:
    a = gt[:, list(left)].mean(axis=1)
    b = gt[:, list(right)].mean(axis=1)
    return np.linalg.norm(a - b, axis=-1)


def normaliser_values(gt, normaliser: NormaliserSpec = "inter_ocular") -> np.ndarray:
    """Per-image normalising lengths (N,) for ground truth ``gt`` (N, K, 2) or (K, 2).

    ``normaliser``: a name from :data:`NORMALISERS` ("inter_ocular", "inter_pupil"), a pair
    ``(a, b)`` of point indices / index sequences (distance between their centroids), or a numpy
    array (N,) of the lengths themselves (a scheme's "bbox" normaliser: normaliser_lengths).

    Raises ValueError for an unknown name, a point count the named normaliser is not defined
    for, indices out of range, and for any image whose normaliser is zero or not finite
    (degenerate ground truth), naming the image index.
    """
    gt = _landmarks(gt, "gt")
    n, k = gt.shape[:2]
    _check_finite_per_image(gt, "gt")
    if isinstance(normaliser, str):
        if normaliser not in NORMALISERS:
            raise ValueError(f"unknown normaliser {normaliser!r}; expected one of "
                             f"{sorted(NORMALISERS)} or a pair of point indices")
        table = NORMALISERS[normaliser]
        if k not in table:
            raise ValueError(f"normaliser {normaliser!r} is defined for "
                             f"{', '.join(str(p) for p in sorted(table))} points, got K = {k}; "
                             f"use a pair of point indices")
        values = _pair_distance(gt, *table[k])
        label = repr(normaliser)
    elif isinstance(normaliser, np.ndarray) and normaliser.shape == (n,):
        values = normaliser.astype(np.float64)
        label = "length"
    elif isinstance(normaliser, tuple) and len(normaliser) == 2:
        left = _index_group(normaliser[0], "normaliser[0]")
        right = _index_group(normaliser[1], "normaliser[1]")
        for i in left + right:
            if not -k <= i < k:
                raise ValueError(f"normaliser index {i} out of range for K = {k} points")
        values = _pair_distance(gt, left, right)
        label = f"points {normaliser!r}"
    else:
        raise ValueError(f"normaliser must be a name ({', '.join(sorted(NORMALISERS))}), a pair of point "
                         f"indices or an array of N = {n} lengths, got {normaliser!r}")
    bad = ~(values > 0) | ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"image {i}: normaliser {label} is {float(values[i]):g}, must be > 0 and finite "
                         f"(degenerate ground truth: coincident reference points)"
                         + (f"; {int(bad.sum())} images affected" if bad.sum() > 1 else ""))
    return values


def normaliser_lengths(scheme: Union[str, int, LandmarkScheme], gt, visible=None, box_sizes=None) -> np.ndarray:
    """Per-image normalising lengths (N,) of ground truth `gt` (N, K, 2): the scheme's point groups
    (normaliser_values), or for "bbox" `box_sizes` (N,) (sqrt(w·h) of each image's
    annotation box in gt's pixels; NaN where there is none) and else the box of the visible
    ground-truth points."""
    norm = normaliser_of(scheme)
    if norm.groups is not None:
        return normaliser_values(gt, norm.groups)
    pts = np.asarray(gt, dtype=np.float64)
    vis = np.ones(pts.shape[:2], bool) if visible is None else np.asarray(visible) > 0
    lo = np.where(vis[..., None], pts, np.inf).min(axis=1)
    hi = np.where(vis[..., None], pts, -np.inf).max(axis=1)
    lengths = np.sqrt(np.prod(hi - lo, axis=-1))
    if box_sizes is not None:
        given = np.asarray(box_sizes, dtype=np.float64).reshape(-1)
        lengths = np.where(np.isfinite(given), given, lengths)
    return normaliser_values(gt, lengths)


def nme(pred, gt, normaliser: NormaliserSpec = "inter_ocular", visible=None) -> np.ndarray:
    """Per-image normalised mean error, shape (N,).

    ``nme[i] = mean_{j visible} ||pred[i, j] - gt[i, j]||_2 / d_i`` where ``d_i`` is the
    normaliser of ground truth ``gt[i]`` (see :func:`normaliser_values`; the module docstring
    lists the definitions). ``pred`` and ``gt`` are (N, K, 2) or (K, 2) (x, y) pixel coordinates,
    same shape. ``visible`` is an optional (N, K) (or (K,) for one image) boolean / 0-1 mask:
    points with False are left out of the mean, e.g. COFW's occluded points when evaluating on
    visible points only. The normaliser always uses the ground truth of all points (COFW
    annotates occluded points too).

    Raises ValueError on a shape mismatch, an unknown normaliser or one not defined for K,
    non-finite coordinates, and for an image whose normaliser is 0 (degenerate ground truth) or
    that has no visible point; the message names the image index.
    """
    pred = _landmarks(pred, "pred")
    gt = _landmarks(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape (N, K, 2), "
                         f"got pred {tuple(pred.shape)} and gt {tuple(gt.shape)}")
    _check_finite_per_image(pred, "pred")
    norm = normaliser_values(gt, normaliser)
    err = np.linalg.norm(pred - gt, axis=-1)  # (N, K)
    if visible is None:
        return err.mean(axis=1) / norm
    vis = _to_numpy(visible, "visible")
    if vis.ndim == 1:
        vis = vis[None]
    if vis.shape != err.shape:
        raise ValueError(f"visible must have shape (N, K) = {tuple(err.shape)}, got {tuple(vis.shape)}")
    if not np.isin(vis, (0.0, 1.0)).all():
        raise ValueError("visible must be a boolean or 0/1 mask")
    vis = vis.astype(bool)
    count = vis.sum(axis=1)
    if (count == 0).any():
        i = int(np.flatnonzero(count == 0)[0])
        raise ValueError(f"image {i} has no visible points; its NME is undefined")
    return (err * vis).sum(axis=1) / count / norm


def _nmes(nmes, name: str = "nmes") -> np.ndarray:
    arr = _to_numpy(nmes, name)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a 1-D array of per-image NMEs, got shape {tuple(arr.shape)}")
    arr = arr.reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{i}] = {float(arr[i]):g}: NMEs must be finite and >= 0")
    return arr


def _threshold(threshold) -> float:
    t = float(threshold)
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"threshold must be > 0 and finite, got {threshold!r}")
    return t


def failure_rate(nmes, threshold: float = 0.1) -> float:
    """FR@threshold: the share (0..1) of images whose NME is strictly greater than ``threshold``.

    Example: NMEs [0, 0.05, 0.2] at 0.1 -> 1/3. An NME exactly at the threshold is not a failure.
    """
    e = _nmes(nmes)
    return float(np.count_nonzero(e > _threshold(threshold)) / e.size)


def ced(nmes, threshold: float = 0.1, num: int = 1000) -> Tuple[np.ndarray, np.ndarray]:
    """Cumulative error distribution sampled at ``num`` points.

    Returns ``(x, y)``: ``x = linspace(0, threshold, num)`` and ``y[i]`` = share of images with
    NME <= x[i] (a right-continuous step function; ``y[-1] = 1 - failure_rate``).
    """
    e = np.sort(_nmes(nmes))
    t = _threshold(threshold)
    if int(num) < 2:
        raise ValueError(f"num must be >= 2, got {num!r}")
    x = np.linspace(0.0, t, int(num))
    y = np.searchsorted(e, x, side="right") / e.size
    return x, y


def auc(nmes, threshold: float = 0.1) -> float:
    """AUC@threshold = (area under the CED F(x) for x in [0, threshold]) / threshold, in [0, 1].

    The exact integral of the empirical (step-function) CED: since ``F(x) = mean_i [e_i <= x]``,
    the integral is ``mean_i max(0, threshold - e_i)``, so ``AUC = mean_i clip(1 - e_i / threshold,
    0, 1)``. Each image contributes linearly: NME 0 gives 1, NME threshold/2 gives 0.5, NME >=
    threshold gives 0. (The grid rules common in public code, scipy.integrate.simps over F at steps
    of 1e-4, converge to this as the step shrinks and differ from it by less than step/threshold.)
    """
    e = _nmes(nmes)
    t = _threshold(threshold)
    return float(np.clip(1.0 - e / t, 0.0, 1.0).mean())


def summarize(nmes, threshold: float = 0.1) -> dict:
    """``{"nme": mean NME, "fr": FR@threshold, "auc": AUC@threshold, "count": N}`` (fractions)."""
    e = _nmes(nmes)
    return {
        "nme": float(e.mean()),
        "fr": failure_rate(e, threshold),
        "auc": auc(e, threshold),
        "count": int(e.size),
    }


def per_subset(nmes, subsets, threshold: float = 0.1, total: Optional[str] = "all") -> Dict[str, dict]:
    """:func:`summarize` for each subset of the images, e.g. 300W common / challenging / full,
    or WFLW's attribute subsets (pose, expression, illumination, make-up, occlusion, blur).

    ``subsets`` is either

    * a sequence of N labels (one per image, e.g. ``["common", "common", "challenging", ...]``):
      one row per distinct label, in order of first appearance; or
    * a mapping ``name -> selection``, where a selection is a boolean mask of length N or an
      array of image indices (subsets may overlap, as WFLW's attributes do).

    With ``total`` set (default "all"), a last row of that name summarises all images (for 300W
    pass ``total="full"``). Returns an ordered dict name -> summary, ready for :func:`format_table`.
    Raises ValueError for a label list of the wrong length, bad masks/indices or an empty subset.
    """
    e = _nmes(nmes)
    n = e.size
    out: Dict[str, dict] = {}
    if isinstance(subsets, Mapping):
        for name, sel in subsets.items():
            sel = np.asarray(sel)
            if sel.dtype == bool:
                if sel.shape != (n,):
                    raise ValueError(f"subset {name!r}: boolean mask must have length {n}, "
                                     f"got shape {sel.shape}")
                idx = np.flatnonzero(sel)
            elif np.issubdtype(sel.dtype, np.integer) or sel.size == 0:
                idx = sel.astype(np.int64).reshape(-1)
                if idx.size and (idx.min() < -n or idx.max() >= n):
                    raise ValueError(f"subset {name!r}: image index out of range for {n} images")
            else:
                raise ValueError(f"subset {name!r}: expected a boolean mask or integer indices, "
                                 f"got dtype {sel.dtype}")
            if idx.size == 0:
                raise ValueError(f"subset {name!r} is empty")
            out[str(name)] = summarize(e[idx], threshold)
    else:
        labels = list(subsets)
        if len(labels) != n:
            raise ValueError(f"subset labels: expected {n} (one per image), got {len(labels)}")
        labels_arr = np.asarray([str(lab) for lab in labels])
        for lab in dict.fromkeys(labels_arr.tolist()):
            out[lab] = summarize(e[labels_arr == lab], threshold)
    if total is not None:
        out[str(total)] = summarize(e, threshold)
    return out


def _pct_label(threshold: float) -> str:
    p = threshold * 100.0
    return f"{p:.0f}" if abs(p - round(p)) < 1e-9 else f"{p:g}"


def format_table(rows: Mapping[str, Mapping[str, float]], threshold: float = 0.1,
                 name_header: str = "method") -> str:
    """Markdown table of summaries, one row per entry of ``rows`` (name -> :func:`summarize` dict).

    Columns: name, ``NME %`` (2 decimals), ``FR@10 %`` (2 decimals), ``AUC@10`` (4 decimals),
    ``images`` (the count); the "10" follows ``threshold`` (pass the one used to summarise).
    A missing key renders as "-". Example::

        | method     | NME % | FR@10 % | AUC@10 | images |
        |------------|------:|--------:|-------:|-------:|
        | model      |  3.07 |    0.99 | 0.5719 |    689 |
        | mean shape |  9.85 |   33.10 | 0.1830 |    689 |
    """
    if not rows:
        raise ValueError("format_table: no rows")
    p = _pct_label(_threshold(threshold))
    header = [name_header, "NME %", f"FR@{p} %", f"AUC@{p}", "images"]

    def fmt(row: Mapping, key: str, scale: float, digits: int) -> str:
        v = row.get(key)
        if v is None:
            return "-"
        if key == "count":
            return str(int(v))
        return f"{float(v) * scale:.{digits}f}"

    body = [[str(name), fmt(r, "nme", 100.0, 2), fmt(r, "fr", 100.0, 2), fmt(r, "auc", 1.0, 4),
             fmt(r, "count", 1.0, 0)] for name, r in rows.items()]
    widths = [max(len(line[c]) for line in [header] + body) for c in range(len(header))]

    def render(cells):
        parts = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(["-" * (widths[0] + 2)] + ["-" * (w + 1) + ":" for w in widths[1:]]) + "|"
    return "\n".join([render(header), rule] + [render(line) for line in body])


class MeanShapeBaseline:
    """The simplest landmark "model": predict the training set's mean shape for every image.

    Fit it on training landmarks already in crop coordinates (N, K, 2) (i.e. after the same
    crop/resize the network sees, without augmentation); its NME on the test crops is the floor
    any trained model must beat by a wide margin. ``mean_shape_`` is (K, 2) after :meth:`fit`.
    """

    def __init__(self) -> None:
        self.mean_shape_: Optional[np.ndarray] = None

    def fit(self, landmarks, visible=None) -> "MeanShapeBaseline":
        """Store the per-point mean of ``landmarks`` (N, K, 2), N >= 1. Returns self.

        ``visible`` (N, K): only these points count (the others may be NaN: not annotated); a
        point annotated in no image takes the mean of the others' means."""
        arr = _to_numpy(landmarks, "landmarks")
        if arr.ndim != 3 or arr.shape[-1] != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
            raise ValueError(f"landmarks must have shape (N, K, 2) with N, K >= 1, got {tuple(arr.shape)}")
        vis = None if visible is None else _to_numpy(visible, "visible").reshape(arr.shape[:2]) > 0
        if vis is None or vis.all():
            _check_finite_per_image(arr, "landmarks")
            self.mean_shape_ = arr.mean(axis=0)
            return self
        _check_finite_per_image(np.where(vis[..., None], arr, 0.0), "landmarks")
        counts = vis.sum(axis=0)
        if not counts.any():
            raise ValueError("landmarks: no point is annotated in any image")
        mean = np.where(vis[..., None], arr, 0.0).sum(axis=0) / np.maximum(counts, 1)[:, None]
        mean[counts == 0] = mean[counts > 0].mean(axis=0)
        self.mean_shape_ = mean
        return self

    def predict(self, n: int) -> np.ndarray:
        """The mean shape repeated: an (n, K, 2) float64 array (a fresh copy)."""
        if self.mean_shape_ is None:
            raise ValueError("MeanShapeBaseline.predict called before fit")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        return np.repeat(self.mean_shape_[None], int(n), axis=0)
