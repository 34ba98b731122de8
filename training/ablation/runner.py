"""Running an ablation's train runs: one `python -m training.train` subprocess per variant x seed.

Each run has its folder, <out>/<variant>/seed-<s>/, and is started as

    python -m training.train --config <out>/<variant>/options.json --seed s --out <folder> --resume auto

so a run killed half-way continues from its last.pt when the ablation is started again (train's
``--resume auto``: <out>/last.pt if it exists, a fresh start otherwise), and a finished run (its
results.json exists) is not started at all. The run's stdout and stderr are appended to
<folder>/train.log. A run that fails is reported with the tail of its log; the others go on.
With --jobs J, J runs train at once (threads here, each waiting on its train process); Ctrl-C
starts no further run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

from .grid import Grid

__all__ = ["RunSpec", "RunOutcome", "plan_runs", "write_variant_options", "is_finished", "train_command",
           "run_one", "run_all", "LOG_NAME", "TAIL_LINES"]

LOG_NAME = "train.log"
TAIL_LINES = 15
INTERRUPTED = (130, -2)   # train's exit status after a Ctrl-C, or killed by SIGINT
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
    """What became of a run: "done" (trained now), "skipped" (finished before), "failed", or
    "cancelled" (not started: the ablation was interrupted)."""
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


def is_finished(folder: Path) -> bool:
    """A run is finished once train has written its test results."""
    return (Path(folder) / "results.json").is_file()


def train_command(spec: RunSpec, workers: Optional[int] = None, python: str = sys.executable) -> List[str]:
    command = [python, "-m", "training.train", "--config", str(spec.options_file), "--seed", str(spec.seed),
               "--out", str(spec.folder), "--resume", "auto"]
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


def run_one(spec: RunSpec, workers: Optional[int] = None, env: Optional[dict] = None) -> RunOutcome:
    """Runs (or continues) one train run, its output appended to <folder>/train.log."""
    if is_finished(spec.folder):
        return RunOutcome(spec, "skipped")
    spec.folder.mkdir(parents=True, exist_ok=True)
    log_path = spec.folder / LOG_NAME
    command = train_command(spec, workers)
    t0 = time.perf_counter()
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} ablation: {' '.join(command)}\n")
        log.flush()
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env=env if env is not None else _environment(1))
    seconds = time.perf_counter() - t0
    if code == 0 and is_finished(spec.folder):
        return RunOutcome(spec, "done", seconds, code)
    if code == 0:   # e.g. a max-steps in the grid stopped it before the test evaluation
        with open(log_path, "a", encoding="utf-8") as log:
            log.write("=== ablation: train exited without writing results.json (stopped by max-steps?)\n")
    return RunOutcome(spec, "failed", seconds, code, log_tail(log_path))


def run_all(specs: List[RunSpec], jobs: int = 1, workers: Optional[int] = None,
            report: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> List[RunOutcome]:
    """Runs `specs`, `jobs` at a time; one progress line per run through `report`. Returns the
    outcomes in the order of `specs`. A KeyboardInterrupt starts no further run and is re-raised."""
    env = _environment(jobs)
    lock = threading.Lock()
    finished = [0]
    stop = threading.Event()

    def one(spec: RunSpec) -> RunOutcome:
        if stop.is_set():
            return RunOutcome(spec, "cancelled")
        if not is_finished(spec.folder):
            with lock:
                report(f"ablation: {spec.name}: training ({spec.folder / LOG_NAME})")
        try:
            outcome = run_one(spec, workers, env)
        except KeyboardInterrupt:
            stop.set()
            raise
        if outcome.returncode in INTERRUPTED:   # the run got the terminal's Ctrl-C too
            stop.set()
        with lock:
            finished[0] += 1
            where = f"[{finished[0]}/{len(specs)}] {spec.name}"
            if outcome.status == "skipped":
                report(f"ablation: {where}: finished before, not run again")
            elif outcome.status == "done":
                report(f"ablation: {where}: done in {outcome.seconds:.0f} s")
            elif outcome.returncode in INTERRUPTED:
                report(f"ablation: {where}: interrupted after {outcome.seconds:.0f} s (the same command continues it)")
            else:
                report(f"ablation: {where}: FAILED (exit {outcome.returncode}) after {outcome.seconds:.0f} s; "
                       f"the end of {spec.folder / LOG_NAME}:\n{_indent(outcome.tail)}")
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one, spec) for spec in specs]
        try:
            return [f.result() for f in futures]
        except KeyboardInterrupt:   # Ctrl-C: start no further run (those running got the signal too)
            stop.set()
            for f in futures:
                f.cancel()
            raise


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
