"""Where this process runs: alone, or as one rank of a `torchrun` job (multi-GPU, multi-node,
or several CPU processes with the gloo backend).

    torchrun --nproc_per_node 4 -m training train --config training/configs/rrdb.yaml

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them this is a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Process:
    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, validates, exports and writes checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def start(device: str) -> Process:
    """Join the torchrun job if there is one, on `device` ("auto", "cpu", "cuda"): NCCL and
    one GPU per local rank on CUDA, gloo on CPU."""
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but torch sees no CUDA device; use cpu or auto")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Process(0, 1, torch.device("cuda" if use_cuda else "cpu"))
    local_rank = int(os.environ["LOCAL_RANK"])
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return Process(dist.get_rank(), world, torch.device(f"cuda:{local_rank}" if use_cuda else "cpu"))


def stop(process: Process) -> None:
    if process.distributed and dist.is_initialized():
        dist.destroy_process_group()
