"""What every command-line entry point shares: argument types that validate numbers up front,
and `run`, which turns an exception into one line a person reads.

    python -m training.train --batch-size 0     # error: argument --batch-size: must be an integer >= 1, got 0
    python -m training.train --dataset 300w     # error: dataset '300w' needs data_root (--data-root): ...

`run(main)` prints ``error: <message>`` (and where to look for more) on stderr and exits 2 for
errors of the user's making (bad files, options, data); ``--debug`` anywhere on the command line,
or AWING_DEBUG=1, shows the full traceback instead. The functions themselves (train.main, ...)
raise as usual, so code that calls them gets the exceptions.
"""
import argparse
import os
import sys
import traceback
from typing import Callable, List, Optional

__all__ = ["int_at_least", "float_above", "float_at_least", "float_in", "fraction", "run"]


def int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value
    return parse


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
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - this is the place that reports them
        if debug:
            traceback.print_exc()
        else:
            kind = "" if isinstance(exc, (ValueError, OSError, RuntimeError)) else f"{type(exc).__name__}: "
            print(f"error: {kind}{exc}\n(run again with --debug for the traceback)", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0
