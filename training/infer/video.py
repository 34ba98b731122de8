"""detect's video input: frames read in order and batched through the model, faces tracked
(tracking.py), one JSON line per frame, and the overlay video writer (.mp4: mp4v, .avi: MJPG)."""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Iterator, List

import cv2
import numpy as np

from ..engine.cli import strict_json
from .overlays import draw_overlay
from .predictor import Predictor
from .records import FaceFinder, face_records, scheme_fields
from .tracking import Tracker

__all__ = ["VIDEO_EXTENSIONS", "VIDEO_FOURCC", "VIDEO_OUT_EXTENSIONS", "is_video", "read_frames", "run_video",
           "open_video_writer"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
VIDEO_FOURCC = {".avi": "MJPG"}     # everything else: mp4v
VIDEO_OUT_EXTENSIONS = (".mp4", ".avi")   # what the overlay video writer writes (mp4v, MJPG)


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


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


def open_video_writer(path: Path, fps: float, width: int, height: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*VIDEO_FOURCC.get(path.suffix.lower(), "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise ValueError(f"cannot write the overlay video {path} (use .mp4 or .avi)")
    return writer
