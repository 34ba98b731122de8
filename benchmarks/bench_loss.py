"""Benchmark of the heatmap losses: the fused awing_ext ops against plain PyTorch.

--losses picks the losses (default: awing; "all": awing, mse, l1, smooth_l1, wing, focal), each
the fused op against its pure-PyTorch reference in awing_ext.reference, all with the weighted
loss map (W = 10, the ops' default) and their default parameters.

What is measured, for each device present (CPU; CUDA when available), batch size N (default 8
and 32) and pass, on float32 heatmaps of shape (N, 69, 64, 64) with the op's default parameters
(reduction="mean"):

* pass "fwd":     loss = f(pred, target), pred not requiring a gradient (evaluation).
* pass "fwd+bwd": loss = f(pred, target); loss.backward(), pred a leaf requiring a gradient;
                  pred.grad is reset to None (untimed) before every run.

Implementations f:

* fused:    awing_ext.adaptive_wing_loss, mse_loss, ... (one kernel pass computes loss and gradient).
* eager:    awing_ext.reference.adaptive_wing_loss_reference, mse_loss_reference, ... (pure
            PyTorch, autograd).
* compiled: torch.compile(reference), default mode, static shapes, compiled afresh for every
            case and warmed up so compilation is excluded (the first call's time is in the JSON
            as compile_s; Inductor's on-disk cache can make it short); n/a if compilation fails
            or with --no-compile.
* floor:    torch.add(pred, target, out=buf), a streaming pass that reads two and writes one
            tensor of the heatmap size: a memory-bandwidth floor for any loss kernel. The same
            op is the floor of both passes, although the fused fwd+bwd also writes the saved
            gradient and scales it in backward, so it moves more data than the floor.

Inputs are realistic heatmaps: targets are sigma-1.5 Gaussians at random sub-pixel landmark
centres; predictions are Gaussians of random amplitude in [0.7, 1] at centres displaced by a
normal 1-pixel localisation error, plus 0.05 * randn noise, so that both branches of the loss
(|d| < theta and |d| >= theta) occur. The seed is fixed. Before timing, the fused loss and
gradient are checked against the eager reference (rtol 1e-4); a mismatch aborts the run.

Timing (benchmarks.common.time_ms): median wall-clock time of --repeat runs after --warmup
untimed runs, time.perf_counter between device synchronisations.

Run from the repository root:  python -m benchmarks.bench_loss [--quick] [--help]
"""
import argparse
import sys
import time
from pathlib import Path

import torch

import awing_ext
from awing_ext import reference

from .common import (add_common_arguments, environment, fmt, format_environment, markdown_table,
                     ratio, resolve_devices, time_ms, write_json)

CHANNELS = 69                 # landmarks per face (68 points + 1 boundary channel)
HEIGHT = WIDTH = 64           # heatmap resolution
SIGMA = 1.5                   # Gaussian radius of a landmark, in pixels
LOCALISATION_ERROR = 1.0      # std of the predicted peak's displacement, in pixels
NOISE = 0.05                  # std of the additive prediction noise
THETA = 0.5                   # the loss's branch point (the op's default)
SEED = 0
RTOL = 1e-4
PASSES = ("fwd", "fwd+bwd")
IMPLEMENTATIONS = ("fused", "eager", "compiled", "floor")
# --losses name -> (fused op, pure-PyTorch reference)
LOSSES = {
    "awing": (awing_ext.adaptive_wing_loss, reference.adaptive_wing_loss_reference),
    "mse": (awing_ext.mse_loss, reference.mse_loss_reference),
    "l1": (awing_ext.l1_loss, reference.l1_loss_reference),
    "smooth_l1": (awing_ext.smooth_l1_loss, reference.smooth_l1_loss_reference),
    "wing": (awing_ext.wing_loss, reference.wing_loss_reference),
    "focal": (awing_ext.focal_heatmap_loss, reference.focal_heatmap_loss_reference),
}
DEFAULT_JSON = "benchmarks/results/loss.json"
QUICK_JSON = "benchmarks/results/loss_quick.json"
FLOOR_NOTE = ("floor = torch.add(pred, target, out=buf): one streaming pass reading two and writing "
              "one (N, C, H, W) float32 tensor; the same op is the floor of the fwd and fwd+bwd rows.")


def log(message: str) -> None:
    """Progress on stderr, so that stdout carries only the results."""
    print(message, file=sys.stderr, flush=True)


def render_heatmaps(centres: torch.Tensor, height: int, width: int, sigma: float) -> torch.Tensor:
    """Unit-peak Gaussians at `centres` (..., 2) given as (row, column): shape (..., height, width)."""
    rows = torch.arange(height, dtype=torch.float32)[:, None] - centres[..., 0, None, None]
    cols = torch.arange(width, dtype=torch.float32)[None, :] - centres[..., 1, None, None]
    return torch.exp(-(rows ** 2 + cols ** 2) / (2 * sigma ** 2))


def make_inputs(n: int) -> tuple:
    """(pred, target) on the CPU, float32 (n, CHANNELS, HEIGHT, WIDTH), from a fixed seed."""
    gen = torch.Generator().manual_seed(SEED)
    centres = torch.rand(n, CHANNELS, 2, generator=gen) * torch.tensor([HEIGHT - 1.0, WIDTH - 1.0])
    target = render_heatmaps(centres, HEIGHT, WIDTH, SIGMA)
    pred_centres = centres + LOCALISATION_ERROR * torch.randn(n, CHANNELS, 2, generator=gen)
    amplitude = 0.7 + 0.3 * torch.rand(n, CHANNELS, 1, 1, generator=gen)
    pred = amplitude * render_heatmaps(pred_centres, HEIGHT, WIDTH, SIGMA)
    pred = pred + NOISE * torch.randn(pred.shape, generator=gen)
    return pred, target


def check_correctness(loss: str, pred: torch.Tensor, target: torch.Tensor, device: str) -> None:
    """Abort unless the fused loss and its gradient match the eager reference."""
    results = {}
    for name, fn in zip(("fused", "eager"), LOSSES[loss]):
        leaf = pred.detach().clone().requires_grad_(True)
        value = fn(leaf, target)
        value.backward()
        results[name] = (value.detach(), leaf.grad)
    (fused_loss, fused_grad), (eager_loss, eager_grad) = results["fused"], results["eager"]
    if not torch.allclose(fused_loss, eager_loss, rtol=RTOL):
        raise SystemExit(f"error: {loss} on {device}, N={pred.shape[0]}, the fused loss {fused_loss.item():.8g} "
                         f"does not match the eager reference {eager_loss.item():.8g} (rtol {RTOL}); "
                         "not benchmarking a wrong kernel")
    grad_atol = RTOL * eager_grad.abs().max().item()
    if not torch.allclose(fused_grad, eager_grad, rtol=RTOL, atol=grad_atol):
        worst = (fused_grad - eager_grad).abs().max().item()
        raise SystemExit(f"error: {loss} on {device}, N={pred.shape[0]}, the fused gradient differs from the "
                         f"eager reference by up to {worst:.3g} (rtol {RTOL}, atol {grad_atol:.3g}); "
                         "not benchmarking a wrong kernel")


def make_step(fn, pred: torch.Tensor, target: torch.Tensor, pass_: str) -> tuple:
    """(step, setup) timing `pass_` of loss function `fn`; setup (untimed) resets the gradient."""
    if pass_ == "fwd":
        return (lambda: fn(pred, target)), None
    leaf = pred.detach().clone().requires_grad_(True)

    def step():
        fn(leaf, target).backward()

    def setup():
        leaf.grad = None

    return step, setup


def compile_reference(loss: str, pred: torch.Tensor, target: torch.Tensor, pass_: str) -> tuple:
    """(compiled reference, compile seconds) for this case, or (None, None) if compilation fails."""
    torch._dynamo.reset()
    compiled = torch.compile(LOSSES[loss][1], dynamic=False)
    step, setup = make_step(compiled, pred, target, pass_)
    start = time.perf_counter()
    try:
        if setup is not None:
            setup()
        step()
    except Exception as exc:  # noqa: BLE001 - any compiler failure only removes this column
        first_line = str(exc).strip().split("\n", 1)[0]
        log(f"warning: torch.compile of the reference failed on {pred.device.type}, N={pred.shape[0]}, "
            f"{pass_}; 'compiled' is n/a: {type(exc).__name__}: {first_line}")
        return None, None
    return compiled, time.perf_counter() - start


def bench_case(loss: str, device: str, pred: torch.Tensor, target: torch.Tensor, pass_: str, args) -> dict:
    """Time every implementation on one (loss, device, N, pass) case."""
    n = pred.shape[0]
    functions = dict(zip(("fused", "eager"), LOSSES[loss]))
    compile_s = None
    if not args.no_compile:
        log(f"[{loss} {device} N={n} {pass_}] compiling the reference ...")
        functions["compiled"], compile_s = compile_reference(loss, pred, target, pass_)
    timings = {}
    for name, fn in functions.items():
        if fn is None:
            continue
        log(f"[{loss} {device} N={n} {pass_}] timing {name} ...")
        step, setup = make_step(fn, pred, target, pass_)
        timings[name] = time_ms(step, device, repeat=args.repeat, warmup=args.warmup, setup=setup)
    out = torch.empty_like(pred)
    timings["floor"] = time_ms(lambda: torch.add(pred, target, out=out), device,
                               repeat=args.repeat, warmup=args.warmup)
    median = {name: timings[name].median_ms if name in timings else None for name in IMPLEMENTATIONS}
    return {
        "loss": loss, "device": device, "N": n, "C": CHANNELS, "H": HEIGHT, "W": WIDTH, "dtype": "float32", "pass": pass_,
        "median_ms": median,
        "speedup_vs_eager": ratio(median["eager"], median["fused"]),
        "speedup_vs_compiled": ratio(median["compiled"], median["fused"]),
        "fused_over_floor": ratio(median["fused"], median["floor"]),
        "compile_s": compile_s,
        "timings": {name: timings[name].to_dict() if name in timings else None for name in IMPLEMENTATIONS},
    }


def results_table(results: list) -> str:
    headers = ["loss", "device", "N", "pass", "fused ms", "eager ms", "compiled ms", "floor ms",
               "speed-up vs eager", "speed-up vs compiled", "fused/floor"]
    rows = [[r["loss"], r["device"], r["N"], r["pass"], *(fmt(r["median_ms"][name], ".3f") for name in IMPLEMENTATIONS),
             fmt(r["speedup_vs_eager"], ".2f"), fmt(r["speedup_vs_compiled"], ".2f"),
             fmt(r["fused_over_floor"], ".2f")] for r in results]
    return markdown_table(headers, rows)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_loss",
                                     description=__doc__.splitlines()[0])
    add_common_arguments(parser, DEFAULT_JSON, QUICK_JSON)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None,
                        help="batch sizes N to run (default: 8 32; 8 with --quick)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile column")
    parser.add_argument("--losses", default="awing",
                        help=f"comma-separated losses to time, or 'all' ({','.join(LOSSES)}); default awing")
    args = parser.parse_args(argv)
    args.losses = list(LOSSES) if args.losses == "all" else [name.strip() for name in args.losses.split(",")]
    unknown = [name for name in args.losses if name not in LOSSES]
    if unknown:
        parser.error(f"--losses: unknown {', '.join(unknown)}; choose from {', '.join(LOSSES)} or all")
    if args.repeat is None:
        args.repeat = 5 if args.quick else 30
    if args.warmup is None:
        args.warmup = 1 if args.quick else 3
    if args.batch_sizes is None:
        args.batch_sizes = [8] if args.quick else [8, 32]
    if args.json is None:
        args.json = Path(QUICK_JSON if args.quick else DEFAULT_JSON)
    if args.repeat < 1 or args.warmup < 0 or min(args.batch_sizes) < 1:
        parser.error("--repeat and --batch-sizes must be >= 1, --warmup >= 0")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    devices = resolve_devices(args.devices)
    env = {**environment(), "awing_ext_build": awing_ext.build_info()}
    print(format_environment(env))
    print(f"shape (N, {CHANNELS}, {HEIGHT}, {WIDTH}) float32, N in {args.batch_sizes}; devices: {', '.join(devices)}; "
          f"median of {args.repeat} runs after {args.warmup} warm-up runs\n")

    inputs, results = {}, []
    for n in args.batch_sizes:
        pred, target = make_inputs(n)
        linear = ((pred - target).abs() >= THETA).float().mean().item()
        if not 0 < linear < 1:
            raise SystemExit(f"error: the N={n} inputs do not exercise both loss branches")
        inputs[n] = {"fraction_abs_diff_ge_theta": linear, "target_max": target.max().item()}
        for device in devices:
            pred_d, target_d = pred.to(device), target.to(device)
            for loss in args.losses:
                check_correctness(loss, pred_d, target_d, device)
                for pass_ in PASSES:
                    results.append(bench_case(loss, device, pred_d, target_d, pass_, args))

    print(results_table(results))
    print(f"\nTimes: median wall-clock ms. Speed-up = other / fused; fused/floor = fused / floor.\n{FLOOR_NOTE}")
    print("Pixels with |pred - target| >= theta (linear branch): "
          + ", ".join(f"N={n}: {s['fraction_abs_diff_ge_theta']:.3%}" for n, s in inputs.items()))

    write_json(args.json, {
        "benchmark": "heatmap_losses",
        "environment": env,
        "config": {"losses": args.losses, "devices": devices, "batch_sizes": args.batch_sizes, "repeat": args.repeat,
                   "warmup": args.warmup, "compile": not args.no_compile, "C": CHANNELS, "H": HEIGHT,
                   "W": WIDTH, "dtype": "float32", "sigma": SIGMA, "localisation_error": LOCALISATION_ERROR,
                   "noise": NOISE, "seed": SEED, "correctness_rtol": RTOL},
        "notes": {"floor": FLOOR_NOTE,
                  "timing": "wall clock (time.perf_counter) per run between device synchronisations; "
                            "fwd+bwd runs reset pred.grad to None untimed before each run"},
        "inputs": {str(n): s for n, s in inputs.items()},
        "results": results,
    })
    print(f"raw results: {args.json}")


if __name__ == "__main__":
    main()
