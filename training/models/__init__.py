"""Face alignment networks: the AWing paper's stacked-hourglass FAN with CoordConv, and the
single-stage heatmap models of --model (HRNet, DLA, U-Net, any timm backbone: models/registry.py)."""
from .backbone_config import BackboneConfig
from .coordconv import BOUNDARY_THRESHOLD, CoordConv, boundary_coord_channels, coord_channels
from .fan import FAN, build_model
from .fan_config import PRESETS, FANConfig
from .hourglass import ConvBlock, Hourglass
from .registry import MODEL_NAMES, config_from_dict, create_model, model_config, model_option

__all__ = ["FAN", "FANConfig", "PRESETS", "build_model", "ConvBlock", "Hourglass", "CoordConv",
           "coord_channels", "boundary_coord_channels", "BOUNDARY_THRESHOLD", "BackboneConfig", "MODEL_NAMES",
           "config_from_dict", "create_model", "model_config", "model_option"]
