"""--config: the shipped recipes parse and say what the paper says, the command line overrides a
file, a run's config.json repeats the run, and bad files give one clear error."""
import json
import subprocess
import sys
from dataclasses import asdict

import pytest

from training import train
from training.train_config import ConfigError, load_config
from training.engine.schedule import lr_milestones
from training.engine.trainer import augment_config
from training.train_options import build_parser
from training.data.transforms import AugmentConfig

from helpers import REPO as ROOT

CONFIGS = ROOT / "configs"


def test_demo_config_is_trains_defaults():
    from_file = vars(train.parse_args(["--config", str(CONFIGS / "demo.toml")]))
    defaults = vars(train.parse_args([]))
    assert from_file.pop("config") == str(CONFIGS / "demo.toml")
    defaults.pop("config")
    assert from_file == defaults


def test_augment_defaults_agree_with_augment_config():
    assert augment_config(train.parse_args([])) == AugmentConfig()


@pytest.mark.parametrize("name,dataset", [("300w", "300w"), ("wflw", "wflw"), ("cofw", "cofw")])
def test_paper_recipes(name, dataset):
    """The values docs/design.md gives for the paper's training (RMSprop, lr 1e-4, wd 1e-5,
    rotation 50 deg, translation 25 px of 256, flip 0.5, scaling 15 %) and the paper preset."""
    args = train.parse_args(["--config", str(CONFIGS / f"{name}.toml")])
    assert args.dataset == dataset and args.preset == "paper" and args.sigma == 1.0
    assert (args.optimizer, args.lr, args.weight_decay) == ("rmsprop", 1e-4, 1e-5)
    assert (args.epochs, args.lr_milestones, args.lr_gamma) == (240, [80, 160], 0.1)
    aug = augment_config(args)
    assert (aug.rotate, aug.scale_jitter, aug.flip) == (50.0, 0.15, 0.5)
    assert aug.translate * 256 == pytest.approx(25.0)
    assert aug.occlusion > 0 and aug.blur > 0 and aug.noise > 0
    text = (CONFIGS / f"{name}.toml").read_text()
    assert "Section 4" in text and "Implementation details" in text


def test_command_line_overrides_the_file():
    args = train.parse_args(["--lr", "3e-4", "--config", str(CONFIGS / "300w.toml"), "--epochs", "2",
                             "--lr-milestones", "1"])
    assert (args.lr, args.epochs, args.lr_milestones) == (3e-4, 2, [1])
    assert args.optimizer == "rmsprop"  # the rest still from the file


def test_switches_a_file_turns_on_can_be_turned_off(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("skip-bad = true\ncompile = true\nchannels-last = false\nno-augment = true\nno-progress = true\n")
    on = train.parse_args(["--config", str(cfg)])
    assert (on.skip_bad, on.compile, on.channels_last, on.no_augment, on.no_progress) == (True, True, False, True, True)
    off = train.parse_args(["--config", str(cfg), "--no-skip-bad", "--no-compile", "--channels-last", "--augment",
                            "--progress"])
    assert (off.skip_bad, off.compile, off.channels_last, off.no_augment, off.no_progress) == \
        (False, False, True, False, False)


def test_default_milestones_follow_the_epochs_of_a_repeated_run(tmp_path):
    """The default milestones (75 % and 90 % of --epochs) are not frozen into config.json."""
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({**vars(train.parse_args(["--epochs", "8"])), "out": "runs/x", "world_size": 1}))
    assert lr_milestones(train.parse_args(["--config", str(cfg)])) == [6, 7]
    assert lr_milestones(train.parse_args(["--config", str(cfg), "--epochs", "80"])) == [60, 72]
    assert lr_milestones(train.parse_args(["--lr-milestones"])) == []   # no decay


def test_sections_and_key_spellings(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('batch_size = 4\n[model]\npreset = "tiny"\n[any-name]\nno-augment = true\nlr-milestones = [2, 3]\n')
    args = train.parse_args(["--config", str(cfg)])
    assert (args.batch_size, args.preset, args.no_augment, args.lr_milestones) == (4, "tiny", True, [2, 3])


@pytest.mark.parametrize("text,message", [
    ("batch-size = 0\n", "batch-size: must be an integer >= 1, got 0"),
    ("lr = -1.0\n", "argument --lr: must be a number > 0"),
    ("optimiser = 'sgd'\n", "unknown option 'optimiser' (did you mean 'optimizer'?)"),
    ("optimizer = 'sgd'\n", "invalid choice: 'sgd'"),
    ("no-augment = 'yes'\n", "no-augment must be true or false"),
    ("epochs = true\n", "epochs takes a value, not true"),
    ("lr = [1, 2]\n", "lr takes one value, got a list"),
    ("[a.b]\nlr = 1\n", "tables nest one level deep at most"),
    ("lr = 1\nlr = 2\n", "not valid TOML"),
    ("config = 'other.toml'\n", "cannot name another config file"),
    ("[data]\nlr = 1.0\n[model]\nlr = 2.0\n", "'lr' is given twice"),
])
def test_bad_files_name_the_file_and_key(tmp_path, text, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        train.parse_args(["--config", str(cfg)])
    assert message in str(info.value) and str(cfg) in str(info.value)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.toml")
    (tmp_path / "x.json").write_bytes(b"\x00{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(tmp_path / "x.json")
    for name in ("latin1.toml", "latin1.json"):   # not UTF-8: an error, not U+FFFD in a value
        (tmp_path / name).write_bytes('{"sigma": 2.0,\n"out": "r\xe9glage"}'.encode("latin-1"))
        with pytest.raises(ConfigError, match=rf"{name}: not UTF-8 text \(byte 0xe9 on line 2\)"):
            load_config(tmp_path / name)
    (tmp_path / "y.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a table"):
        load_config(tmp_path / "y.json")


def test_cli_reports_config_errors_in_one_line(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("batch-size = 0\n")
    proc = subprocess.run([sys.executable, "-m", "training.train", "--config", str(cfg)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {cfg}: argument --batch-size: must be an integer >= 1, got 0")
    assert "Traceback" not in proc.stderr


def test_a_runs_config_json_repeats_it(tmp_path):
    first = ["--preset", "tiny", "--workers", "0", "--no-progress", "--batch-size", "4", "--train-samples", "8",
             "--val-samples", "8", "--test-samples", "8", "--epochs", "1", "--max-steps", "1", "--rotate", "12",
             "--blur", "0.5", "--noise", "0.5", "--lr-milestones", "1", "--out", str(tmp_path / "a")]
    train.main(first)
    recorded = tmp_path / "a" / "config.json"
    assert json.loads(recorded.read_text())["blur"] == 0.5
    again = vars(train.parse_args(["--config", str(recorded), "--out", str(tmp_path / "b")]))
    original = vars(train.parse_args(first))
    for key in ("out", "config"):
        again.pop(key), original.pop(key)
    assert again == original
    # without --out the repeat gets a fresh folder, not the recorded one
    assert train.parse_args(["--config", str(recorded)]).out is None


def test_augment_config_fields_all_reachable_from_the_command_line():
    """Every AugmentConfig range is an option of train (the paper's and the package's)."""
    parser_dests = {a.dest for a in build_parser()._actions}
    assert set(asdict(AugmentConfig())) <= parser_dests
