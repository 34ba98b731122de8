"""Checkpoints for tests: an untrained tiny FAN saved the way training.train saves one."""
from pathlib import Path

import torch

from training.core.checkpoint import save_checkpoint
from training.models import build_model


def untrained_tiny_checkpoint(path: Path, **config) -> Path:
    """Saves a tiny FAN (64 px crops, 16 px heatmaps, 68 points) initialised from seed 0 to
    `path`, with the training config evaluate and detect read (synthetic data, seed 0) plus
    `config`; returns path."""
    torch.manual_seed(0)
    model = build_model("tiny")
    save_checkpoint({"model": model.state_dict(), "model_config": dict(vars(model.config)),
                     "config": {"dataset": "synthetic", "seed": 0, **config}}, path)
    return path
