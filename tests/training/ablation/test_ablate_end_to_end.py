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
    for row, variant in zip(summary["variants"], ("sigma-1", "sigma-2")):
        folder = out / variant / "seed-0"
        results = json.loads((folder / "results.json").read_text())
        assert json.loads((folder / "config.json").read_text())["sigma"] == (1.0 if variant == "sigma-1" else 2.0)
        assert row["n"] == 1 and row["nme"]["mean"] == results["results"]["model"]["nme"]
        cells = next(ln for ln in stdout.splitlines() if ln.startswith(f"| {row['label']} ")).split("|")
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


@pytest.mark.parametrize("name, variants", [("losses", 9), ("components", 5)])
def test_shipped_grids_are_valid(name, variants):
    grid = load_grid(REPO / "configs" / "ablation" / f"{name}.toml")
    assert len(grid.variants) == variants and grid.seeds == [0, 1]
    assert all(v.options["preset"] == "small" and v.options["epochs"] == 3 for v in grid.variants)
