"""Writes OUTDIR/report.md from what scripts/gpu_check.sh has done so far.

Reads OUTDIR/steps.tsv (one line per finished step: name, kind, status, seconds, log file) and,
from the run's scratch folder (--work, default OUTDIR): plan.tsv (the steps to run), env.json
(GPU, driver, torch, CUDA, tools), build_info.json, the benchmark JSON (loss.json, targets.json,
train_step.json), ncu_kernels.txt and logs/<step>.log. Every step that did not pass has its log's
first error lines and tail pasted in, since only report.md, steps.tsv and bundle.tar.gz come
back from the GPU machine. Each missing input becomes a line saying so: the report is written
after every step, and a failing or killed run is when it matters most.

The speed goals it checks (issue "CUDA path"; never asserted by a test):
  loss, N = 32, float32, fwd+bwd: fused <= 1.5x the streaming floor, >= 10x faster than eager,
  >= 3x faster than torch.compile;  targets of 64 faces: <= 2x the time of writing their bytes.

    python scripts/gpu_report.py OUTDIR [--work DIR] [--state running|finished|killed]
                                 [--budget S] [--elapsed S] [--exit-status N] [--rehearsal]
"""
import argparse
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


NOT_FAILURES = ("pass", "unavailable", "pending", "not reached")
FIRST_ERRORS = re.compile(r"\berror\b|^FAILED |^ERROR |Traceback|Invalid __|hazard|uninitiali[sz]ed|AssertionError", re.I)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
FENCE = "`" * 3


def read_steps(out: Path, work: Path, state: str) -> list:
    """[name, kind, status, seconds, log] per step: the finished ones from steps.tsv, then the
    planned ones not finished yet (pending, or not reached when the run ended early)."""
    try:
        lines = (out / "steps.tsv").read_text().splitlines()
    except OSError:
        lines = []
    rows = [(line.split("\t") + [""] * 5)[:5] for line in lines if line.strip()]
    done = {r[0] for r in rows}
    try:
        plan = (work / "plan.tsv").read_text().splitlines()
    except OSError:
        plan = []
    for line in plan:
        name, kind = (line.split("\t") + [""])[:2]
        if name and name not in done:
            rows.append([name, kind, "pending" if state == "running" else "not reached", "", "-"])
    return rows


def steps_section(rows) -> str:
    if not rows:
        return "steps.tsv is missing: gpu_check.sh did not run its steps."
    shown = []
    for name, kind, status, seconds, log in rows:
        result = ("PASS" if status == "pass" else status if status in ("unavailable", "pending", "not reached")
                  else f"**{status.upper()}**")
        shown.append([name, kind, result, seconds, f"`{log}`" if log and log != "-" else "-"])
    return table(["step", "kind", "result", "seconds", "log"], shown)


def clean(line: str, width: int = 300) -> str:
    line = ANSI.sub("", line).rstrip().replace(FENCE, "'''")
    return line if len(line) <= width else line[:width] + " ..."


def log_excerpt(path: Path, tail: int) -> str:
    """The log's first error-looking lines (a compiler's first `error:` is the one to fix) and its tail."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log: {path.name} is missing)"
    text = ""
    if len(lines) > tail:
        errors = list(dict.fromkeys(clean(line) for line in lines[:-tail] if FIRST_ERRORS.search(line)))[:12]
        if errors:
            text += f"First error lines:\n\n{FENCE}\n" + "\n".join(errors) + f"\n{FENCE}\n\n"
        text += f"Last {tail} of {len(lines)} lines:"
    else:
        text += f"The whole log ({len(lines)} line{'s' if len(lines) != 1 else ''}):"
    return text + f"\n\n{FENCE}\n" + "\n".join(clean(line) for line in lines[-tail:]) + f"\n{FENCE}"


def failures_section(rows, work: Path) -> str:
    """Each step that ran and did not pass, with its log pasted in (unavailable ones briefly)."""
    parts, behind_probe = [], {}
    for name, kind, status, seconds, log in rows:
        if status == "pass" or not log or log == "-":
            continue
        if status == "unavailable" and log != f"logs/{name}.log":  # its tool's probe was refused
            behind_probe.setdefault(log, []).append(name)
        elif not (work / log).exists():
            parts.append(f"### {name}: {status}\n\n(no log: `{log}` is missing)")
        else:
            parts.append(f"### {name}: {status}\n\n" + log_excerpt(work / log, 12 if status == "unavailable" else 40))
    for log, names in behind_probe.items():
        parts.append(f"### {', '.join(names)}: unavailable\n\nNot run: their tool's probe (`{log}`, above) found it unavailable here.")
    return "\n\n".join(parts) if parts else "None: every step that ran passed."


def loss_section(data) -> str:
    if data is None:
        return "loss.json is missing (the loss benchmark did not run or failed)."
    rows = [[r.get("loss", "awing"), r["device"], r["N"], r["pass"], fmt(r["median_ms"]["fused"]), fmt(r["median_ms"]["eager"]),
             fmt(r["median_ms"]["compiled"]), fmt(r["median_ms"]["floor"]), fmt(r["speedup_vs_eager"], ".2f"),
             fmt(r["speedup_vs_compiled"], ".2f"), fmt(r["fused_over_floor"], ".2f")] for r in data["results"]]
    text = table(["loss", "device", "N", "pass", "fused ms", "eager ms", "compiled ms", "floor ms", "eager/fused",
                  "compiled/fused", "fused/floor"], rows)
    goal = [r for r in data["results"] if r["device"] == "cuda" and r["N"] == 32 and r["pass"] == "fwd+bwd"
            and r.get("loss", "awing") == "awing"]
    if not goal:
        return text + "\n\nNo CUDA N = 32 fwd+bwd row: the goals were not measured."
    r = goal[0]
    goal_rows = [[label, f"{op} {bound}", fmt(r[key], ".2f"), verdict(r[key], op, bound)]
                 for key, op, bound, label in LOSS_GOALS]
    return text + "\n\nGoals (the AWing loss, CUDA, N = 32, float32, forward + backward):\n\n" + table(
        ["ratio", "goal", "measured", "verdict"], goal_rows)


def targets_section(data) -> str:
    if data is None:
        return "targets.json is missing (the targets benchmark did not run or failed)."
    rows = []
    for r in data["results"]:
        parts = r.get("parts_median_ms", {})
        rows.append([r["impl"], r["device"], r["batch"], fmt(r["timing"]["median_ms"]), fmt(parts.get("heatmaps")),
                     fmt(parts.get("boundary")), fmt(parts.get("loss_map_mask")), fmt(r.get("write_floor_ms")),
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


def run_line(state: str, rows, budget, elapsed, exit_status) -> str:
    done = sum(1 for r in rows if r[2] not in ("pending", "not reached", "killed"))
    clock = f"{elapsed} s" + (f" of the {budget} s budget" if budget else "")
    if state == "running":
        return f"in progress: {done} of {len(rows)} steps done after {clock} (this report is rewritten after every step)"
    if state == "killed":
        return f"**KILLED** after {clock}, {done} of {len(rows)} steps done; the others are listed as not reached"
    meaning = {0: "no step failed", 1: "a correctness step failed", 2: "a benchmark or profile step failed"}
    status = f"; exit status {exit_status} ({meaning.get(exit_status, 'see gpu_check.sh')})" if exit_status is not None else ""
    return f"finished in {clock}{status}"


def result_line(rows) -> str:
    failed = [r[0] for r in rows if r[2] not in NOT_FAILURES and not r[2].startswith("skipped")]
    skipped = {}
    for name, kind, status, *_ in rows:
        if status.startswith("skipped"):
            skipped.setdefault(status, []).append(name)
    unavailable = [r[0] for r in rows if r[2] == "unavailable"]
    text = "FAILED: " + ", ".join(failed) if failed else "all steps passed" if not skipped else "no step failed"
    for status, names in skipped.items():
        text += f"; {status}: {', '.join(names)}"
    if unavailable:
        text += f" (unavailable on this machine, counted as neither: {', '.join(unavailable)})"
    return text


def bundle_section(work: Path) -> str:
    names = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file() and not p.name.endswith(".pt"))
    listing = ", ".join(f"`{n}`" for n in names[:60]) + (f" and {len(names) - 60} more" if len(names) > 60 else "")
    return ("OUTDIR holds three files: this `report.md`, `steps.tsv` and `bundle.tar.gz` "
            "(`tar -xzf bundle.tar.gz`), which holds " + (listing or "nothing yet") + ".")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where report.md goes (and steps.tsv is)")
    parser.add_argument("--work", type=Path, default=None, help="the run's scratch folder (default: OUTDIR)")
    parser.add_argument("--state", choices=("running", "finished", "killed"), default="finished")
    parser.add_argument("--budget", type=int, default=None)
    parser.add_argument("--elapsed", type=int, default=None)
    parser.add_argument("--exit-status", type=int, default=None)
    parser.add_argument("--rehearsal", action="store_true", help="the steps were stand-ins (gpu_check.sh --rehearse)")
    args = parser.parse_args(argv)
    out, work = args.out, args.work or args.out
    env = load_json(work / "env.json") or {}
    build_info = load_json(work / "build_info.json") or env.get("build_info", "n/a (the build step did not pass)")
    rows = read_steps(out, work, args.state)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    elapsed = "?" if args.elapsed is None else args.elapsed
    lines = [f"# awing GPU check: {env.get('gpu', 'unknown GPU')}, {when}", ""]
    if args.rehearsal:
        lines += ["**REHEARSAL** (`gpu_check.sh --rehearse`): every step was a short stand-in and no GPU ran; "
                  "the numbers below are made up.", ""]
    lines += [
        f"- run: {run_line(args.state, rows, args.budget, elapsed, args.exit_status)}",
        f"- result: {result_line(rows)}",
        f"- GPU: {env.get('gpu', 'n/a')} (compute capability {env.get('capability', 'n/a')}, "
        f"{env.get('sms', 'n/a')} SMs, {env.get('memory_gib', 'n/a')} GiB, driver {env.get('driver', 'n/a')}); "
        f"{env.get('cpus', 'n/a')} CPUs",
        f"- torch {env.get('torch', 'n/a')}, CUDA runtime {env.get('cuda', 'n/a')}, nvcc {env.get('nvcc', 'n/a')}, "
        f"Python {env.get('python', 'n/a')}",
        f"- compute-sanitizer: {env.get('compute_sanitizer', 'n/a')}; ncu: {env.get('ncu', 'n/a')}",
        f"- awing_ext build: {build_info}",
        "",
        "## Steps",
        "",
        steps_section(rows),
        "",
        "## Steps that did not pass",
        "",
        failures_section(rows, work),
        "",
        "## The loss (`python -m benchmarks.bench_loss --devices cuda`)",
        "",
        loss_section(load_json(work / "loss.json")),
        "",
        "## Training targets (`python -m benchmarks.bench_targets --devices cuda`)",
        "",
        targets_section(load_json(work / "targets.json")),
        "",
        "## A training step (`python -m benchmarks.bench_train_step --devices cuda`)",
        "",
        train_step_section(load_json(work / "train_step.json")),
        "",
        "## Kernel profile (ncu, one call each: `scripts/gpu_profile_kernels.py`)",
        "",
        ncu_section(work / "ncu_kernels.txt"),
        "",
        "## What came back",
        "",
        bundle_section(work),
        "",
    ]
    # Written beside and renamed over the last one, so a run killed meanwhile still leaves a whole report.
    tmp = out / ".report.md.tmp"
    tmp.write_text("\n".join(lines))
    tmp.replace(out / "report.md")
    print(f"wrote {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
