"""Video files: which paths are videos, their frames read in order and batched, and the overlay
video writer (.mp4: mp4v, .avi: MJPG). detect's video run is training/detect_inputs.py."""
from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Iterator, List

import cv2
import numpy as np

__all__ = ["VIDEO_EXTENSIONS", "VIDEO_FOURCC", "VIDEO_OUT_EXTENSIONS", "is_video", "read_frames", "open_video_writer"]

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


def open_video_writer(path: Path, fps: float, width: int, height: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*VIDEO_FOURCC.get(path.suffix.lower(), "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise ValueError(f"cannot write the overlay video {path} (use .mp4 or .avi)")
    return writer


def __getattr__(name):
    """run_video, detect's video run, moved to training/detect_inputs.py as detect_video: importable
    from here, with a DeprecationWarning, until awing 0.4."""
    if name == "run_video":
        warnings.warn("training.infer.video.run_video is now training.detect_inputs.detect_video; the old path is "
                      "removed in awing 0.4", DeprecationWarning, stacklevel=2)
        return importlib.import_module("training.detect_inputs").detect_video
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
