"""What every command-line entry point shares: argument types that validate numbers up front,
and `run`, which turns an exception into one line a person reads.

    python -m training.train --batch-size 0     # error: argument --batch-size: must be an integer >= 1, got 0
    python -m training.train --dataset 300w     # error: dataset '300w' needs data_root (--data-root): ...

The error style of every command (train, evaluate, detect, export, convert), stated here once:
a command's ``main(argv)`` raises; it never prints an error or exits itself (argparse's own
usage errors aside, which exit 2 as argparse does). ``run(main)`` turns what it raises into one
line on stderr and an exit code:

* ``UsageError``: a request that cannot be carried out as asked (a model and data that do not
  fit, options that contradict each other, a file that cannot be used): ``error: <message>``,
  exit 2 (or the error's ``exit_code``);
* any other exception of the user's making (bad files, options, data): ``error: <message>`` and
  where to look for more, exit 2; ``--debug`` anywhere on the command line, or AWING_DEBUG=1,
  shows the full traceback instead;
* KeyboardInterrupt: ``interrupted``, exit 130.

Code that calls a main function directly gets the exceptions. The message stays one line: an
error raised in a DataLoader worker (which torch re-raises with the worker's whole traceback in
its message) is reported by its own last line.

``strict_json`` is what the commands print and write: JSON without NaN/inf (written as null),
which strict parsers (JSON.parse, jq, Go, Rust) reject.
"""
import argparse
import json
import math
import os
import re
import sys
import traceback
from typing import Callable, List, Optional

__all__ = ["UsageError", "int_at_least", "int_in", "float_above", "float_at_least", "float_in", "fraction", "worker_count",
           "max_workers", "strict_json", "one_line", "run"]


class UsageError(Exception):
    """What a command asked for cannot be done as asked; run() prints ``error: <message>`` and exits
    with `exit_code` (2; 1 where a command documents it, e.g. an export that fails its check)."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def _int(text: str, rule: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer {rule}, got {text!r}") from None


def int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = _int(text, f">= {low}")
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value
    return parse


def int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = _int(text, f"in [{low}, {high}]")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer in [{low}, {high}], got {value}")
        return value
    return parse


def max_workers() -> int:
    """The most data-loader workers an option accepts: 4 per CPU this process may use, at least 16.
    Each worker is a whole process (a few hundred MB): far more than that only exhausts memory."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(16, 4 * cpus)


def worker_count(text: str) -> int:
    """--workers: an integer in [0, max_workers()]."""
    high = max_workers()
    value = _int(text, f"in [0, {high}]")
    if not 0 <= value <= high:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {high}] (each worker is a process; at most 4 "
                                         f"per CPU core, at least 16 allowed), got {value}")
    return value


def _float(text: str, rule: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number {rule}, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number {rule}, got {text}")
    return value


def float_above(low: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = _float(text, f"> {low:g}")
        if not value > low:
            raise argparse.ArgumentTypeError(f"must be a number > {low:g}, got {value:g}")
        return value
    return parse


def float_at_least(low: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = _float(text, f">= {low:g}")
        if value < low:
            raise argparse.ArgumentTypeError(f"must be a number >= {low:g}, got {value:g}")
        return value
    return parse


def float_in(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = _float(text, f"in [{low:g}, {high:g}]")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a number in [{low:g}, {high:g}], got {value:g}")
        return value
    return parse


def fraction(text: str) -> float:
    value = _float(text, "in [0, 1]")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {value:g}")
    return value


def _strict(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj


def strict_json(obj, **kwargs) -> str:
    """json.dumps with NaN and +-inf written as null: always strict JSON."""
    return json.dumps(_strict(obj), allow_nan=False, **kwargs)


def one_line(exc: BaseException) -> str:
    """The message of `exc` as one line for ``error: ...``: for an exception re-raised from a
    DataLoader worker, the worker's own exception (its traceback's last line, without the class
    path); OpenCV's errors (class ``cv2.error``) as ``OpenCV: ...``."""
    text = str(exc)
    lines = text.splitlines()
    if "Original Traceback (most recent call last):" in text:
        tail = []
        for line in reversed(lines):
            if not line.strip():
                continue
            if line.startswith(" "):
                break
            tail.insert(0, line.strip())
        message = " ".join(tail) or lines[0]
        head, sep, rest = message.partition(": ")
        if sep and "." in head and " " not in head:   # "training.data.io.DataError: ..."
            message = rest
        return f"{message} (in a data-loader worker)"
    if type(exc).__module__.startswith("cv2"):   # "OpenCV(4.x) file.cpp:12: error: (-2:Unspecified error) what"
        found = re.search(r"error: \(-?\d+:[^)]*\) (.*)", text)
        return f"OpenCV: {(found.group(1) if found else text).strip()}"
    message = " ".join(ln.strip() for ln in lines if ln.strip())
    if not message:   # e.g. a MemoryError: its name is all there is to say
        return type(exc).__name__
    kind = "" if isinstance(exc, (ValueError, OSError, RuntimeError)) else f"{type(exc).__name__}: "
    return kind + message


def run(main: Callable[[Optional[List[str]]], object], argv: Optional[List[str]] = None) -> int:
    """Runs an entry point's main(argv) for a person at a terminal (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("AWING_DEBUG") == "1"
    argv = [a for a in argv if a != "--debug"]
    try:
        result = main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - this is the place that reports them
        if debug:
            traceback.print_exc()
        else:
            print(f"error: {one_line(exc)}\n(run again with --debug for the traceback)", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0
