"""Events ⇄ chunks: equal time steps, each a capped set of events. Vectorised; no loop over events.

An event belongs to the chunk in which it starts; its start becomes the offset from the chunk's
start. Events in a chunk are ordered by (start, id); over the cap, the *latest-starting* events of
the chunk are dropped (deterministic, and the earliest attacks of a chord-heavy step survive), and
every drop is counted.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .midi import Events


def count_chunks(end_s: float, chunk_seconds: float) -> int:
    """Chunks needed to cover a performance of `end_s` seconds (at least one)."""
    return int(np.floor(end_s / chunk_seconds)) + 1


def chunk_pointers(start_s: np.ndarray, num_chunks: int, chunk_seconds: float) -> np.ndarray:
    """CSR offsets [C+1] of start-sorted events into chunks: chunk c holds events ptr[c]:ptr[c+1]."""
    boundaries = np.arange(num_chunks + 1, dtype=np.float64) * chunk_seconds
    ptr = np.searchsorted(start_s, boundaries, side="left")
    ptr[-1] = start_s.size
    return ptr.astype(np.int64)


def capped_mask(chunk_ptr: np.ndarray, max_events: int) -> np.ndarray:
    """[E] True for the events kept under the cap: the first `max_events` of each chunk."""
    sizes = np.diff(chunk_ptr)
    rank = np.arange(int(chunk_ptr[-1])) - np.repeat(chunk_ptr[:-1], sizes)
    return rank < max_events


def overflow(chunk_ptr: np.ndarray, max_events: int) -> int:
    """Events the cap drops from these chunks."""
    return int(np.maximum(np.diff(chunk_ptr) - max_events, 0).sum())


@dataclass
class Chunked:
    """A performance cut into chunks, capped. Events arrays [E_kept], ptr [C+1]."""

    ids: np.ndarray
    offset_s: np.ndarray  # start minus the chunk's start, in [0, chunk_seconds)
    duration_s: np.ndarray
    intensity: np.ndarray
    chunk_ptr: np.ndarray
    chunk_seconds: float
    dropped: int

    @property
    def num_chunks(self) -> int:
        return int(self.chunk_ptr.size - 1)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.chunk_ptr)


def chunk_events(events: Events, chunk_seconds: float, max_events: int) -> Chunked:
    """Events (sorted by start, id) → capped chunks."""
    num = count_chunks(max(events.end_s, float(events.start_s.max(initial=0.0))), chunk_seconds)
    ptr = chunk_pointers(events.start_s, num, chunk_seconds)
    keep = capped_mask(ptr, max_events)
    chunk_of = np.repeat(np.arange(num), np.diff(ptr))
    kept_ptr = np.concatenate([[0], np.cumsum(np.minimum(np.diff(ptr), max_events))]).astype(np.int64)
    return Chunked(
        ids=events.ids[keep], offset_s=(events.start_s - chunk_of * chunk_seconds)[keep],
        duration_s=events.duration_s[keep], intensity=events.intensity[keep], chunk_ptr=kept_ptr,
        chunk_seconds=chunk_seconds, dropped=int((~keep).sum()))


def unchunk(chunked: Chunked) -> Events:
    """Capped chunks → events in seconds from the start of the performance."""
    chunk_of = np.repeat(np.arange(chunked.num_chunks), chunked.sizes)
    return Events(chunked.ids, chunk_of * chunked.chunk_seconds + chunked.offset_s, chunked.duration_s,
                  chunked.intensity, chunked.num_chunks * chunked.chunk_seconds).sorted()
