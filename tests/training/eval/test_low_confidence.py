"""evaluate's low_confidence record (issue 25, item 3): the share of predicted points whose heatmap
peak is below 0.2, from the decoded scores of an all-zero and of a rendered heatmap, as
evaluation_report writes it into results.json and format_report prints it."""
import numpy as np
import pytest
import torch

import awing_ext
from training.core.codec import HeatmapCodec
from training.eval.protocol import evaluation_report, format_report


def _result(heatmaps: torch.Tensor) -> dict:
    codec = HeatmapCodec(64, 16, boundary_scheme=None)
    pred, scores = codec.decode(heatmaps, heatmaps.shape[1])
    gt = np.random.default_rng(0).uniform(10, 50, size=(heatmaps.shape[0], 68, 2))
    return {"pred": pred.numpy().astype(np.float64), "scores": scores.numpy(), "gt": gt,
            "visible": np.ones(gt.shape[:2])}


def test_flat_planes_are_counted():
    points = torch.rand(2, 68, 2, generator=torch.Generator().manual_seed(0)) * 12 + 2
    rendered = awing_ext.render_heatmaps(points, 16, 1.0)                 # every peak >= 0.78
    heat = torch.cat([rendered, torch.zeros(1, 68, 16, 16)])             # a third face left all zero
    report, _ = evaluation_report(_result(heat), {}, np.full((68, 2), 30.0))
    assert report["low_confidence"] == {"threshold": 0.2, "fraction": pytest.approx(1 / 3)}
    assert "33.3 % of the predicted points have a heatmap peak below 0.2" in format_report(report)


def test_a_model_with_peaks_everywhere_has_none():
    points = torch.rand(3, 68, 2, generator=torch.Generator().manual_seed(1)) * 12 + 2
    report, _ = evaluation_report(_result(awing_ext.render_heatmaps(points, 16, 1.0)), {}, np.full((68, 2), 30.0))
    assert report["low_confidence"]["fraction"] == 0.0
    assert "heatmap peak below" not in format_report(report)
