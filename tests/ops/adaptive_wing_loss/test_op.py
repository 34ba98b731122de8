"""Op registration: opcheck, torch.compile(fullgraph=True), determinism, build info."""
import pytest
import torch

import awing_ext
from awing_ext.reference import adaptive_wing_loss_reference
from helpers.heatmaps import gaussian_heatmaps

OP = torch.ops.awing_ext.adaptive_wing_loss.default


def _args(device, dtype=torch.float32, reduction="mean", with_weight=True, compute_grad=True):
    target = gaussian_heatmaps(2, 3, 8, 9, seed=2, dtype=dtype, device=device)
    pred = (target + 0.3 * torch.randn_like(target)).requires_grad_(compute_grad)
    tw = torch.rand(2, 3, dtype=dtype, device=device) if with_weight else None
    return (pred, target, tw, None, 14.0, 0.5, 1.0, 2.1, 10.0, 0.2, 3, reduction, compute_grad)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16], ids=str)
def test_opcheck(device, reduction, dtype):
    torch.library.opcheck(OP, _args(device, dtype, reduction))
    torch.library.opcheck(OP, _args(device, dtype, reduction, with_weight=False, compute_grad=False))


def test_opcheck_with_weights(device):
    args = list(_args(device))
    args[3] = 1 + torch.rand_like(args[1])
    torch.library.opcheck(OP, tuple(args))


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_torch_compile_fullgraph(device, reduction):
    torch._dynamo.reset()
    crit = awing_ext.AdaptiveWingLoss(reduction=reduction)

    def step(pred, target, tw):
        return (crit(pred, target, tw) * 2).sum()

    compiled = torch.compile(step, fullgraph=True)
    target = gaussian_heatmaps(2, 4, 10, 10, seed=5, device=device)
    pred = (target + 0.2 * torch.randn_like(target)).requires_grad_(True)
    pred_eager = pred.detach().clone().requires_grad_(True)
    tw = torch.rand(2, 4, device=device)
    out = compiled(pred, target, tw)
    out.backward()
    want = step(pred_eager, target, tw)
    want.backward()
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(pred.grad, pred_eager.grad)


def test_bitwise_deterministic(device):
    target = gaussian_heatmaps(4, 17, 33, 31, seed=6, device=device)
    pred = (target + 0.3 * torch.randn_like(target)).requires_grad_(True)
    results = []
    saved_threads = torch.get_num_threads()
    try:
        for threads in (1, 2, 1, 2):  # the CPU sum must not depend on the thread count
            torch.set_num_threads(threads)
            loss = awing_ext.adaptive_wing_loss(pred, target)
            pred.grad = None
            loss.backward()
            results.append((loss.detach().clone(), pred.grad.clone()))
    finally:
        torch.set_num_threads(saved_threads)
    for loss, grad in results[1:]:
        assert torch.equal(loss, results[0][0])
        assert torch.equal(grad, results[0][1])


def test_cpu_and_cuda_agree():
    if not torch.cuda.is_available() or not awing_ext.build_info()["cuda"]:
        pytest.skip("no CUDA device present" if not torch.cuda.is_available() else "built without CUDA")
    target = gaussian_heatmaps(3, 7, 16, 20, seed=7)
    pred = target + 0.3 * torch.randn_like(target)
    for reduction in ("none", "mean", "sum"):
        cpu = awing_ext.adaptive_wing_loss(pred, target, reduction=reduction)
        gpu = awing_ext.adaptive_wing_loss(pred.cuda(), target.cuda(), reduction=reduction)
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-5, atol=1e-5)


def test_autocast_bf16_inputs(device):
    """Under autocast a model emits bf16/fp16 heatmaps; the loss takes them with a float32 target cast."""
    target = gaussian_heatmaps(2, 3, 8, 8, seed=8, device=device)
    pred = (target + 0.1 * torch.randn_like(target)).to(torch.bfloat16).requires_grad_(True)
    loss = awing_ext.adaptive_wing_loss(pred, target.to(torch.bfloat16))
    ref = adaptive_wing_loss_reference(pred.detach(), target.to(torch.bfloat16))
    torch.testing.assert_close(loss.float(), ref.float(), rtol=1e-2, atol=1e-2)
    loss.backward()
    assert pred.grad.dtype == torch.bfloat16 and torch.isfinite(pred.grad).all()


def test_build_info():
    info = awing_ext.build_info()
    assert info["cpu"] is True
    assert isinstance(info["cuda"], bool)
    assert info["torch_version"].split("+")[0] == torch.__version__.split("+")[0]
    assert info["cpu_capability"] in ("avx2", "default")
