"""Shared fixtures: the devices to test on (CUDA skipped with a reason when absent)."""
import pytest
import torch

import awing_ext

CUDA_SKIP_REASON = (
    "no CUDA device present" if not torch.cuda.is_available()
    else "awing_ext was built without CUDA kernels" if not awing_ext.build_info()["cuda"]
    else None
)

DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(CUDA_SKIP_REASON is not None,
                                                             reason=CUDA_SKIP_REASON or "")),
]


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


