"""Shared fixtures: the devices to test on (CUDA skipped with a reason when absent)."""
import pytest
import torch

from helpers.device_support import CUDA_SKIP_REASON

DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(CUDA_SKIP_REASON is not None,
                                                             reason=CUDA_SKIP_REASON or "")),
]


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


