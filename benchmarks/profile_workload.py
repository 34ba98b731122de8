"""One call of each kernel the speed goals are about, for `ncu` (benchmarks/gpu_check.py):

* the loss at N = 32, C = 69, 64 x 64, float32, forward + backward (adaptive_wing_loss_kernel,
  finish_sum_kernel; backward is a PyTorch multiply);
* the targets of 64 faces at 64 x 64 (render_heatmaps_kernel, boundary_segments_kernel,
  boundary_pixels_kernel, loss_map_mask_kernel);
* the streaming floor torch.add(pred, target, out=buf), for comparison.

The calls run inside the NVTX range "awing" (after the inputs are built and synchronised), so
`ncu --nvtx --nvtx-include "awing/"` profiles exactly their kernels.

    python -m benchmarks.profile_workload [--device cuda]
"""
import argparse
import sys

import torch

import awing_ext


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    device = torch.device(parser.parse_args(argv).device)
    cuda = device.type == "cuda"
    gen = torch.Generator(device=device).manual_seed(0)
    lm = torch.rand(64, 68, 2, generator=gen, device=device) * 63
    target = awing_ext.render_heatmaps(lm[:32], 64, 1.5)
    target = torch.cat([target, awing_ext.render_boundaries(lm[:32], "68", 64)], dim=1)
    pred = (target + 0.05 * torch.randn(target.shape, generator=gen, device=device)).requires_grad_(True)
    out = torch.empty_like(target)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.nvtx.range_push("awing")
    awing_ext.adaptive_wing_loss(pred, target).backward()
    torch.add(pred.detach(), target, out=out)
    heat = awing_ext.render_heatmaps(lm, 64, 1.0)
    boundary = awing_ext.render_boundaries(lm, "68", 64, 1.0)
    awing_ext.loss_map_mask(heat)
    awing_ext.loss_map_mask(boundary)
    if cuda:
        torch.cuda.nvtx.range_pop()
        torch.cuda.synchronize()
    print(f"profiled one call each on {device}: loss {tuple(pred.shape)}, targets of {lm.shape[0]} faces")
    return 0


if __name__ == "__main__":
    sys.exit(main())
