"""The stacked-hourglass FAN of the AWing paper, with CoordConv and boundary-coordinate channels.

Layout (width W, K landmarks, input S x S; heatmaps are S/4 x S/4):

    stem:   CoordConv 7x7 stride 2 (3 -> W/4) - BN - ReLU          S/2
            ConvBlock(W/4 -> W/2) - 2x2 avg pool                     S/4
            ConvBlock(W/2 -> W/2) - ConvBlock(W/2 -> W)
    stack i (i = 0 .. num_stacks - 1):
            CoordConv 1x1 (W + 3 [+ 2 from stack 1 on] -> W)
            Hourglass(W, depth) - ConvBlock(W) - conv1x1 - BN - ReLU  -> ll
            conv1x1(ll) -> out_i: K [+ 1 boundary, last] raw heatmaps (no sigmoid)
            features += conv1x1(ll) + conv1x1(out_i)                  (all stacks but the last)

The boundary-coordinate channels of stack i >= 1 are the x/y coordinate channels where stack
i-1's boundary heatmap (its last output channel) is > 0.05, else 0 (mask detached). Every
stack's output is returned for intermediate supervision.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .coordconv import CoordConv
from .fan_config import PRESETS, FANConfig
from .heatmap_outputs import HeatmapOutputs  # noqa: F401  (its place before 0.4)
from .hourglass import ConvBlock, Hourglass

__all__ = ["FANConfig", "FAN", "PRESETS", "build_model"]


class _Stack(nn.Module):
    """One hourglass stack: entry CoordConv, hourglass, head and (but for the last) merge."""

    def __init__(self, cfg: FANConfig, index: int):
        super().__init__()
        w, last = cfg.width, index == cfg.num_stacks - 1
        with_boundary = cfg.boundary and index > 0
        self.entry = CoordConv(w, w, 1, with_r=True, with_boundary=with_boundary) if cfg.coordconv else None
        self.hourglass = Hourglass(w, cfg.depth)
        self.top = ConvBlock(w, w)
        self.conv_last = nn.Conv2d(w, w, 1)
        self.bn_last = nn.BatchNorm2d(w)
        self.out = nn.Conv2d(w, cfg.num_outputs, 1)
        nn.init.zeros_(self.out.bias)
        self.end_relu = cfg.end_relu
        self.merge_features = None if last else nn.Conv2d(w, w, 1)
        self.merge_outputs = None if last else nn.Conv2d(cfg.num_outputs, w, 1)

    def forward(self, x: Tensor, boundary: Tensor | None) -> tuple[Tensor, Tensor]:
        h = x if self.entry is None else self.entry(x, boundary)
        ll = F.relu(self.bn_last(self.conv_last(self.top(self.hourglass(h)))))
        out = self.out(ll)
        if self.end_relu:
            out = F.relu(out)
        if self.merge_features is not None:
            x = x + self.merge_features(ll) + self.merge_outputs(out)
        return x, out


class FAN(nn.Module):
    """Stacked-hourglass face alignment network (see the module docstring).

    ``forward(images)`` takes (N, 3, S, S) float images normalised as config.input_mean/input_std
    say (models/inputs.model_input), S = config.input_size, and
    returns a list with one (N, K + 1, S/4, S/4) tensor per stack (K without the boundary), the
    boundary heatmap last; the last stack's is the prediction.
    """

    def __init__(self, config: FANConfig):
        super().__init__()
        self.config = config
        w = config.width
        if config.coordconv:
            self.stem_conv = CoordConv(3, w // 4, 7, stride=2, padding=3, with_r=True)
        else:
            self.stem_conv = nn.Conv2d(3, w // 4, 7, stride=2, padding=3)
        self.stem_bn = nn.BatchNorm2d(w // 4)
        self.stem_block1 = ConvBlock(w // 4, w // 2)
        self.stem_block2 = ConvBlock(w // 2, w // 2)
        self.stem_block3 = ConvBlock(w // 2, w)
        self.stacks = nn.ModuleList(_Stack(config, i) for i in range(config.num_stacks))

    def forward(self, images: Tensor) -> list[Tensor]:
        if not torch.jit.is_tracing():  # shapes are traced values there: checking them would warn
            s = self.config.input_size
            if images.dim() != 4 or tuple(images.shape[1:]) != (3, s, s):
                raise ValueError(f"FAN: expected images of shape (N, 3, {s}, {s}), got {tuple(images.shape)}")
        x = F.relu(self.stem_bn(self.stem_conv(images)))
        x = F.avg_pool2d(self.stem_block1(x), 2, stride=2)
        x = self.stem_block3(self.stem_block2(x))
        outputs: list[Tensor] = []
        boundary = None
        for stack in self.stacks:
            x, out = stack(x, boundary)
            outputs.append(out)
            if self.config.boundary:
                boundary = out[:, -1:]
        return outputs

    def extra_repr(self) -> str:
        return repr(self.config)


def build_model(preset_or_config: str | FANConfig = "paper", **overrides) -> FAN:
    """A FAN from a preset name (see PRESETS) or a FANConfig, with field overrides:
    ``build_model("small", num_landmarks=98)``."""
    if isinstance(preset_or_config, FANConfig):
        cfg = preset_or_config
    elif isinstance(preset_or_config, str):
        if preset_or_config not in PRESETS:
            raise ValueError(f"unknown model preset {preset_or_config!r}; choose from {sorted(PRESETS)}")
        cfg = PRESETS[preset_or_config]
    else:
        raise TypeError(f"build_model: expected a preset name or a FANConfig, got {type(preset_or_config).__name__}")
    fields = {f.name for f in dataclasses.fields(FANConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"build_model: unknown config field(s) {unknown}; FANConfig has {sorted(fields)}")
    return FAN(dataclasses.replace(cfg, **overrides))
