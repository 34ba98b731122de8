"""--decode dark|quarter|integral and --decode-beta through the Predictor, `python -m
training.evaluate` and `python -m training.detect`: each method gives the points its decoder
gives on the model's own heatmaps, evaluate records the method, bad names and betas are one-line
errors naming the option."""
import json

import cv2
import numpy as np
import pytest
import torch

import awing_ext
from training import detect, evaluate
from training.data.codec import DEFAULT_DECODE_BETA
from training.data.registry import build_dataset
from training.eval import metrics
from training.infer.predictor import Predictor
from training.models.inputs import model_input

from helpers.cli_runs import run_cli
from helpers.checkpoints import untrained_tiny_checkpoint
from helpers.heatmaps import softmax_expectation


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained tiny FAN (64 px crops, 16 px heatmaps) with the config evaluate reads."""
    return untrained_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "best.pt", model="tiny", train_samples=16,
                                     test_samples=6)


@pytest.fixture(scope="module")
def crops():
    data, _ = build_dataset("synthetic", "test", input_size=64, num_samples=6, seed=0)
    samples = [data[i] for i in range(len(data))]
    return [s["image"].transpose(1, 2, 0) for s in samples], np.stack([s["landmarks"] for s in samples])


def _heatmaps(predictor, images):
    """The last stack's landmark heatmaps of 64 px crops (the whole image is the crop: no warp)."""
    batch = torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        return predictor.model(model_input(batch, predictor.config))[-1][:, :predictor.num_landmarks].float()


def assert_one_error_line(code, err, *needles):
    """Exit 2 and one ``error:`` line naming `needles` (argparse prints its usage lines above it)."""
    assert code == 2, (code, err[-3000:])
    errors = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(errors) == 1 and "Traceback" not in err, err[-3000:]
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])


def _to_crop(points):
    return (points + 0.5) * 4 - 0.5          # 16 px heatmaps -> 64 px crops


@pytest.mark.parametrize("method,beta", [("dark", None), ("quarter", None), ("integral", None),
                                         ("integral", 5.0)])
def test_predictor_gives_each_methods_points(checkpoint, crops, method, beta):
    images, _ = crops
    kwargs = {"decode_method": method, **({"decode_beta": beta} if beta else {})}
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu", **kwargs)
    out = predictor.predict(images)
    heat = _heatmaps(predictor, images)
    if method == "integral":
        expected = softmax_expectation(heat, beta or DEFAULT_DECODE_BETA)
    else:
        expected = awing_ext.decode_heatmaps(heat, method)[0].double()
    np.testing.assert_allclose(out.landmarks, _to_crop(expected).numpy(), atol=1e-3)
    np.testing.assert_allclose(out.scores, heat.amax(dim=(-2, -1)).numpy(), atol=1e-6)   # float32 convs


def test_methods_and_betas_give_different_points(checkpoint, crops):
    images, _ = crops
    points = {(m, b): Predictor.from_checkpoint(checkpoint, device="cpu", decode_method=m,
                                                decode_beta=b).predict(images).landmarks
              for m, b in [("dark", 30.0), ("quarter", 30.0), ("integral", 30.0), ("integral", 5.0)]}
    keys = list(points)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert np.abs(points[a] - points[b]).max() > 1e-2, (a, b)


def test_predictor_refuses_bad_methods_and_betas(checkpoint):
    with pytest.raises(ValueError, match=r"^decode_method must be one of dark, quarter, integral, got 'argmax'$"):
        Predictor.from_checkpoint(checkpoint, device="cpu", decode_method="argmax")
    for beta in (0.0, -2.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"^decode_beta must be a finite number > 0"):
            Predictor.from_checkpoint(checkpoint, device="cpu", decode_method="integral", decode_beta=beta)


@pytest.mark.parametrize("argv,recorded", [([], ("dark", None)), (["--decode", "quarter"], ("quarter", None)),
                                           (["--decode", "integral"], ("integral", DEFAULT_DECODE_BETA)),
                                           (["--decode", "integral", "--decode-beta", "5"], ("integral", 5.0))])
def test_evaluate_decodes_as_asked_and_records_it(checkpoint, crops, tmp_path, capsys, argv, recorded):
    code, out, err = run_cli(evaluate.main, ["--checkpoint", checkpoint, "--workers", "0", "--device", "cpu",
                                             "--out", tmp_path] + argv, capsys)
    assert code == 0, err[-3000:]
    report = json.loads((tmp_path / "results_test.json").read_text())
    assert (report["decode"], report["decode_beta"]) == recorded
    method, beta = recorded
    images, gt = crops
    predicted = Predictor.from_checkpoint(checkpoint, device="cpu", decode_method=method,
                                          decode_beta=beta or DEFAULT_DECODE_BETA).predict(images)
    assert report["samples"] == len(images)
    assert report["results"]["model"]["nme"] == pytest.approx(metrics.nme(predicted.landmarks, gt).mean(), rel=1e-5)


@pytest.mark.parametrize("main", [evaluate.main, detect.main], ids=["evaluate", "detect"])
def test_unknown_method_is_one_line_listing_the_valid_ones(checkpoint, tmp_path, capsys, main):
    first = ["--checkpoint", checkpoint] if main is evaluate.main else [tmp_path, "--checkpoint", checkpoint]
    code, _, err = run_cli(main, first + ["--decode", "argmax"], capsys)
    assert_one_error_line(code, err, "--decode", "'argmax'", "dark", "quarter", "integral")


@pytest.mark.parametrize("main", [evaluate.main, detect.main], ids=["evaluate", "detect"])
@pytest.mark.parametrize("beta", ["0", "-1", "nan", "inf", "many"])
def test_bad_beta_is_one_line_naming_the_option(checkpoint, tmp_path, capsys, main, beta):
    first = ["--checkpoint", checkpoint] if main is evaluate.main else [tmp_path, "--checkpoint", checkpoint]
    code, _, err = run_cli(main, first + ["--decode", "integral", f"--decode-beta={beta}"], capsys)
    assert_one_error_line(code, err, "--decode-beta", beta)


@pytest.mark.parametrize("main", [evaluate.main, detect.main], ids=["evaluate", "detect"])
def test_beta_without_integral_is_one_line(checkpoint, tmp_path, capsys, main):
    first = ["--checkpoint", checkpoint] if main is evaluate.main else [tmp_path, "--checkpoint", checkpoint]
    code, _, err = run_cli(main, first + ["--decode", "quarter", "--decode-beta", "10"], capsys)
    assert_one_error_line(code, err, "--decode-beta", "--decode integral", "quarter")


def test_released_protocol_refuses_another_decoding(checkpoint, capsys):
    code, _, err = run_cli(evaluate.main, ["--checkpoint", checkpoint, "--protocol", "released",
                                           "--decode", "integral"], capsys)
    assert_one_error_line(code, err, "--decode", "--protocol released")


def test_detect_decodes_as_asked(checkpoint, crops, tmp_path, capsys):
    images, _ = crops
    path = tmp_path / "face.png"
    assert cv2.imwrite(str(path), cv2.cvtColor(images[0], cv2.COLOR_RGB2BGR))
    box = "8.8,8.8,52.2,52.2"       # a landmark box whose crop (scale 1.25) is the whole 64 px image
    code, out, err = run_cli(detect.main, [path, "--checkpoint", checkpoint, "--device", "cpu", "--box", box,
                                           "--decode", "integral", "--decode-beta", "5"], capsys)
    assert code == 0, err[-3000:]
    face = json.loads(out)["faces"][0]
    expected = Predictor.from_checkpoint(checkpoint, device="cpu", decode_method="integral",
                                         decode_beta=5.0).predict([images[0]], boxes=[(8.8, 8.8, 52.2, 52.2)])
    np.testing.assert_allclose(face["landmarks"], expected.landmarks[0], atol=6e-4)   # JSON keeps 3 decimals
