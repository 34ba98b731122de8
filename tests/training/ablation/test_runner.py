"""Running an ablation: one folder per variant x seed, the train command each run gets, finished
runs skipped when the ablation starts again, a failed run reported while the others go on, and
--report-only. The runs here are a stand-in for train (a script that writes a results.json whose
NME is 0.01 * sigma + 0.001 * seed, or fails for sigma 3) so that the cases take a second;
test_ablate_end_to_end.py runs the real train."""
import json
import os
import signal
import sys
import textwrap
import threading
import time

import pytest

from helpers.cli_runs import assert_one_line_error, run_cli
from training import ablate
from training.ablation import runner

FAKE_TRAIN = '''
import argparse, json, sys
from pathlib import Path
p = argparse.ArgumentParser()
for flag in ("--config", "--seed", "--out", "--resume", "--workers"):
    p.add_argument(flag)
p.add_argument("--overwrite", action="store_true")
args = p.parse_args()
print("fake train", " ".join(sys.argv[1:]))
sigma = json.loads(Path(args.config).read_text()).get("sigma", 1.0)
if sigma == 3.0:
    print("error: the fake run fails", file=sys.stderr)
    sys.exit(2)
nme = 0.01 * sigma + 0.001 * int(args.seed)
results = {"threshold": 0.1, "results": {"model": {"nme": nme, "fr": 0.0, "auc": 0.5, "count": 4},
                                         "mean shape": {"nme": 0.2, "fr": 1.0, "auc": 0.0, "count": 4}}}
Path(args.out, "results.json").write_text(json.dumps(results))
'''

GRID = """
    title = "Fake"
    [base]
    preset = "tiny"
    [variants.one]
    label = "sigma 1"
    [variants.two]
    sigma = 2.0
"""


def _use_fake_train(tmp_path, monkeypatch, text):
    """Runs `text` (a script) with train's arguments wherever the ablation would run train."""
    script = tmp_path / "fake_train.py"
    script.write_text(text)
    real = runner.train_command

    def command(spec, workers=None, python=sys.executable, **kwargs):
        return [python, str(script), *real(spec, workers, **kwargs)[3:]]   # train's arguments, after "-m training.train"
    monkeypatch.setattr(runner, "train_command", command)
    return script


@pytest.fixture
def fake_train(tmp_path, monkeypatch):
    return _use_fake_train(tmp_path, monkeypatch, FAKE_TRAIN)


def _grid(tmp_path, text=GRID):
    path = tmp_path / "grid.toml"
    path.write_text(textwrap.dedent(text))
    return path


def _runs_started(folder):
    return (folder / "train.log").read_text().count("=== ")


def _cells(out, label):
    line = next(ln for ln in out.splitlines() if ln.startswith(f"| {label} "))
    return [c.strip() for c in line.split("|")[1:-1]]


def test_every_variant_and_seed_is_a_train_run_in_its_folder(tmp_path, fake_train, capsys):
    out = tmp_path / "abl"
    code, stdout, err = run_cli(ablate.main, [_grid(tmp_path), "--seeds", "2", "--out", out, "--workers", "0"], capsys)
    assert code == 0, err
    for variant in ("one", "two"):
        for seed in (0, 1):
            folder = out / variant / f"seed-{seed}"
            assert (folder / "results.json").is_file()
            log = (folder / "train.log").read_text()
            assert (f"fake train --config {out / variant / 'options.json'} --seed {seed} --out {folder} "
                    f"--resume auto --workers 0") in log
    assert json.loads((out / "two" / "options.json").read_text()) == {"preset": "tiny", "sigma": 2.0}
    # one: NME 1.0 % and 1.1 % -> mean 1.05, sd 0.0707, 95 % interval +- t(0.975, 1) 12.706 * 0.0707 / sqrt(2)
    assert _cells(stdout, "sigma 1")[:4] == ["sigma 1", "1.05 [0.41, 1.69]", "0.00 [0.00, 0.00]",
                                             "0.5000 [0.5000, 0.5000]"]
    assert _cells(stdout, "sigma 1")[6:] == ["(baseline)", "1"]
    assert _cells(stdout, "two")[1] == "2.05 [1.41, 2.69]"
    assert _cells(stdout, "two")[5:] == ["+1.00 [+1.00, +1.00]", "worse", "2"]   # +1 point on each seed
    assert _cells(stdout, "mean shape")[1] == "20.00 [20.00, 20.00]"
    assert (out / "ablation.json").is_file() and (out / "ablation.png").is_file()
    assert "[4/4]" in err and "done in" in err


def test_finished_runs_are_not_run_again_and_unfinished_ones_continue(tmp_path, fake_train, capsys):
    out = tmp_path / "abl"
    argv = [_grid(tmp_path), "--out", out]
    assert run_cli(ablate.main, argv, capsys)[0] == 0
    finished = out / "one" / "seed-0"
    stamp = (finished / "results.json").stat().st_mtime_ns
    killed = out / "two" / "seed-0"
    (killed / "results.json").unlink()           # as if killed before the end: train resumes it
    code, _, err = run_cli(ablate.main, argv, capsys)
    assert code == 0, err
    assert (finished / "results.json").stat().st_mtime_ns == stamp and _runs_started(finished) == 1
    assert "one/seed-0: finished before, not run again" in err
    assert _runs_started(killed) == 2 and (killed / "results.json").is_file()
    assert (killed / "train.log").read_text().splitlines()[-1].endswith("--resume auto")


def test_a_failed_run_is_reported_and_the_others_go_on(tmp_path, fake_train, capsys):
    grid = _grid(tmp_path, GRID + "    [variants.bad]\n    sigma = 3.0\n    [variants.three]\n    sigma = 4.0\n")
    out = tmp_path / "abl"
    code, stdout, err = run_cli(ablate.main, [grid, "--out", out, "--jobs", "2"], capsys)
    assert code == 1
    assert "bad/seed-0: FAILED (exit 2)" in err and "    error: the fake run fails" in err   # the log's tail
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: 1 of 4 run(s) failed: bad/seed-0 (") and "run the same command again" in last
    assert (out / "three" / "seed-0" / "results.json").is_file()              # the run after it went on
    assert _cells(stdout, "bad (n=0 of 1)")[1:4] == ["-", "-", "-"]
    assert _cells(stdout, "three")[1] == "4.00"


def test_report_only_runs_nothing(tmp_path, fake_train, capsys):
    out = tmp_path / "abl"
    code, _, err = run_cli(ablate.main, [_grid(tmp_path), "--out", out, "--report-only"], capsys)
    assert code == 2 and "no finished runs" in err and not (out / "one").exists()
    assert run_cli(ablate.main, [_grid(tmp_path), "--out", out], capsys)[0] == 0
    (out / "ablation.json").unlink()
    code, stdout, err = run_cli(ablate.main, [_grid(tmp_path), "--out", out, "--report-only", "--seeds", "2"], capsys)
    assert code == 0, err
    assert _cells(stdout, "sigma 1 (n=1 of 2)")[1] == "1.00" and _runs_started(out / "one" / "seed-0") == 1
    assert not (out / "one" / "seed-1").exists() and (out / "ablation.json").is_file()


def test_a_bad_grid_runs_nothing(tmp_path, fake_train, capsys):
    out = tmp_path / "abl"
    grid = _grid(tmp_path, GRID + "    [variants.typo]\n    sigmaa = 2.0\n")
    code, _, err = run_cli(ablate.main, [grid, "--out", out], capsys)
    assert code == 2 and "variant 'typo': unknown option 'sigmaa'" in err
    assert not out.exists()


def test_seeds_and_variant_names_are_checked_before_anything_runs(tmp_path, fake_train, capsys):
    """The battery's cases 11 (a variant named as the ablation's own file trained, then failed with
    "Is a directory") and 12 (--seeds 99999999999 was an empty MemoryError)."""
    out = tmp_path / "abl"
    code, _, err = run_cli(ablate.main, [_grid(tmp_path), "--seeds", "99999999999", "--report-only", "--out", out],
                           capsys)
    assert code == 2 and "argument --seeds: must be an integer in [1, 1000], got 99999999999" in err
    grid = _grid(tmp_path, GRID + "    [variants.'ablation.json']\n")
    code, _, err = run_cli(ablate.main, [grid, "--out", out], capsys)
    assert_one_line_error(code, err, f"error: {grid}: variant 'ablation.json': ",
                          "ablation.json is the ablation's own file")
    assert not out.exists()


def test_an_interrupt_starts_no_further_run(tmp_path, monkeypatch):
    from training.ablation.grid import load_grid
    started = []

    def interrupted(spec, workers=None, env=None, stop=None):
        started.append(spec.name)
        raise KeyboardInterrupt   # as Ctrl-C while the first run trains
    monkeypatch.setattr(runner, "run_one", interrupted)
    specs = runner.plan_runs(load_grid(_grid(tmp_path), seeds=2), tmp_path / "abl")
    with pytest.raises(KeyboardInterrupt):
        runner.run_all(specs, jobs=1, report=lambda line: None)
    assert started == ["one/seed-0"]


# ---------------------------------------------------------------------------------------- readable results
def test_an_unreadable_results_json_is_named_and_its_run_redone(tmp_path, fake_train, capsys):
    """The battery's cases 14 (a truncated results.json: --report-only said nothing) and 15 (the
    ablation counted it as finished and never redid it)."""
    out = tmp_path / "abl"
    argv = [_grid(tmp_path), "--seeds", "2", "--out", out]
    assert run_cli(ablate.main, argv, capsys)[0] == 0
    truncated, no_field = out / "one" / "seed-1", out / "two" / "seed-0"
    text = (truncated / "results.json").read_text()
    (truncated / "results.json").write_text(text[:len(text) // 2])
    data = json.loads((no_field / "results.json").read_text())
    del data["results"]["model"]["fr"]
    (no_field / "results.json").write_text(json.dumps(data))
    (no_field / "best.pt").write_bytes(b"a checkpoint")   # evaluated again from it, not trained again

    code, stdout, err = run_cli(ablate.main, argv + ["--report-only"], capsys)
    assert code == 0, err
    assert f"ablation: {truncated / 'results.json'} is unreadable (not valid JSON: " in err
    assert f"ablation: {no_field / 'results.json'} is unreadable (no results['model']['fr']): two/seed-0 counts " \
           f"as unfinished" in err
    assert _cells(stdout, "sigma 1 (n=1 of 2)")[1] == "1.00" and _cells(stdout, "two (n=1 of 2)")[1] == "2.10"
    assert json.loads((out / "ablation.json").read_text())["runs"][1]["unreadable"].startswith("not valid JSON")

    code, stdout, err = run_cli(ablate.main, argv, capsys)
    assert code == 0, err
    assert "one/seed-1: its results.json is unreadable (not valid JSON" in err and "training it again" in err
    assert "two/seed-0: its results.json is unreadable (no results['model']['fr']): evaluating its best.pt" in err
    assert err.count("finished before, not run again") == 2 and "is unreadable (" not in err.split("[4/4]")[-1]
    assert (truncated / "train.log").read_text().splitlines()[-1].endswith("--overwrite")    # from the start
    assert (no_field / "train.log").read_text().splitlines()[-1].endswith("--resume auto")   # its best.pt again
    assert _cells(stdout, "sigma 1")[1] == "1.05 [0.41, 1.69]" and _cells(stdout, "two")[1] == "2.05 [1.41, 2.69]"


# ---------------------------------------------------------------------------------------- signals
SLOW_TRAIN = '''
import os, signal, sys, time
from pathlib import Path
out = Path(sys.argv[sys.argv.index("--out") + 1])
out.mkdir(parents=True, exist_ok=True)
if STUBBORN:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
(out / "started").write_text(str(os.getpid()))
try:
    time.sleep(120)
except KeyboardInterrupt:
    print("fake train: interrupted, lock released")
    sys.exit(130)
'''


@pytest.mark.parametrize("signum, stubborn", [(signal.SIGINT, False), (signal.SIGTERM, False),
                                               (signal.SIGINT, True)])
def test_a_signal_to_the_ablation_alone_stops_its_run_cleanly(tmp_path, monkeypatch, capsys, signum, stubborn):
    """The battery's case 13: SIGINT to ablate alone printed nothing and the run trained on. Now the
    run gets one SIGINT (or, ignoring it, a kill after GRACE_SECONDS), no further run starts, and
    ablate names the unfinished runs and exits 130."""
    _use_fake_train(tmp_path, monkeypatch, f"STUBBORN = {stubborn}\n" + SLOW_TRAIN)
    monkeypatch.setattr(runner, "GRACE_SECONDS", 1.0)
    out = tmp_path / "abl"
    started = out / "one" / "seed-0" / "started"

    def signal_when_started():
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if started.exists():   # the ablation's handlers are installed while its runs run
            os.kill(os.getpid(), signum)
    sender = threading.Thread(target=signal_when_started, daemon=True)
    sender.start()
    t0 = time.monotonic()
    code, _, err = run_cli(ablate.main, [_grid(tmp_path), "--seeds", "2", "--out", out], capsys)
    seconds = time.monotonic() - t0
    sender.join(timeout=1)
    assert code == 130, err
    assert err.strip().splitlines()[-1] == (
        f"error: stopped by {signal.Signals(signum).name}: 4 of 4 run(s) unfinished: one/seed-0 (stopped while "
        f"training), one/seed-1 (not started), two/seed-0 (not started), two/seed-1 (not started); run the same "
        f"command again to continue them (finished runs are kept)")
    assert "one/seed-0: interrupted after" in err and not (out / "one" / "seed-1").exists()
    log = (out / "one" / "seed-0" / "train.log").read_text()
    assert ("fake train: interrupted, lock released" in log) is not stubborn   # a stubborn run is killed
    with pytest.raises(ProcessLookupError):
        os.kill(int(started.read_text()), 0)   # the run's process is gone
    assert seconds < 30 and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL   # the handlers are restored


def test_jobs_share_the_cpus_out_among_the_runs(monkeypatch):
    """Issue 25: --jobs J gives each run cores / J torch threads (at least 1), so parallel runs do
    not fight over the cores; an OMP_NUM_THREADS the user set is kept; one job keeps torch's own."""
    from training.ablation import runner
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(runner.os, "sched_getaffinity", lambda pid: set(range(8)))
    assert runner._environment(2)["OMP_NUM_THREADS"] == "4"
    assert runner._environment(3)["OMP_NUM_THREADS"] == "2"
    assert runner._environment(16)["OMP_NUM_THREADS"] == "1"
    assert "OMP_NUM_THREADS" not in runner._environment(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert runner._environment(2)["OMP_NUM_THREADS"] == "3"


def test_baseline_option_reports_the_same_runs_against_another_variant(tmp_path, fake_train, capsys):
    out = tmp_path / "abl"
    argv = [_grid(tmp_path), "--seeds", "2", "--out", out]
    assert run_cli(ablate.main, argv, capsys)[0] == 0
    code, stdout, err = run_cli(ablate.main, argv + ["--report-only", "--baseline", "two"], capsys)
    assert code == 0, err
    assert _cells(stdout, "two")[6] == "(baseline)"
    assert _cells(stdout, "sigma 1")[5:7] == ["-1.00 [-1.00, -1.00]", "better"]    # one minus two, each seed
    assert _runs_started(out / "one" / "seed-0") == 1
    code, _, err = run_cli(ablate.main, argv + ["--report-only", "--baseline", "three"], capsys)
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code == 2 and errors == ["error: --baseline: baseline must name one of the variants (one, two), got 'three'"]
