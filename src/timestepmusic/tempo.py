"""A piece's beat as heard, and how it stands to an asked tempo. The beat is the lag of the highest peak of the
autocorrelation of the piece's onset train within 0.2–1.5 s (`tsm evaluate`'s pulse_clarity reads the same train:
notes that start more than 25 ms after the note before, blurred by 20 ms on a 10 ms grid; evaluate.descriptors
.pulse_periods_s). Beats are named as listeners tap them: at the beat, twice or half as fast, or three times or a
third as fast (triplets of the beat; a bar of three).
"""
from __future__ import annotations

import numpy as np

from .evaluate.descriptors import pulse_periods_s
from .evaluate.excerpts import excerpts_from_events
from .midi import Events

TOLERANCE = 0.08  # a beat within 8 % of another is heard as it


def heard_beat_s(events: Events, seconds: float) -> float | None:
    """The beat (s) of `seconds` of music as heard; None with too few onsets, or no peak within the lags."""
    beat_s = float(pulse_periods_s(excerpts_from_events([events], seconds))[0])
    return None if np.isnan(beat_s) else beat_s


def beat_relation(heard_s: float | None, bpm: float) -> str:
    """How a heard beat stands to an asked tempo: "the beat", "twice as fast", "half as fast", "three times as fast"
    (triplets of the beat), "a third as fast" (a bar of three beats), "another beat" or "no beat"."""
    if heard_s is None:
        return "no beat"
    asked_s = 60.0 / bpm
    for factor, name in ((1.0, "the beat"), (0.5, "twice as fast"), (2.0, "half as fast"),
                         (1 / 3, "three times as fast"), (3.0, "a third as fast")):
        if abs(heard_s - asked_s * factor) <= TOLERANCE * asked_s * factor:
            return name
    return "another beat"


def beat_phase_s(events: Events, beat_s: float, from_s: float = 0.0) -> float | None:
    """Where, within a beat of `beat_s` from `from_s`, the notes struck from then on fall on average: the circular mean
    of their onsets' phases, each weighed by its velocity (louder strikes mark the beat), in seconds [0, beat_s); None
    without a note."""
    struck = events.is_note & (events.start_s >= from_s)
    if not struck.any():
        return None
    angle = 2 * np.pi * (events.start_s[struck] - from_s) / beat_s  # [K]
    weight = events.intensity[struck].astype(np.float64)  # [K]
    mean = np.arctan2((weight * np.sin(angle)).sum(), (weight * np.cos(angle)).sum())
    return float(mean % (2 * np.pi) / (2 * np.pi) * beat_s)
