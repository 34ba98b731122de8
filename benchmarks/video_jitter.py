"""Frame-to-frame landmark jitter of `detect` on a still face in video, with and without --smooth.

    python -m benchmarks.video_jitter --checkpoint runs/demo/best.pt [--photo face.jpg] [--frames 100]

Writes a video of the photo (default: a synthetic face, found through its landmark box) with fresh
Gaussian pixel noise in every frame (--noise grey levels: what a still face looks like to a
camera), runs ``python -m training.detect`` on it plainly and with ``--smooth``, and prints the
mean distance a landmark moves between consecutive frames (a still face should not move at all),
and the seconds each run took.
"""
import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from training import detect
from training.data.io import load_image_rgb
from training.data.synthetic import render_synthetic_face


def run_detect(argv) -> tuple:
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = detect.main(argv)
    if code != 0:
        raise SystemExit(f"detect exited {code}")
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    return rows, time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--photo", default=None, help="a photo with one face (default: a synthetic face)")
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--noise", type=float, default=6.0, help="pixel noise std, grey levels")
    args = p.parse_args(argv)
    extra = []
    if args.photo:
        image = load_image_rgb(args.photo)
    else:
        image, points = render_synthetic_face(np.random.default_rng(0), 256)
        lo, hi = points.min(0), points.max(0)
        extra = ["--box", ",".join(f"{v:.2f}" for v in (lo[0], lo[1], hi[0] - lo[0] + 1, hi[1] - lo[1] + 1))]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "still.avi"
        h, w = image.shape[:2]
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), args.fps, (w, h))
        for _ in range(args.frames):
            noisy = np.clip(image + rng.normal(0, args.noise, image.shape), 0, 255).astype(np.uint8)
            writer.write(cv2.cvtColor(noisy, cv2.COLOR_RGB2BGR))
        writer.release()
        print(f"{args.frames} frames of {args.photo or 'a synthetic face'} ({w}x{h}), noise sigma {args.noise:g}, "
              f"{args.fps:g} fps\n")
        print("| detect | mean landmark move per frame, px | seconds |")
        print("|---|---:|---:|")
        for name, flags in (("plain", []), ("--smooth", ["--smooth"])):
            rows, seconds = run_detect([str(video), "--checkpoint", args.checkpoint, *extra, *flags])
            track = [next((f for f in r["faces"] if f["track"] == 0), None) for r in rows]
            pts = np.array([f["landmarks"] for f in track if f is not None])
            move = np.linalg.norm(np.diff(pts, axis=0), axis=2).mean()
            print(f"| {name} | {move:.3f} | {seconds:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
