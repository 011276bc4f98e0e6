"""What the event head hears of the events before a chunk (`ar.carry`): the last RECENT events struck before the
chunk starts and the latest press of each pedal among the older ones, each with how long ago it started and how
long it still sounds (or since when it is silent).

Why: the transformer reads the chunks before through their latents, which blur exact times; a pedal press drawn
without knowing when the held one lifts starts inside it or leaves a gap, and a line continues from the notes
last struck. The same selection (`carry_items`) serves training, over the corpus's events before each chunk
(`CarryGatherer`), and sampling, over the events drawn so far and a prompt's (`DrawnHistory`). One known
difference: training reads the corpus's events uncapped, so after a chunk over the max_events cap (0.1 % of
ASAP's chunks) it hears that chunk's last events, which a drawn or prompted chunk never holds.
Shapes: R chunk rows, E events of history per row, M = SLOTS items.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..batches import ChunkGatherer, SetBatch
from ..midi import DAMPER_ID, NUM_IDS, SOFT_ID, SOSTENUTO_ID

RECENT = 12  # the last events before the chunk, of any kind
PEDALS = (DAMPER_ID, SOSTENUTO_ID, SOFT_ID)  # and the latest press of each pedal older than those
SLOTS = RECENT + len(PEDALS)
TIME_BINS, SHORTEST_S, LONGEST_S = 96, 0.005, 32.0  # log-scale bins of a span (as event_head's durations)


@dataclass
class History:
    """Events before some time, padded: [R, E] each; `valid` marks the real ones."""

    ids: torch.Tensor  # long
    start_s: torch.Tensor  # float64, on the piece's clock
    end_s: torch.Tensor  # float64
    intensity: torch.Tensor  # long
    valid: torch.Tensor  # bool

    def fields(self) -> tuple[torch.Tensor, ...]:
        return self.ids, self.start_s, self.end_s, self.intensity, self.valid


@dataclass
class Carry:
    """The head's view of the past at a chunk's start, [R, M] each (class indices; `ids` == NUM_IDS: empty slot)."""

    ids: torch.Tensor
    ago: torch.Tensor  # the bin of how long ago the event started
    left: torch.Tensor  # the bin of how long it still sounds; TIME_BINS + the bin of how long it has been silent
    intensity: torch.Tensor
    ago_s: torch.Tensor | None = None  # how long ago each started, in seconds (float64; for ar.voices)


def time_bin(span_s: torch.Tensor) -> torch.Tensor:
    """Spans (s) → log-scale bins 0 … TIME_BINS − 1 (5 ms … 32 s, each ~10 % wide)."""
    ratio = torch.log(span_s.double().clamp(SHORTEST_S, LONGEST_S) / SHORTEST_S) / math.log(LONGEST_S / SHORTEST_S)
    return (ratio * (TIME_BINS - 1)).round().long()


def heard(history: History, at_s: torch.Tensor) -> History:
    """The items of each row's history [R, E] heard at times at_s [R]: the RECENT latest events started before
    it, then the latest older press of each pedal → [R, M] (`valid` False where a slot is empty)."""
    short = RECENT - history.ids.shape[1]
    if short > 0:  # fewer events than RECENT slots so far: pad with empty ones
        history = History(*(F.pad(t, (0, short)) for t in history.fields()))
    valid = history.valid & (history.start_s < at_s[:, None])  # [R, E]
    recent = torch.where(valid, history.start_s, -torch.inf).topk(RECENT, dim=1).indices  # [R, RECENT]: latest
    in_recent = torch.zeros_like(valid).scatter_(1, recent, True)
    pedals = torch.tensor(PEDALS, device=valid.device)[:, None]  # [P, 1]
    older = (valid & ~in_recent)[:, None] & (history.ids[:, None] == pedals)  # [R, P, E]: each pedal's older presses
    latest = torch.where(older, history.start_s[:, None], -torch.inf).argmax(dim=2)  # [R, P]: the latest of each
    index = torch.cat([recent, latest], dim=1)  # [R, M]
    picked = torch.cat([valid.gather(1, recent), older.any(dim=2)], dim=1)  # [R, M]
    return History(*(t.gather(1, index) for t in history.fields()[:-1]), picked)


def carry_items(history: History, at_s: torch.Tensor) -> Carry:
    """The carry at times at_s [R] from each row's history [R, E] of events that started before it."""
    return carry_of(heard(history, at_s), at_s)


def carry_of(items: History, at_s: torch.Tensor) -> Carry:
    """The carry at times at_s [R] of items [R, M] already selected for then (`heard`)."""
    present, at_s = items.valid, at_s[:, None]
    left_s, ago_s = items.end_s - at_s, at_s - items.start_s  # [R, M] each; left_s > 0: still sounding
    left = time_bin(left_s.abs())  # how long it sounds on, or (silent) has been silent
    return Carry(ids=torch.where(present, items.ids, NUM_IDS),
                 ago=torch.where(present, time_bin(ago_s), 0),
                 left=torch.where(present, torch.where(left_s > 0, left, TIME_BINS + left), 0),
                 intensity=torch.where(present, items.intensity, 0),
                 ago_s=torch.where(present, ago_s, 0.0))


class CarryGatherer:
    """The history of real chunks in training: the RECENT events of the track before the chunk, and the latest
    older press of each pedal (found in that pedal's own events), from a ChunkGatherer's corpus tensors."""

    def __init__(self, gatherer: ChunkGatherer):
        self.g = gatherer
        self.pedal_positions = [torch.nonzero(gatherer.ids == p).squeeze(1) for p in PEDALS]  # [E_p] each, sorted

    def history(self, track: torch.Tensor, chunk: torch.Tensor) -> tuple[History, torch.Tensor]:
        """Chunk `chunk` [R] of track `track` [R] → (its history [R, RECENT + 3], its start on the track's clock [R])."""
        g = self.g
        first = g.first_event_at(track, torch.zeros_like(chunk))  # [R]: the track's first event
        end = g.first_event_at(track, chunk)  # [R]: the first event at or after the chunk's start
        pos = end[:, None] - RECENT + torch.arange(RECENT, device=g.device)  # [R, RECENT]
        valid = pos >= first[:, None]
        older = []
        for positions in self.pedal_positions:  # the latest press of the pedal before the recent ones
            j = torch.searchsorted(positions, end - RECENT) - 1  # [R]
            where = positions[j.clamp(min=0)] if positions.numel() else torch.zeros_like(end)
            older.append((where, (j >= 0) & (where >= first)))
        pos = torch.cat([pos] + [w[:, None] for w, _ in older], dim=1).clamp(min=0)  # [R, RECENT + 3]
        valid = torch.cat([valid] + [v[:, None] for _, v in older], dim=1)
        start_s = g.start_s[pos].double()
        history = History(ids=g.ids[pos].long(), start_s=start_s, end_s=start_s + g.duration_s[pos].double(),
                          intensity=g.intensity[pos].long(), valid=valid)
        return history, chunk.double() * g.chunk_seconds


class DrawnHistory:
    """The history of pieces being sampled: a prompt's chunks, then each chunk drawn, appended as it comes."""

    def __init__(self, pieces: int, chunk_seconds: float, device: torch.device):
        self.chunk_seconds, self.chunks = chunk_seconds, 0
        empty = torch.zeros(pieces, 0, device=device)
        nothing = History(empty.long(), empty.double(), empty.double(), empty.long(), empty.bool())
        self.parts = heard(nothing, torch.zeros(pieces, dtype=torch.float64, device=device))  # [S, M]: empty slots

    def append(self, sets: SetBatch) -> None:
        """The next chunk's events [S, N] (offsets from its start)."""
        start_s = sets.offset_s.double() + self.chunks * self.chunk_seconds
        new = History(sets.ids.long(), start_s, start_s + sets.duration_s.double(), sets.intensity.long(), sets.mask)
        both = History(*(torch.cat([old, add.to(old.device)], dim=1) for old, add in zip(self.parts.fields(),
                                                                                     new.fields())))
        self.chunks += 1
        # only what is heard now can be heard later (the recent window moves forward; an event left out of it
        # is older than all in it): keep those items, so the history stays [S, M] however long the piece
        self.parts = heard(both, self._at())

    def carry(self) -> Carry:
        """The carry at the start of the next chunk (the items kept are those heard then)."""
        return carry_of(self.parts, self._at())

    def _at(self) -> torch.Tensor:
        """The next chunk's start, [S]."""
        return torch.full((self.parts.ids.shape[0],), self.chunks * self.chunk_seconds, dtype=torch.float64,
                          device=self.parts.ids.device)


class CarryReader(nn.Module):
    """Carry [R, M] → a change to the head's conditioning [R, out]: each item embedded and mixed, then summed
    (the items are a set). The last layer starts at zero, so a head warm-started with it is at first the head
    it was."""

    def __init__(self, hidden: int, out: int):
        super().__init__()
        self.embed = nn.ModuleDict({"ids": nn.Embedding(NUM_IDS + 1, hidden), "ago": nn.Embedding(TIME_BINS, hidden),
                                    "left": nn.Embedding(2 * TIME_BINS, hidden),
                                    "intensity": nn.Embedding(128, hidden)})
        self.mix = nn.Sequential(nn.GELU(), nn.Linear(hidden, hidden), nn.GELU())
        self.out = nn.Linear(hidden, out)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, carry: Carry) -> torch.Tensor:
        items = sum(self.embed[name](getattr(carry, name)) for name in self.embed)  # [R, M, hidden]
        present = (carry.ids < NUM_IDS).unsqueeze(-1)  # [R, M, 1]
        return self.out((self.mix(items) * present).sum(dim=1))  # [R, out]
