"""Face alignment networks: the AWing paper's stacked-hourglass FAN with CoordConv."""
from .coordconv import BOUNDARY_THRESHOLD, CoordConv, boundary_coord_channels, coord_channels
from .fan import FAN, PRESETS, FANConfig, build_model
from .hourglass import ConvBlock, Hourglass

__all__ = ["FAN", "FANConfig", "PRESETS", "build_model", "ConvBlock", "Hourglass", "CoordConv",
           "coord_channels", "boundary_coord_channels", "BOUNDARY_THRESHOLD"]
