"""The register each key choice of the event head hears (`ar.register`): the highest and the lowest key struck in
the 8 and in the 32 chunks before the chunk (2 s and 8 s of 0.25 s chunks), each leaning the key logits by a
kernel over the interval from it that the head's state chooses (voices.VoiceLean with four keys).

Why: a drawn minute spans a wider range than a pianist's because of stray notes at its edges (docs/quality.md,
twenty-ninth session), and a guard at sampling that leans such notes back narrows the whole register below real
(bench/results/register_guard_validation.md). The head itself is not calibrated there: after a real past (the
validation split, 60 real 16 s excerpts, about 9,900 notes) it gives a key more than 5 semitones beyond the
highest or lowest key of the last 2 s a probability of 0.044 where 0.030 of the real notes lie there (of the last
4 s: 0.030 against 0.019; bench/register_calibration.py). The transformer hears the past only through chunk
latents and the voices (sequence/voices.py) only the latest onsets; here the register's bounds are found exactly
and learned against, so what is leaned is what real notes do, not a margin chosen by hand.
Measured (docs/quality.md, thirtieth session; bench/results/register_calibration_validation.md,
register_heard_validation.md): trained 5,500 steps from the default, the head gives 0.029 there (real 0.030), the
validation NLL is 0.045 nats per chunk below the same training without it, and a drawn minute's range is at real's
with fewer stray notes; both classifiers are level and more pieces stall (shipped beside the default as
`events-register`; the default since the thirty-first session, with ar.empty_bias −0.75 against the stalls).
The same bounds serve training (`RegisterGatherer`, over the corpus's notes before each chunk, within each chunk's
max_events cap) and sampling (register_guard.DrawnRegister over a prompt's chunks and those drawn); both hear
whole chunks before the chunk, not the notes drawn in it (the voices hear those). The kernels' layer starts at
zero, so a head warm-started with it is at first exactly the head it was.
Shapes: R chunk rows, E corpus events, T corpus chunks, G = len(WINDOWS), V = 2G keys heard (NONE where no note).
"""
from __future__ import annotations

import torch

from ..batches import ChunkGatherer
from ..midi import NUM_KEYS
from .register_guard import DrawnRegister
from .voices import NONE

WINDOWS = (8, 32)  # chunks before the chunk (2 s and 8 s of the corpus's 0.25 s chunks)
HEARD = 2 * len(WINDOWS)  # each window's highest and lowest key


def as_heard(highest: torch.Tensor, lowest: torch.Tensor) -> torch.Tensor:
    """Each window's highest and lowest key [R, G] each (−inf / +inf or NONE / NUM_KEYS where no note) → the keys
    heard [R, V]: highest, lowest of the first window, then of the next; NONE where no note."""
    high = torch.where(torch.isfinite(highest.float()) & (highest >= 0), highest, NONE).long()  # [R, G]
    low = torch.where(torch.isfinite(lowest.float()) & (lowest < NUM_KEYS), lowest, NONE).long()  # [R, G]
    return torch.stack([high, low], dim=2).flatten(1)  # [R, G, 2] → [R, V]


def drawn_heard(drawn: DrawnRegister) -> torch.Tensor:
    """The keys heard before the next chunk of the pieces being sampled [S, V] (`drawn` keeps ≥ max(WINDOWS))."""
    bounds = [drawn.bounds(last=span) for span in WINDOWS]  # G × ([S], [S])
    return as_heard(torch.stack([b[0] for b in bounds], 1), torch.stack([b[1] for b in bounds], 1))


class RegisterGatherer:
    """The keys heard before real chunks in training, from a ChunkGatherer's corpus tensors: each corpus chunk's
    highest and lowest note (its events found on the boundaries `ChunkGatherer.gather` uses, within the cap),
    then the windows' over the chunks before."""

    def __init__(self, gatherer: ChunkGatherer):
        self.g = gatherer
        counts = gatherer.track_chunks.long()  # [tracks]
        self.first = torch.cumsum(counts, 0) - counts  # [tracks]: each one's first row
        total, device = int(counts.sum()), counts.device
        track = torch.repeat_interleave(torch.arange(counts.shape[0], device=device), counts)  # [T]
        chunk = torch.arange(total, device=device) - self.first[track]  # [T]: within its track
        begin = gatherer.first_event_at(track, chunk)  # [T]
        end = gatherer.first_event_at(track, chunk + 1)  # [T]
        size = (end - begin).clamp(max=gatherer.max_events)  # [T]: the events gather keeps
        row = torch.repeat_interleave(torch.arange(total, device=device), size)  # [E']: each kept event's chunk
        rank = torch.arange(row.shape[0], device=device) - torch.repeat_interleave(torch.cumsum(size, 0) - size, size)
        ids = gatherer.ids.long()[begin[row] + rank]  # [E']
        note = ids < NUM_KEYS
        self.highest = torch.full((total,), NONE, dtype=torch.long, device=device).scatter_reduce(
            0, row[note], ids[note], "amax")  # [T]
        self.lowest = torch.full((total,), NUM_KEYS, dtype=torch.long, device=device).scatter_reduce(
            0, row[note], ids[note], "amin")  # [T]

    def heard(self, track: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
        """Chunk `chunk` [R] of track `track` [R] → the keys heard before it [R, V]."""
        highs, lows = [], []
        for span in WINDOWS:
            back = chunk[:, None] - 1 - torch.arange(span, device=chunk.device)  # [R, span]: the chunks before
            rows = (self.first[track][:, None] + back.clamp(min=0))  # [R, span]
            inside = back >= 0
            highs.append(torch.where(inside, self.highest[rows], NONE).amax(1))  # [R]
            lows.append(torch.where(inside, self.lowest[rows], NUM_KEYS).amin(1))  # [R]
        return as_heard(torch.stack(highs, 1), torch.stack(lows, 1))
