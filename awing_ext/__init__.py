"""awing_ext: fused CPU/CUDA kernels for Adaptive Wing loss face alignment.

Importing this package loads the compiled ops (torch.ops.awing_ext.*); see build_info() for
which backends were built.
"""
from ._library import MAX_KERNEL_SIZE, build_info, ops
from ._version import __version__
from .adaptive_wing_loss import AdaptiveWingLoss, adaptive_wing_loss
from .decode_heatmaps import DECODE_METHODS, decode_heatmaps, modulate_heatmaps
from .integral_coords import integral_coords, integral_radius
from .heatmap_losses import focal_heatmap_loss, l1_loss, mse_loss, smooth_l1_loss, wing_loss
from .render_boundaries import render_boundaries
from .render_heatmaps import render_heatmaps
from .loss_map_mask import loss_map_mask, weight_map
from .schemes import SCHEMES, LandmarkScheme, get_scheme   # before scheme_file: it reads the built-ins
from .scheme_file import SchemeError, read_scheme
from .soft_argmax import soft_argmax

__all__ = ["__version__", "build_info", "ops", "MAX_KERNEL_SIZE", "adaptive_wing_loss", "AdaptiveWingLoss",
           "mse_loss", "l1_loss", "smooth_l1_loss", "wing_loss", "focal_heatmap_loss", "render_heatmaps",
           "render_boundaries", "loss_map_mask", "weight_map", "decode_heatmaps", "DECODE_METHODS", "modulate_heatmaps",
           "integral_coords", "integral_radius", "soft_argmax", "SCHEMES", "LandmarkScheme", "get_scheme",
           "read_scheme", "SchemeError"]
