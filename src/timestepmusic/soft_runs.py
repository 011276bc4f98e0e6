"""The una corda held as a pianist's foot holds it: in passages, not in flickers (ar.soft_join_s, ar.soft_shortest_s),
after drawing.

Why: the events arm draws each soft-pedal event on its own, its start and duration each a bin, and so writes a held
una corda as presses a moment apart, and now and then a press of a few hundredths of a second. In 200 validation
minutes of the default (seed 0) the soft pedal's runs lasted 0.07 / 0.65 / 3.42 s (quartiles) and 45 % of the lifts
between them were shorter than 0.25 s; in the real validation split's, 1.44 / 3.34 / 7.62 s and 3.6 % (an ad hoc count
of 400 ASAP performances, fifty-eighth session; bench/pedal_runs.py counts them properly). A pianist shifts the
keyboard for a passage: a lift of a quarter second, or a shift of a tenth, is not heard as a colour but as a fault.
How: among a piece's soft-pedal events from `from_s` on (what was drawn; a prompt's are the player's), a lift of at most
`join_s` is closed (the press before held to the next one's start: midi.join_pedal_runs, for the soft pedal alone);
then each run of presses (abutting or overlapping events, one foot's press however its depth changes) that starts
from `from_s` on and holds the pedal less than `shortest_s` from its first press to its last release is dropped.
Notes and the other pedals are untouched.
Shapes: E events, M soft-pedal events, G runs.
"""
from __future__ import annotations

import numpy as np

from .midi import SOFT_ID, Events, join_pedal_runs

ABUT_S = 1e-6  # a lift shorter than this is none: a joined press ends at the next one's start, up to rounding


def soft_held(events: Events, join_s: float, shortest_s: float, from_s: float = 0.0) -> Events:
    """`events` with the soft pedal's lifts of at most `join_s` from `from_s` on closed and its runs shorter than
    `shortest_s` that start from `from_s` on dropped; as it is where both are 0 or there is no soft pedal."""
    if join_s > 0:
        events = join_pedal_runs(events, join_s, from_s=from_s, pedals=(SOFT_ID,))
    soft = np.flatnonzero(events.ids == SOFT_ID)  # [M]
    if shortest_s <= 0 or not soft.size:
        return events
    soft = soft[np.argsort(events.start_s[soft], kind="stable")]
    start = events.start_s[soft]  # [M]
    reach = np.maximum.accumulate(start + events.duration_s[soft])  # [M]: the pedal is held until here
    first = np.flatnonzero(np.concatenate([[True], start[1:] - reach[:-1] > ABUT_S]))  # [G]: where each run begins
    run = np.cumsum(np.isin(np.arange(soft.size), first)) - 1  # [M]: each event's run
    last = np.concatenate([first[1:], [soft.size]]) - 1  # [G]: each run's last event
    short = (reach[last] - start[first] < shortest_s) & (start[first] >= from_s)  # [G]
    if not short.any():
        return events
    kept = np.ones(len(events), dtype=bool)
    kept[soft[short[run]]] = False
    return events.take(np.flatnonzero(kept))
