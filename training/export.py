"""Export a trained checkpoint to TorchScript or ONNX, and check the export against PyTorch.

    python -m training.export --checkpoint CKPT --format torchscript|onnx [--out PATH] [--mobile]

The exported graph (``HeatmapModel``):
  input  "images":   float32 (N, 3, S, S), RGB, normalised as in training
                     (models.inputs.model_input): (pixel / 255 - mean) / std, the mean and std
                     of the model config, stated in the sidecar; N is dynamic;
  output "heatmaps": float32 (N, K + 1, S/4, S/4), the last stack's raw heatmaps: channels
                     0..K-1 the landmarks (scheme order), channel K the boundary heatmap (absent
                     for a model trained without it).
S, K and the rest come from the checkpoint's "model_config". Decoding stays outside the graph:
awing_ext's decode_heatmaps is a custom op (no ONNX or mobile kernel); decode with it (or any
argmax + sub-pixel refinement), then map heatmap pixels to crop pixels with
``x_crop = (x_hm + 0.5) * S / (S/4) - 0.5`` (HeatmapCodec.heatmap_to_crop) and on to the image with
the inverse of the crop's affine matrix (training.detect does all of it).

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

from .engine.cli import UsageError, float_above, int_at_least, run
from .engine.checkpoint import checkpoint_scheme, load_checkpoint, load_model

__all__ = ["HeatmapModel", "export_torchscript", "export_onnx", "verify", "sidecar", "main", "ExportMismatch"]

FORMATS = ("torchscript", "onnx")


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


def export_torchscript(model: HeatmapModel, path: Path, mobile: bool = False) -> dict:
    """Traces `model` (eval, CPU) and saves it (frozen: weights inlined, conv+BN folded); with
    `mobile`, for the lite interpreter, through optimize_for_mobile where torch has XNNPACK (the
    optimiser needs it; without it the traced model is saved unoptimised, and the returned
    {"mobile_optimized": False, "note": ...} says so)."""
    info = {}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
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


def export_onnx(model: HeatmapModel, path: Path, opset: int = 18, dynamo: bool = False) -> Path:
    """Exports `model` to ONNX with a dynamic batch axis (input "images", output "heatmaps")."""
    try:
        import onnx  # noqa: F401  (both exporters write through it)
    except ImportError:
        raise RuntimeError("ONNX export needs the onnx package (pip install onnx onnxscript)") from None
    example = (_example(model, 2, seed=1),)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        if not dynamo:
            torch.onnx.export(model, example, str(path), dynamo=False, opset_version=opset,
                              input_names=["images"], output_names=["heatmaps"],
                              dynamic_axes={"images": {0: "batch"}, "heatmaps": {0: "batch"}})
        else:
            try:
                import onnxscript  # noqa: F401
            except ImportError:
                raise RuntimeError("the dynamo ONNX exporter needs onnxscript (pip install onnxscript); "
                                   "without --dynamo the TorchScript-based exporter needs only onnx") from None
            batch = torch.export.Dim("batch", min=1, max=4096)
            program = torch.onnx.export(model, example, dynamo=True, opset_version=opset,
                                        input_names=["images"], output_names=["heatmaps"],
                                        dynamic_shapes={"images": {0: batch}}, verbose=False)
            program.save(str(path), external_data=False)
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


def sidecar(model: HeatmapModel, fmt: str, checkpoint: str, verification: dict, mobile: bool = False,
            opset: Optional[int] = None, scheme: Optional[LandmarkScheme] = None) -> dict:
    """The JSON beside an export: the model config, the input and output layout (the landmark
    channels named by the scheme's points, when given), the verification."""
    cfg = model.config
    s, h, k = cfg.input_size, cfg.heatmap_size, cfg.num_landmarks
    channels = [f"0..{k - 1}: landmark heatmaps (scheme order)"] + ([f"{k}: boundary heatmap"] if cfg.boundary else [])
    return {
        "format": fmt + (" (mobile, lite interpreter)" if mobile else ""),
        **({"opset": opset} if opset else {}),
        "checkpoint": str(checkpoint),
        "model_config": dict(vars(cfg)),
        **({"scheme": scheme_to_dict(scheme)} if scheme is not None else {}),
        "input": {"name": "images", "shape": ["N", 3, s, s], "dtype": "float32", "channels": "RGB",
                  "normalisation": {"scale": 1 / 255, "mean": model.config.input_mean, "std": model.config.input_std,
                                    "formula": "(pixel / 255 - mean) / std"}},
        "output": {"name": "heatmaps", "shape": ["N", cfg.num_outputs, h, h], "dtype": "float32",
                   "channels": channels, "stack": "last of %d" % cfg.num_stacks,
                   "heatmap_to_crop": f"x_crop = (x_hm + 0.5) * {s} / {h} - 0.5 (same for y)",
                   "decode": "awing_ext.decode_heatmaps(heatmaps[:, :K], 'dark') outside the graph"},
        "verification": verification,
    }


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
    args = p.parse_args(argv)
    if args.dynamo and args.format != "onnx":
        p.error("--dynamo applies to --format onnx only")
    if args.mobile and args.format != "torchscript":
        p.error("--mobile applies to --format torchscript only")
    if args.opset < 17:
        p.error(f"--opset must be >= 17, got {args.opset}")
    if args.verify_batch < 1:
        p.error("--verify-batch must be >= 1")
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
        state = load_checkpoint(args.checkpoint)
        model = HeatmapModel(load_model(state, torch.device("cpu"), str(args.checkpoint))).eval()
        scheme = checkpoint_scheme(state, str(args.checkpoint))
    except (FileNotFoundError, RuntimeError, ValueError) as exc:   # these name the file
        raise UsageError(str(exc)) from exc
    except (KeyError, TypeError) as exc:
        raise UsageError(f"cannot load {args.checkpoint}: {type(exc).__name__}: {exc}") from exc
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder: give the file to write (e.g. {out / ('model' + suffix)})")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if args.format == "torchscript":
            info = export_torchscript(model, out, mobile=args.mobile)
        else:
            export_onnx(model, out, opset=args.opset, dynamo=args.dynamo)
            info = {"exporter": "dynamo" if args.dynamo else "torchscript-based"}
        result = verify(model, out, args.format, args.verify_batch, args.tolerance, args.mobile)
    except ExportMismatch as exc:
        raise UsageError(f"{exc} ({out} kept for inspection)", exit_code=1) from exc
    except RuntimeError as exc:
        raise UsageError(f"export failed: {exc}", exit_code=1) from exc
    meta = {**sidecar(model, args.format, args.checkpoint, result, args.mobile,
                      args.opset if args.format == "onnx" else None, scheme), **info}
    meta_path.write_text(json.dumps(meta, indent=2))
    if "skipped" in result:
        print(f"written: {out}, {meta_path}; not verified: {result['skipped']}")
    else:
        print(f"written: {out}, {meta_path}; verified with {result['runtime']} on a batch of {result['batch']}: "
              f"max abs diff {result['max_abs_diff']:.3g} (tolerance {result['tolerance']:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
