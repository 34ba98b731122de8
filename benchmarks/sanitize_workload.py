"""A short run of every awing_ext op, forward and backward, over the inputs that break kernels:
every dtype, tiny and odd shapes, W % 4 != 0, empty tensors, channels-last and strided views,
contiguous views whose storage offset misaligns vector loads, NaN/inf values, every reduction
and kernel size 1/3/7, scalar and full grad_outputs. benchmarks/gpu_check.py runs it under each
compute-sanitizer tool; it also runs on the CPU (tests/tools/test_gpu_check.py keeps it working).
--ops picks some of the ops: racecheck and synccheck only find something in the kernels with
shared memory or barriers, so the check runs them over those alone.

    python -m benchmarks.sanitize_workload [--device cuda] [--int64] [--ops loss,decode]
"""
import argparse
import itertools
import math
import sys

import torch

import awing_ext

DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
SHAPES = ((1, 1, 1, 1), (2, 3, 5, 7), (2, 3, 8, 12), (1, 2, 3, 33), (0, 3, 8, 8), (2, 0, 4, 4), (2, 3, 0, 5))
OPS = ("loss", "loss_map_mask", "heatmaps", "boundaries", "decode", "soft_argmax", "integral")


def layouts(x: torch.Tensor):
    """The same values as contiguous, channels-last, strided and misaligned-offset tensors."""
    yield "contiguous", x
    if x.numel() > 0:
        yield "channels_last", x.contiguous(memory_format=torch.channels_last)
        wide = torch.zeros(*x.shape[:3], 2 * x.shape[3], dtype=x.dtype, device=x.device)
        wide[..., ::2] = x
        yield "strided", wide[..., ::2]
        base = torch.zeros(x.numel() + 1, dtype=x.dtype, device=x.device)
        view = base[1:].view(x.shape)
        view.copy_(x)
        yield "offset+1", view


def heatmap_pair(shape, dtype, device, gen):
    target = torch.rand(shape, generator=gen, device=device) ** 6
    pred = target + 0.3 * torch.randn(shape, generator=gen, device=device)
    if pred.numel() > 2:
        pred.view(-1)[0] = math.nan
        target.view(-1)[-1] = 1.0
    return pred.to(dtype), target.to(dtype)


# the heatmap-loss family beside AWing, sanitized under "loss" (they share its kernel)
FAMILY = (awing_ext.mse_loss, awing_ext.l1_loss, awing_ext.smooth_l1_loss, awing_ext.wing_loss,
          awing_ext.focal_heatmap_loss)


def run_loss(device, gen, ops) -> int:
    calls = 0
    variants = itertools.cycle(itertools.product((1, 3, 7), (False, True), (False, True)))
    for dtype, shape in itertools.product(DTYPES, SHAPES):
        pred0, target0 = heatmap_pair(shape, dtype, device, gen)
        for (name, pred), (_, target) in zip(layouts(pred0), layouts(target0)):
            for reduction in ("none", "mean", "sum") if "loss" in ops else ():
                k, with_weight, with_map = next(variants)
                p = pred.detach().requires_grad_(True)
                tw = torch.rand(shape[:2], generator=gen, device=device) if with_weight else None
                wm = torch.rand(shape, generator=gen, device=device).to(dtype) if with_map else None
                loss = awing_ext.adaptive_wing_loss(p, target, tw, kernel_size=k, reduction=reduction, weights=wm)
                grad_out = (torch.rand(shape, generator=gen, device=device).to(dtype) if reduction == "none"
                            else torch.tensor(0.5, dtype=dtype, device=device))
                loss.backward(grad_out)
                with torch.no_grad():
                    awing_ext.adaptive_wing_loss(pred, target, tw, kernel_size=k, reduction=reduction)
                calls += 2
                for family_loss in FAMILY:   # the same kernel skeleton, another per-pixel loss; W = 0 skips the mask
                    p = pred.detach().requires_grad_(True)
                    family_loss(p, target, target_weight=tw, kernel_size=k, reduction=reduction, weights=wm,
                                W=0.0 if k == 7 else 10.0).backward(grad_out)
                    calls += 1
            for k in (1, 3, 7) if "loss_map_mask" in ops else ():
                awing_ext.loss_map_mask(target, 0.2, k)
                calls += 1
    return calls


def run_index_switch(device) -> int:
    """float16 planes at the int32/int64 switch: 2^31 - 2^21 elements (the int32 path at its
    largest: numel plus one grid stride still fits) and just above 2^31 (the int64 path), with
    vector (W % 4 == 0) and scalar widths."""
    calls = 0
    for rows, width in ((32736, 65536), (32769, 65536), (32769, 65535)):
        target = torch.zeros(1, 1, rows, width, dtype=torch.float16, device=device)
        target[0, 0, -1, -1] = 1.0
        pred = target.clone().requires_grad_(True)
        awing_ext.adaptive_wing_loss(pred, target, reduction="sum").backward()
        del pred, target
        calls += 1
    return calls


def run_targets(device, gen, ops) -> int:
    calls = 0
    special = torch.tensor([[0.0, 0.0], [math.nan, 3.0], [math.inf, 1.0], [1e30, -1e30], [2.9999999, 3.0],
                            [-0.5, 7.25], [63.5, 63.5], [10.0, 10.0]], device=device)
    for dtype, (h, w), n in itertools.product(DTYPES, ((1, 1), (5, 7), (64, 64), (3, 33)), (0, 2)):
        for k in (68, 98, 29):
            lm = torch.rand(n, k, 2, generator=gen, device=device) * max(h, w)
            if n:
                lm[0, :special.shape[0]] = special
            vis = torch.rand(n, k, generator=gen, device=device) > 0.2
            if "heatmaps" in ops:
                awing_ext.render_heatmaps(lm, (h, w), 1.0, visible=vis, dtype=dtype)
                awing_ext.render_heatmaps(lm.to(dtype if dtype != torch.float16 else torch.float32), (h, w), 2.0,
                                          dtype=dtype)
                calls += 2
            if "boundaries" not in ops:
                continue
            for per_curve in (False, True):
                awing_ext.render_boundaries(lm, str(k), (h, w), 1.0, per_curve=per_curve, dtype=dtype)
            calls += 2
            if k == 68:
                awing_ext.render_boundaries(lm, [[0, 1], [5, 6, 7, 8, 9], [67, 0, 33]], (h, w), 1.5, samples=3)
                calls += 1
        planes = torch.rand(3, 5, h, w, generator=gen, device=device).to(dtype)
        if h * w > 1:
            planes[0, 0] = math.nan
            planes[0, 1] = -math.inf
            planes[0, 2].view(-1)[::2] = math.nan
            planes[1, 0] = 0.5
        for name, x in layouts(planes):
            for method in awing_ext.DECODE_METHODS if "decode" in ops else ():
                awing_ext.decode_heatmaps(x, method)
                calls += 1
            for k in (1, 3, 7) if "loss_map_mask" in ops else ():
                awing_ext.loss_map_mask(x, 0.2, k)
                calls += 1
            if "soft_argmax" in ops:
                h_grad = x.detach().requires_grad_(True)
                awing_ext.soft_argmax(h_grad, 20.0).sum().backward()
                calls += 2
            for radius in (0, 3, 1000) if "integral" in ops else ():
                h_grad = x.detach().requires_grad_(True)
                awing_ext.integral_coords(h_grad, radius).sum().backward()
                calls += 2
        if "decode" in ops:
            awing_ext.decode_heatmaps(planes[:0], "dark")
            calls += 1
    return calls


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--int64", action="store_true",
                        help="also the int64 index path of the loss (~17 GB of GPU memory; run it under memcheck only)")
    parser.add_argument("--ops", default=",".join(OPS),
                        help=f"comma-separated ops to call (default: all of {','.join(OPS)})")
    args = parser.parse_args(argv)
    ops = set(args.ops.split(","))
    if not ops <= set(OPS):
        parser.error(f"--ops: unknown {','.join(sorted(ops - set(OPS)))} (known: {','.join(OPS)})")
    device = torch.device(args.device)
    gen = torch.Generator(device=device).manual_seed(0)
    calls = run_loss(device, gen, ops) + run_targets(device, gen, ops)
    if args.int64 and "loss" in ops:
        calls += run_index_switch(device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    print(f"sanitize workload: {calls} op calls ({','.join(o for o in OPS if o in ops)}) on {device} finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
