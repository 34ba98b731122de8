"""Checkpoints: written atomically, read with torch.load(weights_only=True).

A checkpoint holds only tensors, numbers, strings, lists and dicts (model, optimizer, scheduler
and grad-scaler state, epoch/step counters, torch RNG states and the run's config), so it loads
with weights_only=True: opening a checkpoint never runs code from it.
"""
import os
import tempfile
from pathlib import Path
from typing import Union

import torch

from .models import FANConfig, build_model

PathLike = Union[str, Path]


def save_checkpoint(state: dict, path: PathLike) -> None:
    """Writes `state` to `path` via a temporary file in the same folder, fsync and rename, so a
    crash or SIGKILL at any moment leaves either the old checkpoint or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path: PathLike, map_location="cpu") -> dict:
    """Loads a checkpoint written by save_checkpoint; clear errors for missing or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise RuntimeError(f"checkpoint {path} is corrupt or not an awing checkpoint: {exc}") from exc
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise RuntimeError(f"checkpoint {path} is not an awing checkpoint (no model/config entries)")
    return state


def load_model(checkpoint: dict, device: torch.device) -> torch.nn.Module:
    """The model a checkpoint (load_checkpoint's dict) describes, with its weights, in eval mode."""
    model = build_model(FANConfig(**checkpoint["model_config"]))
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval()
