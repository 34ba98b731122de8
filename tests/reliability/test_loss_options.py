"""The battery's loss options (issue 29, cases 2-8): a loss parameter that overflows float32 or
makes the loss 0 for every pixel is refused before anything runs, in one line naming it; what the
parser cannot foresee stops the run with a line that is true (the checkpoint only when there is
one) and names the loss options."""
import pytest

from helpers.cli_runs import TINY, assert_one_line_error, run_cli
from training import train
from training.engine import trainer as trainer_module
from training.engine.loss_watch import ZERO_LOSS_STEPS
from training.engine.run_folder import LOCK_NAME


@pytest.mark.parametrize("argv, needle", [
    (["--loss", "focal", "--focal-alpha", "1e6", "--focal-beta", "1e6"], "argument --focal-alpha"),        # case 2
    (["--loss", "smooth-l1", "--smooth-l1-beta", "1e300"], "argument --smooth-l1-beta"),                    # case 3
    (["--awing-omega", "1e300", "--awing-alpha", "1e300"], "argument --awing-omega"),                      # case 4
    (["--loss-map-weight", "1e300"], "argument --loss-map-weight"),                                         # case 5
    (["--loss", "wing", "--wing-omega", "1e-300", "--wing-epsilon", "1e-300"], "argument --wing-omega"),    # case 6
    (["--integral-weight", "1e300"], "argument --integral-weight"),                                        # case 7
    (["--loss", "focal", "--focal-alpha", "1e300", "--focal-beta", "1e300"], "argument --focal-alpha"),     # case 8
    (["--loss", "focal", "--focal-beta", "1e300"], "argument --focal-beta"),
    (["--loss", "wing", "--wing-epsilon", "1e-300"], "argument --wing-epsilon"),
    (["--loss", "smooth-l1", "--smooth-l1-beta", "1e-40"], "argument --smooth-l1-beta"),
    (["--awing-alpha", "1e6"], "--awing-alpha 1e+06: the loss at d = theta"),     # 0.5^1e6: 0 everywhere
    (["--awing-theta", "1e30", "--awing-alpha", "3"], "--awing-theta 1e+30"),      # (1e30)^3 overflows
    (["--loss", "wing", "--wing-omega", "1e30", "--wing-epsilon", "1e-20"], "omega / epsilon, overflows"),
])
def test_out_of_range_loss_options_are_refused_up_front(argv, needle, tmp_path, capsys):
    """argparse's refusal: exit 2, its usage and one ``error:`` line naming the option."""
    code, _, err = run_cli(train.main, TINY + argv + ["--out", tmp_path / "run"], capsys)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1 and needle in errors[0] and "Traceback" not in err, err[-2000:]
    assert not (tmp_path / "run").exists()


def test_a_config_files_out_of_range_loss_option_names_the_file(tmp_path, capsys):
    config = tmp_path / "focal.toml"
    config.write_text('loss = "focal"\nfocal-alpha = 1e6\n')
    code, _, err = run_cli(train.main, TINY + ["--config", config, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, str(config), "--focal-alpha", "125.471")


def _constant_loss(value):
    """A criterion whose loss is `value` times the outputs' sum times 0 (differentiable, exactly
    `value` * 0 = 0, or NaN for value NaN): what loss options the parser cannot foresee give."""
    def criterion(outputs, *_):
        return sum(out.sum() for out in outputs) * 0.0 * value
    return lambda args, num_landmarks: criterion


def test_a_loss_that_stays_zero_stops_the_run_naming_the_loss_options(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(trainer_module, "build_criterion", _constant_loss(1.0))
    out = tmp_path / "run"
    argv = TINY + ["--train-samples", str(8 * (ZERO_LOSS_STEPS + 5)), "--loss", "smooth-l1", "--out", out]
    code, _, err = run_cli(train.main, argv, capsys)
    line = assert_one_line_error(code, err, f"exactly 0 for {ZERO_LOSS_STEPS} steps in a row",
                                 f"step {ZERO_LOSS_STEPS - 1})", "--loss smooth-l1 --smooth-l1-beta 0.1",
                                 "--loss-map-weight 10", "none was written before it")
    assert "last.pt" not in line
    assert not (out / "last.pt").exists() and not (out / LOCK_NAME).exists()
    records = (out / "metrics.jsonl").read_text().splitlines()
    assert len(records) == ZERO_LOSS_STEPS - 1   # logged every step until the stop


def test_a_non_finite_loss_names_the_checkpoint_only_when_there_is_one(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(trainer_module, "build_criterion", _constant_loss(float("nan")))
    code, _, err = run_cli(train.main, TINY + ["--loss", "wing", "--lr", "0.01", "--out", out], capsys)
    line = assert_one_line_error(code, err, "non-finite loss nan at epoch 0 step 0", "none was written before it",
                                 "--loss wing --wing-omega 14 --wing-epsilon 1 --loss-map-weight 10",
                                 "--lr 0.01: try a lower one")
    assert "last.pt" not in line and "--amp" not in line   # autocast is off on the CPU: not a cause here
    monkeypatch.undo()
    assert run_cli(train.main, TINY + ["--epochs", "2", "--max-steps", "1", "--out", out, "--overwrite"],
                   capsys)[0] == 0
    monkeypatch.setattr(trainer_module, "build_criterion", _constant_loss(float("nan")))
    code, _, err = run_cli(train.main, TINY + ["--out", out, "--resume", "auto"], capsys)
    errors = [line for line in err.splitlines() if "error:" in line]   # after the "resumed from" line
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err[-2000:]
    for needle in ("non-finite loss nan at epoch 0 step 1", f"the last one is {out / 'last.pt'}",
                   "--loss awing --awing-omega 14"):
        assert needle in errors[0], (needle, errors[0])
    assert not (out / LOCK_NAME).exists()
