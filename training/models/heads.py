"""Heatmap heads over a backbone's feature pyramid: each turns the stride-4..32 feature maps into
(N, outputs, S/4, S/4) raw heatmaps (no sigmoid, as the FAN's).

* HRNetHead: HRNetV2's representation head as HRNet-Facial-Landmark-Detection uses it (Wang et
  al. 2020, Sun et al. 2019): every branch bilinearly upsampled to the stride-4 branch's size,
  concatenated, 1x1 conv - BN - ReLU, 1x1 conv to the heatmaps.
* UpsamplingHead: an FPN-like top-down path (Lin et al. 2017) for the other backbones: a 1x1
  lateral conv to `width` channels per level; from the deepest level down, bilinear x2 and add the
  next lateral; a 3x3 conv - BN - ReLU at stride 4, then a 1x1 conv to the heatmaps. A backbone
  whose finest feature is coarser than stride 4 is resized to S/4 before the 3x3 conv.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["HRNetHead", "UpsamplingHead"]


def _conv_bn_relu(cin: int, cout: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def _resize(x: Tensor, size) -> Tensor:
    return x if tuple(x.shape[-2:]) == tuple(size) else F.interpolate(x, size=size, mode="bilinear",
                                                                      align_corners=False)


class HRNetHead(nn.Module):
    """Concatenated upsampled branches -> 1x1 conv-BN-ReLU (width) -> 1x1 conv (outputs)."""

    def __init__(self, in_channels: Sequence[int], width: int, outputs: int):
        super().__init__()
        self.fuse = _conv_bn_relu(sum(in_channels), width, 1)
        self.out = nn.Conv2d(width, outputs, 1)
        nn.init.zeros_(self.out.bias)

    def forward(self, features: Sequence[Tensor], size) -> Tensor:
        top = _resize(features[0], size)
        x = torch.cat([top] + [_resize(f, top.shape[-2:]) for f in features[1:]], dim=1)
        return self.out(self.fuse(x))


class UpsamplingHead(nn.Module):
    """FPN-like top-down sum of 1x1 laterals -> 3x3 conv-BN-ReLU at S/4 -> 1x1 conv (outputs)."""

    def __init__(self, in_channels: Sequence[int], width: int, outputs: int):
        super().__init__()
        self.laterals = nn.ModuleList(nn.Conv2d(c, width, 1) for c in in_channels)
        self.smooth = _conv_bn_relu(width, width, 3)
        self.out = nn.Conv2d(width, outputs, 1)
        nn.init.zeros_(self.out.bias)

    def forward(self, features: Sequence[Tensor], size) -> Tensor:
        x = self.laterals[-1](features[-1])
        for lateral, f in zip(reversed(self.laterals[:-1]), reversed(features[:-1])):
            y = lateral(f)
            x = _resize(x, y.shape[-2:]) + y
        return self.out(self.smooth(_resize(x, size)))
