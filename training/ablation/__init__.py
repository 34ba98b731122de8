"""Ablations as one command (`python -m training.ablate GRID.toml`): a grid of train runs, variants
x seeds, run (and resumed) one per folder, then summarised as mean +- std over seeds.

grid.py reads and checks the grid file, runner.py runs the train subprocesses, report.py reads
their results.json files into the table, ablation.json and ablation.png. See docs/ablation.md.
"""
