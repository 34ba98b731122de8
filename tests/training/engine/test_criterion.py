"""train's loss (training/engine/criterion.py): every --loss is its awing_ext op summed over the
stacks with the options' parameters and loss map (focal: the landmark channels and the boundary
channel as two terms); the integral term (--integral-weight) is the L1 or Wing loss of the
integral coordinates over visible points, ~0 at a perfect prediction; bad options are one-line
errors; and every loss trains a tiny FAN a few steps."""
import math

import pytest
import torch

import awing_ext
from training import train
from training.engine.criterion import INTEGRAL_WING, LOSSES, build_criterion

from helpers.cli_runs import TINY, run_cli
from helpers.heatmaps import gaussian_heatmaps

OPS = {"awing": awing_ext.adaptive_wing_loss, "wing": awing_ext.wing_loss, "mse": awing_ext.mse_loss,
       "l1": awing_ext.l1_loss, "smooth-l1": awing_ext.smooth_l1_loss, "focal": awing_ext.focal_heatmap_loss}


def _stacks(seed=0, n=2, k=3, size=16):
    target = gaussian_heatmaps(n, k + 1, size, size, sigma=1.0, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    outputs = [target + 0.2 * torch.randn(target.shape, generator=g) for _ in range(2)]
    weight = torch.ones(n, k + 1)
    weight[0, 1] = 0
    return outputs, target, weight


def test_every_loss_option_names_an_op():
    assert set(LOSSES) == set(OPS)


@pytest.mark.parametrize("loss,extra,params", [
    ("awing", ["--awing-omega", "10", "--awing-alpha", "2.0"], {"omega": 10.0, "theta": 0.5, "epsilon": 1.0,
                                                                "alpha": 2.0}),
    ("wing", ["--wing-omega", "0.5", "--wing-epsilon", "0.1"], {"omega": 0.5, "epsilon": 0.1}),
    ("mse", [], {}),
    ("l1", ["--loss-map-weight", "0"], {}),
    ("smooth-l1", ["--smooth-l1-beta", "0.05"], {"beta": 0.05}),
    ("focal", ["--focal-threshold", "0.6", "--focal-beta", "2"], {"alpha": 2.0, "beta": 2.0,
                                                                  "positive_threshold": 0.6}),
])
def test_heatmap_loss_is_the_op_summed_over_stacks(loss, extra, params):
    args = train.parse_args(["--loss", loss, *extra])
    criterion = build_criterion(args, num_landmarks=3)
    outputs, target, weight = _stacks()
    got = criterion(outputs, target, weight, torch.zeros(2, 3, 2), torch.ones(2, 3))
    W = 0.0 if "--loss-map-weight" in extra else 10.0

    def op(out, tgt, w):
        return OPS[loss](out, tgt, **params, W=W, threshold=0.2, target_weight=w)

    if loss == "focal":   # landmarks (mean: / visible landmarks) and boundary (sum / its positive pixels)
        positives = (target[:, 3:] >= 0.6).sum()
        want = sum(op(out[:, :3], target[:, :3], weight[:, :3])
                   + OPS[loss](out[:, 3:], target[:, 3:], **params, W=W, threshold=0.2, target_weight=weight[:, 3:],
                               reduction="sum") / positives
                   for out in outputs)
    else:
        want = sum(op(out, target, weight) for out in outputs)
    torch.testing.assert_close(got, want)


def test_focal_normalises_by_visible_landmarks_and_keeps_the_boundary_apart():
    """CornerNet divides by the number of objects: here the landmark term is the focal sum over
    the landmark channels / the visible landmarks (5 of 6: one plane is left empty, as an
    invisible point's is), the boundary term its sum / its positive pixels (>= 0.75)."""
    args = train.parse_args(["--loss", "focal", "--loss-map-weight", "0"])
    criterion = build_criterion(args, num_landmarks=3)
    outputs, target, weight = _stacks(seed=7)
    target[0, 1] = 0.0
    got = criterion(outputs[:1], target, weight, torch.zeros(2, 3, 2), torch.ones(2, 3))
    focal = awing_ext.focal_heatmap_loss
    landmarks = focal(outputs[0][:, :3], target[:, :3], W=0.0, target_weight=weight[:, :3], reduction="sum") / 5
    positives = int((target[:, 3:] >= 0.75).sum())
    assert positives > 2
    boundary = focal(outputs[0][:, 3:], target[:, 3:], W=0.0, target_weight=weight[:, 3:], reduction="sum") / positives
    torch.testing.assert_close(got, landmarks + boundary)


def test_defaults_are_the_papers_awing():
    args = train.parse_args([])
    outputs, target, weight = _stacks(seed=3)
    got = build_criterion(args, 3)(outputs, target, weight, torch.zeros(2, 3, 2), torch.ones(2, 3))
    want = sum(awing_ext.AdaptiveWingLoss()(out, target, weight) for out in outputs)
    torch.testing.assert_close(got, want)


def _peaked(points, size=16):
    """Heatmaps with a single-pixel peak at each integer point: its integral coordinates are the point."""
    n, k, _ = points.shape
    maps = torch.zeros(n, k, size, size)
    for i in range(n):
        for j in range(k):
            x, y = points[i, j].long().tolist()
            maps[i, j, y, x] = 1.0
    return maps


def test_integral_term_is_the_l1_of_the_integral_coordinates_over_visible_points():
    args = train.parse_args(["--integral-weight", "0.5", "--loss-map-weight", "0"])
    criterion = build_criterion(args, num_landmarks=2)
    predicted = torch.tensor([[[3.0, 4.0], [10.0, 2.0]]])
    truth = predicted + torch.tensor([[[1.0, -2.0], [0.5, 0.5]]])
    heat = torch.cat([_peaked(predicted), torch.zeros(1, 1, 16, 16)], dim=1)   # + a boundary channel
    target = heat.clone()
    visible = torch.tensor([[1.0, 0.0]])
    weight = torch.ones(1, 3)
    total = criterion([heat], target, weight, truth, visible)
    heat_loss = awing_ext.adaptive_wing_loss(heat, target, weight, W=0.0)
    # the window around a single-pixel peak holds only it: the point exactly;
    # only the visible point counts: (|1| + |-2|) / 2 axes = 1.5
    assert math.isclose(float(total - heat_loss), 0.5 * 1.5, rel_tol=1e-5)


def test_integral_wing_uses_fengs_parameters_in_heatmap_pixels():
    args = train.parse_args(["--integral-weight", "1", "--integral-loss", "wing"])
    criterion = build_criterion(args, num_landmarks=1)
    predicted = torch.tensor([[[6.0, 6.0]]])
    truth = predicted + torch.tensor([[[0.5, 4.0]]])
    heat = _peaked(predicted)
    got = criterion.coordinate_loss(heat, truth, torch.ones(1, 1))
    omega, eps = INTEGRAL_WING["omega"], INTEGRAL_WING["epsilon"]
    C = omega - omega * math.log1p(omega / eps)
    want = (omega * math.log1p(0.5 / eps) + (4.0 - C)) / 2
    assert math.isclose(float(got), want, rel_tol=1e-5)


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_integral_term_is_zero_at_the_perfect_prediction(sigma):
    """The issue with soft-argmax: 0.155 px per coordinate at a perfect prediction, with a
    gradient against the heatmap loss. The windowed expectation (radius ceil(3 --sigma)) of the
    rendered targets is their points to < 0.01 px."""
    args = train.parse_args(["--integral-weight", "1", "--sigma", str(sigma)])
    criterion = build_criterion(args, num_landmarks=68)
    assert criterion.integral_radius == math.ceil(3 * sigma)
    g = torch.Generator().manual_seed(0)
    points = 8 + torch.rand(4, 68, 2, generator=g) * 47
    target = awing_ext.render_heatmaps(points, 64, sigma)
    assert float(criterion.coordinate_loss(target, points, torch.ones(4, 68))) < 0.01


def test_focal_integral_term_reads_the_sigmoid():
    args = train.parse_args(["--loss", "focal", "--integral-weight", "1"])
    criterion = build_criterion(args, num_landmarks=2)
    points = torch.tensor([[[5.3, 6.6], [10.2, 3.4]]])
    probabilities = awing_ext.render_heatmaps(points, 16, 1.0).clamp(1e-6, 1 - 1e-6)
    logits = torch.logit(probabilities)   # mostly large negative: relu(logits) alone would lose the peak
    assert float(criterion.coordinate_loss(logits, points, torch.ones(1, 2))) < 0.05


def test_integral_term_gets_gradients_to_the_heatmaps():
    args = train.parse_args(["--integral-weight", "1"])
    criterion = build_criterion(args, num_landmarks=3)
    outputs, target, weight = _stacks(seed=5)
    heat = outputs[0].clone().requires_grad_(True)
    criterion.coordinate_loss(heat[:, :3], torch.full((2, 3, 2), 7.5), torch.ones(2, 3)).backward()
    assert heat.grad[:, :3].abs().sum() > 0 and torch.isfinite(heat.grad).all()


def test_no_visible_point_gives_zero_coordinate_loss():
    args = train.parse_args(["--integral-weight", "1"])
    criterion = build_criterion(args, num_landmarks=3)
    outputs, _, _ = _stacks()
    assert float(criterion.coordinate_loss(outputs[0][:, :3], torch.zeros(2, 3, 2), torch.zeros(2, 3))) == 0.0


def test_the_removed_integral_beta_is_refused(capsys):
    """Issue 29, case 1: --integral-beta 1e30 trained with no gradient from the term. The
    soft-argmax and its beta are gone from training (the window follows --sigma): the option is
    argparse's one-line error."""
    code, _, err = run_cli(train.main, ["--integral-weight", "1", "--integral-beta", "1e30"], capsys)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1 and "--integral-beta" in errors[0] and "Traceback" not in err, err


@pytest.mark.parametrize("argv,needle", [
    (["--loss", "huber"], "--loss"),
    (["--loss-map-weight", "-1"], "--loss-map-weight"),
    (["--focal-threshold", "0"], "--focal-threshold"),
    (["--awing-omega", "0"], "--awing-omega"),
    (["--wing-epsilon", "nan"], "--wing-epsilon"),
    (["--integral-weight", "-0.1"], "--integral-weight"),
    (["--integral-loss", "l2"], "--integral-loss"),
])
def test_bad_loss_options_are_usage_errors(argv, needle, capsys):
    """argparse's error: exit 2, its usage and one `error: argument --x: ...` line."""
    code, _, err = run_cli(train.main, argv, capsys)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1 and f"argument {needle}" in errors[0] and "Traceback" not in err, err
    if argv[0] == "--loss":
        assert all(name in errors[0] for name in LOSSES)


def test_loss_options_in_a_config_file(tmp_path):
    config = tmp_path / "wing.toml"
    config.write_text('[loss]\nloss = "wing"\nloss-map-weight = 0\nwing-omega = 2.0\nintegral-weight = 0.1\n')
    args = train.parse_args(["--config", str(config)])
    assert (args.loss, args.loss_map_weight, args.wing_omega, args.integral_weight) == ("wing", 0.0, 2.0, 0.1)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_trains_a_tiny_fan(loss, tmp_path, capsys):
    extra = ["--integral-weight", "0.01"] if loss == "awing" else []
    code, _, err = run_cli(train.main, [*TINY, "--loss", loss, *extra, "--max-steps", "2", "--epochs", "1",
                                        "--out", tmp_path / loss], capsys)
    assert code == 0, err[-2000:]
    import json
    lines = [json.loads(line) for line in (tmp_path / loss / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in lines if "loss" in r]
    assert len(losses) == 2 and all(math.isfinite(v) and v > 0 for v in losses)
    assert json.loads((tmp_path / loss / "config.json").read_text())["loss"] == loss
