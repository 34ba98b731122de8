"""An ablation's numbers: each finished run's results.json read back, NME / FR / AUC aggregated as
mean +- std over seeds per variant (and for the mean-shape baseline), then shown as a Markdown
table, written as ablation.json and drawn as ablation.png.

The std is the sample standard deviation (ddof = 1) over the seeds that finished: with one seed
it is undefined (null in the JSON, the mean alone in the table). A variant with fewer finished
seeds than the grid's shows ``(n=K of N)`` beside its label. The baseline is fitted per seed (the
mean shape of that seed's training faces): its row averages each seed's value over the variants
that have it, then aggregates over the seeds like a variant.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Sequence

from ..engine.cli import strict_json
from .grid import Grid
from .results import BASELINE, METRICS, RESULTS_NAME, load_results
from .runner import plan_runs

__all__ = ["METRICS", "BASELINE", "summary", "collect", "unreadable_results", "row_label", "format_table",
           "format_report", "write_json", "plot_nme"]


def summary(values: Sequence[float]) -> dict:
    """{"mean", "std" (sample, ddof=1; None below 2 values), "n", "values"} of the values that are
    not None; mean None when there are none."""
    values = [float(v) for v in values if v is not None]
    n = len(values)
    mean = sum(values) / n if n else None
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return {"mean": mean, "std": std, "n": n, "values": values}


def _row(name: str, label: str, per_seed: Dict[int, dict], expected: int) -> dict:
    row = {"name": name, "label": label, "n": len(per_seed), "expected": expected}
    for key in METRICS:
        row[key] = summary([per_seed[s].get(key) for s in sorted(per_seed)])
    return row


def collect(grid: Grid, out: Path) -> dict:
    """The ablation's numbers from the runs' folders under `out`: per run, per variant, baseline."""
    runs, rows, baselines = [], [], {}
    threshold = None
    specs = plan_runs(grid, out)
    for variant in grid.variants:
        per_seed = {}
        for spec in (s for s in specs if s.variant == variant.name):
            data, unreadable = load_results(spec.folder)
            results = (data or {}).get("results", {})
            runs.append({"variant": spec.variant, "seed": spec.seed, "folder": str(spec.folder),
                         "finished": data is not None, "unreadable": unreadable, "model": results.get("model"),
                         BASELINE: results.get(BASELINE)})
            if data is None:
                continue
            threshold = threshold if threshold is not None else data.get("threshold")
            per_seed[spec.seed] = results["model"]
            if results.get(BASELINE):
                baselines.setdefault(spec.seed, []).append(results[BASELINE])
        rows.append(_row(variant.name, variant.label, per_seed, len(grid.seeds)))
    seed_baselines = {s: {k: summary([b[k] for b in found])["mean"] for k in METRICS}
                      for s, found in baselines.items()}
    return {"title": grid.title, "grid": str(grid.path), "seeds": list(grid.seeds),
            "threshold": threshold if threshold is not None else 0.1,
            "runs": runs, "variants": rows,
            "baseline": _row(BASELINE, BASELINE, seed_baselines, len(grid.seeds))}


def unreadable_results(numbers: dict) -> List[str]:
    """One line per run whose results.json exists but cannot be read (results.py): it counts as
    unfinished, and the next start of the ablation evaluates or runs it again."""
    return [f"ablation: {Path(r['folder']) / RESULTS_NAME} is unreadable ({r['unreadable']}): "
            f"{r['variant']}/seed-{r['seed']} counts as unfinished; start the ablation again (without "
            f"--report-only) to evaluate it anew" for r in numbers["runs"] if r["unreadable"]]


def _cell(stat: dict, scale: float, digits: int) -> str:
    if stat["mean"] is None:
        return "-"
    text = f"{stat['mean'] * scale:.{digits}f}"
    return text if stat["std"] is None else f"{text} ± {stat['std'] * scale:.{digits}f}"


def _percent(threshold: float) -> str:
    return f"{threshold * 100:g}"


def row_label(row: dict) -> str:
    """The row's label, with ``(n=K of N)`` when seeds are missing."""
    return row["label"] if row["n"] == row["expected"] else f"{row['label']} (n={row['n']} of {row['expected']})"


def format_table(numbers: dict) -> str:
    """The Markdown table: one row per variant in grid order, then the mean-shape baseline."""
    p = _percent(numbers["threshold"])
    header = ["variant", "NME %", f"FR@{p} %", f"AUC@{p}"]
    lines = []
    for row in numbers["variants"] + [numbers["baseline"]]:
        lines.append([row_label(row), _cell(row["nme"], 100, 2), _cell(row["fr"], 100, 2), _cell(row["auc"], 1, 4)])
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]

    def line(cells: List[str]) -> str:   # the label left-aligned, the numbers right-aligned
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in lines])


def format_report(numbers: dict) -> str:
    """A heading (the grid's title), what the numbers are, and the table."""
    seeds = numbers["seeds"]
    caption = (f"Test split, mean ± std over {len(seeds)} seed{'s' if len(seeds) != 1 else ''} "
               f"({', '.join(map(str, seeds))}); NME and FR in %, AUC up to {_percent(numbers['threshold'])} % NME.")
    return f"### {numbers['title']}\n\n{caption}\n\n{format_table(numbers)}"


def write_json(numbers: dict, grid: Grid, command: List[str], path: Path) -> None:
    """ablation.json: the numbers, the grid file's tables and the command that ran it."""
    Path(path).write_text(strict_json({**numbers, "grid_tables": grid.raw, "command": command}, indent=2) + "\n")


def plot_nme(numbers: dict, path: Path) -> None:
    """ablation.png: NME per variant (mean, error bars = std over seeds), the baseline as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = numbers["variants"]
    means = [r["nme"]["mean"] * 100 if r["nme"]["mean"] is not None else math.nan for r in rows]
    stds = [r["nme"]["std"] * 100 if r["nme"]["std"] is not None else 0.0 for r in rows]
    fig = Figure(figsize=(max(4.0, 1.0 + 0.9 * len(rows)), 4.0), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    positions = list(range(len(rows)))
    ax.bar(positions, means, yerr=stds, capsize=4, color="tab:blue", alpha=0.85)
    for x, m in zip(positions, means):
        if not math.isnan(m):
            ax.annotate(f"{m:.2f}", (x, m), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8)
    base = numbers["baseline"]["nme"]["mean"]
    if base is not None:
        ax.axhline(base * 100, color="tab:red", linestyle="--", label=f"{BASELINE} ({base * 100:.2f} %)")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xticks(positions)
    ax.set_xticklabels([row_label(r) for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("test NME (%)")
    ax.set_title(f"{numbers['title']} (mean ± std over {len(numbers['seeds'])} seed(s))", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(str(path))
