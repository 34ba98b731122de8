"""Training-step benchmark: where the time of one step goes.

One step of `python -m training.train` split into its phases, each timed on its own between
device synchronisations (median of --repeat runs after --warmup):
  * data:     building one batch in-process (synthetic face generation, crop/augment warp,
              collation), i.e. what one data-loader worker spends per batch;
  * targets:  awing_ext.render_heatmaps + render_boundaries on the training device (the loss-map
              mask is computed inside the loss kernel);
  * forward:  the FAN forward pass (under autocast with --amp bf16/fp16, as training.train);
  * loss:     awing_ext's fused Adaptive Wing loss over every stack, on float32 copies of the
              outputs as in training.train (forward of the loss; its backward is a scaled copy,
              timed with the model's backward);
  * backward: loss.backward() and the optimiser step.
The share column is each phase over the sum of the compute phases (targets + forward + loss +
backward): with data in worker processes, that sum is the step time on the training device.

Presets: "small" on the CPU, "paper" on CUDA (or --preset); --amp fp32 bf16 and --batch-sizes 16 32
give one row per combination.
    python -m benchmarks.bench_train_step [--quick] [--devices cpu cuda] [--preset paper] [--amp fp32 bf16]
"""
import argparse
from pathlib import Path

import torch

import awing_ext
from training.data.transforms import AugmentConfig
from training.data.registry import build_dataset
from training.core.codec import HeatmapCodec
from training.models import build_model
from training.models.inputs import normalise_images

from .common import add_common_arguments, environment, format_environment, markdown_table, resolve_devices, time_ms, write_json

PRESET_FOR = {"cpu": ("small", 16), "cuda": ("paper", 16)}
PHASES = ("data", "targets", "forward", "loss", "backward")
AMP_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def measure(device: str, preset: str, batch_size: int, repeat: int, warmup: int, amp: str = "fp32",
            compiled: bool = False) -> dict:
    torch.manual_seed(0)
    amp_dtype = AMP_DTYPES[amp]
    model = build_model(preset).to(device)
    net = torch.compile(model) if compiled else model  # compiled in the untimed warm-up calls
    cfg = model.config
    dataset, scheme = build_dataset("synthetic", "train", input_size=cfg.input_size, num_samples=batch_size,
                                    augment=AugmentConfig())
    codec = HeatmapCodec.for_model(cfg, scheme)
    criterion = awing_ext.AdaptiveWingLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def make_batch():
        return torch.utils.data.default_collate([dataset[i] for i in range(batch_size)])

    batch = make_batch()
    images = normalise_images(batch["image"].to(device))
    landmarks, visible = batch["landmarks"].to(device), batch["visible"].to(device)
    target, weight = codec.encode(landmarks, visible)
    state = {}

    scaler = torch.amp.GradScaler(device, enabled=amp_dtype == torch.float16)

    def forward():
        with torch.autocast(device, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            state["outputs"] = net(images)

    def loss():
        state["loss"] = sum(criterion(o.float(), target, weight) for o in state["outputs"])

    def backward():
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(state["loss"]).backward()
        scaler.step(optimizer)
        scaler.update()

    def fresh_loss():  # untimed: a new graph for each backward
        forward()
        loss()

    timings = {
        "data": time_ms(make_batch, "cpu", repeat=max(3, repeat // 4), warmup=1),
        "targets": time_ms(lambda: codec.encode(landmarks, visible), device, repeat=repeat, warmup=warmup),
        "forward": time_ms(forward, device, repeat=repeat, warmup=warmup),
        "loss": time_ms(loss, device, repeat=repeat, warmup=warmup, setup=forward),
        "backward": time_ms(backward, device, repeat=repeat, warmup=warmup, setup=fresh_loss),
    }
    medians = {k: t.median_ms for k, t in timings.items()}
    compute = sum(medians[k] for k in PHASES[1:])
    return {"device": device, "preset": preset, "amp": amp, "compiled": compiled, "batch_size": batch_size,
            "input_size": cfg.input_size,
            "median_ms": medians, "compute_ms": compute,
            "share": {k: medians[k] / compute for k in PHASES[1:]},
            "timings": {k: t.to_dict() for k, t in timings.items()}}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_train_step", description=__doc__.splitlines()[0])
    add_common_arguments(p, "benchmarks/results/train_step.json", "benchmarks/results/train_step_quick.json")
    p.add_argument("--batch-size", "--batch-sizes", dest="batch_sizes", type=int, nargs="+", default=None,
                   help="per-device batch sizes, one row each (default: 16)")
    p.add_argument("--preset", default=None, help="model preset (default: small on the CPU, paper on CUDA)")
    p.add_argument("--amp", nargs="+", default=["fp32"], choices=sorted(AMP_DTYPES),
                   help="autocast dtypes of the forward pass, one row each (default: fp32)")
    p.add_argument("--compile", action="store_true",
                   help="also measure each case with torch.compile(model) (as train --compile), and report the ratio")
    args = p.parse_args(argv)
    args.repeat = args.repeat if args.repeat is not None else (3 if args.quick else 20)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    args.json = args.json or Path("benchmarks/results/train_step_quick.json" if args.quick
                                  else "benchmarks/results/train_step.json")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    repeat, warmup, out = args.repeat, args.warmup, args.json
    env = {**environment(), "awing_ext_build": awing_ext.build_info()}
    print(format_environment(env) + "\n")
    results = []
    for device in resolve_devices(args.devices):
        preset, bs = PRESET_FOR[device]
        for amp in args.amp:
            for batch_size in args.batch_sizes or [bs]:
                for compiled in ((False, True) if args.compile else (False,)):
                    results.append(measure(device, args.preset or preset, batch_size, repeat, warmup, amp, compiled))
    rows = []
    for r in results:
        m, s = r["median_ms"], r["share"]
        eager = next((e for e in results if not e["compiled"] and all(
            e[k] == r[k] for k in ("device", "preset", "amp", "batch_size"))), None)
        speedup = f"{eager['compute_ms'] / r['compute_ms']:.2f}x" if r["compiled"] and eager else "-"
        rows.append([r["device"], r["preset"], r["amp"], "yes" if r["compiled"] else "no", str(r["batch_size"]),
                     f"{m['data']:.1f}"] + [f"{m[k]:.1f} ({100 * s[k]:.1f}%)" for k in PHASES[1:]]
                    + [f"{r['compute_ms']:.1f}", speedup])
    print(markdown_table(["device", "preset", "amp", "compile", "batch", "data ms (1 worker)", "targets ms",
                          "forward ms", "loss ms", "backward+step ms", "step ms", "eager / compiled"], rows))
    print("\nMedian ms per phase; (share of the step on the training device: targets + forward + loss + backward).")
    write_json(out, {"benchmark": "train_step", "environment": env, "repeat": repeat, "warmup": warmup,
                     "results": results})
    print(f"raw results: {out}")


if __name__ == "__main__":
    main()
