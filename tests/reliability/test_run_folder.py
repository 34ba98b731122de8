"""A run folder holds one run: the lock (a second run at once is refused naming the holder; a
stale lock is replaced; Ctrl-C releases it), no silent restart over an existing run
(--resume auto / --overwrite), options a resume cannot change, and what a killed run leaves
(temporary checkpoint files, metrics.jsonl records it replays)."""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from helpers.cli_runs import TINY, assert_one_line_error, run_cli, start_command, wait_for
from training import train
from training.core.checkpoint import load_checkpoint
from training.train_config import load_config
from training.train_options import build_parser
from training.engine.run_folder import LOCK_NAME, RunFolderError, RunLock, trim_metrics_log


def _records(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished one-epoch tiny run (copied by the tests that change it)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    train.main(TINY + ["--epochs", "1", "--out", str(out)])
    return out


# ---------------------------------------------------------------------------------------- the lock
def test_a_second_run_into_a_busy_folder_is_refused_and_ctrl_c_releases_the_lock(tmp_path, capsys):
    out = tmp_path / "run"
    first = start_command("train", *TINY, "--train-samples", "4000", "--batch-size", "4", "--epochs", "5",
                          "--checkpoint-every", "1", "--out", out, cwd=tmp_path)
    try:
        wait_for(lambda: (out / LOCK_NAME).exists() and (out / "last.pt").exists(), 240,
                  "its lock and first checkpoint", first)
        holder = json.loads((out / LOCK_NAME).read_text())
        assert holder["pid"] == first.pid and holder["host"] == socket.gethostname()
        for extra in ([], ["--resume", "auto"]):
            code, _, err = run_cli(train.main, TINY + ["--out", out, *extra], capsys)
            assert_one_line_error(code, err, "is in use by another training run", f"pid {first.pid}")
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=120) == 130
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert "interrupted" in (tmp_path / "train.err").read_text()
    assert not (out / LOCK_NAME).exists()                 # released on Ctrl-C
    assert load_checkpoint(out / "last.pt")["step"] >= 1   # the last checkpoint kept, intact


def test_stale_and_foreign_locks(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    lock_path = tmp_path / LOCK_NAME
    lock_path.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    lock = RunLock(tmp_path).acquire()          # the holder is gone: a stale lock, replaced
    assert "stale lock" in lock.note and json.loads(lock_path.read_text())["pid"] == os.getpid()
    with pytest.raises(RunFolderError, match=f"pid {os.getpid()}"):
        RunLock(tmp_path).acquire()             # held (by this process): refused
    lock.release()
    assert not lock_path.exists()
    lock_path.write_text(json.dumps({"pid": 1, "host": "elsewhere.example"}))
    with pytest.raises(RunFolderError, match=f"host elsewhere.example.*delete {lock_path}"):
        RunLock(tmp_path).acquire()             # another machine's: cannot be checked from here


# ---------------------------------------------------------------------------------------- no silent restart
def test_an_existing_run_needs_resume_or_overwrite(finished_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    best = (out / "best.pt").read_bytes()
    code, _, err = run_cli(train.main, TINY + ["--epochs", "1", "--out", out], capsys)
    assert_one_line_error(code, err, "already holds a training run", "--resume auto", "--overwrite", "new --out")
    assert (out / "best.pt").read_bytes() == best and not (out / LOCK_NAME).exists()
    code, _, err = run_cli(train.main, TINY + ["--out", out, "--overwrite", "--resume", "auto"], capsys)
    assert_one_line_error(code, err, "give one of them")

    (out / "results_test.json").write_text("{}")   # an evaluation of the old weights
    code, _, err = run_cli(train.main, TINY + ["--epochs", "1", "--seed", "1", "--out", out, "--overwrite"], capsys)
    assert code == 0, err
    assert "--overwrite: removed the previous run's" in err
    assert not (out / "results_test.json").exists() and (out / "best.pt").read_bytes() != best
    assert sum("val_nme" in r for r in _records(out)) == 1   # only the new run's records
    assert "overwrite" not in load_config(out / "config.json")   # a repeat does not overwrite again


# ---------------------------------------------------------------------------------------- resume options
def test_resume_refuses_options_it_cannot_honour_and_records_the_ones_it_can(tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(TINY + ["--epochs", "2", "--max-steps", "1", "--lr", "1e-3", "--out", str(out)]) == {}
    last = (out / "last.pt").read_bytes()
    code, _, err = run_cli(train.main, TINY + ["--out", out, "--resume", "auto", "--lr", "0.5",
                                               "--batch-size", "4"], capsys)
    line = assert_one_line_error(code, err, "--lr 0.5 (the checkpoint's: 0.001)",
                                 "--batch-size 4 (the checkpoint's: 8)", "--epochs")
    assert "--lr-gamma" not in line   # only the ones that differ
    code, _, err = run_cli(train.main, TINY + ["--out", out, "--resume", "auto", "--preset", "small"], capsys)
    assert_one_line_error(code, err, "--preset small (the checkpoint's: tiny)")
    assert (out / "last.pt").read_bytes() == last

    # omitted options are the checkpoint's; resumable ones may change and are recorded as run
    code, _, err = run_cli(train.main, ["--out", out, "--resume", "auto", "--epochs", "3", "--max-steps", "2",
                                        "--log-every", "2"], capsys)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert (config["lr"], config["batch_size"], config["preset"], config["epochs"]) == (1e-3, 8, "tiny", 3)
    assert config["lr_milestones"] == [1] and "milestones stay the checkpoint's" in err   # the restored schedule
    state = load_checkpoint(out / "last.pt")
    assert state["step"] == 2 and state["config"]["lr"] == state["optimizer"]["param_groups"][0]["initial_lr"]
    help_text = build_parser().format_help()
    assert "--epochs,--max-steps,--workers,--log-every" in "".join(help_text.split())   # the resumable ones


# ---------------------------------------------------------------------------------------- leftovers
def test_a_killed_runs_temp_files_go_and_its_replayed_steps_are_logged_once(tmp_path, capsys):
    out = tmp_path / "run"
    common = TINY + ["--train-samples", "32", "--epochs", "1", "--out", str(out)]
    assert train.main(common + ["--max-steps", "2"]) == {}
    # as a SIGKILL leaves it: step 3 logged after the last checkpoint, a checkpoint write cut short,
    # and the killed run's lock
    with open(out / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"epoch": 0, "step": 3, "loss": 1.0, "lr": 0.002, "images_per_s": 1.0}) + "\n")
        f.write('{"epoch": 0, "step": 4, "lo')
    (out / ".last.pt.k9x2q1zz.tmp").write_bytes(b"\0" * 1000)
    (out / ".metrics.jsonl.4242.tmp").write_text("{}")
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    (out / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))

    code, _, err = run_cli(train.main, common + ["--resume", "auto"], capsys)
    assert code == 0, err
    assert "removed a stale lock" in err and "removed 2 temporary file(s)" in err
    assert not list(out.glob(".*.tmp")) and not (out / LOCK_NAME).exists()
    records = _records(out)
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4]
    assert [r["step"] for r in records if "val_nme" in r] == [4]
    assert records[2]["loss"] != 1.0   # the real step 3, not the killed run's


def test_trim_metrics_log_of_a_checkpoint_without_a_record_count(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3, 2)) + '{"step": 5')
    assert trim_metrics_log(path, None, 2) == 3           # by step: 1, 2, 2
    path.write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3)))
    assert trim_metrics_log(path, 2, 99) == 2 and path.read_text().count("\n") == 2


@pytest.mark.slow
def test_sigkills_at_random_moments_leave_a_consistent_folder(tmp_path):
    """The battery's case: SIGKILL a run at random moments (also inside checkpoint writes), then
    --resume auto to the end: no temporary files, every step logged once (~2 min)."""
    out = tmp_path / "run"
    args = TINY + ["--train-samples", "48", "--batch-size", "4", "--epochs", "2", "--checkpoint-every", "1",
                   "--out", out, "--resume", "auto"]
    rng = random.Random(0)
    for _ in range(5):
        proc = start_command("train", *args, cwd=tmp_path)
        time.sleep(6 + rng.random() * 4)
        proc.kill()
        proc.wait()
    proc = start_command("train", *args, cwd=tmp_path)
    assert proc.wait(timeout=600) == 0, (tmp_path / "train.err").read_text()[-2000:]
    assert not list(out.glob(".*.tmp")) and not (out / LOCK_NAME).exists()
    records = _records(out)
    steps = [r["step"] for r in records if "loss" in r]
    assert steps == list(range(1, 25))
    assert [r["step"] for r in records if "val_nme" in r] == [12, 24]
