"""Face boxes for training.detect and the Predictor: OpenCV's Haar cascades (bundled with
opencv-python 4.x, no download) or a user-supplied YuNet model (cv2.FaceDetectorYN).

Each detector returns `Face`s, largest first: the detector's box and the *crop* the landmark model
should see (centre, side and roll angle in image pixels and degrees; see training/infer/predictor.py).
A box whose centre lies inside a larger face's crop is dropped (a second hit on a mouth, an eye
or the chin).

Haar (the default): several passes, in order, until one finds a face (HAAR_PASSES):
  1. frontalface_default, minNeighbors 5 (the classic setting; few false positives);
  2. frontalface_alt2, minNeighbors 3 (finds faces the first misses);
  3./4. frontalface_alt2 on the image rotated by +20 / -20 degrees (tilted heads; the crop keeps
     the angle, so the landmark model sees the face upright);
  5. frontalface_default on the histogram-equalised image (dark, low-contrast photos).
On the 15 photos of faces68 (real photos with dlib's 68 points; not shipped), measured by
``python -m benchmarks.detector_recall FOLDER``: the classic single pass finds 12/15 faces, all
passes 15/15, with the same 1 false detection. The passes were chosen on those same photos, so
15/15 is an optimistic figure for other photos; passes 4 and 5 change nothing there.

Haar box -> crop: the Haar box is square, sits a little high (from above the brows to about the
mouth/chin) and is larger than the tight box around the 68 landmarks. Calibrated on those photos:
landmark-box centre = Haar centre + (0.0, 0.15) x side, landmark-box side = 0.85 x Haar side, then
the training margin 1.25 (HAAR_SHIFT, HAAR_SIDE, CROP_SCALE).

YuNet (``YuNetDetector(model.onnx)``; the model is OpenCV Zoo's face_detection_yunet_2023mar.onnx,
which the user downloads: nothing is fetched here): its box is taken as the landmark box (tight
around the face), and its two eye points give the roll, so tilted faces are cropped upright. That
mapping is not calibrated on landmarks (no YuNet model could be run here).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..core.geometry import CROP_SCALE, Crop, box_to_crop

__all__ = ["Face", "HaarPass", "HAAR_PASSES", "HAAR_SHIFT", "HAAR_SIDE", "DetectorUnavailable",
           "HaarFaceDetector", "YuNetDetector", "haar_box_to_crop", "drop_nested", "build_detector"]

HAAR_SHIFT = (0.0, 0.15)   # landmark-box centre - Haar-box centre, in Haar box sides (x, y)
HAAR_SIDE = 0.85           # landmark-box larger side / Haar box side
HAAR_SCALE_FACTOR = 1.1
HAAR_MIN_SIZE = 0.05       # smallest face side, as a fraction of the image's smaller side (>= 20 px)


class DetectorUnavailable(RuntimeError):
    """No usable face detector: OpenCV 5 dropped CascadeClassifier and its data, or a model file is bad."""


@dataclass(frozen=True)
class Face:
    box: Tuple[float, float, float, float]   # the detector's box (x, y, w, h); from a rotated pass: the
                                            # same box, axis-aligned, centred where the face is
    crop: Crop                              # what the landmark model sees, in image pixels
    score: float = 1.0                      # the detector's confidence (Haar: 1)


@dataclass(frozen=True)
class HaarPass:
    cascade: str              # the bundled cascade's name: haarcascade_<cascade>.xml
    min_neighbors: int
    rotation: float = 0.0     # degrees, counter-clockwise; the image is rotated about its centre
    equalize: bool = False    # histogram-equalise the grey image first


HAAR_PASSES: Tuple[HaarPass, ...] = (
    HaarPass("frontalface_default", 5),
    HaarPass("frontalface_alt2", 3),
    HaarPass("frontalface_alt2", 3, rotation=20.0),
    HaarPass("frontalface_alt2", 3, rotation=-20.0),
    HaarPass("frontalface_default", 5, equalize=True),
)


def haar_box_to_crop(box: Sequence[float], shift: Tuple[float, float] = HAAR_SHIFT, side: float = HAAR_SIDE,
                     scale: float = CROP_SCALE) -> Tuple[float, float, float]:
    """A Haar box (x, y, w, h) -> the training crop (cx, cy, side) (see the module docstring)."""
    x, y, w, h = (float(v) for v in box)
    cx, cy = x + (w - 1) / 2 + shift[0] * w, y + (h - 1) / 2 + shift[1] * h
    return cx, cy, max(scale * side * max(w, h), 1.0)


def drop_nested(faces: Sequence[Face]) -> List[Face]:
    """Faces (largest first) less those whose box centre lies inside a larger kept face's crop
    square (the region the model sees for it): a cascade's second hit on a mouth, an eye or the
    chin of a face it already found."""
    kept: List[Face] = []
    for face in faces:
        x, y, w, h = face.box
        centre = np.array([x + (w - 1) / 2, y + (h - 1) / 2])
        if not any(_inside_crop(centre, k.crop) for k in kept):
            kept.append(face)
    return kept


def _inside_crop(point: np.ndarray, crop) -> bool:
    cx, cy, side = crop[:3]
    a = math.radians(crop[3] if len(crop) > 3 else 0.0)
    dx, dy = point - (cx, cy)
    u, v = dx * math.cos(a) + dy * math.sin(a), -dx * math.sin(a) + dy * math.cos(a)   # the crop's axes
    return max(abs(u), abs(v)) <= side / 2


def _cascade(path: Path):
    if not hasattr(cv2, "CascadeClassifier"):
        raise DetectorUnavailable(
            f"OpenCV {cv2.__version__} has no Haar cascade detector (OpenCV 5 removed CascadeClassifier): "
            f"pass the face box with --box x,y,w,h, a YuNet model with --yunet, or install OpenCV 4 "
            f"(pip install 'opencv-python-headless<5')")
    if not path.is_file():
        raise DetectorUnavailable(f"the Haar cascade {path} is missing: pass --cascade XML, --yunet ONNX or the "
                                  f"face box with --box x,y,w,h (opencv-python(-headless) 4.x ships the file)")
    try:
        cascade = cv2.CascadeClassifier(str(path))
    except (cv2.error, SystemError) as exc:   # a file that is not a cascade: OpenCV raises from the constructor
        raise DetectorUnavailable(f"cannot load the Haar cascade {path}: not a cascade XML ({exc})") from None
    if cascade.empty():
        raise DetectorUnavailable(f"cannot load the Haar cascade {path}")
    return cascade


class HaarFaceDetector:
    """OpenCV's Haar cascades, pass after pass until one finds a face (module docstring).

    Args:
        cascade: one cascade XML to use alone (one pass, minNeighbors 5), instead of HAAR_PASSES.
        passes: the passes to try in order (default HAAR_PASSES); (HAAR_PASSES[0],) is the classic
            single-pass detector.
    """

    def __init__(self, cascade: Optional[str] = None, passes: Sequence[HaarPass] = HAAR_PASSES):
        data = Path(getattr(getattr(cv2, "data", None), "haarcascades", ""))
        if cascade is not None:
            self.passes = (HaarPass(str(cascade), 5),)
            self._cascades = {str(cascade): _cascade(Path(cascade))}
        else:
            self.passes = tuple(passes)
            self._cascades = {p.cascade: _cascade(data / f"haarcascade_{p.cascade}.xml") for p in self.passes}

    def __call__(self, image_rgb: np.ndarray) -> List[Face]:
        grey = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
        for p in self.passes:
            faces = self._run(grey, p)
            if faces:
                return drop_nested(sorted(faces, key=lambda f: -f.box[2] * f.box[3]))
        return []

    def _run(self, grey: np.ndarray, p: HaarPass) -> List[Face]:
        img = cv2.equalizeHist(grey) if p.equalize else grey
        h, w = img.shape
        back = None
        if p.rotation:
            m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), p.rotation, 1.0)
            img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            back = cv2.invertAffineTransform(m)
        m = max(20, int(min(h, w) * HAAR_MIN_SIZE))
        found = self._cascades[p.cascade].detectMultiScale(img, scaleFactor=HAAR_SCALE_FACTOR,
                                                           minNeighbors=p.min_neighbors, minSize=(m, m))
        faces = []
        for box in (found if len(found) else []):
            x, y, bw, bh = (float(v) for v in box)
            cx, cy, side = haar_box_to_crop((x, y, bw, bh))
            if back is not None:  # back to the image: the crop's centre, and the box re-centred there
                cx, cy = back[:, :2] @ np.array([cx, cy]) + back[:, 2]
                bx, by = back[:, :2] @ np.array([x + (bw - 1) / 2, y + (bh - 1) / 2]) + back[:, 2]
                x, y = bx - (bw - 1) / 2, by - (bh - 1) / 2
            faces.append(Face((x, y, bw, bh), (float(cx), float(cy), side, p.rotation)))
        return faces


class YuNetDetector:
    """A user-supplied YuNet ONNX model run by cv2.FaceDetectorYN (module docstring)."""

    def __init__(self, model_path: str, score_threshold: float = 0.7):
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"YuNet model not found: {path} (download face_detection_yunet_2023mar.onnx "
                                    f"from the OpenCV Zoo)")
        if not hasattr(cv2, "FaceDetectorYN"):
            raise DetectorUnavailable(f"OpenCV {cv2.__version__} has no cv2.FaceDetectorYN (needs OpenCV >= 4.5.4)")
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold)
        except (cv2.error, SystemError) as exc:
            raise DetectorUnavailable(f"cannot load the YuNet model {path}: {exc}".strip()) from None

    def __call__(self, image_rgb: np.ndarray) -> List[Face]:
        h, w = image_rgb.shape[:2]
        self._net.setInputSize((w, h))
        _, found = self._net.detect(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        faces = []
        for row in (found if found is not None else []):
            x, y, bw, bh = (float(v) for v in row[:4])
            # points 0 and 1: the right and left eye (the person's); their line gives the roll
            (rx, ry), (lx, ly) = row[4:6], row[6:8]
            # the crop rotation that levels the eye line (crop_matrix's sense: counter-clockwise)
            angle = math.degrees(math.atan2(ly - ry, lx - rx))
            cx, cy, side = box_to_crop((x, y, bw, bh))
            faces.append(Face((x, y, bw, bh), (cx, cy, side, angle), float(row[-1])))
        return drop_nested(sorted(faces, key=lambda f: -f.box[2] * f.box[3]))


def build_detector(cascade: Optional[str] = None, yunet: Optional[str] = None, single_pass: bool = False):
    """The detector detect's options ask for: YuNet with a model, else the Haar passes."""
    if yunet:
        if cascade:
            raise ValueError("--cascade and --yunet name two detectors: pass one")
        return YuNetDetector(yunet)
    return HaarFaceDetector(cascade, HAAR_PASSES[:1] if single_pass else HAAR_PASSES)
