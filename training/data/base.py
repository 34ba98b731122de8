"""The common base of the real-data loaders (300W, WFLW, COFW, plain folder).

A loader parses its annotations when it is built (cheap) and decodes an image only when a sample
is asked for. Items are the raw-sample dicts the rest of the code uses (training/data/registry.py wraps
them with CropAndAugment):

==============  ===============================================================================
key             value
==============  ===============================================================================
"image"         uint8 RGB (H, W, 3) (grey, RGBA and 16-bit files are converted, see io.py)
"landmarks"     float32 (K, 2), (x, y) image pixels, 0-based, pixel centres at integers
"visible"       float32 (K,): the training-target weight of each point (1 = render its heatmap).
                All ones, also for COFW's occluded points: the paper trains on every point.
"occluded"      COFW only: float32 (K,) 1 = the point is annotated as occluded (for evaluation)
"subset"        str: the evaluation subset ("common"/"challenging"/"private" for 300W, else "all")
"source"        str: where the sample comes from ("lfpw", "helen", "afw", "ibug", "indoor", ...)
"attributes"    WFLW only: dict name -> bool (pose, expression, illumination, make-up, occlusion, blur)
"det_box"       WFLW/COFW: the annotated face box (x0, y0, x1, y1), 0-based pixels, for reference
"box"           only with ``crop="detector"``: the square crop (cx, cy, side) made from det_box
"path"          str: the image file (COFW: "<mat file>#<index>")
"index"         int: the item index
==============  ===============================================================================

The crop: by default a sample has no "box", so CropAndAugment crops the landmarks' bounding box,
made square with side 1.25 x its larger side (CropAndAugment's ``box_scale``). With
``crop="detector"`` (WFLW, COFW) "box" is the detector box's centre with side
``det_scale`` (default CROP_SCALE, 1.25) x its larger side, closer to a detector-driven test-time pipeline.

Bad data: every file problem raises :class:`~training.data.io.DataError` naming the file. With
``skip_bad=True`` the loader instead logs a warning naming each bad file (logger
``"awing.data"``), leaves the sample out and counts it in ``dataset.skipped`` (a list of
(file, reason)). At build time the loaders check the annotations, that each image file exists and
that it starts with a known image signature (``check_images="header"``, the default; ``"decode"``
decodes every image up front, slow; ``"none"`` only checks existence). An image that passes those
checks but still fails to decode later (e.g. truncated) raises when its item is read; with
``skip_bad`` the next good item is returned in its place and a warning is logged (counted in
``dataset.runtime_skipped`` of the process that read it: DataLoader workers keep their own).

Landmarks far outside their image are a data error too (wrong coordinates, a unit or offset
mistake, not a face at the image border): a point more than one image size outside the image
(x < -0.5 - W or x > W - 0.5 + W, the same for y) is refused naming the annotation. It is
checked when the loader is built where the image size can be read from the file's header
(Pillow), else when the image is decoded.

The "val" split of every loader is a fixed held-out-looking part of its training split: the
training items whose key (relative path, plus line/index where one file holds several faces) has
``zlib.crc32(key) % 20 == 0``, about 5 %, the same on every machine (if that picks none, the one
item with the smallest crc32, so "val" is never empty when "train" has 2 or more items). It is **part of "train"**
("train" is the standard split the papers train on). Split "train-val" is "train" without those
items, for runs that want an honest validation set.
"""
import logging
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from .io import DataError, load_image_rgb
from ..core.geometry import CROP_SCALE

__all__ = ["Record", "LandmarkDataset", "val_mask", "select_split", "VAL_MODULUS", "square_box",
           "check_landmarks_in_image", "image_size_from_header"]

log = logging.getLogger("awing.data")

VAL_MODULUS = 20


def square_box(det_box: Sequence[float], scale: float) -> Tuple[float, float, float]:
    """(cx, cy, side) of the square crop around a box (x0, y0, x1, y1): `scale` x its larger side."""
    x0, y0, x1, y1 = (float(v) for v in det_box)
    return (x0 + x1) / 2, (y0 + y1) / 2, max(max(x1 - x0, y1 - y0) * scale, 1.0)


def check_landmarks_in_image(landmarks: np.ndarray, width: int, height: int, annotation: str, image: str) -> None:
    """DataError naming `annotation` when a landmark lies more than one image size outside the
    (width x height) image (module docstring)."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    bad = ((pts[:, 0] < -0.5 - width) | (pts[:, 0] > 2 * width - 0.5) |
           (pts[:, 1] < -0.5 - height) | (pts[:, 1] > 2 * height - 0.5))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{annotation}: landmark {i} at ({pts[i, 0]:.6g}, {pts[i, 1]:.6g}) lies more than the image "
                        f"size outside the {width}x{height} image {image} ({int(bad.sum())} such point(s): wrong "
                        f"coordinates?)", file=annotation)


def image_size_from_header(path) -> Optional[Tuple[int, int]]:
    """(width, height) of an image file from its header (Pillow, no decoding); None when Pillow
    is missing or does not know the format."""
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                return int(im.size[0]), int(im.size[1])
    except Exception:   # noqa: BLE001 - an unknown or broken header: decoding will tell
        return None


@dataclass
class Record:
    """One face: its image reference, landmarks and metadata (no pixels)."""
    image: str                                  # image file path (COFW: "<mat>#<i>")
    landmarks: np.ndarray                       # float32 (K, 2), 0-based
    key: str = ""                               # stable id (val selection, messages)
    subset: str = "all"
    source: str = ""
    occluded: Optional[np.ndarray] = None       # float32 (K,), COFW
    attributes: Optional[Dict[str, bool]] = None
    det_box: Optional[Tuple[float, float, float, float]] = None
    order: int = -1                             # position in the annotation listing (before skips)
    extra: dict = field(default_factory=dict)
    annotation: str = ""                        # where the landmarks come from (file, line), for messages


def val_mask(records: List[Record]) -> np.ndarray:
    """Which training records form "val": crc32(key) % 20 == 0, or, when that picks none (a
    small dataset), the one record with the smallest crc32(key), so "val" is never empty."""
    crcs = np.array([zlib.crc32(r.key.encode("utf-8")) for r in records], dtype=np.int64)
    mask = crcs % VAL_MODULUS == 0
    if len(records) > 1 and not mask.any():
        mask[int(np.argmin(crcs))] = True
    return mask


def select_split(records: List[Record], split: str) -> List[Record]:
    """"train" (all), "val" (the crc32 ~5 %, see val_mask), "train-val" (the rest) of training records."""
    if split == "train":
        return records
    if split not in ("val", "train-val"):
        raise ValueError(f"select_split: unexpected split {split!r}")
    mask = val_mask(records)
    keep = mask if split == "val" else ~mask
    return [r for r, k in zip(records, keep) if k]


class LandmarkDataset(torch.utils.data.Dataset):
    """Map-style dataset over `Record`s; subclasses fill ``self.records`` and may override
    :meth:`_read_image`. See the module docstring for the item format and bad-data handling."""

    name = "landmarks"
    scheme = "68"
    num_points = 68
    splits: Tuple[str, ...] = ()

    def __init__(self, split: str, skip_bad: bool = False, check_images: str = "header",
                 crop: str = "landmarks", det_scale: float = CROP_SCALE):
        if split not in self.splits:
            raise ValueError(f"{self.name}: unknown split {split!r}; choose one of {self.splits}")
        if check_images not in ("header", "decode", "none"):
            raise ValueError(f"{self.name}: check_images must be 'header', 'decode' or 'none', got {check_images!r}")
        if crop not in ("landmarks", "detector"):
            raise ValueError(f"{self.name}: crop must be 'landmarks' or 'detector', got {crop!r}")
        self.split, self.skip_bad, self.check_images = split, bool(skip_bad), check_images
        self.crop, self.det_scale = crop, float(det_scale)
        self.records: List[Record] = []
        self.notes: List[str] = []   # one-line remarks on how the data was read (the commands print them)
        self.skipped: List[Tuple[str, str]] = []
        self.runtime_skipped = 0

    # ------------------------------------------------------------------ bad data
    def _bad(self, error: Exception) -> None:
        """Raise `error`, or (skip_bad) log and count it."""
        if not self.skip_bad:
            raise error
        where = getattr(error, "file", None) or str(error)
        self.skipped.append((str(where), str(error)))
        log.warning("%s %s: skipping bad sample: %s", self.name, self.split, error)

    def _finish(self) -> None:
        """Checks images as configured, logs the skip count, and fails on an empty split."""
        if self.check_images != "none":
            good = []
            for rec in self.records:
                try:
                    self._check_image(rec)
                    good.append(rec)
                except DataError as exc:
                    self._bad(exc)
            self.records = good
        if self.crop == "detector" and any(r.det_box is None for r in self.records):
            raise ValueError(f"{self.name}: crop='detector' needs a face box; this dataset has none")
        if self.skipped:
            log.warning("%s %s: skipped %d bad sample(s), kept %d", self.name, self.split, len(self.skipped),
                        len(self.records))
        if not self.records:
            raise DataError(f"{self.name} {self.split}: no samples found" +
                            (f" ({len(self.skipped)} skipped as bad)" if self.skipped else ""))

    def _check_image(self, rec: Record) -> None:
        path = Path(rec.image)
        if not path.is_file():
            raise DataError(f"image file not found: {path} (for annotation {rec.key})", file=path)
        if self.check_images == "decode":
            h, w = load_image_rgb(path).shape[:2]
            self._check_bounds(rec, w, h)
        elif path.stat().st_size == 0 or not cv2.haveImageReader(str(path)):
            raise DataError(f"corrupt or unsupported image file {path} (no known image signature)", file=path)
        else:
            size = image_size_from_header(path)
            if size is not None:
                self._check_bounds(rec, *size)

    def _check_bounds(self, rec: Record, width: int, height: int) -> None:
        check_landmarks_in_image(rec.landmarks, width, height, rec.annotation or rec.key, rec.image)

    def _read_image(self, rec: Record) -> np.ndarray:
        return load_image_rgb(rec.image)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.records)

    def sample(self, index: int) -> dict:
        """Item `index`, raising DataError for an unreadable image whatever skip_bad says."""
        rec = self.records[index]
        image = self._read_image(rec)
        self._check_bounds(rec, image.shape[1], image.shape[0])
        out = {"image": image, "landmarks": rec.landmarks.copy(),
               "visible": np.ones(len(rec.landmarks), np.float32), "subset": rec.subset, "source": rec.source,
               "path": rec.image, "index": index}
        if rec.occluded is not None:
            out["occluded"] = rec.occluded.copy()
        if rec.attributes is not None:
            out["attributes"] = dict(rec.attributes)
        if rec.det_box is not None:
            out["det_box"] = tuple(rec.det_box)
            if self.crop == "detector":
                out["box"] = square_box(rec.det_box, self.det_scale)
        out.update(rec.extra)
        return out

    def __getitem__(self, index) -> dict:
        index = int(index)
        n = len(self.records)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"{self.name}: index {index} out of range for {n} samples")
        for attempt in range(n):
            i = (index + attempt) % n
            try:
                return self.sample(i)
            except DataError as exc:
                if not self.skip_bad:
                    raise
                self.runtime_skipped += 1
                log.warning("%s %s: item %d unreadable, using the next one: %s", self.name, self.split, i, exc)
        raise DataError(f"{self.name} {self.split}: no readable sample left")

    # ------------------------------------------------------------------ metadata (no pixels)
    @property
    def landmarks(self) -> np.ndarray:
        """All landmarks (N, K, 2), 0-based image pixels."""
        return np.stack([r.landmarks for r in self.records])

    @property
    def subset_labels(self) -> List[str]:
        return [r.subset for r in self.records]

    @property
    def paths(self) -> List[str]:
        return [r.image for r in self.records]

    def subsets(self) -> Dict[str, np.ndarray]:
        """Evaluation subsets: name -> boolean mask (N,), the total row last; empty ones left out."""
        return {"all": np.ones(len(self), bool)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(split={self.split!r}, samples={len(self)}, skipped={len(self.skipped)})"
