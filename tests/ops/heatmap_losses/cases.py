"""The heatmap-loss family as test cases: each op with its pure-PyTorch reference, the extra
parameters it takes, and inputs it is defined on (the focal loss takes logits)."""
from dataclasses import dataclass, field
from typing import Callable

import torch

import awing_ext
from awing_ext import reference

from helpers.heatmaps import gaussian_heatmaps


@dataclass(frozen=True)
class LossCase:
    name: str
    op: Callable
    ref: Callable
    params: dict = field(default_factory=dict)
    logits: bool = False            # pred is a logit map (focal), else a heatmap-like prediction

    def __repr__(self) -> str:      # pytest ids
        return self.name

    def inputs(self, shape=(2, 3, 12, 10), dtype=torch.float64, seed=0, requires_grad=False):
        """(pred, target): Gaussian targets and a noisy prediction (logits for the focal loss)."""
        n, c, h, w = shape
        target = gaussian_heatmaps(n, c, h, w, sigma=1.0, seed=seed, dtype=dtype)
        g = torch.Generator().manual_seed(seed + 1)
        noise = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
        pred = noise * 3 - 2 if self.logits else target + 0.3 * noise
        return pred.requires_grad_(requires_grad), target


CASES = [
    LossCase("mse_loss", awing_ext.mse_loss, reference.mse_loss_reference),
    LossCase("l1_loss", awing_ext.l1_loss, reference.l1_loss_reference),
    LossCase("smooth_l1_loss", awing_ext.smooth_l1_loss, reference.smooth_l1_loss_reference, {"beta": 0.1}),
    LossCase("wing_loss", awing_ext.wing_loss, reference.wing_loss_reference, {"omega": 0.5, "epsilon": 0.1}),
    LossCase("focal_heatmap_loss", awing_ext.focal_heatmap_loss, reference.focal_heatmap_loss_reference,
             {"alpha": 2.0, "beta": 4.0, "positive_threshold": 0.75}, logits=True),
]
