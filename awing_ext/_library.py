"""Loads the compiled kernels (awing_ext._C), which register the torch.ops.awing_ext ops.

There is no silent fallback: if the extension did not build or does not match the installed
torch, importing awing_ext fails with a message that says how to rebuild it.
"""
import torch  # noqa: F401  (the extension links against the already-loaded torch)

try:
    from . import _C
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "awing_ext: the compiled extension awing_ext._C could not be loaded "
        f"({exc}). Build it against the torch you run with: "
        "`pip install --no-build-isolation .` in the awing source tree."
    ) from exc


def build_info() -> dict:
    """Which backends were compiled: {'cpu', 'cuda', 'cuda_version', 'torch_version', 'cpu_capability'}."""
    return dict(_C.build_info())


def _check_torch_version() -> None:
    built = build_info()["torch_version"]
    if built.split("+")[0] != torch.__version__.split("+")[0]:
        raise ImportError(
            f"awing_ext was built against torch {built} but torch {torch.__version__} is installed; "
            "rebuild with `pip install --no-build-isolation .`"
        )


_check_torch_version()
ops = torch.ops.awing_ext
MAX_KERNEL_SIZE = int(_C.MAX_KERNEL_SIZE)  # largest dilation window of the loss and weight_map
