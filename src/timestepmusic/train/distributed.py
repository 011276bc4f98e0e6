"""Multi-process training under torchrun: process group from the environment, rank helpers.

`torchrun --nproc-per-node N -m timestepmusic train-ae …` sets RANK, WORLD_SIZE and LOCAL_RANK.
NCCL on CUDA, gloo on CPU. Each rank computes its slice of every global batch; gradients are
averaged, and losses are normalised by the *global* counts, so N processes take the same steps
as one process with the same global batch.
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
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

    def global_sums(self, *values: float) -> tuple[float, ...]:
        """Counts summed over the ranks (each rank passes its own), in float64: e.g. the events and sets of
        a global batch, by which every rank normalises its slice's loss."""
        if not self.active:
            return tuple(float(v) for v in values)
        totals = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self.device)
        dist.all_reduce(totals)
        return tuple(float(t) for t in totals)

    def agree(self, *flags: bool) -> tuple[bool, ...]:
        """Each flag true on every rank once it is true on any: ranks whose clocks differ stop and save
        together (a rank that stopped alone would leave the others waiting in a collective)."""
        if not self.active:
            return tuple(bool(f) for f in flags)
        values = torch.tensor([float(f) for f in flags], device=self.device)  # NCCL reduces only GPU tensors
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
        return tuple(bool(v) for v in values)

    def sum_differentiable(self, x: torch.Tensor) -> torch.Tensor:
        """The sum of x over the ranks; gradients flowing back are summed over the ranks too."""
        return _AllSum.apply(x) if self.active else x

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


class _AllSum(torch.autograd.Function):
    """All-reduce (sum) whose backward all-reduces the incoming gradients: every rank's loss uses the global
    value, so each slice's share of the gradient is the sum of what every rank's loss asks of it."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        total = x.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        total = grad.contiguous().clone()
        dist.all_reduce(total)
        return total


def leave_process_group(wait: bool = False) -> bool:
    """Leave the process group, if this process joined one (returns whether it had); wait=True first waits
    for every rank to finish, so that no rank closes its sockets while another still works."""
    if not dist.is_initialized():
        return False
    if wait:
        dist.barrier()
    dist.destroy_process_group()
    return True


def end_rank(code: int) -> None:
    """Exit a finished torchrun rank without the interpreter's teardown.

    Even after the group is destroyed, gloo's C++ threads can meet the teardown of the interpreter and
    abort a run that finished well ("terminate called without an active exception", exit -6: once in CI,
    and in 3 of about 155 two-process runs of tests/test_distributed.py here with the group destroyed
    and the ranks waited for; none in about 190 since this exit). Every output is written by now; the
    streams are flushed.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def from_environment(device_name: str) -> tuple[Dist, str]:
    """Join the process group torchrun describes (if any); returns the ranks and the device to use."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), device_name
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_name in ("auto", "cuda") or device_name.startswith("cuda")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
        atexit.register(leave_process_group)  # after an error: no waiting for ranks that may be gone
    if use_cuda:
        torch.cuda.set_device(local_rank)
        return Dist(rank, world, local_rank, f"cuda:{local_rank}"), f"cuda:{local_rank}"
    return Dist(rank, world, local_rank), "cpu"
