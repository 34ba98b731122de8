"""Checkpoints: atomic writes, weights_only loading, clear errors for missing/corrupt files."""
import pytest
import torch

from training.core.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip(tmp_path):
    state = {"model": {"w": torch.arange(4.0)}, "config": {"lr": 0.1}, "step": 3}
    save_checkpoint(state, tmp_path / "a" / "last.pt")
    loaded = load_checkpoint(tmp_path / "a" / "last.pt")
    assert torch.equal(loaded["model"]["w"], state["model"]["w"]) and loaded["step"] == 3
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["last.pt"]  # no temp files left


def test_failed_write_keeps_previous_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({"model": {}, "config": {}, "step": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        save_checkpoint({"model": {}, "config": {}, "bad": Unpicklable()}, path)
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="corrupt"):
        load_checkpoint(bad)
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(RuntimeError, match="not an awing checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_refuses_code_objects(tmp_path):
    """weights_only=True: a pickled arbitrary object is refused, not executed."""
    torch.save({"model": {}, "config": {}, "obj": torch.nn.Linear(1, 1)}, tmp_path / "evil.pt")
    with pytest.raises(RuntimeError, match="corrupt or not an awing checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")


def test_ctrl_c_during_a_save_finishes_the_checkpoint_then_interrupts(tmp_path, monkeypatch):
    """A SIGINT inside torch.save used to leave torch's zip writer half-written (closing it then
    fails with "unexpected pos", an error instead of the interrupt): the write now completes and
    the KeyboardInterrupt comes after it."""
    import os
    import signal

    import training.core.checkpoint as checkpoint_module
    real_save = torch.save

    def save_with_ctrl_c(obj, f):
        os.kill(os.getpid(), signal.SIGINT)      # delivered while the file is being written
        real_save(obj, f)

    monkeypatch.setattr(checkpoint_module.torch, "save", save_with_ctrl_c)
    path = tmp_path / "last.pt"
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"step": 3, "model": {"w": torch.arange(5.0)}, "config": {}}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]      # no temporary file left
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
