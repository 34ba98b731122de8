"""Fixtures of the reliability battery (its helpers: tests/helpers/cli_runs.py)."""
import pytest

from helpers.checkpoints import untrained_tiny_checkpoint


@pytest.fixture(scope="session")
def model_checkpoint(tmp_path_factory):
    """A tiny untrained model's checkpoint (68 points, synthetic data recorded as its dataset)."""
    return untrained_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.pt", test_samples=8, train_samples=8)
