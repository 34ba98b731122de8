"""Model benchmark: the size and cost of every --model at one preset (default small: 128 input,
68 landmarks, 32x32 heatmaps, the boundary channel on).

For each model: parameters; forward FLOPs of one image (torch.utils.flop_counter.FlopCounterMode,
eval mode; it counts a multiply-add as 2 FLOPs and only convolutions and matrix products, so
BN, activations and resizes are left out); and the CPU time of one training step at batch 16,
median of --repeat steps after --warmup: forward, awing_ext's Adaptive Wing loss over the outputs
on targets rendered beforehand, backward and an AdamW step (what training.train times per step,
minus data and target rendering: benchmarks/bench_train_step.py splits those out). The minimum is
printed beside the median: on a shared machine it is the better estimate of the uncontended step.

    python -m benchmarks.models [--quick] [--preset small] [--models fan unet ...] [--batch-size 16]
"""
import argparse
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import awing_ext
from training.core.codec import HeatmapCodec
from training.data.registry import build_dataset
from training.models import create_model, model_config
from training.models.inputs import model_input

from .common import add_common_arguments, environment, format_environment, markdown_table, time_ms, write_json

MODELS = ("fan", "hrnet-w18", "unet", "dla34", "timm:resnet18", "timm:convnext_tiny")


def forward_flops(model: torch.nn.Module, size: int) -> int:
    """FLOPs of one (1, 3, size, size) forward pass in eval mode."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, size, size))
    model.train()
    return counter.get_total_flops()


def measure(name: str, preset: str, batch_size: int, repeat: int, warmup: int) -> dict:
    torch.manual_seed(0)
    config = model_config(name, preset)
    model = create_model(config)
    params = sum(p.numel() for p in model.parameters())
    flops = forward_flops(model, config.input_size)
    dataset, scheme = build_dataset("synthetic", "train", input_size=config.input_size, num_samples=batch_size)
    batch = torch.utils.data.default_collate([dataset[i] for i in range(batch_size)])
    codec = HeatmapCodec.for_model(config, scheme)
    target, weight = codec.encode(batch["landmarks"], batch["visible"])
    images = model_input(batch["image"], config)
    criterion = awing_ext.AdaptiveWingLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        loss = sum(criterion(out, target, weight) for out in model(images))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    timing = time_ms(step, "cpu", repeat=repeat, warmup=warmup)
    return {"model": name, "backbone": getattr(config, "backbone", "") or "-", "preset": preset,
            "input_size": config.input_size, "outputs": len(model(images[:1])), "params": params,
            "forward_flops": flops, "batch_size": batch_size, "step": timing.to_dict()}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.models", description=__doc__.splitlines()[0])
    add_common_arguments(p, "benchmarks/results/models.json", "benchmarks/results/models_quick.json")
    p.add_argument("--preset", default="small", choices=("tiny", "small", "paper"), help="input size and size class")
    p.add_argument("--models", nargs="+", default=list(MODELS), help="--model names (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=16, help="images per training step")
    args = p.parse_args(argv)
    if args.devices and args.devices != ["cpu"]:
        p.error("this benchmark times the CPU only")
    args.repeat = args.repeat if args.repeat is not None else (2 if args.quick else 5)
    args.warmup = args.warmup if args.warmup is not None else 1 if args.quick else 2
    args.json = args.json or Path("benchmarks/results/models_quick.json" if args.quick
                                  else "benchmarks/results/models.json")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    env = environment()
    print(format_environment(env) + "\n")
    results = [measure(m, args.preset, args.batch_size, args.repeat, args.warmup)
               for m in (args.models[:2] if args.quick else args.models)]
    rows = [[r["model"], r["backbone"], str(r["outputs"]), f"{r['params'] / 1e6:.2f} M",
             f"{r['forward_flops'] / 1e9:.3f}", f"{r['step']['median_ms']:.0f}", f"{r['step']['min_ms']:.0f}"]
            for r in results]
    print(markdown_table(["model", "backbone", "outputs", "parameters", f"GFLOPs (1 image, {results[0]['input_size']} px)",
                          f"CPU train step ms (batch {args.batch_size}), median", "min"], rows))
    print(f"\nPreset {args.preset}; step = forward + AWing loss + backward + AdamW step, median of {args.repeat} "
          f"after {args.warmup} warm-up; FLOPs as FlopCounterMode counts them (a multiply-add = 2).")
    write_json(args.json, {"benchmark": "models", "environment": env, "repeat": args.repeat, "warmup": args.warmup,
                           "results": results})
    print(f"raw results: {args.json}")


if __name__ == "__main__":
    main()
