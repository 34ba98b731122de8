"""What training and evaluation share: device-side targets, prediction, the evaluation loop.

Coordinates: the data pipeline gives landmarks in *crop* pixels of the S x S network input;
heatmaps are S/4 x S/4. With pixel centres at integer coordinates (docs/design.md) the two relate by
    x_hm = (x_crop + 0.5) * H / S - 0.5,   x_crop = (x_hm + 0.5) * S / H - 0.5.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor

import awing_ext

# Inputs are uint8 images scaled to [0, 1] and centred; the model sees (x / 255 - 0.5) / 0.25.
_IMAGE_MEAN, _IMAGE_STD = 0.5, 0.25


def normalise_images(images_uint8: Tensor, channels_last: bool = False) -> Tensor:
    """(N, 3, S, S) uint8 -> float32 normalised, on the same device."""
    x = images_uint8.float().div_(255.0).sub_(_IMAGE_MEAN).div_(_IMAGE_STD)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def crop_to_heatmap(points: Tensor, input_size: int, heatmap_size: int) -> Tensor:
    return (points + 0.5) * (heatmap_size / input_size) - 0.5


def heatmap_to_crop(points: Tensor, input_size: int, heatmap_size: int) -> Tensor:
    return (points + 0.5) * (input_size / heatmap_size) - 0.5


@dataclass
class TargetSpec:
    """How targets are rendered: the heatmap size and Gaussian sigma, the boundary scheme."""
    input_size: int
    heatmap_size: int
    sigma: float = 1.0
    boundary_scheme: Optional[str] = "68"   # None: no boundary channel
    boundary_sigma: float = 1.0


def make_targets(landmarks: Tensor, visible: Tensor, spec: TargetSpec) -> tuple:
    """Renders (N, K [+1], H, W) targets and (N, K [+1]) channel weights on landmarks' device.

    Invisible landmarks get an all-zero heatmap and weight 0; the boundary channel weight 1.
    """
    pts = crop_to_heatmap(landmarks.float(), spec.input_size, spec.heatmap_size)
    heat = awing_ext.render_heatmaps(pts, spec.heatmap_size, spec.sigma, visible=visible)
    weights = visible.float()
    if spec.boundary_scheme is None:
        return heat, weights
    # invisible points are left out of the boundary curves (NaN drops the spans that touch them)
    curve_pts = torch.where(visible[..., None] > 0, pts, torch.full_like(pts, float("nan")))
    boundary = awing_ext.render_boundaries(curve_pts, spec.boundary_scheme, spec.heatmap_size,
                                           sigma=spec.boundary_sigma)
    ones = torch.ones_like(weights[:, :1])
    return torch.cat([heat, boundary], dim=1), torch.cat([weights, ones], dim=1)


@torch.no_grad()
def predict_landmarks(model: torch.nn.Module, images: Tensor, num_landmarks: int, input_size: int,
                      channels_last: bool = False) -> tuple:
    """Landmarks (N, K, 2) in crop pixels and scores (N, K) from the last stack's heatmaps."""
    outputs = model(normalise_images(images, channels_last))
    heat = outputs[-1][:, :num_landmarks].float()
    coords, scores = awing_ext.decode_heatmaps(heat, "dark")
    return heatmap_to_crop(coords, input_size, heat.shape[-1]), scores


@torch.no_grad()
def run_evaluation(model: torch.nn.Module, loader, device: torch.device, num_landmarks: int,
                   input_size: int, channels_last: bool = False, keep_images: int = 16,
                   progress=None) -> dict:
    """Predicts every sample of `loader`: {"pred", "gt", "visible" (N, K[, 2]) numpy in crop
    pixels, "images": the first `keep_images` crops (uint8 HWC) for the prediction grid}."""
    was_training = model.training
    model.eval()
    preds, gts, vis, images = [], [], [], []
    for batch in (progress(loader) if progress else loader):
        imgs = batch["image"].to(device, non_blocking=True)
        pred, _ = predict_landmarks(model, imgs, num_landmarks, input_size, channels_last)
        preds.append(pred.cpu().numpy())
        gts.append(batch["landmarks"].numpy())
        vis.append(batch["visible"].numpy())
        if len(images) < keep_images:
            images.extend(list(batch["image"][: keep_images - len(images)].permute(0, 2, 3, 1).numpy()))
    model.train(was_training)
    return {"pred": np.concatenate(preds), "gt": np.concatenate(gts), "visible": np.concatenate(vis),
            "images": images}


NORMALISER_LABELS = {68: "inter-ocular distance (outer eye corners 36, 45)",
                     98: "inter-ocular distance (points 60, 72)",
                     29: "inter-pupil distance (points 16, 17)"}


def evaluation_report(result: dict, subsets: dict, mean_shape: np.ndarray, threshold: float = 0.1) -> tuple:
    """NME / FR / AUC of the predictions in `result` (run_evaluation's) beside the mean-shape
    baseline, plus one row per evaluation subset (300W common/challenging/full, WFLW attributes)
    when the dataset defines more than one. Returns (report dict, {name: per-image NMEs})."""
    from . import metrics  # local: metrics is numpy-only and engine is imported by light tools

    gt = result["gt"]
    curves = {"model": metrics.nme(result["pred"], gt),
              "mean shape": metrics.nme(np.broadcast_to(mean_shape, gt.shape), gt)}
    num_points = gt.shape[1]
    report = {"samples": len(gt), "threshold": threshold,
              "normaliser": NORMALISER_LABELS.get(num_points, "inter_ocular"),
              "results": {name: metrics.summarize(v, threshold) for name, v in curves.items()},
              "subsets": (metrics.per_subset(curves["model"], subsets, threshold, total=None)
                          if len(subsets) > 1 else {})}
    if num_points == 68:
        report["inter_pupil_nme"] = float(metrics.nme(result["pred"], gt, "inter_pupil").mean())
    return report, curves


def format_report(report: dict) -> str:
    """The report's tables as Markdown: model vs mean shape, then the model per subset."""
    from . import metrics

    text = metrics.format_table(report["results"], report["threshold"])
    if report["subsets"]:
        text += "\n\nper subset (model):\n\n" + metrics.format_table(report["subsets"], report["threshold"],
                                                                     name_header="subset")
    return text
