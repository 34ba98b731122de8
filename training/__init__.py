"""awing training package.

The top level holds the commands, each an argparse front end run as ``python -m
training.<command>`` (train, evaluate, detect, export, convert, ablate), and their argparse bodies
beside them (train_options.py, train_config.py: --config files; detect_inputs.py). The internals
live in subpackages, in one-way layers: each imports only the packages docs/design.md's "Layers"
table allows it (all of them above it in this list; tests/training/test_layers.py checks):

* ``training.core``: the floor: checkpoint I/O, the device and memory runtime, the commands'
  shared plumbing (cli: argument types, strict JSON, run()), crop geometry, the heatmap codec;
* ``training.data``: datasets, crops and augmentation;
* ``training.models``: the FAN (hourglasses, CoordConv), the other backbones, loading a checkpoint's model;
* ``training.infer``: the Predictor, face detection, tracking and smoothing, overlays, ONNX;
* ``training.eval``: metrics, the evaluation protocols, result plots;
* ``training.engine``: the training loop (criterion, loss watch, schedule), run folders,
  distributed training;
* ``training.ablation``: ablation grids, their runs, statistics and reports.

Old module paths (``training.metrics``, ``training.checkpoint``, ``training.predict``, ...) keep
working for one release: importing one gives the new module itself (the same object) with a
DeprecationWarning. They are removed in awing 0.4.
"""
import importlib
import importlib.abc
import importlib.util
import sys
import warnings

# old module (training.<name>) -> its new place; removed in awing 0.4
MOVED = {
    "metrics": "training.eval.metrics",
    "evaluation": "training.eval.protocol",
    "released_protocol": "training.eval.released_protocol",
    "visualize": "training.eval.plots",
    "checkpoint": "training.engine.checkpoint",
    "config": "training.train_config",
    "distributed": "training.engine.distributed",
    "runtime": "training.core.runtime",
    "run_folder": "training.engine.run_folder",
    "run_log": "training.engine.run_log",
    "cli": "training.core.cli",
    "codec": "training.core.codec",
    "predict": "training.infer.predictor",
    "face_detector": "training.infer.face_detector",
    "smoothing": "training.infer.smoothing",
    # 0.4's one-way layers (docs/design.md, "Layers"): the shared floor moved out of engine and data
    "engine.runtime": "training.core.runtime",
    "engine.cli": "training.core.cli",
    "data.codec": "training.core.codec",
    "engine.config": "training.train_config",
}


def _warn(old: str, new: str) -> None:
    warnings.warn(f"{old} is now {new}; the old path is removed in awing 0.4", DeprecationWarning, stacklevel=3)


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old dotted name as its new module: the very same module object, registered in
    sys.modules under the old name too, with a DeprecationWarning."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.startswith(__name__ + ".") and fullname[len(__name__) + 1:] in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        new = MOVED[spec.name[len(__name__) + 1:]]
        _warn(spec.name, new)
        return importlib.import_module(new)

    def exec_module(self, module):
        pass   # the new module is already executed


if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedModuleFinder())


def __getattr__(name):
    """``from training import metrics`` (an old module name) -> the moved module, with the warning."""
    if name in MOVED:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
