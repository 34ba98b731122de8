"""Running an ablation's train runs: one `python -m training.train` subprocess per variant x seed.

Each run has its folder, <out>/<variant>/seed-<s>/, and is started as

    python -m training.train --config <out>/<variant>/options.json --seed s --out <folder> --resume auto

so a run killed half-way continues from its last.pt when the ablation is started again (train's
``--resume auto``: <out>/last.pt if it exists, a fresh start otherwise), and a finished run (its
results.json readable: results.py) is not started at all. A run whose results.json is unreadable
is started the same way when it has a best.pt (resumed at its end, train only runs the final test
again, from best.pt), and with ``--overwrite`` instead of ``--resume auto`` when it has none (run
again from the start). The run's stdout and stderr are appended to <folder>/train.log. A run that
fails is reported with the tail of its log; the others go on. With --jobs J, J runs train at once
(threads here, each waiting on its train process).

Stopping: each train process runs in a session of its own, so a Ctrl-C at the terminal reaches the
ablation alone; the ablation (signals.py) sets the `stop` event, and each thread then sends its
train process one SIGINT (train stops as on Ctrl-C: its last.pt kept, its lock released, exit
130), waits GRACE_SECONDS for it, then kills it, and no further run starts.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from .grid import Grid
from .results import RESULTS_NAME, is_finished, load_results

__all__ = ["RunSpec", "RunOutcome", "plan_runs", "write_variant_options", "is_finished", "next_step",
           "train_command", "run_one", "run_all", "LOG_NAME", "TAIL_LINES", "GRACE_SECONDS"]

LOG_NAME = "train.log"
TAIL_LINES = 15
INTERRUPTED = (130, -2)   # train's exit status after a Ctrl-C, or killed by SIGINT
# how long a train process has to stop after its SIGINT before it is killed: train stops at its
# next Python instruction (a step of the paper preset on a CPU takes seconds), and a checkpoint
# write in progress finishes first (checkpoint.py); a kill leaves a stale lock the next start replaces
GRACE_SECONDS = 20
POLL_SECONDS = 0.2        # how often a waiting thread looks at the stop event
PROJECT_ROOT = Path(__file__).resolve().parents[2]   # the folder holding the training package


@dataclass(frozen=True)
class RunSpec:
    """One train run of the ablation."""
    variant: str
    seed: int
    folder: Path
    options_file: Path

    @property
    def name(self) -> str:
        return f"{self.variant}/seed-{self.seed}"


@dataclass(frozen=True)
class RunOutcome:
    """What became of a run: "done" (trained now), "skipped" (finished before), "failed",
    "interrupted" (stopped while it ran: the same command continues it) or "cancelled" (not started:
    the ablation was stopped)."""
    spec: RunSpec
    status: str
    seconds: float = 0.0
    returncode: Optional[int] = None
    tail: str = ""


def plan_runs(grid: Grid, out: Path) -> List[RunSpec]:
    """The runs, variant by variant in grid order, seeds in order."""
    out = Path(out)
    return [RunSpec(v.name, s, out / v.name / f"seed-{s}", out / v.name / "options.json")
            for v in grid.variants for s in grid.seeds]


def write_variant_options(grid: Grid, out: Path) -> None:
    """<out>/<variant>/options.json: the variant's merged train options, the runs' --config file."""
    for variant in grid.variants:
        folder = Path(out) / variant.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "options.json").write_text(json.dumps(variant.options, indent=2) + "\n")


def next_step(folder: Path) -> Tuple[str, str]:
    """What starting the run in `folder` does now, and a note saying so: ("skip", "") when it is
    finished, ("train", "training"), or for an unreadable results.json ("evaluate", ...) with a
    best.pt and ("rerun", ...) without one."""
    data, unreadable = load_results(folder)
    if data is not None:
        return "skip", ""
    if unreadable is None:
        return "train", "training"
    if (Path(folder) / "best.pt").is_file():
        return "evaluate", f"its {RESULTS_NAME} is unreadable ({unreadable}): evaluating its best.pt again"
    return "rerun", f"its {RESULTS_NAME} is unreadable ({unreadable}) and it has no best.pt: training it again"


def train_command(spec: RunSpec, workers: Optional[int] = None, python: str = sys.executable,
                  fresh: bool = False) -> List[str]:
    """train's command line for the run: --resume auto, or with `fresh` --overwrite (from the start)."""
    command = [python, "-m", "training.train", "--config", str(spec.options_file), "--seed", str(spec.seed),
               "--out", str(spec.folder), *(["--overwrite"] if fresh else ["--resume", "auto"])]
    return command + (["--workers", str(workers)] if workers is not None else [])


def _environment(jobs: int) -> dict:
    """The runs' environment: the project importable; with several jobs at once, each run's torch
    threads shared out among the CPUs (unless OMP_NUM_THREADS is set), so they do not oversubscribe."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if jobs > 1 and "OMP_NUM_THREADS" not in env:
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cpus = os.cpu_count() or 1
        env["OMP_NUM_THREADS"] = str(max(1, cpus // jobs))
    return env


def log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _wait(process: subprocess.Popen, stop: Optional[threading.Event]) -> int:
    """The exit status of `process`; once `stop` is set, SIGINT to it, and SIGKILL if it has not
    ended GRACE_SECONDS later."""
    if stop is None:
        return process.wait()
    while process.poll() is None and not stop.wait(POLL_SECONDS):
        pass
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def run_one(spec: RunSpec, workers: Optional[int] = None, env: Optional[dict] = None,
            stop: Optional[threading.Event] = None) -> RunOutcome:
    """Runs (or continues, or evaluates again: next_step) one train run, its output appended to
    <folder>/train.log; `stop` set stops it (module docstring)."""
    step, note = next_step(spec.folder)
    if step == "skip":
        return RunOutcome(spec, "skipped")
    spec.folder.mkdir(parents=True, exist_ok=True)
    log_path = spec.folder / LOG_NAME
    command = train_command(spec, workers, fresh=step == "rerun")
    t0 = time.perf_counter()
    with open(log_path, "a", encoding="utf-8") as log:
        if step != "train":
            log.write(f"=== ablation: {note}\n")
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} ablation: {' '.join(command)}\n")
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env if env is not None else _environment(1), start_new_session=True)
        code = _wait(process, stop)
    seconds = time.perf_counter() - t0
    if code == 0 and is_finished(spec.folder):
        return RunOutcome(spec, "done", seconds, code)
    if code in INTERRUPTED or code != 0 and stop is not None and stop.is_set():
        return RunOutcome(spec, "interrupted", seconds, code, log_tail(log_path))
    if code == 0:   # e.g. a max-steps in the grid stopped it before the test evaluation
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"=== ablation: train exited without writing a readable {RESULTS_NAME} "
                      f"(stopped by max-steps?)\n")
    return RunOutcome(spec, "failed", seconds, code, log_tail(log_path))


def run_all(specs: List[RunSpec], jobs: int = 1, workers: Optional[int] = None,
            report: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
            stop: Optional[threading.Event] = None) -> List[RunOutcome]:
    """Runs `specs`, `jobs` at a time; one progress line per run through `report`. Returns the
    outcomes in the order of `specs`. Setting `stop` (signals.py does on SIGINT/SIGTERM) stops the
    running runs cleanly and starts no further one; so does a run interrupted on its own. A
    KeyboardInterrupt here does the same and is re-raised."""
    env = _environment(jobs)
    lock = threading.Lock()
    finished = [0]
    stop = stop if stop is not None else threading.Event()

    def one(spec: RunSpec) -> RunOutcome:
        if stop.is_set():
            return RunOutcome(spec, "cancelled")
        step, note = next_step(spec.folder)
        if step != "skip":
            with lock:
                report(f"ablation: {spec.name}: {note} ({spec.folder / LOG_NAME})")
        try:
            outcome = run_one(spec, workers, env, stop)
        except KeyboardInterrupt:
            stop.set()
            raise
        if outcome.status == "interrupted":   # stopped, or its train process got a SIGINT of its own
            stop.set()
        with lock:
            finished[0] += 1
            where = f"[{finished[0]}/{len(specs)}] {spec.name}"
            if outcome.status == "skipped":
                report(f"ablation: {where}: finished before, not run again")
            elif outcome.status == "done":
                report(f"ablation: {where}: done in {outcome.seconds:.0f} s")
            elif outcome.status == "interrupted":
                report(f"ablation: {where}: interrupted after {outcome.seconds:.0f} s (the same command continues it)")
            else:
                report(f"ablation: {where}: FAILED (exit {outcome.returncode}) after {outcome.seconds:.0f} s; "
                       f"the end of {spec.folder / LOG_NAME}:\n{_indent(outcome.tail)}")
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one, spec) for spec in specs]
        try:
            return [f.result() for f in futures]
        except KeyboardInterrupt:   # start no further run; the running ones get a SIGINT (_wait)
            stop.set()
            for f in futures:
                f.cancel()
            raise


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
