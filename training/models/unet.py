"""A small U-Net (Ronneberger et al. 2015) with heatmaps at stride 4: --model unet (no timm).

Layout (width w from the preset, S the input side):

    stem:     conv3x3 stride 2 (3 -> w) - BN - ReLU, conv3x3 (w -> w) - BN - ReLU       S/2
    encoder:  4 x [2x2 max pool, DoubleConv (c -> 2c)]       2w, 4w, 8w, 16w at S/4 .. S/32
    decoder:  3 x [2x2 up-convolution (c -> c/2), concat the encoder's map of that size,
              DoubleConv (c -> c/2)]                            8w, 4w, 2w at S/16 .. S/4
    out:      conv1x1 (2w -> K [+1 boundary])                                           S/4

DoubleConv = (conv3x3 - BN - ReLU) x 2, as in the paper (with BN, padded convs so the skips
need no crop). The decoder stops at stride 4, where the heatmaps are: the stride-2 stem feeds
only the encoder.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .backbone_config import BackboneConfig

__all__ = ["UNet", "DoubleConv"]

DOWN_STEPS = 4      # S/2 -> S/32
UP_STEPS = 3        # S/32 -> S/4


class DoubleConv(nn.Sequential):
    """(conv3x3 - BN - ReLU) x 2."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """(N, 3, S, S) -> [(N, K [+1], S/4, S/4)] (see the module docstring)."""

    def __init__(self, config: BackboneConfig):
        super().__init__()
        self.config = config
        w = config.width
        self.stem = DoubleConv(3, w, stride=2)
        self.down = nn.ModuleList(nn.Sequential(nn.MaxPool2d(2), DoubleConv(w * 2 ** i, w * 2 ** (i + 1)))
                                  for i in range(DOWN_STEPS))
        top = w * 2 ** DOWN_STEPS
        self.up = nn.ModuleList(nn.ConvTranspose2d(top >> i, top >> (i + 1), 2, stride=2) for i in range(UP_STEPS))
        self.merge = nn.ModuleList(DoubleConv(top >> i, top >> (i + 1)) for i in range(UP_STEPS))
        self.out = nn.Conv2d(top >> UP_STEPS, config.num_outputs, 1)
        nn.init.zeros_(self.out.bias)

    def forward(self, images: Tensor) -> list[Tensor]:
        s = self.config.input_size
        if not torch.jit.is_tracing() and (images.dim() != 4 or tuple(images.shape[1:]) != (3, s, s)):
            raise ValueError(f"unet: expected images of shape (N, 3, {s}, {s}), got {tuple(images.shape)}")
        x = self.stem(images)
        skips = []
        for down in self.down:
            x = down(x)
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(self.up, self.merge):
            x = merge(torch.cat([up(x), skips.pop()], dim=1))
        return [self.out(x)]

    def extra_repr(self) -> str:
        return repr(self.config)
