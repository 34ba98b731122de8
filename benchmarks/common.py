"""Helpers shared by the benchmarks: devices, wall-clock timing, environment, tables and JSON.

Timing model (see `time_ms`): every sample is one call of the benchmarked function after a few
untimed warm-up calls: on the CPU, time.perf_counter around the call; on CUDA, CUDA events
recorded on the current stream before and after it (the GPU's time from the first launch to the
last kernel's end, launch gaps included, without the host's synchronisation latency, which is
~10 us and would swamp kernels of tens of microseconds). The median is the headline number; all
samples are kept for the JSON output.
"""
import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from training.core.runtime import keep_freed_memory

# Every implementation benchmarked reuses freed memory instead of faulting fresh pages in on
# each call (see training/core/runtime.py): otherwise slow page faults on some VMs, not the
# kernels, decide the numbers.
MALLOC_KEEPS_FREED_MEMORY = keep_freed_memory()


def available_devices() -> list:
    """'cpu', plus 'cuda' when torch sees a GPU."""
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def add_common_arguments(parser: argparse.ArgumentParser, default_json: str, quick_json: str) -> None:
    """The options every benchmark takes: --devices, --repeat, --warmup, --json, --quick."""
    parser.add_argument("--devices", nargs="+", choices=["cpu", "cuda"], default=None,
                        help="devices to run on (default: every device present)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed runs per measurement; the median is reported (default: 30, 5 with --quick)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed runs before each measurement (default: 3, 1 with --quick)")
    parser.add_argument("--json", type=Path, default=None,
                        help=f"where to write the raw results (default: {default_json}; {quick_json} with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: few repeats and the smallest case only; explicit options still win")


def resolve_devices(requested: Optional[Sequence[str]]) -> list:
    """The requested devices (default: all present); exits with a message if one is missing."""
    present = available_devices()
    devices = list(dict.fromkeys(requested)) if requested else present
    missing = [d for d in devices if d not in present]
    if missing:
        raise SystemExit(f"error: requested device(s) {missing} not available (present: {present})")
    return devices


def synchronize(device: str) -> None:
    """Wait for all queued work on `device` (a no-op on the CPU, where ops are synchronous)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


@dataclass
class Timing:
    """Wall-clock samples of one measurement, in milliseconds."""
    samples_ms: list

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    def to_dict(self) -> dict:
        return {"median_ms": self.median_ms, "min_ms": min(self.samples_ms),
                "max_ms": max(self.samples_ms), "samples_ms": self.samples_ms}


def time_ms(fn: Callable[[], object], device: str, *, repeat: int, warmup: int,
            setup: Optional[Callable[[], None]] = None) -> Timing:
    """Time `fn()` `repeat` times after `warmup` untimed calls; `setup()` runs untimed before each call."""
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    samples = []
    cuda = device.startswith("cuda")
    for _ in range(repeat):
        if setup is not None:
            setup()
        synchronize(device)
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end))
        else:
            start_s = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start_s) * 1e3)
    return Timing(samples)


def ratio(numerator: Optional[float], denominator: Optional[float]) -> Optional[float]:
    """numerator / denominator, or None when either is missing."""
    if numerator is None or denominator is None:
        return None
    return numerator / denominator


def fmt(value: Optional[float], spec: str) -> str:
    """format(value, spec), or 'n/a' for a missing value."""
    return "n/a" if value is None else format(value, spec)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else whatever `platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict:
    """Software and hardware the numbers were taken on."""
    cuda = torch.cuda.is_available()
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_runtime": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
    }


def format_environment(env: dict) -> str:
    """A few human-readable lines summarising `environment()`."""
    lines = [f"torch {env['torch']} (Python {env['python']}) on {env['platform']}",
             f"CPU: {env['cpu_model']}, {env['cpu_count']} logical cores, torch threads: {env['torch_threads']}"]
    lines.append(f"GPU: {env['gpu']} (CUDA runtime {env['cuda_runtime']})" if env["gpu"] else "GPU: none")
    return "\n".join(lines)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table with columns padded to a common width."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                     + [line(r) for r in rows])


def write_json(path: Path, payload: dict) -> None:
    """Write `payload` as indented JSON, creating the parent directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
