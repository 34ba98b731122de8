"""SIGINT, SIGTERM and SIGHUP to the ablation process: stop its runs cleanly, then report.

Python's default would raise KeyboardInterrupt (SIGINT) or end the process at once (SIGTERM,
SIGHUP), leaving its train processes running on, each holding its folder's lock (issue 29: a
SIGINT to ablate alone printed nothing and the run trained on). Inside stop_on_signals() they set
the runner's stop event instead: each running train process gets a SIGINT and ends as on Ctrl-C
(runner.py), no further run starts, and ablate reports the unfinished runs and exits 130. The
train processes run in sessions of their own (runner.py), so a Ctrl-C at the terminal reaches the
ablation alone, and each run gets exactly one SIGINT. Only the main thread can install handlers:
elsewhere the block runs with the process's handlers unchanged.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator, List

__all__ = ["STOP_SIGNALS", "stop_on_signals", "signal_name"]

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[List[int]]:
    """Within the block, STOP_SIGNALS set `stop` and are appended to the yielded list."""
    received: List[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum, frame):
        received.append(signum)
        stop.set()

    previous = {number: signal.signal(number, handler) for number in STOP_SIGNALS}
    try:
        yield received
    finally:
        for number, old in previous.items():
            signal.signal(number, old if old is not None else signal.SIG_DFL)


def signal_name(number: int) -> str:
    return signal.Signals(number).name
