"""The heatmap-loss family against its pure-PyTorch references (awing_ext.reference) and torch's
own losses: values for every reduction, loss map, target_weight and explicit weights; dtypes;
hand-checked single pixels; determinism."""
import math

import pytest
import torch
import torch.nn.functional as F

import awing_ext

from .cases import CASES

REDUCTIONS = ("none", "sum", "mean")


@pytest.mark.parametrize("case", CASES, ids=repr)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("W", [10.0, 0.0])
def test_matches_reference_float64(case, reduction, W):
    pred, target = case.inputs()
    tw = torch.tensor([[1.0, 0.0, 0.5], [2.0, 1.0, 1.0]], dtype=torch.float64)
    got = case.op(pred, target, **case.params, W=W, target_weight=tw, reduction=reduction)
    want = case.ref(pred, target, **case.params, W=W, target_weight=tw, reduction=reduction)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_explicit_weights_replace_the_loss_map(case):
    pred, target = case.inputs(seed=3)
    weights = torch.rand(pred.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    got = case.op(pred, target, **case.params, weights=weights, reduction="sum")
    want = case.ref(pred, target, **case.params, weights=weights, reduction="sum")
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=repr)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (1, 2, 3, 17), (3, 5, 33, 31)])
def test_float32_matches_float64_reference(case, shape):
    """Odd widths exercise the vector tail; float32 arithmetic within float32 rounding."""
    pred, target = case.inputs(shape=shape, dtype=torch.float32, seed=7)
    got = case.op(pred, target, **case.params, reduction="none")
    want = case.ref(pred.double(), target.double(), **case.params, reduction="none")
    torch.testing.assert_close(got.double(), want, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", CASES, ids=repr)
@pytest.mark.parametrize("dtype,tol", [(torch.float16, 1e-2), (torch.bfloat16, 4e-2)])
def test_half_precision_inputs(case, dtype, tol):
    """Half inputs are computed in float32 and the result rounded once to the input dtype."""
    pred, target = case.inputs(dtype=torch.float32, seed=2)
    pred, target = pred.to(dtype), target.to(dtype)
    got = case.op(pred, target, **case.params, reduction="mean")
    want = case.ref(pred.double(), target.double(), **case.params, reduction="mean")
    assert got.dtype == dtype
    assert math.isclose(float(got), float(want), rel_tol=tol)


def test_plain_losses_equal_torchs_without_the_loss_map():
    pred, target = CASES[0].inputs(dtype=torch.float32)
    torch.testing.assert_close(awing_ext.mse_loss(pred, target, W=0), F.mse_loss(pred, target))
    torch.testing.assert_close(awing_ext.l1_loss(pred, target, W=0), F.l1_loss(pred, target))
    for beta in (0.0, 0.05, 1.0):
        torch.testing.assert_close(awing_ext.smooth_l1_loss(pred, target, beta=beta, W=0),
                                   F.smooth_l1_loss(pred, target, beta=beta))


def _one(value: float) -> torch.Tensor:
    return torch.tensor([[[[value]]]], dtype=torch.float64)


def test_wing_hand_checked():
    """omega = 0.5, epsilon = 0.1: d = 0.2 is near (0.5 ln 3), d = 0.8 far (0.8 - C)."""
    y = _one(0.0)
    near = awing_ext.wing_loss(_one(0.2), y, omega=0.5, epsilon=0.1, W=0)
    assert math.isclose(float(near), 0.5 * math.log(3.0), rel_tol=1e-14)
    far = awing_ext.wing_loss(_one(-0.8), y, omega=0.5, epsilon=0.1, W=0)
    C = 0.5 - 0.5 * math.log(6.0)
    assert math.isclose(float(far), 0.8 - C, rel_tol=1e-14)


def test_focal_hand_checked():
    """A positive pixel at logit 0 (p = 1/2): (1/2)^2 ln 2; a negative pixel at y = 0.5, logit 0:
    0.5^4 (1/2)^2 ln 2; mean divides by the one positive."""
    x = torch.zeros(1, 1, 1, 2, dtype=torch.float64)
    y = torch.tensor([[[[0.8, 0.5]]]], dtype=torch.float64)
    ln2 = math.log(2.0)
    got = awing_ext.focal_heatmap_loss(x, y, W=0, reduction="none").flatten().tolist()
    assert got == pytest.approx([0.25 * ln2, 0.0625 * 0.25 * ln2], rel=1e-14)
    mean = awing_ext.focal_heatmap_loss(x, y, W=0, reduction="mean")
    assert math.isclose(float(mean), sum(got) / 1, rel_tol=1e-14)


def test_focal_mean_divides_by_the_planes_holding_a_positive():
    """CornerNet's number of objects: three planes, the first with 3 positive pixels, the second
    with 1, the third with none: "mean" is the sum / 2 (not / 4 positive pixels)."""
    x = torch.randn(1, 3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.full_like(x, 0.1)
    y[0, 0, 1, 1:4] = 0.9
    y[0, 1, 2, 2] = 0.8
    total = awing_ext.focal_heatmap_loss(x, y, reduction="sum")
    torch.testing.assert_close(awing_ext.focal_heatmap_loss(x, y, reduction="mean"), total / 2)


def test_focal_mean_without_positives_is_the_sum():
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    y = torch.full_like(x, 0.1)
    total = awing_ext.focal_heatmap_loss(x, y, reduction="sum")
    torch.testing.assert_close(awing_ext.focal_heatmap_loss(x, y, reduction="mean"), total)


@pytest.mark.parametrize("logit", [-200.0, -40.0, 40.0, 200.0])
def test_focal_is_finite_for_large_logits(logit):
    """softplus never overflows: a confident wrong pixel costs about |logit|, a right one ~0."""
    x = torch.full((1, 1, 1, 2), logit, dtype=torch.float32, requires_grad=True)
    y = torch.tensor([[[[1.0, 0.0]]]])
    loss = awing_ext.focal_heatmap_loss(x, y, W=0, reduction="none")
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(x.grad).all()
    wrong = loss[0, 0, 0, 0] if logit < 0 else loss[0, 0, 0, 1]
    assert float(wrong) == pytest.approx(abs(logit), rel=1e-5)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_nan_propagates_to_the_loss_and_gradient(case):
    pred, target = case.inputs(dtype=torch.float32)
    pred = pred.detach().clone()
    pred[0, 0, 0, 0] = float("nan")
    target = target.clone()
    target[1, 2, 3, 4] = float("nan")
    pred.requires_grad_(True)
    loss = case.op(pred, target, **case.params, reduction="none")
    loss.sum().backward()
    assert math.isnan(float(loss[0, 0, 0, 0])) and math.isnan(float(loss[1, 2, 3, 4]))
    assert math.isnan(float(pred.grad[0, 0, 0, 0])) and math.isnan(float(pred.grad[1, 2, 3, 4]))
    finite = torch.ones_like(loss, dtype=torch.bool)
    finite[0, 0, 0, 0] = finite[1, 2, 3, 4] = False
    assert torch.isfinite(loss[finite]).all()


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_empty_inputs(case):
    pred = torch.empty(0, 3, 8, 8)
    target = torch.empty(0, 3, 8, 8)
    assert float(case.op(pred, target, **case.params, reduction="sum")) == 0.0
    assert math.isnan(float(case.op(pred, target, **case.params, reduction="mean")))
    assert case.op(pred, target, **case.params, reduction="none").shape == (0, 3, 8, 8)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bitwise_independent_of_the_thread_count(case):
    pred, target = case.inputs(shape=(4, 8, 32, 32), dtype=torch.float32, seed=11)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = case.op(pred, target, **case.params)
        torch.set_num_threads(max(threads, 2))
        many = case.op(pred, target, **case.params)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, many)
