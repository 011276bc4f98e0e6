"""Multi-process training under torchrun: process group from the environment, rank helpers.

`torchrun --nproc-per-node N -m timestepmusic train-ae …` sets RANK, WORLD_SIZE and LOCAL_RANK.
NCCL on CUDA, gloo on CPU. Each rank computes its slice of every global batch; gradients are
averaged, and losses are normalised by the *global* counts, so N processes take the same steps
as one process with the same global batch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"  # where collectives' tensors must live (NCCL: this rank's GPU)

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def shard(self, index: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous slice of a global batch of indices."""
        if not self.active:
            return index
        bounds = torch.linspace(0, index.shape[0], self.world + 1).round().long()
        return index[bounds[self.rank]:bounds[self.rank + 1]]

    def average_gradients(self, parameters) -> None:
        """All-reduce the gradients (sum) of parameters that have them; losses are pre-scaled by the world size."""
        if not self.active:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        if grads:
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)
            flat /= self.world
            at = 0
            for g in grads:
                g.copy_(flat[at:at + g.numel()].view_as(g))
                at += g.numel()


def from_environment(device_name: str) -> tuple[Dist, str]:
    """Join the process group torchrun describes (if any); returns the ranks and the device to use."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), device_name
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_name in ("auto", "cuda") or device_name.startswith("cuda")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        return Dist(rank, world, local_rank, f"cuda:{local_rank}"), f"cuda:{local_rank}"
    return Dist(rank, world, local_rank), "cpu"
