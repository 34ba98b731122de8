"""The configuration of the single-stage heatmap models (every --model but fan), and the size class
each --preset gives them.

A BackboneConfig answers what the codec, the predictor and export read of a FANConfig (input_size,
heatmap_size, num_landmarks, num_outputs, boundary, input_mean/std, num_stacks = 1), so they work
with every model. It is checkpointed as ``model_config`` = dict(vars(config)): its ``model`` entry
names the kind (a FANConfig has none: a model_config without ``model`` is a FAN, as in every
checkpoint written before these models existed) and ``backbone`` the timm model that was built.
"""
from __future__ import annotations

from dataclasses import dataclass

from .heatmap_outputs import HeatmapOutputs

__all__ = ["BackboneConfig", "BACKBONE_MODELS", "BACKBONE_SIZES", "INPUT_STEP"]

# the --model names besides "fan"; "timm:NAME" stands for any timm backbone
BACKBONE_MODELS = ("hrnet-w18", "unet", "dla34", "timm:NAME")

# the models reach stride 32: the input side must be a multiple of 32
INPUT_STEP = 32

# --preset -> model kind -> (timm backbone, head width). The head width is the channels of the
# head (unet: of its first level, doubled at each of its 4 down steps). HRNet's head is as wide as
# its branches together (18+36+72+144 = 270; hrnet_w18_small's 16+32+64+128 = 240), as in
# HRNet-Facial-Landmark-Detection. "tiny" (unit tests) uses timm's smallest variants of a family:
# hrnet_w18_small (1 block per branch, 1.5M parameters) and dla46_c (DLA-46-C, 1.0M, against
# dla34's 15M), so that a tiny checkpoint stays a few MB.
BACKBONE_SIZES: dict[str, dict[str, tuple[str, int]]] = {
    "paper": {"hrnet-w18": ("hrnet_w18", 270), "dla34": ("dla34", 256), "unet": ("", 32), "timm": ("", 256)},
    "small": {"hrnet-w18": ("hrnet_w18", 270), "dla34": ("dla34", 128), "unet": ("", 16), "timm": ("", 128)},
    "tiny": {"hrnet-w18": ("hrnet_w18_small", 240), "dla34": ("dla46_c", 32), "unet": ("", 8), "timm": ("", 32)},
}


@dataclass
class BackboneConfig(HeatmapOutputs):
    model: str                # the --model name: "hrnet-w18", "unet", "dla34" or "timm:NAME"
    backbone: str = ""        # the timm model built ("hrnet_w18_small" for a tiny hrnet-w18); "" for unet
    num_landmarks: int = 68
    width: int = 64           # head channels (unet: its first level's; see BACKBONE_SIZES)
    input_size: int = 256     # input image side, a multiple of 32; heatmaps are input_size // 4
    boundary: bool = True     # the extra boundary channel, last
    input_mean: float = 0.5   # the model's input is (pixel / 255 - input_mean) / input_std
    input_std: float = 0.25

    def __post_init__(self):
        def need(cond: bool, msg: str):
            if not cond:
                raise ValueError(f"BackboneConfig: {msg} (config: {self})")

        need(self.model in BACKBONE_MODELS[:-1] or self.model.startswith("timm:") and len(self.model) > 5,
             f"model must be one of {', '.join(BACKBONE_MODELS)}, got {self.model!r}")
        need(self.model == "unet" or bool(self.backbone), f"{self.model} needs the name of its timm backbone")
        for name in ("num_landmarks", "width", "input_size"):
            v = getattr(self, name)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 1, f"{name} must be a positive int, got {v!r}")
        need(self.input_std > 0, f"input_std must be > 0, got {self.input_std}")
        need(self.input_size % INPUT_STEP == 0, f"input_size must be a multiple of {INPUT_STEP} (the backbone "
                                                f"reaches stride 32), got {self.input_size}")

    @property
    def num_stacks(self) -> int:
        """One output (a single-stage model); a FANConfig's field of the same name counts its stacks."""
        return 1
