"""The metrics log of a training run: metrics.jsonl (one JSON object per logged step or epoch) and
TensorBoard events when tensorboard is installed; written by the main process only.

``records`` counts the lines written so far (with those the file already held): a checkpoint
stores it, and a resumed run cuts the file back to it (run_folder.trim_metrics_log), so the steps
it replays appear once. TensorBoard events past the resumed step are purged likewise.
"""
import json
import math
import time
from pathlib import Path
from typing import Optional


def _strict(value):
    """JSON has no NaN/inf: they are written as null (strict parsers reject NaN)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


class RunLog:
    """metrics.jsonl (and TensorBoard events when tensorboard is installed), main process only."""

    def __init__(self, out: Path, enabled: bool, records: int = 0, purge_step: Optional[int] = None):
        self.file = open(out / "metrics.jsonl", "a") if enabled else None
        self.records = records
        self.writer = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.writer = SummaryWriter(str(out / "tensorboard"), purge_step=purge_step)
            except ImportError:
                pass

    def write(self, record: dict) -> None:
        if self.file is None:
            return
        record = {**record, "time": time.time()}
        self.file.write(json.dumps({k: _strict(v) for k, v in record.items()}, allow_nan=False) + "\n")
        self.file.flush()
        self.records += 1
        if self.writer is not None:
            for key, value in record.items():
                if key not in ("epoch", "step", "time"):
                    self.writer.add_scalar(key, value, record["step"])

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.writer is not None:
            self.writer.close()
