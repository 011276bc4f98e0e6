"""When a time-boxed or step-capped training run stops, agreed by every rank."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from .distributed import Dist


@dataclass
class Budget:
    """`max_steps` steps or `max_seconds` of wall-clock time from construction, whichever comes first."""

    max_steps: int | None = None
    max_seconds: float | None = None
    started: float = field(default_factory=time.perf_counter)

    def spent(self, step: int, ranks: Dist = Dist()) -> bool:
        """True once the budget is used up; under torchrun every rank gets the same answer (the clocks
        of the ranks differ, and a rank that stops alone would leave the others waiting in a collective)."""
        stop = (self.max_steps is not None and step >= self.max_steps) or \
               (self.max_seconds is not None and time.perf_counter() - self.started >= self.max_seconds)
        if ranks.active:
            flag = torch.tensor([float(stop)], device=ranks.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            stop = bool(flag[0])
        return stop
