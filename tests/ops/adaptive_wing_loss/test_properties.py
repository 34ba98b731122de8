"""Property tests (hypothesis): the fused op equals the reference over shapes and parameters."""
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import awing_ext
from awing_ext.reference import adaptive_wing_loss_reference

shapes = st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 19), st.integers(1, 19))
params = st.fixed_dictionaries({
    "omega": st.floats(0.5, 30), "theta": st.floats(0.05, 2), "epsilon": st.floats(0.2, 3),
    "alpha": st.floats(1.5, 3), "W": st.floats(0, 20), "threshold": st.floats(0, 0.9),
    "kernel_size": st.sampled_from([1, 3, 5, 7]),
})


@settings(max_examples=60, deadline=None)
@given(shape=shapes, prm=params, reduction=st.sampled_from(["none", "mean", "sum"]),
       seed=st.integers(0, 2**31 - 1), scale=st.floats(0.01, 3))
def test_fused_equals_reference(shape, prm, reduction, seed, scale):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g, dtype=torch.float64) ** 3
    pred = (target + scale * torch.randn(shape, generator=g, dtype=torch.float64)).requires_grad_(True)
    pred_ref = pred.detach().clone().requires_grad_(True)
    out = awing_ext.adaptive_wing_loss(pred, target, reduction=reduction, **prm)
    ref = adaptive_wing_loss_reference(pred_ref, target, reduction=reduction, **prm)
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-9)
    upstream = torch.rand(out.shape, generator=g, dtype=torch.float64)
    out.backward(upstream)
    ref.backward(upstream)
    torch.testing.assert_close(pred.grad, pred_ref.grad, rtol=1e-8, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**31 - 1))
def test_loss_is_non_negative_and_zero_at_target(shape, seed):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g)
    pred = target + torch.randn(shape, generator=g)
    assert (awing_ext.adaptive_wing_loss(pred, target, reduction="none") >= 0).all()
    assert awing_ext.adaptive_wing_loss(target, target, reduction="sum").item() == 0.0
