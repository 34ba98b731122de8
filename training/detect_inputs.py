"""detect's runs, one per input kind: an image (one JSON object), a folder of images (JSON lines,
one per image) and a video (JSON lines, one per frame, faces tracked); each prints its records,
writes the overlays --out names and reports on stderr. Also the checkpoint detect finds when none
is given, and the check of --out before anything loads. The library pieces they use (Predictor,
face records, overlays, tracking, video I/O) are training/infer."""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Optional

import cv2

from .core.cli import strict_json
from .data.io import IMAGE_EXTENSIONS, DataError
from .infer.overlays import draw_overlay, write_image
from .infer.predictor import Predictor, as_rgb_image
from .infer.records import FaceFinder, face_records, scheme_fields
from .infer.tracking import Tracker
from .infer.video import VIDEO_EXTENSIONS, VIDEO_OUT_EXTENSIONS, is_video, open_video_writer, read_frames

__all__ = ["NoFace", "find_checkpoint", "check_out", "detect_image", "detect_folder", "detect_video"]


class NoFace(Exception):
    """A single image in which the detector found no face (exit code 1)."""


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


def detect_image(args, predictor: Predictor, find: FaceFinder) -> int:
    image = as_rgb_image(args.input)
    faces = find(image)
    if not faces:
        raise NoFace(f"no face found in {args.input} (try --box x,y,w,h)")
    records = face_records(predictor, [image], [faces])[0]
    if args.out:
        write_image(Path(args.out), draw_overlay(image, records))
        print(f"overlay written: {args.out}", file=sys.stderr)
    source = {"onnx": str(args.onnx)} if getattr(args, "onnx", None) else {"checkpoint": str(args.checkpoint)}
    print(strict_json({"image": str(args.input), **source, "faces": records, **scheme_fields(predictor)}))
    return 0


def detect_folder(args, predictor: Predictor, find: FaceFinder) -> int:
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
            print(strict_json({"image": str(path), "faces": records[i], **scheme_fields(predictor)}))
            if args.out:
                write_image(Path(args.out) / overlay_names[path], draw_overlay(images[i], records[i]))
    print(f"{len(paths)} images: {found} with a face, {len(paths) - found - unreadable} without, "
          f"{unreadable} unreadable" + (f"; overlays in {args.out}" if args.out else ""), file=sys.stderr)
    return 0


def detect_video(args, predictor: Predictor, find: FaceFinder) -> int:
    path = Path(args.input)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"cannot open the video {path} (corrupt, or a format this OpenCV's FFmpeg cannot read)")
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if math.isfinite(fps) and fps > 0 else 25.0
    tracker = Tracker(fps, args.smooth, args.smooth_cutoff, args.smooth_beta)
    named = scheme_fields(predictor)
    writer, frame_index, with_face = None, 0, 0
    try:
        for frames in read_frames(capture, args.batch_size):
            records = face_records(predictor, frames, [find(f) for f in frames])
            for image, faces in zip(frames, records):
                tracker.update(frame_index, faces)
                with_face += bool(faces)
                print(strict_json({"video": str(path), "frame": frame_index, "time": round(frame_index / fps, 4),
                                   "faces": faces, **named}))
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
