"""An ablation's numbers: each finished run's results.json read back, then the statistics of
stats.py (per variant: mean and 95 % Student-t interval over seeds of NME, FR and AUC; per seed
paired differences against the grid's baseline variant with a verdict; did-not-learn), shown as a
Markdown table, written as ablation.json and drawn as ablation.png.

* The mean shape (every face given its training split's average shape) is fitted per seed: a
  seed's value is the same for every variant (same seed, same data), so its row averages each
  seed's value over the variants that have it.
* A variant whose NME is not below the mean shape's, at its mean or at any one seed, **did not
  learn**: the table says so and gives
  it neither a rank nor a verdict (its difference from the baseline would measure a failed
  optimisation, not the ablated component). A run whose results hold a non-finite value (null in
  results.json) counts the same way.
* **Learning rates.** A grid variant with an lr list stands for one variant per value (grid.py).
  The report then selects, per such family, the lr with the lowest mean best *validation* NME
  over seeds (results.json's best_val_nme), says which, and compares the selected members on the
  *test* split; the other members are listed with their validation NME only, so the test split
  never chooses.
* ``low conf. %`` is the mean over seeds of the share of test points whose heatmap peak is below
  0.2 (results.json's low_confidence: flat planes, training/core/codec.py).
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Dict, List, Optional

from ..core.cli import strict_json
from . import stats
from .grid import Grid
from .results import BASELINE, METRICS, RESULTS_NAME, load_results
from .runner import plan_runs

__all__ = ["METRICS", "BASELINE", "collect", "unreadable_results", "select_learning_rates", "format_table",
           "format_report", "write_json", "plot_nme"]


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read_runs(grid: Grid, out: Path) -> List[dict]:
    """One record per planned run: its variant, family, seed, options and (when finished) numbers."""
    by_name = {v.name: v for v in grid.variants}
    runs = []
    for spec in plan_runs(grid, out):
        data, unreadable = load_results(spec.folder)
        results = (data or {}).get("results", {})
        variant = by_name[spec.variant]
        runs.append({"variant": spec.variant, "family": variant.family, "seed": spec.seed, "folder": str(spec.folder),
                     "options": variant.options, "finished": data is not None, "unreadable": unreadable,
                     "model": results.get("model"), BASELINE: results.get(BASELINE),
                     "low_confidence": (data or {}).get("low_confidence"),
                     "best_val_nme": (data or {}).get("best_val_nme"), "threshold": (data or {}).get("threshold")})
    return runs


def _per_seed(runs: List[dict], variant: str) -> Dict[int, dict]:
    return {r["seed"]: r["model"] for r in runs if r["finished"] and r["variant"] == variant}


def _mean(values) -> Optional[float]:
    values = [v for v in values if _finite(v)]
    return sum(values) / len(values) if values else None


def select_learning_rates(grid: Grid, runs: List[dict]) -> Dict[str, dict]:
    """Per family of more than one variant (an lr list): {"chosen": the member with the lowest mean
    best validation NME over its finished seeds, "val_nme": {member: that mean or None}}. A family
    none of whose members recorded a validation NME keeps its first member (and says so)."""
    families: Dict[str, List[str]] = {}
    for v in grid.variants:
        families.setdefault(v.family, []).append(v.name)
    selection = {}
    for family, members in families.items():
        if len(members) < 2:
            continue
        val = {m: _mean(r["best_val_nme"] for r in runs if r["finished"] and r["variant"] == m) for m in members}
        known = {m: v for m, v in val.items() if v is not None}
        chosen = min(known, key=known.get) if known else members[0]
        selection[family] = {"chosen": chosen, "val_nme": val,
                             "note": None if known else "no run recorded a validation NME: the first lr is kept"}
    return selection


def _compared(grid: Grid, selection: Dict[str, dict]) -> List[str]:
    """The variants the table compares: one per family (the selected lr where there is a choice)."""
    names, seen = [], set()
    for v in grid.variants:
        if v.family in seen:
            continue
        seen.add(v.family)
        names.append(selection[v.family]["chosen"] if v.family in selection else v.name)
    return names


def collect(grid: Grid, out: Path, confidence: float = 0.95) -> dict:
    """The ablation's numbers from the runs' folders under `out` (module docstring)."""
    runs = _read_runs(grid, out)
    labels = {v.name: v.label for v in grid.variants}
    family_of = {v.name: v.family for v in grid.variants}
    selection = select_learning_rates(grid, runs)
    compared = _compared(grid, selection)
    reference = next(n for n in compared if family_of[n] == grid.baseline)
    shape_per_seed = {}
    for seed in grid.seeds:
        value = _mean((r[BASELINE] or {}).get("nme") for r in runs if r["finished"] and r["seed"] == seed)
        if value is not None:
            shape_per_seed[seed] = value
    numbers = {"title": grid.title, "grid": str(grid.path), "seeds": list(grid.seeds),
               "threshold": next((r["threshold"] for r in runs if _finite(r["threshold"])), 0.1),
               "baseline_variant": reference, "confidence": confidence, "runs": runs,
               "learning_rates": selection, "labels": {n: labels[n] for n in compared}, "statistics": None,
               "non_finite": {}, "low_confidence": {}, "expected_seeds": len(grid.seeds), "note": None}
    per_variant = {}
    for name in compared:
        seeds = _per_seed(runs, name)
        bad = sorted(s for s, r in seeds.items() if not all(_finite(r.get(m)) for m in METRICS))
        if bad:   # a collapsed run: no number to summarise, so the variant did not learn
            numbers["non_finite"][name] = bad
            seeds = {s: r for s, r in seeds.items() if s not in bad}
        per_variant[name] = seeds
        fractions = [(r["low_confidence"] or {}).get("fraction") for r in runs
                     if r["finished"] and r["variant"] == name]
        numbers["low_confidence"][name] = _mean(fractions)
    if not shape_per_seed:
        numbers["note"] = "no finished run: nothing to summarise"
        return numbers
    numbers["statistics"] = stats.variant_table(per_variant, shape_per_seed, reference, confidence)
    for row in numbers["statistics"]["variants"]:
        if row["name"] in numbers["non_finite"]:
            seeds = numbers["non_finite"][row["name"]]
            row.update(did_not_learn=True, rank=None, vs_reference=None,
                       note=f"non-finite test metrics at seed(s) {', '.join(map(str, seeds))}: did not learn")
    ranked = [r for r in numbers["statistics"]["variants"] if r["rank"] is not None]
    for rank, row in enumerate(sorted(ranked, key=lambda r: r["rank"]), 1):
        row["rank"] = rank
    numbers["statistics"]["ranking"] = [r["name"] for r in sorted(ranked, key=lambda r: r["rank"])]
    return numbers


def unreadable_results(numbers: dict) -> List[str]:
    """One line per run whose results.json exists but cannot be read (results.py): it counts as
    unfinished, and the next start of the ablation evaluates or runs it again."""
    return [f"ablation: {Path(r['folder']) / RESULTS_NAME} is unreadable ({r['unreadable']}): "
            f"{r['variant']}/seed-{r['seed']} counts as unfinished; start the ablation again (without "
            f"--report-only) to evaluate it anew" for r in numbers["runs"] if r["unreadable"]]


def _percent(threshold: float) -> str:
    return f"{threshold * 100:g}"


def _interval(stat: Optional[dict], scale: float, digits: int, signed: bool = False) -> str:
    """'mean [low, high]', or the mean alone without an interval, or '-' without a mean."""
    if not stat or stat.get("mean") is None:
        return "-"
    fmt = f"{{:{'+' if signed else ''}.{digits}f}}"
    text = fmt.format(stat["mean"] * scale)
    if stat.get("ci_low") is None:
        return text
    return f"{text} [{fmt.format(stat['ci_low'] * scale)}, {fmt.format(stat['ci_high'] * scale)}]"


def _label(numbers: dict, row: dict) -> str:
    label = numbers["labels"][row["name"]]
    n, expected = len(row["seeds"]), numbers["expected_seeds"]
    return label if n == expected else f"{label} (n={n} of {expected})"


def _verdict(numbers: dict, row: dict) -> str:
    if row["did_not_learn"]:
        return "did not learn"
    if row["name"] == numbers["baseline_variant"]:
        return "(baseline)"
    if row["vs_reference"] is None:
        return "-"
    return row["vs_reference"]["nme"]["verdict"]


def format_table(numbers: dict) -> str:
    """The Markdown table: one row per compared variant in grid order, then the mean shape."""
    table = numbers["statistics"]
    if table is None:
        return numbers["note"] or "no numbers"
    p = _percent(numbers["threshold"])
    base_label = numbers["labels"][numbers["baseline_variant"]]
    header = ["variant", "NME %", f"FR@{p} %", f"AUC@{p}", "low conf. %", f"NME − {base_label}'s", "verdict",
              "rank"]
    lines = []
    for row in table["variants"]:
        low = numbers["low_confidence"].get(row["name"])
        diff = (row["vs_reference"] or {}).get("nme")
        lines.append([_label(numbers, row), _interval(row["nme"], 100, 2), _interval(row["fr"], 100, 2),
                      _interval(row["auc"], 1, 4), "-" if low is None else f"{100 * low:.1f}",
                      _interval(diff, 100, 2, signed=True) if diff else "", _verdict(numbers, row),
                      str(row["rank"]) if row["rank"] else "-"])
    shape = table["mean_shape"]["nme"]
    lines.append([BASELINE, _interval(shape, 100, 2), "", "", "", "", "", ""])
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]

    def line(cells: List[str]) -> str:   # the label left-aligned, the rest right-aligned
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in lines])


def _notes(numbers: dict) -> List[str]:
    notes = []
    table = numbers["statistics"] or {}
    if table.get("note"):
        notes.append(table["note"] + ".")
    for row in table.get("variants", []):
        if row["did_not_learn"] and not (row["name"] == table.get("reference") and table.get("note")):
            notes.append(f"{numbers['labels'].get(row['name'], row['name'])}: {row['note']}.")
    if len(numbers["seeds"]) == 1:
        notes.append("One seed: no confidence intervals and no verdicts (a paired interval needs two seeds).")
    for family, chosen in numbers["learning_rates"].items():
        vals = ", ".join(f"{name}: {'-' if v is None else f'{100 * v:.2f} %'}" for name, v in chosen["val_nme"].items())
        notes.append(f"{family}: lr selected on the validation split: {chosen['chosen']} (mean best validation "
                     f"NME {vals}){'; ' + chosen['note'] if chosen['note'] else ''}.")
    return notes


def format_report(numbers: dict) -> str:
    """A heading (the grid's title), what the numbers are, the table and its notes."""
    seeds = numbers["seeds"]
    conf = f"{100 * numbers['confidence']:g} %"
    caption = (f"Test split, {len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds))}): "
               f"mean [{conf} Student-t interval] over seeds; NME and FR in %, AUC up to "
               f"{_percent(numbers['threshold'])} % NME. The difference from the baseline is paired by seed, "
               f"with its {conf} interval; verdict: better or worse when the interval excludes 0, no evidence "
               f"when it contains it. A variant whose NME is not below the mean shape's, on average or at any "
               f"one seed, did not learn: not ranked, no verdict.")
    notes = _notes(numbers)
    return "\n\n".join([f"### {numbers['title']}", caption, format_table(numbers)] + (["\n".join(notes)] if notes else []))


def write_json(numbers: dict, grid: Grid, command: List[str], path: Path) -> None:
    """ablation.json: the numbers (each run's variant, seed, options and test metrics; the
    statistics), the grid file's tables and the command that ran it."""
    Path(path).write_text(strict_json({**numbers, "grid_tables": grid.raw, "command": command}, indent=2) + "\n")


def plot_nme(numbers: dict, path: Path) -> None:
    """ablation.png: NME per compared variant (mean, error bars = the 95 % interval over seeds;
    hatched: did not learn), the mean shape as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = (numbers["statistics"] or {}).get("variants", [])
    means = [r["nme"]["mean"] * 100 if r["nme"] else math.nan for r in rows]
    errors = [[(r["nme"]["mean"] - r["nme"]["ci_low"]) * 100 if r["nme"] and r["nme"]["ci_low"] is not None else 0.0
               for r in rows],
              [(r["nme"]["ci_high"] - r["nme"]["mean"]) * 100 if r["nme"] and r["nme"]["ci_high"] is not None else 0.0
               for r in rows]]
    fig = Figure(figsize=(max(4.0, 1.0 + 0.9 * len(rows)), 4.0), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    positions = list(range(len(rows)))
    bars = ax.bar(positions, means, yerr=errors, capsize=4, color="tab:blue", alpha=0.85)
    for bar, row, m in zip(bars, rows, means):
        if row["did_not_learn"]:
            bar.set_hatch("//")
            bar.set_color("tab:gray")
        if not math.isnan(m):
            ax.annotate(f"{m:.2f}", (bar.get_x() + bar.get_width() / 2, m), textcoords="offset points",
                        xytext=(0, 3), ha="center", fontsize=8)
    if numbers["statistics"]:
        base = numbers["statistics"]["mean_shape"]["nme"]["mean"]
        ax.axhline(base * 100, color="tab:red", linestyle="--", label=f"{BASELINE} ({base * 100:.2f} %)")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xticks(positions)
    ax.set_xticklabels([_label(numbers, r) for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("test NME (%)")
    ax.set_title(textwrap.fill(numbers["title"], 60) + f"\n(mean, {100 * numbers['confidence']:g} % interval over "
                 f"{len(numbers['seeds'])} seed(s))", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(str(path))
