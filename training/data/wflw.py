"""WFLW with 98 points and six attribute flags (``--dataset wflw``).

Layout under ``data_root`` (the released archives unpacked side by side)::

    WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_train.txt   (7500 faces)
    WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_test.txt    (2500 faces)
    WFLW_images/<event folder>/<image>.jpg

Each annotation line has 207 whitespace-separated fields: 196 floats x0 y0 ... x97 y97, the face
box x_min y_min x_max y_max (4 ints), six 0/1 flags pose expression illumination make-up
occlusion blur, and the image path relative to WFLW_images/. A malformed line raises an error
naming the file and line (or, with ``skip_bad``, is skipped and counted); so does an image path
that leads outside the data root (absolute, or climbing out with ``../``): an annotation list
only ever names images under WFLW_images/.

Coordinates: WFLW's points are used as they are (0-based image pixels, as the released lists are
read by the reference implementations); the box becomes "det_box" (x0, y0, x1, y1). Several lines
may share an image (one per face).

Splits: "train" (7500), "test" (2500), "val" / "train-val" (the crc32 ~5 % of train keyed by
"train:<line>" / the rest, see base.py). Samples have subset "all" and "attributes"
{name: bool}. Evaluation subsets (``subsets()``): pose, expression, illumination, make-up,
occlusion, blur (each the test faces with that flag; empty ones left out) and "all" last.

The crop is the landmarks' bounding box x 1.25 (CropAndAugment) by default, or with
``crop="detector"`` the annotated box's centre with side ``det_scale`` x its larger side.
"""
import os
from pathlib import Path
from typing import Dict

import numpy as np

from .base import LandmarkDataset, Record, select_split
from .io import DataError

__all__ = ["WFLW", "ATTRIBUTES", "annotation_file"]

ATTRIBUTES = ("pose", "expression", "illumination", "make-up", "occlusion", "blur")
_LIST_DIR = Path("WFLW_annotations") / "list_98pt_rect_attr_train_test"
_FIELDS = 196 + 4 + 6 + 1


def annotation_file(root: Path, split: str) -> Path:
    return Path(root) / _LIST_DIR / f"list_98pt_rect_attr_{split}.txt"


class WFLW(LandmarkDataset):
    """WFLW split `split` under `root` (see the module docstring). kwargs: see LandmarkDataset."""

    name = "wflw"
    scheme = "98"
    num_points = 98
    splits = ("train", "test", "val", "train-val")

    def __init__(self, root, split: str = "train", **kwargs):
        super().__init__(split, **kwargs)
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"wflw: data root {root} is not a folder", file=root)
        base_split = "test" if split == "test" else "train"
        ann = annotation_file(root, base_split)
        if not ann.is_file():
            raise DataError(f"wflw: annotation list not found: {ann} (expected the WFLW_annotations "
                            f"archive unpacked under {root})", file=ann)
        images = root / "WFLW_images"
        if not images.is_dir():
            raise DataError(f"wflw: image folder not found: {images}", file=images)
        records = []
        with open(ann, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    records.append(self._parse(line, lineno, ann, images, base_split))
                except DataError as exc:
                    self._bad(exc)
        self.records = records if base_split == "test" else select_split(records, split)
        self._finish()

    @staticmethod
    def _parse(line: str, lineno: int, ann: Path, images: Path, split: str) -> Record:
        parts = line.split()
        where = f"{ann}, line {lineno}"
        if len(parts) != _FIELDS:
            raise DataError(f"malformed WFLW annotation {where}: expected {_FIELDS} fields "
                            f"(196 coordinates, 4 box values, 6 flags, image path), got {len(parts)}", file=ann)
        try:
            coords = np.array([float(v) for v in parts[:196]], dtype=np.float64)
            box = [float(v) for v in parts[196:200]]
            flags = [int(v) for v in parts[200:206]]
        except ValueError as exc:
            raise DataError(f"malformed WFLW annotation {where}: {exc}", file=ann) from None
        if not np.isfinite(coords).all() or not np.isfinite(box).all():
            raise DataError(f"malformed WFLW annotation {where}: non-finite coordinates", file=ann)
        if any(v not in (0, 1) for v in flags):
            raise DataError(f"malformed WFLW annotation {where}: attribute flags must be 0 or 1, got {flags}",
                            file=ann)
        rel = parts[206]
        inside = os.path.normpath(rel.replace("\\", "/"))
        if os.path.isabs(rel) or Path(rel).is_absolute() or inside == ".." or inside.startswith("../") \
                or os.path.splitdrive(rel)[0]:
            raise DataError(f"WFLW annotation {where}: image path {rel!r} leads outside the data root "
                            f"{images.parent} (paths are relative to WFLW_images/)", file=ann)
        return Record(image=str(images / inside), landmarks=coords.reshape(98, 2).astype(np.float32),
                      key=f"{split}:{lineno}", subset="all", source=rel.split("/")[0],
                      attributes={name: bool(v) for name, v in zip(ATTRIBUTES, flags)},
                      det_box=tuple(box), order=lineno, annotation=where)

    @property
    def attribute_matrix(self) -> np.ndarray:
        """(N, 6) bool, columns in ATTRIBUTES order."""
        return np.array([[r.attributes[a] for a in ATTRIBUTES] for r in self.records], dtype=bool).reshape(-1, 6)

    def subsets(self) -> Dict[str, np.ndarray]:
        attrs = self.attribute_matrix
        out = {name: attrs[:, j] for j, name in enumerate(ATTRIBUTES) if attrs[:, j].any()}
        out["all"] = np.ones(len(self), bool)
        return out
