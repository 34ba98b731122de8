"""Train a face-alignment model (the FAN by default, or --model hrnet-w18|unet|dla34|timm:NAME) with the
Adaptive Wing loss (or --loss wing|mse|l1|smooth-l1|focal).

    python -m training.train                      # built-in synthetic faces, small preset, CPU demo
    python -m training.train --preset paper --device cuda --amp bf16 ...

Data workers only decode, warp and jitter images (training/data/transforms.py); heatmap,
boundary and loss-map targets are rendered on the training device from the landmark batch by
awing_ext's kernels, and the loss is an awing_ext fused heatmap loss summed over the stacks
(training/engine/criterion.py, with the optional integral-regression term).

The run folder (--out) gets: config.json (every option), last.pt (resumable, written atomically
every --checkpoint-every steps and at each epoch end), best.pt (best validation NME),
metrics.jsonl (one JSON object per logged step / epoch; TensorBoard events too if tensorboard is
installed), and after the final test evaluation results.json, ced.png and predictions.png.

Reproducibility: the model is initialised from --seed, the epoch's sample order from
(seed, epoch) and every augmentation from (seed, epoch, index), so `--resume` after a kill at any
moment (even SIGKILL) replays exactly what the uninterrupted run would have done.

One run per folder (training/engine/run_folder.py): a run holds <out>/.lock while it runs; a folder that
already holds a run is refused unless --resume continues it or --overwrite starts it afresh. A
resumed run takes its options from the checkpoint: only RESUMABLE ones may be given with other
values (the others must match, an error names them), so config.json and the checkpoints record
what the run really does.
"""
import argparse
import os
import sys
import time
from pathlib import Path
from typing import Optional

from .core.cli import UsageError, run
from .core.checkpoint import load_checkpoint
from .engine.distributed import shutdown
from .eval.protocol import format_report
from .train_options import parse_args, parse_options, resume_options  # noqa: F401  (parse_args: the command's parser)
from .engine.trainer import InitCheckpointError, Trainer, final_test
from .engine.loss_watch import LossStop
from .engine.run_folder import (RunFolderError, RunLock, default_run_folder, holds_a_run, remove_run_outputs,
                                remove_stale_temp_files)
from .core.runtime import keep_freed_memory, resolve_device


def resume_path(args: argparse.Namespace, out: Path) -> Optional[Path]:
    """The checkpoint --resume names: a path, or with "auto" <out>/last.pt when it exists."""
    if not args.resume:
        return None
    path = out / "last.pt" if args.resume == "auto" else Path(args.resume)
    if args.resume == "auto" and not path.exists():
        return None
    return path


def open_run_folder(args: argparse.Namespace, given: set, main_process: bool, lock: RunLock) -> tuple:
    """Before anything is built: the folder's lock (main process), its leftovers, the refusal to
    clobber a run, and the checkpoint to resume with `args` made to agree with it. Returns
    (checkpoint state or None, its path)."""
    out = Path(args.out)
    if main_process:
        lock.acquire()
        if lock.note:
            print(f"awing: {out}: {lock.note}", file=sys.stderr)
        removed = remove_stale_temp_files(out)
        if removed:
            print(f"awing: {out}: removed {len(removed)} temporary file(s) of an interrupted checkpoint write",
                  file=sys.stderr)
    path = resume_path(args, out)
    state = None
    if path is not None:
        state = load_checkpoint(path, map_location="cpu")
        for note in resume_options(args, given, state, str(path)):
            if main_process:
                print(f"awing: {note}", file=sys.stderr)
    elif main_process and holds_a_run(out):
        if args.overwrite:
            removed = remove_run_outputs(out)
            print(f"awing: --overwrite: removed the previous run's {', '.join(removed)} from {out}", file=sys.stderr)
        elif args.resume != "auto":   # auto without a last.pt: a run killed before its first checkpoint restarts
            raise RunFolderError(f"{out} already holds a training run: continue it with --resume auto, train into "
                                 f"a new --out, or start it afresh with --overwrite (deletes its checkpoints and "
                                 f"results)")
    return state, path


def main(argv=None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, given = parse_options(argv)
    resolve_device(args.device)   # an unusable --device is an error before anything is created
    if args.overwrite and args.resume:
        raise ValueError("--overwrite starts the run afresh, --resume continues it: give one of them")
    keep_freed_memory()
    args.out = str(args.out or default_run_folder())
    main_process = int(os.environ.get("RANK", "0")) == 0   # under torchrun only rank 0 takes the lock
    lock = RunLock(Path(args.out))
    created = not Path(args.out).exists()
    try:
        state, path = open_run_folder(args, given, main_process, lock)
        try:
            trainer = Trainer(args, state, str(path))
        except InitCheckpointError as exc:
            raise UsageError(str(exc)) from exc
        del state
        if main_process and path is not None:
            print(f"resumed from {path} at epoch {trainer.progress.epoch}, step {trainer.progress.step}",
                  file=sys.stderr)
        return _train(args, trainer)
    finally:
        lock.release()
        if created and main_process and Path(args.out).is_dir() and not any(Path(args.out).iterdir()):
            Path(args.out).rmdir()   # a run that stopped before writing anything leaves no empty folder


def _train(args: argparse.Namespace, trainer: "Trainer") -> dict:
    main_process = trainer.dist.is_main
    try:
        if main_process:
            print(f"awing: training {args.preset} on {args.dataset} ({trainer.device}"
                  f"{f', {trainer.dist.world_size} processes' if trainer.dist.enabled else ''}); "
                  f"run folder {trainer.out}", file=sys.stderr)
        t0 = time.perf_counter()
        try:
            trainer.fit()
        except LossStop as exc:   # a non-finite loss, or one that stays 0
            raise UsageError(str(exc)) from exc
        if trainer.progress.epoch < args.epochs:  # --max-steps
            if main_process:
                print(f"stopped at step {trainer.progress.step} (--max-steps); resume with "
                      f"--resume {trainer.out / 'last.pt'}")
            return {}
        if not main_process:
            return {}
        report = final_test(trainer)
        print(f"\nTest split ({report['samples']} images, NME normalised by the {report['normaliser']}), "
              f"trained in {time.perf_counter() - t0:.0f} s:\n")
        print(format_report(report))
        print(f"\nrun folder: {trainer.out} (best.pt, last.pt, metrics.jsonl, results.json, ced.png, predictions.png)")
        return report
    finally:
        shutdown(trainer.dist)


if __name__ == "__main__":
    sys.exit(run(main))
