"""The faces of an image (the given box or the detector's) and their JSON records: box, crop,
landmarks and scores from one Predictor call for all of them; scheme_fields names the points."""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from .face_detector import Face
from ..core.geometry import box_to_crop
from .predictor import Predictor

__all__ = ["FaceFinder", "face_records", "scheme_fields", "check_box", "BOX_SCALE_MAX"]

BOX_SCALE_MAX = 10   # a --box wider or taller than this many times its image is a typo, not a face


class FaceFinder:
    """The faces of an image: the given box, or the detector's (largest `max_faces`)."""

    def __init__(self, box: Optional[Sequence[float]], detector, max_faces: int):
        self.box, self.detector, self.max_faces = box, detector, max_faces

    def __call__(self, image: np.ndarray) -> List[Face]:
        if self.box is not None:
            check_box(self.box, image.shape[1], image.shape[0])
            return [Face(tuple(self.box), box_to_crop(self.box) + (0.0,))]
        faces = self.detector(image)
        return faces[:self.max_faces] if self.max_faces > 0 else faces


def check_box(box: Sequence[float], width: int, height: int) -> None:
    """ValueError unless the landmark box (x, y, w, h: pixels x .. x + w - 1, the area x - 1/2 to
    x + w - 1/2) overlaps the width x height image (-1/2 to width - 1/2) and is at most
    BOX_SCALE_MAX times its size. A box far off its image gives landmarks anywhere (issue 29:
    --box 0,0,1e30,1e30 gave points around 1e30, exit 0)."""
    x, y, w, h = box
    given = f"--box {x:g},{y:g},{w:g},{h:g}"
    if not (x < width and x + w > 0 and y < height and y + h > 0):
        raise ValueError(f"{given} does not overlap the {width}x{height} image (it must reach into it: "
                         f"-w < x < {width} and -h < y < {height})")
    if w > BOX_SCALE_MAX * width or h > BOX_SCALE_MAX * height:
        raise ValueError(f"{given} is more than {BOX_SCALE_MAX} times the size of the {width}x{height} image "
                         f"(w at most {BOX_SCALE_MAX * width}, h at most {BOX_SCALE_MAX * height})")


def face_records(predictor: Predictor, images: Sequence[np.ndarray], faces: Sequence[List[Face]]) -> List[list]:
    """Per image, its faces as JSON-ready dicts; one predict_crops call for all of them."""
    flat = [(i, f) for i, fs in enumerate(faces) for f in fs]
    out = predictor.predict_crops([images[i] for i, _ in flat], [f.crop for _, f in flat])
    records: List[list] = [[] for _ in images]
    for (i, face), points, scores, flags in zip(flat, out.landmarks, out.scores, out.low_confidence):
        records[i].append({"box": [float(v) for v in face.box],
                           "crop": [round(float(v), 3) for v in face.crop],
                           "landmarks": np.round(points, 3).tolist(), "scores": np.round(scores, 5).tolist(),
                           "low_confidence": [bool(f) for f in flags]})
    return records


def scheme_fields(predictor: Predictor) -> dict:
    """{"scheme": its name, "points": the point names in order}: what each "landmarks" list means,
    for the JSON object of an image or frame."""
    return {"scheme": predictor.scheme.name if predictor.scheme is not None else None,
            "points": list(predictor.point_names)}
