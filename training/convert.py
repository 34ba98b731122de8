"""Convert a checkpoint of the authors' released AWing model (protossw512/AdaptiveWingLoss, e.g.
WFLW_4HG.pth) into an awing checkpoint that every tool here reads.

    python -m training.convert WFLW_4HG.pth runs/released/awing.pt [--end-relu]

The released FAN and this package's `paper` preset have the same tensors in the same order
(conv1 = stem CoordConv, bn1, conv2..conv4 = the stem ConvBlocks; per stack i: m{i} = the
hourglass with its CoordConv and b1_/b2_/b2_plus_/b3_ blocks, top_m_{i}, conv_last{i}, bn_end{i},
l{i} = the K + 1 output channels, boundary last; bl{i}, al{i} = the merges). One thing differs:
the released CoordConv appends its coordinate channels as (row coordinate, column coordinate,
radius, masked row, masked column) where ours are (x = column, y = row, radius, masked x,
masked y), so the converter swaps those input-channel slices of every CoordConv weight.

The released model takes RGB pixel / 255 (no mean/std), so the converted model config records
input_mean 0 and input_std 1 (train, evaluate, detect and export all follow it); `end_relu` is an
option of the released model that the weights do not reveal (the published WFLW model: off).
Accepted inputs: a bare state_dict or {"state_dict": ...}, keys with or without the "module."
prefix of nn.DataParallel. Stacks, landmark count, width and hourglass depth are read from the
tensors; a file that is not such a checkpoint gets an error naming what was expected. The
checkpoint stores the landmark scheme: ``--scheme FILE`` (a model trained on your own points),
else the built-in one of the landmark count (68, 98, 29).
"""
import argparse
import os
import re
import sys
from pathlib import Path
from typing import Dict, List

import torch

import awing_ext
from awing_ext.scheme_file import scheme_to_dict
from awing_ext.schemes import get_scheme

from .core.cli import UsageError, run
from .core.checkpoint import describe_load_error, save_checkpoint
from .models import FANConfig, build_model

__all__ = ["ReleasedCheckpointError", "released_state_dict", "released_keys", "convert_state_dict", "convert", "main"]

DATASET_FOR_POINTS = {98: "wflw", 68: "300w", 29: "cofw"}
RELEASED_INPUT_SIZE = 256  # the released CoordConvs hard-code 256 x 256 inputs (64 x 64 heatmaps)


class ReleasedCheckpointError(ValueError):
    """The file is not a checkpoint of the released AWing FAN."""


def released_state_dict(obj) -> Dict[str, torch.Tensor]:
    """The tensors of a loaded released checkpoint: a bare state_dict or {"state_dict": ...},
    with any "module." prefix (nn.DataParallel) removed."""
    sd = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    if not isinstance(sd, dict) or not sd:
        raise ReleasedCheckpointError(f"expected a state_dict (a dict of tensors) or a dict with a 'state_dict' "
                                      f"entry, got {type(obj).__name__}")
    out = {}
    for key, value in sd.items():
        if not isinstance(key, str) or not torch.is_tensor(value):
            raise ReleasedCheckpointError(f"expected tensor entries, got {key!r}: {type(value).__name__}")
        out[key[len("module."):] if key.startswith("module.") else key] = value
    return out


def _conv_block_keys(prefix: str, downsample: bool) -> List[str]:
    keys = []
    for i in (1, 2, 3):
        keys += [f"{prefix}.bn{i}.{p}" for p in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]
        keys.append(f"{prefix}.conv{i}.weight")
    if downsample:
        keys += [f"{prefix}.downsample.0.{p}" for p in ("weight", "bias", "running_mean", "running_var",
                                                         "num_batches_tracked")]
        keys.append(f"{prefix}.downsample.2.weight")
    return keys


def _bn_keys(prefix: str) -> List[str]:
    return [f"{prefix}.{p}" for p in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]


def _hourglass_keys(prefix: str, level: int) -> List[str]:
    keys = _conv_block_keys(f"{prefix}.b1_{level}", False) + _conv_block_keys(f"{prefix}.b2_{level}", False)
    keys += _hourglass_keys(prefix, level - 1) if level > 1 else _conv_block_keys(f"{prefix}.b2_plus_{level}", False)
    return keys + _conv_block_keys(f"{prefix}.b3_{level}", False)


def released_keys(num_stacks: int, depth: int) -> List[str]:
    """Every tensor name of the released FAN, in the order its modules are registered."""
    keys = ["conv1.conv.weight", "conv1.conv.bias"] + _bn_keys("bn1")
    keys += _conv_block_keys("conv2", True) + _conv_block_keys("conv3", False) + _conv_block_keys("conv4", True)
    for i in range(num_stacks):
        keys += [f"m{i}.coordconv.conv.weight", f"m{i}.coordconv.conv.bias"] + _hourglass_keys(f"m{i}", depth)
        keys += _conv_block_keys(f"top_m_{i}", False)
        keys += [f"conv_last{i}.weight", f"conv_last{i}.bias"] + _bn_keys(f"bn_end{i}") + [f"l{i}.weight", f"l{i}.bias"]
        if i < num_stacks - 1:
            keys += [f"bl{i}.weight", f"bl{i}.bias", f"al{i}.weight", f"al{i}.bias"]
    return keys


def released_config(sd: Dict[str, torch.Tensor], end_relu: bool = False) -> FANConfig:
    """The FANConfig of the released model whose tensors are `sd`."""
    for key in ("conv1.conv.weight", "l0.weight", "m0.coordconv.conv.weight", "top_m_0.conv1.weight"):
        if key not in sd:
            raise ReleasedCheckpointError(f"not a released AWing FAN checkpoint: no tensor {key!r} (expected names "
                                          f"such as conv1.conv.weight, m0.coordconv.conv.weight, top_m_0.*, l0.weight; "
                                          f"found e.g. {sorted(sd)[:4]})")
    num_stacks = len({int(m.group(1)) for k in sd if (m := re.match(r"m(\d+)\.coordconv\.conv\.weight$", k))})
    levels = [int(m.group(1)) for k in sd if (m := re.match(r"m0\.b1_(\d+)\.", k))]
    out_channels, width = sd["l0.weight"].shape[:2]
    num_landmarks = int(out_channels) - 1
    if num_landmarks < 1 or not levels:
        raise ReleasedCheckpointError(f"not a released AWing FAN checkpoint: l0.weight has shape "
                                      f"{tuple(sd['l0.weight'].shape)}, hourglass levels {sorted(set(levels))}")
    return FANConfig(num_landmarks=num_landmarks, num_stacks=num_stacks, width=int(width), depth=max(levels),
                     input_size=RELEASED_INPUT_SIZE, boundary=True, coordconv=True, end_relu=end_relu,
                     input_mean=0.0, input_std=1.0)


def _swap_coordinate_slices(weight: torch.Tensor, in_channels: int, with_boundary: bool) -> torch.Tensor:
    """Released (row, col, r[, row_b, col_b]) coordinate order -> ours (x = col, y = row, r[, x_b, y_b])."""
    order = list(range(weight.shape[1]))
    order[in_channels], order[in_channels + 1] = in_channels + 1, in_channels
    if with_boundary:
        order[in_channels + 3], order[in_channels + 4] = in_channels + 4, in_channels + 3
    return weight[:, order].contiguous()


def convert_state_dict(sd: Dict[str, torch.Tensor], end_relu: bool = False) -> tuple:
    """(FANConfig, this package's state_dict) of a released checkpoint's tensors."""
    cfg = released_config(sd, end_relu)
    expected = released_keys(cfg.num_stacks, cfg.depth)
    # checkpoints saved before PyTorch 0.4.1 have no BatchNorm counters: they are unused in eval
    missing = [k for k in expected if k not in sd and not k.endswith("num_batches_tracked")]
    unexpected = sorted(set(sd) - set(expected))
    if missing or unexpected:
        raise ReleasedCheckpointError(
            f"the tensors do not form a released FAN with {cfg.num_stacks} stacks, depth {cfg.depth} and "
            f"{cfg.num_landmarks} landmarks: missing {missing[:5]}{' ...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
    model = build_model(cfg)
    ours = model.state_dict()
    if len(ours) != len(expected):
        raise ReleasedCheckpointError(f"internal: {len(ours)} tensors in awing's FAN, {len(expected)} in the released one")
    converted = {}
    for (our_key, our_value), key in zip(ours.items(), expected):
        value = sd.get(key, torch.zeros((), dtype=torch.long))
        if tuple(value.shape) != tuple(our_value.shape):
            raise ReleasedCheckpointError(f"{key} has shape {tuple(value.shape)}; a FAN of width {cfg.width} with "
                                          f"{cfg.num_landmarks} landmarks needs {tuple(our_value.shape)} ({our_key})")
        converted[our_key] = value.to(our_value.dtype).clone()
    converted["stem_conv.conv.weight"] = _swap_coordinate_slices(converted["stem_conv.conv.weight"], 3, False)
    for i in range(cfg.num_stacks):
        key = f"stacks.{i}.entry.conv.weight"
        converted[key] = _swap_coordinate_slices(converted[key], cfg.width, with_boundary=i > 0)
    model.load_state_dict(converted)  # strict: every tensor has found its place
    return cfg, converted


def convert(src, dst, end_relu: bool = False, scheme=None) -> dict:
    """Reads the released checkpoint `src`, writes the awing checkpoint `dst`; returns it.
    `scheme` (a scheme file, a built-in name or a LandmarkScheme): the model's points (default:
    the built-in scheme of its landmark count, when there is one)."""
    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f"released checkpoint not found: {src}")
    if Path(dst).exists() and os.path.samefile(src, dst) or Path(dst).resolve() == src.resolve():
        raise ReleasedCheckpointError(f"the output {dst} is the input {src}: converting would overwrite the released "
                                      f"checkpoint; give another output path")
    try:
        obj = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ReleasedCheckpointError(f"{src} is not a readable PyTorch checkpoint: "
                                      f"{describe_load_error(exc)}") from None
    cfg, state = convert_state_dict(released_state_dict(obj), end_relu)
    dataset = DATASET_FOR_POINTS.get(cfg.num_landmarks, "folder")
    if scheme is not None or cfg.num_landmarks in DATASET_FOR_POINTS:
        scheme = get_scheme(cfg.num_landmarks if scheme is None else scheme)
        if scheme.num_points != cfg.num_landmarks:
            raise ReleasedCheckpointError(f"the scheme {scheme.name!r} has {scheme.num_points} points, the released "
                                          f"model predicts {cfg.num_landmarks}")
    checkpoint = {
        "model": state, "model_config": dict(vars(cfg)),
        # what evaluate/detect read from a run's config: the dataset the model's points follow
        "config": {"dataset": dataset, "seed": 0, "data_root": None, "preset": "paper", "sigma": 1.0,
                   "crop": "landmarks", "skip_bad": False, "limit": None, "train_samples": None},
        "source": {"converted_from": str(src), "format": "protossw512/AdaptiveWingLoss FAN",
                   "num_stacks": cfg.num_stacks, "num_landmarks": cfg.num_landmarks, "end_relu": end_relu},
        "awing_version": awing_ext.__version__,
    }
    if scheme is not None:
        checkpoint["scheme"] = scheme_to_dict(scheme)
    save_checkpoint(checkpoint, dst)
    return checkpoint


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.convert", description=__doc__.split("\n\n")[0])
    p.add_argument("src", help="the released checkpoint (e.g. WFLW_4HG.pth)")
    p.add_argument("dst", help="where to write the awing checkpoint (.pt)")
    p.add_argument("--end-relu", action="store_true",
                   help="the released model was trained with end_relu (ReLU on the heatmaps); WFLW_4HG.pth was not")
    p.add_argument("--scheme", default=None, metavar="FILE|NAME",
                   help="the model's landmark scheme, stored in the checkpoint (a scheme file, docs/datasets.md; "
                        "default: the built-in scheme of its landmark count, 68, 98 or 29)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        ckpt = convert(args.src, args.dst, args.end_relu, args.scheme)
    except (FileNotFoundError, ReleasedCheckpointError) as exc:
        raise UsageError(str(exc)) from exc
    src = ckpt["source"]
    print(f"converted {args.src}: {src['num_stacks']} stacks, {src['num_landmarks']} landmarks "
          f"({ckpt['config']['dataset']}), input pixel/255 -> {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
