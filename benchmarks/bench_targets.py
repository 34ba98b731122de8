"""Benchmark of training-target generation: batched awing_ext kernels vs a per-sample pipeline.

What one "sample" is: the targets of one 68-point face at 64 x 64, sigma 1:
  * 68 landmark heatmaps (Gaussian, 3-sigma radius),
  * 1 boundary heatmap (the 13 curves of the 68-point scheme, exp(-d^2/2) within 3 px),
  * the Adaptive Wing loss-map mask (3 x 3 grey dilation > 0.2) of those 69 channels.

Implementations:
  * per-sample (CPU, one sample at a time, the common data-loader kind): per-landmark Gaussian
    patches in numpy (sub-pixel centre, 6 sigma + 1 patch pasted with clipping); the boundary
    drawn with cv2.polylines (sub-pixel, shift=4) per curve on a 64 x 64 canvas, then
    cv2.distanceTransform (DIST_L2, mask 5) and a Gaussian of the distance; the mask with
    scipy.ndimage.grey_dilation on the (69, 64, 64) stack. Its curves are polylines through the
    landmarks (cheaper than the splines the kernels draw), so it is a generous baseline.
  * batched (each device present): awing_ext.render_heatmaps + render_boundaries (Catmull-Rom
    splines, 8 segments per span) + loss_map_mask on the heatmaps and on the boundary, for the
    whole batch in four op calls.

Faces: a procedural 68-point template (iBUG order) under a random similarity transform (scale
0.8-1.1, rotation +-20 deg, shift +-4 px) plus 0.5 px jitter per point; fixed seed.

Reported: median ms per call (benchmarks.common.time_ms: --repeat timed runs after --warmup),
samples per second, and the speed-up over the per-sample pipeline's samples per second; for the
batched rows, also the median ms of each op alone and the write floor: zero_() of one
preallocated buffer holding as many bytes as the four outputs (writing the targets' bytes once,
the least any implementation must do), with the call's time over that floor.

Allocation: the batched outputs are large (a batch of 32 is 36 MB of heatmaps). glibc serves such
blocks with mmap and returns them on free, so every call would pay first-touch page faults, which
are very slow on some VMs; benchmarks/common.py therefore makes glibc keep freed memory for reuse
(training/core/runtime.py, as the training loop does and as the CUDA caching allocator does on GPUs).

Run from the repository root:  python -m benchmarks.bench_targets [--quick] [--help]
"""
import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

import awing_ext

from .common import (MALLOC_KEEPS_FREED_MEMORY, add_common_arguments, environment, fmt, format_environment, markdown_table, ratio, resolve_devices, time_ms,
                     write_json)

SIZE = 64
SIGMA = 1.0
TRUNCATE = 3.0
THRESHOLD = 0.2
SEED = 0
BATCHES = (8, 32, 128)
BASELINE_SAMPLES = 16         # faces per timed run of the per-sample pipeline
DEFAULT_JSON = "benchmarks/results/targets.json"
QUICK_JSON = "benchmarks/results/targets_quick.json"


# ------------------------------------------------------------------------------------ faces

def face_template() -> np.ndarray:
    """A plausible frontal 68-point face (iBUG order) in a 64 x 64 heatmap, (68, 2) (x, y)."""
    p = np.zeros((68, 2))
    t = np.linspace(math.pi, 0, 17)
    p[0:17] = np.stack([32 + 23 * np.cos(t), 30 + 25 * np.sin(t)], 1)           # cheek
    bx = np.linspace(13, 28, 5)
    p[17:22] = np.stack([bx, 20 - 3 * np.sin(np.linspace(0, math.pi, 5))], 1)    # left brow
    p[22:27] = np.stack([64 - bx[::-1], 20 - 3 * np.sin(np.linspace(0, math.pi, 5))], 1)
    p[27:31] = np.stack([np.full(4, 32.0), np.linspace(25, 36, 4)], 1)           # nose bridge
    p[31:36] = np.stack([np.linspace(27, 37, 5), [38.5, 39.5, 40, 39.5, 38.5]], 1)  # nose bottom

    def eye(cx):
        a = np.array([math.pi, 2 * math.pi / 3 + math.pi, 4 * math.pi / 3 + math.pi, 0,
                      math.pi / 3, 2 * math.pi / 3])
        return np.stack([cx + 5 * np.cos(a), 27 + 2 * np.sin(a)], 1)

    p[36:42] = eye(22)
    p[42:48] = eye(42)
    a = np.concatenate([np.linspace(math.pi, 2 * math.pi, 7), np.linspace(0, math.pi, 7)[1:-1]])
    p[48:60] = np.stack([32 + 10 * np.cos(a), 47 + 4 * np.sin(a)], 1)           # outer lips
    a = np.concatenate([np.linspace(math.pi, 2 * math.pi, 5), np.linspace(0, math.pi, 5)[1:-1]])
    p[60:68] = np.stack([32 + 7 * np.cos(a), 47 + 1.5 * np.sin(a)], 1)          # inner lips
    return p


def random_faces(n: int, seed: int = SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = face_template() - 32
    out = np.empty((n, 68, 2))
    for i in range(n):
        s = rng.uniform(0.8, 1.1)
        r = math.radians(rng.uniform(-20, 20))
        rot = s * np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
        out[i] = base @ rot.T + 32 + rng.uniform(-4, 4, 2) + rng.normal(0, 0.5, (68, 2))
    return out.astype(np.float32)


# ---------------------------------------------------------------------- per-sample pipeline

def per_sample_targets(points: np.ndarray, curves, cv2, grey_dilation):
    """Targets of one face with numpy/OpenCV/scipy: (69, H, W) heatmaps and the (69, H, W) mask."""
    maps = np.zeros((69, SIZE, SIZE), np.float32)
    radius = int(math.ceil(TRUNCATE * SIGMA))
    for k, (x, y) in enumerate(points):             # per-landmark Gaussian patch
        ix, iy = int(round(x)), int(round(y))
        x0, x1 = max(ix - radius, 0), min(ix + radius + 1, SIZE)
        y0, y1 = max(iy - radius, 0), min(iy + radius + 1, SIZE)
        if x0 >= x1 or y0 >= y1:
            continue
        gx = np.arange(x0, x1, dtype=np.float32) - x
        gy = np.arange(y0, y1, dtype=np.float32)[:, None] - y
        r2 = gx * gx + gy * gy
        maps[k, y0:y1, x0:x1] = np.where(r2 < (TRUNCATE * SIGMA) ** 2, np.exp(-r2 / (2 * SIGMA**2)), 0)
    canvas = np.full((SIZE, SIZE), 255, np.uint8)   # boundary: polylines + distance transform
    for curve in curves:
        pts = np.round(points[list(curve)] * 16).astype(np.int32)[None]
        cv2.polylines(canvas, pts, False, 0, 1, cv2.LINE_AA, shift=4)
    canvas = np.where(canvas < 128, 0, 255).astype(np.uint8)
    dist = cv2.distanceTransform(canvas, cv2.DIST_L2, 5)
    maps[68] = np.where(dist < TRUNCATE * SIGMA, np.exp(-dist * dist / (2 * SIGMA**2)), 0)
    mask = (grey_dilation(maps, size=(1, 3, 3)) > THRESHOLD).astype(np.float32)
    return maps, mask


# ------------------------------------------------------------------------------- main

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    add_common_arguments(parser, DEFAULT_JSON, QUICK_JSON)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None,
                        help=f"batch sizes of the batched kernels (default: {list(BATCHES)}; 32 with --quick)")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 5 if args.quick else 30
    if args.warmup is None:
        args.warmup = 1 if args.quick else 3
    args.batch_sizes = args.batch_sizes or ([32] if args.quick else list(BATCHES))
    args.json = args.json or Path(QUICK_JSON if args.quick else DEFAULT_JSON)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import cv2
        from scipy.ndimage import grey_dilation
    except ImportError as exc:
        raise SystemExit(f"error: the per-sample baseline needs OpenCV and scipy ({exc}); "
                         "pip install -r requirements-dev.txt")
    devices = resolve_devices(args.devices)
    env = environment()
    print(format_environment(env))
    curves = awing_ext.get_scheme("68").curves
    faces = random_faces(max(args.batch_sizes + [BASELINE_SAMPLES]))

    # Per-sample baseline (CPU).
    base_faces = faces[:BASELINE_SAMPLES]
    t = time_ms(lambda: [per_sample_targets(p, curves, cv2, grey_dilation) for p in base_faces], "cpu",
                repeat=max(3, args.repeat // 3), warmup=1)
    base_sps = BASELINE_SAMPLES / (t.median_ms / 1e3)
    results = [{"impl": "per-sample numpy/cv2/scipy", "device": "cpu", "batch": 1,
                "samples_per_call": BASELINE_SAMPLES, "timing": t.to_dict(), "samples_per_s": base_sps,
                "speedup": 1.0}]

    for device in devices:
        for n in args.batch_sizes:
            lm = torch.from_numpy(faces[:n]).to(device)

            def heat():
                return awing_ext.render_heatmaps(lm, SIZE, SIGMA)

            def bound():
                return awing_ext.render_boundaries(lm, "68", SIZE, SIGMA)

            hm, bd = heat(), bound()

            def mask():
                return awing_ext.loss_map_mask(hm, THRESHOLD), awing_ext.loss_map_mask(bd, THRESHOLD)

            def all_targets():
                h, b = heat(), bound()
                return h, b, awing_ext.loss_map_mask(h, THRESHOLD), awing_ext.loss_map_mask(b, THRESHOLD)

            out_bytes = sum(t.numel() * t.element_size() for t in all_targets())
            floor_buffer = torch.empty(out_bytes, dtype=torch.uint8, device=device)
            floor = time_ms(floor_buffer.zero_, device, repeat=args.repeat, warmup=args.warmup)
            total = time_ms(all_targets, device, repeat=args.repeat, warmup=args.warmup)
            parts = {name: time_ms(fn, device, repeat=args.repeat, warmup=args.warmup).median_ms
                     for name, fn in (("heatmaps", heat), ("boundary", bound), ("loss_map_mask", mask))}
            sps = n / (total.median_ms / 1e3)
            results.append({"impl": "batched awing_ext", "device": device, "batch": n, "samples_per_call": n,
                            "timing": total.to_dict(), "parts_median_ms": parts, "samples_per_s": sps,
                            "speedup": ratio(sps, base_sps), "output_bytes": out_bytes,
                            "write_floor_ms": floor.median_ms,
                            "over_write_floor": ratio(total.median_ms, floor.median_ms)})
            del floor_buffer

    headers = ["pipeline", "device", "batch", "ms / call", "heatmaps ms", "boundary ms", "weight map ms",
               "write floor ms", "x floor", "samples/s", "speed-up"]
    rows = []
    for r in results:
        parts = r.get("parts_median_ms", {})
        rows.append([r["impl"], r["device"], str(r["batch"]), fmt(r["timing"]["median_ms"], ".3f"),
                     fmt(parts.get("heatmaps"), ".3f"), fmt(parts.get("boundary"), ".3f"),
                     fmt(parts.get("loss_map_mask"), ".3f"), fmt(r.get("write_floor_ms"), ".3f"),
                     fmt(r.get("over_write_floor"), ".1f"), fmt(r["samples_per_s"], ",.0f"),
                     fmt(r["speedup"], ".1f") + "x"])
    print()
    print(f"Targets of 68-point faces at {SIZE}x{SIZE}, sigma {SIGMA}: 68 heatmaps + 1 boundary + loss-map mask "
          f"(per-sample row: {BASELINE_SAMPLES} faces per call, one at a time)")
    print()
    print(markdown_table(headers, rows))
    write_json(args.json, {"benchmark": "targets", "environment": env,
                           "config": {"size": SIZE, "sigma": SIGMA, "truncate": TRUNCATE, "threshold": THRESHOLD,
                                      "points": 68, "repeat": args.repeat, "warmup": args.warmup,
                                      "batches": args.batch_sizes, "baseline_samples": BASELINE_SAMPLES,
                                      "malloc_keeps_freed_memory": MALLOC_KEEPS_FREED_MEMORY},
                           "results": results})
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
