"""The released code's WFLW test protocol (training/eval/released_protocol.py): crops, decoding and
normaliser against hand-computed values; evaluate --protocol released end to end."""
import json

import numpy as np
import pytest
import torch

from training.core.cli import UsageError
from training.eval.released_protocol import released_crop, released_decode, released_nme, square_crop


def test_square_crop_inside_the_image_is_a_plain_cut():
    image = np.random.default_rng(0).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    # scale 0.25: side 50, bounds int(50 -+ 25) -> rows/cols 25..75; resolution 50 keeps the pixels
    crop, pts = square_crop(image, np.array([[30.0, 40.0]]), (50, 50), 0.25, 50)
    assert np.array_equal(crop, image[25:75, 25:75])
    np.testing.assert_allclose(pts, [[5.0, 15.0]])


def test_square_crop_pads_with_zeros_outside_the_image():
    image = np.full((40, 40, 3), 200, np.uint8)
    # centre (5, 5), side 20: bounds -5..15 -> 5 px of zero padding on the top and left
    crop, pts = square_crop(image, np.array([[0.0, 0.0]]), (5, 5), 0.1, 20)
    assert (crop[:5] == 0).all() and (crop[:, :5] == 0).all() and (crop[5:, 5:] == 200).all()
    np.testing.assert_allclose(pts, [[5.0, 5.0]])
    # a 10 px border (the released second-crop fallback) moves centre and points with the image:
    # (0, 0) -> (10, 10); centre (20, 20) -> (30, 30), side 40: the cut starts at 10 -> point 0
    crop, pts = square_crop(image, np.array([[0.0, 0.0]]), (20, 20), 0.2, 40, border=10)
    np.testing.assert_allclose(pts, [[0.0, 0.0]])
    assert (crop == 200).all()  # the cut is exactly the original image


def test_released_crop_hand_value():
    """Box (300, 300, 600, 600) in a 900 x 900 image: padding int(0.05 * 300 / 2) = 7 -> (293, 293,
    607, 607), centre 450, scale 628 / 250 = 2.512 (side 502.4, bounds 199..701) -> 450 px; then
    the 360 px square around 225 (bounds 45..405) -> 256 px."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (900, 900, 3), dtype=np.uint8)
    points = 450 + rng.uniform(-120, 120, (98, 2))
    crop, pts = released_crop(image, points, (300, 300, 600, 600))
    assert crop.shape == (256, 256, 3) and crop.dtype == np.uint8
    expected = ((points - 199) * 450 / 502.4 - 45) * 256 / 360
    np.testing.assert_allclose(pts, expected, rtol=0, atol=1e-9)


def test_released_crop_grows_until_the_points_fit():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (600, 600, 3), dtype=np.uint8)
    points = np.array([[150.0, 150.0], [450.0, 450.0], [300.0, 300.0]])
    # a box much smaller than the points: the first crop must grow (divisor 250 -> ...)
    crop, pts = released_crop(image, points, (280, 280, 320, 320))
    assert pts.min() >= 0 and pts.max() <= 256
    # the mapping stays a scale + translation of the image coordinates
    scale = (pts[1] - pts[0]) / (points[1] - points[0])
    np.testing.assert_allclose(scale[0], scale[1])
    np.testing.assert_allclose(pts[2], pts[0] + scale * (points[2] - points[0]))


def test_released_decode_hand_values():
    hm = torch.zeros(1, 3, 64, 64)
    hm[0, 0, 10, 20] = 1.0
    hm[0, 0, 10, 21] = 0.5    # right neighbour larger: x + 0.25
    hm[0, 0, 9, 20] = 0.4     # upper neighbour larger: y - 0.25
    hm[0, 1, 30, 0] = 1.0     # border column: no shift
    hm[0, 2, 5, 5] = hm[0, 2, 5, 40] = 1.0   # a tie: the first maximum
    xy = released_decode(hm)
    np.testing.assert_allclose(xy[0, 0].numpy(), [(20 + 0.25 + 0.5) * 4, (10 - 0.25 + 0.5) * 4])
    np.testing.assert_allclose(xy[0, 1].numpy(), [0.5 * 4, 30.5 * 4])
    np.testing.assert_allclose(xy[0, 2].numpy(), [5.5 * 4, 5.5 * 4])


def test_released_nme_normalisers():
    gt = np.zeros((1, 98, 2))
    gt[0, 72] = [10.0, 0.0]
    np.testing.assert_allclose(released_nme(gt + [1.0, 0.0], gt), [0.1])
    gt68 = np.zeros((1, 68, 2))
    gt68[0, 42:48] = [0.0, 20.0]             # eye centres 20 apart
    np.testing.assert_allclose(released_nme(gt68 + [0.0, 2.0], gt68), [0.1])
    with pytest.raises(ValueError, match="98, 68 and 29 points"):
        released_nme(np.zeros((1, 5, 2)), np.zeros((1, 5, 2)))


def test_evaluate_with_the_released_protocol(tmp_path, capsys):
    from helpers.datasets import write_wflw_tree
    from helpers.released_fan import ReleasedFAN, randomise
    from training import convert, evaluate
    root = tmp_path / "WFLW"
    write_wflw_tree(root, {"train": [[0] * 6] * 2, "test": [[0] * 6, [1, 0, 0, 0, 0, 0], [0] * 6]})
    src, dst = tmp_path / "r.pth", tmp_path / "awing.pt"
    torch.save(randomise(ReleasedFAN(2, 98, width=16, depth=2), seed=0).state_dict(), src)
    convert.convert(src, dst)
    report = evaluate.main(["--checkpoint", str(dst), "--data-root", str(root), "--protocol", "released",
                            "--out", str(tmp_path / "out")])
    assert report["samples"] == 3 and set(report["results"]) == {"released decoding", "DARK decoding"}
    saved = json.loads((tmp_path / "out" / "results_test_released.json").read_text())
    assert saved["protocol"] == "released"
    assert "| released decoding" in capsys.readouterr().out


def test_released_protocol_refuses_other_datasets(tmp_path):
    from training import evaluate
    from training.core.checkpoint import save_checkpoint
    from training.models import build_model
    model = build_model("tiny")
    save_checkpoint({"model": model.state_dict(), "model_config": dict(vars(model.config)),
                     "config": {"dataset": "synthetic", "seed": 0}}, tmp_path / "c.pt")
    with pytest.raises(UsageError, match="defined for WFLW only"):
        evaluate.main(["--checkpoint", str(tmp_path / "c.pt"), "--protocol", "released"])
