"""How a piece ends (ar.closing_s): the last K chunks of every training track are told how many chunks are left, and
a piece that ends itself is told the same over its last K chunks, so that it closes as a pianist's performance
does (a slower last phrase, a final chord left to ring) instead of stopping mid-phrase where the end head says.

What is told is a learned offset per chunk left, added to that chunk's input to the transformer as the description
of ar.style is, and another added to the features the event head draws that chunk from (both zero at first: a warm
start is at first the model it started from). Chunks left count the chunk itself: the track's last chunk has 1
left. With ar.closing_to=last_onset they count to the chunk that holds the track's last note's start, and with
ar.closing_ring_s the R chunks after it are told too, as chunks after (told -1, -2, …): the final chord, then
its ringing out, and a piece that ends itself plays them after its closing. Shapes: B windows, T steps, K closing
chunks, R chunks after, W width.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..corpus import Corpus
from ..midi import NUM_KEYS
from ..ragged import group_of

NOT_CLOSING = 0  # chunks left, where a chunk is told nothing (more than K left, or past a track's end)


class Closing(nn.Module):
    """Chunks left [...] (1 … K; -1 … -R: chunks after) → the offset each chunk's input reads, and the one its
    features get before the event head reads them [..., W] each (zero where more than K are left, or more than R
    after)."""

    def __init__(self, chunks: int, width: int, after: int = 0):
        super().__init__()
        self.chunks, self.after = chunks, after
        self.offsets = nn.Parameter(torch.zeros(chunks + after, width))  # [K + R, W]: row k for k + 1 chunks left,
        # row K + a for a + 1 chunks after
        self.heard = nn.Parameter(torch.zeros(chunks + after, width))  # [K + R, W]: the same for the event head

    def forward(self, left: torch.Tensor) -> torch.Tensor:
        return self.told(self.offsets, left)

    def head_offset(self, left: torch.Tensor) -> torch.Tensor:
        return self.told(self.heard, left)

    def told(self, table: torch.Tensor, left: torch.Tensor) -> torch.Tensor:
        told = ((left >= 1) & (left <= self.chunks)) | ((left <= -1) & (left >= -self.after))  # [...]
        row = torch.where(left >= 1, left - 1, self.chunks - left - 1)  # [...]
        return table[row.clamp(0, self.chunks + self.after - 1)] * told[..., None]  # [..., W]


def closing_chunks(closing_s: float, chunk_seconds: float) -> int:
    """ar.closing_s in whole chunks (at least one where it is above 0)."""
    return max(1, round(closing_s / chunk_seconds)) if closing_s > 0 else 0


class TrackEnds:
    """Where each track of a corpus ends, to tell training windows how many chunks each step has left: to the
    track's last chunk (`to` "end"), or to the chunk that holds its last note's start ("last_onset": the final
    chord is the chunk told 1, and what rings on after it -1, -2, …, which Closing reads with ar.closing_ring_s)."""

    def __init__(self, corpus: Corpus, to: str = "end"):
        ptr = np.asarray(corpus.track_chunk_ptr, dtype=np.int64)
        last = last_onset_chunks(corpus) if to == "last_onset" else ptr[1:] - 1  # [T]
        self.last = torch.from_numpy(np.repeat(last, np.diff(ptr)))  # [C]: each chunk's track's last chunk told

    def left(self, rows: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Global chunk indices of windows [B, T] and their mask [B, T] → chunks left to the track's end (or its
        last onset), the chunk counted [B, T]: -1, -2, … after it, NOT_CLOSING past a window's end."""
        left = self.last.to(rows.device)[rows] - rows + 1  # [B, T]
        return torch.where(mask > 0.5, torch.where(left >= 1, left, left - 1), NOT_CLOSING)


def last_onset_chunks(corpus: Corpus) -> np.ndarray:
    """Each track's chunk that holds its last note's start [T] (global chunk index; a track without notes: its
    last chunk)."""
    track_ptr = np.asarray(corpus.track_chunk_ptr, dtype=np.int64)
    event_ptr = np.asarray(corpus.chunk_event_ptr, dtype=np.int64)
    event_chunk = group_of(np.diff(event_ptr))  # [E]: each event's chunk
    chunk_track = group_of(np.diff(track_ptr))  # [C]: each chunk's track
    note_chunks = event_chunk[np.asarray(corpus.ids) < NUM_KEYS]  # [N]
    last = np.full(track_ptr.size - 1, -1, dtype=np.int64)  # [T]
    np.maximum.at(last, chunk_track[note_chunks], note_chunks)
    return np.where(last >= 0, last, track_ptr[1:] - 1)


def closing_left(closing_at: torch.Tensor, first: int, last: int, chunks: int, after: int = 0) -> torch.Tensor:
    """Sampling: the chunk at which each piece's closing starts [S] (beyond any chunk: not closing) → chunks left
    at chunks first … last [S, C], K of them and then R chunks after (-1 … -R; NOT_CLOSING before the closing
    and past them)."""
    at = torch.arange(first, last + 1, device=closing_at.device)  # [C]
    left = closing_at[:, None] + chunks - at[None]  # [S, C]
    left = torch.where(left >= 1, left, left - 1)  # [S, C]: -1 for the first chunk after
    return torch.where((at[None] >= closing_at[:, None]) & (left >= -after), left, NOT_CLOSING)
