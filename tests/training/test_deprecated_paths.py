"""The module paths training had before its subpackages (training.metrics, training.checkpoint,
training.predict, ...) give the new modules themselves, with a DeprecationWarning, until awing 0.4."""
import importlib
import sys
import warnings

import pytest

import training

OLD_NAMES = sorted(training.MOVED)


def _forget(old: str) -> None:
    sys.modules.pop(f"training.{old}", None)
    parent, _, name = f"training.{old}".rpartition(".")
    importlib.import_module(parent).__dict__.pop(name, None)


def _from_import(old: str) -> str:
    """`from training import metrics` or, for a module inside a subpackage, `from training.engine import cli`."""
    parent, _, name = f"training.{old}".rpartition(".")
    return f"from {parent} import {name} as module"


@pytest.mark.parametrize("old", OLD_NAMES)
def test_import_of_an_old_path_is_the_new_module_and_warns(old):
    new = importlib.import_module(training.MOVED[old])
    _forget(old)
    with pytest.warns(DeprecationWarning, match=rf"training\.{old} is now {training.MOVED[old]}; "
                                                r"the old path is removed in awing 0\.4"):
        module = importlib.import_module(f"training.{old}")
    assert module is new
    assert sys.modules[f"training.{old}"] is new


@pytest.mark.parametrize("old", OLD_NAMES)
def test_from_training_import_an_old_name_warns(old):
    new = importlib.import_module(training.MOVED[old])
    _forget(old)
    with pytest.warns(DeprecationWarning, match=rf"training\.{old} is now"):
        exec(_from_import(old), namespace := {})
    assert namespace["module"] is new


def test_the_split_checkpoint_module_keeps_its_names_with_a_warning():
    """engine.checkpoint split into core.checkpoint (I/O) and models.loading (load_model)."""
    from training.core.checkpoint import load_checkpoint
    from training.models.loading import load_model
    sys.modules.pop("training.engine.checkpoint", None)
    with pytest.warns(DeprecationWarning, match=r"training\.engine\.checkpoint is now training\.core\.checkpoint"):
        old = importlib.import_module("training.engine.checkpoint")
    assert old.load_checkpoint is load_checkpoint and old.load_model is load_model


def test_from_old_path_import_a_name():
    _forget("metrics")
    with pytest.warns(DeprecationWarning):
        from training.metrics import nme
    from training.eval.metrics import nme as new_nme
    assert nme is new_nme


@pytest.mark.parametrize("command", ["train", "evaluate", "detect", "export", "convert"])
def test_the_commands_are_real_modules_and_do_not_warn(command):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        exec(f"from training import {command} as module", namespace := {})
    assert namespace["module"].__name__ == f"training.{command}"
    assert hasattr(namespace["module"], "main")
    assert command not in training.MOVED


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError):
        training.no_such_module  # noqa: B018


@pytest.mark.parametrize("name", ["draw_overlay", "Tracker", "face_records", "VIDEO_EXTENSIONS", "CROP_SCALE",
                                  "box_to_crop", "haar_box_to_crop"])
def test_names_detect_held_are_importable_from_it_with_a_warning(name):
    from training import detect
    module = importlib.import_module(f"training.infer.{detect._MOVED[name]}")
    with pytest.warns(DeprecationWarning, match=rf"training\.detect\.{name} is now training\.infer\."):
        value = getattr(detect, name)
    assert value is getattr(module, name)


def test_the_split_normalisers_module_keeps_its_names_with_a_warning():
    """eval.normalisers split into awing_ext.schemes (the scheme's normaliser) and eval.metrics (lengths)."""
    from awing_ext.schemes import normaliser_of
    from training.eval.metrics import normaliser_lengths
    sys.modules.pop("training.eval.normalisers", None)
    with pytest.warns(DeprecationWarning, match=r"training\.eval\.normalisers is now awing_ext\.schemes"):
        old = importlib.import_module("training.eval.normalisers")
    assert old.normaliser_of is normaliser_of and old.normaliser_lengths is normaliser_lengths


@pytest.mark.parametrize("module, old, new", [("runners", "run_image", "detect_image"),
                                              ("runners", "run_folder", "detect_folder"),
                                              ("runners", "find_checkpoint", "find_checkpoint"),
                                              ("video", "run_video", "detect_video")])
def test_detect_runners_old_names_warn_and_give_the_new_functions(module, old, new):
    from training import detect_inputs
    old_module = importlib.import_module(f"training.infer.{module}")
    with pytest.warns(DeprecationWarning, match=rf"training\.infer\.{module}\.{old} is now "
                                                rf"training\.detect_inputs\.{new}"):
        assert getattr(old_module, old) is getattr(detect_inputs, new)


def test_names_that_left_fan_py_still_import_from_it():
    from training.models.fan import PRESETS, FANConfig, HeatmapOutputs
    from training.models.fan_config import PRESETS as presets, FANConfig as config
    from training.models.heatmap_outputs import HeatmapOutputs as outputs
    assert (PRESETS, FANConfig, HeatmapOutputs) == (presets, config, outputs)


def test_the_moved_train_options_keep_their_old_path_with_a_warning():
    """engine.options moved beside the train command (train_options); its helpers went to engine."""
    from training.engine.schedule import lr_milestones
    from training.engine.trainer import augment_config
    from training.train_options import build_parser
    sys.modules.pop("training.engine.options", None)
    with pytest.warns(DeprecationWarning, match=r"training\.engine\.options is now training\.train_options"):
        old = importlib.import_module("training.engine.options")
    assert (old.build_parser, old.lr_milestones, old.augment_config) == (build_parser, lr_milestones, augment_config)
