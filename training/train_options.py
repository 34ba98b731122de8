"""train's options: the argparse definitions, the --config file merge, and the rules a resumed run's
options follow (resume_options: the checkpoint's values, except RESUMABLE ones given anew)."""
import argparse
import os
import sys

from .core.cli import float_above, float_at_least, float_in, fraction, int_at_least, int_in, worker_count
from .data.registry import DATASETS
from .engine.criterion import INTEGRAL_LOSSES, LOSSES
from .engine.loss_options import LOSS_FAMILY
from .engine.loss_ranges import check_loss_ranges, float32_scale
from .engine.schedule import lr_milestones
from .models import MODEL_NAMES, PRESETS, model_option
from .train_config import RUN_ONLY, OptionTable, RaisingParser, config_path_in, config_to_argv, load_config

DESCRIPTION = ("Train a face-alignment model (FAN, HRNet, U-Net, DLA or a timm backbone) with the Adaptive Wing "
               "loss or another heatmap loss.")

# options a resumed run may give with another value than its checkpoint's (the others would make
# the checkpoint's optimiser, schedule, data or model disagree with config.json)
RESUMABLE = ("epochs", "max_steps", "workers", "log_every", "checkpoint_every", "no_progress", "device", "data_root",
             "compile", "channels_last", "annotations", "val_annotations", "test_annotations")
PER_INVOCATION = ("max_steps",)   # not inherited from the checkpoint when not given again


class _Recorder:
    """A parser or argument group whose add_argument records the option in an OptionTable; with
    `given_only`, options get no default (a parse holds only what was given)."""

    def __init__(self, target, table: OptionTable, given_only: bool):
        self.target, self.table, self.given_only = target, table, given_only

    def add_argument(self, *flags, **kwargs):
        action = self.table.add(self.target, *flags, **kwargs)
        if self.given_only:
            action.default = argparse.SUPPRESS
        return action

    def add_argument_group(self, *args, **kwargs) -> "_Recorder":
        return _Recorder(self.target.add_argument_group(*args, **kwargs), self.table, self.given_only)


def build_parser(parser_class=argparse.ArgumentParser, given_only: bool = False, **kwargs) -> argparse.ArgumentParser:
    """train's options (parser_class: config.RaisingParser checks a --config file's values). The
    parser's ``options`` (an OptionTable) records each option as it is added; with `given_only`
    a parse returns only the options given."""
    parser = parser_class(prog="python -m training.train", description=DESCRIPTION,
                          formatter_class=argparse.ArgumentDefaultsHelpFormatter, **kwargs)
    parser.options = OptionTable()
    p = _Recorder(parser, parser.options, given_only)
    p.add_argument("--config", default=None, metavar="FILE",
                   help="a recipe (configs/*.toml) or a run's config.json to repeat it; options given on "
                        "the command line override its values (training/train_config.py)")
    add_data_options(p)
    add_model_options(p)
    add_loss_options(p)
    add_run_options(p)
    return parser


def add_data_options(p) -> None:
    """--dataset ... and the augmentation group."""
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="synthetic", choices=DATASETS, help="training data")
    g.add_argument("--data-root", default=None, help="dataset folder (real datasets; see README); coco: the folder "
                                                     "the annotations' image file_names are relative to")
    g.add_argument("--scheme", default=None, metavar="FILE|NAME",
                   help="the landmark scheme: a scheme file (.toml: point names, flip pairs, normaliser, curves, "
                        "[from.X] mappings; docs/datasets.md) or 68, 98, 29; default: the dataset's (coco: the "
                        "category's keypoint names). Another count than the data's reads it through [from.X]")
    g.add_argument("--annotations", default=None, metavar="FILE",
                   help="coco: the COCO keypoints file of the training images (without the two below, its faces "
                        "are split as a folder's: every tenth image is the test split)")
    g.add_argument("--val-annotations", default=None, metavar="FILE", help="coco: the validation split's file")
    g.add_argument("--test-annotations", default=None, metavar="FILE", help="coco: the test split's file")
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


def add_model_options(p) -> None:
    """The model and optimisation groups."""
    g = p.add_argument_group("model (training/models/registry.py, docs/models.md)")
    g.add_argument("--model", type=model_option, default="fan", metavar="|".join(MODEL_NAMES),
                   help="network: the paper's stacked-hourglass FAN, HRNetV2-W18, a small U-Net, DLA-34, or any "
                        "timm backbone with an upsampling head (hrnet-w18, dla34 and timm:NAME need timm: "
                        "pip install 'awing[models]')")
    g.add_argument("--preset", default="small", choices=sorted(PRESETS),
                   help="input size and size class (paper 256, small 128, tiny 64 px) of every --model")
    g.add_argument("--stacks", type=int_at_least(1), default=None, help="fan: override the preset's hourglass stacks")
    g.add_argument("--width", type=int_at_least(8), default=None,
                   help="override the preset's channel width (fan: the hourglasses'; others: the head's; unet: "
                        "its first level's)")
    g.add_argument("--depth", type=int_at_least(1), default=None, help="fan: override the preset's hourglass depth")
    g.add_argument("--no-boundary", action="store_true",
                   help="no boundary heatmap channel (fan: nor the boundary-coordinate channels it feeds)")
    g.add_argument("--no-coordconv", action="store_true",
                   help="fan: plain convolutions instead of CoordConv (no coordinate channels at all)")
    g.add_argument("--pretrained-backbone", action="store_true",
                   help="hrnet-w18, dla34, timm:NAME: start the backbone from timm's ImageNet weights (fetched "
                        "from the Hugging Face hub, or its cache)")
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


def add_loss_options(p) -> None:
    """The loss group: the heatmap loss, its parameters, the loss map and the integral term
    (training/engine/criterion.py)."""
    g = p.add_argument_group("loss (training/engine/criterion.py; each loss's parameters apply to it only; their "
                             "ranges are what the float32 kernels compute with: training/engine/loss_ranges.py)")
    g.add_argument("--loss", default="awing", choices=tuple(LOSSES),
                   help="heatmap loss on every stack: Adaptive Wing, Wing, MSE, L1, smooth L1 or CornerNet's focal "
                        "loss (focal: the model's heatmaps are logits)")
    g.add_argument("--loss-map-weight", type=float32_scale, default=10.0, metavar="W",
                   help="weighted loss map W * M + 1, M = 3x3 dilation of the target > --loss-map-threshold; 0 = off "
                        "(at most float32's 3.4e38: W + 1 is a float32 in the kernels)")
    g.add_argument("--loss-map-threshold", type=float_in(0, 1), default=0.2, help="threshold of the loss map's mask")
    for spec in LOSS_FAMILY.values():   # each loss's parameters, from the one list (loss_options.py)
        for param in spec.params:
            g.add_argument(f"--{param.flag}", type=param.type, default=param.default, help=param.help)
    g.add_argument("--integral-weight", type=float32_scale, default=0.0, metavar="LAMBDA",
                   help="add LAMBDA x a coordinate loss on each stack's integral landmarks (AWing + Integral: the "
                        "relu(h) expectation in a ceil(3 sigma) window around the argmax); 0 = off (at most "
                        "float32's 3.4e38: it multiplies a float32 loss)")
    g.add_argument("--integral-loss", default="l1", choices=INTEGRAL_LOSSES,
                   help="the coordinate loss: l1, or wing (omega 2.5, epsilon 0.5 heatmap px)")


def add_run_options(p) -> None:
    """The run group: folder, checkpoints, resume, device, seed, logging."""
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


def parse_options(argv=None) -> tuple:
    """(options, given): the options, a --config file's values first, then the command line's
    (which win), and the dests the command line or its config file set (what a resumed run keeps
    from the user rather than from the checkpoint). The file is read once and the arguments are
    parsed once."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from_file: list = []
    path = config_path_in(argv)
    if path:
        checker = build_parser(RaisingParser, source=path)
        from_file = config_to_argv(load_config(path), checker.options, path)
        checker.parse_args(from_file)  # a bad value is an error naming the file
    parser = build_parser(given_only=True)
    parser.format_help = build_parser().format_help   # --help shows the defaults
    given = vars(parser.parse_args(from_file + argv))
    args = argparse.Namespace(**{**parser.options.defaults(), **given})
    problem = check_loss_ranges(args)
    if problem:
        parser.error(problem)
    return args, set(given)


def parse_args(argv=None) -> argparse.Namespace:
    """The options (parse_options' first half)."""
    return parse_options(argv)[0]


def given_options(argv=None) -> set:
    """The options the command line or its --config file sets, as dests (parse_options' second half)."""
    return parse_options(argv)[1]


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
