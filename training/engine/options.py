"""Deprecated: train's options are training/train_options.py (beside the train command), the
milestones rule training.engine.schedule, annotation_files and augment_config
training.engine.trainer. Re-exported here, with a DeprecationWarning, until awing 0.4."""
import warnings

from ..train_options import *  # noqa: F401,F403  (train_options has no __all__: every public name)
from .schedule import lr_milestones  # noqa: F401
from .trainer import annotation_files, augment_config  # noqa: F401

warnings.warn("training.engine.options is now training.train_options (lr_milestones: training.engine.schedule; "
              "annotation_files, augment_config: training.engine.trainer); the old path is removed in awing 0.4",
              DeprecationWarning, stacklevel=2)
