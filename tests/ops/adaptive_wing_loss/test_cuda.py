"""The CUDA loss kernel on what the CPU tests cannot reach: big reductions, the int64 index
path, misaligned views, other devices and streams. Skipped with a reason without a GPU."""
import pytest
import torch

import awing_ext
from awing_ext import _C
from awing_ext.reference import adaptive_wing_loss_reference
from helpers.cuda_parity import requires_cuda, requires_two_gpus
from helpers.heatmaps import gaussian_heatmaps

pytestmark = requires_cuda

REDUCTIONS = ("none", "mean", "sum")
HALF_TOL = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.bfloat16: dict(rtol=2e-2, atol=2e-2),
            torch.float16: dict(rtol=2e-3, atol=2e-3)}


def realistic_batch(n, c, h, w, dtype, seed=0):
    target = gaussian_heatmaps(n, c, h, w, sigma=1.5, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    pred = target.roll(1, dims=-1) * 0.9 + 0.05 * torch.randn(target.shape, generator=g)
    weight = (torch.rand(n, c, generator=g) > 0.1).float() * torch.rand(n, c, generator=g) * 2
    return pred.to(dtype), target.to(dtype), weight


def loss_and_grad(pred, target, weight, reduction, device):
    p = pred.to(device, copy=True).requires_grad_(True)
    loss = awing_ext.adaptive_wing_loss(p, target.to(device), weight.to(device), reduction=reduction)
    loss.backward(torch.ones_like(loss))
    return loss.detach().cpu(), p.grad.cpu()


@pytest.mark.parametrize("width", [64, 63], ids=["W64", "W63"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_large_batch_against_cpu_and_float64(dtype, reduction, width):
    """(16, 69, 64, W): ~1000 block partials in the final pass, vector (W64) and scalar (W63) paths."""
    pred, target, weight = realistic_batch(16, 69, 64, width, dtype)
    gpu_loss, gpu_grad = loss_and_grad(pred, target, weight, reduction, "cuda")
    cpu_loss, cpu_grad = loss_and_grad(pred, target, weight, reduction, "cpu")
    ref_p = pred.detach().double().requires_grad_(True)
    ref = adaptive_wing_loss_reference(ref_p, target.double(), weight.double(), reduction=reduction)
    ref.backward(torch.ones_like(ref))
    tol = HALF_TOL[dtype]
    torch.testing.assert_close(gpu_loss, cpu_loss, **tol)
    torch.testing.assert_close(gpu_loss.double(), ref.detach().to(dtype).double(), **tol)  # f16 sum: inf
    torch.testing.assert_close(gpu_grad, cpu_grad, **tol)
    torch.testing.assert_close(gpu_grad.double(), ref_p.grad.to(dtype).double(), **tol)


def test_reduction_is_deterministic():
    pred, target, weight = realistic_batch(16, 69, 64, 64, torch.float32)
    pred, target, weight = pred.cuda(), target.cuda(), weight.cuda()
    first = awing_ext.adaptive_wing_loss(pred, target, weight, reduction="sum")
    for _ in range(5):
        assert torch.equal(awing_ext.adaptive_wing_loss(pred, target, weight, reduction="sum"), first)


@pytest.mark.parametrize("rows,width,int32", [(16385, 65536, True), (16385, 65535, True), (32736, 65536, True),
                                               (32769, 65536, False), (32769, 65535, False)],
                         ids=["2^30+,W%4=0", "2^30+,odd W", "2^31-2^21 (int32 max)", "2^31+,W%4=0", "2^31+,odd W"])
def test_index_width_paths_with_a_peak_at_the_last_pixel(rows, width, int32):
    """numel just above 2^30 and at 2^31 - 2^21 (int32 path: numel plus one grid stride fits) and
    above 2^31 (int64 path), float16: the loss is 0 where pred == target, so the only non-zero
    pixels are around the last one, checked against the reference on a crop of the last rows."""
    if torch.cuda.get_device_properties(0).total_memory < 40 * 2**30:
        pytest.skip("needs a GPU with >= 40 GiB")
    numel = rows * width
    target = torch.zeros(1, 1, rows, width, dtype=torch.float16, device="cuda")
    target[0, 0, -1, -1] = 1.0
    target[0, 0, -2, -3] = 0.5
    pred = target.clone()
    pred[0, 0, -1, -1] = 0.25
    pred[0, 0, -1, -2] = 0.75
    pred.requires_grad_(True)
    plan = _C.plan_loss_launch(numel, width, [(pred.data_ptr(), 2), (target.data_ptr(), 2), (pred.data_ptr(), 4)],
                               256, torch.cuda.get_device_properties(0).multi_processor_count)
    assert plan["int32_index"] is int32
    loss = awing_ext.adaptive_wing_loss(pred, target, reduction="sum")
    loss.backward()
    crop_p = pred.detach()[:, :, -4:, :].double().cpu().requires_grad_(True)
    crop_t = target[:, :, -4:, :].double().cpu()
    ref = adaptive_wing_loss_reference(crop_p, crop_t, reduction="sum")
    ref.backward()
    torch.testing.assert_close(loss.double().cpu(), ref.detach(), rtol=2e-3, atol=0)
    grad = pred.grad
    torch.testing.assert_close(grad[:, :, -4:, :].double().cpu(), crop_p.grad, rtol=2e-3, atol=1e-3)
    assert grad[:, :, :-4, :].abs().max().item() == 0
    del grad, pred, target
    torch.cuda.empty_cache()


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_misaligned_views_equal_clones(k, dtype):
    """Contiguous views at storage offset k break 16-byte alignment: the kernel must take the
    scalar path and give bitwise the results of aligned clones."""
    shape = (3, 5, 16, 32)
    n = 3 * 5 * 16 * 32
    p_base = torch.rand(n + 8, device="cuda").to(dtype)
    t_base = gaussian_heatmaps(1, 1, 1, n + 8, sigma=3.0, device="cuda").flatten().to(dtype)
    pred = p_base[k:k + n].view(shape)
    target = t_base[k:k + n].view(shape)
    assert pred.data_ptr() % 16 != 0
    # Per pixel the two paths run the same code; sums may group the partials differently.
    tol = dict(rtol=1e-6 if dtype == torch.float32 else 1e-3, atol=0)
    for reduction in REDUCTIONS:
        a = pred.detach().requires_grad_(True)
        b = pred.clone().requires_grad_(True)
        la = awing_ext.adaptive_wing_loss(a, target, reduction=reduction)
        lb = awing_ext.adaptive_wing_loss(b, target.clone(), reduction=reduction)
        la.backward(torch.ones_like(la))
        lb.backward(torch.ones_like(lb))
        torch.testing.assert_close(la, lb, **tol)
        torch.testing.assert_close(a.grad, b.grad, **tol)
    assert torch.equal(awing_ext.loss_map_mask(target), awing_ext.loss_map_mask(target.clone()))
    wm = torch.rand(n + 8, device="cuda").to(dtype)[k:k + n].view(shape)
    torch.testing.assert_close(
        awing_ext.adaptive_wing_loss(pred, target, weights=wm, reduction="sum"),
        awing_ext.adaptive_wing_loss(pred.clone(), target.clone(), weights=wm.clone(), reduction="sum"), **tol)


def test_channels_last_and_strided_inputs_match_contiguous():
    pred, target, _ = realistic_batch(2, 7, 16, 20, torch.float32)
    pred, target = pred.cuda(), target.cuda()
    expected = awing_ext.adaptive_wing_loss(pred, target, reduction="none")
    cl = awing_ext.adaptive_wing_loss(pred.contiguous(memory_format=torch.channels_last),
                                      target.contiguous(memory_format=torch.channels_last), reduction="none")
    assert torch.equal(cl, expected)
    wide_p = torch.zeros(2, 7, 16, 40, device="cuda")
    wide_t = torch.zeros_like(wide_p)
    wide_p[..., ::2] = pred
    wide_t[..., ::2] = target
    assert torch.equal(awing_ext.adaptive_wing_loss(wide_p[..., ::2], wide_t[..., ::2], reduction="none"), expected)


def test_scalar_and_full_grad_outputs():
    pred, target, _ = realistic_batch(2, 3, 8, 8, torch.float32)
    for reduction, grad_out in (("sum", torch.tensor(2.5)), ("mean", torch.tensor(-1.0)),
                                ("none", torch.rand(2, 3, 8, 8))):
        grads = []
        for device in ("cpu", "cuda"):
            p = pred.to(device).requires_grad_(True)
            awing_ext.adaptive_wing_loss(p, target.to(device), reduction=reduction).backward(grad_out.to(device))
            grads.append(p.grad.cpu())
        torch.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-6)


def test_side_stream_matches_default_stream():
    pred, target, weight = realistic_batch(4, 9, 32, 32, torch.float32)
    pred, target, weight = pred.cuda(), target.cuda(), weight.cuda()
    expected = awing_ext.adaptive_wing_loss(pred, target, weight, reduction="sum")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        p = pred.detach().requires_grad_(True)
        got = awing_ext.adaptive_wing_loss(p, target, weight, reduction="sum")
        got.backward()
    side.synchronize()
    assert torch.equal(got, expected)
    assert p.grad is not None and torch.isfinite(p.grad).all()


@requires_two_gpus
def test_second_device_while_first_is_current():
    pred, target, weight = realistic_batch(2, 5, 16, 16, torch.float32)
    on0 = awing_ext.adaptive_wing_loss(pred.cuda(0), target.cuda(0), weight.cuda(0), reduction="none")
    with torch.cuda.device(0):
        p = pred.cuda(1).requires_grad_(True)
        on1 = awing_ext.adaptive_wing_loss(p, target.cuda(1), weight.cuda(1), reduction="none")
        on1.sum().backward()
    assert on1.device == torch.device("cuda", 1) and p.grad.device == torch.device("cuda", 1)
    assert torch.equal(on1.cpu(), on0.cpu())


def test_sum_overflow_is_inf_like_the_cpu():
    target = torch.zeros(1, 4, 32, 32, dtype=torch.float16)
    pred = torch.full_like(target, 1000.0)
    cpu = awing_ext.adaptive_wing_loss(pred, target, reduction="sum")
    gpu = awing_ext.adaptive_wing_loss(pred.cuda(), target.cuda(), reduction="sum")
    assert cpu.item() == gpu.item() == float("inf")


def test_no_host_sync_in_loss_forward_and_backward():
    pred, target, weight = realistic_batch(4, 9, 32, 32, torch.bfloat16)
    pred, target, weight = pred.cuda().requires_grad_(True), target.cuda(), weight.cuda()
    awing_ext.adaptive_wing_loss(pred, target, weight).backward()  # warm-up
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for reduction in REDUCTIONS:
            loss = awing_ext.adaptive_wing_loss(pred, target, weight, reduction=reduction)
            loss.backward(torch.ones_like(loss))
    finally:
        torch.cuda.set_sync_debug_mode("default")
