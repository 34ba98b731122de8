"""The heatmap-loss family on CUDA against the CPU kernels (the same formulas; values agree to
float32 rounding of different exp/log implementations), including the focal loss's device-side
positive count, the W = 0 path without the mask, vector and scalar launches and half inputs."""
import pytest
import torch

from helpers.cuda_parity import requires_cuda

from .cases import CASES

pytestmark = requires_cuda


@pytest.mark.parametrize("case", CASES, ids=repr)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("W", [10.0, 0.0])
@pytest.mark.parametrize("shape", [(2, 3, 16, 16), (2, 3, 9, 7)])   # vectorised and scalar launches
def test_matches_the_cpu_kernel(case, reduction, W, shape):
    pred, target = case.inputs(shape=shape, dtype=torch.float32, seed=13)
    tw = torch.rand(shape[:2], generator=torch.Generator().manual_seed(1))
    results = []
    for device in ("cpu", "cuda"):
        p = pred.to(device).requires_grad_(True)
        loss = case.op(p, target.to(device), **case.params, W=W, target_weight=tw.to(device), reduction=reduction)
        loss.sum().backward()
        results.append((loss.detach().cpu(), p.grad.cpu()))
    torch.testing.assert_close(results[1], results[0], rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", CASES, ids=repr)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_match_the_cpu_kernel(case, dtype):
    pred, target = case.inputs(dtype=torch.float32, seed=17)
    pred, target = pred.to(dtype), target.to(dtype)
    cpu = case.op(pred, target, **case.params)
    gpu = case.op(pred.cuda(), target.cuda(), **case.params).cpu()
    torch.testing.assert_close(gpu.float(), cpu.float(), rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bitwise_reproducible_on_cuda(case):
    pred, target = case.inputs(shape=(8, 16, 32, 32), dtype=torch.float32, seed=19)
    pred, target = pred.cuda(), target.cuda()
    first = case.op(pred, target, **case.params)
    assert all(torch.equal(first, case.op(pred, target, **case.params)) for _ in range(3))
