"""train's loss: the heatmap loss chosen by --loss on every stack's output (intermediate
supervision), each weighted by AWing's loss map (--loss-map-weight W: W * M + 1), plus, with
--integral-weight λ > 0, λ times a coordinate loss on the integral coordinates of every stack's
landmark heatmaps ("AWing + Integral": integral regression after Sun et al., ECCV 2018, as
awing_ext.integral_coords: the relu(h) expectation in a ceil(3 sigma) window around the argmax,
which is exact on the targets, so the term is ~0 at a perfect prediction).

The focal loss (its heatmaps are logits) is CornerNet's: the landmark term's mean divides by the
visible landmarks (awing_ext.focal_heatmap_loss's "mean": CornerNet's number of objects), and the
boundary channel is a term of its own, its sum divided by its positive pixels (a curve has no
objects to count; per image it would weigh ~150 landmarks' worth), so each term is O(1) whatever
the curves' length (docs/losses.md, "Focal"). Its integral term reads sigmoid(h).

All losses are awing_ext's fused ops (awing_ext.adaptive_wing_loss, wing_loss, mse_loss, l1_loss,
smooth_l1_loss, focal_heatmap_loss), also the coordinate losses, which run the same ops on the
(N, K, 2) coordinates viewed as (N, K, 2, 1) maps without a loss map.
"""
from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import torch
from torch import Tensor

import awing_ext

from .loss_options import loss_ops

__all__ = ["LOSSES", "INTEGRAL_LOSSES", "Criterion", "build_criterion", "heatmap_loss_fn", "describe_loss"]

# --loss name -> (the awing_ext function, {its parameter: train option dest}): loss_options.py's list
LOSSES: Dict[str, tuple] = loss_ops()

# Feng et al.'s Wing parameters for coordinates (omega = 10, epsilon = 2 input pixels), in
# heatmap pixels, which are 4 input pixels wide.
INTEGRAL_WING = {"omega": 2.5, "epsilon": 0.5}
INTEGRAL_LOSSES = ("l1", "wing")


def heatmap_loss_fn(args: argparse.Namespace) -> Callable[..., Tensor]:
    """The --loss op with its parameters and the loss map bound: fn(pred, target, target_weight)."""
    if args.loss not in LOSSES:
        raise ValueError(f"--loss: unknown loss {args.loss!r}; choose from {', '.join(LOSSES)}")
    name, params = LOSSES[args.loss]
    op = getattr(awing_ext, name)
    bound = {name: getattr(args, dest) for name, dest in params.items()}
    return functools.partial(op, W=args.loss_map_weight, threshold=args.loss_map_threshold, **bound)


@dataclass
class Criterion:
    """loss(outputs, target, target_weight, points, visible): the heatmap loss summed over the
    stacks' outputs, plus integral_weight times the coordinate loss of each stack's integral
    coordinates (points: (N, K, 2) ground truth in heatmap pixels; visible: (N, K), 0 leaves a
    point out). focal_threshold: set for the focal loss (its heatmaps are logits): the boundary
    channel is its own term, normalised by its pixels >= this threshold, and the integral term
    reads the heatmaps' sigmoid."""
    heatmap_loss: Callable[..., Tensor]
    num_landmarks: int
    integral_weight: float = 0.0
    integral_loss: str = "l1"
    integral_radius: int = 3
    focal_threshold: Optional[float] = None

    def __call__(self, outputs: Sequence[Tensor], target: Tensor, target_weight: Tensor, points: Tensor,
                 visible: Tensor) -> Tensor:
        total = sum(self.stack_heatmap_loss(out.float(), target, target_weight) for out in outputs)
        if self.integral_weight > 0:
            total = total + self.integral_weight * sum(
                self.coordinate_loss(out[:, :self.num_landmarks].float(), points, visible) for out in outputs)
        return total

    def stack_heatmap_loss(self, out: Tensor, target: Tensor, target_weight: Tensor) -> Tensor:
        """One stack's heatmap loss; focal: the landmark channels' (divided by the visible
        landmarks) plus the boundary channel's (past K; divided by its positive pixels)."""
        k = self.num_landmarks
        if self.focal_threshold is None or out.shape[1] == k:
            return self.heatmap_loss(out, target, target_weight=target_weight)
        boundary = self.heatmap_loss(out[:, k:], target[:, k:], target_weight=target_weight[:, k:], reduction="sum")
        positives = (target[:, k:] >= self.focal_threshold).sum().clamp_min(1)
        return self.heatmap_loss(out[:, :k], target[:, :k], target_weight=target_weight[:, :k]) + boundary / positives

    def coordinate_loss(self, heatmaps: Tensor, points: Tensor, visible: Tensor) -> Tensor:
        """Mean over visible points and both axes of the L1 or Wing loss of the integral coordinates."""
        if self.focal_threshold is not None:
            heatmaps = torch.sigmoid(heatmaps)
        coords = awing_ext.integral_coords(heatmaps, self.integral_radius)
        n, k, _ = coords.shape
        as_maps = coords.reshape(n, k, 2, 1), points.float().reshape(n, k, 2, 1)
        weight = visible.float()
        if self.integral_loss == "wing":
            total = awing_ext.wing_loss(*as_maps, **INTEGRAL_WING, W=0.0, target_weight=weight, reduction="sum")
        else:
            total = awing_ext.l1_loss(*as_maps, W=0.0, target_weight=weight, reduction="sum")
        return total / (2 * weight.sum()).clamp_min(1.0)


def build_criterion(args: argparse.Namespace, num_landmarks: int) -> Criterion:
    """The Criterion of train's loss options."""
    if args.integral_loss not in INTEGRAL_LOSSES:
        raise ValueError(f"--integral-loss: unknown loss {args.integral_loss!r}; choose from "
                         f"{', '.join(INTEGRAL_LOSSES)}")
    return Criterion(heatmap_loss_fn(args), num_landmarks, args.integral_weight, args.integral_loss,
                     awing_ext.integral_radius(args.sigma),
                     focal_threshold=args.focal_threshold if args.loss == "focal" else None)


def describe_loss(args: argparse.Namespace) -> str:
    """The options of the loss in use as a command line, e.g. ``--loss wing --wing-omega 14
    --wing-epsilon 1 --loss-map-weight 10``: what a message about the loss's values names."""
    def flag(dest):
        return f"--{dest.replace('_', '-')} {getattr(args, dest):g}"
    _, params = LOSSES.get(args.loss, (None, {}))
    parts = [f"--loss {args.loss}", *(flag(dest) for dest in params.values()), flag("loss_map_weight")]
    if args.integral_weight > 0:
        parts += [flag("integral_weight"), f"--integral-loss {args.integral_loss}"]
    return " ".join(parts)
