"""The ablation figures in the README and docs/ablation.md are the committed results' own: every
variant's NME interval and every paired difference printed in docs/ablation.md's Results, and
the README's headline figures, are recomputed from docs/results/*.json here (a table edited by
hand, or a JSON rewritten without its table, fails)."""
import json

import pytest

from helpers import REPO

RESULTS = REPO / "docs" / "results"
ABLATION_DOC = (REPO / "docs" / "ablation.md").read_text(encoding="utf-8")
README = (REPO / "README.md").read_text(encoding="utf-8")


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _signed(value: float) -> str:
    return f"{100 * value:+.2f}".replace("-", "−")


def _interval(summary: dict) -> str:
    return f"{_pct(summary['mean'])} [{_pct(summary['ci_low'])}, {_pct(summary['ci_high'])}]"


def _difference(diff: dict) -> str:
    return f"{_signed(diff['mean'])} [{_signed(diff['ci_low'])}, {_signed(diff['ci_high'])}]"


@pytest.mark.parametrize("name", sorted(p.stem for p in RESULTS.glob("*.json")))
def test_every_documented_row_is_the_jsons(name):
    numbers = json.loads((RESULTS / f"{name}.json").read_text())
    stats = numbers["statistics"]
    assert f"results/{name}.json" in ABLATION_DOC, f"docs/ablation.md does not cite docs/results/{name}.json"
    assert _interval(stats["mean_shape"]["nme"]) in ABLATION_DOC
    for row in stats["variants"]:
        label = numbers["labels"][row["name"]]
        line = next((ln for ln in ABLATION_DOC.splitlines() if ln.startswith(f"| {label} | {_interval(row['nme'])} |")),
                    None)
        assert line is not None, f"{name}: no row '| {label} | {_interval(row['nme'])} |' in docs/ablation.md"
        if row["did_not_learn"]:
            assert "did not learn" in line and row["rank"] is None
        elif row["vs_reference"] is not None:
            diff = row["vs_reference"]["nme"]
            assert f"{_difference(diff)} | {diff['verdict']} |" in line, (name, label, line)


@pytest.mark.parametrize("name, variant, text", [
    ("awing-vs-mse", "mse", "12.04 % [10.51, 13.57]"),
    ("awing-vs-mse", "mse-loss-map", "5.99 %\n  [5.75, 6.23]"),
])
def test_the_readme_variant_figures_are_the_jsons(name, variant, text):
    stats = json.loads((RESULTS / f"{name}.json").read_text())["statistics"]
    row = next(r for r in stats["variants"] if r["name"] == variant)
    assert text.replace("%", "").split() == _interval(row["nme"]).split()
    assert text in README


def test_the_readme_differences_are_the_jsons():
    rows = {name: {r["name"]: r for r in json.loads((RESULTS / f"{name}.json").read_text())["statistics"]["variants"]}
            for name in ("awing-vs-mse", "losses-vs-awing")}
    focal = rows["losses-vs-awing"]["focal"]["vs_reference"]["nme"]
    assert _difference(focal) in README                          # −0.16 [−0.74, +0.41]
    no_map = rows["awing-vs-mse"]["awing-no-loss-map"]["vs_reference"]["nme"]
    assert _difference(no_map) in README                         # +0.67 [−0.76, +2.10]
    with_map = json.loads((RESULTS / "awing-vs-mse-vs-mse-loss-map.json").read_text())["statistics"]["variants"]
    awing = next(r for r in with_map if r["name"] == "awing")["vs_reference"]["nme"]   # AWing better: < 0
    assert f"by {_pct(-awing['mean'])} points [{_pct(-awing['ci_high'])}, {_pct(-awing['ci_low'])}]" in README
