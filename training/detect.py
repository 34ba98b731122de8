"""Find faces and predict their landmarks in an image, a folder of images or a video.

    python -m training.detect photo.jpg [--out overlay.png]            # one JSON object
    python -m training.detect photos/ [--out overlays/]                 # JSON lines, one per image
    python -m training.detect clip.mp4 --smooth [--out overlay.mp4]     # JSON lines, one per frame

Per face: a face box from the detector (training/face_detector.py: OpenCV's Haar cascades in
several passes, or ``--yunet model.onnx``), or the ``--box x,y,w,h`` given (the tight box around
the face's landmarks, as training crops); the crop the model was trained on; the Predictor
(training/predict.py) -> landmarks in image pixels and per-point scores. ``--flip-test`` averages
the heatmaps of each crop and its mirror.

Output (stdout), per image or frame:
    {"image": PATH, "faces": [{"box": [x, y, w, h], "crop": [cx, cy, side, angle],
                               "landmarks": [[x, y], ...], "scores": [...]}, ...]}
    {"video": PATH, "frame": i, "time": seconds, "faces": [{..., "track": id}, ...]}
with (x, y) image pixels, pixel centres at integer coordinates (docs/design.md); "crop" is the
square the model saw (centre, side, roll in degrees counter-clockwise); "scores" are heatmap peaks
(higher = more confident). A folder's unreadable image gives {"image": PATH, "error": "..."} and
the run goes on. The output is strict JSON: a value that is not finite is written as null.

Video: frames are read in order (OpenCV's VideoCapture: mp4, avi, mov, mkv, ... as its FFmpeg
build reads), batched through the model, and faces are linked across frames into tracks (nearest
crop centre within half a crop side; a track unseen for a second ends). ``--smooth`` filters
each track's landmarks with a One Euro filter (training/smoothing.py; ``--smooth-cutoff``,
``--smooth-beta``) against frame-to-frame jitter. ``--out`` writes the overlay video (.mp4: mp4v,
.avi: MJPG) at the input's frame rate.

``--out`` is checked before the model loads: an image file OpenCV can write (image input), a
folder (folder input), a .mp4/.avi file (video input), in a folder that can be written; a write
that fails anyway (a full disk) is an error when it happens.

Exit codes: 0; 1 when a single image has no face ("no face found in IMAGE (try --box x,y,w,h)"
on stderr); 2 for bad arguments and files. Checkpoint: ``--checkpoint`` or the newest
runs/*/best.pt under the current directory.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .engine.cli import float_above, float_at_least, int_at_least, run, strict_json
from .data.io import DataError, IMAGE_EXTENSIONS
from .face_detector import HAAR_SHIFT, HAAR_SIDE, DetectorUnavailable, Face, build_detector, haar_box_to_crop
from .predict import CROP_SCALE, Predictor, as_rgb_image, box_to_crop
from .engine.runtime import keep_freed_memory, resolve_device
from .smoothing import OneEuroFilter

__all__ = ["VIDEO_EXTENSIONS", "parse_box", "find_checkpoint", "draw_overlay", "face_records", "main",
           # moved in 0.3.0, still importable from here: box -> crop (predict), the Haar detector (face_detector)
           "CROP_SCALE", "box_to_crop", "DetectorUnavailable", "HAAR_SHIFT", "HAAR_SIDE", "haar_box_to_crop"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
VIDEO_FOURCC = {".avi": "MJPG"}     # everything else: mp4v
VIDEO_OUT_EXTENSIONS = (".mp4", ".avi")   # what the overlay video writer writes (mp4v, MJPG)
BOX_COLOR = (0, 200, 0)     # RGB
CROP_COLOR = (0, 120, 255)
POINT_COLOR = (230, 0, 0)


class NoFace(Exception):
    """A single image in which the detector found no face (exit code 1)."""


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


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


# ---------------------------------------------------------------------------------------- faces
class FaceFinder:
    """The faces of an image: the given box, or the detector's (largest `max_faces`)."""

    def __init__(self, box: Optional[Sequence[float]], detector, max_faces: int):
        self.box, self.detector, self.max_faces = box, detector, max_faces

    def __call__(self, image: np.ndarray) -> List[Face]:
        if self.box is not None:
            return [Face(tuple(self.box), box_to_crop(self.box) + (0.0,))]
        faces = self.detector(image)
        return faces[:self.max_faces] if self.max_faces > 0 else faces


def face_records(predictor: Predictor, images: Sequence[np.ndarray], faces: Sequence[List[Face]]) -> List[list]:
    """Per image, its faces as JSON-ready dicts; one predict_crops call for all of them."""
    flat = [(i, f) for i, fs in enumerate(faces) for f in fs]
    out = predictor.predict_crops([images[i] for i, _ in flat], [f.crop for _, f in flat])
    records: List[list] = [[] for _ in images]
    for (i, face), points, scores in zip(flat, out.landmarks, out.scores):
        records[i].append({"box": [float(v) for v in face.box],
                           "crop": [round(float(v), 3) for v in face.crop],
                           "landmarks": np.round(points, 3).tolist(), "scores": np.round(scores, 5).tolist()})
    return records


def draw_overlay(image_rgb: np.ndarray, faces: Sequence[dict]) -> np.ndarray:
    """A copy of the image (RGB) with each face's box (green), crop square (blue, rotated with the
    crop) and points (red)."""
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
        cx, cy, side = face["crop"][:3]
        angle = face["crop"][3] if len(face["crop"]) > 3 else 0.0
        # the crop's x axis runs along (cos angle, sin angle) in the image (crop_matrix), as boxPoints' width
        corners = cv2.boxPoints(((cx, cy), (side - 1, side - 1), angle))
        cv2.polylines(out, [np.round(corners * f).astype(np.int32)], True, CROP_COLOR, thick, cv2.LINE_AA, shift)
        for px, py in face["landmarks"]:
            if np.isfinite(px) and np.isfinite(py):
                cv2.circle(out, (round(px * f), round(py * f)), radius * f, POINT_COLOR, -1, cv2.LINE_AA, shift)
    return out


def _writable_folder(folder: Path, what: str) -> None:
    """ValueError unless `folder` exists as a writable folder or can be created (the nearest
    existing parent is a writable folder)."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ValueError(f"--out {what}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"--out {what}: the folder {probe} is not writable")


def check_out(out: Path, source: Path) -> None:
    """--out before anything runs: what the input kind can write, in a writable folder."""
    if source.is_dir():
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {out}: a folder input writes one overlay per image into a folder; {out} is a file")
        _writable_folder(out, str(out))
        return
    if out.is_dir():
        kind = "a video file (.mp4 or .avi)" if is_video(source) else "an image file (e.g. overlay.png)"
        raise ValueError(f"--out {out} is a folder; for a single {'video' if is_video(source) else 'image'} "
                         f"give {kind}")
    if is_video(source):
        if out.suffix.lower() not in VIDEO_OUT_EXTENSIONS:
            raise ValueError(f"--out {out}: the overlay of a video is a video: use .mp4 or .avi")
    elif out.suffix.lower() in VIDEO_EXTENSIONS or not cv2.haveImageWriter(str(out)):
        raise ValueError(f"--out {out}: not an image format OpenCV writes (use .png or .jpg)")
    _writable_folder(out.parent, str(out))


def write_image(path: Path, image_rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        ok = cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    except cv2.error:
        ok = False
    if not ok:
        why = ("its folder is not writable" if not os.access(path.parent, os.W_OK)
               else "the disk may be full, or OpenCV cannot write this format")
        raise ValueError(f"cannot write the overlay to {path}: {why}")


# ---------------------------------------------------------------------------------------- inputs
def run_image(args, predictor: Predictor, find: FaceFinder) -> int:
    image = as_rgb_image(args.input)
    faces = find(image)
    if not faces:
        raise NoFace(f"no face found in {args.input} (try --box x,y,w,h)")
    records = face_records(predictor, [image], [faces])[0]
    if args.out:
        write_image(Path(args.out), draw_overlay(image, records))
        print(f"overlay written: {args.out}", file=sys.stderr)
    print(strict_json({"image": str(args.input), "checkpoint": str(args.checkpoint), "faces": records}))
    return 0


def run_folder(args, predictor: Predictor, find: FaceFinder) -> int:
    folder = Path(args.input)
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise FileNotFoundError(f"no images in {folder} (extensions: {', '.join(IMAGE_EXTENSIONS[:11])}, ...; "
                                f"either case)")
    stems = [p.stem for p in paths]
    overlay_names = {p: (p.stem if stems.count(p.stem) == 1 else p.name) + ".png" for p in paths}
    found = unreadable = 0
    for start in range(0, len(paths), args.batch_size):
        chunk, images, faces, errors = paths[start:start + args.batch_size], [], [], {}
        for path in chunk:
            try:
                image = as_rgb_image(path)
                found_faces = find(image)
            except (DataError, ValueError) as exc:
                image, found_faces, errors[path] = None, [], str(exc)
            images.append(image)
            faces.append(found_faces)
        readable = [i for i, im in enumerate(images) if im is not None]
        records = dict(zip(readable, face_records(predictor, [images[i] for i in readable],
                                                  [faces[i] for i in readable])))
        for i, path in enumerate(chunk):   # in file order
            if path in errors:
                unreadable += 1
                print(strict_json({"image": str(path), "error": errors[path]}))
                continue
            found += bool(records[i])
            print(strict_json({"image": str(path), "faces": records[i]}))
            if args.out:
                write_image(Path(args.out) / overlay_names[path], draw_overlay(images[i], records[i]))
    print(f"{len(paths)} images: {found} with a face, {len(paths) - found - unreadable} without, "
          f"{unreadable} unreadable" + (f"; overlays in {args.out}" if args.out else ""), file=sys.stderr)
    return 0


@dataclass
class Track:
    id: int
    centre: np.ndarray
    side: float
    last_frame: int
    smoother: Optional[OneEuroFilter] = field(default=None)


class Tracker:
    """Links each frame's faces to the previous frames' (nearest crop centre within half a side)
    and smooths each track's landmarks (One Euro filter) when asked."""

    def __init__(self, fps: float, smooth: bool, min_cutoff: float, beta: float):
        self.fps, self.smooth, self.min_cutoff, self.beta = fps, smooth, min_cutoff, beta
        self.tracks: List[Track] = []
        self.next_id = 0

    def update(self, frame: int, faces: List[dict]) -> None:
        self.tracks = [t for t in self.tracks if frame - t.last_frame <= max(1, round(self.fps))]
        free = list(self.tracks)
        for face in faces:
            centre, side = np.array(face["crop"][:2]), face["crop"][2]
            near = [(float(np.linalg.norm(t.centre - centre)), t) for t in free]
            near = [(d, t) for d, t in near if d < 0.5 * max(side, t.side)]
            if near:
                track = min(near, key=lambda dt: dt[0])[1]
                free.remove(track)
            else:
                track = Track(self.next_id, centre, side, frame,
                              OneEuroFilter(self.min_cutoff, self.beta) if self.smooth else None)
                self.next_id += 1
                self.tracks.append(track)
            track.centre, track.side, track.last_frame = centre, side, frame
            face["track"] = track.id
            if track.smoother is not None:
                face["landmarks"] = np.round(track.smoother(np.array(face["landmarks"]), frame / self.fps), 3).tolist()


def read_frames(capture, batch: int) -> Iterator[List[np.ndarray]]:
    """Batches of RGB frames, in order, until the video ends."""
    frames: List[np.ndarray] = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        if len(frames) == batch:
            yield frames
            frames = []
    if frames:
        yield frames


def run_video(args, predictor: Predictor, find: FaceFinder) -> int:
    path = Path(args.input)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"cannot open the video {path} (corrupt, or a format this OpenCV's FFmpeg cannot read)")
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if math.isfinite(fps) and fps > 0 else 25.0
    tracker = Tracker(fps, args.smooth, args.smooth_cutoff, args.smooth_beta)
    writer, frame_index, with_face = None, 0, 0
    try:
        for frames in read_frames(capture, args.batch_size):
            records = face_records(predictor, frames, [find(f) for f in frames])
            for image, faces in zip(frames, records):
                tracker.update(frame_index, faces)
                with_face += bool(faces)
                print(strict_json({"video": str(path), "frame": frame_index, "time": round(frame_index / fps, 4),
                                   "faces": faces}))
                if args.out:
                    writer = writer or open_video_writer(Path(args.out), fps, image.shape[1], image.shape[0])
                    writer.write(cv2.cvtColor(draw_overlay(image, faces), cv2.COLOR_RGB2BGR))
                frame_index += 1
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if frame_index == 0:
        raise ValueError(f"no frame could be read from {path} (empty or corrupt video)")
    if writer is not None and (not Path(args.out).is_file() or Path(args.out).stat().st_size == 0):
        raise ValueError(f"writing the overlay video {args.out} failed (is the disk full?)")
    print(f"{frame_index} frames at {fps:g} fps: {with_face} with a face, {tracker.next_id} track(s)"
          + (f"; overlay video {args.out}" if args.out else ""), file=sys.stderr)
    return 0


def open_video_writer(path: Path, fps: float, width: int, height: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*VIDEO_FOURCC.get(path.suffix.lower(), "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise ValueError(f"cannot write the overlay video {path} (use .mp4 or .avi)")
    return writer


# ---------------------------------------------------------------------------------------- CLI
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.detect", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("input", help="an image (any size; grey, RGB or RGBA; 8 or 16 bit), a folder of images or a video")
    p.add_argument("--checkpoint", default=None, help="a .pt written by training.train or training.convert "
                                                      "(default: the newest runs/*/best.pt)")
    p.add_argument("--box", default=None, help="x,y,w,h: the face's landmark box in image pixels (every image or "
                                               "frame); skips the detector")
    p.add_argument("--out", default=None, help="overlay: an image file (image input), a folder (folder input) "
                                               "or a video file, .mp4 or .avi (video input)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--flip-test", action="store_true", help="average each crop's heatmaps with its mirror's")
    p.add_argument("--batch-size", type=int_at_least(1), default=16, help="images or frames per model batch")
    g = p.add_argument_group("face detector (training/face_detector.py)")
    g.add_argument("--cascade", default=None, help="one Haar cascade XML instead of the bundled passes")
    g.add_argument("--single-pass", action="store_true", help="only the first Haar pass (frontalface_default)")
    g.add_argument("--yunet", default=None, metavar="ONNX", help="a YuNet face detector model "
                   "(OpenCV Zoo's face_detection_yunet_2023mar.onnx) run by cv2.FaceDetectorYN")
    g.add_argument("--max-faces", type=int_at_least(0), default=0, help="keep the largest N faces (0: all)")
    g = p.add_argument_group("video")
    g.add_argument("--smooth", action="store_true", help="One Euro filtering of each track's landmarks")
    g.add_argument("--smooth-cutoff", type=float_above(0), default=1.0, help="One Euro min cutoff, Hz (lower: steadier)")
    g.add_argument("--smooth-beta", type=float_at_least(0), default=0.05, help="One Euro speed coefficient "
                                                                                "(higher: less lag)")
    args = p.parse_args(argv)
    if args.box is not None:
        try:
            args.box = parse_box(args.box)
        except ValueError as exc:
            p.error(str(exc))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    keep_freed_memory()
    source = Path(args.input)
    if not source.exists():
        raise FileNotFoundError(f"image file not found: {source}" if not is_video(source)
                                else f"video file not found: {source}")
    if args.out:
        check_out(Path(args.out), source)
    device = resolve_device(args.device)
    args.checkpoint = find_checkpoint(args.checkpoint)
    find = FaceFinder(args.box, None if args.box is not None else build_detector(args.cascade, args.yunet,
                                                                                 args.single_pass), args.max_faces)
    predictor = Predictor.from_checkpoint(args.checkpoint, device, flip_test=args.flip_test,
                                          batch_size=args.batch_size)
    try:
        if source.is_dir():
            return run_folder(args, predictor, find)
        if is_video(source):
            return run_video(args, predictor, find)
        return run_image(args, predictor, find)
    except NoFace as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(run(main))
