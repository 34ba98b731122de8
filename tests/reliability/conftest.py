"""Fixtures of the reliability battery (its helpers: tests/helpers/cli_runs.py)."""
import pytest
import torch

from training.engine.checkpoint import save_checkpoint
from training.models import build_model


@pytest.fixture(scope="session")
def model_checkpoint(tmp_path_factory):
    """A tiny untrained model's checkpoint (68 points, synthetic data recorded as its dataset)."""
    torch.manual_seed(0)
    model = build_model("tiny")
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_checkpoint({"model": model.state_dict(), "model_config": dict(vars(model.config)),
                     "config": {"dataset": "synthetic", "seed": 0, "test_samples": 8, "train_samples": 8}}, path)
    return path
