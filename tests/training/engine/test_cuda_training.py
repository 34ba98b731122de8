"""A training step on the GPU: no host synchronisation besides the loss value the loop reads
(training.train calls .item() once per step for logging and the NaN stop). Skipped without a GPU."""
import torch

import awing_ext
from helpers.cuda_parity import requires_cuda
from training.core.codec import HeatmapCodec
from training.models import build_model
from training.models.inputs import normalise_images

pytestmark = requires_cuda


def test_training_step_has_no_host_sync():
    torch.manual_seed(0)
    model = build_model("tiny").cuda()
    size = model.config.input_size
    codec = HeatmapCodec(size, size // 4, 1.0, "68")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    criterion = awing_ext.AdaptiveWingLoss()
    images_u8 = torch.randint(0, 255, (4, 3, size, size), dtype=torch.uint8, device="cuda")
    landmarks = torch.rand(4, 68, 2, device="cuda") * (size - 1)
    visible = torch.rand(4, 68, device="cuda") > 0.1

    def step():
        images = normalise_images(images_u8)
        target, weight = codec.encode(landmarks, visible)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            outputs = model(images)
        loss = sum(criterion(out.float(), target, weight) for out in outputs)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    first = step().item()  # warm-up: allocations, cuDNN choices, the boundary span table
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        losses = [step() for _ in range(3)]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    values = [first] + [v.item() for v in losses]
    assert all(torch.isfinite(torch.tensor(values)))
