"""training.export: TorchScript and ONNX exports of a tiny checkpoint match the PyTorch model."""
import importlib.util
import json
import warnings

import numpy as np
import pytest
import torch

from training import export
from training.engine.cli import run
from training.engine.checkpoint import load_checkpoint, load_model, save_checkpoint
from training.models import build_model

HAVE_ONNX = importlib.util.find_spec("onnx") is not None
HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None
HAVE_ONNXSCRIPT = importlib.util.find_spec("onnxscript") is not None


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model("tiny")
    # non-trivial BatchNorm statistics, so folding them into the convs is exercised
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("ckpt") / "best.pt"
    save_checkpoint({"model": model.state_dict(), "model_config": dict(vars(model.config)),
                     "config": {"dataset": "synthetic", "seed": 0, "model": "tiny"}}, path)
    return path


def _reference(checkpoint, x):
    model = load_model(load_checkpoint(checkpoint), torch.device("cpu"))
    with torch.no_grad():
        return model(x)[-1].numpy()


def _check_sidecar(path, fmt):
    meta = json.loads((path.parent / (path.name + ".json")).read_text())
    cfg = build_model("tiny").config
    assert meta["model_config"] == dict(vars(cfg))
    assert meta["input"]["shape"] == ["N", 3, cfg.input_size, cfg.input_size]
    assert meta["input"]["normalisation"]["mean"] == 0.5 and meta["input"]["normalisation"]["std"] == 0.25
    assert meta["output"]["shape"] == ["N", cfg.num_landmarks + 1, cfg.heatmap_size, cfg.heatmap_size]
    assert meta["format"].startswith(fmt)
    assert meta["verification"]["max_abs_diff"] <= meta["verification"]["tolerance"]
    return meta


def test_torchscript(tmp_path, checkpoint, capsys):
    out = tmp_path / "model.pt"
    assert export.main(["--checkpoint", str(checkpoint), "--format", "torchscript", "--out", str(out)]) == 0
    assert "max abs diff" in capsys.readouterr().out
    _check_sidecar(out, "torchscript")
    x = torch.randn(5, 3, 64, 64)   # another batch size than traced / verified with
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)   # "torch.jit.load is deprecated"
        loaded = torch.jit.load(str(out))
        got = loaded(x).numpy()
    np.testing.assert_allclose(got, _reference(checkpoint, x), atol=1e-4, rtol=0)


def test_torchscript_mobile(tmp_path, checkpoint):
    out = tmp_path / "model.ptl"
    assert export.main(["--checkpoint", str(checkpoint), "--format", "torchscript", "--mobile",
                        "--out", str(out)]) == 0
    meta = _check_sidecar(out, "torchscript")
    assert "mobile_optimized" in meta
    from torch.jit.mobile import _load_for_lite_interpreter
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        got = _load_for_lite_interpreter(str(out))(x).numpy()
    np.testing.assert_allclose(got, _reference(checkpoint, x), atol=1e-4, rtol=0)


def _onnx_run(path, x):
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(["heatmaps"], {"images": x.numpy()})[0]


@pytest.mark.skipif(not (HAVE_ONNX and HAVE_ORT), reason="onnx and onnxruntime are not installed "
                                                         "(optional: pip install onnx onnxruntime)")
def test_onnx(tmp_path, checkpoint):
    out = tmp_path / "model.onnx"
    assert export.main(["--checkpoint", str(checkpoint), "--format", "onnx", "--out", str(out)]) == 0
    meta = _check_sidecar(out, "onnx")
    assert meta["opset"] == 18 and meta["verification"]["runtime"] == "onnxruntime"
    import onnx
    onnx.checker.check_model(str(out))
    x = torch.randn(4, 3, 64, 64)
    np.testing.assert_allclose(_onnx_run(out, x), _reference(checkpoint, x), atol=1e-4, rtol=0)


@pytest.mark.slow  # the dynamo ONNX exporter takes ~10 s
@pytest.mark.skipif(not (HAVE_ONNX and HAVE_ORT and HAVE_ONNXSCRIPT),
                    reason="onnx, onnxscript and onnxruntime are not installed")
def test_onnx_dynamo(tmp_path, checkpoint):
    out = tmp_path / "model.onnx"
    assert export.main(["--checkpoint", str(checkpoint), "--format", "onnx", "--dynamo", "--out", str(out)]) == 0
    x = torch.randn(3, 3, 64, 64)
    np.testing.assert_allclose(_onnx_run(out, x), _reference(checkpoint, x), atol=1e-4, rtol=0)


def test_mismatch_is_an_error(checkpoint, monkeypatch, tmp_path):
    """The verification catches an export whose outputs differ from the model's."""
    model = export.HeatmapModel(load_model(load_checkpoint(checkpoint), torch.device("cpu")))
    ok = lambda path, fmt, x, mobile: model(x).detach().numpy() + 1e-6   # noqa: E731
    monkeypatch.setattr(export, "_run_exported", ok)
    assert export.verify(model, tmp_path / "m.pt", "torchscript")["max_abs_diff"] < 1e-4
    monkeypatch.setattr(export, "_run_exported", lambda path, fmt, x, mobile: ok(path, fmt, x, mobile) + 0.01)
    with pytest.raises(export.ExportMismatch, match="differs from PyTorch"):
        export.verify(model, tmp_path / "m.pt", "torchscript")


def test_bad_arguments(tmp_path, checkpoint, capsys):
    assert run(export.main, ["--checkpoint", str(tmp_path / "none.pt"), "--format", "torchscript"]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    for argv in (["--format", "tflite"], ["--format", "onnx", "--mobile"], ["--format", "onnx", "--opset", "11"]):
        with pytest.raises(SystemExit) as exc:
            export.main(["--checkpoint", str(checkpoint)] + argv)
        assert exc.value.code == 2
