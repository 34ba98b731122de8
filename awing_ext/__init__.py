"""awing_ext: fused CPU/CUDA kernels for Adaptive Wing loss face alignment.

Importing this package loads the compiled ops (torch.ops.awing_ext.*); see build_info() for
which backends were built.
"""
from ._library import build_info, ops
from .loss import AdaptiveWingLoss, adaptive_wing_loss

__all__ = ["build_info", "ops", "adaptive_wing_loss", "AdaptiveWingLoss"]
__version__ = "0.1.0"
