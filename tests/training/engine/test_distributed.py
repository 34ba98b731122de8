"""Multi-process training: two gloo processes on the CPU keep identical weights and match a
single process that averages the same two half-batches' gradients."""
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from training import train
from training.engine.trainer import Trainer

from helpers import REPO

STEPS = 3
ARGS = ["--preset", "tiny", "--workers", "0", "--no-progress", "--train-samples", "32", "--batch-size", "4",
        "--val-samples", "8", "--test-samples", "8", "--seed", "3"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _collate(dataset, indices):
    return torch.utils.data.default_collate([dataset[i] for i in indices])


def _worker(rank, world_size, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    trainer = Trainer(train.parse_args(ARGS + ["--out", out_dir, "--device", "cpu"]))
    assert trainer.dist.world_size == world_size and isinstance(
        trainer.net, torch.nn.parallel.DistributedDataParallel)
    batches = trainer.epoch_batches(0)
    losses = [trainer.train_step(_collate(trainer.train_set, batches[0]))]
    first_grads = torch.cat([p.grad.flatten() for p in trainer.model.parameters()])  # DDP-averaged
    losses += [trainer.train_step(_collate(trainer.train_set, batches[s])) for s in range(1, STEPS)]
    params = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
    gathered = [torch.empty_like(params) for _ in range(world_size)]
    torch.distributed.all_gather(gathered, params)
    torch.save({"losses": losses, "first_grads": first_grads, "params": params, "gathered": gathered, "batches": batches[:STEPS]},
               os.path.join(out_dir, f"rank{rank}.pt"))
    train.shutdown(trainer.dist)


def test_two_gloo_processes_match_single_process(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    # every replica holds the same weights
    assert torch.equal(ranks[0]["gathered"][0], ranks[0]["gathered"][1])
    assert ranks[0]["losses"] == ranks[1]["losses"]  # the logged loss is the all-reduced mean
    assert set(sum(ranks[0]["batches"], [])).isdisjoint(sum(ranks[1]["batches"], []))  # disjoint shards

    # Single process, same initial weights, the same two half-batches, gradients averaged as DDP
    # does: the first step's loss and gradients must agree. (Weights are not compared: AdamW's
    # normalised update turns float rounding in near-zero gradients into +-lr differences.)
    # One thread, as in the workers: the boundary-coordinate mask (stack 2's input) is a hard
    # threshold, so a last-bit difference between thread counts can flip a pixel of it.
    from training.models.inputs import normalise_images
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ref = Trainer(train.parse_args(ARGS + ["--out", str(tmp_path / "single"), "--device", "cpu"]))
    ref.optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for r in range(2):
        batch = _collate(ref.train_set, ranks[r]["batches"][0])
        target, weight = ref.codec.encode(batch["landmarks"], batch["visible"])
        points = ref.codec.crop_to_heatmap(batch["landmarks"].float())
        loss = ref.criterion(ref.model(normalise_images(batch["image"])), target, weight, points, batch["visible"])
        (loss / 2).backward()
        total += loss.item() / 2
    torch.set_num_threads(threads)
    assert ranks[0]["losses"][0] == pytest.approx(total, rel=1e-6)
    ref_grads = torch.cat([p.grad.flatten() for p in ref.model.parameters()])
    torch.testing.assert_close(ranks[0]["first_grads"], ref_grads, rtol=1e-4, atol=1e-5 * ref_grads.abs().max().item())
    assert ranks[0]["losses"][-1] < ranks[0]["losses"][0]


@pytest.mark.parametrize("processes", [2, 1])
def test_torchrun_command_line(tmp_path, processes):
    """The documented command: torchrun --nproc_per_node=N -m training.train ... (gloo on CPU).
    One process under torchrun still trains through the process group and DDP (what the GPU
    check's one-process NCCL run relies on)."""
    import subprocess
    import sys
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
           "-m", "training.train", *ARGS, "--epochs", "1", "--device", "cpu", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{processes} processes" in proc.stderr and "| model" in proc.stdout
    assert (out / "best.pt").exists() and (out / "results.json").exists()
    import json
    assert json.loads((out / "config.json").read_text())["world_size"] == processes
