"""Cross-scheme evaluation: a 98-point model on 300W through the built-in 68's [from.98], and a
68-point model on a 5-point COCO set through its scheme file's [from.68] (eye centres as
centroids, the bbox normaliser, v = 0 left out), against NMEs computed here by hand from the
stand-in model's fixed peaks; a scheme without the mapping is a one-line error."""
import numpy as np
import pytest
import torch

import awing_ext
from awing_ext.schemes import SCHEME_FOLDER
from helpers.cli_runs import assert_one_line_error, run_cli
from helpers.datasets import write_300w_tree, write_coco
from training import evaluate
from training.data.registry import build_dataset
from training.core.checkpoint import save_checkpoint
from training.models import build_model

# WFLW -> 68, typed from the published list (68.toml cites it)
WFLW_TO_68 = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 33, 34, 35, 36, 37, 42, 43, 44, 45, 46,
              51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75, 76, 77, 78, 79, 80,
              81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95]

FIVE = '''name = "face5"
points = ["left_eye", "right_eye", "nose", "left_mouth", "right_mouth"]
flip = [["left_eye", "right_eye"], ["left_mouth", "right_mouth"]]

[from.68]
indices = [[36, 37, 38, 39, 40, 41], [42, 43, 44, 45, 46, 47], 30, 48, 54]
'''
COMMON = ["--workers", "0", "--device", "cpu"]


class FixedHeatmaps(torch.nn.Module):
    """A stand-in model whose heatmaps peak at the same heatmap pixels whatever the image."""

    def __init__(self, config, peaks):
        super().__init__()
        self.config = config
        points = torch.as_tensor(np.asarray(peaks), dtype=torch.float32)[None]
        self.register_buffer("planes", awing_ext.render_heatmaps(points, config.heatmap_size, 1.0))

    def forward(self, images):
        return [self.planes.expand(images.shape[0], -1, -1, -1)]


def _model_checkpoint(path, points: int, dataset: str, monkeypatch, seed: int):
    """A tiny checkpoint predicting `points` landmarks (no stored scheme: as before schemes were
    stored), which evaluate loads as the stand-in; returns the stand-in's peaks in crop pixels."""
    model = build_model("tiny", num_landmarks=points)
    save_checkpoint({"model": model.state_dict(), "model_config": dict(vars(model.config)),
                     "config": {"dataset": dataset, "seed": 0}}, path)
    peaks = np.random.default_rng(seed).integers(2, 14, size=(points, 2))
    monkeypatch.setattr(evaluate, "load_model", lambda *args, **kwargs: FixedHeatmaps(model.config, peaks).eval())
    return (peaks + 0.5) * 4 - 0.5            # heatmap pixel -> crop pixel (64 px crops, 16 px heatmaps)


def test_a_98_point_model_on_300w(tmp_path, monkeypatch):
    write_300w_tree(tmp_path / "300w")
    crop_peaks = _model_checkpoint(tmp_path / "wflw.pt", 98, "wflw", monkeypatch, seed=0)
    argv = ["--checkpoint", str(tmp_path / "wflw.pt"), "--dataset", "300w", "--data-root", str(tmp_path / "300w"),
            "--out", str(tmp_path / "eval"), *COMMON]
    report = evaluate.main(argv)
    pred = crop_peaks[WFLW_TO_68]
    by_hand = []
    for item in build_dataset("300w", "test", input_size=64, data_root=str(tmp_path / "300w"))[0]:
        gt = item["landmarks"].astype(np.float64)
        by_hand.append(np.linalg.norm(pred - gt, axis=1).mean() / np.linalg.norm(gt[36] - gt[45]))
    assert report["samples"] == len(by_hand) == 6 and (report["scheme"], report["model_scheme"]) == ("68", "98")
    assert report["results"]["model"]["nme"] == pytest.approx(np.mean(by_hand), rel=1e-4)
    assert report["normaliser"] == "inter-ocular distance (outer eye corners 36, 45)"
    named = evaluate.main(argv + ["--scheme", str(SCHEME_FOLDER / "68.toml")])   # the same, named explicitly
    assert named["results"]["model"]["nme"] == pytest.approx(report["results"]["model"]["nme"], rel=1e-9)


def test_a_68_point_model_on_a_5_point_coco_set(tmp_path, monkeypatch, capsys):
    invisible = {3: [4], 7: [0, 1]}
    written = write_coco(tmp_path, [1] * 10, invisible=invisible)
    (tmp_path / "five.toml").write_text(FIVE)
    p = _model_checkpoint(tmp_path / "m68.pt", 68, "synthetic", monkeypatch, seed=1)
    argv = ["--checkpoint", str(tmp_path / "m68.pt"), "--dataset", "coco", "--data-root", str(tmp_path),
            "--annotations", str(written["path"]), "--split", "all", "--out", str(tmp_path / "eval"), *COMMON]
    report = evaluate.main(argv + ["--scheme", str(tmp_path / "five.toml")])
    pred = np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])
    by_hand = []
    for aid, (pts, (x, y, w, h)) in written["truth"].items():
        s = 64 / (1.25 * max(w, h))                                    # the bbox crop: side 1.25 x its larger side
        gt = (pts - [x + w / 2, y + h / 2]) * s + 31.5                 # its centre at the crop's centre
        seen = [j not in invisible.get(aid, ()) for j in range(5)]
        by_hand.append(np.linalg.norm(pred - gt, axis=1)[seen].mean() / (np.sqrt(w * h) * s))
    assert report["samples"] == 10 and (report["scheme"], report["model_scheme"]) == ("face5", "68")
    assert report["results"]["model"]["nme"] == pytest.approx(np.mean(by_hand), rel=1e-4)
    assert report["normaliser"] == "sqrt(w·h) of the face box"
    # a scheme that does not say how 68 points map onto it
    (tmp_path / "five.toml").write_text(FIVE.split("[from.68]")[0])
    code, _, err = run_cli(evaluate.main, argv + ["--scheme", str(tmp_path / "five.toml")], capsys)
    assert_one_line_error(code, err, "the model predicts 68 landmarks but coco has 5 per face",
                          "'face5' declares no [from.68] indices")


def test_the_bbox_normaliser_takes_the_box_or_the_visible_points_box(tmp_path):
    from awing_ext import read_scheme
    from awing_ext.schemes import normaliser_of
    from training.eval.metrics import normaliser_lengths
    (tmp_path / "five.toml").write_text(FIVE)
    five = read_scheme(tmp_path / "five.toml")
    assert normaliser_of(five).groups is None and normaliser_of(five).label == "sqrt(w·h) of the face box"
    gt = np.array([[[0, 0], [4, 0], [2, 9], [0, 9], [500, 500]]] * 2, float)
    visible = np.array([[1, 1, 1, 1, 0]] * 2)
    lengths = normaliser_lengths(five, gt, visible, box_sizes=np.array([np.nan, 10.0]))
    np.testing.assert_allclose(lengths, [np.sqrt(4 * 9), 10.0])   # no box: the visible points' box (4 x 9)
