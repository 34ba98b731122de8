"""Deprecated: checkpoint I/O is training.core.checkpoint, load_model and fit_state_dict are
training.models.loading. This module re-exports them, with a DeprecationWarning, until awing 0.4."""
import warnings

from ..core.checkpoint import *  # noqa: F401,F403
from ..core.checkpoint import __all__ as _core_names
from ..models.loading import fit_state_dict, load_model  # noqa: F401

__all__ = [*_core_names, "load_model", "fit_state_dict"]

warnings.warn("training.engine.checkpoint is now training.core.checkpoint (load_model, fit_state_dict: "
              "training.models.loading); the old path is removed in awing 0.4", DeprecationWarning, stacklevel=2)
