"""The FAN building blocks (Bulat & Tzimiropoulos 2017, as in the face-alignment package and the
AWing release): the multi-scale residual ConvBlock and the recursive Hourglass."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ConvBlock", "Hourglass"]


def _conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=1, padding=1, bias=False)


class ConvBlock(nn.Module):
    """Pre-activation multi-scale residual block.

    Three BN-ReLU-conv3x3 layers in sequence with out/2, out/4 and out/4 channels; their outputs
    are concatenated (out channels) and added to the input, through a BN-ReLU-conv1x1 shortcut
    when the channel count changes. ``out_channels`` must be divisible by 4.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        if out_channels % 4 != 0:
            raise ValueError(f"ConvBlock: out_channels must be divisible by 4, got {out_channels}")
        half, quarter = out_channels // 2, out_channels // 4
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = _conv3x3(in_channels, half)
        self.bn2 = nn.BatchNorm2d(half)
        self.conv2 = _conv3x3(half, quarter)
        self.bn3 = nn.BatchNorm2d(quarter)
        self.conv3 = _conv3x3(quarter, quarter)
        self.downsample = None
        if in_channels != out_channels:
            self.downsample = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True),
                                            nn.Conv2d(in_channels, out_channels, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        out1 = self.conv1(F.relu(self.bn1(x)))
        out2 = self.conv2(F.relu(self.bn2(out1)))
        out3 = self.conv3(F.relu(self.bn3(out2)))
        out = torch.cat([out1, out2, out3], dim=1)
        residual = x if self.downsample is None else self.downsample(x)
        return out + residual


class Hourglass(nn.Module):
    """Recursive hourglass of ConvBlocks at constant width.

    At each of ``depth`` levels: an upper branch (one ConvBlock at the current resolution) and a
    lower branch (2x2 average pool, ConvBlock, the next level or, at the bottom, one more
    ConvBlock, ConvBlock, nearest 2x upsample); the two branches are added. The input's height and
    width must be divisible by 2 ** depth.
    """

    def __init__(self, width: int, depth: int):
        super().__init__()
        if depth < 1:
            raise ValueError(f"Hourglass: depth must be >= 1, got {depth}")
        self.depth = depth
        self.up = ConvBlock(width, width)        # b1: skip branch at this resolution
        self.low1 = ConvBlock(width, width)      # b2: after pooling
        self.inner = Hourglass(width, depth - 1) if depth > 1 else ConvBlock(width, width)  # b2_plus at bottom
        self.low3 = ConvBlock(width, width)      # b3: before upsampling

    def forward(self, x: Tensor) -> Tensor:
        up = self.up(x)
        low = self.low3(self.inner(self.low1(F.avg_pool2d(x, 2, stride=2))))
        return up + F.interpolate(low, scale_factor=2.0, mode="nearest")
