"""A passage's description (sequence/style.py) from its events: running sums along them, differenced at its ends:
training's descriptions of a corpus's windows (`StyleGatherer`, and the bank and paths it keeps), a continued prompt's
own (`describe_passage`) and a performance's path (`performance_path`, for `--like`).
Shapes: B windows, T steps, R chunk rows, E events, D attributes (8, or 9 with the pause), K = AHEAD chunks.
"""
from __future__ import annotations

import numpy as np
import torch

from ..batches import ChunkGatherer
from ..chunks import count_chunks
from ..midi import NUM_KEYS, Events
from .style import AHEAD, BANK, PATH_HOP
from .style_paths import StylePaths, track_label
from .windows import SequenceSampler

DAMPER_ID, SOFT_ID = NUM_KEYS, NUM_KEYS + 2
HALF_DEPTH = 96  # a damper event of at most this intensity is half pedal (as tsm evaluate's half_pedal_share)
STEP = 2  # semitones: consecutive notes at most this far apart move stepwise


class StyleGatherer:
    """Descriptions of real windows from a ChunkGatherer's corpus: running sums along the corpus's events,
    differenced at each window's ends."""

    def __init__(self, gatherer: ChunkGatherer, pause: bool = False):
        self.g, self.pause = gatherer, pause  # pause: also each passage's longest pause (ar.style_pause)
        track = torch.floor(gatherer.key / gatherer.stride_s).long()  # [E]
        per_event = event_sums(gatherer.ids.long(), gatherer.intensity, gatherer.duration_s, track)  # [E, SUMS]
        self.running = torch.cat([per_event.new_zeros(1, SUMS), per_event.cumsum(0)])  # [E + 1, SUMS]: before each

    def describe(self, track: torch.Tensor, chunk: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
        """Chunks chunk … chunk + length − 1 [B] of track `track` [B] → their descriptions [B, D] (NaN where
        undefined)."""
        begin = self.g.first_event_at(track, chunk)  # [B]
        end = self.g.first_event_at(track, chunk + length)
        described = described_by_sums(self.running[end] - self.running[begin], length.double() * self.g.chunk_seconds)
        if self.pause:
            described = torch.cat([described, torch.log1p(self.longest_pause_s(track, chunk, length))[:, None]], 1)
        return described.float()  # [B, D]

    def longest_pause_s(self, track: torch.Tensor, chunk: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
        """The longest stretch of whole chunks in which no note starts, among chunks chunk … chunk + length − 1
        [B] of track `track` [B] (length ≤ AHEAD), in seconds [B]; a passage with no note: its whole length."""
        k = torch.arange(AHEAD + 1, device=chunk.device)  # [K + 1] chunk boundaries
        bounds = self.g.first_event_at(track[:, None].expand(-1, AHEAD + 1), chunk[:, None] + k)  # [B, K + 1]
        struck = self.running[bounds, 0].diff(dim=1) > 0  # [B, K]: a note starts in chunk k
        return longest_pause_chunks(struck, length).double() * self.g.chunk_seconds

    def ahead(self, rows: torch.Tensor, locate) -> torch.Tensor:
        """Global chunk rows [B, T] → the description of the AHEAD chunks from each on [B, T, D]; within a track's
        last AHEAD chunks, of those last AHEAD chunks (of the whole track, where it is shorter), so that a step is
        always told a full passage, as sampling tells it, and never one that shrinks to the chunk it predicts;
        `locate`: global chunk rows → (track, chunk)."""
        b, t = rows.shape
        track, chunk = locate(rows.reshape(-1))  # [B·T] each
        chunks = self.g.track_chunks[track]  # [B·T]
        length = chunks.clamp(min=1, max=AHEAD)
        begin = torch.minimum(chunk, chunks - length).clamp(min=0)  # (the clamp: only for a track of no chunks)
        return self.describe(track, begin, length).view(b, t, -1)  # [B, T, D]

    def paths(self, sampler: SequenceSampler, locate, fill: torch.Tensor) -> StylePaths:
        """The descriptions along every track of `sampler` (`StylePaths`), an undefined attribute (NaN) held as
        `fill` [D] (the bank's mean, which reads the same), each track labelled with its composer and title."""
        kept = (sampler.start - sampler.start[sampler.track_first_of]) % PATH_HOP == 0  # [N]: every PATH_HOP-th chunk
        rows = self.ahead(sampler.start[kept][:, None], locate)[:, 0]  # [R, D]
        rows = torch.where(rows.isnan(), fill.to(rows.device), rows)
        per_track = torch.bincount(sampler.track_first_of[kept], minlength=sampler.start.numel())  # [N]
        counts = per_track[per_track > 0]  # [K]: rows of each track, in order
        tracks, _ = locate(sampler.start[torch.nonzero(per_track).squeeze(1)])  # [K]: each one's corpus track
        labels = [track_label(self.g.corpus.tracks[int(t)]) for t in tracks]
        return StylePaths(rows, torch.cat([counts.new_zeros(1), counts.cumsum(0)]), labels)

    def bank(self, sampler: SequenceSampler, locate, rng: torch.Generator) -> torch.Tensor:
        """BANK descriptions [BANK, D] of training passages of AHEAD chunks (shorter, where no track has one)."""
        full = torch.nonzero(sampler.remaining >= AHEAD).squeeze(1)  # [N']
        starts = full if full.numel() else torch.arange(sampler.start.numel())
        chosen = sampler.start[starts[torch.randint(starts.numel(), (BANK,), generator=rng)]]  # [BANK] global rows
        return self.ahead(chosen[:, None], locate)[:, 0]


def performance_path(performance: Events, chunk_seconds: float, fill: torch.Tensor, pause: bool = False,
                     label: str = "") -> StylePaths:
    """One performance → its path of descriptions as one track (`StylePaths`): the description of the AHEAD chunks
    from every PATH_HOP-th chunk on, within its last AHEAD chunks those last AHEAD (of all of it, where it is shorter),
    as StyleGatherer.paths describes a training track (its chunks counted as the corpus counts a track's, to its
    end_s); an undefined attribute (NaN) held as `fill` [D]. `tsm generate --like FILE` walks it."""
    performance = performance.sorted()
    ids, start_s, duration_s, intensity = (torch.from_numpy(np.array(x)) for x in (
        performance.ids, performance.start_s, performance.duration_s, performance.intensity))  # [E] each
    chunks = count_chunks(performance.end_s, chunk_seconds)
    every = event_sums(ids.long(), intensity, duration_s, torch.zeros_like(ids, dtype=torch.long))  # [E, SUMS]
    running = torch.cat([every.new_zeros(1, SUMS), every.cumsum(0)])  # [E + 1, SUMS]: the sums before each event
    first = torch.arange(0, chunks, PATH_HOP)  # [R]: the chunk each row describes from
    length = min(chunks, AHEAD)
    begin = torch.clamp(first, max=chunks - length)  # [R]
    bounds = torch.searchsorted(start_s, torch.stack([begin, begin + length]).double() * chunk_seconds)  # [2, R]
    rows = described_by_sums(running[bounds[1]] - running[bounds[0]],
                             torch.full((first.shape[0],), length * chunk_seconds, dtype=torch.float64))  # [R, 8]
    if pause:
        struck = torch.zeros(chunks + AHEAD, dtype=torch.bool)  # whether a note starts in each chunk
        is_note = (ids < NUM_KEYS) & (start_s >= 0)
        struck[(start_s[is_note] / chunk_seconds).floor().long().clamp(max=chunks - 1)] = True
        windows = struck.unfold(0, AHEAD, 1)[begin]  # [R, AHEAD]
        longest = longest_pause_chunks(windows, torch.full_like(begin, length)).double() * chunk_seconds  # [R]
        rows = torch.cat([rows, torch.log1p(longest)[:, None]], dim=1)  # [R, 9]
    rows = torch.where(rows.isnan(), fill.double().cpu(), rows)
    return StylePaths(rows, torch.tensor([0, rows.shape[0]]), [label])


SUMS = 9  # what a passage's description is made of, summed over its events (`event_sums`)


def event_sums(ids: torch.Tensor, intensity: torch.Tensor, duration_s: torch.Tensor,
               track: torch.Tensor) -> torch.Tensor:
    """Events in time order within each performance (ids, intensities, durations and which performance `track`,
    [E] each) → each one's part of the sums a description is made of [E, SUMS]: a note, its key, key², velocity,
    whether a note of its track came before it, whether it moved at most STEP from that one, and the seconds of
    damper, half damper and soft pedal it presses (a press counts whole in the passage it starts in)."""
    note = ids < NUM_KEYS
    index = torch.nonzero(note).squeeze(1)  # [E'] the notes
    paired, stepwise = torch.zeros_like(note), torch.zeros_like(note)
    same_track = track[index[1:]] == track[index[:-1]]  # [E' − 1]: a note before it in its track
    paired[index[1:]] = same_track
    stepwise[index[1:]] = same_track & ((ids[index[1:]] - ids[index[:-1]]).abs() <= STEP)
    key, velocity, duration = ids.double(), intensity.double(), duration_s.double()
    damper = ids == DAMPER_ID
    note, half = note.double(), (damper & (intensity <= HALF_DEPTH)).double()
    return torch.stack([note, key * note, key ** 2 * note, velocity * note, paired.double(), stepwise.double(),
                        duration * damper, duration * half, duration * (ids == SOFT_ID)], dim=1)  # [E, SUMS]


def described_by_sums(sums: torch.Tensor, seconds: torch.Tensor) -> torch.Tensor:
    """Passages' summed `event_sums` [B, SUMS] and lengths in seconds [B] → their descriptions of ATTRIBUTES [B, 8]
    (float64; NaN where undefined: no notes, no damper)."""
    s = sums.unbind(1)  # SUMS × [B]
    notes = s[0]
    mean = s[1] / notes  # NaN without notes
    spread = (s[2] / notes - mean ** 2).clamp(min=0).sqrt()
    return torch.stack([mean, spread, torch.log1p(notes / seconds), s[3] / notes, s[5] / s[4],
                        (s[6] / seconds).clamp(max=1), s[7] / s[6], (s[8] / seconds).clamp(max=1)], dim=1)


def longest_pause_chunks(struck: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """Whether a note starts in each chunk [B, K] of passages `length` [B] chunks long (≤ K) → the longest run of
    chunks in which none does [B] (a passage with no note: its whole length)."""
    k = torch.arange(struck.shape[1], device=struck.device)  # [K]
    last_struck = torch.where(struck, k, -1).cummax(dim=1).values  # [B, K]: at or before k (−1: none)
    pause = (k - last_struck) * (k < length[:, None])  # [B, K]: chunks without a note ending at k
    return pause.amax(dim=1)


def describe_passage(ids: torch.Tensor, intensity: torch.Tensor, duration_s: torch.Tensor, first: int,
                     struck: torch.Tensor, chunk_seconds: float, pause: bool = False) -> torch.Tensor:
    """A performance's events in time order ([E] each) and the passage at its end: from event `first` on, over the
    chunks `struck` [K] says whether a note starts in → the passage's description [D] (D = 8, 9 with `pause`), as
    training describes a corpus passage (a note's step from the note before it, also from before the passage; NaN
    where undefined)."""
    every = event_sums(ids.long(), intensity, duration_s, torch.zeros_like(ids, dtype=torch.long))  # [E, SUMS]
    chunks = struck.shape[0]
    described = described_by_sums(every[first:].sum(0, keepdim=True),
                                  torch.tensor([chunks * chunk_seconds], dtype=torch.float64))[0]  # [8]
    if pause:
        longest = longest_pause_chunks(struck[None], torch.tensor([chunks]))[0].double() * chunk_seconds
        described = torch.cat([described, torch.log1p(longest)[None]])
    return described.float()
