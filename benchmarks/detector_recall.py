"""The face detector's recall on a folder of photos with 68-point .pts files (one face each).

    python -m benchmarks.detector_recall ../shared/data/faces68

A face counts as found when a detected face's crop (training/infer/face_detector.py) is centred within
30 % of the landmark box's side of that box's centre and its side is 1.0-2.0 x the landmark box's
side (the training crop is 1.25 x); every other detected face is a false detection. Prints one
Markdown row per detector setting: the classic single pass, then each pass added in turn.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from training.data.io import IMAGE_EXTENSIONS, DataError, load_image_rgb, read_pts
from training.infer.face_detector import HAAR_PASSES, HaarFaceDetector


def is_hit(crop, centre, side) -> bool:
    cx, cy, crop_side = crop[:3]
    return bool(np.hypot(cx - centre[0], cy - centre[1]) < 0.3 * side and 1.0 <= crop_side / side <= 2.0)


def recall(detector, samples) -> dict:
    found = false = 0
    missed = []
    for path, image, centre, side in samples:
        hits = [is_hit(f.crop, centre, side) for f in detector(image)]
        found += any(hits)
        false += len(hits) - any(hits)
        if not any(hits):
            missed.append(path.name)
    return {"found": found, "false": false, "missed": missed}


def load_samples(folder: Path):
    samples = []
    for path in sorted(p for p in folder.iterdir() if p.suffix in IMAGE_EXTENSIONS):
        pts_path = path.with_suffix(".pts")
        if not pts_path.is_file():
            continue
        try:
            pts = read_pts(pts_path)
            image = load_image_rgb(path)
        except DataError as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            continue
        lo, hi = pts.min(0), pts.max(0)
        samples.append((path, image, (lo + hi) / 2, float(max(hi - lo))))
    return samples


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path)
    args = p.parse_args(argv)
    samples = load_samples(args.folder)
    if not samples:
        print(f"error: no image with a .pts file in {args.folder}", file=sys.stderr)
        return 2
    print(f"{len(samples)} photos in {args.folder}\n")
    print("| Haar passes | found | recall | false detections | missed |")
    print("|---|---|---|---|---|")
    for n in range(1, len(HAAR_PASSES) + 1):
        r = recall(HaarFaceDetector(passes=HAAR_PASSES[:n]), samples)
        last = HAAR_PASSES[n - 1]
        name = f"+ {last.cascade}" + (" equalised" if last.equalize else "") + \
               (f" rotated {last.rotation:+g} deg" if last.rotation else "") + f" (minNeighbors {last.min_neighbors})"
        print(f"| {n}: {name} | {r['found']}/{len(samples)} | {r['found'] / len(samples):.0%} | {r['false']} | "
              f"{', '.join(r['missed']) or '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
