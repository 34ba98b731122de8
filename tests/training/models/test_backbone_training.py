"""Every --model through train (AWing loss, a few steps at the tiny preset), its checkpoint through
load_model, the Predictor and export, and train's one-line errors for model options."""
import importlib.util
import json

import numpy as np
import pytest
import torch

from helpers.cli_runs import assert_one_line_error, run_cli
from training import evaluate, export, train
from training.core.checkpoint import load_checkpoint
from training.models.loading import load_model
from training.train_options import parse_options
from training.engine.trainer import architecture
from training.infer.predictor import Predictor
from training.models import BackboneConfig, FANConfig

needs_timm = pytest.mark.skipif(importlib.util.find_spec("timm") is None, reason="timm is not installed")

RUN = ["--preset", "tiny", "--max-steps", "2", "--epochs", "1", "--train-samples", "16", "--val-samples", "8",
       "--test-samples", "8", "--batch-size", "4", "--no-progress", "--workers", "0"]

# timm:NAME with a small backbone (mobilenetv3_small_050: 0.3M parameters) keeps the checkpoint small
MODELS = [("fan", FANConfig, ""), ("unet", BackboneConfig, ""),
          pytest.param("hrnet-w18", BackboneConfig, "hrnet_w18_small", marks=needs_timm),
          pytest.param("dla34", BackboneConfig, "dla46_c", marks=needs_timm),
          pytest.param("timm:mobilenetv3_small_050", BackboneConfig, "mobilenetv3_small_050", marks=needs_timm)]


@pytest.mark.parametrize("model, config_class, backbone", MODELS)
def test_train_steps_and_checkpoint_round_trip(tmp_path, capsys, model, config_class, backbone):
    out = tmp_path / "run"
    code, stdout, err = run_cli(train.main, RUN + ["--model", model, "--out", out], capsys)
    assert code == 0, err[-2000:]
    assert "stopped at step 2 (--max-steps)" in stdout
    assert json.loads((out / "config.json").read_text())["model"] == model
    state = load_checkpoint(out / "last.pt")
    assert state["step"] == 2
    recorded = state["model_config"]
    assert recorded.get("model", "fan") == model and recorded.get("backbone", "") == backbone
    net = load_model(state, torch.device("cpu"), "last.pt")
    assert type(net.config) is config_class and net.config.input_size == 64 and not net.training
    assert all(torch.equal(v, state["model"][k]) for k, v in net.state_dict().items())
    with torch.no_grad():
        outs = net(torch.zeros(1, 3, 64, 64))
    assert len(outs) == (2 if model == "fan" else 1) and outs[-1].shape == (1, 69, 16, 16)
    faces = Predictor.from_checkpoint(out / "last.pt", device="cpu").predict(np.zeros((80, 80, 3), np.uint8))
    assert faces.landmarks.shape == (1, 68, 2) and np.isfinite(faces.landmarks).all()


def test_resume_keeps_the_model_and_no_boundary(tmp_path, capsys):
    out = tmp_path / "run"
    first = RUN + ["--model", "unet", "--no-boundary", "--out", out]
    assert run_cli(train.main, first, capsys)[0] == 0
    assert load_checkpoint(out / "last.pt")["model_config"]["boundary"] is False
    code, _, err = run_cli(train.main, [a if a != "2" else "3" for a in RUN] + ["--out", out, "--resume", "auto"],
                           capsys)
    assert code == 0, err[-2000:]
    state = load_checkpoint(out / "last.pt")
    assert state["step"] == 3 and state["model_config"]["model"] == "unet"
    assert state["model"]["out.weight"].shape[0] == 68     # no boundary channel
    code, _, err = run_cli(train.main, RUN + ["--out", out, "--resume", "auto", "--model", "fan"], capsys)
    assert_one_line_error(code, err, "--model fan (the checkpoint's: unet)")


def test_export_torchscript_of_a_backbone_model(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(train.main, RUN + ["--model", "unet", "--out", out], capsys)[0] == 0
    code, _, err = run_cli(export.main, ["--checkpoint", out / "last.pt", "--format", "torchscript"], capsys)
    assert code == 0, err[-2000:]
    meta = json.loads((out / "model.pt.json").read_text())
    assert meta["model_config"]["model"] == "unet" and meta["output"]["shape"] == ["N", 69, 16, 16]
    assert meta["output"]["stack"] == "last of 1" and meta["verification"]["max_abs_diff"] < 1e-4


def test_config_file_sets_model_options(tmp_path):
    recipe = tmp_path / "unet.toml"
    recipe.write_text('[model]\nmodel = "unet"\npreset = "tiny"\nno-boundary = true\n')
    args, given = parse_options(["--config", str(recipe)])
    assert (args.model, args.no_boundary, args.no_coordconv, args.pretrained_backbone) == ("unet", True, False, False)
    assert {"model", "no_boundary"} <= given
    config = architecture(args, None, None)
    assert (type(config), config.model, config.boundary, config.num_outputs) == (BackboneConfig, "unet", False, 68)
    fan = architecture(parse_options(["--preset", "tiny", "--no-coordconv", "--no-boundary"])[0], None, None)
    assert (type(fan), fan.coordconv, fan.boundary) == (FANConfig, False, False)


def test_unknown_model_lists_the_names(tmp_path, capsys):
    code, _, err = run_cli(train.main, RUN + ["--model", "resnet18", "--out", tmp_path / "run"], capsys)
    assert code == 2 and err.splitlines()[-1] == (
        "python -m training.train: error: argument --model: unknown model 'resnet18': choose from fan, hrnet-w18, "
        "unet, dla34, timm:NAME (NAME: a timm backbone, e.g. timm:resnet18)")


@pytest.mark.parametrize("argv, needles", [
    (["--model", "unet", "--no-coordconv"], ["--no-coordconv applies to --model fan only"]),
    (["--model", "unet", "--stacks", "2"], ["--stacks applies to --model fan only"]),
    (["--pretrained-backbone"], ["--pretrained-backbone needs a timm backbone", "fan trains from scratch"]),
    (["--model", "unet", "--pretrained-backbone"], ["--pretrained-backbone needs a timm backbone"]),
    pytest.param(["--model", "timm:resnt18"], ["timm has no model 'resnt18'; close names: ", "resnet18"],
                 marks=needs_timm),
])
def test_bad_model_options_are_one_line(tmp_path, capsys, argv, needles):
    code, _, err = run_cli(train.main, RUN + argv + ["--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "run").exists()       # nothing left behind


def test_missing_timm_is_one_line(tmp_path, capsys, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "timm", None)    # `import timm` raises ImportError
    code, _, err = run_cli(train.main, RUN + ["--model", "hrnet-w18", "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, "--model hrnet-w18 needs timm: pip install 'awing[models]'")


@needs_timm
def test_pretrained_backbone_offline_is_one_line(tmp_path, capsys, monkeypatch):
    import huggingface_hub.constants as hub
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hub"))
    code, _, err = run_cli(train.main, RUN + ["--model", "dla34", "--pretrained-backbone", "--out", tmp_path / "run"],
                           capsys)
    assert_one_line_error(code, err, "--pretrained-backbone: the ImageNet weights of dla46_c could not be fetched",
                          "train without --pretrained-backbone")


def test_init_refuses_architecture_options(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(train.main, RUN + ["--model", "unet", "--out", out], capsys)[0] == 0
    code, _, err = run_cli(train.main, RUN + ["--init", out / "last.pt", "--no-boundary", "--out", tmp_path / "b"],
                           capsys)
    assert_one_line_error(code, err, "--init takes the architecture and weights from the checkpoint: drop --no-boundary")
    code, _, err = run_cli(train.main, RUN + ["--init", out / "last.pt", "--model", "dla34", "--out", tmp_path / "c"],
                           capsys)
    assert_one_line_error(code, err, "holds a unet model, not --model dla34")
    code, _, err = run_cli(train.main, RUN + ["--init", out / "last.pt", "--out", tmp_path / "d"], capsys)
    assert code == 0, err[-2000:]
    assert load_checkpoint(tmp_path / "d" / "last.pt")["model_config"]["model"] == "unet"


def test_full_run_then_evaluate_reads_the_backbone_checkpoint(tmp_path, capsys):
    """A whole (one-epoch) run ends with the test split on best.pt, and training.evaluate rebuilds the same unet."""
    out = tmp_path / "run"
    report = train.main([a for a in RUN if a not in ("--max-steps", "2")] + ["--model", "unet", "--out", str(out)])
    assert set(report["results"]) == {"model", "mean shape"}
    again = evaluate.main(["--checkpoint", str(out / "best.pt"), "--workers", "0", "--out", str(tmp_path / "eval")])
    assert np.isclose(again["results"]["model"]["nme"], report["results"]["model"]["nme"])
