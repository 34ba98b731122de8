"""The heatmap losses train offers, as one list: each --loss name, its awing_ext op and its
parameters with their option flag, default, type (their float32 range: loss_ranges.py) and help.
train's option group (options.add_loss_options) and the criterion's op table
(criterion.LOSSES) are both built from it, so a loss is added in one place."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Tuple

from ..core.cli import float_in
from .loss_ranges import float32_inverted, float32_normal, float32_scale, focal_alpha, smooth_l1_beta

__all__ = ["LossParam", "LossSpec", "LOSS_FAMILY", "loss_ops"]


@dataclass(frozen=True)
class LossParam:
    """One parameter of a loss: the op's keyword, its train option (--FLAG), default, type, help."""
    keyword: str
    flag: str
    default: float
    type: Callable[[str], float]
    help: str

    @property
    def dest(self) -> str:
        return self.flag.replace("-", "_")


@dataclass(frozen=True)
class LossSpec:
    op: str                          # the awing_ext function
    params: Tuple[LossParam, ...] = ()


LOSS_FAMILY: Dict[str, LossSpec] = {
    "awing": LossSpec("adaptive_wing_loss", (
        LossParam("omega", "awing-omega", 14.0, float32_normal,
                  "awing: omega (a normal float32, 1.2e-38 to 3.4e38, as theta and alpha are; with theta, epsilon "
                  "and alpha, the loss at d = theta must be neither inf nor 0 for every target)"),
        LossParam("theta", "awing-theta", 0.5, float32_normal, "awing: theta"),
        LossParam("epsilon", "awing-epsilon", 1.0, float32_inverted,
                  "awing: epsilon (1.2e-38 to 2^126 = 8.5e37: the kernel uses 1/epsilon)"),
        LossParam("alpha", "awing-alpha", 2.1, float32_normal, "awing: alpha"),
    )),
    "wing": LossSpec("wing_loss", (
        LossParam("omega", "wing-omega", 14.0, float32_normal,
                  "wing: omega (the AWing paper's, for heatmap values; Feng et al.'s 10 was for pixels; a normal "
                  "float32, and omega / epsilon, the slope at d = 0, a finite one)"),
        LossParam("epsilon", "wing-epsilon", 1.0, float32_inverted,
                  "wing: epsilon (1.2e-38 to 2^126 = 8.5e37: the kernel uses 1/epsilon)"),
    )),
    "mse": LossSpec("mse_loss"),
    "l1": LossSpec("l1_loss"),
    "smooth-l1": LossSpec("smooth_l1_loss", (
        LossParam("beta", "smooth-l1-beta", 0.1, smooth_l1_beta,
                  "smooth-l1: beta (torch's 1.0 would be half the MSE for heatmap values in [0, 1]); 0 (L1) or "
                  "1.2e-38 to 2^125 = 4.3e37: beyond it 0.5 d^2 / beta underflows float32 for heatmap values"),
    )),
    "focal": LossSpec("focal_heatmap_loss", (
        LossParam("alpha", "focal-alpha", 2.0, focal_alpha,
                  "focal: alpha (CornerNet's); at most 126 + log2(ln 2) = 125.47: at p = 1/2 every pixel's loss is "
                  "2^-alpha ln 2, which beyond it underflows float32 (the loss is 0)"),
        LossParam("beta", "focal-beta", 4.0, float32_scale, "focal: beta (CornerNet's); at most float32's 3.4e38"),
        LossParam("positive_threshold", "focal-threshold", 0.75, float_in(0.01, 1),
                  "focal: target value from which a pixel is positive (sub-pixel Gaussian peaks are < 1; "
                  "docs/losses.md, Focal)"),
    )),
}


def loss_ops() -> Dict[str, tuple]:
    """{--loss name: (the awing_ext function's name, {op keyword: option dest})}."""
    return {name: (spec.op, {p.keyword: p.dest for p in spec.params}) for name, spec in LOSS_FAMILY.items()}
