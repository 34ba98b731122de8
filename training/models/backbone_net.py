"""Single-stage heatmap models on a timm backbone: --model hrnet-w18, dla34 and timm:NAME.

The backbone runs with features_only; its feature maps of stride 4 to 32 (timm's feature_info
reductions) go to a head (models/heads.py): HRNetHead for hrnet-w18 (its four branches, taken
before timm's classification "incre" modules: feature_location=""), UpsamplingHead for the
others. forward returns a one-element list, like the FAN's list of stacks.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .backbone_config import BackboneConfig
from .heads import HRNetHead, UpsamplingHead
from .timm_features import create_features

__all__ = ["BackboneNet", "FEATURE_STRIDES"]

FEATURE_STRIDES = (4, 8, 16, 32)   # the feature maps the heads use (coarser ones too, for a timm:NAME without stride 4)


class BackboneNet(nn.Module):
    """timm backbone + heatmap head: (N, 3, S, S) -> [(N, K [+1], S/4, S/4)].

    `pretrained`: start the backbone from timm's ImageNet weights (fetched from the Hugging Face
    hub; an error says what to do when they cannot be). A checkpoint rebuilds without it.
    """

    def __init__(self, config: BackboneConfig, pretrained: bool = False):
        super().__init__()
        self.config = config
        extra = {"feature_location": ""} if config.model == "hrnet-w18" else {}
        self.backbone = create_features(config.backbone, config.model, pretrained, img_size=config.input_size,
                                        **extra)
        reductions = self.backbone.feature_info.reduction()
        self.levels = [i for i, r in enumerate(reductions) if FEATURE_STRIDES[0] <= r <= FEATURE_STRIDES[-1]]
        if not self.levels:
            raise ValueError(f"--model {config.model}: {config.backbone} has no feature map of stride 4 to 32 "
                             f"(its strides: {reductions})")
        channels = [self.backbone.feature_info.channels()[i] for i in self.levels]
        head = HRNetHead if config.model == "hrnet-w18" else UpsamplingHead
        self.head = head(channels, config.width, config.num_outputs)

    def forward(self, images: Tensor) -> list[Tensor]:
        s = self.config.input_size
        if not torch.jit.is_tracing() and (images.dim() != 4 or tuple(images.shape[1:]) != (3, s, s)):
            raise ValueError(f"{self.config.model}: expected images of shape (N, 3, {s}, {s}), "
                             f"got {tuple(images.shape)}")
        features = self.backbone(images)
        h = self.config.heatmap_size
        return [self.head([features[i] for i in self.levels], (h, h))]

    def extra_repr(self) -> str:
        return repr(self.config)
