"""A piece's beat as heard: the lag at which the autocorrelation of its onset train (notes that start more than 25 ms
after the note before, blurred by 20 ms on a 10 ms grid, as `tsm evaluate`'s pulse_clarity reads it) peaks within
0.2–1.5 s; and how that beat stands to an asked tempo. Beats are named up to an octave, as listeners tap them (at
the beat, or twice or half as fast).
"""
from __future__ import annotations

import numpy as np

from .evaluate.descriptors import ONSET_MERGE_S, PULSE_BLUR_S, PULSE_LAGS_S, PULSE_STEP_S
from .midi import NUM_KEYS, Events

TOLERANCE = 0.08  # a beat within 8 % of another is heard as it


def heard_beat_s(events: Events, seconds: float) -> float | None:
    """The lag (s) at which the onset train of `seconds` of music autocorrelates most within PULSE_LAGS_S; None
    with fewer than 4 onsets."""
    starts = np.sort(events.start_s[events.ids < NUM_KEYS])
    onsets = starts[np.concatenate([[True], np.diff(starts) > ONSET_MERGE_S])] if starts.size else starts
    if onsets.size < 4:
        return None
    cells = max(int(np.ceil(seconds / PULSE_STEP_S)), 1)
    train = np.zeros(cells)  # [cells]
    train[np.minimum((onsets / PULSE_STEP_S).astype(np.int64), cells - 1)] = 1.0
    train -= train.mean()
    lo, hi = (round(lag / PULSE_STEP_S) for lag in PULSE_LAGS_S)
    n = 2 * cells + hi + 1  # zero-padded: no lag wraps round
    frequency = np.fft.rfftfreq(n, PULSE_STEP_S)
    power = np.abs(np.fft.rfft(train, n)) ** 2 * np.exp(-(2 * np.pi * frequency * PULSE_BLUR_S) ** 2)
    autocorrelation = np.fft.irfft(power, n)[:hi + 1]  # [hi + 1]
    return (lo + int(np.argmax(autocorrelation[lo:]))) * PULSE_STEP_S


def beat_relation(heard_s: float | None, bpm: float) -> str:
    """How a heard beat stands to an asked tempo: "the beat", "twice as fast", "half as fast", "another beat" or
    "no beat"."""
    if heard_s is None:
        return "no beat"
    asked_s = 60.0 / bpm
    for factor, name in ((1.0, "the beat"), (0.5, "twice as fast"), (2.0, "half as fast")):
        if abs(heard_s - asked_s * factor) <= TOLERANCE * asked_s * factor:
            return name
    return "another beat"
