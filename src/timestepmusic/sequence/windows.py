"""Real training sequences for the arms that read variable-length windows of chunk latents: a window starts at
any chunk of a track and runs up to T chunks or to the track's end, where its last step carries the end marker.
Shapes: B sequences, T steps, N starts.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from ..corpus import Corpus
from ..ragged import positions_in_groups

log = logging.getLogger(__name__)


@dataclass
class RealBatch:
    rows: torch.Tensor  # [B, T] global chunk index (clamped to the track's last chunk past the end)
    mask: torch.Tensor  # [B, T] 1 = a step of the sequence
    end: torch.Tensor  # [B, T] 1 at the track's last chunk
    weight: torch.Tensor  # [B] importance weight p/q (mean 1 under the mixture)

    def take(self, index: torch.Tensor) -> "RealBatch":
        """The sequences at `index` [b] (this rank's slice)."""
        return RealBatch(self.rows[index], self.mask[index], self.end[index], self.weight[index])

    def to(self, device: torch.device) -> "RealBatch":
        return RealBatch(*(x.to(device) for x in (self.rows, self.mask, self.end, self.weight)))


class SequenceSampler:
    """Real sequences of up to T chunks starting at any chunk of the given tracks."""

    def __init__(self, corpus: Corpus, tracks: np.ndarray, max_chunks: int, ending_share: float):
        ptr = np.array(corpus.track_chunk_ptr, dtype=np.int64)
        first, count = ptr[tracks], ptr[tracks + 1] - ptr[tracks]  # [K]
        within = positions_in_groups(count)  # [N]
        self.start = torch.from_numpy(np.repeat(first, count) + within)  # [N] global chunk of every start
        self.remaining = torch.from_numpy(np.repeat(count, count) - within)  # [N] chunks to the track's end
        self.track_first_of = torch.from_numpy(np.repeat(np.cumsum(count) - count, count))  # [N] where its track starts
        if self.start.numel() == 0:
            raise ValueError(f"{corpus.root}: no chunks in the tracks to sample sequences from")
        self.ending = torch.nonzero(self.remaining <= max_chunks).squeeze(1)  # [N_end] starts that reach an end
        self.max_chunks, self.share = max_chunks, ending_share if self.ending.numel() else 0.0
        n, n_end = self.start.numel(), max(self.ending.numel(), 1)
        self.weight_plain = 1 / (1 - self.share) if self.share < 1 else 0.0  # p/q for a sequence that does not reach
        # an end (share 1: none is drawn)
        self.weight_ending = 1 / ((1 - self.share) + self.share * n / n_end)
        self.offsets = torch.arange(max_chunks)

    def batch(self, index: torch.Tensor) -> RealBatch:
        remaining = self.remaining[index]  # [B]
        length = remaining.clamp(max=self.max_chunks)
        steps = self.offsets[None]  # [1, T]
        reaches_end = remaining <= self.max_chunks
        return RealBatch(rows=self.start[index][:, None] + torch.minimum(steps, length[:, None] - 1),
                         mask=(steps < length[:, None]).float(),
                         end=((steps == length[:, None] - 1) & reaches_end[:, None]).float(),
                         weight=torch.where(reaches_end, self.weight_ending, self.weight_plain).float())

    def sample(self, b: int, rng: torch.Generator) -> RealBatch:
        plain = torch.randint(self.start.numel(), (b,), generator=rng)  # [B] uniform over starts
        ending = self.ending[torch.randint(self.ending.numel(), (b,), generator=rng)] if self.share else plain
        pick_ending = torch.rand(b, generator=rng) < self.share  # [B]
        return self.batch(torch.where(pick_ending, ending, plain))


def split_samplers(corpus: Corpus, max_chunks: int, ending_share: float) -> tuple[SequenceSampler, SequenceSampler]:
    """Samplers of the training and the validation tracks (the training ones where there is no validation split)."""
    train_tracks, val_tracks = corpus.tracks_in("train"), corpus.tracks_in("validation")
    if val_tracks.size == 0:
        log.warning("no validation tracks; held-out figures use training sequences")
        val_tracks = train_tracks
    return (SequenceSampler(corpus, train_tracks, max_chunks, ending_share),
            SequenceSampler(corpus, val_tracks, max_chunks, ending_share))
