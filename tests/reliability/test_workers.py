"""Data-loader workers: --workers is bounded (a clear error, not a fork storm until memory runs
out), and workers end with their parent: SIGKILL the parent and none survives 10 s, even one busy
inside a sample."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpers.cli_runs import ROOT, TINY, run_cli, subprocess_env
from training import evaluate, train
from training.engine.trainer import Trainer
from training.core.cli import max_workers


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_workers_are_bounded(tmp_path, capsys, command):
    main = {"train": train.main, "evaluate": evaluate.main}[command]
    argv = (TINY + ["--out", tmp_path / "run"]) if command == "train" else ["--checkpoint", tmp_path / "none.pt"]
    code, _, err = run_cli(main, argv + ["--workers", "100000"], capsys)
    assert code == 2 and f"argument --workers: must be an integer in [0, {max_workers()}]" in err
    assert "got 100000" in err and not (tmp_path / "run").exists()
    assert max_workers() >= 16


def _children(pid):
    """pids of the live (not zombie) processes whose parent is `pid` (Linux /proc)."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                kids.append(int(entry.name))
    return kids


def _alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals and /proc are Linux's")
def test_workers_die_with_their_parent(tmp_path):
    """The package's loaders pass runtime.worker_init(); here two workers sleep inside a sample
    (torch's own watchdog only looks between samples), then their parent is SIGKILLed."""
    script = textwrap.dedent(f"""
        import os, sys, time
        import torch
        from training.core.runtime import worker_init

        class Slow(torch.utils.data.Dataset):
            def __len__(self):
                return 100
            def __getitem__(self, i):
                open(os.path.join({str(tmp_path)!r}, f"busy-{{os.getpid()}}"), "w").close()
                time.sleep(120)
                return i

        loader = torch.utils.data.DataLoader(Slow(), batch_size=1, num_workers=2, worker_init_fn=worker_init())
        next(iter(loader))
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], env=subprocess_env(), cwd=ROOT)
    workers = []
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("busy-*"))) < 2:
            assert parent.poll() is None, "the loader process ended early"
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("busy-*")]
        assert set(workers) <= set(_children(parent.pid))
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)], "workers outlived their parent by 10 s"
    finally:
        if parent.poll() is None:
            parent.kill()
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)


def test_the_training_and_evaluation_loaders_use_it(tmp_path):
    trainer = Trainer(train.parse_args(TINY + ["--workers", "1", "--out", str(tmp_path)]))
    loader = trainer.loader(trainer.val_set, batch_size=4)
    assert loader.worker_init_fn is not None and loader.worker_init_fn.func.__name__ == "_die_with_parent"
    assert loader.worker_init_fn.args == (os.getpid(),)
