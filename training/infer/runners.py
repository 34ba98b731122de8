"""Deprecated: detect's runs are training/detect_inputs.py (run_image and run_folder are now
detect_image and detect_folder; video.run_video is detect_video). The old names stay importable from here,
with a DeprecationWarning, until awing 0.4."""
import importlib
import warnings

_RENAMED = {"NoFace": "NoFace", "find_checkpoint": "find_checkpoint", "check_out": "check_out",
            "run_image": "detect_image", "run_folder": "detect_folder"}


def __getattr__(name):
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(f"training.infer.runners.{name} is now training.detect_inputs.{new}; the old path is "
                      f"removed in awing 0.4", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module("training.detect_inputs"), new)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
