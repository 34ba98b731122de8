"""Evaluating a model on a dataset split: predictions, NME / FR / AUC beside the mean-shape
baseline (per subset where the dataset defines them), the CED plot and the prediction grid.

evaluate_split is the one evaluation: `python -m training.evaluate` calls it on a checkpoint,
`python -m training.train` on its best.pt at the end of a run. Predictions go through
training.infer.predictor.crop_landmarks, as the Predictor's and detect's do.
"""
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from awing_ext.schemes import LandmarkScheme, get_scheme, map_points, normaliser_of

from ..core.cli import strict_json
from ..core.codec import LOW_CONFIDENCE_THRESHOLD, HeatmapCodec, low_confidence
from ..data.registry import build_dataset, subsets_of
from ..infer.predictor import crop_landmarks
from ..core.runtime import worker_init
from . import metrics, plots
from .metrics import normaliser_lengths


@torch.no_grad()
def run_evaluation(model: torch.nn.Module, loader, device: torch.device, codec: HeatmapCodec,
                   channels_last: bool = False, keep_images: int = 16,
                   flip_permutation: Optional[Sequence[int]] = None) -> dict:
    """Predicts every sample of `loader` (predict.crop_landmarks; flip-averaged with a permutation):
    {"pred", "gt", "visible" (N, K[, 2]) numpy in crop pixels, "scores" (N, K) heatmap peaks,
    "box_size" (N,) the annotation box's sqrt(w·h) in crop pixels (only when the data has boxes),
    "images": the first `keep_images` crops (uint8 HWC) for the prediction grid}."""
    was_training = model.training
    model.eval()
    preds, scores, gts, vis, boxes, images = [], [], [], [], [], []
    for batch in loader:
        imgs = batch["image"].to(device, non_blocking=True)
        pred, score = crop_landmarks(model, imgs, codec, flip_permutation, channels_last)
        preds.append(pred.cpu().numpy())
        scores.append(score.cpu().numpy())
        gts.append(batch["landmarks"].numpy())
        vis.append(batch["visible"].numpy())
        if "box_size" in batch:
            boxes.append(batch["box_size"].numpy())
        if len(images) < keep_images:
            images.extend(list(batch["image"][: keep_images - len(images)].permute(0, 2, 3, 1).numpy()))
    model.train(was_training)
    out = {"pred": np.concatenate(preds), "scores": np.concatenate(scores), "gt": np.concatenate(gts),
           "visible": np.concatenate(vis), "images": images}
    if boxes:
        out["box_size"] = np.concatenate(boxes)
    return out


def image_nmes(pred: np.ndarray, result: dict, scheme) -> np.ndarray:
    """Per-image NMEs of `pred` against run_evaluation's ground truth: the mean error over the
    visible points (the others are not annotated), divided by the scheme's normaliser."""
    gt, visible = result["gt"], result["visible"]
    lengths = normaliser_lengths(scheme, gt, visible, result.get("box_size"))
    return metrics.nme(pred, gt, lengths, visible=None if np.all(visible > 0) else visible > 0)


def map_predictions(result: dict, mapping: Sequence) -> dict:
    """run_evaluation's result with the model's points mapped onto the data's scheme (a [from.X]
    mapping of the data's scheme, X the model's: cross-scheme evaluation)."""
    return {**result, "pred": map_points(result["pred"], mapping, axis=-2),
            "scores": map_points(result["scores"], mapping, axis=-1)}


def evaluation_report(result: dict, subsets: dict, mean_shape: np.ndarray, threshold: float = 0.1,
                      scheme=None) -> tuple:
    """NME / FR / AUC of the predictions in `result` (run_evaluation's) beside the mean-shape
    baseline, plus one row per evaluation subset (300W common/challenging/full, WFLW attributes)
    when the dataset defines more than one, and "low_confidence": {threshold, fraction}, the share
    of predicted points whose heatmap peak is below the threshold (flat planes: a model that did
    not learn shows it here; training/core/codec.py). `scheme`: the data's landmark scheme (its
    normaliser; default: the built-in scheme with the data's number of points). Returns (report
    dict, {name: per-image NMEs})."""
    gt = result["gt"]
    num_points = gt.shape[1]
    scheme = get_scheme(num_points if scheme is None else scheme)
    curves = {"model": image_nmes(result["pred"], result, scheme),
              "mean shape": image_nmes(np.broadcast_to(mean_shape, gt.shape), result, scheme)}
    report = {"samples": len(gt), "threshold": threshold,
              "normaliser": normaliser_of(scheme).label,
              "results": {name: metrics.summarize(v, threshold) for name, v in curves.items()},
              "subsets": (metrics.per_subset(curves["model"], subsets, threshold, total=None)
                          if len(subsets) > 1 else {})}
    if "scores" in result:
        flat = low_confidence(torch.from_numpy(np.asarray(result["scores"], dtype=np.float32)))
        report["low_confidence"] = {"threshold": LOW_CONFIDENCE_THRESHOLD,
                                    "fraction": float(flat.float().mean()) if flat.numel() else 0.0}
    if scheme.name == "68" and num_points == 68:
        report["inter_pupil_nme"] = float(metrics.nme(result["pred"], gt, "inter_pupil").mean())
    return report, curves


def format_report(report: dict) -> str:
    """The report's tables as Markdown: model vs mean shape, then the model per subset."""
    text = metrics.format_table(report["results"], report["threshold"])
    if report["subsets"]:
        text += "\n\nper subset (model):\n\n" + metrics.format_table(report["subsets"], report["threshold"],
                                                                     name_header="subset")
    flat = report.get("low_confidence")
    if flat and flat["fraction"] > 0:
        text += (f"\n\n{100 * flat['fraction']:.1f} % of the predicted points have a heatmap peak below "
                 f"{flat['threshold']:g} (flat heatmaps: those points are guesses)")
    return text


def train_crop_landmarks(dataset: str, input_size: int, *, seed: int, data_root: Optional[str],
                         samples: Optional[int], limit: Optional[int], skip_bad: bool, crop: str,
                         workers: int = 0, **options) -> np.ndarray:
    """The landmarks of (at most 1000 of) the training split in the crop, without augmentation,
    NaN where a point is not annotated: what the mean-shape baseline is fitted to. `options` go
    to build_dataset (scheme, the COCO annotation files)."""
    cap = min(samples or 1000, 1000)  # synthetic: faces; real datasets: the first images
    plain, _ = build_dataset(dataset, "train", input_size=input_size, num_samples=cap, limit=min(cap, limit or cap),
                             seed=seed, data_root=data_root, skip_bad=skip_bad, crop=crop, **options)
    loader = torch.utils.data.DataLoader(plain, batch_size=64, num_workers=workers,
                                         worker_init_fn=worker_init() if workers else None)
    return np.concatenate([np.where(b["visible"].numpy()[..., None] > 0, b["landmarks"].numpy(), np.nan)
                           for b in loader])


def skipped_files(dataset) -> list:
    """The files a dataset built with skip_bad left out (bad annotations, missing or corrupt
    images found when it was built), as [{"file", "reason"}]."""
    base = getattr(dataset, "dataset", dataset)          # a torch Subset
    base = getattr(base, "base", base)                   # registry.AugmentedDataset
    return [{"file": f, "reason": r} for f, r in getattr(base, "skipped", [])]


def evaluate_split(model: torch.nn.Module, codec: HeatmapCodec, dataset, baseline_landmarks: np.ndarray, *,
                   device: torch.device, out: Path, suffix: str, title: str, batch_size: int = 32,
                   workers: int = 0, threshold: float = 0.1, channels_last: bool = False,
                   extra: Optional[dict] = None, flip_permutation: Optional[Sequence[int]] = None,
                   scheme: Optional[LandmarkScheme] = None, mapping: Optional[Sequence] = None) -> dict:
    """Evaluates `model` on `dataset` beside the mean shape of `baseline_landmarks`; writes
    results{suffix}.json, ced{suffix}.png and predictions{suffix}.png to `out`; returns the report
    (with the codec's decoding: "decode"). `scheme`: the dataset's (default: the built-in one of
    its number of points); `mapping`: the data scheme's [from.<model's scheme>] indices when the
    model predicts another scheme (cross-scheme evaluation)."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers,
                                         pin_memory=device.type == "cuda",
                                         worker_init_fn=worker_init() if workers else None)
    result = run_evaluation(model, loader, device, codec, channels_last, flip_permutation=flip_permutation)
    if mapping is not None:
        result = map_predictions(result, mapping)
    baseline = metrics.MeanShapeBaseline().fit(baseline_landmarks, np.isfinite(baseline_landmarks).all(axis=-1))
    report, curves = evaluation_report(result, subsets_of(dataset), baseline.mean_shape_, threshold, scheme)
    skipped = skipped_files(dataset)
    decoding = {"decode": codec.decode_method}
    report = {**(extra or {}), **decoding, **report, "skipped": len(skipped), "skipped_files": skipped}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"results{suffix}.json").write_text(strict_json(report, indent=2))
    plots.plot_ced(curves, out / f"ced{suffix}.png", threshold=threshold, title=title)
    shown = len(result["images"])
    plots.prediction_grid(result["images"], result["pred"][:shown], result["gt"][:shown],
                              out / f"predictions{suffix}.png")
    return report
