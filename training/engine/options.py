"""Deprecated: train's options are training/train_options.py (beside the train command), the
milestones rule training.engine.schedule, annotation_files and augment_config
training.engine.trainer. Re-exported here, with a DeprecationWarning, until awing 0.4."""
import warnings

from ..train_options import *  # noqa: F401,F403
from ..train_options import (DESCRIPTION, PER_INVOCATION, RESUMABLE, add_data_options, add_loss_options,  # noqa: F401
                             add_model_options, add_run_options, build_parser, given_options, parse_args,
                             parse_options, resume_options)
from .schedule import lr_milestones  # noqa: F401
from .trainer import annotation_files, augment_config  # noqa: F401

warnings.warn("training.engine.options is now training.train_options (lr_milestones: training.engine.schedule; "
              "annotation_files, augment_config: training.engine.trainer); the old path is removed in awing 0.4",
              DeprecationWarning, stacklevel=2)
