"""Command-line errors a person reads: `error: ...` on stderr, exit status 2, no traceback (unless
--debug); numbers are validated before anything runs."""
import os
import subprocess
import sys

import pytest

from helpers import REPO as ROOT



def cli(tmp_path, module, *args, env_extra=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", f"training.{module}", *args], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)


def assert_user_error(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "error:" in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("option,value,message", [
    ("--batch-size", "0", "argument --batch-size: must be an integer >= 1, got 0"),
    ("--lr", "-1", "argument --lr: must be a number > 0, got -1"),
    ("--epochs", "two", "argument --epochs: must be an integer >= 1, got 'two'"),
    ("--flip", "1.5", "argument --flip: must be a number in [0, 1], got 1.5"),
    ("--sigma", "nan", "argument --sigma: must be a finite number > 0, got nan"),
])
def test_train_validates_numbers_up_front(tmp_path, option, value, message):
    assert_user_error(cli(tmp_path, "train", option, value), message)


def test_train_real_dataset_without_root(tmp_path):
    proc = cli(tmp_path, "train", "--dataset", "300w", "--out", "run")
    assert_user_error(proc, "dataset '300w' needs data_root (--data-root)", "--debug")


def test_train_missing_and_empty_data_root(tmp_path):
    assert_user_error(cli(tmp_path, "train", "--dataset", "wflw", "--data-root", "nowhere", "--out", "run"),
                      "data root not found")
    (tmp_path / "empty").mkdir()
    assert_user_error(cli(tmp_path, "train", "--dataset", "folder", "--data-root", "empty", "--out", "run"),
                      "no .pts annotation files")


def test_debug_shows_the_traceback(tmp_path):
    proc = cli(tmp_path, "train", "--dataset", "300w", "--out", "run", "--debug")
    assert proc.returncode == 2 and "Traceback" in proc.stderr
    proc = cli(tmp_path, "train", "--dataset", "300w", "--out", "run", env_extra={"AWING_DEBUG": "1"})
    assert "Traceback" in proc.stderr


def test_evaluate_export_convert_detect_errors(tmp_path):
    assert_user_error(cli(tmp_path, "evaluate", "--checkpoint", "none.pt"), "checkpoint not found: none.pt")
    assert_user_error(cli(tmp_path, "evaluate", "--checkpoint", "none.pt", "--batch-size", "0"),
                      "--batch-size: must be an integer >= 1")
    assert_user_error(cli(tmp_path, "export", "--checkpoint", "none.pt", "--format", "onnx"), "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    assert_user_error(cli(tmp_path, "export", "--checkpoint", "junk.pt", "--format", "torchscript"),
                      "junk.pt is corrupt or not an awing checkpoint")
    assert_user_error(cli(tmp_path, "convert", "none.pth", "out.pt"), "released checkpoint not found")
    assert_user_error(cli(tmp_path, "detect", "none.jpg", "--checkpoint", "none.pt"))
