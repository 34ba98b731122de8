"""The training engine: a few setup functions, then Trainer, whose fit() is the loop.

Built in this order, which is also the order the seeded RNG is drawn from (so a run is the same
bit for bit): setup_device, the seed, the --init checkpoint and architecture, build_datasets,
build_network (model init), build_optimizer; then Trainer.restore() when resuming.

    fit(): epochs -> batches -> train_step -> periodic log / last.pt -> end_epoch (LR step,
           validation, last.pt, best.pt) ... a stop inside an epoch (--max-steps) writes last.pt
"""
import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Optional

import torch
from tqdm import tqdm

import awing_ext
from awing_ext.scheme_file import scheme_to_dict, scheme_to_toml
from awing_ext.schemes import LandmarkScheme

from ..core.checkpoint import check_finite_weights, checkpoint_scheme, load_checkpoint, save_checkpoint
from ..core.codec import HeatmapCodec, decoding_record
from ..core.runtime import worker_init
from ..data.registry import ANNOTATION_OPTIONS, build_dataset
from ..data.transforms import AugmentConfig
from ..eval.protocol import evaluate_split, image_nmes, run_evaluation, train_crop_landmarks
from ..models.inputs import model_input
from ..models.loading import fit_state_dict, load_model
from ..models.output_prior import init_output_prior
from ..models.registry import ModelConfig, config_from_dict, create_model, model_config
from .criterion import build_criterion
from .distributed import all_reduce_sum, init_distributed
from .loss_watch import LossWatch, NonFiniteLoss, ZeroLoss  # noqa: F401  (NonFiniteLoss, ZeroLoss: re-exported)
from .run_folder import default_run_folder, trim_metrics_log
from .run_log import RunLog
from .schedule import lr_milestones

AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}
AMP_NAMES = {dtype: name for name, dtype in AMP_DTYPES.items() if dtype is not None}


class InitCheckpointError(ValueError):
    """--init names a checkpoint this run cannot start from."""


@dataclass
class Progress:
    """Where a run is: what a checkpoint restores besides the weights and optimiser states."""
    epoch: int = 0          # completed epochs
    step: int = 0           # optimiser steps so far
    step_in_epoch: int = 0  # steps done in the current epoch (a resumed epoch skips them)
    best_nme: float = math.inf


# ---------------------------------------------------------------------- setup
def annotation_files(args: argparse.Namespace) -> dict:
    """--annotations, --val-annotations, --test-annotations (coco) as build_dataset's options
    (an older run's options have none)."""
    return {k: getattr(args, k, None) for k in ANNOTATION_OPTIONS}


def augment_config(args: argparse.Namespace) -> AugmentConfig:
    """The AugmentConfig of the augmentation options."""
    return AugmentConfig(rotate=args.rotate, scale_jitter=args.scale_jitter, translate=args.translate, flip=args.flip,
                         brightness=args.brightness, contrast=args.contrast, occlusion=args.occlusion,
                         blur=args.blur, blur_sigma=args.blur_sigma, noise=args.noise, noise_std=args.noise_std)


def setup_device(args: argparse.Namespace) -> tuple:
    """(processes, this process's device, autocast dtype or None): --amp auto = bf16 on CUDA, none on CPU."""
    dist, device = init_distributed(args.device)
    amp = args.amp if args.amp != "auto" else ("bf16" if device.type == "cuda" else "none")
    return dist, device, AMP_DTYPES[amp]


def initial_weights(args: argparse.Namespace) -> Optional[dict]:
    """The --init checkpoint (None without --init), checked against the other options."""
    if not args.init:
        return None
    given = [flag for flag, v in (("--stacks", args.stacks), ("--width", args.width), ("--depth", args.depth),
                                  ("--no-boundary", args.no_boundary), ("--no-coordconv", args.no_coordconv),
                                  ("--pretrained-backbone", args.pretrained_backbone)) if v not in (None, False)]
    if given:
        raise InitCheckpointError(f"--init takes the architecture and weights from the checkpoint: drop "
                                  f"{'/'.join(given)}")
    try:
        state = load_checkpoint(args.init)
        check_finite_weights(state["model"], f"--init {args.init}")
        return state
    except (FileNotFoundError, RuntimeError) as exc:
        raise InitCheckpointError(f"--init: {exc}") from exc
    except ValueError as exc:
        raise InitCheckpointError(str(exc)) from exc


def architecture(args: argparse.Namespace, state: Optional[dict], init: Optional[dict]) -> ModelConfig:
    """The model's architecture: with --resume or --init the checkpoint's, else --model's at the
    preset's size with the overrides (models/registry.py; a FANConfig or a BackboneConfig)."""
    if state is not None:
        return config_from_dict(state["model_config"])
    if init is not None:
        config = config_from_dict(init["model_config"])
        recorded = getattr(config, "model", "fan")
        if args.model not in ("fan", recorded):
            raise InitCheckpointError(f"--init {args.init} holds a {recorded} model, not --model {args.model}: "
                                      f"drop --model (the checkpoint's architecture is used)")
        return config
    return model_config(args.model, args.preset, stacks=args.stacks, width=args.width, depth=args.depth,
                        boundary=not args.no_boundary, coordconv=not args.no_coordconv,
                        pretrained=args.pretrained_backbone)


def build_datasets(args: argparse.Namespace, input_size: int, scheme: Optional[LandmarkScheme] = None) -> tuple:
    """(train, val, test sets, landmark scheme); only the training set augments. `scheme`: a
    resumed run's (its checkpoint's), else --scheme's (None: the dataset's own); the val and
    test sets take the training set's."""
    augment = None if args.no_augment else augment_config(args)
    common = dict(input_size=input_size, seed=args.seed, data_root=args.data_root, limit=args.limit,
                  skip_bad=args.skip_bad, crop=args.crop, **annotation_files(args))
    train_split = args.train_split or ("train" if args.dataset == "synthetic" else "train-val")
    train_set, scheme = build_dataset(args.dataset, train_split, num_samples=args.train_samples, augment=augment,
                                      scheme=scheme if scheme is not None else args.scheme, **common)
    val_set, _ = build_dataset(args.dataset, "val", num_samples=args.val_samples, scheme=scheme, **common)
    test_set, _ = build_dataset(args.dataset, "test", num_samples=args.test_samples, scheme=scheme, **common)
    return train_set, val_set, test_set, scheme


def scheme_notes(args: argparse.Namespace, train_set, scheme: LandmarkScheme, boundary: bool) -> list:
    """What a run says about its data and scheme in one line each: how the loader read the data
    (coco: the scheme from the category's names), no flip augmentation, no boundary channel."""
    base = getattr(train_set, "base", train_set)
    notes = list(getattr(base, "notes", []))
    if scheme.flip is None and args.flip > 0 and not args.no_augment:
        notes.append(f"scheme {scheme.name!r} declares no flip pairs: no horizontal flip augmentation (--flip "
                     f"{args.flip:g} not used)")
    if not scheme.curves and not args.no_boundary and not boundary:
        notes.append(f"scheme {scheme.name!r} has no [curves]: the model has no boundary heatmap channel")
    return notes


def build_network(args, base: ModelConfig, scheme: LandmarkScheme, init: Optional[dict], state: Optional[dict],
                  source: str, device, dist) -> tuple:
    """(model, net): the module (state, evaluation) and what training calls (DDP- and compile-wrapped).
    A fresh model has the scheme's points and a boundary channel only when the scheme has curves;
    --pretrained-backbone fetches ImageNet weights for a fresh run only (a checkpoint holds its own);
    a fresh --loss focal run starts its heatmap outputs at CornerNet's prior bias."""
    points = scheme.num_points
    if init is not None and base.num_landmarks != points:
        raise InitCheckpointError(f"--init {args.init}: the model predicts {base.num_landmarks} landmarks but "
                                  f"the {args.dataset} data has {points}")
    if state is not None and base.num_landmarks != points:
        raise ValueError(f"--resume {source}: the model predicts {base.num_landmarks} landmarks but the "
                         f"{args.dataset} data has {points}")
    if init is not None and base.boundary and not scheme.curves:
        raise InitCheckpointError(f"--init {args.init}: the model has a boundary heatmap channel but the scheme "
                                  f"{scheme.name!r} has no [curves] to draw its target")
    fresh = init is None and state is None
    if fresh:
        base = replace(base, boundary=base.boundary and bool(scheme.curves))
    model = create_model(replace(base, num_landmarks=points), pretrained=args.pretrained_backbone and fresh)
    if fresh and args.loss == "focal":   # heatmaps are logits: start at CornerNet's prior (models/output_prior.py)
        init_output_prior(model)
    if init is not None:
        try:
            fit_state_dict(model, init["model"], f"--init {args.init}")
        except ValueError as exc:
            raise InitCheckpointError(str(exc)) from exc
    model = model.to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = model
    if dist.enabled:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    if args.compile:
        net = torch.compile(net)
    return model, net


def build_optimizer(args: argparse.Namespace, model, device, amp_dtype) -> tuple:
    """(optimiser, step-decay LR schedule, gradient scaler: active with fp16 autocast only)."""
    optimizer = (torch.optim.RMSprop if args.optimizer == "rmsprop" else torch.optim.AdamW)(
        model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, lr_milestones(args), args.lr_gamma)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    return optimizer, scheduler, scaler


# ---------------------------------------------------------------------- the run
class Trainer:
    """One training run. fit() is the loop; checkpoint() the one dict a checkpoint holds;
    final_test() evaluates its best.pt afterwards.

    `state`: a checkpoint to continue (main() loads it and makes `args` agree with it,
    resume_options); the model then takes the checkpoint's architecture and the run its state."""

    def __init__(self, args: argparse.Namespace, state: Optional[dict] = None, source: str = "checkpoint"):
        self.args = args
        self.dist, self.device, self.amp_dtype = setup_device(args)
        self.out = Path(args.out or default_run_folder())
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(args.seed)
        init = None if state is not None else initial_weights(args)
        base = architecture(args, state, init)
        self.input_size = base.input_size
        stored = checkpoint_scheme(state, f"--resume {source}", required=False) if state is not None else None
        self.train_set, self.val_set, self.test_set, self.scheme = build_datasets(args, self.input_size, stored)
        self.model, self.net = build_network(args, base, self.scheme, init, state, source, self.device, self.dist)
        if self.dist.is_main:
            for note in scheme_notes(args, self.train_set, self.scheme, self.model.config.boundary):
                print(f"awing: {note}", file=sys.stderr)
        self.codec = replace(HeatmapCodec.for_model(self.model.config, self.scheme, args.sigma),
                             logits=decoding_record(args.loss, args.sigma)["activation"] == "sigmoid")
        self.criterion = build_criterion(args, self.scheme.num_points)
        self.loss_watch = LossWatch(args, self.out, AMP_NAMES.get(self.amp_dtype))
        self.optimizer, self.scheduler, self.scaler = build_optimizer(args, self.model, self.device, self.amp_dtype)
        self.progress = Progress()
        self.log: Optional[RunLog] = None
        self.resumed_log_records: Optional[int] = 0   # metrics.jsonl records the restored checkpoint had seen
        if state is not None:
            self.restore(state, source)

    # ------------------------------------------------------------------ the loop
    def fit(self) -> None:
        """Trains until finished(): steps, logs, periodic last.pt; at each epoch end the LR step,
        validation, last.pt and (when validation improved) best.pt. A run stopped inside an epoch
        (--max-steps) writes last.pt, from which --resume continues that epoch."""
        args, p = self.args, self.progress
        log = self.open_log()
        steps_per_epoch = self.steps_per_epoch()
        try:
            while not self.finished():
                self.train_set.set_epoch(p.epoch)
                batches = self.epoch_batches(p.epoch)[p.step_in_epoch:]   # a resumed epoch skips its done steps
                bar = tqdm(self.loader(self.train_set, batch_sampler=batches), total=len(batches),
                           desc=f"epoch {p.epoch + 1}/{args.epochs}", leave=False, unit="batch",
                           disable=args.no_progress or not self.dist.is_main, dynamic_ncols=True)
                t0, seen = time.perf_counter(), 0
                for batch in bar:
                    self.train_step(batch)
                    p.step += 1
                    p.step_in_epoch += 1
                    seen += len(batch["index"])
                    logged = p.step % args.log_every == 0
                    if logged or p.step_in_epoch == steps_per_epoch or self.finished():
                        loss = self.loss_watch.check_pending()   # the host sync: the losses since the last one
                        rate = seen / (time.perf_counter() - t0)
                        bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{rate:.1f}",
                                        step=f"{p.step}/{args.epochs * steps_per_epoch}")
                    if logged:
                        log.write({"epoch": p.epoch, "step": p.step, "loss": loss,
                                   "lr": self.optimizer.param_groups[0]["lr"], "images_per_s": rate})
                    if p.step % args.checkpoint_every == 0:
                        self.save("last.pt")
                    if self.finished():   # --max-steps
                        break
                bar.close()   # the loader's workers are done before validation starts its own
                if p.step_in_epoch < steps_per_epoch:
                    if not self.finished():
                        raise RuntimeError(f"the data loader of epoch {p.epoch + 1} ended after {p.step_in_epoch} "
                                           f"of {steps_per_epoch} batches")
                    self.save("last.pt")   # stopped inside an epoch
                    break
                self.end_epoch(log)
        finally:
            log.close()
            self.log = None

    def finished(self) -> bool:
        """The one stop condition: every epoch done, or --max-steps reached."""
        max_steps = self.args.max_steps
        return self.progress.epoch >= self.args.epochs or (max_steps is not None and self.progress.step >= max_steps)

    def open_log(self) -> RunLog:
        """metrics.jsonl (less the records logged after the restored checkpoint: the run replays them),
        then config.json."""
        kept, step = 0, self.progress.step
        if self.dist.is_main:
            kept = trim_metrics_log(self.out / "metrics.jsonl", self.resumed_log_records, step)
        self.log = RunLog(self.out, self.dist.is_main, records=kept, purge_step=step + 1 if step else None)
        if self.dist.is_main:
            (self.out / "config.json").write_text(json.dumps({**vars(self.args), "world_size": self.dist.world_size,
                                                              "threads": torch.get_num_threads()}, indent=2))
            (self.out / "scheme.toml").write_text(scheme_to_toml(self.scheme, "The landmark scheme of this run "
                                                                 "(its checkpoints hold it too)."), encoding="utf-8")
        return self.log

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

    # ------------------------------------------------------------------ one step, one validation
    def train_step(self, batch: dict) -> torch.Tensor:
        """One optimiser step; returns the loss (the mean over processes) as a 0-dim tensor on the
        device, handed to the loss watch without a host sync (fit checks them at its log interval)."""
        images = model_input(batch["image"].to(self.device, non_blocking=True), self.model.config,
                             self.args.channels_last)
        landmarks = batch["landmarks"].to(self.device, non_blocking=True)
        visible = batch["visible"].to(self.device, non_blocking=True)
        target, weight = self.codec.encode(landmarks, visible)
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            outputs = self.net(images)
        loss = self.criterion(outputs, target, weight, self.codec.crop_to_heatmap(landmarks.float()), visible)
        # the mean over processes: what is logged, and what every process decides NaN-stops on
        value = all_reduce_sum(loss.detach().reshape(1), self.dist)[0] / self.dist.world_size
        self.loss_watch.add(value, self.progress.epoch, self.progress.step)   # checked for NaN / lasting 0 later
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
        nmes = image_nmes(result["pred"], result, self.scheme)
        total = all_reduce_sum(torch.tensor([nmes.sum(), len(nmes)], dtype=torch.float64, device=self.device),
                               self.dist)
        return float(total[0] / total[1])

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

    def steps_per_epoch(self) -> int:
        """len(epoch_batches(e)) for any e: the sampler's drop_last shard, in whole batches."""
        return len(self.train_set) // self.dist.world_size // self.args.batch_size

    def loader(self, dataset, batch_sampler=None, batch_size=None):
        batching = {"batch_sampler": batch_sampler} if batch_sampler is not None else {"batch_size": batch_size}
        return torch.utils.data.DataLoader(dataset, **batching, num_workers=self.args.workers,
                                           pin_memory=self.device.type == "cuda",
                                           worker_init_fn=worker_init() if self.args.workers else None)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self) -> dict:
        """Everything a run needs to continue bit for bit: the one checkpoint dict."""
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                **asdict(self.progress), "rng": rng, "config": vars(self.args),
                "model_config": dict(vars(self.model.config)), "scheme": scheme_to_dict(self.scheme),
                "decoding": decoding_record(self.args.loss, self.args.sigma),
                "awing_version": awing_ext.__version__,
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
        """Writes a checkpoint, after checking every loss since the last check (on every process,
        so all stop together): no checkpoint is ever written over a non-finite loss."""
        self.loss_watch.check_pending()
        if self.dist.is_main:  # replicas hold identical weights: one writer
            save_checkpoint(self.checkpoint(), self.out / name)


# ---------------------------------------------------------------------- after the loop
def final_test(trainer: Trainer) -> dict:
    """best.pt (or the current weights) on the test split: the evaluation
    `python -m training.evaluate` runs, written as results.json (with the best validation NME,
    which an ablation's learning-rate selection reads), ced.png, predictions.png."""
    args = trainer.args
    best = trainer.out / "best.pt"
    model = (load_model(load_checkpoint(best, map_location=trainer.device), trainer.device, str(best))
             if best.exists() else trainer.model)
    baseline = train_crop_landmarks(args.dataset, trainer.input_size, seed=args.seed, data_root=args.data_root,
                                    samples=args.train_samples, limit=args.limit, skip_bad=args.skip_bad,
                                    crop=args.crop, workers=args.workers, scheme=trainer.scheme,
                                    **annotation_files(args))
    return evaluate_split(model, trainer.codec, trainer.test_set, baseline, device=trainer.device, out=trainer.out,
                          suffix="", title=f"CED on the {args.dataset} test split", batch_size=args.batch_size,
                          workers=args.workers, channels_last=args.channels_last,
                          extra={"split": "test", "best_val_nme": _finite_or_none(trainer.progress.best_nme)},
                          scheme=trainer.scheme)


def _finite_or_none(value: float):
    return float(value) if math.isfinite(value) else None
