"""The voices each key choice of the event head hears (`ar.voices`): the highest and the lowest key of the latest
onset before it, and the highest key of the onset before that, each leaning the key logits by a kernel over the
interval from it that the head's state chooses.

Why: after a real past the head draws a step of at most 2 semitones from the note before as often as real notes
make one on average (bench/key_calibration.py), yet the top line (the highest key of each onset) steps that little
in 25 % of its steps against 31 % real (bench/free_running.py). The relative-pitch pointer (sequence/intervals.py)
attends to notes by their embeddings, which cannot say "the highest of the latest onset"; here those keys are
found exactly, and the state says how far from each the next key lies. Measured (docs/quality.md, thirteenth
session): a better likelihood and register, but the top line steps no more often; the head's steps go into
chords instead (too few at notes that start an onset, too many inside chords), and telling it first whether the
note joins the chord (ar.onsets, fourteenth session) did not change that.
An onset is the notes starting within ONSET_S of the latest start (a window anchored there: where tsm evaluate's
top line chains every gap of at most 25 ms, notes at 0, 20 and 40 ms are here two onsets); the notes heard are the
carry's (with ar.carry: the 12 events before the chunk, by how long ago each started) and those of the chunk
before the choice (at their 5 ms start bins' middles). The kernels' layer starts at zero, so a head
warm-started with this is at first exactly the head it was.
Shapes: R rows, I items (the carry's notes, then the chunk's events), P positions per row, V = 3 voices,
Q (row, position) pairs scored, H head width; 88 keys.
"""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..midi import NUM_KEYS
from .carry import Carry

ONSET_S = 0.025
REACH = 24  # intervals of up to two octaves either way have a weight of their own; beyond, one weight each side
VOICES = 3  # the latest onset's highest and lowest keys, the onset before's highest
NONE = -1  # no such voice (no note heard yet)


def carry_notes(carry: Carry | None, rows: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The carry's notes as items: start times [R, M] (−ago_s; −inf for a pedal or an empty slot) and ids [R, M];
    none without a carry ([R, 0] each)."""
    if carry is None:
        return torch.zeros(rows, 0, dtype=torch.float64, device=device), torch.zeros(rows, 0, dtype=torch.long,
                                                                                      device=device)
    if carry.ago_s is None:
        raise ValueError("ar.voices and ar.onsets hear the carry's notes by when they started: build the carry with "
                         "carry_of")
    return torch.where(carry.ids < NUM_KEYS, -carry.ago_s.double(), -torch.inf), carry.ids.long()


def voice_items(carry: Carry | None, key: torch.Tensor, start_s: torch.Tensor,
                valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What the voices are found among: the carry's notes and the chunk's events (ids [R, N] at start_s [R, N]
    from its start; `valid` [R, N] marks real ones) → start times [R, I] (−inf: not a note) and ids [R, I], the
    carry's first."""
    carried_s, carried = carry_notes(carry, key.shape[0], key.device)  # [R, M] each
    struck_s = torch.where(valid & (key < NUM_KEYS), start_s.double(), -torch.inf)  # [R, N]
    return torch.cat([carried_s, struck_s], dim=1), torch.cat([carried, key.long()], dim=1)


def voice_keys(time_s: torch.Tensor, ids: torch.Tensor, heard: torch.Tensor) -> torch.Tensor:
    """Items' start times [R, I] (on one clock, −inf for an item that is not a note) and ids [R, I], and how many
    of the first items each position hears [P] → the voices' keys at each position [R, P, V] (NONE where absent).
    A sampler's next choice, one position hearing every item: `latest_voices`."""
    rows, items = time_s.shape
    if items == 0:  # nothing heard yet (no carry, the chunk's first choice)
        return torch.full((rows, heard.shape[0], VOICES), NONE, dtype=torch.long, device=time_s.device)
    hears = torch.arange(items, device=time_s.device) < heard[:, None]  # [P, I]
    heard_s = torch.where(hears[None], time_s[:, None, :], -torch.inf)  # [R, P, I]
    keys = ids[:, None, :].expand_as(heard_s)  # [R, P, I]
    latest_s = heard_s.max(dim=-1, keepdim=True).values  # [R, P, 1]
    onset = (heard_s > -torch.inf) & (heard_s >= latest_s - ONSET_S)  # [R, P, I]: the latest onset's notes
    earlier_s = torch.where(onset, -torch.inf, heard_s)  # [R, P, I]: the notes before it
    previous_onset = (earlier_s > -torch.inf) & (earlier_s >= earlier_s.max(dim=-1, keepdim=True).values - ONSET_S)
    top = torch.where(onset, keys, NONE).max(dim=-1).values  # [R, P]
    bottom = torch.where(onset, keys, NUM_KEYS).min(dim=-1).values  # [R, P]
    previous_top = torch.where(previous_onset, keys, NONE).max(dim=-1).values  # [R, P]
    return torch.stack([top, torch.where(bottom == NUM_KEYS, NONE, bottom), previous_top], dim=-1)  # [R, P, V]


SIGNS = torch.tensor([1, -1, 1])  # latest_voices: top, bottom (negated), previous top


@functools.cache
def signs_on(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """SIGNS on `device`, as a row [V] and a column [V, 1]: made once (latest_voices runs note by note)."""
    signs = SIGNS.to(device)
    return signs, signs[:, None]


def latest_voices(time_s: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """`voice_keys` at one position hearing every item, in fewer operations (a sampler's next choice, note by
    note): items' start times [R, I] (−inf: not a note) and ids [R, I] → the voices' keys [R, V] (NONE where
    absent). The lowest key is found as the highest of the keys negated, in one reduction with the others."""
    if time_s.shape[1] == 0:
        return torch.full((time_s.shape[0], VOICES), NONE, dtype=torch.long, device=time_s.device)
    # [R, I]: the latest onset's notes, then those before it, then the onset before's (a threshold raised from −inf
    # to the lowest float: no note passes where none is heard, as `& (time_s > -inf)` would say, in one operation)
    lowest = torch.finfo(time_s.dtype).min
    onset = time_s >= (time_s.amax(1, keepdim=True) - ONSET_S).clamp_(min=lowest)
    earlier_s = time_s.masked_fill(onset, -torch.inf)
    previous_onset = earlier_s >= (earlier_s.amax(1, keepdim=True) - ONSET_S).clamp_(min=lowest)
    signs, column = signs_on(ids.device)  # [V], [V, 1]: top, bottom (negated), previous top
    found = torch.where(torch.stack([onset, onset, previous_onset], 1), ids[:, None, :] * column,
                        -NUM_KEYS).amax(2)  # [R, V]: −NUM_KEYS where none
    return (found * signs).masked_fill(found == -NUM_KEYS, NONE)


FEW_ROWS = 8  # HeardVoices: up to this many rows, the notes heard are kept as Python numbers


def voices_among(notes: list[tuple[float, int]]) -> tuple[int, int, int]:
    """`latest_voices` for one row, from its notes heard as (start time, key) pairs in any order (no −inf): the
    voices' keys (top, bottom, previous top; NONE where absent), by the same float64 comparisons."""
    if not notes:
        return NONE, NONE, NONE
    threshold = max(time_s for time_s, _ in notes) - ONSET_S
    onset = [key for time_s, key in notes if time_s >= threshold]  # the latest onset's keys
    top, bottom = max(onset), min(onset)
    bottom = bottom if bottom < NUM_KEYS else NONE  # (as latest_voices: no bottom at a pedal's id)
    earlier = [(time_s, key) for time_s, key in notes if time_s < threshold]
    if not earlier:
        return top, bottom, NONE
    threshold = max(time_s for time_s, _ in earlier) - ONSET_S
    return top, bottom, max(key for time_s, key in earlier if time_s >= threshold)


class HeardVoices:
    """The notes each row has heard (the carry's, then each note drawn) and the voices they make, as the lean reads
    them (VoiceLean.sampled): what a sampler keeps note by note. The voices are latest_voices' over every note heard,
    found again after each note; for up to FEW_ROWS rows (one piece alone: one row, two guided) from the notes kept
    as Python numbers (voices_among: no tensor operation but the lean's index, where latest_voices launches 16 tiny
    ones per note), else as tensors by latest_voices."""

    def __init__(self, lean: "VoiceLean", time_s: torch.Tensor, ids: torch.Tensor):
        """time_s [R, I] (one clock, float64; −inf: not a note) and ids [R, I]: the notes heard before the chunk."""
        self.lean, self.found = lean, None  # found: the lean's index and mask while the voices stay
        self.places, self.first_rows = lean.places, lean.first_row.tolist()  # (each voice's first row of places)
        self.notes = None  # (few rows) each row's notes heard, (start time, key) pairs
        if time_s.shape[0] <= FEW_ROWS:
            self.notes = [[(at_s, key) for at_s, key in zip(times, keys) if at_s > -math.inf]
                          for times, keys in zip(time_s.tolist(), ids.tolist())]
        self.time_s, self.ids = time_s, ids

    def add(self, struck_s: torch.Tensor, key: torch.Tensor) -> None:
        """One event per row: its start [R] (−inf: not a note) and id [R]."""
        self.found = None
        if self.notes is None:
            self.time_s = torch.cat([self.time_s, struck_s[:, None]], 1)  # [R, I + 1]
            self.ids = torch.cat([self.ids, key[:, None]], 1)
            return
        for notes, at_s, id_ in zip(self.notes, struck_s.tolist(), key.tolist()):
            if at_s > -math.inf:
                notes.append((at_s, id_))

    def leaned(self, kernels: torch.Tensor) -> torch.Tensor:
        """The kernels the states choose [R, V·W] → the change to the 88 keys' logits [R, 88]."""
        if self.found is None:
            if self.notes is None:
                self.found = self.lean.sampled(latest_voices(self.time_s, self.ids))
            else:
                voices = [voices_among(notes) for notes in self.notes]  # R × V
                rows = [[first + key for first, key in zip(self.first_rows, row)] for row in voices]  # R × V
                index = self.places[torch.tensor(rows, device=kernels.device)]  # [R, V, 88]
                heard = None  # [R, V, 1] where a voice of a row is not heard
                if any(key == NONE for row in voices for key in row):
                    heard = torch.tensor([[[float(key != NONE)] for key in row] for row in voices],
                                         device=kernels.device)
                self.found = index.flatten(1), heard  # [R, V·88], [R, V, 1] or None
        return self.lean.leaned(kernels, *self.found)


class VoiceLean(nn.Module):
    """GRU states [Q, H] and the voices' keys [Q, V] → the change to the 88 keys' logits [Q, 88]: for each voice
    heard, a kernel over the interval from it (−REACH … REACH semitones, and one weight for each side beyond),
    chosen by the state. `voices`: how many keys are heard (ar.register reuses it for the register's bounds)."""

    def __init__(self, hidden: int, voices: int = VOICES):
        super().__init__()
        self.voices, self.width = voices, 2 * REACH + 3
        self.kernels = nn.Linear(hidden, voices * self.width)
        nn.init.zeros_(self.kernels.weight)
        nn.init.zeros_(self.kernels.bias)
        self.register_buffer("keys", torch.arange(NUM_KEYS), persistent=False)
        # each key's kernel cell from a voice at each key, a row per voice key from NONE (-1) on [89, 88] …
        interval = self.keys - torch.arange(NONE, NUM_KEYS)[:, None]  # [89, 88]
        cells = interval.clamp(-REACH - 1, REACH + 1) + REACH + 1
        # … as places in a row of every voice's kernels [V·W], a row per voice and voice key [V·89, 88]: the lean
        # gathers every voice's cells in one read, and finds where by one look-up (voice v at key k: row first_row[v]
        # + k)
        places = cells + self.width * torch.arange(voices)[:, None, None]  # [V, 89, 88]
        self.register_buffer("places", places.flatten(0, 1), persistent=False)
        self.register_buffer("first_row", (NUM_KEYS + 1) * torch.arange(voices) - NONE, persistent=False)  # [V]

    def forward(self, state: torch.Tensor, voices: torch.Tensor) -> torch.Tensor:
        return self.lean(state, *self.heard(voices))

    def heard(self, voices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The voices' keys [Q, V] → each key's kernel cell from each voice as a place in the kernels [Q, V·W]
        (index [Q, V·88]) and which voices are heard [Q, V, 1] (1.0 or 0.0): what `lean` reads (a sampler keeps
        them while the voices stay)."""
        return self.places[voices + self.first_row].flatten(1), (voices >= 0)[..., None].float()

    def sampled(self, voices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`heard`, its mask None where every voice of every row is heard: a sampler's, whose lean then multiplies
        by nothing (x · 1 = x exactly)."""
        index, heard = self.heard(voices)
        return index, None if bool(heard.all()) else heard

    def lean(self, state: torch.Tensor, index: torch.Tensor, heard: torch.Tensor | None) -> torch.Tensor:
        """GRU states [Q, H] and the voices as `heard` gives them → the change to the 88 keys' logits [Q, 88]."""
        return self.leaned(F.linear(state, self.kernels.weight, self.kernels.bias), index, heard)

    def leaned(self, kernels: torch.Tensor, index: torch.Tensor, heard: torch.Tensor | None) -> torch.Tensor:
        """The same from the kernels the states choose [Q, V·(2·REACH + 3)] (self.kernels of the states: a sampler
        computes them in one product with its other layers); `heard` None: every voice heard."""
        cells = kernels.gather(1, index).view(index.shape[0], self.voices, NUM_KEYS)  # [Q, V, 88]
        return (cells if heard is None else cells * heard).sum(dim=1)  # [Q, 88]
