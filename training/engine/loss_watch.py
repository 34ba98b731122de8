"""What a training step's loss stops a run for, and the one line that says why.

* A non-finite loss stops the run at the next check, and no checkpoint is written after it. The
  steps' losses stay on the device (add) and are checked together, with one host sync
  (check_pending), at every --log-every step, at each epoch's end, at --max-steps and before every
  checkpoint: as nanoGPT syncs only at its log interval, a GPU is never stalled for a host
  round-trip per step. The weights in memory may have taken up to --log-every steps from the bad
  loss on (its own included), but none of them is saved. The line names the first non-finite step, the last checkpoint only when there is one,
  and the options that make a loss overflow: the loss's (a value float32 cannot hold at every
  pixel: loss_ranges.py refuses the foreseeable ones), the learning rate, and autocast where it
  is on.
* A loss of exactly 0 for ZERO_LOSS_STEPS steps in a row stops the run too: nothing is learned
  (the loss options make every pixel's loss underflow float32, e.g. a smooth-l1 beta so large
  that 0.5 d^2 / beta vanishes for the model's errors).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import List, Optional, Tuple

import torch

from .criterion import describe_loss

__all__ = ["LossStop", "NonFiniteLoss", "ZeroLoss", "LossWatch", "ZERO_LOSS_STEPS"]

# A batch's loss is exactly 0 legitimately only when no landmark in it is visible (every target
# weight 0), which 20 batches in a row of real data do not do; 20 steps are also few enough that
# a run that learns nothing stops within its first minutes (the default log interval is 10).
ZERO_LOSS_STEPS = 20


class LossStop(RuntimeError):
    """The loss stopped the run (train reports it as one error line, exit 2)."""


class NonFiniteLoss(LossStop):
    pass


class ZeroLoss(LossStop):
    pass


class LossWatch:
    """Each step's loss (the mean over processes, so that every process stops at the same step)
    goes to add(); check_pending() checks those added since its last call, in step order."""

    def __init__(self, args: argparse.Namespace, out: Path, autocast: Optional[str]):
        self.args, self.out, self.autocast = args, Path(out), autocast   # autocast: "bf16", "fp16" or None
        self.zero_steps = 0
        self.pending: List[Tuple[torch.Tensor, int, int]] = []   # (0-dim loss on the device, epoch, step)

    def add(self, value: torch.Tensor, epoch: int, step: int) -> None:
        """Keeps a step's loss, a 0-dim tensor on the device, for the next check: no host sync."""
        self.pending.append((value, epoch, step))

    def check_pending(self) -> Optional[float]:
        """One host sync for every loss added since the last call: check() each, in step order.
        Returns the last one's value (None when nothing was added)."""
        if not self.pending:
            return None
        pending, self.pending = self.pending, []
        values = torch.stack([value for value, _, _ in pending]).tolist()
        for value, (_, epoch, step) in zip(values, pending):
            self.check(value, epoch, step)
        return values[-1]

    def check(self, value: float, epoch: int, step: int) -> None:
        if not math.isfinite(value):
            raise NonFiniteLoss(f"non-finite loss {value} at epoch {epoch} step {step}: stopped without writing a "
                                f"checkpoint ({self._last_checkpoint()}). {self._causes()}")
        self.zero_steps = self.zero_steps + 1 if value == 0.0 else 0
        if self.zero_steps >= ZERO_LOSS_STEPS:
            raise ZeroLoss(f"the loss was exactly 0 for {ZERO_LOSS_STEPS} steps in a row (epoch {epoch}, step "
                           f"{step}): nothing is learned; the loss options make every pixel's loss underflow "
                           f"float32: {describe_loss(self.args)}. Stopped without writing a checkpoint "
                           f"({self._last_checkpoint()})")

    def _last_checkpoint(self) -> str:
        last = self.out / "last.pt"
        return f"the last one is {last}" if last.is_file() else "none was written before it"

    def _causes(self) -> str:
        causes = [f"the loss options ({describe_loss(self.args)}: a value that overflows float32 somewhere)",
                  f"the learning rate (--lr {self.args.lr:g}: try a lower one)"]
        if self.autocast:
            causes.append(f"autocast (--amp {self.autocast}: try --amp none)")
        return f"Check {', '.join(causes[:-1])} or {causes[-1]}"
