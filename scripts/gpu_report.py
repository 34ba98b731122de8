"""Writes OUTDIR/report.md from what scripts/gpu_check.sh left in OUTDIR.

Reads: steps.tsv (one line per step: name, kind, status, seconds, log file), env.json (GPU,
driver, torch, CUDA, build_info), the benchmark JSON (loss.json, targets.json, train_step.json)
and ncu_kernels.txt. Each missing input becomes a line saying so: the report is written even
when steps failed, which is when it matters most.

The speed goals it checks (issue "CUDA path"; never asserted by a test):
  loss, N = 32, float32, fwd+bwd: fused <= 1.5x the streaming floor, >= 10x faster than eager,
  >= 3x faster than torch.compile;  targets of 64 faces: <= 2x the time of writing their bytes.

    python scripts/gpu_report.py OUTDIR
"""
import datetime
import json
import re
import sys
from pathlib import Path

LOSS_GOALS = (("fused_over_floor", "<=", 1.5, "fused / streaming floor"),
              ("speedup_vs_eager", ">=", 10.0, "eager / fused"),
              ("speedup_vs_compiled", ">=", 3.0, "compiled / fused"))
TARGETS_GOAL = ("over_write_floor", "<=", 2.0, "targets / writing their bytes once")
NCU_METRICS = ("Duration", "DRAM Throughput", "Memory Throughput", "Compute (SM) Throughput",
               "L1/TEX Hit Rate", "L2 Hit Rate", "Achieved Occupancy", "Registers Per Thread")


def load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def table(headers, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value, spec=".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def verdict(value, op, bound) -> str:
    if value is None:
        return "not measured"
    ok = value <= bound if op == "<=" else value >= bound
    return "met" if ok else "**missed**"


def steps_section(out: Path) -> tuple:
    rows, failed = [], []
    try:
        lines = (out / "steps.tsv").read_text().splitlines()
    except OSError:
        return "steps.tsv is missing: gpu_check.sh did not run its steps.", ["steps.tsv"]
    for line in lines:
        name, kind, status, seconds, log = (line.split("\t") + [""] * 5)[:5]
        rows.append([name, kind, "PASS" if status == "pass" else f"**{status.upper()}**", seconds, f"`{log}`"])
        if status != "pass":
            failed.append(name)
    return table(["step", "kind", "result", "seconds", "log"], rows), failed


def loss_section(data) -> str:
    if data is None:
        return "loss.json is missing (the loss benchmark did not run or failed)."
    rows = [[r["device"], r["N"], r["pass"], fmt(r["median_ms"]["fused"]), fmt(r["median_ms"]["eager"]),
             fmt(r["median_ms"]["compiled"]), fmt(r["median_ms"]["floor"]), fmt(r["speedup_vs_eager"], ".2f"),
             fmt(r["speedup_vs_compiled"], ".2f"), fmt(r["fused_over_floor"], ".2f")] for r in data["results"]]
    text = table(["device", "N", "pass", "fused ms", "eager ms", "compiled ms", "floor ms", "eager/fused",
                  "compiled/fused", "fused/floor"], rows)
    goal = [r for r in data["results"] if r["device"] == "cuda" and r["N"] == 32 and r["pass"] == "fwd+bwd"]
    if not goal:
        return text + "\n\nNo CUDA N = 32 fwd+bwd row: the goals were not measured."
    r = goal[0]
    goal_rows = [[label, f"{op} {bound}", fmt(r[key], ".2f"), verdict(r[key], op, bound)]
                 for key, op, bound, label in LOSS_GOALS]
    return text + "\n\nGoals (CUDA, N = 32, float32, forward + backward):\n\n" + table(
        ["ratio", "goal", "measured", "verdict"], goal_rows)


def targets_section(data) -> str:
    if data is None:
        return "targets.json is missing (the targets benchmark did not run or failed)."
    rows = []
    for r in data["results"]:
        parts = r.get("parts_median_ms", {})
        rows.append([r["impl"], r["device"], r["batch"], fmt(r["timing"]["median_ms"]), fmt(parts.get("heatmaps")),
                     fmt(parts.get("boundary")), fmt(parts.get("weight_map")), fmt(r.get("write_floor_ms")),
                     fmt(r.get("over_write_floor"), ".2f"), fmt(r["samples_per_s"], ",.0f")])
    text = table(["pipeline", "device", "batch", "ms / call", "heatmaps ms", "boundary ms", "weight map ms",
                  "write floor ms", "x floor", "samples/s"], rows)
    goal = [r for r in data["results"] if r["device"] == "cuda" and r["batch"] == 64]
    if not goal:
        return text + "\n\nNo CUDA batch-64 row: the goal was not measured."
    key, op, bound, label = TARGETS_GOAL
    value = goal[0].get(key)
    return text + f"\n\nGoal: {label} {op} {bound} at batch 64: measured {fmt(value, '.2f')}, {verdict(value, op, bound)}."


def train_step_section(data) -> str:
    if data is None:
        return "train_step.json is missing (the training-step benchmark did not run or failed)."
    rows = []
    for r in data["results"]:
        m, s = r["median_ms"], r["share"]
        rows.append([r["device"], r["preset"], r.get("amp", "fp32"), r["batch_size"], f"{m['data']:.1f}"]
                    + [f"{m[k]:.2f} ({100 * s[k]:.1f}%)" for k in ("targets", "forward", "loss", "backward")]
                    + [f"{r['compute_ms']:.1f}"])
    return table(["device", "preset", "amp", "batch", "data ms (1 worker)", "targets ms", "forward ms", "loss ms",
                  "backward+step ms", "step ms"], rows)


def ncu_section(path: Path) -> str:
    """Per profiled kernel, the headline metrics of ncu's SpeedOfLight/Memory/Occupancy sections."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "ncu_kernels.txt is missing (ncu did not run)."
    kernels, current = [], None
    for line in text.splitlines():
        head = re.match(r"\s{0,4}(\S.*?)\s+\(\d+, \d+, \d+\)x\(\d+, \d+, \d+\)", line)
        if head:
            name = re.search(r"([A-Za-z_]\w*)\s*(<.*?>)?\s*\(", head.group(1))
            current = {"kernel": ((name.group(1) + (name.group(2) or "")) if name else head.group(1))[:120]}
            kernels.append(current)
            continue
        if current is None:
            continue
        for metric in NCU_METRICS:
            m = re.match(rf"\s+{re.escape(metric)}\s+(\S+)\s+([\d.,]+)\s*$", line)
            if m and metric not in current:
                current[metric] = f"{m.group(2)} {m.group(1)}"
    if not kernels:
        return "ncu ran but reported no kernel (see ncu_kernels.txt)."
    rows = [[k["kernel"]] + [k.get(m, "") for m in NCU_METRICS] for k in kernels]
    return table(["kernel"] + list(NCU_METRICS), rows)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python scripts/gpu_report.py OUTDIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    env = load_json(out / "env.json") or {}
    steps, failed = steps_section(out)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# awing GPU check: {env.get('gpu', 'unknown GPU')}, {when}",
        "",
        f"- GPU: {env.get('gpu', 'n/a')} (compute capability {env.get('capability', 'n/a')}, "
        f"{env.get('sms', 'n/a')} SMs, driver {env.get('driver', 'n/a')})",
        f"- torch {env.get('torch', 'n/a')}, CUDA runtime {env.get('cuda', 'n/a')}, nvcc {env.get('nvcc', 'n/a')}, "
        f"Python {env.get('python', 'n/a')}",
        f"- awing_ext build: {env.get('build_info', 'n/a')}",
        f"- result: {'all steps passed' if not failed else 'FAILED: ' + ', '.join(failed)}",
        "",
        "## Steps",
        "",
        steps,
        "",
        "## The loss (`python -m benchmarks.bench_loss --devices cuda`)",
        "",
        loss_section(load_json(out / "loss.json")),
        "",
        "## Training targets (`python -m benchmarks.bench_targets --devices cuda`)",
        "",
        targets_section(load_json(out / "targets.json")),
        "",
        "## A training step (`python -m benchmarks.bench_train_step --devices cuda`)",
        "",
        train_step_section(load_json(out / "train_step.json")),
        "",
        "## Kernel profile (ncu, one call each: `scripts/gpu_profile_kernels.py`)",
        "",
        ncu_section(out / "ncu_kernels.txt"),
        "",
    ]
    (out / "report.md").write_text("\n".join(lines))
    print(f"wrote {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
