"""Corpus arrays → padded sets of chunk events by tensor gathers, with augmentation on the fly.

Shapes: B chunks, W candidate events per chunk (max_events + slack), N = max_events.
A chunk is gathered by time, not by a stored pointer, so a tempo change re-chunks exactly: chunk k
of a performance stretched by r holds the events whose start s satisfies k·c ≤ s·r < (k+1)·c — the
same as chunking the tempo-changed performance (up to float rounding at a boundary). Transposition
shifts keys, drops those pushed off the keyboard and lets the next events of the chunk move up.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from .corpus import Corpus
from .midi import NUM_KEYS
from .stage_configs import AugmentConfig

CANDIDATE_SLACK = 16  # events beyond the cap looked at, to refill what transposition drops


@dataclass
class SetBatch:
    """Padded sets: events [B, N] each, sorted by (start, id) within a set; sizes [B]."""

    ids: torch.Tensor  # long
    offset_s: torch.Tensor  # float64, from the chunk's start
    duration_s: torch.Tensor  # float64
    intensity: torch.Tensor  # long, 1–127
    sizes: torch.Tensor  # long

    @functools.cached_property
    def mask(self) -> torch.Tensor:
        """Which events are real [B, N] (bool): found once per batch, which its fields never change after (a sampled
        chunk is read by five pasts, each reading its mask)."""
        n = self.ids.shape[1]
        return torch.arange(n, device=self.sizes.device) < self.sizes[:, None]  # [B, N]

    def take(self, rows: torch.Tensor | slice) -> "SetBatch":
        """The sets of `rows` (an index tensor or a slice of the batch)."""
        return SetBatch(*(t[rows] for t in (self.ids, self.offset_s, self.duration_s, self.intensity, self.sizes)))

    def to(self, device: torch.device | str) -> "SetBatch":
        return SetBatch(*(t.to(device, non_blocking=True) for t in
                          (self.ids, self.offset_s, self.duration_s, self.intensity, self.sizes)))


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A NumPy array as a tensor on `device`; to a GPU through pinned memory (one DMA copy, no staging)."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


class ChunkGatherer:
    """Gathers chunks of a corpus as padded sets; the corpus arrays live as tensors on `device`."""

    def __init__(self, corpus: Corpus, max_events: int | None = None, device: str | torch.device = "cpu"):
        self.corpus = corpus
        self.max_events = max_events or corpus.max_events
        self.chunk_seconds = corpus.chunk_seconds
        device = torch.device(device)
        track_of_event = np.repeat(np.arange(corpus.num_tracks), np.diff(corpus.track_event_ptr))
        longest = max((t["duration_s"] for t in corpus.tracks), default=1.0)
        self.stride_s = float(2 ** np.ceil(np.log2(longest * 1.5 + 2)))  # tracks never overlap on the key axis
        key = np.asarray(corpus.start_s) + track_of_event * self.stride_s
        # the corpus lives on the device and batches are gathered there: after this one upload no
        # batch crosses the host-device bus
        self.key = to_device(key, device)  # [E] float64, sorted
        self.ids = to_device(np.array(corpus.ids), device)
        self.start_s = to_device(np.array(corpus.start_s), device)
        self.duration_s = to_device(np.array(corpus.duration_s), device)
        self.intensity = to_device(np.array(corpus.intensity), device)
        self.track_chunks = to_device(np.diff(corpus.track_chunk_ptr), device)
        self.track_duration_s = torch.tensor([t["duration_s"] for t in corpus.tracks], dtype=torch.float64,
                                             device=device)
        self.device = device

    def first_event_at(self, track: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
        """The index [B] of the first corpus event at or after the start of chunk `chunk` [B] of track `track` [B]
        (on the performance's own clock: what came before a chunk, for a head that hears the past)."""
        return torch.searchsorted(self.key, track.double() * self.stride_s + chunk.double() * self.chunk_seconds)

    def gather(self, track: torch.Tensor, chunk: torch.Tensor, stretch: torch.Tensor | None = None,
               shift: torch.Tensor | None = None) -> SetBatch:
        """Chunk `chunk` [B] of track `track` [B], time-stretched by `stretch` [B] and transposed by `shift` [B]."""
        b = track.shape[0]
        stretch = torch.ones(b, dtype=torch.float64, device=self.device) if stretch is None else stretch.double()
        shift = torch.zeros(b, dtype=torch.long, device=self.device) if shift is None else shift.long()
        c = self.chunk_seconds
        base = track.double() * self.stride_s
        lo_s = chunk.double() * c / stretch  # in the original performance's time
        hi_s = (chunk.double() + 1) * c / stretch
        lo = torch.searchsorted(self.key, base + lo_s)  # [B]
        hi = torch.searchsorted(self.key, base + hi_s)
        width = self.max_events + CANDIDATE_SLACK
        pos = lo[:, None] + torch.arange(width, device=self.device)  # [B, W]
        valid = pos < hi[:, None]
        pos = pos.clamp(max=self.key.shape[0] - 1)
        ids = self.ids[pos].long()  # [B, W]
        is_key = ids < NUM_KEYS
        ids = torch.where(is_key, ids + shift[:, None], ids)
        valid &= ~is_key | ((ids >= 0) & (ids < NUM_KEYS))
        order = torch.argsort((~valid).to(torch.int8), dim=1, stable=True)[:, :self.max_events]  # [B, N]
        take = pos.gather(1, order)
        sizes = valid.sum(1).clamp(max=self.max_events)
        keep = torch.arange(self.max_events, device=self.device) < sizes[:, None]
        return SetBatch(
            ids=torch.where(keep, ids.gather(1, order), 0),
            offset_s=torch.where(keep, self.start_s[take] * stretch[:, None] - chunk.double()[:, None] * c, 0.0),
            duration_s=torch.where(keep, self.duration_s[take].double() * stretch[:, None], 0.0),
            intensity=torch.where(keep, self.intensity[take].long(), 1),
            sizes=sizes)

    def random_augmentation(self, b: int, augment: AugmentConfig, generator: torch.Generator):
        """Per-chunk stretch [B] (1 / tempo factor) and shift [B] drawn uniformly within the config's range."""
        tempo = 1 + (torch.rand(b, generator=generator, dtype=torch.float64) * 2 - 1) * augment.tempo_range
        k = augment.transpose_semitones
        shift = torch.randint(-k, k + 1, (b,), generator=generator)
        return (1 / tempo).to(self.device), shift.to(self.device)


SEEDS = 2 ** 63  # a generator's seeds: a stream's seed is folded into them (unchanged below; --seed up to 2^40 fits)


def epoch_order(num_chunks: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled chunk order of one epoch, reproducible from (seed, epoch) alone: resume replays it."""
    g = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % SEEDS)
    return torch.randperm(num_chunks, generator=g)


def batch_generator(seed: int, epoch: int, batch: int) -> torch.Generator:
    """The random stream of one batch (augmentation), reproducible from (seed, epoch, batch)."""
    return torch.Generator().manual_seed(((seed * 1_000_003 + epoch) * 1_000_003 + batch) % SEEDS)
