"""The loss watch checks the steps' losses in batches, with one host sync per check: every loss
since the last check is looked at, in step order, and the first bad one is named."""
import math

import pytest
import torch

from training.engine.loss_watch import ZERO_LOSS_STEPS, LossWatch, NonFiniteLoss, ZeroLoss
from training.train_options import parse_args


def _watch(tmp_path):
    return LossWatch(parse_args([]), tmp_path, None)   # train's defaults: --loss awing


def test_nothing_added_checks_nothing(tmp_path):
    assert _watch(tmp_path).check_pending() is None


def test_the_last_value_comes_back_and_the_queue_empties(tmp_path):
    watch = _watch(tmp_path)
    for step, value in enumerate([0.5, 0.25, 0.125]):
        watch.add(torch.tensor(value), 0, step)
    assert watch.check_pending() == 0.125
    assert watch.pending == [] and watch.check_pending() is None


def test_the_first_non_finite_step_is_named_even_when_later_ones_are_finite(tmp_path):
    watch = _watch(tmp_path)
    for step, value in enumerate([0.5, math.nan, 0.25, math.inf]):
        watch.add(torch.tensor(value), 1, 10 + step)
    with pytest.raises(NonFiniteLoss, match=r"non-finite loss nan at epoch 1 step 11: .*none was written before it"):
        watch.check_pending()


def test_zeros_across_checks_count_as_one_run(tmp_path):
    """A run of exact zeros split over several checks still stops at its ZERO_LOSS_STEPS-th step."""
    watch = _watch(tmp_path)
    for step in range(ZERO_LOSS_STEPS - 1):
        watch.add(torch.tensor(0.0), 0, step)
        if step % 7 == 6:
            watch.check_pending()
    watch.check_pending()
    watch.add(torch.tensor(0.0), 0, ZERO_LOSS_STEPS - 1)
    with pytest.raises(ZeroLoss, match=rf"exactly 0 for {ZERO_LOSS_STEPS} steps in a row \(epoch 0, step "
                                       rf"{ZERO_LOSS_STEPS - 1}\)"):
        watch.check_pending()


def test_a_non_zero_loss_resets_the_zero_run(tmp_path):
    watch = _watch(tmp_path)
    values = [0.0] * (ZERO_LOSS_STEPS - 1) + [1e-30] + [0.0] * (ZERO_LOSS_STEPS - 1)
    for step, value in enumerate(values):
        watch.add(torch.tensor(value), 0, step)
    assert watch.check_pending() == 0.0
