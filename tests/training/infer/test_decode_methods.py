"""--decode dark|taylor|quarter|integral through the Predictor, `python -m training.evaluate` and
`python -m training.detect`: each method gives the points awing_ext.decode_heatmaps gives on the
model's own heatmaps (with the checkpoint's sigma), evaluate records the method and the share of
low-confidence points, detect and the Predictor flag them per point, bad names are one-line
errors naming the option."""
import json

import cv2
import numpy as np
import pytest
import torch

import awing_ext
from training import detect, evaluate
from training.data.registry import build_dataset
from training.eval import metrics
from training.infer.predictor import Predictor
from training.models.inputs import model_input

from helpers.cli_runs import run_cli
from helpers.checkpoints import untrained_tiny_checkpoint


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


@pytest.mark.parametrize("method", awing_ext.DECODE_METHODS)
def test_predictor_gives_each_methods_points(checkpoint, crops, method):
    images, _ = crops
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu", decode_method=method)
    out = predictor.predict(images)
    heat = _heatmaps(predictor, images)
    expected = awing_ext.decode_heatmaps(heat, method, sigma=1.0)[0].double()
    np.testing.assert_allclose(out.landmarks, _to_crop(expected).numpy(), atol=1e-3)
    np.testing.assert_allclose(out.scores, heat.amax(dim=(-2, -1)).numpy(), atol=1e-6)   # float32 convs
    assert out.low_confidence.dtype == bool and out.low_confidence.shape == out.scores.shape
    np.testing.assert_array_equal(out.low_confidence, out.scores < 0.2)


def test_methods_give_different_points(checkpoint, crops):
    images, _ = crops
    points = {m: Predictor.from_checkpoint(checkpoint, device="cpu", decode_method=m).predict(images).landmarks
              for m in awing_ext.DECODE_METHODS}
    keys = list(points)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert np.abs(points[a] - points[b]).max() > 1e-2, (a, b)


def test_predictor_takes_the_checkpoints_sigma(tmp_path, crops):
    path = untrained_tiny_checkpoint(tmp_path / "best.pt", model="tiny", train_samples=16, test_samples=6, sigma=2.0)
    predictor = Predictor.from_checkpoint(path, device="cpu", decode_method="integral")
    assert predictor.codec.sigma == 2.0
    images, _ = crops
    heat = _heatmaps(predictor, images)
    expected = awing_ext.integral_coords(heat, 6).double()
    np.testing.assert_allclose(predictor.predict(images).landmarks, _to_crop(expected).numpy(), atol=1e-3)


def test_predictor_refuses_bad_methods(checkpoint):
    with pytest.raises(ValueError, match=r"^decode_method must be one of dark, taylor, quarter, integral, got 'argmax'$"):
        Predictor.from_checkpoint(checkpoint, device="cpu", decode_method="argmax")


@pytest.mark.parametrize("argv,recorded", [([], "dark"), (["--decode", "quarter"], "quarter"),
                                           (["--decode", "taylor"], "taylor"), (["--decode", "integral"], "integral")])
def test_evaluate_decodes_as_asked_and_records_it(checkpoint, crops, tmp_path, capsys, argv, recorded):
    code, out, err = run_cli(evaluate.main, ["--checkpoint", checkpoint, "--workers", "0", "--device", "cpu",
                                             "--out", tmp_path] + argv, capsys)
    assert code == 0, err[-3000:]
    report = json.loads((tmp_path / "results_test.json").read_text())
    assert report["decode"] == recorded and "decode_beta" not in report
    images, gt = crops
    predicted = Predictor.from_checkpoint(checkpoint, device="cpu", decode_method=recorded).predict(images)
    assert report["samples"] == len(images)
    assert report["results"]["model"]["nme"] == pytest.approx(metrics.nme(predicted.landmarks, gt).mean(), rel=1e-5)
    assert report["low_confidence"] == {"threshold": 0.2,
                                        "fraction": pytest.approx(float(predicted.low_confidence.mean()))}


@pytest.mark.parametrize("main", [evaluate.main, detect.main], ids=["evaluate", "detect"])
def test_unknown_method_is_one_line_listing_the_valid_ones(checkpoint, tmp_path, capsys, main):
    first = ["--checkpoint", checkpoint] if main is evaluate.main else [tmp_path, "--checkpoint", checkpoint]
    code, _, err = run_cli(main, first + ["--decode", "argmax"], capsys)
    assert_one_error_line(code, err, "--decode", "'argmax'", "dark", "quarter", "integral")


@pytest.mark.parametrize("main", [evaluate.main, detect.main], ids=["evaluate", "detect"])
def test_the_removed_beta_option_is_one_line(checkpoint, tmp_path, capsys, main):
    first = ["--checkpoint", checkpoint] if main is evaluate.main else [tmp_path, "--checkpoint", checkpoint]
    code, _, err = run_cli(main, first + ["--decode", "integral", "--decode-beta", "10"], capsys)
    assert_one_error_line(code, err, "--decode-beta")


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
                                           "--decode", "integral"], capsys)
    assert code == 0, err[-3000:]
    face = json.loads(out)["faces"][0]
    expected = Predictor.from_checkpoint(checkpoint, device="cpu", decode_method="integral").predict(
        [images[0]], boxes=[(8.8, 8.8, 52.2, 52.2)])
    np.testing.assert_allclose(face["landmarks"], expected.landmarks[0], atol=6e-4)   # JSON keeps 3 decimals
    assert face["low_confidence"] == expected.low_confidence[0].tolist()
    assert len(face["low_confidence"]) == len(face["scores"])
