"""Prediction benchmark on the CPU: face crop -> landmarks, awing's paths beside face_alignment's FAN.

What one call does (timed as a whole, median of --repeat calls after --warmup): B faces of one
image (a 480 x 640 canvas holding a synthetic face; B boxes around it) -> the B crops -> the
model -> decoded landmarks in image pixels. Per-face latency is the B = 1 call; throughput is
B / call time at B = 8 and 32 (--batch-sizes); "batching gain" is a path's throughput at B over
its own at B = 1. Models have random weights (seed 0): the cost does not depend on them.

awing paths (``Predictor.predict_crops``: cv2.warpAffine crop, DARK decoding by awing_ext):
  eager          the FAN in float32, NCHW;
  channels_last  the same with weights and inputs channels-last (``Predictor(channels_last=True)``);
  compile        ``torch.compile(model, dynamic=True)`` (default mode; compiled once per preset, in
                 the first, untimed call: its time is the JSON's first_call_s);
  bf16           ``Predictor(dtype=torch.bfloat16, channels_last=True)``: the model's weights and
                 input in bfloat16, channels-last, the decoding in float32; only where the CPU has
                 native bf16 (AVX512-BF16 or AMX; else the row says so);
  bf16_compile   the same, then ``torch.compile(model, dynamic=True)``;
  onnx           ``python -m training.export --format onnx --with-decoding`` run by onnxruntime
                 (``Predictor.from_onnx``), DARK in the graph, onnxruntime's threads = torch's.
face_alignment (``pip install face-alignment``; optional: without it its row says so): its own
4-stack FAN (``face_alignment.models.FAN(4)``, 256 px input, random weights, nothing downloaded),
run through its own ``FaceAlignment.get_landmarks_from_image(image, detected_faces=boxes)``:
its crop (``utils.crop``), /255, the network in batches of ``max_batch_size`` = B, and
``get_preds_fromhm`` (argmax + quarter offset, to image pixels); flip_input=False and eager
(``compile=False``), as awing's paths run without the flip test. It is compared with awing's
paper preset (4 stacks, 256 px, width 256, depth 4: the same architecture, plus awing's CoordConv
and boundary channels).

Each path of each preset runs in a fresh Python process (--in-process: all in this one), so
what one path leaves behind (torch.compile's worker processes, thread pools, caches) cannot slow
the next one: in one shared process, onnxruntime's B = 1 call took 650 ms in two runs of three
after the torch.compile paths, against 185-205 ms in a process of its own.

Presets: paper (4-stack FAN, 256 px) and small (2 stacks, width 32, 128 px); face_alignment runs
only beside the paper preset. --quick: 3 timed calls after the first (untimed) one, and the paper
preset at B = 1 and 8 only (B = 32 of the paper FAN takes ~1 min a call on 2 cores); about 7
minutes on a 2-core CPU.

    python -m benchmarks.bench_predict [--quick] [--presets paper small] [--batch-sizes 1 8 32]
        [--paths eager channels_last compile bf16 onnx] [--no-face-alignment] [--threads N]
"""
import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from training.data.synthetic import render_synthetic_face
from training.infer.predictor import Predictor, box_to_crop
from training.models import build_model

from .common import add_common_arguments, environment, format_environment, markdown_table, time_ms, write_json

PATHS = ("eager", "channels_last", "compile", "bf16", "bf16_compile", "onnx")
PRESETS = ("paper", "small")
FACE_ALIGNMENT = "face_alignment"
CANVAS = (480, 640)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bf16_supported() -> bool:
    """Native bf16 matrix units (AVX512-BF16 or AMX), where oneDNN runs bf16 convolutions fast."""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if probe is not None:
        try:
            if not probe():
                return False
        except RuntimeError:
            return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def scene(batch: int, seed: int = 0):
    """A canvas with one synthetic face, and `batch` landmark boxes around it (jittered by a
    pixel or two so the crops differ)."""
    rng = np.random.default_rng(seed)
    face, landmarks = render_synthetic_face(rng, 200)
    canvas = np.zeros(CANVAS + (3,), np.uint8)
    oy, ox = 140, 220
    canvas[oy:oy + 200, ox:ox + 200] = face
    lo, hi = landmarks.min(0) + (ox, oy), landmarks.max(0) + (ox, oy)
    boxes = []
    for i in range(batch):
        dx, dy = rng.uniform(-2, 2, size=2)
        boxes.append((float(lo[0] + dx), float(lo[1] + dy), float(hi[0] - lo[0] + 1), float(hi[1] - lo[1] + 1)))
    return canvas, boxes


def awing_runner(path: str, preset: str, batch: int, threads: int, workdir: Path, cache: dict):
    """(call, predictor): call() predicts the B faces of the scene."""
    torch.manual_seed(0)
    model = build_model(preset).eval()
    if path == "onnx":
        key = ("onnx", preset)
        if key not in cache:
            from training.export import LandmarkModel, describe, export_onnx
            out = workdir / f"{preset}.onnx"
            graph = LandmarkModel(model, "dark", 1.0, False).eval()
            start = time.perf_counter()
            export_onnx(graph, out, metadata=describe(graph, {"method": "dark", "sigma": 1.0, "logits": False}))
            cache[key] = (out, time.perf_counter() - start)
        predictor = Predictor.from_onnx(cache[key][0], batch_size=batch, threads=threads)
    elif path == "channels_last":
        predictor = Predictor(model, "cpu", batch_size=batch, channels_last=True)
    elif path in ("bf16", "bf16_compile"):
        key = ("bf16_compile", preset)
        if path == "bf16_compile" and key in cache:
            model = cache[key][0]
        predictor = Predictor(model, "cpu", batch_size=batch, channels_last=True, dtype=torch.bfloat16)
        if path == "bf16_compile":
            if key not in cache:
                cache[key] = (model, torch.compile(model, dynamic=True))
            predictor.model = cache[key][1]
    elif path == "compile":
        key = ("compile", preset)
        if key not in cache:   # one compilation (dynamic batch) serves every batch size
            cache[key] = (model, torch.compile(model, dynamic=True))
        predictor = Predictor(cache[key][0], "cpu", batch_size=batch)
        predictor.model = cache[key][1]
    else:
        predictor = Predictor(model, "cpu", batch_size=batch)
    image, boxes = scene(batch)
    crops = [box_to_crop(b) for b in boxes]
    images = [image] * batch
    return lambda: predictor.predict_crops(images, crops)


def face_alignment_runner(batch: int):
    """call() running face_alignment's get_landmarks_from_image on the scene's B boxes (module
    docstring), or raises ImportError when face_alignment is not installed."""
    import face_alignment
    from face_alignment.api import FaceAlignment, LandmarksType
    from face_alignment.models import FAN

    torch.manual_seed(0)
    fa = FaceAlignment.__new__(FaceAlignment)   # no face detector, no weights: nothing is downloaded
    fa.device, fa.dtype, fa.flip_input, fa.verbose = "cpu", torch.float32, False, False
    fa.landmarks_type, fa.max_batch_size = LandmarksType.TWO_D, batch
    fa.face_detector = type("NoDetector", (), {"reference_scale": 195.0})()
    fa.face_alignment_net = FAN(4).eval()
    image, boxes = scene(batch)
    detected = [np.array([x, y, x + w - 1, y + h - 1, 1.0]) for x, y, w, h in boxes]

    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fa.get_landmarks_from_image(image, detected_faces=detected)

    return call, face_alignment.__version__


def spread(samples):
    q = statistics.quantiles(samples, n=4) if len(samples) >= 2 else [samples[0]] * 3
    return {"median_ms": statistics.median(samples), "min_ms": min(samples), "max_ms": max(samples),
            "p25_ms": q[0], "p75_ms": q[2], "samples_ms": samples}


def measure(call, batch: int, repeat: int, warmup: int) -> dict:
    start = time.perf_counter()
    call()                                  # the first call: compiles, JITs (numba), allocates
    first_s = time.perf_counter() - start
    timing = time_ms(call, "cpu", repeat=repeat, warmup=max(0, warmup - 1))
    stats = spread(timing.samples_ms)
    return {**stats, "batch": batch, "first_call_s": first_s,
            "per_face_ms": stats["median_ms"] / batch, "faces_per_s": 1e3 * batch / stats["median_ms"]}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_predict", description=__doc__.splitlines()[0])
    add_common_arguments(p, "benchmarks/results/predict.json", "benchmarks/results/predict_quick.json")
    p.add_argument("--presets", nargs="+", default=None, choices=PRESETS + ("tiny",),
                   help="model presets (default: paper small)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=None,
                   help="faces per call (default: 1 8 32; --quick: 1 8 for the paper preset)")
    p.add_argument("--paths", nargs="*", default=list(PATHS), choices=PATHS,
                   help="awing paths to time (none: face_alignment's only)")
    p.add_argument("--no-face-alignment", action="store_true", help="leave face_alignment's FAN out")
    p.add_argument("--threads", type=int, default=None, help="torch and onnxruntime threads (default: torch's)")
    p.add_argument("--in-process", action="store_true",
                   help="run every path in this process (default: each path of each preset in a fresh process)")
    p.add_argument("--worker", nargs=2, metavar=("PRESET", "PATH"), default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.devices and args.devices != ["cpu"]:
        p.error("this benchmark times the CPU only")
    args.presets = args.presets or list(PRESETS)
    explicit_batches = args.batch_sizes is not None
    args.batch_sizes = args.batch_sizes or [1, 8, 32]
    args.preset_batch_sizes = {}
    if any(b < 1 for b in args.batch_sizes):
        p.error("--batch-sizes must be >= 1")
    args.repeat = args.repeat if args.repeat is not None else (3 if args.quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    if args.quick and not explicit_batches:
        args.preset_batch_sizes = {"paper": [b for b in args.batch_sizes if b <= 8]}
    args.json = args.json or Path("benchmarks/results/predict_quick.json" if args.quick
                                  else "benchmarks/results/predict.json")
    return args


def run_path(preset: str, path: str, batches, args, workdir: Path) -> list:
    """The rows of one path of one preset, one per batch size (in this process)."""
    rows, cache = [], {}
    for batch in batches:
        row = {"preset": preset, "path": path, "batch": batch}
        if path.startswith("bf16") and not bf16_supported():
            rows.append({**row, "skipped": "this CPU has no native bf16 (AVX512-BF16 or AMX)"})
            continue
        try:
            if path == FACE_ALIGNMENT:
                call, version = face_alignment_runner(batch)
                row["version"] = version
            else:
                call = awing_runner(path, preset, batch, args.threads, workdir, cache)
        except ImportError as exc:   # an optional package: one row says so
            note = ("face_alignment is not installed (pip install face-alignment)" if path == FACE_ALIGNMENT
                    else str(exc))
            log(f"{preset} {path}: skipped: {note}")
            return rows + [{**row, "skipped": note}]
        except Exception as exc:   # noqa: BLE001 - e.g. an export that fails: the row says so
            rows.append({**row, "skipped": f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"})
            continue
        log(f"{preset} {path} B={batch} ...")
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                row.update(measure(call, batch, args.repeat, args.warmup))
            except Exception as exc:   # noqa: BLE001 - a failing path is a row that says so
                row["skipped"] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        if path == "onnx" and ("onnx", preset) in cache:
            row["export_s"] = cache[("onnx", preset)][1]
        rows.append(row)
    return rows


def run_isolated(preset: str, path: str, batches, args, workdir: Path) -> list:
    """run_path in a fresh Python process: what one path leaves behind (torch.compile's worker
    processes, thread pools, caches) cannot slow the next one down."""
    out = workdir / f"{preset}-{path}.json"
    cmd = [sys.executable, "-m", "benchmarks.bench_predict", "--worker", preset, path, "--batch-sizes",
           *map(str, batches), "--repeat", str(args.repeat), "--warmup", str(args.warmup), "--threads",
           str(args.threads), "--json", str(out)]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL)
    if done.returncode != 0 or not out.is_file():
        return [{"preset": preset, "path": path, "batch": b, "skipped": f"failed: worker exit {done.returncode}"}
                for b in batches]
    return json.loads(out.read_text())["results"]


def run_all(args) -> list:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            paths = list(args.paths) + ([FACE_ALIGNMENT] if preset == "paper" and not args.no_face_alignment else [])
            batches = args.preset_batch_sizes.get(preset, args.batch_sizes)
            for path in paths:
                run = run_path if args.in_process else run_isolated
                results += run(preset, path, batches, args, Path(tmp))
    for row in results:   # batching gain: throughput at B over the same path's at B = 1
        single = next((r for r in results if r["preset"] == row["preset"] and r["path"] == row["path"]
                       and r["batch"] == 1 and "faces_per_s" in r), None)
        if single is not None and "faces_per_s" in row:
            row["batching_gain"] = row["faces_per_s"] / single["faces_per_s"]
        fa = next((r for r in results if r["preset"] == row["preset"] and r["path"] == FACE_ALIGNMENT
                   and r["batch"] == row["batch"] and "faces_per_s" in r), None)
        if fa is not None and "faces_per_s" in row:
            row["vs_face_alignment"] = row["faces_per_s"] / fa["faces_per_s"]
    return results


def table(results: list) -> str:
    rows = []
    for r in results:
        label = f"face_alignment {r.get('version', '')} FAN-4".strip() if r["path"] == FACE_ALIGNMENT else r["path"]
        if "skipped" in r:
            rows.append([r["preset"], label, str(r["batch"]), r["skipped"], "", "", "", ""])
            continue
        vs = f"{r['vs_face_alignment']:.2f}x" if "vs_face_alignment" in r else "-"
        gain = f"{r['batching_gain']:.2f}x" if "batching_gain" in r and r["batch"] > 1 else "-"
        rows.append([r["preset"], label, str(r["batch"]),
                     f"{r['median_ms']:.1f} ({r['min_ms']:.1f}-{r['max_ms']:.1f})",
                     f"{r['per_face_ms']:.1f}", f"{r['faces_per_s']:.2f}", gain, vs])
    return markdown_table(["preset", "path", "B", "ms per call, median (min-max)", "ms per face", "faces/s",
                           "batching gain", "vs face_alignment"], rows)


def main(argv=None) -> list:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.threads = torch.get_num_threads()
    if args.worker:   # one path of one preset, for run_isolated
        with tempfile.TemporaryDirectory() as tmp:
            rows = run_path(*args.worker, args.batch_sizes, args, Path(tmp))
        write_json(args.json, {"results": rows})
        return rows
    env = {**environment(), "bf16_native": bf16_supported(), "load_average_before": os.getloadavg()}
    print(format_environment(env) + "\n")
    results = run_all(args)
    env["load_average_after"] = os.getloadavg()   # other work on the machine shows here (1-min, 5-min, 15-min)
    print(table(results))
    print(f"\nOne call = B faces of one image -> crops -> model -> landmarks in image pixels; median (min-max) of "
          f"{args.repeat} calls after {args.warmup} warm-up; {args.threads} threads (torch and onnxruntime); "
          f"random weights. face_alignment: eager, flip_input=False.")
    write_json(args.json, {"benchmark": "predict", "environment": env, "repeat": args.repeat, "warmup": args.warmup,
                           "threads": args.threads, "results": results})
    print(f"load average (1, 5, 15 min) before {env['load_average_before']}, after {env['load_average_after']}: "
          f"above 0 before the run, other processes shared the CPU")
    print(f"raw results: {args.json}")
    return results


if __name__ == "__main__":
    main()
