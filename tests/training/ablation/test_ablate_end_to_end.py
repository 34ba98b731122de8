"""A real ablation, end to end: two variants x one seed of tiny train runs (each its own
`python -m training.train` process, ~10 s on a CPU), then the same command again, which runs
nothing, and once more after a results.json is cut short, which evaluates that run's best.pt
again; and the shipped grids, checked like any grid."""
import json
import textwrap

import pytest

from helpers import REPO
from helpers.cli_runs import run_cli
from training import ablate
from training.ablation.grid import load_grid

# 8 faces in batches of 4: one epoch of 2 steps, then the test evaluation (results.json)
TINY_GRID = """
    title = "Tiny sigmas"
    [base]
    preset = "tiny"
    epochs = 1
    max-steps = 2
    batch-size = 4
    train-samples = 8
    val-samples = 8
    test-samples = 8
    no-progress = true
    [variants.sigma-1]
    label = "sigma 1"
    [variants.sigma-2]
    label = "sigma 2"
    sigma = 2.0
"""


def test_two_variant_tiny_ablation(tmp_path, capsys):
    grid = tmp_path / "tiny.toml"
    grid.write_text(textwrap.dedent(TINY_GRID))
    out = tmp_path / "abl"
    argv = [grid, "--seeds", "1", "--out", out, "--workers", "0"]
    code, stdout, err = run_cli(ablate.main, argv, capsys)
    assert code == 0, err
    summary = json.loads((out / "ablation.json").read_text())
    for row, variant in zip(summary["statistics"]["variants"], ("sigma-1", "sigma-2")):
        folder = out / variant / "seed-0"
        results = json.loads((folder / "results.json").read_text())
        config = json.loads((folder / "config.json").read_text())
        assert config["sigma"] == (1.0 if variant == "sigma-1" else 2.0) and config["threads"] >= 1
        assert row["nme"]["n"] == 1 and row["nme"]["mean"] == results["results"]["model"]["nme"]
        assert results["best_val_nme"] > 0 and 0 <= results["low_confidence"]["fraction"] <= 1
        label = summary["labels"][row["name"]]
        cells = next(ln for ln in stdout.splitlines() if ln.startswith(f"| {label} ")).split("|")
        assert cells[2].strip() == f"{100 * results['results']['model']['nme']:.2f}"
        assert "awing: training tiny on synthetic" in (folder / "train.log").read_text()
    assert "| mean shape " in stdout and (out / "ablation.png").stat().st_size > 0
    stamp = (out / "sigma-2" / "seed-0" / "results.json").stat().st_mtime_ns
    code, again, err = run_cli(ablate.main, argv, capsys)
    assert code == 0 and again == stdout and err.count("finished before, not run again") == 2
    assert (out / "sigma-2" / "seed-0" / "results.json").stat().st_mtime_ns == stamp

    # a results.json cut short: named, then its run's best.pt is evaluated again, to the same numbers
    results = out / "sigma-2" / "seed-0" / "results.json"
    text = results.read_text()
    results.write_text(text[:100])
    code, report_only, err = run_cli(ablate.main, argv + ["--report-only"], capsys)
    assert code == 0 and f"{results} is unreadable (not valid JSON" in err and "sigma 2 (n=0 of 1)" in report_only
    code, again, err = run_cli(ablate.main, argv, capsys)
    assert code == 0 and "sigma-2/seed-0: its results.json is unreadable" in err and "evaluating its best.pt" in err
    assert again == stdout and json.loads(results.read_text())["results"] == json.loads(text)["results"]


@pytest.mark.parametrize("name, variants, seeds, baseline", [("awing-vs-mse", 4, 5, "mse"), ("losses", 9, 3, "mse"),
                                                              ("components", 5, 3, "fan")])
def test_shipped_grids_are_valid(name, variants, seeds, baseline):
    """The budget at which every variant of awing-vs-mse beat three quarters of the mean shape's NME
    (docs/ablation.md): the tiny preset, 8 epochs of 2,400 faces."""
    grid = load_grid(REPO / "configs" / "ablation" / f"{name}.toml")
    assert len(grid.variants) == variants and grid.seeds == list(range(seeds)) and grid.baseline == baseline
    assert all(v.options["preset"] == "tiny" and v.options["epochs"] == 8 and v.options["train_samples"] == 2400
               for v in grid.variants)
