"""COCO keypoints files: a user's own landmarks as CVAT, Label Studio and Roboflow export them
(``--dataset coco --data-root IMAGES --annotations TRAIN.json``).

What is read: the one category with ``keypoints`` (with several, the one whose names are the
scheme's); its annotations; each annotation's ``keypoints`` (x, y, v triples, 0-based pixels as
written), ``bbox`` (x, y, w, h) and ``image_id``; each image's ``file_name`` (under
``data_root``), ``width`` and ``height``. Every annotation is one face (several per image are
several faces); ``iscrowd`` annotations and annotations with no labelled keypoint are left out.

* **Visibility**: v = 0 is "not labelled": the point is left out of the loss (its heatmap weight
  is 0) and of the NME; v = 1 (labelled, hidden) and v = 2 count.
* **Crop**: the ``bbox``, made square with side det_scale (1.25) x its larger side, whatever
  ``crop`` says (the few points of a custom scheme can span a small part of the face).
* **Scheme**: the given one (a scheme file), whose points are the category's keypoints (by name
  when the names are the same set, else in order); or, without one, the category's own: its
  keypoint names, left/right pairs matched by name (``left_eye`` / ``right_eye``, ``eye_l`` /
  ``eye_r``, ``LeftEye`` / ``RightEye``), the "bbox" normaliser and no curves
  (:func:`category_scheme`; ``notes`` says so in one line).
* **Splits** (deterministic, as the folder loader's): "test" is the --test-annotations file, or
  without one the faces of every tenth image of the train file (images sorted by file_name);
  "train" is the train file less that test part; "val" is the --val-annotations file, or the
  crc32 ~5 % of "train" (by image: base.py) and part of it; "train-val" is "train" without that
  val part; "all" is every face of the train file.
* **Bad rows** (wrong keypoint count, NaN or inf, v not 0/1/2, a box that is empty or outside its
  image, an image_id with no image, a missing image file) raise a DataError naming the file and
  the annotation id, or with skip_bad are skipped and counted (base.py).
"""
import json
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from awing_ext.scheme_file import SchemeError, parse_scheme
from awing_ext.schemes import LandmarkScheme

from .base import LandmarkDataset, Record, select_split
from .io import DataError

__all__ = ["CocoKeypoints", "category_scheme", "mirror_name", "BOX_TOLERANCE"]

BOX_TOLERANCE = 1.0   # pixels a bbox may reach past its image's border (labelling tools round)
_TOKENS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^A-Za-z0-9]+")
_SIDES = {"left": "right", "right": "left", "l": "r", "r": "l"}


def mirror_name(name: str) -> str:
    """`name` with its left/right word swapped (case kept): "left_eye" -> "right_eye", "eye_L" ->
    "eye_R", "LeftEye" -> "RightEye"; a name without one comes back unchanged."""
    def swap(token: str) -> str:
        other = _SIDES.get(token.lower())
        if other is None:
            return token
        return other.upper() if token.isupper() else other.capitalize() if token[0].isupper() else other
    return "".join(swap(t) for t in _TOKENS.findall(name))


def category_scheme(category: dict, source: str) -> Tuple[LandmarkScheme, str]:
    """(scheme, one-line note) of a COCO category's keypoint names: left/right pairs by name, the
    bbox normaliser, no curves. A left/right name without its mirror among the names leaves the
    scheme without flip (a mirrored image would have no name for that point)."""
    names = category.get("keypoints")
    pairs, lonely = [], []
    for n in names:
        m = mirror_name(str(n))
        if m != n:
            if m not in names:
                lonely.append(n)
            elif [m, n] not in pairs:
                pairs.append([n, m])
    table = {"name": str(category.get("name") or "coco"), "points": list(names), "normaliser": "bbox"}
    if pairs and not lonely:
        table["flip"] = pairs
    try:
        scheme = parse_scheme(table, f"{source}: category {table['name']!r}")
    except SchemeError as exc:
        raise DataError(str(exc), file=source) from None
    flip = (f"{len(pairs)} left/right pair(s) matched by name" if scheme.flip is not None else
            f"no flip ({lonely[0]!r} has no mirror name)" if lonely else "no flip (no left/right names)")
    note = (f"scheme {scheme.name!r} from the category's {scheme.num_points} keypoint names: {flip}, the bbox "
            f"normaliser, no curves (--scheme FILE to change it; docs/datasets.md)")
    return scheme, note


def _load(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"coco dataset: annotation file not found: {path}", file=path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"coco dataset: {path} is not a JSON file: {exc}", file=path) from None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), list) for k in ("images", "annotations",
                                                                                     "categories")):
        raise DataError(f"coco dataset: {path} is not a COCO keypoints file (no images, annotations and "
                        f"categories lists)", file=path)
    return doc


class CocoKeypoints(LandmarkDataset):
    """COCO keypoints annotations (module docstring). `scheme`: a LandmarkScheme, or None for the
    category's own."""

    name = "coco"
    splits = ("all", "train", "test", "val", "train-val")

    def __init__(self, root, split: str = "all", annotations=None, val_annotations=None, test_annotations=None,
                 scheme: Optional[LandmarkScheme] = None, **kwargs):
        super().__init__(split, **kwargs)
        self.crop = "detector"   # the bbox is the crop
        if not annotations:
            raise DataError("coco dataset: --annotations TRAIN.json (the COCO keypoints file) is required")
        self.root = Path(root)
        train_doc = _load(annotations)
        category = self._category(train_doc, annotations, scheme)
        if scheme is None:
            scheme, note = category_scheme(category, str(annotations))
            self.notes.append(note)
        self.scheme, self.num_points = scheme, scheme.num_points
        if split == "test" and test_annotations:
            records = self._records(_load(test_annotations), test_annotations)
        elif split == "val" and val_annotations:
            records = self._records(_load(val_annotations), val_annotations)
        else:
            records = self._records(train_doc, annotations, category)
            if split == "test":
                records = [r for r in records if r.order % 10 == 9]
            elif split != "all":
                if not test_annotations:
                    records = [r for r in records if r.order % 10 != 9]
                if split != "train" and not (split == "train-val" and val_annotations):
                    records = select_split(records, split)
        self.records = records
        self._finish()

    # ------------------------------------------------------------------ the file
    def _category(self, doc: dict, path, scheme: Optional[LandmarkScheme]) -> dict:
        """The category whose annotations are the faces."""
        cats = [c for c in doc["categories"] if isinstance(c, dict) and c.get("keypoints")]
        if not cats:
            raise DataError(f"coco dataset: {path}: no category has keypoints (a COCO keypoints file names its "
                            f"points in categories[].keypoints)", file=path)
        if len(cats) > 1 and scheme is not None:
            cats = [c for c in cats if list(c["keypoints"]) == list(scheme.point_names)] or cats
        if len(cats) > 1:
            raise DataError(f"coco dataset: {path}: {len(cats)} categories have keypoints "
                            f"({', '.join(repr(c.get('name')) for c in cats)}): keep one, or give --scheme FILE "
                            f"with the points of the one to use", file=path)
        if not isinstance(cats[0]["keypoints"], list):
            raise DataError(f"coco dataset: {path}: categories[].keypoints must be a list of names", file=path)
        return cats[0]

    def _point_order(self, category: dict, path) -> Optional[List[int]]:
        """Which keypoint of the file each scheme point is (None: the file's order)."""
        names, wanted = [str(n) for n in category["keypoints"]], list(self.scheme.point_names)
        if len(names) != len(wanted):
            raise DataError(f"coco dataset: {path}: category {category.get('name')!r} has {len(names)} keypoints, the "
                            f"scheme {self.scheme.name!r} has {len(wanted)}", file=path)
        if names == wanted or sorted(names) != sorted(wanted) or len(set(names)) != len(names):
            if names != wanted:
                self.notes.append(f"{path}: the category's keypoint names are not the scheme {self.scheme.name!r}'s: "
                                  f"its keypoints are read in the file's order")
            return None
        return [names.index(n) for n in wanted]

    def _records(self, doc: dict, path, category: Optional[dict] = None) -> List[Record]:
        """One record per annotated face of `doc` (bad rows raised or skipped via _bad)."""
        category = category or self._category(doc, path, self.scheme)
        order = self._point_order(category, path)
        images = {img.get("id"): img for img in doc["images"]
                  if isinstance(img, dict) and isinstance(img.get("id"), (int, str))}
        position = {name: i for i, name in enumerate(sorted({str(img.get("file_name")) for img in images.values()}))}
        out, unlabelled = [], 0
        for ann in doc["annotations"]:
            if not isinstance(ann, dict) or ann.get("category_id") != category.get("id") or ann.get("iscrowd"):
                continue
            where = f"{path}: annotation {ann.get('id')}"
            try:
                record = self._record(ann, images, position, where, order)
            except DataError as exc:
                self._bad(exc)
                continue
            if record is None:
                unlabelled += 1
            else:
                out.append(record)
        if unlabelled:
            self.notes.append(f"{path}: {unlabelled} annotation(s) without a labelled keypoint left out")
        return out

    def _record(self, ann: dict, images: Dict, position: Dict[str, int], where: str,
                order: Optional[List[int]]) -> Optional[Record]:
        def bad(problem: str):
            raise DataError(f"{where}: {problem}", file=where)

        image_id = ann.get("image_id")
        image = images.get(image_id) if isinstance(image_id, (int, str)) else None
        if image is None or not image.get("file_name"):
            bad(f"image_id {ann.get('image_id')!r} is not in the file's images (or has no file_name)")
        k = self.num_points
        kp = ann.get("keypoints")
        if not isinstance(kp, list) or len(kp) % 3 or len(kp) // 3 != k:
            triples = isinstance(kp, list) and not len(kp) % 3
            got = f"{len(kp) // 3} keypoints" if triples else "keypoints that are not x, y, v triples"
            bad(f"{got}, the scheme {self.scheme.name!r} has {k}")
        try:
            arr = np.asarray(kp, dtype=np.float64).reshape(k, 3)
        except (TypeError, ValueError):
            bad("keypoints must be numbers")
        if not np.isfinite(arr).all():
            bad(f"keypoint {int(np.argmax(~np.isfinite(arr).all(axis=1)))} is not finite (NaN or inf)")
        if not np.isin(arr[:, 2], (0, 1, 2)).all():
            bad(f"visibility flags must be 0, 1 or 2, got {sorted(set(arr[:, 2].tolist()) - {0.0, 1.0, 2.0})}")
        if order is not None:
            arr = arr[order]
        labelled = arr[:, 2] > 0
        if not labelled.any():
            return None
        box = ann.get("bbox")
        if (not isinstance(box, list) or len(box) != 4 or not all(isinstance(v, (int, float)) for v in box)
                or not np.isfinite(box).all() or box[2] <= 0 or box[3] <= 0):
            bad(f"bbox must be [x, y, w, h] with w, h > 0, got {box!r}")
        x, y, w, h = (float(v) for v in box)
        size = (image.get("width"), image.get("height"))
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in size):
            self._check_box((x, y, w, h), float(size[0]), float(size[1]), where)   # else: from the image header
        landmarks = np.where(labelled[:, None], arr[:, :2], [x + w / 2, y + h / 2]).astype(np.float32)
        name = str(image["file_name"])
        return Record(image=str(self.root / name), landmarks=landmarks, key=name, order=position[name],
                      det_box=(x, y, x + w, y + h), annotation=where,
                      extra={"visible": labelled.astype(np.float32)})

    @staticmethod
    def _check_box(box, width: float, height: float, where: str) -> None:
        x, y, w, h = box
        t = BOX_TOLERANCE
        if x < -t or y < -t or x + w > width + t or y + h > height + t:
            raise DataError(f"{where}: bbox [{x:g}, {y:g}, {w:g}, {h:g}] is outside the {width:g}x{height:g} image",
                            file=where)

    # ------------------------------------------------------------------ images (base.py's checks, named by annotation)
    def _check_image(self, rec: Record) -> None:
        try:
            super()._check_image(rec)
        except DataError as exc:
            if str(exc).startswith(rec.annotation):
                raise
            raise DataError(f"{rec.annotation}: {exc}", file=exc.file) from None

    def _check_bounds(self, rec: Record, width: int, height: int) -> None:
        super()._check_bounds(rec, width, height)
        x0, y0, x1, y1 = rec.det_box
        self._check_box((x0, y0, x1 - x0, y1 - y0), width, height, rec.annotation)
