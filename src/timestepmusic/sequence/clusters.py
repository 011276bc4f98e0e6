"""Fewer clusters in chords (`ar.cluster_guard`): among the notes that join the chord being struck, one within 2
semitones of one of its notes is drawn at e^−C of its odds and the other keys more often in proportion, with no
training.

Why: in the drawn pieces a chord's neighbouring keys lie within 2 semitones of each other three times as often as in
real ones (validation, 16 s: 11–13 % of the neighbouring pairs in a chord against 4 %; docs/quality.md, twenty-third
session), heard as smudged or wrong notes. The head chooses the key before the start, so a key cannot know whether
its note will join the chord or start a new onset, and the network blends the two (the thirteenth session's
finding: it steps two to three times too often inside chords and too seldom where a line moves).
How, exactly: the event is drawn at the network's odds; where its note joins the onset being struck (its start
within ONSET_S of the latest note heard, the rule of `pulse.onsets_among` and tsm evaluate) at a key within STEP
semitones of one of the onset's notes, it is kept with probability e^−C, and otherwise drawn again from the notes
that join: key k with odds p(k) · P(join | k) · (e^−C near the onset, else 1), then its start among the joining
bins at the head's odds. This is rejection sampling whose first proposal is the draw itself, so the result is the
network's joint odds of (key, start) with the near-and-joining cells weighed by e^−C and renormalised within the
joining region: how often a note joins the chord, and every event that does not, keep the network's odds. Guided
(classifier-free guidance), P(join | k) is that of the mixed start odds the sampler draws from. The keep-or-redraw
coin and the redraw's noise are drawn for every piece at every event, so no piece's draws depend on another's. The
notes heard before the chunk are the carry's (a model without ar.carry guards only within the chunk). (A first
version weighed the cells and renormalised over the whole event; the mass then leaked to new onsets, pedals and the
chunk's end, and the chords thinned: polyphony max 6.6 against 6.8–7.0 at 60 s, validation.)
Shapes: R rows, I notes heard, S start bins; 88 keys.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..midi import NUM_KEYS
from .pulse import ONSET_S

STEP = 2  # semitones: a note this near one of the chord's is a cluster (as tsm evaluate's stepwise motion)


def onset_keys(heard_s: torch.Tensor, heard_ids: torch.Tensor) -> torch.Tensor:
    """The notes heard, start times [R, I] (one clock; −inf: not a note) and ids [R, I] → the keys of the latest
    onset [R, 88] (bool): the latest note and those before it chained by gaps of at most ONSET_S."""
    rows = heard_s.shape[0]
    if heard_s.shape[1] == 0:
        return torch.zeros(rows, NUM_KEYS, dtype=torch.bool, device=heard_s.device)
    time_s, order = heard_s.sort(dim=1, descending=True)  # [R, I], latest first
    ids = heard_ids.gather(1, order)  # [R, I]
    gap = time_s[:, :-1] - time_s[:, 1:] > ONSET_S  # [R, I − 1] (a note after none: inf; none after none: NaN → no)
    broken = torch.cat([torch.zeros(rows, 1, dtype=torch.bool, device=gap.device), gap], 1).cumsum(dim=1) > 0
    member = ~broken & (time_s > -torch.inf)  # [R, I]
    hits = torch.zeros(rows, NUM_KEYS, device=heard_s.device).scatter_add_(1, ids.clamp(0, NUM_KEYS - 1),
                                                                          member.float())  # [R, 88]
    return hits > 0


def near_keys(keys: torch.Tensor) -> torch.Tensor:
    """Keys [R, 88] (bool) → those within STEP semitones of one of them [R, 88] (bool; the keys themselves too)."""
    spread = F.max_pool1d(keys.float()[:, None], kernel_size=2 * STEP + 1, stride=1, padding=STEP)  # [R, 1, 88]
    return spread[:, 0] > 0


def joins(start_s: torch.Tensor, latest_s: torch.Tensor) -> torch.Tensor:
    """Whether a note starting at `start_s` joins the onset of the latest note heard, at `latest_s` (−inf: none),
    elementwise (bool, broadcast): the one rule of `join_bins` and the sampler's drawn note."""
    return start_s - latest_s <= ONSET_S


def join_bins(start_middles_s: torch.Tensor, latest_s: torch.Tensor) -> torch.Tensor:
    """Start bins' middles [S] (s from the chunk's start) and each row's latest note heard [R] (−inf: none) → the
    bins whose note would join that note's onset [R, S] (bool; the sampler's starts never go back in time, so of
    these only the bins at or after the latest note are ever drawn)."""
    return joins(start_middles_s[None, :], latest_s[:, None])
