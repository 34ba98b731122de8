"""Helpers of the reliability battery (tests/reliability: issue 17's cases, one file per theme).

Most cases run the commands in this process through training.core.cli.run, which is what
``python -m training.<command>`` does, so the exit status and the stderr a person reads are what
the tests check, without the few seconds each interpreter start costs; the cases that need a
second process (a second run at once, signals, killed parents) start one.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from training.core.cli import run

from . import REPO as ROOT

# a tiny run: 16 faces of 64 px, batches of 8 (2 steps an epoch), small val/test splits
TINY = ["--preset", "tiny", "--workers", "0", "--no-progress", "--batch-size", "8", "--train-samples", "16",
        "--val-samples", "8", "--test-samples", "8", "--log-every", "1"]


def run_cli(main, argv, capsys):
    """(exit status, stdout, stderr) of a command run as `python -m training.<command>` runs it."""
    capsys.readouterr()
    try:
        code = run(main, [str(a) for a in argv])
    except SystemExit as exc:           # argparse's errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *needles):
    """Exit 2 and one ``error:`` line (plus run's hint to use --debug), naming `needles`."""
    assert code == 2, (code, err[-3000:])
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("(run again with --debug")]
    errors = [ln for ln in lines if "error:" in ln]
    assert len(errors) == 1 and len(lines) <= 2, err[-3000:]   # argparse adds its usage line
    assert "Traceback" not in err and "error: error:" not in err, err[-3000:]
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def subprocess_env():
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def start_command(module, *args, cwd, **kwargs):
    """`python -m training.<module> args` in a new process (stdout/stderr to files in cwd)."""
    out = open(Path(cwd) / f"{module}.out", "w")
    err = open(Path(cwd) / f"{module}.err", "w")
    return subprocess.Popen([sys.executable, "-m", f"training.{module}", *map(str, args)], cwd=cwd,
                            env=subprocess_env(), stdout=out, stderr=err, **kwargs)


def wait_for(predicate, timeout, what, proc=None):
    """Polls `predicate` until it holds; fails the test after `timeout` seconds, or as soon as
    `proc` (a process started by start_command) ends first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process ended (status {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)
