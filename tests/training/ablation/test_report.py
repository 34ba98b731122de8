"""The ablation's report from hand-made results.json files, against numbers worked out by hand:
95 % Student-t intervals over three seeds (t(0.975, 2) = 4.302652729749464), paired differences
against the grid's baseline with their verdicts, a variant that did not learn (not ranked, no
verdict), a collapsed run (null NME), a missing seed, one seed (no interval), the learning-rate
selection on the validation split, the Markdown table, ablation.json and ablation.png."""
import json
import math
import textwrap

import pytest
from PIL import Image

from training.ablation.grid import load_grid
from training.ablation.report import collect, format_report, format_table, plot_nme, write_json

T_975_2 = 4.302652729749464          # scipy.stats.t.ppf(0.975, 2), checked in test_stats.py
HALF = T_975_2 * 0.01 / math.sqrt(3)  # the interval's half-width of three values with sd 0.01

GRID = """
    title = "Hand-made"
    seeds = 3
    baseline = "mse"
    [variants.awing]
    label = "AWing"
    [variants.mse]
    label = "MSE"
    loss = "mse"
    [variants.wing]
    loss = "wing"
    [variants.l1]
    loss = "l1"
"""

# variant: model NME per seed 0, 1, 2 (fractions); FR and AUC follow from it below
NMES = {"mse": (0.10, 0.11, 0.12),
        "awing": (0.05, 0.07, 0.06),     # minus MSE's: -0.05, -0.04, -0.06: mean -0.05, sd 0.01: better
        "wing": (0.12, 0.10, 0.11),      # minus MSE's: +0.02, -0.01, -0.01: mean 0, sd sqrt(3e-4): no evidence
        "l1": (0.25, 0.30, 0.28)}        # above the mean shape's 0.20: did not learn
SHAPE = (0.19, 0.20, 0.21)               # the mean shape per seed, the same for every variant


def _results_json(folder, nme, shape, low=0.0, val=None):
    folder.mkdir(parents=True, exist_ok=True)
    data = {"samples": 4, "threshold": 0.1, "normaliser": "inter-ocular distance",
            "low_confidence": {"threshold": 0.2, "fraction": low}, "best_val_nme": val,
            "results": {"model": {"nme": nme, "fr": None if nme is None else nme / 2,
                                  "auc": None if nme is None else 1 - nme, "count": 4},
                        "mean shape": {"nme": shape, "fr": 0.9, "auc": 0.01, "count": 4}}}
    (folder / "results.json").write_text(json.dumps(data))


def _grid(tmp_path, text):
    path = tmp_path / "grid.toml"
    path.write_text(textwrap.dedent(text))
    return load_grid(path)


@pytest.fixture
def ablation(tmp_path):
    out = tmp_path / "out"
    for variant, nmes in NMES.items():
        for seed, nme in enumerate(nmes):
            _results_json(out / variant / f"seed-{seed}", nme, SHAPE[seed], low=0.5 if variant == "l1" else 0.0)
    return _grid(tmp_path, GRID), out


def _row(numbers, name):
    return next(r for r in numbers["statistics"]["variants"] if r["name"] == name)


def test_intervals_and_paired_differences_by_hand(ablation):
    grid, out = ablation
    numbers = collect(grid, out)
    mse, awing, wing = _row(numbers, "mse"), _row(numbers, "awing"), _row(numbers, "wing")
    assert mse["nme"]["mean"] == pytest.approx(0.11) and mse["nme"]["sd"] == pytest.approx(0.01)
    assert (mse["nme"]["ci_low"], mse["nme"]["ci_high"]) == pytest.approx((0.11 - HALF, 0.11 + HALF))
    diff = awing["vs_reference"]["nme"]
    assert (diff["mean"], diff["ci_low"], diff["ci_high"]) == pytest.approx((-0.05, -0.05 - HALF, -0.05 + HALF))
    assert diff["verdict"] == "better" and diff["paired_seeds"] == [0, 1, 2]
    assert awing["vs_reference"]["auc"]["verdict"] == "better"      # AUC = 1 - NME: higher is better
    wing_diff = wing["vs_reference"]["nme"]
    half = T_975_2 * math.sqrt(3e-4) / math.sqrt(3)
    assert (wing_diff["mean"], wing_diff["ci_high"]) == pytest.approx((0.0, half), abs=1e-12)
    assert wing_diff["verdict"] == "no evidence"
    assert numbers["statistics"]["mean_shape"]["nme"]["mean"] == pytest.approx(0.20)


def test_a_variant_worse_than_the_mean_shape_did_not_learn(ablation):
    grid, out = ablation
    numbers = collect(grid, out)
    l1 = _row(numbers, "l1")
    assert l1["did_not_learn"] and l1["rank"] is None and l1["vs_reference"] is None
    assert numbers["statistics"]["ranking"] == ["awing", "mse", "wing"]    # ties keep grid order
    assert numbers["low_confidence"]["l1"] == pytest.approx(0.5)


def test_markdown_table(ablation):
    grid, out = ablation
    lines = format_table(collect(grid, out)).splitlines()
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in lines]
    assert cells[0] == ["variant", "NME %", "FR@10 %", "AUC@10", "low conf. %", "NME − MSE's", "verdict", "rank"]
    assert cells[2] == ["AWing", "6.00 [3.52, 8.48]", "3.00 [1.76, 4.24]", "0.9400 [0.9152, 0.9648]", "0.0",
                        "-5.00 [-7.48, -2.52]", "better", "1"]
    assert cells[3] == ["MSE", "11.00 [8.52, 13.48]", "5.50 [4.26, 6.74]", "0.8900 [0.8652, 0.9148]", "0.0", "",
                        "(baseline)", "2"]
    assert cells[4][0] == "wing" and cells[4][5] == "+0.00 [-4.30, +4.30]" and cells[4][6:] == ["no evidence", "3"]
    assert cells[5][0] == "l1" and cells[5][4:] == ["50.0", "", "did not learn", "-"]
    assert cells[6][:2] == ["mean shape", "20.00 [17.52, 22.48]"]
    report = format_report(collect(grid, out))
    assert report.startswith("### Hand-made\n\nTest split, 3 seeds (0, 1, 2): mean [95 % Student-t interval]")


def test_a_collapsed_run_and_a_missing_seed(ablation):
    grid, out = ablation
    (out / "wing" / "seed-2" / "results.json").unlink()                     # wing: seeds 0 and 1 only
    (out / "awing" / "seed-1" / "results.json").unlink()
    _results_json(out / "awing" / "seed-1", None, SHAPE[1])                  # a NaN loss's null NME
    numbers = collect(grid, out)
    awing, wing = _row(numbers, "awing"), _row(numbers, "wing")
    assert awing["did_not_learn"] and awing["rank"] is None and "non-finite" in awing["note"]
    assert numbers["non_finite"] == {"awing": [1]}
    assert wing["vs_reference"]["nme"]["paired_seeds"] == [0, 1]
    assert wing["vs_reference"]["nme"]["left_out"]["baseline_only"] == [2]
    lines = format_table(numbers).splitlines()
    assert lines[4].split("|")[1].strip() == "wing (n=2 of 3)"


def test_one_seed_gives_no_interval_and_says_why(tmp_path):
    grid = _grid(tmp_path, GRID.replace("seeds = 3", "seeds = 1"))
    out = tmp_path / "out"
    for variant, nmes in NMES.items():
        _results_json(out / variant / "seed-0", nmes[0], SHAPE[0])
    numbers = collect(grid, out)
    assert _row(numbers, "awing")["nme"]["ci_low"] is None
    assert _row(numbers, "awing")["vs_reference"]["nme"]["verdict"] == "no evidence"
    cells = [c.strip() for c in format_table(numbers).splitlines()[2].split("|")[1:-1]]
    assert cells[1] == "5.00" and cells[5] == "-5.00"
    assert "One seed: no confidence intervals and no verdicts" in format_report(numbers)


def test_learning_rate_selected_on_validation_then_compared_on_test(tmp_path):
    """awing's lr list: 0.002 has the lower validation NME although 0.008 has the lower test NME:
    the report takes 0.002 and compares it with MSE; the test split never chooses."""
    grid = _grid(tmp_path, """
        seeds = 2
        [variants.mse]
        loss = "mse"
        [variants.awing]
        lr = [2e-3, 8e-3]
    """)
    out = tmp_path / "out"
    for seed in (0, 1):
        _results_json(out / "mse" / f"seed-{seed}", 0.10 + 0.01 * seed, 0.2, val=0.1)
        _results_json(out / "awing-lr0.002" / f"seed-{seed}", 0.06 + 0.01 * seed, 0.2, val=0.05)
        _results_json(out / "awing-lr0.008" / f"seed-{seed}", 0.04 + 0.01 * seed, 0.2, val=0.07)
    numbers = collect(grid, out)
    assert numbers["learning_rates"]["awing"]["chosen"] == "awing-lr0.002"
    assert numbers["learning_rates"]["awing"]["val_nme"] == pytest.approx({"awing-lr0.002": 0.05,
                                                                           "awing-lr0.008": 0.07})
    assert [r["name"] for r in numbers["statistics"]["variants"]] == ["mse", "awing-lr0.002"]
    assert numbers["baseline_variant"] == "mse"
    assert "awing: lr selected on the validation split: awing-lr0.002" in format_report(numbers)


def test_json_and_png_are_written(ablation):
    grid, out = ablation
    numbers = collect(grid, out)
    write_json(numbers, grid, ["python", "-m", "training.ablate", "grid.toml"], out / "ablation.json")
    plot_nme(numbers, out / "ablation.png")
    data = json.loads((out / "ablation.json").read_text())
    assert data["command"] == ["python", "-m", "training.ablate", "grid.toml"]
    assert data["grid_tables"]["variants"]["wing"] == {"loss": "wing"} and data["seeds"] == [0, 1, 2]
    run = next(r for r in data["runs"] if (r["variant"], r["seed"]) == ("awing", 1))
    assert run["options"] == {} and run["model"]["nme"] == pytest.approx(0.07)
    assert data["statistics"]["reference"] == "mse" and data["statistics"]["ranking"][0] == "awing"
    with Image.open(out / "ablation.png") as image:
        assert image.format == "PNG" and image.size[0] >= 400 and image.size[1] >= 400


def test_no_finished_run_has_no_statistics(tmp_path):
    grid = _grid(tmp_path, GRID)
    numbers = collect(grid, tmp_path / "out")
    assert numbers["statistics"] is None and format_table(numbers) == "no finished run: nothing to summarise"
