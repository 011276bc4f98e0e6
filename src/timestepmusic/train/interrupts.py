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
ENDED_INTERRUPTED = "interrupted%s at the run's end: it is complete, and %s/last is saved"  # (log lines: stopped_by, the run)


def diverged(out: str | Path, step: int, why: str) -> ValueError:
    """The error a loss gone NaN stops training with at `step` (`why`: which loss, or "on another rank"), saying what
    to do; nothing is saved, so RUN/last, where there is one, is the last finite state."""
    saved = f"; {out}/last holds the run's last checkpoint before it" if (Path(out) / "last").is_dir() else ""
    return ValueError(f"{out}: training diverged at step {step} ({why}); start again with a lower learning rate "
                      f"(--set ae.lr, gan.lr or ar.lr){saved}")


class Interrupted(KeyboardInterrupt):
    """Training stopped by `signum` (Ctrl-C's SIGINT, or SIGTERM) at a step's end, its state saved: `tsm` exits 128 +
    the signal's number, as a process the signal ended does (130 for Ctrl-C, 143 for SIGTERM), so that a scheduler or
    a script that sent SIGTERM reads the status it expects."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__()
        self.signum = signum


class StopNow(Interrupted):
    """A second Ctrl-C (or SIGTERM) within a step: training stops at once, without saving."""


def exit_status(stopped: KeyboardInterrupt) -> int:
    """The exit status of a command `stopped` ended: 128 + the number of the signal that stopped it (130 for Ctrl-C,
    143 for SIGTERM); a KeyboardInterrupt that is not training's own is Ctrl-C's."""
    return 128 + getattr(stopped, "signum", signal.SIGINT)


def stopped_by(stopped: KeyboardInterrupt) -> str:
    """' by SIGTERM' after 'interrupted' where SIGTERM stopped training; '' for Ctrl-C, which 'interrupted' says."""
    signum = getattr(stopped, "signum", signal.SIGINT)
    return "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"


# Ctrl-C, and the SIGTERM that `kill`, `timeout`, a batch scheduler's time limit or `docker stop` sends: either is
# held to the step's end and saved (a run stopped by SIGTERM lost every step since its last checkpoint)
HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def held_interrupts() -> Iterator[Callable[..., None]]:
    """While training: Ctrl-C (SIGINT) or SIGTERM is noted, not raised; the check it yields raises Interrupted (a
    KeyboardInterrupt naming the signal) at a step's end if one came (given a distributed run's ranks, on every rank
    once one had it, so that none is left waiting in a collective). A second one raises StopNow where it lands. (Off
    the main thread, where no handler may be set, Ctrl-C is raised where it lands, as before; a handler set outside
    Python, which could not be put back, is left as it is.) The handlers taken over are put back when training ends."""
    asked: list[int] = []  # the signal that came, once one has

    def hold(signum, frame) -> None:
        if asked:
            raise StopNow(signum)
        asked.append(signum)

    def check(ranks=None) -> None:  # ranks: a distributed run's (train/distributed.Dist), which stop together
        came = [sig in asked for sig in HELD]  # (per signal: the ranks name one, SIGTERM where any rank had it)
        came = list(ranks.agree(*came)) if ranks is not None else came
        if any(came):
            raise Interrupted(max(sig for sig, there in zip(HELD, came) if there))

    main = threading.current_thread() is threading.main_thread()
    # (a handler set outside Python, getsignal's None, is left to its owner: signal.signal could not put it back)
    taken = [sig for sig in HELD if main and signal.getsignal(sig) is not None]
    previous = {sig: signal.signal(sig, hold) for sig in taken}
    try:
        yield check
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
