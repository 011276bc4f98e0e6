"""Stalls cut short (`ar.silence_guard_s`), with no training.

Why: the event head ends each 0.25 s chunk before its first event with odds of its own, and once a piece has
fallen silent it hears silence and keeps choosing it: 3.0 % of the default's 30 s pieces on the validation split
fell silent (no key held) for over 4 s against 1.2 % of real excerpts, most of them told a sparse character
(bench/results/silences_54_validation30.md). A stall of seconds is what a listener hears first. ar.empty_bias
lowers every empty chunk's odds, and ar.empty_ramp_s grows that with the time since the latest note's start, which
moves the short pauses too; this reads how long no note has sounded, and moves nothing before S seconds of it.
How: at each chunk's start the seconds since the latest note stopped sounding (sounding.DrawnSounding.silent_s: at
its release, or where the damper or sostenuto was down then, when it lifted, as holds.sound_end_s hears it; since the
piece began where none has sounded) are known; past S, the logit of ending the chunk is lowered by NATS_PER_S per
second beyond S at each of its events until it holds a note (a pedal alone sounds no key), so the odds of a note
grow the longer the silence lasts (event_sampler.EventSampler.sample). Under S, and with S = 0 (off), every draw is
as without it, bit for bit.
Shapes: R chunk rows.
"""
from __future__ import annotations

import torch

NATS_PER_S = 4.0  # the stop's logit lowered by 4 per second of silence past S: e^−1 of its odds a quarter second on


def silence_bias(silent_s: torch.Tensor, guard_s: float) -> torch.Tensor:
    """Seconds without a key sounding at each chunk's start [R] and the guard S > 0 → what is added to the logit of
    ending the chunk before it holds a note [R] (float32, ≤ 0: 0 up to S, then −NATS_PER_S per second beyond)."""
    return ((silent_s.double() - guard_s).clamp(min=0.0) * -NATS_PER_S).float()
