"""training.export: TorchScript and ONNX exports of a tiny checkpoint match the PyTorch model."""
import importlib.util
import json
import re
import warnings

import numpy as np
import pytest
import torch

from training import export
from training.core.cli import run
from training.core.checkpoint import load_checkpoint, save_checkpoint
from training.models.loading import load_model
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


# ------------------------------------------------------------------------ --with-decoding
from training.core.codec import HeatmapCodec                     # noqa: E402
from training.data.registry import build_dataset                 # noqa: E402
from training.infer.predictor import crop_landmarks              # noqa: E402
from training.models.inputs import model_input                   # noqa: E402

from helpers.checkpoints import untrained_tiny_checkpoint        # noqa: E402

ONNX_REASON = "onnx and onnxruntime are not installed (optional: pip install onnx onnxruntime)"


@pytest.fixture(scope="module")
def focal_checkpoint(tmp_path_factory):
    """A model trained with --loss focal (its outputs are logits) and --sigma 1.5."""
    return untrained_tiny_checkpoint(tmp_path_factory.mktemp("focal") / "best.pt", model="tiny", loss="focal",
                                     sigma=1.5)


def _faces(seed=5, n=5):
    """Face crops (uint8) the export's own verification did not see."""
    data, _ = build_dataset("synthetic", "test", input_size=64, num_samples=n, seed=seed)
    return torch.stack([torch.from_numpy(np.ascontiguousarray(data[i]["image"])) for i in range(n)])


def _decoded_reference(checkpoint, crops, method, logits=False, sigma=1.0):
    """The PyTorch model's heatmaps decoded by awing_ext.decode_heatmaps (the Predictor's path)."""
    model = load_model(load_checkpoint(checkpoint), torch.device("cpu")).eval()
    codec = HeatmapCodec(64, 16, sigma, boundary_scheme=None, decode_method=method, logits=logits)
    points, scores = crop_landmarks(model, crops, codec)
    return model, points.numpy(), scores.numpy()


def _run_decoding(path, fmt, x):
    if fmt == "onnx":
        import onnxruntime as ort
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
            ["landmarks", "scores"], {"images": x.numpy()})
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        return [t.numpy() for t in torch.jit.load(str(path))(x)]


def _check_decoding_sidecar(path, method, activation, sigma):
    meta = json.loads((path.parent / (path.name + ".json")).read_text())
    assert meta["output"]["landmarks"]["shape"] == ["N", 68, 2] and meta["output"]["scores"]["shape"] == ["N", 68]
    assert meta["decoding"] == {**meta["decoding"], "in_graph": True, "method": method, "activation": activation,
                                "sigma": sigma}
    assert "crop_to_image" in meta["crop"] and "image_to_crop" in meta["crop"]
    for check in meta["verification"]["checks"].values():
        assert check["exported_max_landmark_diff_px"] <= 0.01 and check["pytorch_max_landmark_diff_px"] <= 0.01
    assert set(meta["verification"]["checks"]) == {"random", "faces"}
    return meta


@pytest.mark.skipif(not (HAVE_ONNX and HAVE_ORT), reason=ONNX_REASON)
@pytest.mark.parametrize("method", ["quarter", "dark", "integral"])
def test_onnx_with_decoding(tmp_path, checkpoint, capsys, method):
    """The graph's landmarks (crop pixels) and scores are awing_ext.decode_heatmaps' on the PyTorch
    model's heatmaps within 0.01 px, on crops the export did not verify with; standard ops only."""
    out = tmp_path / "model.onnx"
    assert export.main(["--checkpoint", str(checkpoint), "--format", "onnx", "--with-decoding", "--decode", method,
                        "--out", str(out)]) == 0
    assert "crop px" in capsys.readouterr().out
    meta = _check_decoding_sidecar(out, method, "none", 1.0)
    assert meta["verification"]["runtime"] == "onnxruntime"
    import onnx
    proto = onnx.load(str(out))
    assert {node.domain for node in proto.graph.node} <= {"", "ai.onnx"}   # no awing_ext op
    stored = json.loads({p.key: p.value for p in proto.metadata_props}[export.METADATA_KEY])
    assert stored["decoding"]["method"] == method and "verification" not in stored
    crops = _faces()
    _, ref_points, ref_scores = _decoded_reference(checkpoint, crops, method)
    points, scores = _run_decoding(out, "onnx", model_input(crops, build_model("tiny").config))
    assert points.shape == (5, 68, 2) and scores.shape == (5, 68)
    assert np.abs(points - ref_points).max() <= 0.01
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5, rtol=0)


def test_torchscript_with_decoding(tmp_path, checkpoint):
    out = tmp_path / "model.pt"
    assert export.main(["--checkpoint", str(checkpoint), "--format", "torchscript", "--with-decoding",
                        "--out", str(out)]) == 0
    _check_decoding_sidecar(out, "dark", "none", 1.0)
    crops = _faces()
    _, ref_points, ref_scores = _decoded_reference(checkpoint, crops, "dark")
    points, scores = _run_decoding(out, "torchscript", model_input(crops, build_model("tiny").config))
    assert np.abs(points - ref_points).max() <= 0.01
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5, rtol=0)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_focal_model_export(tmp_path, focal_checkpoint, fmt):
    """A --loss focal model: the graph decodes sigmoid(logits) with the checkpoint's sigma (1.5),
    its scores are probabilities, and both sidecars (decoded and heatmaps) say so."""
    if fmt == "onnx" and not (HAVE_ONNX and HAVE_ORT):
        pytest.skip(ONNX_REASON)
    out = tmp_path / f"model.{'onnx' if fmt == 'onnx' else 'pt'}"
    assert export.main(["--checkpoint", str(focal_checkpoint), "--format", fmt, "--with-decoding",
                        "--out", str(out)]) == 0
    meta = _check_decoding_sidecar(out, "dark", "sigmoid", 1.5)
    assert "after the sigmoid" in meta["output"]["scores"]["meaning"]
    crops = _faces()
    model, ref_points, ref_scores = _decoded_reference(focal_checkpoint, crops, "dark", logits=True, sigma=1.5)
    x = model_input(crops, model.config)
    points, scores = _run_decoding(out, fmt, x)
    assert np.abs(points - ref_points).max() <= 0.01
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5, rtol=0)
    with torch.no_grad():
        logits = model(x)[-1][:, :68]
    assert np.allclose(scores, torch.sigmoid(logits).amax(dim=(2, 3)).numpy(), atol=1e-5)
    # the heatmap export of the same model tells the deployer to take the sigmoid first
    raw = tmp_path / f"raw.{'onnx' if fmt == 'onnx' else 'pt'}"
    assert export.main(["--checkpoint", str(focal_checkpoint), "--format", fmt, "--out", str(raw)]) == 0
    raw_meta = json.loads((tmp_path / (raw.name + ".json")).read_text())
    assert raw_meta["decoding"] == {"in_graph": False, "method": "dark", "sigma": 1.5, "activation": "sigmoid"}
    decode = raw_meta["output"]["decode"]
    assert "torch.sigmoid(heatmaps[:, :K])" in decode and "sigma=1.5" in decode


def test_decoding_mismatch_fails_with_the_figure(checkpoint, monkeypatch, tmp_path, capsys):
    """An exported graph whose landmarks are off by 0.02 px fails the export (exit 1), naming the figure."""
    real = export._run_exported_outputs

    def off(path, fmt, x, mobile, names):
        points, scores = real(path, fmt, x, mobile, names)
        return [points + 0.02, scores]

    monkeypatch.setattr(export, "_run_exported_outputs", off)
    out = tmp_path / "model.pt"
    code = run(export.main, ["--checkpoint", str(checkpoint), "--format", "torchscript", "--with-decoding",
                             "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert re.search(r"landmarks differ from the PyTorch decoder's by up to 0\.02\d* crop px on the random crops "
                     r"\(tolerance 0\.01\)", err), err


def test_decode_needs_with_decoding(checkpoint):
    with pytest.raises(SystemExit) as exc:
        export.main(["--checkpoint", str(checkpoint), "--format", "onnx", "--decode", "quarter"])
    assert exc.value.code == 2


@pytest.mark.slow  # the dynamo ONNX exporter takes ~15 s
@pytest.mark.skipif(not (HAVE_ONNX and HAVE_ORT and HAVE_ONNXSCRIPT),
                    reason="onnx, onnxscript and onnxruntime are not installed")
def test_onnx_dynamo_with_decoding(tmp_path, focal_checkpoint):
    out = tmp_path / "model.onnx"
    assert export.main(["--checkpoint", str(focal_checkpoint), "--format", "onnx", "--dynamo", "--with-decoding",
                        "--decode", "integral", "--out", str(out)]) == 0
    _check_decoding_sidecar(out, "integral", "sigmoid", 1.5)
    crops = _faces()
    model, ref_points, _ = _decoded_reference(focal_checkpoint, crops, "integral", logits=True, sigma=1.5)
    points, _ = _run_decoding(out, "onnx", model_input(crops, model.config))
    assert np.abs(points - ref_points).max() <= 0.01


@pytest.mark.skipif(not HAVE_ONNX, reason="onnx is not installed")
def test_onnx_with_decoding_without_onnxruntime(tmp_path, checkpoint, capsys, monkeypatch):
    """Without onnxruntime the ONNX file cannot be run: the export says so, and the graph's
    decoding is still checked in PyTorch against awing_ext."""
    import sys
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    out = tmp_path / "model.onnx"
    assert export.main(["--checkpoint", str(checkpoint), "--format", "onnx", "--with-decoding", "--out", str(out)]) == 0
    assert "not verified: onnxruntime is not installed" in capsys.readouterr().out
    verification = json.loads((tmp_path / "model.onnx.json").read_text())["verification"]
    assert verification["runtime"] is None
    assert all(c["pytorch_max_landmark_diff_px"] <= 0.01 and "exported_max_landmark_diff_px" not in c
               for c in verification["checks"].values())
