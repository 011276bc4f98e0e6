"""The voices each key choice of the event head hears (`ar.voices`): the highest and the lowest key of the latest
onset before it, and the highest key of the onset before that, each leaning the key logits by a kernel over the
interval from it that the head's state chooses.

Why: after a real past the head draws a step of at most 2 semitones from the note before as often as real notes
make one (bench/key_calibration.py), yet the top line (the highest key of each onset) steps that little in 25 % of
its steps against 31 % real (bench/free_running.py). Its steps fall between voices as often as within one. The
relative-pitch pointer (sequence/intervals.py) attends to notes by their embeddings, which cannot say "the highest
of the latest onset"; here those keys are found exactly, and the state says how far from each the next key lies.
An onset is the notes starting within ONSET_S of the latest start (as tsm evaluate's top line merges them); the
notes heard are the carry's (with ar.carry: the 12 events before the chunk, by how long ago each started) and
those of the chunk before the choice (at their 5 ms start bins). The kernels' layer starts at zero, so a head
warm-started with this is at first exactly the head it was.
Shapes: R rows, I items (the carry's notes, then the chunk's events), P positions, V = 3 voices, K = 88 keys.
"""
from __future__ import annotations

import torch
from torch import nn

from ..midi import NUM_KEYS
from .carry import Carry

ONSET_S = 0.025
REACH = 24  # intervals of up to two octaves either way have a weight of their own; beyond, one weight each side
VOICES = 3  # the latest onset's highest and lowest keys, the onset before's highest
NONE = -1  # no such voice (no note heard yet)


def voice_keys(time_s: torch.Tensor, key: torch.Tensor, heard: torch.Tensor) -> torch.Tensor:
    """Items' start times [R, I] (on one clock, −inf for an item that is not a note) and keys [R, I], and how many
    of the first items each position hears [P] → the voices' keys at each position [R, P, V] (NONE where absent)."""
    i = time_s.shape[1]
    hears = torch.arange(i, device=time_s.device) < heard[:, None]  # [P, I]
    t = torch.where(hears[None], time_s[:, None, :], -torch.inf)  # [R, P, I]
    notes = key[:, None, :].expand_as(t)  # [R, P, I]
    latest = t.max(dim=-1, keepdim=True).values  # [R, P, 1]
    onset = (t > -torch.inf) & (t >= latest - ONSET_S)  # [R, P, I]: the latest onset's notes
    earlier = torch.where(onset, -torch.inf, t)  # [R, P, I]: the notes before it
    before = (earlier > -torch.inf) & (earlier >= earlier.max(dim=-1, keepdim=True).values - ONSET_S)
    top = torch.where(onset, notes, NONE).max(dim=-1).values  # [R, P]
    bottom = torch.where(onset, notes, NUM_KEYS).min(dim=-1).values  # [R, P]
    previous_top = torch.where(before, notes, NONE).max(dim=-1).values  # [R, P]
    return torch.stack([top, torch.where(bottom == NUM_KEYS, NONE, bottom), previous_top], dim=-1)  # [R, P, V]


class VoiceLean(nn.Module):
    """GRU states [P, H] and the voices' keys [P, V] → the change to the 88 keys' logits [P, K]: for each voice
    heard, a kernel over the interval from it (−REACH … REACH semitones, and one weight for each side beyond),
    chosen by the state."""

    def __init__(self, hidden: int):
        super().__init__()
        self.width = 2 * REACH + 3
        self.kernels = nn.Linear(hidden, VOICES * self.width)
        nn.init.zeros_(self.kernels.weight)
        nn.init.zeros_(self.kernels.bias)
        self.register_buffer("keys", torch.arange(NUM_KEYS), persistent=False)

    def forward(self, state: torch.Tensor, voices: torch.Tensor) -> torch.Tensor:
        p = state.shape[0]
        kernels = self.kernels(state).view(p, VOICES, self.width)  # [P, V, 2·REACH + 3]
        interval = self.keys - voices[..., None]  # [P, V, K]
        lean = kernels.gather(2, interval.clamp(-REACH - 1, REACH + 1) + REACH + 1)  # [P, V, K]
        return (lean * (voices >= 0)[..., None]).sum(dim=1)  # [P, K]


def voice_items(carry: Carry | None, key: torch.Tensor, start_s: torch.Tensor,
                valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What the voices are found among: the carry's notes (before the chunk, at −ago_s) and the chunk's events
    (ids [R, N] at start_s [R, N] from its start; `valid` [R, N] marks real ones) → start times [R, I] (−inf: not
    a note) and keys [R, I], the carry's first."""
    times, keys = [], []
    if carry is not None:
        if carry.ago_s is None:
            raise ValueError("ar.voices hears the carry's notes by when they started: build the carry with carry_of")
        times.append(torch.where(carry.ids < NUM_KEYS, -carry.ago_s.double(), -torch.inf))
        keys.append(carry.ids.long())
    times.append(torch.where(valid & (key < NUM_KEYS), start_s.double(), -torch.inf))
    keys.append(key.long())
    return torch.cat(times, dim=1), torch.cat(keys, dim=1)
