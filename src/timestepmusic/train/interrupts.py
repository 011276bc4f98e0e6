"""How training stops short of its end: Ctrl-C (or SIGTERM), held until the step under way ends, so that the checkpoint it saves
is a whole step's state (weights, optimizers, random streams) and `--resume` goes on as if never stopped (a second
Ctrl-C stops at once, without saving: the last checkpoint stays); and a loss gone NaN, unsaved (DIVERGED says what
to do next)."""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

STOPPED_AT_ONCE = "interrupted twice: stopped at once, without saving; %s/last holds the run's last checkpoint"
ENDED_INTERRUPTED = "interrupted at the run's end: it is complete, and %s/last is saved"  # (log lines; %s: the run)


def diverged(out: str | Path, step: int, why: str) -> ValueError:
    """The error a loss gone NaN stops training with at `step` (`why`: which loss, or "on another rank"), saying what
    to do; nothing is saved, so RUN/last, where there is one, is the last finite state."""
    saved = f"; {out}/last holds the run's last checkpoint before it" if (Path(out) / "last").is_dir() else ""
    return ValueError(f"{out}: training diverged at step {step} ({why}); start again with a lower learning rate "
                      f"(--set ae.lr, gan.lr or ar.lr){saved}")


class StopNow(KeyboardInterrupt):
    """A second Ctrl-C (or SIGTERM) within a step: training stops at once, without saving."""


# Ctrl-C, and the SIGTERM that `kill`, `timeout`, a batch scheduler's time limit or `docker stop` sends: either is
# held to the step's end and saved (a run stopped by SIGTERM lost every step since its last checkpoint)
HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def held_interrupts() -> Iterator[Callable[..., None]]:
    """While training: Ctrl-C (SIGINT) or SIGTERM is noted, not raised; the check it yields raises KeyboardInterrupt at a step's
    end if one came (given a distributed run's ranks, on every rank once one had it, so that none is left waiting in
    a collective). A second one raises StopNow where it lands. (Off the main thread, where no handler may be set,
    Ctrl-C is raised where it lands, as before; a handler set outside Python, which could not be put back, is left as
    it is.) The handlers taken over are put back when training ends."""
    asked: list[bool] = []

    def hold(signum, frame) -> None:
        if asked:
            raise StopNow
        asked.append(True)

    def check(ranks=None) -> None:  # ranks: a distributed run's (train/distributed.Dist), which stop together
        if (ranks.agree(bool(asked))[0] if ranks is not None else asked):
            raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    # (a handler set outside Python, getsignal's None, is left to its owner: signal.signal could not put it back)
    taken = [sig for sig in HELD if main and signal.getsignal(sig) is not None]
    previous = {sig: signal.signal(sig, hold) for sig in taken}
    try:
        yield check
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
