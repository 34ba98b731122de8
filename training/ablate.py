"""Run an ablation: every variant of a grid x every seed as one train run, then the table.

    python -m training.ablate configs/ablation/losses.toml                       # 2 seeds, runs/ablation/losses
    python -m training.ablate configs/ablation/components.toml --seeds 3 --jobs 2 --out runs/components
    python -m training.ablate configs/ablation/losses.toml --report-only         # the table of what finished

The grid file (training/ablation/grid.py) holds [base] train options and [variants.NAME]
overrides; all of it is checked before anything runs. Each run trains into
<out>/<variant>/seed-<s>/ (its output in train.log there) with ``--resume auto``: starting the
same command again after a kill continues the unfinished runs and skips the finished ones.
At the end the command prints a Markdown table (mean +- std over seeds, the mean-shape baseline)
and writes <out>/ablation.json and <out>/ablation.png. A failed run does not stop the others; the
command then exits 1 naming them. SIGINT (Ctrl-C), SIGTERM or SIGHUP stops the running runs
cleanly (their last.pt kept, their locks released), starts no further one and exits 130 naming
the unfinished runs. A results.json that cannot be read is named, and that run is evaluated (or
run) again at the next start. See docs/ablation.md.
"""
import argparse
import sys
import threading
from pathlib import Path
from typing import List, Optional

from .ablation.grid import ABLATION_FILES, MAX_SEEDS, load_grid
from .ablation.report import collect, format_report, plot_nme, unreadable_results, write_json
from .ablation.runner import LOG_NAME, RunOutcome, plan_runs, run_all, write_variant_options
from .ablation.signals import signal_name, stop_on_signals
from .core.cli import UsageError, int_at_least, int_in, run, worker_count


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.ablate", description=__doc__.split("\n\n")[0],
                                epilog="docs/ablation.md: the grid file, the run folders, the numbers, resuming")
    p.add_argument("grid", help="the grid file (TOML): [base] train options, [variants.NAME] overrides")
    p.add_argument("--seeds", type=int_in(1, MAX_SEEDS), default=None, metavar="N",
                   help=f"seeds 0..N-1 per variant, N at most {MAX_SEEDS} (default: the grid's seeds, else 1)")
    p.add_argument("--out", default=None, metavar="DIR", help="the ablation's folder (default: runs/ablation/<grid name>)")
    p.add_argument("--workers", type=worker_count, default=None, metavar="W",
                   help="train's data-loader --workers for every run (default: the grid's, else train's)")
    p.add_argument("--jobs", type=int_at_least(1), default=1, metavar="J", help="train runs at once (default: 1)")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: the table, ablation.json and ablation.png of the runs that finished")
    p.add_argument("--baseline", default=None, metavar="VARIANT",
                   help="compare the variants with this one instead of the grid's baseline (the report only: "
                        "the runs are the same; with --report-only, e.g. to compare with another variant)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    grid = load_grid(args.grid, seeds=args.seeds, baseline=args.baseline)
    out = Path(args.out or Path("runs") / "ablation" / Path(args.grid).stem)
    specs = plan_runs(grid, out)
    failed = []
    if not args.report_only:
        out.mkdir(parents=True, exist_ok=True)
        write_variant_options(grid, out)
        print(f"ablation: {grid.title}: {len(grid.variants)} variant(s) x {len(grid.seeds)} seed(s) = "
              f"{len(specs)} run(s) in {out}, {args.jobs} at a time", file=sys.stderr)
        stop = threading.Event()
        with stop_on_signals(stop) as received:
            outcomes = run_all(specs, jobs=args.jobs, workers=args.workers, stop=stop)
        if any(o.status in ("interrupted", "cancelled") for o in outcomes):
            raise _stopped(outcomes, signal_name(received[0]) if received else None)
        failed = [o for o in outcomes if o.status == "failed"]
    numbers = collect(grid, out)
    for line in unreadable_results(numbers):
        print(line, file=sys.stderr)
    if not any(r["finished"] for r in numbers["runs"]):
        if args.report_only:
            raise UsageError(f"{out}: no finished runs of {args.grid} (run it without --report-only first)")
    else:
        print(format_report(numbers))
        json_file, plot_file = ABLATION_FILES
        write_json(numbers, grid, ["python", "-m", "training.ablate", *argv], out / json_file)
        plot_nme(numbers, out / plot_file)
        print(f"\nablation folder: {out} (ablation.json, ablation.png, <variant>/seed-<s>/)", file=sys.stderr)
    if failed:
        names = ", ".join(f"{o.spec.name} ({o.spec.folder / LOG_NAME})" for o in failed)
        raise UsageError(f"{len(failed)} of {len(specs)} run(s) failed: {names}; run the same command again to "
                         f"retry them (finished runs are kept)", exit_code=1)
    return 0


def _stopped(outcomes: List[RunOutcome], by: Optional[str]) -> UsageError:
    """The error (exit 130) of an ablation stopped by the signal `by`, or by a run interrupted on
    its own."""
    said = {"interrupted": "stopped while training", "cancelled": "not started", "failed": "failed"}
    unfinished = [f"{o.spec.name} ({said[o.status]})" for o in outcomes if o.status in said]
    cause = f"stopped by {by}" if by else "stopped: a run was interrupted"
    return UsageError(f"{cause}: {len(unfinished)} of {len(outcomes)} run(s) unfinished: {', '.join(unfinished)}; "
                      f"run the same command again to continue them (finished runs are kept)", exit_code=130)


if __name__ == "__main__":
    sys.exit(run(main))
