"""When a time-boxed or step-capped training run stops, agreed by every rank."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .distributed import Dist


@dataclass
class Budget:
    """`max_steps` steps or `max_seconds` of wall-clock time from construction, whichever comes first."""

    max_steps: int | None = None
    max_seconds: float | None = None
    started: float = field(default_factory=time.perf_counter)

    def spent_here(self, step: int) -> bool:
        """True once this process has used the budget up (see `spent` for the answer every rank agrees on)."""
        return (self.max_steps is not None and step >= self.max_steps) or \
               (self.max_seconds is not None and self.seconds() >= self.max_seconds)

    def spent(self, step: int, ranks: Dist = Dist()) -> bool:
        """True once the budget is used up; under torchrun every rank gets the same answer."""
        return ranks.agree(self.spent_here(step))[0]

    def seconds(self) -> float:
        """Seconds since the budget started."""
        return time.perf_counter() - self.started
