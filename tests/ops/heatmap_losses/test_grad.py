"""Gradients of the heatmap-loss family: gradcheck of the fused backward (float64), agreement
with autograd through the references, opcheck of each op, and torch.compile."""
import pytest
import torch


from .cases import CASES


def _away_from_kinks(case, pred, target):
    """Moves pred off the points where a loss is not differentiable (d = 0 for L1-type losses,
    d = omega for Wing, d = beta for smooth L1) so that finite differences are meaningful."""
    if case.logits:
        return pred
    d = pred - target
    d = torch.where(d.abs() < 1e-3, d + 0.01, d)
    for kink in (case.params.get("omega"), case.params.get("beta")):
        if kink:
            d = torch.where((d.abs() - kink).abs() < 1e-3, d * 1.01, d)
    return (target + d).detach()


@pytest.mark.parametrize("case", CASES, ids=repr)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck(case, reduction):
    pred, target = case.inputs(shape=(2, 2, 5, 6))
    pred = _away_from_kinks(case, pred, target).requires_grad_(True)
    tw = torch.tensor([[1.0, 0.5], [0.0, 2.0]], dtype=torch.float64)
    torch.autograd.gradcheck(
        lambda p: case.op(p, target, **case.params, target_weight=tw, reduction=reduction), (pred,))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradient_matches_autograd_of_the_reference(case):
    pred, target = case.inputs(shape=(2, 3, 9, 7), seed=4)
    pred = _away_from_kinks(case, pred, target)
    a = pred.clone().requires_grad_(True)
    b = pred.clone().requires_grad_(True)
    case.op(a, target, **case.params).backward()
    case.ref(b, target, **case.params).backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_opcheck(case):
    pred, target = case.inputs(shape=(2, 3, 8, 8), dtype=torch.float32, requires_grad=True)
    op = getattr(torch.ops.awing_ext, case.name).default
    params = tuple(float(v) for v in case.params.values())
    for reduction in ("mean", "none"):
        args = (pred, target, None, None, *params, 10.0, 0.2, 3, reduction, True)
        torch.library.opcheck(op, args)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_torch_compile_fullgraph_matches_eager(case):
    pred, target = case.inputs(shape=(2, 3, 8, 8), dtype=torch.float32, seed=9)
    tw = torch.ones(2, 3)

    def loss(p, t, w):
        return case.op(p, t, **case.params, target_weight=w)

    results = []
    for fn in (loss, torch.compile(loss, fullgraph=True, backend="aot_eager")):
        p = pred.clone().requires_grad_(True)
        value = fn(p, target, tw)
        value.backward()
        results.append((value.detach(), p.grad))
    torch.testing.assert_close(results[1], results[0])


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_no_gradient_for_the_target(case):
    pred, target = case.inputs(requires_grad=True)
    with pytest.raises(RuntimeError, match="target is a label"):
        case.op(pred, target.requires_grad_(True), **case.params)
