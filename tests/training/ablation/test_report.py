"""The ablation's numbers from hand-made results.json files: mean ± std over seeds (sample std,
checked by hand), a missing seed shown as n, the baseline per seed, the Markdown table,
ablation.json and ablation.png."""
import json
import math
import textwrap

import pytest
from PIL import Image

from training.ablation.grid import load_grid
from training.ablation.report import collect, format_report, format_table, plot_nme, summary, write_json

GRID = """
    title = "Hand-made"
    seeds = 2
    [variants.a]
    label = "A"
    [variants.b]
    sigma = 2.0
"""

# (variant, seed): (model nme, fr, auc), mean-shape nme
RESULTS = {("a", 0): ((0.03, 0.01, 0.60), 0.10),
           ("a", 1): ((0.05, 0.03, 0.70), 0.12),
           ("b", 0): ((0.02, 0.00, 0.75), 0.10)}   # b's seed 1 did not finish


def _results_json(folder, model, baseline_nme):
    folder.mkdir(parents=True)
    nme, fr, auc = model
    data = {"samples": 4, "threshold": 0.1, "normaliser": "inter-ocular distance",
            "results": {"model": {"nme": nme, "fr": fr, "auc": auc, "count": 4},
                        "mean shape": {"nme": baseline_nme, "fr": 0.5, "auc": 0.1, "count": 4}}}
    (folder / "results.json").write_text(json.dumps(data))


@pytest.fixture
def ablation(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(textwrap.dedent(GRID))
    out = tmp_path / "out"
    for (variant, seed), (model, baseline) in RESULTS.items():
        _results_json(out / variant / f"seed-{seed}", model, baseline)
    (out / "b" / "seed-1").mkdir(parents=True)          # started, killed: last.pt only
    (out / "b" / "seed-1" / "last.pt").write_bytes(b"")
    return load_grid(path), out


def test_summary_is_mean_and_sample_std():
    s = summary([0.03, 0.05])
    assert s["n"] == 2 and math.isclose(s["mean"], 0.04) and math.isclose(s["std"], math.sqrt(2) * 0.01)
    s = summary([1.0, 2.0, 6.0])            # mean 3, deviations -2 -1 3: (4 + 1 + 9) / 2 = 7
    assert math.isclose(s["mean"], 3.0) and math.isclose(s["std"], math.sqrt(7.0))
    assert summary([0.02]) == {"mean": 0.02, "std": None, "n": 1, "values": [0.02]}
    assert summary([]) == {"mean": None, "std": None, "n": 0, "values": []}


def test_collect_aggregates_per_variant_and_the_baseline_per_seed(ablation):
    grid, out = ablation
    numbers = collect(grid, out)
    a, b = numbers["variants"]
    assert (a["name"], a["label"], a["n"], a["expected"]) == ("a", "A", 2, 2)
    assert math.isclose(a["nme"]["mean"], 0.04) and math.isclose(a["nme"]["std"], 0.0141421356, rel_tol=1e-6)
    assert math.isclose(a["fr"]["mean"], 0.02) and math.isclose(a["auc"]["mean"], 0.65)
    assert math.isclose(a["auc"]["std"], 0.0707106781, rel_tol=1e-6)
    assert (b["n"], b["nme"]["mean"], b["nme"]["std"]) == (1, 0.02, None)
    # seed 0: a and b both 0.10 -> 0.10; seed 1: a alone 0.12 -> mean 0.11, std sqrt(2) * 0.01
    base = numbers["baseline"]
    assert base["n"] == 2 and base["nme"]["values"] == pytest.approx([0.10, 0.12])
    assert math.isclose(base["nme"]["mean"], 0.11) and math.isclose(base["nme"]["std"], 0.0141421356, rel_tol=1e-6)
    finished = {(r["variant"], r["seed"]): r["finished"] for r in numbers["runs"]}
    assert finished == {("a", 0): True, ("a", 1): True, ("b", 0): True, ("b", 1): False}


def test_markdown_table(ablation):
    grid, out = ablation
    assert format_table(collect(grid, out)) == textwrap.dedent("""\
        | variant      |        NME % |      FR@10 % |          AUC@10 |
        |--------------|-------------:|-------------:|----------------:|
        | A            |  4.00 ± 1.41 |  2.00 ± 1.41 | 0.6500 ± 0.0707 |
        | b (n=1 of 2) |         2.00 |         0.00 |          0.7500 |
        | mean shape   | 11.00 ± 1.41 | 50.00 ± 0.00 | 0.1000 ± 0.0000 |""")
    report = format_report(collect(grid, out))
    assert report.startswith("### Hand-made\n\nTest split, mean ± std over 2 seeds (0, 1);")


def test_a_variant_without_runs_shows_dashes(ablation):
    grid, out = ablation
    for seed in (0, 1):
        (out / "a" / f"seed-{seed}" / "results.json").unlink()
    table = format_table(collect(grid, out)).splitlines()
    assert [cell.strip() for cell in table[2].split("|")[1:-1]] == ["A (n=0 of 2)", "-", "-", "-"]
    # the baseline now comes from b's seed 0 alone
    assert [cell.strip() for cell in table[4].split("|")[1:-1]] == ["mean shape (n=1 of 2)", "10.00", "50.00",
                                                                    "0.1000"]


def test_json_and_png_are_written(ablation, tmp_path):
    grid, out = ablation
    numbers = collect(grid, out)
    write_json(numbers, grid, ["python", "-m", "training.ablate", "grid.toml"], out / "ablation.json")
    plot_nme(numbers, out / "ablation.png")
    data = json.loads((out / "ablation.json").read_text())
    assert data["command"] == ["python", "-m", "training.ablate", "grid.toml"]
    assert data["grid_tables"]["variants"]["b"] == {"sigma": 2.0} and data["seeds"] == [0, 1]
    assert data["variants"][1]["nme"]["std"] is None              # null, strict JSON
    assert math.isclose(data["variants"][0]["nme"]["mean"], 0.04)
    assert len(data["runs"]) == 4 and data["runs"][3]["model"] is None
    with Image.open(out / "ablation.png") as image:
        assert image.format == "PNG" and image.size[0] >= 400 and image.size[1] >= 400
