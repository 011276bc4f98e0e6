"""The una corda held as a pianist's foot holds it: in passages, not in flickers (ar.soft_join_s, ar.soft_shortest_s),
after drawing.

Why: the events arm draws each soft-pedal event on its own, its start and duration each a bin, and so writes a held
una corda as presses a moment apart, and now and then a press of a few hundredths of a second. In 200 validation
minutes of the default (seed 0) the soft pedal's runs lasted 0.13 / 0.63 / 3.51 s (quartiles), 33 % of them under
0.2 s and 44 % of the lifts between them under 0.5 s; in the real validation split's 60 s excerpts 1.22 / 3.81 /
8.80 s, 8 % and 13 % (bench/pedal_runs.py, bench/results/soft_runs_58_validation60.md). A pianist shifts the keyboard
for a passage: a lift of a quarter second, or a shift of a tenth, is not heard as a colour but as a fault.
How: among a piece's soft-pedal events from `from_s` on (what was drawn; a prompt's are the player's), a lift of at most
`join_s` is closed (the press before held to the next one's start: midi.join_pedal_runs, for the soft pedal alone);
then each run of presses (abutting or overlapping events, one foot's press however its depth changes) that starts
from `from_s` on and holds the pedal less than `shortest_s` from its first press to its last release is dropped.
Notes and the other pedals are untouched.
Shapes: E events, M soft-pedal events, G runs.
"""
from __future__ import annotations

import numpy as np

from .midi import SOFT_ID, Events, join_pedal_runs, pedal_run_bounds

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
    run_start, run_end, run = pedal_run_bounds(start, start + events.duration_s[soft], ABUT_S)  # [G], [G], [M]
    short = (run_end - run_start < shortest_s) & (run_start >= from_s)  # [G]
    if not short.any():
        return events
    kept = np.ones(len(events), dtype=bool)
    kept[soft[short[run]]] = False
    return events.take(np.flatnonzero(kept))
