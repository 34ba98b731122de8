"""Multi-process training with torch.distributed, as started by torchrun.

    torchrun --nproc_per_node=N -m training.train ...          # one machine, N GPUs (or CPU processes)
    torchrun --nnodes=M --node_rank=R --master_addr=HOST ... -m training.train ...

Each process trains a DistributedDataParallel replica on its shard of every epoch
(DistributedSampler); NCCL on GPUs, gloo on CPU. Without torchrun's environment everything here
degrades to a single process.
"""
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..core.runtime import resolve_device


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launched: bool = False  # started by torchrun, even as its only process

    @property
    def enabled(self) -> bool:
        """A process group and DDP: under torchrun (one process too: the NCCL/gloo path then
        runs as in a multi-GPU job), or whenever there is more than one process."""
        return self.launched or self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> tuple:
    """Joins the process group when torchrun started this process (even as its only process) or
    the environment describes more than one; returns (DistInfo, torch.device).

    `device` is the --device option ("auto": CUDA when present, else CPU); a bare "cuda" is
    cuda:LOCAL_RANK under torchrun, else the current CUDA device.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    launched = "TORCHELASTIC_RUN_ID" in os.environ  # set by torchrun for its workers
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank if launched else torch.cuda.current_device())
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    info = DistInfo(rank, world_size, local_rank, launched)
    if info.enabled and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", device_id=dev if dev.type == "cuda" else None)
    return info, dev


def all_reduce_sum(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Element-wise sum over all processes (a copy; the input is left unchanged)."""
    out = values.clone()
    if info.enabled:
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Leaves the process group together: a barrier first, so that no process tears its
    connections down while a peer still uses them (gloo aborts the peer then)."""
    if info.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
