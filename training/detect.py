"""Find faces in one image and predict their landmarks.

    python -m training.detect IMAGE [--checkpoint CKPT] [--box x,y,w,h] [--out overlay.png]

Steps, per face:
  1. a face box: OpenCV's Haar cascade (haarcascade_frontalface_default.xml, the frontal-face
     detector OpenCV bundles), or the ``--box`` given;
  2. the box -> the square crop the model was trained on (see below), ``crop_matrix`` ->
     one ``cv2.warpAffine`` to the model's S x S input;
  3. the model -> the last stack's heatmaps -> ``awing_ext.decode_heatmaps(..., "dark")`` ->
     crop pixels (``HeatmapCodec.heatmap_to_crop``) -> image pixels (the inverse affine).

The result is printed to stdout as JSON:
    {"image": IMAGE, "faces": [{"box": [x, y, w, h], "crop": [cx, cy, side],
                                "landmarks": [[x, y], ...], "scores": [...]}, ...]}
with (x, y) image pixels, pixel centres at integer coordinates (docs/design.md); "box" is the
detector's (or the given) box, "crop" the square the model saw (centre and side, image pixels);
"scores" are the heatmap peaks (higher = more confident). ``--out`` writes an overlay (the box,
the crop square and the points). Exit code 1 and "no face found in IMAGE (try --box x,y,w,h)"
on stderr when the detector finds nothing; 2 for bad arguments (argparse).

Box -> crop. Training crops the square of side 1.25 x the larger side of the landmarks' bounding
box, centred on that box (``transforms.crop_box``). So:
  * ``--box`` is read as that landmark box (the tight box around the 68 points, brows to chin,
    ear to ear): the crop is exactly the training crop around it;
  * a Haar box is not: it is square, sits a little high (it starts above the brows and stops
    around the mouth/chin) and is larger than the landmark box. The mapping, calibrated on the
    15 real photos with 68 dlib landmarks (not shipped; 12 detected; landmark box vs Haar box, in Haar box
    sides; see HAAR_SHIFT / HAAR_SIDE): landmark-box centre = Haar centre + (0.0, 0.15) * side
    (measured: x +0.005 +- 0.079, y +0.152 +- 0.023), landmark-box side = 0.85 * Haar side
    (measured 0.849 +- 0.051, median 0.834); then the usual 1.25 margin: crop side = 1.0625 x the
    Haar side. On those 12 faces the crop's centre is off the training crop's by 6.5 % of its side
    on average (16 % at worst) and its side is 0.88-1.11 x the training side: inside the training
    augmentation's range (translation +-8 %, scale +-15 %) for most faces.

Checkpoint: ``--checkpoint`` or, when not given, the newest ``runs/*/best.pt`` under the current
directory (what ``python -m training.train`` writes by default); if there is none, an error says
so. The image may be any size and colour mode: grey, RGB, RGBA/BGRA (alpha dropped), 8 or 16 bit.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from .cli import int_at_least, run
from .checkpoint import load_checkpoint, load_model
from .codec import HeatmapCodec
from .data.io import load_image_rgb
from .data.transforms import apply_affine, crop_matrix
from .models.inputs import model_input
from .runtime import resolve_device

__all__ = ["HAAR_FILE", "HAAR_SHIFT", "HAAR_SIDE", "CROP_SCALE", "DetectorUnavailable", "parse_box",
           "load_image", "find_checkpoint", "haar_cascade", "detect_faces", "box_to_crop",
           "haar_box_to_crop", "predict_faces", "draw_overlay", "main"]

HAAR_FILE = "haarcascade_frontalface_default.xml"
HAAR_SHIFT = (0.0, 0.15)   # landmark-box centre - Haar-box centre, in Haar box sides (x, y)
HAAR_SIDE = 0.85           # landmark-box larger side / Haar box side
CROP_SCALE = 1.25          # crop side / landmark-box larger side, as in training (crop_box)
# detectMultiScale settings, chosen on faces68: 12/15 faces found, 1 false positive
HAAR_SCALE_FACTOR = 1.1
HAAR_MIN_NEIGHBORS = 5
HAAR_MIN_SIZE = 0.05       # smallest face side, as a fraction of the image's smaller side (>= 20 px)

BOX_COLOR = (0, 200, 0)     # RGB
CROP_COLOR = (0, 120, 255)
POINT_COLOR = (230, 0, 0)


class DetectorUnavailable(RuntimeError):
    """This OpenCV build has no Haar cascade (OpenCV 5 dropped CascadeClassifier and its data)."""


# ---------------------------------------------------------------------------------------- inputs
def parse_box(text: str) -> Tuple[float, float, float, float]:
    """'x,y,w,h' (image pixels; numbers, w and h > 0) -> a tuple of floats; ValueError otherwise."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 4:
        raise ValueError(f"--box must be four comma-separated numbers x,y,w,h, got {text!r}")
    try:
        x, y, w, h = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--box must be four comma-separated numbers x,y,w,h, got {text!r}") from None
    if not all(np.isfinite([x, y, w, h])):
        raise ValueError(f"--box values must be finite, got {text!r}")
    if w <= 0 or h <= 0:
        raise ValueError(f"--box width and height must be > 0, got w={w:g}, h={h:g}")
    return x, y, w, h


def load_image(path) -> np.ndarray:
    """RGB uint8 (H, W, 3) from any image file (training.data.io.load_image_rgb: grey, grey+alpha,
    BGR, BGRA with alpha dropped, 16-bit, float); DataError (a ValueError) naming the file."""
    return load_image_rgb(path)


def find_checkpoint(explicit: Optional[str], search_root: Path = Path(".")) -> Path:
    """The checkpoint to use: `explicit`, else the newest runs/*/best.pt under `search_root`."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        return path
    found = sorted(Path(search_root).glob("runs/*/best.pt"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no checkpoint given and none found at {Path(search_root) / 'runs/*/best.pt'}: "
                                f"train one (python -m training.train) or pass --checkpoint CKPT")
    return found[-1]


# ---------------------------------------------------------------------------------------- boxes
def haar_cascade(path: Optional[str] = None):
    """OpenCV's bundled frontal-face Haar cascade (or the XML at `path`)."""
    if not hasattr(cv2, "CascadeClassifier"):
        raise DetectorUnavailable(
            f"OpenCV {cv2.__version__} has no Haar cascade detector (OpenCV 5 removed CascadeClassifier): "
            f"pass the face box with --box x,y,w,h, or install OpenCV 4 (pip install 'opencv-python-headless<5')")
    if path is None:
        path = str(Path(getattr(getattr(cv2, "data", None), "haarcascades", "")) / HAAR_FILE)
    if not Path(path).is_file():
        raise DetectorUnavailable(
            f"the Haar cascade {path} is missing from this OpenCV {cv2.__version__} install: pass --cascade "
            f"XML or the face box with --box x,y,w,h (opencv-python(-headless) 4.x ships the file)")
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise DetectorUnavailable(f"cannot load the Haar cascade {path}")
    return cascade


def detect_faces(image_rgb: np.ndarray, cascade=None, scale_factor: float = HAAR_SCALE_FACTOR,
                 min_neighbors: int = HAAR_MIN_NEIGHBORS) -> List[Tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h), largest first, from the Haar cascade run on the grey image."""
    cascade = cascade if cascade is not None else haar_cascade()
    grey = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    m = max(20, int(min(grey.shape) * HAAR_MIN_SIZE))
    found = cascade.detectMultiScale(grey, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(m, m))
    boxes = [tuple(int(v) for v in b) for b in (found if len(found) else [])]
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def box_to_crop(box: Sequence[float], scale: float = CROP_SCALE) -> Tuple[float, float, float]:
    """A landmark box (x, y, w, h) -> the training crop (cx, cy, side), as transforms.crop_box does
    for the landmarks: the box covers pixels x .. x + w - 1, so its centre is x + (w - 1) / 2."""
    x, y, w, h = (float(v) for v in box)
    return x + (w - 1) / 2, y + (h - 1) / 2, max(scale * max(w, h), 1.0)


def haar_box_to_crop(box: Sequence[float], shift: Tuple[float, float] = HAAR_SHIFT, side: float = HAAR_SIDE,
                     scale: float = CROP_SCALE) -> Tuple[float, float, float]:
    """A Haar box (x, y, w, h) -> the training crop (cx, cy, side) (see the module docstring)."""
    x, y, w, h = (float(v) for v in box)
    cx, cy = x + (w - 1) / 2 + shift[0] * w, y + (h - 1) / 2 + shift[1] * h
    return cx, cy, max(scale * side * max(w, h), 1.0)


# ---------------------------------------------------------------------------------------- model
@torch.no_grad()
def predict_faces(model: torch.nn.Module, image_rgb: np.ndarray, crops: Sequence[Tuple[float, float, float]],
                  device: torch.device = torch.device("cpu")) -> Tuple[np.ndarray, np.ndarray]:
    """Landmarks (F, K, 2) in image pixels and scores (F, K) for each crop (cx, cy, side)."""
    cfg = model.config
    s, k = cfg.input_size, cfg.num_landmarks
    mats = [crop_matrix(cx, cy, side, s) for cx, cy, side in crops]
    batch = np.stack([cv2.warpAffine(image_rgb, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                     borderValue=(0, 0, 0)).transpose(2, 0, 1) for m in mats])
    codec = HeatmapCodec(s, s // 4, boundary_scheme=None)
    coords, scores = codec.decode(model(model_input(torch.from_numpy(batch).to(device), cfg))[-1], k)
    coords = coords.cpu().numpy().astype(np.float64)
    points = np.stack([apply_affine(c, cv2.invertAffineTransform(m)) for c, m in zip(coords, mats)])
    return points, scores.cpu().numpy()


def draw_overlay(image_rgb: np.ndarray, faces: Sequence[dict]) -> np.ndarray:
    """A copy of the image (RGB) with each face's box (green), crop square (blue) and points (red)."""
    out = np.ascontiguousarray(image_rgb.copy())
    size = max(out.shape[:2])
    thick = max(1, round(size / 400))
    radius = max(1, round(size / 250))
    shift = 4
    f = 1 << shift
    for face in faces:
        x, y, w, h = face["box"]
        cv2.rectangle(out, (round(x * f), round(y * f)), (round((x + w - 1) * f), round((y + h - 1) * f)),
                      BOX_COLOR, thick, cv2.LINE_AA, shift)
        cx, cy, side = face["crop"]
        x0, y0 = cx - (side - 1) / 2, cy - (side - 1) / 2
        cv2.rectangle(out, (round(x0 * f), round(y0 * f)), (round((x0 + side - 1) * f), round((y0 + side - 1) * f)),
                      CROP_COLOR, thick, cv2.LINE_AA, shift)
        for px, py in face["landmarks"]:
            if np.isfinite(px) and np.isfinite(py):
                cv2.circle(out, (round(px * f), round(py * f)), radius * f, POINT_COLOR, -1, cv2.LINE_AA, shift)
    return out


# ---------------------------------------------------------------------------------------- CLI
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.detect", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("image", help="the image (any size; grey, RGB or RGBA; 8 or 16 bit)")
    p.add_argument("--checkpoint", default=None, help="a .pt written by training.train (default: the newest "
                                                      "runs/*/best.pt)")
    p.add_argument("--box", default=None, help="x,y,w,h: the face's landmark box in image pixels; skips the detector")
    p.add_argument("--out", default=None, help="write an overlay image (points, box, crop) here")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--cascade", default=None, help="a Haar cascade XML (default: OpenCV's bundled frontal face)")
    p.add_argument("--max-faces", type=int_at_least(0), default=0, help="keep the largest N faces (0: all)")
    args = p.parse_args(argv)
    if args.box is not None:
        try:
            args.box = parse_box(args.box)
        except ValueError as exc:
            p.error(str(exc))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        device = resolve_device(args.device)
        ckpt_path = find_checkpoint(args.checkpoint)
        image = load_image(args.image)
        if args.box is not None:
            boxes, crops = [args.box], [box_to_crop(args.box)]
        else:
            boxes = detect_faces(image, haar_cascade(args.cascade))
            if args.max_faces > 0:
                boxes = boxes[:args.max_faces]
            if not boxes:
                print(f"no face found in {args.image} (try --box x,y,w,h)", file=sys.stderr)
                return 1
            crops = [haar_box_to_crop(b) for b in boxes]
        model = load_model(load_checkpoint(ckpt_path, map_location=device), device)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    points, scores = predict_faces(model, image, crops, device)
    faces = [{"box": [float(v) for v in b], "crop": [round(float(v), 3) for v in c],
              "landmarks": np.round(p, 3).tolist(), "scores": np.round(s, 5).tolist()}
             for b, c, p, s in zip(boxes, crops, points, scores)]
    result = {"image": str(args.image), "checkpoint": str(ckpt_path), "faces": faces}
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(out), cv2.cvtColor(draw_overlay(image, faces), cv2.COLOR_RGB2BGR)):
            print(f"error: cannot write the overlay to {out} (unknown image extension?)", file=sys.stderr)
            return 2
        print(f"overlay written: {out}", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
