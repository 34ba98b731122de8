"""Train a FAN face-alignment model with the Adaptive Wing loss.

    python -m training.train                      # built-in synthetic faces, small preset, CPU demo
    python -m training.train --preset paper --device cuda --amp bf16 ...

Data workers only decode, warp and jitter images (training/data/transforms.py); heatmap,
boundary and loss-map targets are rendered on the training device from the landmark batch by
awing_ext's kernels, and the loss is awing_ext's fused AdaptiveWingLoss summed over the stacks.

The run folder (--out) gets: config.json (every option), last.pt (resumable, written atomically
every --checkpoint-every steps and at each epoch end), best.pt (best validation NME),
metrics.jsonl (one JSON object per logged step / epoch; TensorBoard events too if tensorboard is
installed), and after the final test evaluation results.json, ced.png and predictions.png.

Reproducibility: the model is initialised from --seed, the epoch's sample order from
(seed, epoch) and every augmentation from (seed, epoch, index), so `--resume` after a kill at any
moment (even SIGKILL) replays exactly what the uninterrupted run would have done.

One run per folder (training/run_folder.py): a run holds <out>/.lock while it runs; a folder that
already holds a run is refused unless --resume continues it or --overwrite starts it afresh. A
resumed run takes its options from the checkpoint: only RESUMABLE ones may be given with other
values (the others must match, an error names them), so config.json and the checkpoints record
what the run really does.
"""
import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Optional

import torch
from tqdm import tqdm

import awing_ext
from awing_ext.schemes import get_scheme

from .cli import float_above, float_at_least, float_in, fraction, int_at_least, int_in, run, worker_count
from . import metrics
from .checkpoint import check_finite_weights, fit_state_dict, load_checkpoint, load_model, save_checkpoint
from .config import RUN_ONLY, RaisingParser, config_path_in, config_to_argv, load_config
from .codec import HeatmapCodec
from .data.registry import DATASETS, build_dataset
from .data.transforms import AugmentConfig
from .distributed import all_reduce_sum, init_distributed, shutdown
from .evaluation import evaluate_split, format_report, run_evaluation, train_crop_landmarks
from .models import PRESETS, FANConfig, build_model
from .models.inputs import model_input
from .run_folder import RunFolderError, RunLock, holds_a_run, remove_run_outputs, remove_stale_temp_files, \
    trim_metrics_log
from .run_log import RunLog
from .runtime import keep_freed_memory, resolve_device, worker_init

# options a resumed run may give with another value than its checkpoint's (the others would make
# the checkpoint's optimiser, schedule, data or model disagree with config.json)
RESUMABLE = ("epochs", "max_steps", "workers", "log_every", "checkpoint_every", "no_progress", "device", "data_root",
             "compile", "channels_last")
PER_INVOCATION = ("max_steps",)   # not inherited from the checkpoint when not given again


def build_parser(parser_class=argparse.ArgumentParser, **kwargs) -> argparse.ArgumentParser:
    """train's options (parser_class: config.RaisingParser checks a --config file's values)."""
    p = parser_class(prog="python -m training.train", description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.ArgumentDefaultsHelpFormatter, **kwargs)
    p.add_argument("--config", default=None, metavar="FILE",
                   help="a recipe (configs/*.toml) or a run's config.json to repeat it; options given on "
                        "the command line override its values (training/config.py)")
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="synthetic", choices=DATASETS, help="training data")
    g.add_argument("--data-root", default=None, help="dataset folder (real datasets; see README)")
    g.add_argument("--limit", type=int_at_least(1), default=None, help="real datasets: use the first N images of each split")
    g.add_argument("--skip-bad", action=argparse.BooleanOptionalAction, default=False,
                   help="skip (and log, count) corrupt or missing images and malformed annotations instead of stopping")
    g.add_argument("--crop", default="landmarks", choices=("landmarks", "detector"),
                   help="crop around the landmarks' box, or the dataset's face box (wflw, cofw)")
    g.add_argument("--train-split", default=None,
                   help="split to train on (default: train for synthetic; train-val for real datasets, so "
                        "that the val split that picks best.pt is held out; 'train' is the paper's full set)")
    g.add_argument("--train-samples", type=int_at_least(1), default=2400, help="synthetic: training faces")
    g.add_argument("--val-samples", type=int_at_least(1), default=256, help="synthetic: validation faces")
    g.add_argument("--test-samples", type=int_at_least(1), default=512, help="synthetic: test faces")
    g.add_argument("--workers", type=worker_count, default=1,
                   help="data-loader worker processes (at most 4 per CPU core, at least 16 allowed)")
    g.add_argument("--no-augment", action="store_true", help="train on centred crops only")
    g.add_argument("--augment", dest="no_augment", action="store_false",
                   help="augment (the default): undoes a config file's no-augment")
    g = p.add_argument_group("augmentation (training/data/transforms.py; paper values in configs/300w.toml)")
    g.add_argument("--rotate", type=float_at_least(0), default=30.0, help="max rotation, degrees (paper: 50)")
    g.add_argument("--scale-jitter", type=float_in(0, 0.9), default=0.15,
                   help="max relative change of the crop side (paper: 0.15)")
    g.add_argument("--translate", type=float_in(0, 1), default=0.08,
                   help="max shift of the crop centre, fraction of the crop side (paper: 25 px of 256, 0.0977)")
    g.add_argument("--flip", type=fraction, default=0.5, help="horizontal flip probability (paper: 0.5)")
    g.add_argument("--occlusion", type=fraction, default=0.3, help="occluding patch probability")
    g.add_argument("--blur", type=fraction, default=0.0, help="Gaussian blur probability")
    g.add_argument("--blur-sigma", type=float_above(0), default=2.0, help="largest blur sigma, crop pixels")
    g.add_argument("--noise", type=fraction, default=0.0, help="Gaussian pixel noise probability")
    g.add_argument("--noise-std", type=float_in(0, 1), default=0.05, help="largest noise std, fraction of 255")
    g.add_argument("--brightness", type=float_in(0, 1), default=0.25, help="max brightness shift, fraction of 255")
    g.add_argument("--contrast", type=float_in(0, 1), default=0.25, help="max contrast change, relative")
    g = p.add_argument_group("model")
    g.add_argument("--preset", default="small", choices=sorted(PRESETS), help="model preset")
    g.add_argument("--stacks", type=int_at_least(1), default=None, help="override the preset's hourglass stacks")
    g.add_argument("--width", type=int_at_least(8), default=None, help="override the preset's channel width")
    g.add_argument("--depth", type=int_at_least(1), default=None, help="override the preset's hourglass depth")
    g.add_argument("--sigma", type=float_above(0), default=1.0, help="Gaussian sigma of landmark heatmaps (heatmap px)")
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int_at_least(1), default=8, help="passes over the training set")
    g.add_argument("--batch-size", type=int_at_least(1), default=16, help="images per step and per process")
    g.add_argument("--optimizer", default="adamw", choices=("rmsprop", "adamw"),
                   help="rmsprop is the paper's (use --lr 1e-4 --weight-decay 1e-5)")
    g.add_argument("--lr", type=float_above(0), default=2e-3, help="initial learning rate")
    g.add_argument("--weight-decay", type=float_at_least(0), default=1e-5, help="weight decay")
    g.add_argument("--lr-milestones", type=int_at_least(1), nargs="*", default=None,
                   help="epochs at which the learning rate is multiplied by --lr-gamma "
                        "(default: 75%% and 90%% of --epochs)")
    g.add_argument("--lr-gamma", type=float_above(0), default=0.2, help="step-decay factor")
    g.add_argument("--amp", default="auto", choices=("auto", "none", "bf16", "fp16"),
                   help="autocast dtype; auto = bf16 on CUDA, none on CPU")
    g.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=False,
                   help="channels_last memory format")
    g.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False,
                   help="torch.compile the model for training (the first steps compile; awing_ext's ops are compile-clean)")
    g = p.add_argument_group("run")
    g.add_argument("--out", default=None, help="run folder (default: runs/<time>)")
    g.add_argument("--init", default=None, metavar="CKPT",
                   help="start from this checkpoint's weights (and its architecture and input normalisation), "
                        "e.g. one written by training.convert; a new optimiser and schedule (fine-tuning)")
    g.add_argument("--resume", default=None, metavar="CKPT|auto",
                   help="continue from a checkpoint; 'auto' = <out>/last.pt if it exists. Options not given "
                        "take the checkpoint's values; only " + ", ".join("--" + o.replace("_", "-") for o in RESUMABLE)
                        + " may differ from them (--max-steps applies to this invocation only)")
    g.add_argument("--overwrite", action="store_true",
                   help="start afresh in an --out folder that holds a run: delete its outputs (checkpoints, "
                        "metrics, results) first; without it such a folder is refused unless --resume continues it")
    g.add_argument("--checkpoint-every", type=int_at_least(1), default=100, help="steps between last.pt writes")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    g.add_argument("--seed", type=int_in(0, 2 ** 32 - 1), default=0)
    g.add_argument("--log-every", type=int_at_least(1), default=10, help="steps between metrics.jsonl lines")
    g.add_argument("--max-steps", type=int_at_least(1), default=None, help="stop after this many steps (tests, smoke runs)")
    g.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    g.add_argument("--progress", dest="no_progress", action="store_false",
                   help="tqdm bars (the default): undoes a config file's no-progress")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """The options: a --config file's values first, then the command line's (which win)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from_file: list = []
    path = config_path_in(argv)
    if path:
        checker = build_parser(RaisingParser, source=path)
        from_file = config_to_argv(load_config(path), checker, path)
        checker.parse_args(from_file)  # a bad value is an error naming the file
    args = build_parser().parse_args(from_file + argv)
    return args


def given_options(argv=None) -> set:
    """The options the command line (or its --config file) sets, as dests: what a resumed run
    keeps from the user rather than from the checkpoint."""
    argv = list(sys.argv[1:] if argv is None else argv)
    path = config_path_in(argv)
    from_file = config_to_argv(load_config(path), build_parser(RaisingParser, source=path), path) if path else []
    parser = build_parser()
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(from_file + argv)))


def _shown(value) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def resume_options(args: argparse.Namespace, given: set, state: dict, source: str) -> list:
    """Makes `args` the resumed run's options: the checkpoint's, except RESUMABLE ones given
    anew. An option outside RESUMABLE given with another value is a ValueError naming it and
    both values. Returns notes to print (e.g. milestones kept when --epochs changed)."""
    recorded = state.get("config") or {}
    conflicts, notes = [], []
    scheduler = state.get("scheduler") or {}
    milestones = sorted(int(m) for m in scheduler.get("milestones", {})) if scheduler.get("milestones") else None
    for dest, value in vars(args).items():
        if dest in RUN_ONLY or dest == "overwrite" or dest not in recorded:
            continue
        if dest not in given:
            if dest not in PER_INVOCATION:
                setattr(args, dest, recorded[dest])
            continue
        if dest in RESUMABLE:
            continue
        if dest == "lr_milestones" and milestones is not None:
            if sorted(value or []) != milestones:
                conflicts.append(f"--lr-milestones {_shown(value)} (the checkpoint's: {_shown(milestones)})")
            continue
        if value != recorded[dest]:
            conflicts.append(f"--{dest.replace('_', '-')} {_shown(value)} (the checkpoint's: {_shown(recorded[dest])})")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if state.get("world_size", world_size) != world_size:
        conflicts.append(f"{world_size} process(es) (the checkpoint's: {state['world_size']})")
    if conflicts:
        raise ValueError(f"--resume {source}: options that cannot change when a run continues differ from its "
                         f"checkpoint: {'; '.join(conflicts)}. Drop them (the checkpoint's values are used) or "
                         f"train into a new --out; only {', '.join('--' + o.replace('_', '-') for o in RESUMABLE)} "
                         f"may change")
    if milestones is not None and args.lr_milestones is None and lr_milestones(args) != milestones:
        args.lr_milestones = milestones   # what the restored schedule does, recorded as such
        notes.append(f"--epochs {args.epochs}: the learning-rate milestones stay the checkpoint's "
                     f"({_shown(milestones)}; recorded as lr_milestones)")
    return notes


def lr_milestones(args: argparse.Namespace) -> list:
    """--lr-milestones, or by default 75 % and 90 % of --epochs (computed here, not stored in args,
    so that a run repeated from its config.json with another --epochs gets its own milestones)."""
    if args.lr_milestones is not None:
        return list(args.lr_milestones)
    return sorted({max(1, int(args.epochs * 0.75)), max(1, int(args.epochs * 0.9))})


def augment_config(args: argparse.Namespace) -> AugmentConfig:
    """The AugmentConfig of the augmentation options."""
    return AugmentConfig(rotate=args.rotate, scale_jitter=args.scale_jitter, translate=args.translate, flip=args.flip,
                         brightness=args.brightness, contrast=args.contrast, occlusion=args.occlusion,
                         blur=args.blur, blur_sigma=args.blur_sigma, noise=args.noise, noise_std=args.noise_std)


class NonFiniteLoss(RuntimeError):
    pass


class InitCheckpointError(ValueError):
    """--init names a checkpoint this run cannot start from."""


def initial_weights(args: argparse.Namespace) -> Optional[dict]:
    """The --init checkpoint (None without --init), checked against the other options."""
    if not args.init:
        return None
    if any(v is not None for v in (args.stacks, args.width, args.depth)):
        raise InitCheckpointError("--init takes the architecture from the checkpoint: drop --stacks/--width/--depth")
    try:
        state = load_checkpoint(args.init)
        check_finite_weights(state["model"], f"--init {args.init}")
        return state
    except (FileNotFoundError, RuntimeError) as exc:
        raise InitCheckpointError(f"--init: {exc}") from exc
    except ValueError as exc:
        raise InitCheckpointError(str(exc)) from exc


@dataclass
class Progress:
    """Where a run is: what a checkpoint restores besides the weights and optimiser states."""
    epoch: int = 0          # completed epochs
    step: int = 0           # optimiser steps so far
    step_in_epoch: int = 0  # steps done in the current epoch (a resumed epoch skips them)
    best_nme: float = math.inf


class Trainer:
    """One training run, built in order: setup (device, processes, AMP, run folder), data, model
    and optimiser. fit() is the loop; checkpoint() the one dict a checkpoint holds.

    `state`: a checkpoint to continue (main() loads it and makes `args` agree with it,
    resume_options); the model then takes the checkpoint's architecture and the run its state."""

    def __init__(self, args: argparse.Namespace, state: Optional[dict] = None, source: str = "checkpoint"):
        self.args = args
        # -- setup: resolved once
        self.dist, self.device = init_distributed(args.device)
        amp = args.amp if args.amp != "auto" else ("bf16" if self.device.type == "cuda" else "none")
        self.amp_dtype = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]
        self.out = Path(args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S"))
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(args.seed)

        # -- the model's architecture: the preset's, or with --init (or --resume) the checkpoint's
        init = None if state is not None else initial_weights(args)
        if state is not None:
            base = FANConfig(**state["model_config"])
        elif init is not None:
            base = FANConfig(**init["model_config"])
        else:
            overrides = {k: v for k, v in (("num_stacks", args.stacks), ("width", args.width), ("depth", args.depth))
                         if v is not None}
            base = replace(PRESETS[args.preset], **overrides)

        # -- data
        self.input_size = base.input_size
        augment = None if args.no_augment else augment_config(args)
        common = dict(input_size=self.input_size, seed=args.seed, data_root=args.data_root, limit=args.limit,
                      skip_bad=args.skip_bad, crop=args.crop)
        train_split = args.train_split or ("train" if args.dataset == "synthetic" else "train-val")
        self.train_set, self.scheme = build_dataset(args.dataset, train_split, num_samples=args.train_samples,
                                                    augment=augment, **common)
        self.val_set, _ = build_dataset(args.dataset, "val", num_samples=args.val_samples, **common)
        self.test_set, _ = build_dataset(args.dataset, "test", num_samples=args.test_samples, **common)

        # -- model (self.model: the module, for state and evaluation; self.net: what training calls)
        points = get_scheme(self.scheme).num_points
        if init is not None and base.num_landmarks != points:
            raise InitCheckpointError(f"--init {args.init}: the model predicts {base.num_landmarks} landmarks but "
                                      f"the {args.dataset} data has {points}")
        if state is not None and base.num_landmarks != points:
            raise ValueError(f"--resume {source}: the model predicts {base.num_landmarks} landmarks but the "
                             f"{args.dataset} data has {points}")
        self.model = build_model(replace(base, num_landmarks=points))
        if init is not None:
            try:
                fit_state_dict(self.model, init["model"], f"--init {args.init}")
            except ValueError as exc:
                raise InitCheckpointError(str(exc)) from exc
        self.model = self.model.to(self.device)
        if args.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net = self.model
        if self.dist.enabled:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device] if self.device.type == "cuda" else None)
        if args.compile:
            self.net = torch.compile(self.net)
        self.codec = HeatmapCodec.for_model(self.model.config, self.scheme, args.sigma)
        self.criterion = awing_ext.AdaptiveWingLoss()

        # -- optimiser
        optimizer = torch.optim.RMSprop if args.optimizer == "rmsprop" else torch.optim.AdamW
        self.optimizer = optimizer(self.model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, lr_milestones(args), args.lr_gamma)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.progress = Progress()
        self.log: Optional[RunLog] = None
        self.resumed_log_records: Optional[int] = 0   # metrics.jsonl records the restored checkpoint had seen
        if state is not None:
            self.restore(state, source)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self) -> dict:
        """Everything a run needs to continue bit for bit: the one checkpoint dict."""
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                **asdict(self.progress), "rng": rng, "config": vars(self.args),
                "model_config": dict(vars(self.model.config)), "awing_version": awing_ext.__version__,
                "world_size": self.dist.world_size, "log_records": self.log.records if self.log else 0}

    def restore(self, state: dict, source: str = "checkpoint") -> None:
        """The inverse of checkpoint()."""
        missing = [k for k in ("optimizer", "scheduler", "scaler", "rng", *asdict(Progress())) if k not in state]
        if missing:
            raise ValueError(f"--resume {source}: not a training checkpoint (no {', '.join(missing[:3])}): "
                             f"to train from a model's weights use --init")
        fit_state_dict(self.model, state["model"], f"--resume {source}")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.progress = Progress(**{k: state[k] for k in asdict(Progress())})
        self.resumed_log_records = state.get("log_records")   # None: a checkpoint from before the count
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)

    def save(self, name: str) -> None:
        if self.dist.is_main:  # replicas hold identical weights: one writer
            save_checkpoint(self.checkpoint(), self.out / name)

    # ------------------------------------------------------------------ data
    def epoch_batches(self, epoch: int) -> list:
        """This process's batches of `epoch`: a DistributedSampler shard (the whole set when
        single-process) of a (seed, epoch) permutation; every process gets the same count."""
        sampler = torch.utils.data.DistributedSampler(self.train_set, num_replicas=self.dist.world_size,
                                                      rank=self.dist.rank, shuffle=True, seed=self.args.seed,
                                                      drop_last=True)
        sampler.set_epoch(epoch)
        order, bs = list(sampler), self.args.batch_size
        return [order[i:i + bs] for i in range(0, len(order) - bs + 1, bs)]  # drop the last partial batch

    def loader(self, dataset, batch_sampler=None, batch_size=None):
        batching = {"batch_sampler": batch_sampler} if batch_sampler is not None else {"batch_size": batch_size}
        return torch.utils.data.DataLoader(dataset, **batching, num_workers=self.args.workers,
                                           pin_memory=self.device.type == "cuda",
                                           worker_init_fn=worker_init() if self.args.workers else None)

    # ------------------------------------------------------------------ one step, one validation
    def train_step(self, batch: dict) -> float:
        images = model_input(batch["image"].to(self.device, non_blocking=True), self.model.config,
                             self.args.channels_last)
        landmarks = batch["landmarks"].to(self.device, non_blocking=True)
        visible = batch["visible"].to(self.device, non_blocking=True)
        target, weight = self.codec.encode(landmarks, visible)
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            outputs = self.net(images)
        loss = sum(self.criterion(out.float(), target, weight) for out in outputs)
        # the mean over processes: what is logged, and what every process decides NaN-stops on
        value = all_reduce_sum(loss.detach().reshape(1), self.dist).item() / self.dist.world_size
        if not math.isfinite(value):
            raise NonFiniteLoss(f"non-finite loss {value} at epoch {self.progress.epoch} step {self.progress.step}: "
                                f"stopping without writing a checkpoint (last good one: {self.out / 'last.pt'}). "
                                "Try a lower --lr or --amp none.")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return value

    def validate(self) -> float:
        """Mean validation NME; each process evaluates every world_size-th image, then the sums meet."""
        shard = torch.utils.data.Subset(self.val_set, range(self.dist.rank, len(self.val_set), self.dist.world_size))
        result = run_evaluation(self.model, self.loader(shard, batch_size=self.args.batch_size), self.device,
                                self.codec, self.args.channels_last, keep_images=0)
        nmes = metrics.nme(result["pred"], result["gt"])
        total = all_reduce_sum(torch.tensor([nmes.sum(), len(nmes)], dtype=torch.float64, device=self.device),
                               self.dist)
        return float(total[0] / total[1])

    # ------------------------------------------------------------------ the loop
    def finished(self) -> bool:
        """The one stop condition: every epoch done, or --max-steps reached."""
        max_steps = self.args.max_steps
        return self.progress.epoch >= self.args.epochs or (max_steps is not None and self.progress.step >= max_steps)

    def fit(self) -> None:
        """Trains until finished(): steps, logs, periodic last.pt; at each epoch end the LR step,
        validation, last.pt and (when validation improved) best.pt. A run stopped inside an epoch
        (--max-steps) writes last.pt, from which --resume continues that epoch."""
        args, p = self.args, self.progress
        kept = 0
        if self.dist.is_main:   # the records logged after the restored checkpoint are replayed: drop them
            kept = trim_metrics_log(self.out / "metrics.jsonl", self.resumed_log_records, p.step)
        log = self.log = RunLog(self.out, self.dist.is_main, records=kept, purge_step=p.step + 1 if p.step else None)
        if self.dist.is_main:
            (self.out / "config.json").write_text(json.dumps({**vars(args), "world_size": self.dist.world_size},
                                                             indent=2))
        steps_per_epoch = len(self.epoch_batches(0))
        bar = None
        try:
            while not self.finished():
                if bar is None:  # a new (or resumed) epoch: its sampler, its loader, its progress bar
                    self.train_set.set_epoch(p.epoch)
                    batches = self.epoch_batches(p.epoch)[p.step_in_epoch:]
                    bar = tqdm(self.loader(self.train_set, batch_sampler=batches), total=len(batches),
                               desc=f"epoch {p.epoch + 1}/{args.epochs}", leave=False, unit="batch",
                               disable=args.no_progress or not self.dist.is_main, dynamic_ncols=True)
                    batch_iter, t0, seen = iter(bar), time.perf_counter(), 0
                batch = next(batch_iter, None)
                if batch is None and p.step_in_epoch < steps_per_epoch:
                    raise RuntimeError(f"the data loader of epoch {p.epoch + 1} ended after {p.step_in_epoch} of "
                                       f"{steps_per_epoch} batches")
                if batch is not None:
                    loss = self.train_step(batch)
                    p.step += 1
                    p.step_in_epoch += 1
                    seen += len(batch["index"])
                    rate = seen / (time.perf_counter() - t0)
                    bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{rate:.1f}",
                                    step=f"{p.step}/{args.epochs * steps_per_epoch}")
                    if p.step % args.log_every == 0:
                        log.write({"epoch": p.epoch, "step": p.step, "loss": loss,
                                   "lr": self.optimizer.param_groups[0]["lr"], "images_per_s": rate})
                    if p.step % args.checkpoint_every == 0:
                        self.save("last.pt")
                if p.step_in_epoch >= steps_per_epoch:  # the epoch is complete
                    batch_iter = None  # shuts the loader's workers down before validation starts its own
                    bar.close()
                    bar = None
                    self.end_epoch(log)
            if bar is not None:  # stopped inside an epoch
                bar.close()
                self.save("last.pt")
        finally:
            log.close()
            self.log = None

    def end_epoch(self, log: RunLog) -> None:
        p = self.progress
        p.epoch += 1
        p.step_in_epoch = 0
        self.scheduler.step()
        val_nme = self.validate()
        improved = val_nme < p.best_nme
        p.best_nme = min(p.best_nme, val_nme)
        log.write({"epoch": p.epoch, "step": p.step, "val_nme": val_nme})
        self.save("last.pt")
        if improved:
            self.save("best.pt")
        if self.dist.is_main:
            tqdm.write(f"epoch {p.epoch}/{self.args.epochs}: val NME {100 * val_nme:.2f}% "
                       f"(best {100 * p.best_nme:.2f}%)", file=sys.stderr)

    # ------------------------------------------------------------------ final test
    def test(self) -> dict:
        """best.pt (or the current weights) on the test split: the evaluation
        `python -m training.evaluate` runs, written as results.json, ced.png, predictions.png."""
        args = self.args
        best = self.out / "best.pt"
        model = (load_model(load_checkpoint(best, map_location=self.device), self.device, str(best))
                 if best.exists() else self.model)
        baseline = train_crop_landmarks(args.dataset, self.input_size, seed=args.seed, data_root=args.data_root,
                                        samples=args.train_samples, limit=args.limit, skip_bad=args.skip_bad,
                                        crop=args.crop, workers=args.workers)
        return evaluate_split(model, self.codec, self.test_set, baseline, device=self.device, out=self.out, suffix="",
                              title=f"CED on the {args.dataset} test split", batch_size=args.batch_size,
                              workers=args.workers, channels_last=args.channels_last, extra={"split": "test"})


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
    args = parse_args(argv)
    resolve_device(args.device)   # an unusable --device is an error before anything is created
    if args.overwrite and args.resume:
        raise ValueError("--overwrite starts the run afresh, --resume continues it: give one of them")
    given = given_options(argv)
    keep_freed_memory()
    args.out = str(args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S"))
    main_process = int(os.environ.get("RANK", "0")) == 0   # under torchrun only rank 0 takes the lock
    lock = RunLock(Path(args.out))
    created = not Path(args.out).exists()
    try:
        state, path = open_run_folder(args, given, main_process, lock)
        try:
            trainer = Trainer(args, state, str(path))
        except InitCheckpointError as exc:
            raise SystemExit(f"error: {exc}")
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
        except NonFiniteLoss as exc:
            raise SystemExit(f"error: {exc}")
        if trainer.progress.epoch < args.epochs:  # --max-steps
            if main_process:
                print(f"stopped at step {trainer.progress.step} (--max-steps); resume with "
                      f"--resume {trainer.out / 'last.pt'}")
            return {}
        if not main_process:
            return {}
        report = trainer.test()
        print(f"\nTest split ({report['samples']} images, NME normalised by the {report['normaliser']}), "
              f"trained in {time.perf_counter() - t0:.0f} s:\n")
        print(format_report(report))
        print(f"\nrun folder: {trainer.out} (best.pt, last.pt, metrics.jsonl, results.json, ced.png, predictions.png)")
        return report
    finally:
        shutdown(trainer.dist)


if __name__ == "__main__":
    sys.exit(run(main))
