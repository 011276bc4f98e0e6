"""How training holds Ctrl-C and SIGTERM (train/interrupts.held_interrupts): the handlers it takes over are put back
as they were when training ends, however it ends, and a handler it could not put back is never taken."""
from __future__ import annotations

import signal
import threading

import pytest

from timestepmusic.train.interrupts import HELD, held_interrupts


def test_the_handlers_are_put_back_as_they_were_however_training_ends():
    """A Python caller's train_gan run twice, or one that raised: SIGINT and SIGTERM have their own handlers again."""
    before = {sig: signal.getsignal(sig) for sig in HELD}
    with held_interrupts():
        assert all(signal.getsignal(sig) is not before[sig] for sig in HELD)  # (held while it trains)
    with pytest.raises(RuntimeError), held_interrupts():
        raise RuntimeError("a failed step")
    assert {sig: signal.getsignal(sig) for sig in HELD} == before


def test_off_the_main_thread_nothing_is_taken():
    """In a thread (a notebook's or a server's worker), where signal.signal raises ValueError, training runs with
    the handlers as they are."""
    before, failures = {sig: signal.getsignal(sig) for sig in HELD}, []

    def train() -> None:
        try:
            with held_interrupts() as interrupted:
                interrupted()  # (nothing came: goes on)
        except Exception as e:  # noqa: BLE001 (said by the assertion below)
            failures.append(e)
    worker = threading.Thread(target=train)
    worker.start()
    worker.join()
    assert not failures and {sig: signal.getsignal(sig) for sig in HELD} == before


def test_a_handler_set_outside_python_is_left_to_its_owner(monkeypatch, request):
    """A SIGTERM handler that Python did not set (an application embedding Python, a C library's: getsignal says None)
    cannot be put back (signal.signal(SIGTERM, None) is a TypeError, which ended a finished run with a traceback
    and left training's handler in place): it is left as it is, and Ctrl-C alone is held."""
    real_signal, real_getsignal = signal.signal, signal.getsignal
    outside = real_getsignal(signal.SIGTERM)  # (here SIGTERM's handler before the test stands for one set outside Python)
    request.addfinalizer(lambda: real_signal(signal.SIGTERM, outside))
    taken = []

    def signal_as_python_says(sig, handler):
        taken.append(sig)
        previous = real_signal(sig, handler)  # (a TypeError for None, as Python's own)
        return None if sig == signal.SIGTERM and previous is outside else previous

    def getsignal_as_python_says(sig):
        handler = real_getsignal(sig)
        return None if sig == signal.SIGTERM and handler is outside else handler

    monkeypatch.setattr(signal, "signal", signal_as_python_says)
    monkeypatch.setattr(signal, "getsignal", getsignal_as_python_says)
    sigint_before = real_getsignal(signal.SIGINT)
    with held_interrupts():
        assert taken == [signal.SIGINT]
    assert real_getsignal(signal.SIGINT) is sigint_before and real_getsignal(signal.SIGTERM) is outside
