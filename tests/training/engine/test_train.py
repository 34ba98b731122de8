"""The training loop: a step learns, a tiny run overfits, resume reproduces an uninterrupted run,
non-finite losses stop the run, evaluate reads the checkpoint."""
import json
import math

import numpy as np
import pytest
import torch

from training.core.cli import UsageError
from training import evaluate, train
from training.engine.trainer import Trainer
from training.core.checkpoint import load_checkpoint
from training.engine.loss_watch import NonFiniteLoss

TINY = ["--preset", "tiny", "--workers", "0", "--no-progress", "--batch-size", "8", "--val-samples", "16",
        "--test-samples", "16", "--log-every", "1"]


def _trainer(tmp_path, *extra):
    return Trainer(train.parse_args(TINY + ["--out", str(tmp_path), *extra]))


def _fixed_batch(trainer, n=8):
    items = [trainer.train_set[i] for i in range(n)]
    return torch.utils.data.default_collate(items)


def test_one_step_changes_weights_and_lowers_loss(tmp_path):
    trainer = _trainer(tmp_path, "--train-samples", "8", "--lr", "1e-3")
    batch = _fixed_batch(trainer)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    first = trainer.train_step(batch)
    changed = [k for k, v in trainer.model.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])]
    assert len(changed) > 0.9 * sum(v.is_floating_point() for v in before.values())
    for _ in range(4):
        last = trainer.train_step(batch)
    assert last < first


def test_tiny_run_overfits_a_handful_of_faces(tmp_path):
    trainer = _trainer(tmp_path, "--train-samples", "8", "--no-augment", "--lr", "3e-3")
    batch = _fixed_batch(trainer)
    losses = [trainer.train_step(batch) for _ in range(200)]  # ~10 s
    assert losses[-1] < 0.5 * losses[0]
    from training.infer.predictor import crop_landmarks
    from training.eval.metrics import nme
    trainer.model.eval()
    pred, _ = crop_landmarks(trainer.model, batch["image"], trainer.codec)
    mean_shape = batch["landmarks"].mean(0, keepdim=True).expand_as(batch["landmarks"])
    assert nme(pred, batch["landmarks"]).mean() < 0.5 * nme(mean_shape, batch["landmarks"]).mean()


def test_resume_matches_uninterrupted_run(tmp_path):
    common = TINY + ["--train-samples", "32", "--epochs", "2", "--checkpoint-every", "2"]
    train.main(common + ["--out", str(tmp_path / "full")])
    # stopped mid-epoch after 3 steps (checkpoint written at the stop), then resumed twice
    assert train.main(common + ["--out", str(tmp_path / "split"), "--max-steps", "3"]) == {}
    assert train.main(common + ["--out", str(tmp_path / "split"), "--resume", "auto", "--max-steps", "6"]) == {}
    train.main(common + ["--out", str(tmp_path / "split"), "--resume", "auto"])
    full, split = load_checkpoint(tmp_path / "full" / "last.pt"), load_checkpoint(tmp_path / "split" / "last.pt")
    assert full["step"] == split["step"] == 8 and full["epoch"] == split["epoch"] == 2
    for key, value in full["model"].items():
        assert torch.equal(value, split["model"][key]), key
    assert full["best_nme"] == split["best_nme"]


def test_run_folder_contents_and_evaluate(tmp_path, capsys):
    report = train.main(TINY + ["--train-samples", "16", "--epochs", "1", "--out", str(tmp_path)])
    for name in ("config.json", "last.pt", "best.pt", "metrics.jsonl", "results.json", "ced.png", "predictions.png"):
        assert (tmp_path / name).exists(), name
    assert json.loads((tmp_path / "config.json").read_text())["preset"] == "tiny"
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert any("loss" in r for r in lines) and any("val_nme" in r for r in lines)
    assert set(report["results"]) == {"model", "mean shape"}
    out = evaluate.main(["--checkpoint", str(tmp_path / "best.pt"), "--workers", "0", "--out", str(tmp_path / "eval")])
    assert np.isclose(out["results"]["model"]["nme"], report["results"]["model"]["nme"])
    assert (tmp_path / "eval" / "ced_test.png").exists()
    assert "| model" in capsys.readouterr().out


def test_non_finite_loss_stops_without_checkpoint(tmp_path):
    trainer = _trainer(tmp_path, "--train-samples", "8")
    batch = _fixed_batch(trainer)
    with torch.no_grad():
        next(trainer.model.parameters()).fill_(float("nan"))
    trainer.train_step(batch)   # the loss stays on the device: no sync, no check yet
    with pytest.raises(NonFiniteLoss, match="non-finite loss nan at epoch 0 step 0"):
        trainer.save("last.pt")   # every checkpoint is written after the check
    assert not (tmp_path / "last.pt").exists()


def test_evaluate_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        evaluate.main(["--checkpoint", str(tmp_path / "none.pt")])


# ------------------------------------------------------------------------------ --init
def test_init_starts_from_the_checkpoint_weights(tmp_path):
    train.main(TINY + ["--train-samples", "16", "--epochs", "1", "--out", str(tmp_path / "a")])
    source = load_checkpoint(tmp_path / "a" / "best.pt")
    trainer = _trainer(tmp_path / "b", "--train-samples", "8", "--init", str(tmp_path / "a" / "best.pt"))
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, source["model"][key]), key
    assert trainer.progress.step == 0 and trainer.optimizer.state_dict()["state"] == {}  # a new optimiser
    trainer.train_step(_fixed_batch(trainer))


def test_init_adopts_a_converted_models_architecture_and_input(tmp_path):
    """A converted released model (pixel/255 input, 256 x 256) fine-tunes as it is."""
    from helpers.released_fan import ReleasedFAN, randomise
    from training import convert
    src = tmp_path / "released.pth"
    torch.save(randomise(ReleasedFAN(2, 68, width=16, depth=2), seed=0).state_dict(), src)
    convert.convert(src, tmp_path / "awing.pt")
    trainer = _trainer(tmp_path / "run", "--train-samples", "2", "--batch-size", "2", "--init", str(tmp_path / "awing.pt"))
    cfg = trainer.model.config
    assert (cfg.input_size, cfg.input_mean, cfg.input_std, cfg.width, cfg.depth) == (256, 0.0, 1.0, 16, 2)
    assert trainer.input_size == 256 and trainer.train_set[0]["image"].shape[-1] == 256
    assert math.isfinite(trainer.train_step(_fixed_batch(trainer, 2)))


def test_init_errors(tmp_path):
    with pytest.raises(UsageError, match="--init: checkpoint not found"):
        train.main(TINY + ["--out", str(tmp_path / "x"), "--init", str(tmp_path / "none.pt")])
    with pytest.raises(UsageError, match="takes the architecture and weights from the checkpoint: drop --stacks$"):
        train.main(TINY + ["--out", str(tmp_path / "x"), "--init", str(tmp_path / "none.pt"), "--stacks", "2"])
    ckpt = {"model": {}, "config": {}, "model_config": {"num_landmarks": 98, "num_stacks": 2, "width": 16, "depth": 2,
                                                        "input_size": 64}}
    torch.save(ckpt, tmp_path / "wflw.pt")
    with pytest.raises(UsageError, match="predicts 98 landmarks but the synthetic data has 68"):
        train.main(TINY + ["--out", str(tmp_path / "x"), "--init", str(tmp_path / "wflw.pt")])


def test_evaluate_on_another_dataset(tmp_path, capsys):
    """Cross-dataset evaluation: a model trained on synthetic faces (68 points) on a folder of
    68-point photos; a folder of 98-point faces is refused with the reason."""
    from helpers.datasets import write_folder
    train.main(TINY + ["--train-samples", "16", "--epochs", "1", "--out", str(tmp_path / "run")])
    write_folder(tmp_path / "photos", n=12)
    report = evaluate.main(["--checkpoint", str(tmp_path / "run" / "best.pt"), "--dataset", "folder",
                            "--data-root", str(tmp_path / "photos"), "--workers", "0", "--out", str(tmp_path / "eval")])
    assert report["dataset"] == "folder" and report["samples"] == 1  # the test split: every tenth file
    assert (tmp_path / "eval" / "results_test.json").exists()
    write_folder(tmp_path / "wflw_like", n=12, k=98)
    with pytest.raises(UsageError, match="predicts 68 landmarks but folder has 98"):
        evaluate.main(["--checkpoint", str(tmp_path / "run" / "best.pt"), "--dataset", "folder",
                       "--data-root", str(tmp_path / "wflw_like"), "--workers", "0"])


@pytest.mark.slow
def test_compiled_training_step(tmp_path):
    """--compile: torch.compile of the model, the fused ops inside the graph (~2 min of compiling)."""
    trainer = _trainer(tmp_path, "--train-samples", "8", "--compile")
    batch = _fixed_batch(trainer, 4)
    losses = [trainer.train_step(batch) for _ in range(3)]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
