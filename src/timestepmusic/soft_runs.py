"""The una corda held as a pianist's foot holds it: in passages, not in flickers (ar.soft_join_s, ar.soft_shortest_s),
after drawing.

Why: the events arm draws each soft-pedal event on its own, its start and duration each a bin, and so writes a held
una corda as presses a moment apart, and now and then a press of a few hundredths of a second. In 200 validation
minutes of the default (seed 0) the soft pedal's runs lasted 0.13 / 0.63 / 3.51 s (quartiles), 33 % of them under
0.2 s and 44 % of the lifts between them under 0.5 s; in the real validation split's 60 s excerpts 1.22 / 3.81 /
8.80 s, 8 % and 13 % (bench/pedal_runs.py, bench/results/soft_runs_58_validation60.md). A pianist shifts the keyboard
for a passage: a lift of a quarter second, or a shift of a tenth, is not heard as a colour but as a fault.
How: among a piece's soft-pedal events from `from_s` on (what was drawn; a prompt's are the player's), a lift of at most
`join_s` is closed (the press before held to the next one's start: holds.join_pedal_runs, for the soft pedal alone);
then each run of presses (abutting or overlapping events, one foot's press however its depth changes) that starts
from `from_s` on and holds the pedal less than `shortest_s` from its first press to its last release is dropped.
With `quiet` (ar.soft_quiet), a run from `from_s` on whose notes (those starting under it) are on average no quieter
than the piece's notes outside every run of the una corda is dropped too: a pianist shifts the keyboard for quiet
playing. In the validation split's 60 s excerpts the notes under the una corda are 14.2 velocity quieter than the
rest (94 % of the excerpts with ten notes under it and ten outside quieter), in the default's 60 s validation pieces
6.6 (82 %); with ar.soft_bias 0.5 and this rule 10.6 (bench/pedal_runs.py, bench/results/soft_bias_59_pedals_
validation60.md).
Notes and the other pedals are untouched.
Shapes: E events, M soft-pedal events, G runs, N notes.
"""
from __future__ import annotations

import numpy as np

from .holds import join_pedal_runs, pedal_run_bounds
from .midi import NUM_KEYS, SOFT_ID, Events

ABUT_S = 1e-6  # a lift shorter than this is none: a joined press ends at the next one's start, up to rounding


def soft_held(events: Events, join_s: float, shortest_s: float, from_s: float = 0.0, quiet: bool = False) -> Events:
    """`events` with the soft pedal's lifts of at most `join_s` from `from_s` on closed and its runs shorter than
    `shortest_s` that start from `from_s` on dropped, and with `quiet` those no quieter than the rest; as it is where
    none applies or there is no soft pedal."""
    if join_s > 0:
        events = join_pedal_runs(events, join_s, from_s=from_s, pedals=(SOFT_ID,))
    soft = np.flatnonzero(events.ids == SOFT_ID)  # [M]
    if (shortest_s <= 0 and not quiet) or not soft.size:
        return events
    soft = soft[np.argsort(events.start_s[soft], kind="stable")]
    start = events.start_s[soft]  # [M]
    run_start, run_end, run = pedal_run_bounds(start, start + events.duration_s[soft], ABUT_S)  # [G], [G], [M]
    dropped = (run_end - run_start < shortest_s) & (run_start >= from_s)  # [G]
    if quiet:
        dropped |= loud_runs(events, run_start, run_end) & (run_start >= from_s)
    if not dropped.any():
        return events
    kept = np.ones(len(events), dtype=bool)
    kept[soft[dropped[run]]] = False
    return events.take(np.flatnonzero(kept))


def loud_runs(events: Events, run_start: np.ndarray, run_end: np.ndarray) -> np.ndarray:
    """Which runs of the una corda (their bounds [G] each) hold notes no quieter on average than the notes outside
    every run [G]: False for a run that holds no note, and for all where every note lies under one."""
    notes = np.flatnonzero(events.ids < NUM_KEYS)  # [N]
    onset, velocity = events.start_s[notes], events.intensity[notes].astype(np.float64)  # [N] each
    under = (onset[None, :] >= run_start[:, None]) & (onset[None, :] < run_end[:, None])  # [G, N]
    outside = ~under.any(axis=0)  # [N]
    counts = under.sum(axis=1)  # [G]
    if not outside.any():
        return np.zeros(len(run_start), dtype=bool)
    mean_under = (under * velocity[None, :]).sum(axis=1) / np.maximum(counts, 1)  # [G]
    return (counts > 0) & (mean_under >= velocity[outside].mean())
