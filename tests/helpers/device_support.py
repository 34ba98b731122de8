"""Why CUDA tests skip on this machine (None when they can run).

A plain module rather than a conftest attribute: tests/reliability has a conftest of its own, and
`from conftest import ...` would resolve to whichever conftest pytest imported first.
"""
import torch

import awing_ext

CUDA_SKIP_REASON = (
    "no CUDA device present" if not torch.cuda.is_available()
    else "awing_ext was built without CUDA kernels" if not awing_ext.build_info()["cuda"]
    else None
)
