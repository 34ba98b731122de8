"""The heatmap output layer's starting bias: CornerNet's prior for a model trained with the focal
loss (its heatmaps are logits).

Law & Deng (CornerNet, ECCV 2018), after Lin et al.'s RetinaNet (ICCV 2017, Sec. 4.1), start the
heatmap head at bias b = -log((1 - pi) / pi) with pi = 0.1, so that every pixel begins as "probably
background": with b = 0 every pixel starts at p = 0.5, and the many negative pixels give a large,
unstable first loss. Measured on the tiny FAN, 8 synthetic faces, seed 0: 11.5 at the prior
against 102.2 at b = 0 without the loss map, 117.0 against 179.5 with it (W = 10 weighs the
positives up; tests/training/engine/test_focal_training.py).

Every model names its heatmap convolution(s) `out` (one per stack for the FAN, the head's for the
single-stage models), which is how they are found here.
"""
import math

from torch import nn

__all__ = ["FOCAL_PRIOR", "prior_bias", "heatmap_output_layers", "init_output_prior"]

FOCAL_PRIOR = 0.1


def prior_bias(prior: float = FOCAL_PRIOR) -> float:
    """-log((1 - prior) / prior): the logit of `prior` (-2.197 for 0.1)."""
    if not 0 < prior < 1:
        raise ValueError(f"prior must be in (0, 1), got {prior!r}")
    return -math.log((1 - prior) / prior)


def heatmap_output_layers(model: nn.Module) -> list:
    """The convolutions that output heatmaps: the Conv2d modules named `out`."""
    layers = [m for name, m in model.named_modules() if name.rsplit(".", 1)[-1] == "out" and isinstance(m, nn.Conv2d)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no heatmap output layer (a Conv2d named 'out')")
    return layers


def init_output_prior(model: nn.Module, prior: float = FOCAL_PRIOR) -> None:
    """Sets the bias of every heatmap output layer to prior_bias(prior)."""
    value = prior_bias(prior)
    for layer in heatmap_output_layers(model):
        if layer.bias is None:
            raise ValueError(f"{type(model).__name__}'s heatmap output layer has no bias to start at the prior")
        nn.init.constant_(layer.bias, value)
