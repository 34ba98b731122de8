"""Export a trained checkpoint to TorchScript or ONNX, and check the export against PyTorch.

    python -m training.export --checkpoint CKPT --format torchscript|onnx [--out PATH] [--mobile]
    python -m training.export --checkpoint CKPT --format onnx --with-decoding [--decode dark]

The exported graph (``HeatmapModel``, the default):
  input  "images":   float32 (N, 3, S, S), RGB, normalised as in training
                     (models.inputs.model_input): (pixel / 255 - mean) / std, the mean and std
                     of the model config, stated in the sidecar; N is dynamic;
  output "heatmaps": float32 (N, K + 1, S/4, S/4), the last stack's raw heatmaps: channels
                     0..K-1 the landmarks (scheme order), channel K the boundary heatmap (absent
                     for a model trained without it).
S, K and the rest come from the checkpoint's "model_config". Decoding stays outside this graph:
awing_ext's decode_heatmaps is a custom op (no ONNX or mobile kernel); decode with it (after a
sigmoid for a model trained with --loss focal, with the checkpoint's sigma: the sidecar's
"decoding" says both), then map heatmap pixels to crop pixels with
``x_crop = (x_hm + 0.5) * S / (S/4) - 0.5`` (HeatmapCodec.heatmap_to_crop) and on to the image with
the inverse of the crop's affine matrix (the sidecar's "crop"; training.detect does all of it).

With ``--with-decoding`` the graph is ``LandmarkModel`` (training/infer/graph_decoding.py): the
model, its activation (sigmoid for --loss focal), the ``--decode`` method (dark, taylor, quarter or
integral, with the checkpoint's sigma) written in standard ops (no awing_ext op in the graph), and
the heatmap -> crop mapping:
  output "landmarks": float32 (N, K, 2), (x, y) in crop pixels of the S x S input;
  output "scores":    float32 (N, K), each point's heatmap peak (after the activation).
It is verified against the PyTorch model decoded by awing_ext.decode_heatmaps (the Predictor's
own prediction) on a batch of random uint8 crops and on face crops (the synthetic renderer's
test faces): it fails (exit 1, the figure in the message) when a landmark differs by more than
--landmark-tolerance (0.01 crop px) or a score by more than --tolerance x max(1, max |score|).
``Predictor.from_onnx`` and ``detect --onnx`` run such a file with onnxruntime.

The ONNX file carries its description (the sidecar less the verification) as the metadata
property "awing" (onnxruntime: ``session.get_modelmeta().custom_metadata_map["awing"]``).

Outputs: --out (default: model.pt / model.onnx beside the checkpoint; model.ptl with --mobile),
and a JSON sidecar (same name + ".json") with the model config, the landmark scheme (its point
names: channel i is point i), input size, normalisation, output layout and the verification
result. Verification runs the exported file (torch.jit.load; onnxruntime for ONNX, when
installed) on a random batch of a size different from the one traced with, and compares with
the PyTorch model: it fails (exit 1) when the max abs difference exceeds --tolerance x max(1,
max |output|).

TorchScript: torch.jit.trace + torch.jit.save; --mobile also runs
torch.utils.mobile_optimizer.optimize_for_mobile and saves for the lite interpreter (.ptl).
ONNX: torch.onnx.export, opset --opset (18), a dynamic batch axis, needs the onnx package. By
default the TorchScript-based exporter (dynamo=False: ~2 s for the tiny model, no onnxscript);
--dynamo uses the torch.export-based one (needs onnxscript; ~10 s for the tiny model). Both give
the same outputs here (max abs diff vs PyTorch ~2e-7 for the tiny model).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn

from awing_ext.scheme_file import scheme_to_dict
from awing_ext.schemes import LandmarkScheme

from .core.codec import HeatmapCodec, checkpoint_decoding
from .core.geometry import CROP_SCALE
from .core.cli import UsageError, float_above, int_at_least, run
from .core.checkpoint import checkpoint_scheme, load_checkpoint
from .models.loading import load_model
from .infer.graph_decoding import GRAPH_DECODE_METHODS, LandmarkModel

__all__ = ["HeatmapModel", "LandmarkModel", "export_torchscript", "export_onnx", "verify", "verify_decoding",
           "sidecar", "main", "ExportMismatch", "METADATA_KEY"]

FORMATS = ("torchscript", "onnx")
METADATA_KEY = "awing"       # the ONNX metadata property holding the export's description
OUTPUTS = {False: ("heatmaps",), True: ("landmarks", "scores")}   # by --with-decoding


class ExportMismatch(RuntimeError):
    """The exported model's outputs differ from the PyTorch model's beyond the tolerance."""


class HeatmapModel(nn.Module):
    """A model (any --model) returning only its last output's heatmaps (the FAN's last stack):
    (N, 3, S, S) -> (N, K [+1], S/4, S/4)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.config = model.config

    def forward(self, images: Tensor) -> Tensor:
        return self.model(images)[-1]


def _example(model: HeatmapModel, batch: int, seed: int = 0) -> Tensor:
    s = model.config.input_size
    g = torch.Generator().manual_seed(seed)
    # normalised images lie in [-2, 2]
    return torch.rand(batch, 3, s, s, generator=g).mul_(4).sub_(2)


def _xnnpack() -> bool:
    probe = getattr(torch._C, "_is_xnnpack_enabled", None)
    return bool(probe()) if probe is not None else True


def export_torchscript(model: nn.Module, path: Path, mobile: bool = False) -> dict:
    """Traces `model` (eval, CPU) and saves it (frozen: weights inlined, conv+BN folded); with
    `mobile`, for the lite interpreter, through optimize_for_mobile where torch has XNNPACK (the
    optimiser needs it; without it the traced model is saved unoptimised, and the returned
    {"mobile_optimized": False, "note": ...} says so)."""
    info = {}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        traced = torch.jit.trace(model, _example(model, 1, seed=1), check_trace=False)
        if mobile:
            if _xnnpack():
                from torch.utils.mobile_optimizer import optimize_for_mobile
                traced = optimize_for_mobile(traced)
                info["mobile_optimized"] = True
            else:
                info["mobile_optimized"] = False
                info["note"] = "this torch build has no XNNPACK: saved for the lite interpreter without optimize_for_mobile"
                print(f"warning: {info['note']}", file=sys.stderr)
            traced._save_for_lite_interpreter(str(path))
        else:
            torch.jit.save(torch.jit.freeze(traced.eval()), str(path))
    return info


def _output_names(model: nn.Module) -> tuple:
    return OUTPUTS[isinstance(model, LandmarkModel)]


def export_onnx(model: nn.Module, path: Path, opset: int = 18, dynamo: bool = False,
                metadata: Optional[dict] = None) -> Path:
    """Exports `model` (a HeatmapModel: output "heatmaps"; a LandmarkModel: "landmarks" and
    "scores") to ONNX with a dynamic batch axis (input "images"); `metadata` is stored as JSON in
    the model's metadata property METADATA_KEY."""
    try:
        import onnx
    except ImportError:
        raise RuntimeError("ONNX export needs the onnx package (pip install onnx onnxscript)") from None
    example = (_example(model, 2, seed=1),)
    names = list(_output_names(model))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        if not dynamo:
            torch.onnx.export(model, example, str(path), dynamo=False, opset_version=opset,
                              input_names=["images"], output_names=names,
                              dynamic_axes={name: {0: "batch"} for name in ["images"] + names})
        else:
            try:
                import onnxscript  # noqa: F401
            except ImportError:
                raise RuntimeError("the dynamo ONNX exporter needs onnxscript (pip install onnxscript); "
                                   "without --dynamo the TorchScript-based exporter needs only onnx") from None
            batch = torch.export.Dim("batch", min=1, max=4096)
            program = torch.onnx.export(model, example, dynamo=True, opset_version=opset,
                                        input_names=["images"], output_names=names,
                                        dynamic_shapes={"images": {0: batch}}, verbose=False)
            program.save(str(path), external_data=False)
    if metadata is not None:
        proto = onnx.load(str(path))
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
        onnx.save(proto, str(path))
    return path


def _run_exported(path: Path, fmt: str, x: Tensor, mobile: bool) -> Optional[np.ndarray]:
    if fmt == "torchscript":
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)   # "torch.jit.load is deprecated"
            if mobile:
                from torch.jit.mobile import _load_for_lite_interpreter
                loaded = _load_for_lite_interpreter(str(path))
            else:
                loaded = torch.jit.load(str(path), map_location="cpu")
            return loaded(x).numpy()
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(["heatmaps"], {"images": x.numpy()})[0]


def verify(model: HeatmapModel, path: Path, fmt: str, batch: int = 3, tolerance: float = 1e-4,
           mobile: bool = False) -> dict:
    """Runs the exported file and the PyTorch model on a random batch; raises ExportMismatch when
    max |exported - pytorch| > tolerance * max(1, max |pytorch|). Returns the numbers (or
    {"skipped": reason} for ONNX without onnxruntime)."""
    x = _example(model, batch, seed=2)
    with torch.no_grad():
        ref = model(x).numpy()
    got = _run_exported(path, fmt, x, mobile)
    if got is None:
        return {"skipped": "onnxruntime is not installed (pip install onnxruntime)"}
    if got.shape != ref.shape:
        raise ExportMismatch(f"exported model output shape {got.shape} != PyTorch's {ref.shape}")
    diff = float(np.abs(got.astype(np.float64) - ref).max())
    scale = max(1.0, float(np.abs(ref).max()))
    result = {"batch": batch, "max_abs_diff": diff, "output_scale": scale, "tolerance": tolerance * scale,
              "runtime": "onnxruntime" if fmt == "onnx" else ("torch.jit lite interpreter" if mobile else "torch.jit")}
    if not np.isfinite(diff) or diff > tolerance * scale:
        raise ExportMismatch(f"exported model differs from PyTorch: max abs diff {diff:.3g} > "
                             f"{tolerance:g} x {scale:.3g} (output scale)")
    return result


def _run_exported_outputs(path: Path, fmt: str, x: Tensor, mobile: bool, names) -> Optional[list]:
    """The exported file's outputs `names` on `x` (numpy arrays), or None for ONNX without onnxruntime."""
    if fmt == "torchscript":
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            if mobile:
                from torch.jit.mobile import _load_for_lite_interpreter
                loaded = _load_for_lite_interpreter(str(path))
            else:
                loaded = torch.jit.load(str(path), map_location="cpu")
            out = loaded(x)
        return [t.numpy() for t in (out if isinstance(out, (tuple, list)) else (out,))]
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(list(names), {"images": x.numpy()})


def _max_diff(got: np.ndarray, ref: np.ndarray) -> float:
    """max |got - ref| where both are finite; inf where one is NaN (or inf) and the other is not."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    if got.shape != ref.shape:
        raise ExportMismatch(f"exported output shape {got.shape} != PyTorch's {ref.shape}")
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    diff = np.where(same, 0.0, np.abs(got - ref))
    diff = np.where(np.isnan(diff), np.inf, diff)
    return float(diff.max()) if diff.size else 0.0


def verification_crops(config, batch: int = 3, faces: int = 8, seed: int = 2) -> dict:
    """uint8 (N, 3, S, S) crops to verify a decoding export on: "random" (uniform noise) and
    "faces" (the synthetic renderer's test faces, cropped as training crops them)."""
    from .data.registry import build_dataset
    s = config.input_size
    g = torch.Generator().manual_seed(seed)
    data, _ = build_dataset("synthetic", "test", input_size=s, num_samples=faces, seed=seed)
    return {"random": torch.randint(0, 256, (batch, 3, s, s), generator=g, dtype=torch.uint8),
            "faces": torch.stack([torch.from_numpy(np.ascontiguousarray(data[i]["image"])) for i in range(faces)])}


def verify_decoding(model: LandmarkModel, codec: HeatmapCodec, path: Optional[Path], fmt: str, batch: int = 3,
                    tolerance_px: float = 0.01, tolerance: float = 1e-4, mobile: bool = False) -> dict:
    """The decoding export against the PyTorch decoder: on random crops and on face crops, the
    PyTorch model's last heatmaps decoded by awing_ext.decode_heatmaps through `codec`
    (predictor.crop_landmarks: the Predictor's own prediction) against (1) the LandmarkModel run
    by PyTorch and (2) the exported file (TorchScript, or onnxruntime for ONNX; skipped without
    it, or with path None). Raises ExportMismatch when a landmark differs by more than
    `tolerance_px` crop pixels or a score by more than tolerance x max(1, max |score|)."""
    from .infer.predictor import crop_landmarks
    from .models.inputs import model_input
    result = {"landmark_tolerance_px": tolerance_px, "runtime": None, "checks": {}}
    failures = []
    for name, crops in verification_crops(model.config, batch).items():
        x = model_input(crops, model.config)
        with torch.no_grad():
            ref_points, ref_scores = (t.numpy() for t in crop_landmarks(model.model, crops, codec))
            eager = [t.numpy() for t in model(x)]
        runs = {"pytorch": eager}
        got = _run_exported_outputs(path, fmt, x, mobile, OUTPUTS[True]) if path is not None else None
        if got is not None:
            runs["exported"] = got
            result["runtime"] = "onnxruntime" if fmt == "onnx" else ("torch.jit lite interpreter" if mobile
                                                                     else "torch.jit")
        finite = np.abs(ref_scores[np.isfinite(ref_scores)])
        score_tol = tolerance * max(1.0, float(finite.max()) if finite.size else 1.0)
        check = {"crops": int(crops.shape[0])}
        for run_name, (points, scores) in runs.items():
            px, sc = _max_diff(points, ref_points), _max_diff(scores, ref_scores)
            check[f"{run_name}_max_landmark_diff_px"] = px
            check[f"{run_name}_max_score_diff"] = sc
            if not px <= tolerance_px:
                failures.append(f"{run_name} landmarks differ from the PyTorch decoder's by up to {px:.3g} crop px "
                                f"on the {name} crops (tolerance {tolerance_px:g})")
            if not sc <= score_tol:
                failures.append(f"{run_name} scores differ from the PyTorch decoder's by up to {sc:.3g} on the "
                                f"{name} crops (tolerance {score_tol:.3g})")
        result["checks"][name] = check
    if failures:
        raise ExportMismatch("; ".join(failures))
    if result["runtime"] is None and path is not None:
        result["skipped"] = ("onnxruntime is not installed (pip install onnxruntime): the graph was checked in "
                             "PyTorch only")
    return result


def crop_description(input_size: int) -> dict:
    """How an image becomes the model's S x S input and how crop pixels map back (design.md,
    Conventions: pixel centres at integer coordinates), for the sidecar."""
    s = input_size
    c = (s - 1) / 2
    return {
        "crop": "a square of `side` image pixels centred at (cx, cy), rolled by theta degrees counter-clockwise "
                "(0 for an upright face)",
        "from_landmark_box": f"a face's landmark box (x, y, w, h) (the tight box around its points): "
                             f"cx = x + (w - 1) / 2, cy = y + (h - 1) / 2, side = {CROP_SCALE:g} * (max(w, h) - 1), "
                             f"theta = 0",
        "image_to_crop": f"M = [[a, b, {c:g} - a * cx - b * cy], [-b, a, {c:g} + b * cx - a * cy]] with "
                         f"a = ({s} / side) * cos(theta), b = ({s} / side) * sin(theta); the input is "
                         f"cv2.warpAffine(image_rgb, M, ({s}, {s}), flags=cv2.INTER_LINEAR, "
                         f"borderMode=cv2.BORDER_CONSTANT, borderValue=0)",
        "crop_to_image": f"x = cx + (side / {s}) * (cos(theta) * (u - {c:g}) - sin(theta) * (v - {c:g})), "
                         f"y = cy + (side / {s}) * (sin(theta) * (u - {c:g}) + cos(theta) * (v - {c:g})) "
                         f"for a crop point (u, v); i.e. cv2.invertAffineTransform(M)",
        "code": "training.data.transforms.crop_matrix, training.infer.predictor.box_to_crop / Predictor.predict_crops",
    }


def describe(model: nn.Module, decoding: dict, mobile: bool = False, fmt: str = "onnx",
             opset: Optional[int] = None, scheme: Optional[LandmarkScheme] = None) -> dict:
    """The export's description (the sidecar less checkpoint and verification; the ONNX file's
    metadata): model config, input, outputs, decoding and the crop geometry. `decoding`:
    {"method", "sigma", "logits"} (the method is the graph's with --with-decoding, else the one
    to use outside the graph)."""
    cfg = model.config
    s, h, k = cfg.input_size, cfg.heatmap_size, cfg.num_landmarks
    activation = "sigmoid" if decoding["logits"] else "none"
    in_graph = isinstance(model, LandmarkModel)
    if in_graph:
        output = {
            "landmarks": {"name": "landmarks", "shape": ["N", k, 2], "dtype": "float32",
                          "units": f"crop pixels (x, y) of the {s} x {s} input, pixel centres at integer coordinates "
                                   f"(x_crop = (x_hm + 0.5) * {s} / {h} - 0.5 of the heatmap point)",
                          "order": "the landmark scheme's"},
            "scores": {"name": "scores", "shape": ["N", k], "dtype": "float32",
                       "meaning": f"each point's heatmap peak{' after the sigmoid' if decoding['logits'] else ''}; "
                                  f"below 0.2 the point is low-confidence (a flat plane: its position is a guess)"},
        }
        decode = {"in_graph": True, "method": decoding["method"], "sigma": decoding["sigma"],
                  "activation": activation,
                  "reference": f"awing_ext.decode_heatmaps({'torch.sigmoid(h)' if decoding['logits'] else 'h'}, "
                               f"{decoding['method']!r}, sigma={decoding['sigma']:g}), h = the last stack's "
                               f"heatmaps[:, :{k}]"}
    else:
        channels = [f"0..{k - 1}: landmark heatmaps (scheme order)"] + ([f"{k}: boundary heatmap"] if cfg.boundary else [])
        planes = "torch.sigmoid(heatmaps[:, :K])" if decoding["logits"] else "heatmaps[:, :K]"
        output = {"name": "heatmaps", "shape": ["N", cfg.num_outputs, h, h], "dtype": "float32",
                  "channels": channels, "stack": "last of %d" % getattr(cfg, "num_stacks", 1),
                  "heatmap_to_crop": f"x_crop = (x_hm + 0.5) * {s} / {h} - 0.5 (same for y)",
                  "decode": f"awing_ext.decode_heatmaps({planes}, 'dark', sigma={decoding['sigma']:g}) "
                            f"outside the graph"
                            + (" (the model outputs logits: trained with --loss focal)" if decoding["logits"] else "")}
        decode = {"in_graph": False, "method": "dark", "sigma": decoding["sigma"], "activation": activation}
    return {
        "format": fmt + (" (mobile, lite interpreter)" if mobile else ""),
        **({"opset": opset} if opset else {}),
        "model_config": dict(vars(cfg)),
        **({"scheme": scheme_to_dict(scheme)} if scheme is not None else {}),
        "input": {"name": "images", "shape": ["N", 3, s, s], "dtype": "float32", "channels": "RGB",
                  "normalisation": {"scale": 1 / 255, "mean": cfg.input_mean, "std": cfg.input_std,
                                    "formula": "(pixel / 255 - mean) / std"}},
        "output": output,
        "decoding": decode,
        "crop": crop_description(s),
    }


def sidecar(model: nn.Module, fmt: str, checkpoint: str, verification: dict, mobile: bool = False,
            opset: Optional[int] = None, decoding: Optional[dict] = None,
            scheme: Optional[LandmarkScheme] = None) -> dict:
    """The JSON beside an export: describe()'s description (with the landmark scheme, when given),
    the checkpoint and the verification."""
    decoding = decoding or {"method": "dark", "sigma": 1.0, "logits": False}
    meta = describe(model, decoding, mobile, fmt, opset, scheme)
    return {"format": meta.pop("format"), **({"opset": meta.pop("opset")} if "opset" in meta else {}),
            "checkpoint": str(checkpoint), **meta, "verification": verification}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.export", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a .pt written by training.train")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--out", default=None, help="output file (default: model.pt/.ptl/.onnx beside the checkpoint)")
    p.add_argument("--mobile", action="store_true", help="torchscript: optimize_for_mobile, lite-interpreter .ptl")
    p.add_argument("--opset", type=int_at_least(17), default=18, help="ONNX opset (>= 17)")
    p.add_argument("--dynamo", action="store_true", help="onnx: use the torch.export-based exporter (needs onnxscript)")
    p.add_argument("--tolerance", type=float_above(0), default=1e-4,
                   help="max abs diff allowed, relative to max(1, max |output|)")
    p.add_argument("--verify-batch", type=int_at_least(1), default=3, help="batch size of the verification run")
    p.add_argument("--with-decoding", action="store_true",
                   help="the graph ends in landmarks (N, K, 2, crop pixels) and scores (N, K): the model's activation "
                        "and the --decode method in standard ops")
    p.add_argument("--decode", default=None, choices=GRAPH_DECODE_METHODS,
                   help="with --with-decoding: the decoder in the graph (default dark; docs/evaluation.md, Decoding)")
    p.add_argument("--landmark-tolerance", type=float_above(0), default=0.01,
                   help="with --with-decoding: max landmark difference from the PyTorch decoder, crop pixels")
    args = p.parse_args(argv)
    if args.dynamo and args.format != "onnx":
        p.error("--dynamo applies to --format onnx only")
    if args.mobile and args.format != "torchscript":
        p.error("--mobile applies to --format torchscript only")
    if args.opset < 17:
        p.error(f"--opset must be >= 17, got {args.opset}")
    if args.verify_batch < 1:
        p.error("--verify-batch must be >= 1")
    if args.decode is not None and not args.with_decoding:
        p.error("--decode applies to --with-decoding only (a heatmap export is decoded outside the graph)")
    args.decode = args.decode or "dark"
    return args


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def main(argv=None) -> int:
    args = parse_args(argv)
    suffix = ".onnx" if args.format == "onnx" else (".ptl" if args.mobile else ".pt")
    out = Path(args.out) if args.out else Path(args.checkpoint).parent / f"model{suffix}"
    meta_path = out.with_name(out.name + ".json")
    for written in (out, meta_path):   # the export must not replace its own input
        if _same_file(written, Path(args.checkpoint)):
            raise UsageError(f"--out {out} would overwrite the checkpoint {args.checkpoint} being exported"
                             f"{' (its sidecar ' + str(meta_path) + ')' if written is meta_path else ''}: give another --out")
    try:
        checkpoint = load_checkpoint(args.checkpoint)
        net = load_model(checkpoint, torch.device("cpu"), str(args.checkpoint)).eval()
        scheme = checkpoint_scheme(checkpoint, str(args.checkpoint))
    except (FileNotFoundError, RuntimeError, ValueError) as exc:   # these name the file
        raise UsageError(str(exc)) from exc
    except (KeyError, TypeError) as exc:
        raise UsageError(f"cannot load {args.checkpoint}: {type(exc).__name__}: {exc}") from exc
    logits, sigma = checkpoint_decoding(checkpoint, str(args.checkpoint))
    decoding = {"method": args.decode, "sigma": sigma, "logits": logits}
    if args.with_decoding:
        model = LandmarkModel(net, args.decode, sigma, logits).eval()
        codec = HeatmapCodec(net.config.input_size, net.config.heatmap_size, sigma, boundary_scheme=None,
                             decode_method=args.decode, logits=logits)
    else:
        model = HeatmapModel(net).eval()
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder: give the file to write (e.g. {out / ('model' + suffix)})")
    out.parent.mkdir(parents=True, exist_ok=True)
    opset = args.opset if args.format == "onnx" else None
    try:
        if args.format == "torchscript":
            info = export_torchscript(model, out, mobile=args.mobile)
        else:
            export_onnx(model, out, opset=args.opset, dynamo=args.dynamo,
                        metadata=describe(model, decoding, fmt="onnx", opset=opset, scheme=scheme))
            info = {"exporter": "dynamo" if args.dynamo else "torchscript-based"}
        if args.with_decoding:
            result = verify_decoding(model, codec, out, args.format, args.verify_batch, args.landmark_tolerance,
                                     args.tolerance, args.mobile)
        else:
            result = verify(model, out, args.format, args.verify_batch, args.tolerance, args.mobile)
    except ExportMismatch as exc:
        raise UsageError(f"{exc} ({out} kept for inspection)", exit_code=1) from exc
    except RuntimeError as exc:
        raise UsageError(f"export failed: {exc}", exit_code=1) from exc
    meta = {**sidecar(model, args.format, args.checkpoint, result, args.mobile, opset, decoding, scheme), **info}
    meta_path.write_text(json.dumps(meta, indent=2))
    if "skipped" in result:
        print(f"written: {out}, {meta_path}; not verified: {result['skipped']}")
    elif args.with_decoding:
        worst = max(c["exported_max_landmark_diff_px"] for c in result["checks"].values())
        print(f"written: {out}, {meta_path}; landmarks ({args.decode}{', sigmoid' if logits else ''}) verified with "
              f"{result['runtime']} against awing_ext.decode_heatmaps on random and face crops: max diff "
              f"{worst:.3g} crop px (tolerance {args.landmark_tolerance:g})")
    else:
        print(f"written: {out}, {meta_path}; verified with {result['runtime']} on a batch of {result['batch']}: "
              f"max abs diff {result['max_abs_diff']:.3g} (tolerance {result['tolerance']:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
