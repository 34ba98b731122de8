"""The FAN's configuration (models/fan.py builds the network from it) and its named size presets,
which --preset gives every model (--model hrnet/unet/dla/timm take their input size from them too)."""
from __future__ import annotations

from dataclasses import dataclass

from .heatmap_outputs import HeatmapOutputs

__all__ = ["FANConfig", "PRESETS"]


@dataclass
class FANConfig(HeatmapOutputs):
    num_landmarks: int = 68
    num_stacks: int = 4
    width: int = 256          # channels inside the hourglasses
    depth: int = 4            # hourglass recursion depth
    input_size: int = 256     # input image side; heatmaps are input_size // 4
    boundary: bool = True     # the extra boundary channel (and boundary-coordinate channels from stack 2)
    coordconv: bool = True    # all coordinate channels (stem, hourglasses, boundary coordinates)
    end_relu: bool = False    # ReLU on every stack's output heatmaps (an option of the released model)
    input_mean: float = 0.5   # the model's input is (pixel / 255 - input_mean) / input_std
    input_std: float = 0.25   # (models/inputs.py; 0 and 1 for converted released checkpoints)

    def __post_init__(self):
        def need(cond: bool, msg: str):
            if not cond:
                raise ValueError(f"FANConfig: {msg} (config: {self})")

        for name in ("num_landmarks", "num_stacks", "width", "depth", "input_size"):
            v = getattr(self, name)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 1, f"{name} must be a positive int, got {v!r}")
        need(self.input_std > 0, f"input_std must be > 0, got {self.input_std}")
        need(self.width % 8 == 0, f"width must be divisible by 8 (the stem's ConvBlocks use width/2 and "
                                  f"width/4 channels), got {self.width}")
        step = 4 * 2 ** self.depth
        need(self.input_size % step == 0, f"input_size must be divisible by 4 * 2**depth = {step} "
                                          f"(heatmaps are input_size/4 and the hourglass halves them "
                                          f"depth times), got {self.input_size}")


PRESETS: dict[str, FANConfig] = {
    # The paper's network: 4 stacks of depth-4 hourglasses, 256 channels, 256 input, 64x64 heatmaps.
    "paper": FANConfig(num_stacks=4, width=256, depth=4, input_size=256),
    # CPU demo: 128 input, 32x32 heatmaps; 164k parameters, a forward+backward of a batch of 16
    # takes ~0.15-0.18 s on 2 CPU cores (width 48: ~0.25 s, width 64: ~0.31 s).
    "small": FANConfig(num_stacks=2, width=32, depth=3, input_size=128),
    # Unit tests.
    "tiny": FANConfig(num_stacks=2, width=16, depth=2, input_size=64),
}
