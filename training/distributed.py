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


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> tuple:
    """Joins the process group torchrun describes (WORLD_SIZE > 1); returns (DistInfo, torch.device).

    `device` is the --device option: "auto" picks cuda:LOCAL_RANK when CUDA is present, else CPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank if world_size > 1 else torch.cuda.current_device())
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    info = DistInfo(rank, world_size, local_rank)
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
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
