"""training.eval.plots: files are written, are PNGs of the expected size, draw what they should."""
import cv2
import numpy as np
import pytest
import torch

from training.eval.plots import GT_COLOR, PRED_COLOR, plot_ced, prediction_grid

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def test_plot_ced_writes_png(tmp_path):
    rng = np.random.default_rng(0)
    curves = {"AWing": rng.gamma(4.0, 0.01, 200), "mean shape": rng.gamma(4.0, 0.03, 200)}
    out = plot_ced(curves, tmp_path / "sub" / "ced.png", title="test")
    img = read_png(out)
    assert img.shape == (480, 640, 3)  # figsize (6.4, 4.8) at 100 dpi
    assert img.std() > 10  # not blank
    out = plot_ced({"one": torch.tensor([0.01, 0.02])}, tmp_path / "small.png", figsize=(4, 3), dpi=50)
    assert read_png(out).shape == (150, 200, 3)


def test_plot_ced_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="no curves"):
        plot_ced({}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="curve 'bad'"):
        plot_ced({"ok": [0.01], "bad": [np.nan]}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="threshold"):
        plot_ced({"ok": [0.01]}, tmp_path / "x.png", threshold=-1)


def images(n, h=64, w=48, value=128):
    return [np.full((h, w, 3), value, np.uint8) for _ in range(n)]


def test_prediction_grid_layout(tmp_path):
    # 5 images with cols=4 -> 2 rows x 4 columns; gap 4: 2*64 + 3*4 by 4*48 + 5*4.
    preds = np.full((5, 3, 2), 20.0)
    out = prediction_grid(images(5), preds, preds + 5, tmp_path / "grid.png", cols=4)
    img = read_png(out)
    assert img.shape == (2 * 64 + 3 * 4, 4 * 48 + 5 * 4, 3)
    # The unused 8th cell (row 1, col 3) stays white background.
    y0, x0 = 4 + 64 + 4, 4 + 3 * (48 + 4)
    assert (img[y0:y0 + 64, x0:x0 + 48] == 255).all()
    # Fewer images than columns: the grid shrinks to the images; gap 0 -> exactly the tiles.
    img = read_png(prediction_grid(images(2), preds[:2], None, tmp_path / "g2.png", cols=4, gap=0))
    assert img.shape == (64, 96, 3)


def test_prediction_grid_colours_and_positions(tmp_path):
    # One 64x64 grey image; gt at (10, 20) green, prediction at (40, 50) red, radius 2, no gap.
    preds = np.array([[[40.0, 50.0]]])
    gts = np.array([[[10.0, 20.0]]])
    img = read_png(prediction_grid(images(1, 64, 64), torch.tensor(preds), gts,
                                   tmp_path / "c.png", gap=0, radius=2))
    rgb = img[:, :, ::-1]  # cv2 reads BGR
    np.testing.assert_array_equal(rgb[20, 10], GT_COLOR)    # row y, column x
    np.testing.assert_array_equal(rgb[50, 40], PRED_COLOR)
    np.testing.assert_array_equal(rgb[0, 0], (128, 128, 128))
    # The input image is not drawn on.
    src = images(1, 64, 64)
    prediction_grid(src, preds, gts, tmp_path / "d.png", labels=["NME 3.1%"])
    assert (src[0] == 128).all()


def test_prediction_grid_mixed_sizes_and_nan(tmp_path):
    ims = [np.zeros((30, 40, 3), np.uint8), np.zeros((50, 20, 3), np.uint8)]
    preds = np.array([[[5.0, 5.0]], [[np.nan, 3.0]]])  # a non-finite point is skipped
    img = read_png(prediction_grid(ims, preds, None, tmp_path / "m.png", cols=1, gap=2))
    assert img.shape == (2 * 50 + 3 * 2, 40 + 2 * 2, 3)


def test_prediction_grid_bad_inputs(tmp_path):
    p = tmp_path / "x.png"
    preds = np.zeros((3, 5, 2))
    with pytest.raises(ValueError, match="preds has 3 entries but there are 2 images"):
        prediction_grid(images(2), preds, None, p)
    with pytest.raises(ValueError, match="gts has 2 entries but there are 3 images"):
        prediction_grid(images(3), preds, preds[:2], p)
    with pytest.raises(ValueError, match="same shape"):
        prediction_grid(images(3), preds, np.zeros((3, 4, 2)), p)
    with pytest.raises(ValueError, match="labels has 1 entries"):
        prediction_grid(images(3), preds, None, p, labels=["a"])
    with pytest.raises(ValueError, match="no images"):
        prediction_grid([], np.zeros((0, 5, 2)), None, p)
    with pytest.raises(ValueError, match=r"images\[1\] must be an RGB uint8"):
        prediction_grid([images(1)[0], np.zeros((8, 8, 3), np.float32), images(1)[0]], preds, None, p)
    with pytest.raises(ValueError, match="cols"):
        prediction_grid(images(3), preds, None, p, cols=0)
    with pytest.raises(ValueError, match=r"\(N, K, 2\)"):
        prediction_grid(images(3), np.zeros((3, 5)), None, p)
    with pytest.raises(OSError):
        prediction_grid(images(3), preds, None, tmp_path / "x.unknownext")
