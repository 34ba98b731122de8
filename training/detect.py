"""Find faces and predict their landmarks in an image, a folder of images or a video.

    python -m training.detect photo.jpg [--out overlay.png]            # one JSON object
    python -m training.detect photos/ [--out overlays/]                 # JSON lines, one per image
    python -m training.detect clip.mp4 --smooth [--out overlay.mp4]     # JSON lines, one per frame
    python -m training.detect photos/ --onnx model.onnx                 # an ONNX export, run by onnxruntime

Per face: a face box from the detector (training/infer/face_detector.py: OpenCV's Haar cascades in
several passes, or ``--yunet model.onnx``), or the ``--box x,y,w,h`` given (the tight box around
the face's landmarks, as training crops); the crop the model was trained on; the Predictor
(training/infer/predictor.py) -> landmarks in image pixels and per-point scores. ``--flip-test`` averages
the heatmaps of each crop and its mirror; ``--decode dark|taylor|quarter|integral`` picks how
heatmaps become points (awing_ext.decode_heatmaps, docs/evaluation.md).

Output (stdout), per image or frame:
    {"image": PATH, "faces": [{"box": [x, y, w, h], "crop": [cx, cy, side, angle],
                               "landmarks": [[x, y], ...], "scores": [...],
                               "low_confidence": [false, ...]}, ...],
     "scheme": NAME, "points": [name, ...]}
    {"video": PATH, "frame": i, "time": seconds, "faces": [{..., "track": id}, ...], "scheme": ..., "points": ...}
with (x, y) image pixels, pixel centres at integer coordinates (docs/design.md), the i-th
landmark being the point "points"[i] of the checkpoint's landmark scheme; "crop" is the
square the model saw (centre, side, roll in degrees counter-clockwise); "scores" are heatmap peaks
(higher = more confident); "low_confidence" flags the points whose peak is below 0.2, planes the
model left flat, whose landmark is a guess (training/core/codec.py). A folder's unreadable image gives {"image": PATH, "error": "..."} and
the run goes on. The output is strict JSON: a value that is not finite is written as null.

Video: frames are read in order (OpenCV's VideoCapture: mp4, avi, mov, mkv, ... as its FFmpeg
build reads), batched through the model, and faces are linked across frames into tracks (nearest
crop centre within half a crop side; a track unseen for a second ends). ``--smooth`` filters
each track's landmarks with a One Euro filter (training/infer/smoothing.py; ``--smooth-cutoff``,
``--smooth-beta``) against frame-to-frame jitter. ``--out`` writes the overlay video (.mp4: mp4v,
.avi: MJPG) at the input's frame rate.

``--out`` is checked before the model loads: an image file OpenCV can write (image input), a
folder (folder input), a .mp4/.avi file (video input), in a folder that can be written; a write
that fails anyway (a full disk) is an error when it happens.

Speed: ``--bf16`` runs the checkpoint's model in bfloat16, channels-last (2.3-2.9x faster than float32
on CPUs with AVX512-BF16/AMX, docs/prediction.md "Speed"; the points move slightly).

Batching: a folder's images and a video's frames are read ``--batch-size`` at a time, and the
crops of all their faces go through the model together (in batches of ``--batch-size``); the
results are those of one image at a time within float tolerance.

Exit codes: 0; 1 when a single image has no face ("no face found in IMAGE (try --box x,y,w,h)"
on stderr); 2 for bad arguments and files. Model: ``--checkpoint``, or ``--onnx model.onnx`` (a
``python -m training.export --format onnx`` file, with or without --with-decoding, run by
onnxruntime on the CPU: the same detector, crops and landmarks; needs the onnx extra), or the
newest runs/*/best.pt under the current directory.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Tuple

import numpy as np
import torch

from .core.codec import add_decode_option
from .core.cli import UsageError, float_above, float_at_least, int_at_least, run
from .core.runtime import keep_freed_memory, resolve_device
from .infer.face_detector import build_detector
from .infer.predictor import Predictor
from .infer.records import FaceFinder
from .detect_inputs import NoFace, check_out, detect_folder, detect_image, detect_video, find_checkpoint
from .infer.video import is_video

__all__ = ["parse_box", "parse_args", "main"]

# names detect.py held before the work moved to training/infer (and before 0.3.0's moves): still
# importable from here, with a DeprecationWarning, until awing 0.4
_MOVED = {
    "VIDEO_EXTENSIONS": "video", "VIDEO_FOURCC": "video", "VIDEO_OUT_EXTENSIONS": "video",
    "read_frames": "video", "open_video_writer": "video", "write_image": "overlays", "draw_overlay": "overlays", "BOX_COLOR": "overlays",
    "CROP_COLOR": "overlays", "POINT_COLOR": "overlays", "face_records": "records",
    "Track": "tracking", "Tracker": "tracking", "CROP_SCALE": "predictor", "box_to_crop": "predictor",
    "DetectorUnavailable": "face_detector", "HAAR_SHIFT": "face_detector", "HAAR_SIDE": "face_detector",
    "haar_box_to_crop": "face_detector",
}


def __getattr__(name):
    if name in _MOVED:
        import importlib
        module = f"training.infer.{_MOVED[name]}"
        warnings.warn(f"training.detect.{name} is now {module}.{name}; the old path is removed in awing 0.4",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.detect", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("input", help="an image (any size; grey, RGB or RGBA; 8 or 16 bit), a folder of images or a video")
    p.add_argument("--checkpoint", default=None, help="a .pt written by training.train or training.convert "
                                                      "(default: the newest runs/*/best.pt)")
    p.add_argument("--onnx", default=None, metavar="MODEL.onnx",
                   help="instead of a checkpoint: an export of training.export --format onnx, run by onnxruntime "
                        "(CPU; pip install \"awing[onnx]\")")
    p.add_argument("--box", default=None, help="x,y,w,h: the face's landmark box in image pixels (every image or "
                                               "frame); skips the detector")
    p.add_argument("--out", default=None, help="overlay: an image file (image input), a folder (folder input) "
                                               "or a video file, .mp4 or .avi (video input)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--flip-test", action="store_true", help="average each crop's heatmaps with its mirror's")
    p.add_argument("--bf16", action="store_true",
                   help="run the model in bfloat16, channels-last (decoding stays float32): 2.3-2.9x faster than "
                        "float32 on CPUs with AVX512-BF16/AMX (docs/prediction.md, Speed); moves points slightly")
    p.add_argument("--batch-size", type=int_at_least(1), default=16,
                   help="images or frames read together; their faces' crops go through the model in batches "
                        "of this size")
    add_decode_option(p, default=None, note=" (default: dark; with --onnx: the export's own)")
    g = p.add_argument_group("face detector (training/infer/face_detector.py)")
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
    if args.onnx is not None and args.checkpoint is not None:
        p.error("--checkpoint and --onnx name two models: pass one")
    if args.onnx is not None and args.bf16:
        p.error("--bf16 applies to a checkpoint (an ONNX export runs in float32)")
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
    if args.onnx is None:
        device = resolve_device(args.device)
        args.checkpoint = find_checkpoint(args.checkpoint)
    elif not Path(args.onnx).is_file():
        raise FileNotFoundError(f"ONNX model not found: {args.onnx}")
    find = FaceFinder(args.box, None if args.box is not None else build_detector(args.cascade, args.yunet,
                                                                                 args.single_pass), args.max_faces)
    if args.onnx is None:
        fast = {"dtype": torch.bfloat16, "channels_last": True} if args.bf16 else {}
        predictor = Predictor.from_checkpoint(args.checkpoint, device, flip_test=args.flip_test,
                                              batch_size=args.batch_size, decode_method=args.decode or "dark", **fast)
    else:
        predictor = onnx_predictor(args)
    try:
        if source.is_dir():
            return detect_folder(args, predictor, find)
        if is_video(source):
            return detect_video(args, predictor, find)
        return detect_image(args, predictor, find)
    except NoFace as exc:
        print(exc, file=sys.stderr)
        return 1


def onnx_predictor(args) -> Predictor:
    """--onnx: the Predictor on an ONNX export (onnxruntime's CPU provider; CUDA's for --device
    cuda when this onnxruntime has it)."""
    from .infer.onnx_model import OnnxRuntimeMissing
    providers = ["CPUExecutionProvider"]
    try:
        if args.device.startswith("cuda"):
            from .infer.onnx_model import import_onnxruntime
            if "CUDAExecutionProvider" not in import_onnxruntime().get_available_providers():
                raise UsageError(f"--device {args.device} with --onnx needs onnxruntime-gpu (this onnxruntime runs "
                                 f"on the CPU only: leave --device out)")
            providers = ["CUDAExecutionProvider"] + providers
        return Predictor.from_onnx(args.onnx, flip_test=args.flip_test, batch_size=args.batch_size,
                                   decode_method=args.decode, providers=providers)
    except OnnxRuntimeMissing as exc:
        raise UsageError(f"--onnx: {exc}") from None
    except ValueError as exc:
        raise UsageError(f"--onnx: {exc}") from None


if __name__ == "__main__":
    sys.exit(run(main))
