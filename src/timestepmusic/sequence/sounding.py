"""Keys still sounding, so that a note is not struck on one (`ar.restrike_guard`), with no training; and how long
none has sounded (`ar.silence_guard_s`, silence_guard.py).

Why: a pianist releases a key before striking it again, so in real playing a note ends before its key's next one
starts (of the validation split's notes 0.17 % end exactly at the next onset of their key). The event head draws
each note's duration when it strikes it and does not hear every key still held (the carry holds the last 12 events),
so it strikes held keys again: 3.6 % of the default's notes were drawn on a key still sounding, and writing the
file ends such a note at the new one (MIDI's reading), a long one most often (those notes lost 43 % of their drawn
length). Over a piece the notes come out shorter than drawn, the long ones most (99th percentile 1.67 s drawn,
1.47 s written, 1.82 s real: bench/restrikes.py), and fewer sound at once.
How: the end of each key's latest note is kept (a prompt's notes, then each drawn one), and every note on a key
still sounding at its start is drawn at e^−G of its odds, the others more often in proportion: where a drawn
note's key is sounding it is kept with chance e^−G, else drawn again with those odds (event_sampler.EventSampler.
sample; exact, by rejection, as the cluster guard). Within a chunk
the ends are those of the drawn durations' bin middles, across chunks those written (so with ar.in_bins a note may
still be cut short by up to half a duration bin).
Shapes: S pieces, N events per chunk; 88 keys.
"""
from __future__ import annotations

import torch

from ..batches import SetBatch
from ..midi import NUM_KEYS


class DrawnSounding:
    """The end of each key's latest note, on the pieces' clock (a prompt's chunks, then each drawn chunk)."""

    def __init__(self, pieces: int, chunk_seconds: float, device: torch.device):
        self.chunk_seconds, self.chunks = chunk_seconds, 0
        self.until_s = torch.full((pieces, NUM_KEYS), -torch.inf, dtype=torch.float64, device=device)  # [S, 88]

    def append(self, sets: SetBatch) -> None:
        """The next chunk's events [S, N] (offsets from its start)."""
        device = self.until_s.device
        is_note = (sets.mask & (sets.ids < NUM_KEYS)).to(device)  # [S, N]
        end_s = (sets.offset_s.double() + sets.duration_s.double()).to(device) + self.chunks * self.chunk_seconds
        keys = sets.ids.to(device).long().clamp(max=NUM_KEYS - 1)  # [S, N]
        self.until_s = self.until_s.scatter_reduce(1, keys, torch.where(is_note, end_s, -torch.inf), "amax")
        self.chunks += 1

    def skip(self, chunks: int) -> None:
        """Chunks known only by their latents (a prompt without events): heard as silence."""
        self.chunks += chunks

    def silent_s(self) -> torch.Tensor:
        """Seconds from the latest note's end (or the clock's start, where no note has sounded) to the next chunk's
        start [S] (≤ 0: a note sounds on into it; ar.silence_guard_s)."""
        return self.chunks * self.chunk_seconds - self.until_s.max(dim=1).values.clamp(min=0.0)

    def before(self) -> torch.Tensor:
        """Seconds from the next chunk's start until each key is free [S, 88] (≤ 0 or −inf: free already)."""
        return self.until_s - self.chunks * self.chunk_seconds
