"""The --model names and what they build: one place that maps train's model options to a config,
a checkpoint's ``model_config`` back to its config, and a config to its module.

    fan          the AWing paper's stacked-hourglass FAN (models/fan.py; --stacks/--width/--depth)
    hrnet-w18    HRNetV2-W18 (timm) + HRNet's concatenation head (models/backbone_net.py, heads.py)
    unet         a small U-Net written here (models/unet.py)
    dla34        DLA-34 (timm) + an FPN-like upsampling head
    timm:NAME    any timm backbone with feature maps (features_only) + the same upsampling head

Every model returns a list of (N, K [+1 boundary], S/4, S/4) raw heatmaps (one per FAN stack, one
for the others), so targets, losses and decoding are the same for all.
"""
from __future__ import annotations

import argparse
import dataclasses
from typing import Optional, Union

from torch import nn

from .backbone_config import BACKBONE_SIZES, BackboneConfig
from .fan import build_model
from .fan_config import PRESETS, FANConfig

__all__ = ["MODEL_NAMES", "ModelConfig", "model_option", "model_kind", "model_config", "config_from_dict",
           "create_model"]

MODEL_NAMES = ("fan", "hrnet-w18", "unet", "dla34", "timm:NAME")
ModelConfig = Union[FANConfig, BackboneConfig]


def model_kind(name: str) -> str:
    """"fan", "hrnet-w18", "unet", "dla34" or "timm" (for timm:NAME); ValueError listing the names."""
    if name in MODEL_NAMES[:-1]:
        return name
    if name.startswith("timm:") and name[5:].strip():
        return "timm"
    raise ValueError(f"unknown model {name!r}: choose from {', '.join(MODEL_NAMES)} "
                     f"(NAME: a timm backbone, e.g. timm:resnet18)")


def model_option(text: str) -> str:
    """--model's argparse type (the timm name itself is checked when the model is built)."""
    try:
        model_kind(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def model_config(model: str = "fan", preset: str = "small", *, num_landmarks: Optional[int] = None,
                 stacks: Optional[int] = None, width: Optional[int] = None, depth: Optional[int] = None,
                 boundary: bool = True, coordconv: bool = True, pretrained: bool = False) -> ModelConfig:
    """The config train's options describe: the preset gives the input size and the size class
    (models/backbone_config.py BACKBONE_SIZES), the others override it. Options that mean nothing
    for `model` are a ValueError naming them."""
    kind = model_kind(model)
    if preset not in PRESETS:
        raise ValueError(f"unknown --preset {preset!r}; choose from {', '.join(sorted(PRESETS))}")
    landmarks = {} if num_landmarks is None else {"num_landmarks": num_landmarks}
    if kind == "fan":
        if pretrained:
            raise ValueError("--pretrained-backbone needs a timm backbone (--model hrnet-w18, dla34 or timm:NAME): "
                             "fan trains from scratch (or from a converted checkpoint with --init)")
        overrides = {k: v for k, v in (("num_stacks", stacks), ("width", width), ("depth", depth)) if v is not None}
        return dataclasses.replace(PRESETS[preset], boundary=boundary, coordconv=coordconv, **overrides, **landmarks)
    given = [flag for flag, v in (("--stacks", stacks), ("--depth", depth)) if v is not None]
    if not coordconv:
        given.append("--no-coordconv")
    if given:
        raise ValueError(f"{'/'.join(given)} appl{'ies' if len(given) == 1 else 'y'} to --model fan only "
                         f"({model} is a single-stage model without hourglasses or CoordConv)")
    if pretrained and kind == "unet":
        raise ValueError("--pretrained-backbone needs a timm backbone (--model hrnet-w18, dla34 or timm:NAME): "
                         "unet trains from scratch")
    backbone, size_width = BACKBONE_SIZES[preset][kind]
    if kind == "timm":
        backbone = model[5:].strip()
    return BackboneConfig(model=model, backbone=backbone, width=width or size_width,
                          input_size=PRESETS[preset].input_size, boundary=boundary, **landmarks)


def config_from_dict(config: dict) -> ModelConfig:
    """A checkpoint's ``model_config`` as its config: a FANConfig when it names no model (every
    checkpoint written before the other models existed) or "fan", else a BackboneConfig."""
    config = dict(config)
    if config.get("model", "fan") == "fan":
        config.pop("model", None)
        return FANConfig(**config)
    return BackboneConfig(**config)


def create_model(config: ModelConfig, pretrained: bool = False) -> nn.Module:
    """The module of a config; `pretrained`: timm's ImageNet weights for the backbone."""
    if isinstance(config, FANConfig):
        return build_model(config)
    if not isinstance(config, BackboneConfig):
        raise TypeError(f"create_model: expected a FANConfig or BackboneConfig, got {type(config).__name__}")
    if config.model == "unet":
        from .unet import UNet
        return UNet(config)
    from .backbone_net import BackboneNet
    return BackboneNet(config, pretrained=pretrained)
