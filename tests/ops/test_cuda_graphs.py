"""CUDA-graph capture of the loss forward/backward and of every target op (skipped without a GPU).

Capture needs a warm-up call first (PyTorch's rule for graphs; here it also copies the boundary
span table to the device once). A replay after the static inputs change must give what eager
calls give.
"""
import torch

import awing_ext
from helpers.cuda_parity import requires_cuda
from helpers.heatmaps import gaussian_heatmaps

pytestmark = requires_cuda


def capture(fn, warmup=3):
    """Warm `fn` up on a side stream, then capture it; returns (graph, its static outputs)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph, out


def test_loss_forward_backward_replays():
    target = gaussian_heatmaps(4, 9, 32, 32, seed=1, device="cuda")
    weight = torch.rand(4, 9, device="cuda")
    pred = (target + 0.1 * torch.randn_like(target)).requires_grad_(True)

    def step():
        pred.grad = None
        loss = awing_ext.adaptive_wing_loss(pred, target, weight)
        loss.backward()
        return loss.detach()

    graph, static_loss = capture(step)
    for seed in (2, 3):
        new_target = gaussian_heatmaps(4, 9, 32, 32, seed=seed, device="cuda")
        with torch.no_grad():
            target.copy_(new_target)
            pred.copy_(new_target + 0.2 * torch.randn_like(new_target))
        graph.replay()
        eager_pred = pred.detach().clone().requires_grad_(True)
        eager = awing_ext.adaptive_wing_loss(eager_pred, target, weight)
        eager.backward()
        torch.cuda.synchronize()
        assert torch.equal(static_loss, eager.detach())
        assert torch.equal(pred.grad, eager_pred.grad)


def test_target_ops_replay():
    g = torch.Generator(device="cuda").manual_seed(0)
    lm = torch.rand(8, 68, 2, device="cuda", generator=g) * 63
    visible = torch.ones(8, 68, dtype=torch.bool, device="cuda")
    heat_in = gaussian_heatmaps(8, 69, 64, 64, seed=4, device="cuda")

    def ops():
        return (awing_ext.render_heatmaps(lm, 64, 1.0, visible=visible),
                awing_ext.render_boundaries(lm, "68", 64, 1.0),
                awing_ext.render_boundaries(lm, "68", 64, 1.0, per_curve=True),
                awing_ext.loss_map_mask(heat_in),
                *awing_ext.decode_heatmaps(heat_in, "taylor"),
                *awing_ext.decode_heatmaps(heat_in, "quarter"))

    graph, static = capture(ops)
    lm.copy_(torch.rand(8, 68, 2, device="cuda", generator=g) * 63)
    visible.copy_(torch.rand(8, 68, device="cuda", generator=g) > 0.3)
    heat_in.copy_(gaussian_heatmaps(8, 69, 64, 64, seed=5, device="cuda"))
    graph.replay()
    torch.cuda.synchronize()
    for got, want in zip(static, ops()):
        assert torch.equal(got, want)
