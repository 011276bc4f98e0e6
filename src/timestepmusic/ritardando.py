"""A closing's slowing into its final onset (ar.final_ritard): the drawn events' time stretched over the seconds
before the final onset, as a pianist slows into it, and everything from that onset on played that much later.

The time played at t seconds is heard at warp(t): unchanged before the span [a, f] (f: the final onset, the first
of the notes struck within ONSET_S of the last; a = f − span), stretched there by a factor growing linearly from
1 at a to `slowing` at f, so

    warp(t) = t + (slowing − 1) · (t − a)² / (2 · span)     for a ≤ t ≤ f,

and shifted by the span's whole stretch, (slowing − 1) · span / 2, from f on. Each event's start and end are
warped alike, so a note or pedal press lasts as long as the time it spans now lasts, and the final onset itself
(its notes struck together, its ring) is kept as drawn, only later.
"""
from __future__ import annotations

import numpy as np

from timestepmusic.midi import Events

ONSET_S = 0.1  # notes struck within this of the last one make the final onset (as bench/endings.py measures it)


def added_s(span_s: float, slowing: float) -> float:
    """The seconds a ritardando of `slowing` over `span_s` seconds adds to a piece."""
    return (slowing - 1.0) * span_s / 2.0


def warp_seconds(times_s: np.ndarray, final_s: float, span_s: float, slowing: float) -> np.ndarray:
    """Times [N] as heard after slowing by `slowing` over the `span_s` seconds before `final_s` (the module's warp)."""
    times_s = np.asarray(times_s, dtype=np.float64)
    into = np.clip(times_s - (final_s - span_s), 0.0, span_s)  # [N]: seconds into the span (all of it from f on)
    return times_s + (slowing - 1.0) * into ** 2 / (2.0 * span_s)


def slow_into(events: Events, final_s: float, span_s: float, slowing: float) -> Events:
    """`events` with their time slowed into `final_s` (the final chord's start) over the `span_s` seconds before it
    (slowing 1 or a span of 0: as they are). Starts and ends warped alike; the order of events is kept."""
    if slowing == 1.0 or span_s <= 0.0 or not len(events):
        return events
    start_s = warp_seconds(events.start_s, final_s, span_s, slowing)  # [E]
    end_s = warp_seconds(events.start_s + events.duration_s, final_s, span_s, slowing)  # [E]
    return Events(events.ids, start_s, end_s - start_s, events.intensity,
                  float(warp_seconds(np.array([events.end_s]), final_s, span_s, slowing)[0]))


def final_onset_s(events: Events, onset_s: float = ONSET_S) -> float | None:
    """Where the final onset starts: the first of the notes struck within `onset_s` of the last note's start (a
    chord's notes are seldom struck at one instant); None where no note is."""
    starts = events.start_s[events.is_note]  # [N]
    if not starts.size:
        return None
    return float(starts[starts >= starts.max() - onset_s].min())
