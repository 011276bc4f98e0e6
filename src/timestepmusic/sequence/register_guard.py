"""Fewer stray notes beyond the register being played (`ar.register_guard`, `ar.register_min_p`), with no training.

Why: a drawn minute spans a wider range of keys than a pianist's (mean 61.8 semitones against 60.1 on the validation
split, four sampling seeds of the twenty-eighth session's default) although the middle 98 % of its notes span about
the same (52.1 against 53.1, seed 0): the extra width is a few notes far above or below the rest. The top note of a
drawn minute lies 5 or more semitones above every other note of the 2 s around it in 33.6 % of the minutes, against
12.3 % of real ones (the bottom note below: 55.5 % against 39.5 %).
How: when a note's key is drawn, each key more than `margin` semitones above the highest key struck in the last
`window` chunks (and in the chunk so far), or as far below the lowest, has its logit lowered by `guard` per semitone
beyond; with `min_p`, such a key is drawn only where its odds are at least min_p × the likeliest key's. Only the key
is leaned: whether the event is a note, a pedal or the chunk's end keeps the network's odds, so
the density does not move. Where nothing was struck in the window, no key is leaned. A continued prompt's notes are
heard.
Measured (bench/results/register_guard_validation.md): every setting tried removes stray notes but narrows the whole
register below real, as the register of the last seconds is narrower than where a pianist goes next; the mildest
(min_p 0.05 beyond 7 semitones) leaves both classifiers level. Off by default.
Shapes: S pieces, R rows (2S with guidance), N events per chunk, T chunks kept; 88 keys.
"""
from __future__ import annotations

import math

import torch

from ..batches import SetBatch
from ..midi import NUM_KEYS


class DrawnRegister:
    """The highest and lowest key struck in each chunk of the pieces being sampled (a prompt's, then each drawn),
    kept for the window."""

    def __init__(self, pieces: int, window: int, device: torch.device):
        self.window = window
        # [S, T] each, T ≥ 1 (one silent chunk before the first: nothing heard); ∓inf where a chunk has no note
        self.highest = torch.full((pieces, 1), -torch.inf, device=device)
        self.lowest = torch.full((pieces, 1), torch.inf, device=device)

    def append(self, sets: SetBatch) -> None:
        """The next chunk's events [S, N]."""
        keys = sets.ids.to(self.highest.device).float()  # [S, N]
        is_note = (sets.mask & (sets.ids < NUM_KEYS)).to(keys.device)  # [S, N]
        high = torch.where(is_note, keys, -torch.inf).amax(1, keepdim=True)  # [S, 1]
        low = torch.where(is_note, keys, torch.inf).amin(1, keepdim=True)  # [S, 1]
        self._keep(high, low)

    def skip(self, chunks: int) -> None:
        """Chunks known only by their latents (a prompt without events): heard as silence."""
        pieces = self.highest.shape[0]
        self._keep(torch.full((pieces, chunks), -torch.inf), torch.full((pieces, chunks), torch.inf))

    def _keep(self, high: torch.Tensor, low: torch.Tensor) -> None:
        """Per-chunk bounds [S, T'] after those kept, then only the window's last chunks."""
        device = self.highest.device
        self.highest = torch.cat([self.highest, high.to(device)], 1)[:, -self.window:]
        self.lowest = torch.cat([self.lowest, low.to(device)], 1)[:, -self.window:]

    def bounds(self, last: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The highest and lowest key struck in the window before the next chunk (or in its `last` chunks): [S] each
        (-inf and +inf where none was)."""
        span = self.window if last is None else last
        return self.highest[:, -span:].amax(1), self.lowest[:, -span:].amin(1)


def register_lean(logits: torch.Tensor, highest: torch.Tensor, lowest: torch.Tensor, keys: torch.Tensor,
                  margin: float, guard: float, min_p: float = 0.0) -> torch.Tensor:
    """Note logits [R, 88], the bounds heard [R] each and the keys [1, 88] → the logits leaned [R, 88]: −guard per
    semitone beyond `margin` above the highest or below the lowest; with `min_p` > 0, a key beyond the margin whose
    odds are below min_p × the likeliest key's is never drawn (-inf). Unchanged where nothing was heard."""
    above = (keys - highest[:, None] - margin).clamp(min=0)  # [R, 88]: +inf where nothing heard
    below = (lowest[:, None] - margin - keys).clamp(min=0)  # [R, 88]
    beyond = torch.where(torch.isfinite(highest)[:, None], above + below, 0.0)  # [R, 88]: semitones beyond
    leaned = logits - guard * beyond
    if min_p > 0:
        unlikely = leaned < leaned.amax(1, keepdim=True) + math.log(min_p)  # [R, 88]
        leaned = leaned.masked_fill(unlikely & (beyond > 0), -torch.inf)
    return leaned
