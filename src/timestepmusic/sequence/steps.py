"""More steps where a line moves (`ar.step_lean`): among the notes that start a new onset, one within 2 semitones of
the note before is drawn at e^L times the odds of the others, with no training.

Why: after a real past the head gives a note that starts an onset a key within 2 semitones of the note before 0.22
of its odds where 0.28 of the real notes lie (bench/key_calibration.py, validation), and the drawn pieces' top line
steps less often than a pianist's (stepwise share 0.29 against 0.34 over a minute; docs/quality.md, thirty-first
session). The head chooses the key before the start, so it cannot know whether its note starts an onset or joins
the chord, and it blends the two: too many steps inside chords (which `ar.cluster_guard` mends, clusters.py) and too
few where the line moves (this).
How, exactly: the counterpart of the cluster guard. The event is drawn at the network's odds; where its note starts a
new onset (its start later than ONSET_S after the latest note heard) at a key more than STEP semitones from the note
before (the latest note heard: the carry's latest for the chunk's first), it is kept with probability e^−L, and
otherwise drawn again from the notes that start a new onset: key k with odds p(k) · P(new onset | k) · (e^−L away
from the note before, else 1), then its start among those bins at the head's odds. How often a note starts an onset,
and every note that joins one, keep the network's odds. A note with no note before it is left as drawn.
Known limits: the note before is the last note drawn, of any voice (an inner or bass note of a chord as well as
the top line's), while the figure it was chosen on is the top line's; and where the carry holds several notes
struck at the same time (a chord drawn in one start bin), which of them is the note before follows the carry's
order, not a rule (deterministic on one machine; within a chunk it is the last note drawn). Stepping from the top
of the latest onset instead, found at every event, was measured in the thirty-second session: level at 16 s, the
classifiers a little higher (worse) over a minute (bench/results/step_lean_top_line_validation.md), so this rule
stays.
Shapes: R rows, I notes heard; 88 keys.
"""
from __future__ import annotations

import torch

from .clusters import STEP


def note_before(heard_s: torch.Tensor, heard_ids: torch.Tensor) -> torch.Tensor:
    """The notes heard, start times [R, I] (one clock; −inf: not a note) and ids [R, I] → the key of the note before
    the next event [R] (−1: none): the latest heard, the last of them where several started together (the order
    they were drawn in). The sampler finds it once per chunk, among the carry's notes, then keeps each note drawn."""
    rows, items = heard_s.shape
    if items == 0:
        return torch.full((rows,), -1, dtype=torch.long, device=heard_s.device)
    latest = (heard_s == heard_s.amax(1, keepdim=True)) & (heard_s > -torch.inf)  # [R, I]
    last = (latest.long() * torch.arange(1, items + 1, device=heard_s.device)).argmax(1)  # [R]: the last of them
    return torch.where(latest.any(1), heard_ids.gather(1, last[:, None])[:, 0], -1)


def away_from(before: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """The note before [R] (−1: none) and the keys [1, 88] → the keys more than STEP semitones from it [R, 88] (bool;
    none where there is no note before)."""
    return ((keys - before[:, None]).abs() > STEP) & (before >= 0)[:, None]
