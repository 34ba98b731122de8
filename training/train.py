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
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

import awing_ext
from awing_ext.schemes import get_scheme

from . import metrics, visualize
from .checkpoint import load_checkpoint, save_checkpoint
from .data.transforms import AugmentConfig
from .data.registry import DATASETS, build_dataset, subsets_of
from .distributed import all_reduce_sum, init_distributed, shutdown
from .engine import TargetSpec, evaluation_report, format_report, make_targets, normalise_images, run_evaluation
from .models import PRESETS, build_model
from .runtime import keep_freed_memory


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="synthetic", choices=DATASETS, help="training data")
    g.add_argument("--data-root", default=None, help="dataset folder (real datasets; see README)")
    g.add_argument("--limit", type=int, default=None, help="real datasets: use the first N images of each split")
    g.add_argument("--skip-bad", action="store_true",
                   help="skip (and log, count) corrupt or missing images and malformed annotations instead of stopping")
    g.add_argument("--crop", default="landmarks", choices=("landmarks", "detector"),
                   help="crop around the landmarks' box, or the dataset's face box (wflw, cofw)")
    g.add_argument("--train-split", default=None,
                   help="split to train on (default: train for synthetic; train-val for real datasets, so "
                        "that the val split that picks best.pt is held out; 'train' is the paper's full set)")
    g.add_argument("--train-samples", type=int, default=2400, help="synthetic: training faces")
    g.add_argument("--val-samples", type=int, default=256, help="synthetic: validation faces")
    g.add_argument("--test-samples", type=int, default=512, help="synthetic: test faces")
    g.add_argument("--workers", type=int, default=1, help="data-loader worker processes")
    g.add_argument("--no-augment", action="store_true", help="train on centred crops only")
    g.add_argument("--rotate", type=float, default=30.0, help="augmentation: max rotation, degrees")
    g.add_argument("--flip", type=float, default=0.5, help="augmentation: horizontal flip probability")
    g.add_argument("--occlusion", type=float, default=0.3, help="augmentation: occluding patch probability")
    g = p.add_argument_group("model")
    g.add_argument("--preset", default="small", choices=sorted(PRESETS), help="model preset")
    g.add_argument("--stacks", type=int, default=None, help="override the preset's hourglass stacks")
    g.add_argument("--width", type=int, default=None, help="override the preset's channel width")
    g.add_argument("--depth", type=int, default=None, help="override the preset's hourglass depth")
    g.add_argument("--sigma", type=float, default=1.0, help="Gaussian sigma of landmark heatmaps (heatmap px)")
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, default=8, help="passes over the training set")
    g.add_argument("--batch-size", type=int, default=16, help="images per step and per process")
    g.add_argument("--optimizer", default="adamw", choices=("rmsprop", "adamw"),
                   help="rmsprop is the paper's (use --lr 1e-4 --weight-decay 1e-5)")
    g.add_argument("--lr", type=float, default=2e-3, help="initial learning rate")
    g.add_argument("--weight-decay", type=float, default=1e-5, help="weight decay")
    g.add_argument("--lr-milestones", type=int, nargs="*", default=None,
                   help="epochs at which the learning rate is multiplied by --lr-gamma "
                        "(default: 75%% and 90%% of --epochs)")
    g.add_argument("--lr-gamma", type=float, default=0.2, help="step-decay factor")
    g.add_argument("--amp", default="auto", choices=("auto", "none", "bf16", "fp16"),
                   help="autocast dtype; auto = bf16 on CUDA, none on CPU")
    g.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    g = p.add_argument_group("run")
    g.add_argument("--out", default=None, help="run folder (default: runs/<time>)")
    g.add_argument("--resume", default=None, metavar="CKPT|auto",
                   help="continue from a checkpoint; 'auto' = <out>/last.pt if it exists")
    g.add_argument("--checkpoint-every", type=int, default=100, help="steps between last.pt writes")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--log-every", type=int, default=10, help="steps between metrics.jsonl lines")
    g.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (tests, smoke runs)")
    g.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    args = p.parse_args(argv)
    if args.lr_milestones is None:
        args.lr_milestones = sorted({max(1, int(args.epochs * 0.75)), max(1, int(args.epochs * 0.9))})
    return args


class NonFiniteLoss(RuntimeError):
    pass


class Trainer:
    """Owns the model, optimiser, data and run folder of one training run."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.dist, self.device = init_distributed(args.device)
        amp = args.amp if args.amp != "auto" else ("bf16" if self.device.type == "cuda" else "none")
        self.amp_dtype = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]
        self.out = Path(args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S"))
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)

        torch.manual_seed(args.seed)
        overrides = {k: v for k, v in (("num_stacks", args.stacks), ("width", args.width), ("depth", args.depth))
                     if v is not None}
        input_size = PRESETS[args.preset].input_size
        augment = None if args.no_augment else AugmentConfig(rotate=args.rotate, flip=args.flip,
                                                             occlusion=args.occlusion)
        common = dict(input_size=input_size, seed=args.seed, data_root=args.data_root, limit=args.limit,
                      skip_bad=args.skip_bad, crop=args.crop)
        train_split = args.train_split or ("train" if args.dataset == "synthetic" else "train-val")
        self.train_set, scheme = build_dataset(args.dataset, train_split, num_samples=args.train_samples,
                                               augment=augment, **common)
        self.val_set, _ = build_dataset(args.dataset, "val", num_samples=args.val_samples, **common)
        self.test_set, _ = build_dataset(args.dataset, "test", num_samples=args.test_samples, **common)

        self.model = build_model(args.preset, num_landmarks=get_scheme(scheme).num_points, **overrides)
        self.model = self.model.to(self.device)
        if args.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        # self.model is the plain module (state, evaluation); self.net what training calls (DDP when distributed)
        self.net = self.model
        if self.dist.enabled:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device] if self.device.type == "cuda" else None)
        cfg = self.model.config
        self.num_landmarks, self.input_size = cfg.num_landmarks, cfg.input_size
        heatmap_size = cfg.input_size // 4
        self.targets = TargetSpec(cfg.input_size, heatmap_size, args.sigma,
                                  boundary_scheme=scheme if cfg.boundary else None)
        self.criterion = awing_ext.AdaptiveWingLoss()

        params = self.model.parameters()
        if args.optimizer == "rmsprop":
            self.optimizer = torch.optim.RMSprop(params, lr=args.lr, weight_decay=args.weight_decay)
        else:
            self.optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, args.lr_milestones, args.lr_gamma)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.epoch, self.step, self.step_in_epoch, self.best_nme = 0, 0, 0, math.inf
        self.writer = self._tensorboard() if self.dist.is_main else None

    # ------------------------------------------------------------------ state
    def state(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "epoch": self.epoch, "step": self.step, "step_in_epoch": self.step_in_epoch,
                "best_nme": self.best_nme, "rng": rng, "config": vars(self.args),
                "model_config": dict(vars(self.model.config)), "awing_version": awing_ext.__version__}

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.step_in_epoch, self.best_nme = state["step_in_epoch"], state["best_nme"]
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)

    # ------------------------------------------------------------------ data
    def _epoch_batches(self, epoch: int) -> list:
        """This process's batches of `epoch`: a DistributedSampler shard (the whole set when
        single-process) of a (seed, epoch) permutation; every process gets the same count."""
        sampler = torch.utils.data.DistributedSampler(self.train_set, num_replicas=self.dist.world_size,
                                                      rank=self.dist.rank, shuffle=True, seed=self.args.seed,
                                                      drop_last=True)
        sampler.set_epoch(epoch)
        order, bs = list(sampler), self.args.batch_size
        return [order[i:i + bs] for i in range(0, len(order) - bs + 1, bs)]  # drop the last partial batch

    def _loader(self, dataset, batch_sampler=None, batch_size=None):
        batching = {"batch_sampler": batch_sampler} if batch_sampler is not None else {"batch_size": batch_size}
        return torch.utils.data.DataLoader(dataset, **batching, num_workers=self.args.workers,
                                           pin_memory=self.device.type == "cuda")

    # ------------------------------------------------------------------ steps
    def train_step(self, batch: dict) -> float:
        images = normalise_images(batch["image"].to(self.device, non_blocking=True), self.args.channels_last)
        landmarks = batch["landmarks"].to(self.device, non_blocking=True)
        visible = batch["visible"].to(self.device, non_blocking=True)
        target, weight = make_targets(landmarks, visible, self.targets)
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            outputs = self.net(images)
        loss = sum(self.criterion(out.float(), target, weight) for out in outputs)
        # the mean over processes: what is logged, and what every process decides NaN-stops on
        value = all_reduce_sum(loss.detach().reshape(1), self.dist).item() / self.dist.world_size
        if not math.isfinite(value):
            raise NonFiniteLoss(f"non-finite loss {value} at epoch {self.epoch} step {self.step}: stopping "
                                f"without writing a checkpoint (last good one: {self.out / 'last.pt'}). "
                                "Try a lower --lr or --amp none.")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return value

    def validate(self) -> float:
        """Mean validation NME; each process evaluates every world_size-th image, then the sums meet."""
        shard = torch.utils.data.Subset(self.val_set, range(self.dist.rank, len(self.val_set), self.dist.world_size))
        result = run_evaluation(self.model, self._loader(shard, batch_size=self.args.batch_size),
                                self.device, self.num_landmarks, self.input_size, self.args.channels_last,
                                keep_images=0)
        nmes = metrics.nme(result["pred"], result["gt"])
        total = all_reduce_sum(torch.tensor([nmes.sum(), len(nmes)], dtype=torch.float64, device=self.device),
                               self.dist)
        return float(total[0] / total[1])

    # ------------------------------------------------------------------ loop
    def fit(self) -> None:
        args = self.args
        if self.dist.is_main:
            (self.out / "config.json").write_text(json.dumps({**vars(args), "world_size": self.dist.world_size},
                                                             indent=2))
        total_steps = args.epochs * len(self._epoch_batches(0))
        log = open(self.out / "metrics.jsonl", "a") if self.dist.is_main else None
        try:
            while self.epoch < args.epochs:
                if args.max_steps is not None and self.step >= args.max_steps:
                    break
                self.train_set.set_epoch(self.epoch)
                batches = self._epoch_batches(self.epoch)[self.step_in_epoch:]
                bar = tqdm(self._loader(self.train_set, batch_sampler=batches), total=len(batches),
                           desc=f"epoch {self.epoch + 1}/{args.epochs}", leave=False,
                           disable=args.no_progress or not self.dist.is_main,
                           unit="batch", dynamic_ncols=True)
                t0, seen = time.perf_counter(), 0
                for batch in bar:
                    loss = self.train_step(batch)
                    self.step += 1
                    self.step_in_epoch += 1
                    seen += len(batch["index"])
                    bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{seen / (time.perf_counter() - t0):.1f}",
                                    step=f"{self.step}/{total_steps}")
                    if self.step % args.log_every == 0:
                        self._log(log, {"epoch": self.epoch, "step": self.step, "loss": loss,
                                        "lr": self.optimizer.param_groups[0]["lr"],
                                        "images_per_s": seen / (time.perf_counter() - t0)})
                    if self.step % args.checkpoint_every == 0:
                        self._save("last.pt")
                    if args.max_steps is not None and self.step >= args.max_steps:
                        break
                bar.close()
                if self.step_in_epoch < len(self._epoch_batches(self.epoch)):
                    self._save("last.pt")  # stopped by --max-steps
                    break
                self.epoch += 1
                self.step_in_epoch = 0
                self.scheduler.step()
                val_nme = self.validate()
                improved = val_nme < self.best_nme
                self.best_nme = min(self.best_nme, val_nme)
                self._log(log, {"epoch": self.epoch, "step": self.step, "val_nme": val_nme})
                self._save("last.pt")
                if improved:
                    self._save("best.pt")
                if self.dist.is_main:
                    tqdm.write(f"epoch {self.epoch}/{args.epochs}: val NME {100 * val_nme:.2f}% "
                               f"(best {100 * self.best_nme:.2f}%)", file=sys.stderr)
        finally:
            if log is not None:
                log.close()

    def _save(self, name: str) -> None:
        if self.dist.is_main:  # replicas hold identical weights: one writer
            save_checkpoint(self.state(), self.out / name)

    def _log(self, log, record: dict) -> None:
        if log is None:
            return
        record = {**record, "time": time.time()}
        log.write(json.dumps(record) + "\n")
        log.flush()
        if self.writer is not None:
            for key, value in record.items():
                if key not in ("epoch", "step", "time"):
                    self.writer.add_scalar(key, value, record["step"])

    def _tensorboard(self):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
        return SummaryWriter(str(self.out / "tensorboard"))

    # ------------------------------------------------------------------ final test
    def test(self) -> dict:
        """Evaluates best.pt on the test split beside the mean-shape baseline; writes the report."""
        best = self.out / "best.pt"
        if best.exists():
            self.model.load_state_dict(load_checkpoint(best, map_location=self.device)["model"])
        loader = self._loader(self.test_set, batch_size=self.args.batch_size)
        result = run_evaluation(self.model, loader, self.device, self.num_landmarks, self.input_size,
                                self.args.channels_last)
        baseline = metrics.MeanShapeBaseline().fit(self._train_crop_landmarks())
        report, curves = evaluation_report(result, subsets_of(self.test_set), baseline.mean_shape_)
        report = {"split": "test", **report}
        (self.out / "results.json").write_text(json.dumps(report, indent=2))
        visualize.plot_ced(curves, self.out / "ced.png", title=f"CED on the {self.args.dataset} test split")
        visualize.prediction_grid(result["images"], result["pred"][:len(result["images"])],
                                  result["gt"][:len(result["images"])], self.out / "predictions.png")
        return report

    def _train_crop_landmarks(self) -> np.ndarray:
        """The training set's landmarks in the crop without augmentation (the baseline's data)."""
        cap = min(self.args.train_samples, 1000)  # synthetic: faces; real datasets: the first images
        plain, _ = build_dataset(self.args.dataset, "train", input_size=self.input_size, num_samples=cap,
                                 limit=min(cap, self.args.limit or cap), seed=self.args.seed,
                                 data_root=self.args.data_root, skip_bad=self.args.skip_bad, crop=self.args.crop)
        loader = self._loader(plain, batch_size=64)
        return np.concatenate([b["landmarks"].numpy() for b in loader])


def main(argv=None) -> dict:
    args = parse_args(argv)
    keep_freed_memory()
    trainer = Trainer(args)
    main_process = trainer.dist.is_main
    try:
        if args.resume:
            path = Path(args.resume) if args.resume != "auto" else trainer.out / "last.pt"
            if path.exists() or args.resume != "auto":
                trainer.load_state(load_checkpoint(path, map_location=trainer.device))
                if main_process:
                    print(f"resumed from {path} at epoch {trainer.epoch}, step {trainer.step}", file=sys.stderr)
        if main_process:
            print(f"awing: training {args.preset} on {args.dataset} ({trainer.device}"
                  f"{f', {trainer.dist.world_size} processes' if trainer.dist.enabled else ''}); "
                  f"run folder {trainer.out}", file=sys.stderr)
        t0 = time.perf_counter()
        try:
            trainer.fit()
        except NonFiniteLoss as exc:
            raise SystemExit(f"error: {exc}")
        if args.max_steps is not None and trainer.epoch < args.epochs:
            if main_process:
                print(f"stopped at step {trainer.step} (--max-steps); resume with --resume {trainer.out / 'last.pt'}")
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
    main()
