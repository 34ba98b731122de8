"""The metrics log of a training run: metrics.jsonl (one JSON object per logged step or epoch) and
TensorBoard events when tensorboard is installed; written by the main process only."""
import json
import time
from pathlib import Path


class RunLog:
    """metrics.jsonl (and TensorBoard events when tensorboard is installed), main process only."""

    def __init__(self, out: Path, enabled: bool):
        self.file = open(out / "metrics.jsonl", "a") if enabled else None
        self.writer = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.writer = SummaryWriter(str(out / "tensorboard"))
            except ImportError:
                pass

    def write(self, record: dict) -> None:
        if self.file is None:
            return
        record = {**record, "time": time.time()}
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.writer is not None:
            for key, value in record.items():
                if key not in ("epoch", "step", "time"):
                    self.writer.add_scalar(key, value, record["step"])

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.writer is not None:
            self.writer.close()
