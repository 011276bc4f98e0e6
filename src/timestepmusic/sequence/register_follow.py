"""`ar.register_follow` (sampling only; a drawn piece walking a real performance's path, `ar.style_path`): each chunk
is told its register and spread moved against what the piece has played in the last 16 s, so that a piece that
drifts from the register it was told, or plays it narrower or wider, is told to come back.

Why: a drawn piece follows its told spread (the notes' standard deviation of pitch) only loosely. Over 16 s the
default's pieces play 1.3 semitones narrower than told on average, with a spread of ±2.6 about it, so that their
pitch range spreads 1.6 times as widely over the pieces as a pianist's: some held in one narrow register, some
scattered over the keyboard (docs/quality.md, sixtieth session). Told the difference, the network plays against it,
as it learnt to follow a description that changes chunk by chunk in training.

Told at chunk t: told + gain × w × (told − played), for the register (the notes' mean key) and the spread, where
played is what the notes struck in the AHEAD chunks before t play and w = n / (n + FOLLOW_NOTES) over their n notes
(a few notes move it little); held within what training descriptions span. Shapes: S pieces, N events of a chunk,
T chunks kept, D attributes.
"""
from __future__ import annotations

import torch

from ..batches import SetBatch
from ..midi import NUM_KEYS

FOLLOW_NOTES = 16  # notes heard at which what they play moves the told register and spread by half the gain


class DrawnKeySums:
    """Each chunk's notes of the pieces being sampled, summed: their count, their keys' sum and the sum of their
    squares [S, T, 3], kept for the last `window` chunks."""

    def __init__(self, pieces: int, window: int, device: torch.device):
        self.window = window
        self.sums = torch.zeros(pieces, 0, 3, dtype=torch.float64, device=device)  # [S, T, 3]

    def append(self, sets: SetBatch) -> None:
        """The next chunk's events [S, N]."""
        keys = sets.ids.to(self.sums.device).double()  # [S, N]
        is_note = (sets.mask & (sets.ids < NUM_KEYS)).to(keys.device).double()  # [S, N]
        chunk = torch.stack([is_note.sum(1), (keys * is_note).sum(1), (keys ** 2 * is_note).sum(1)], dim=1)  # [S, 3]
        self.sums = torch.cat([self.sums, chunk[:, None]], dim=1)[:, -self.window:]

    def skip(self, chunks: int) -> None:
        """Chunks known only by their latents (a prompt without events): heard as silence."""
        silent = torch.zeros(self.sums.shape[0], chunks, 3, dtype=self.sums.dtype, device=self.sums.device)
        self.sums = torch.cat([self.sums, silent], dim=1)[:, -self.window:]

    def played(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The notes kept: their count, their keys' mean and standard deviation [S] each (NaN without notes)."""
        notes, keys, squares = self.sums.sum(1).unbind(1)  # [S] each
        mean = keys / notes
        return notes, mean, (squares / notes - mean ** 2).clamp(min=0).sqrt()


def followed(told: torch.Tensor, played: tuple[torch.Tensor, torch.Tensor, torch.Tensor], columns: tuple[int, int],
             low: torch.Tensor, high: torch.Tensor, gain: float) -> torch.Tensor:
    """Each piece's description told at the next chunk [S, D], what its last notes played (`DrawnKeySums.played`)
    and the columns of the register and the spread → the description told instead [S, D]: those two moved by
    gain × w × (told − played), w = n / (n + FOLLOW_NOTES), kept within [low, high] (each [D]); the rest as told.
    A piece with no note heard is told as before."""
    notes, mean, spread = played
    weight = (notes / (notes + FOLLOW_NOTES)).to(told)  # [S]
    out = told.clone()
    for column, heard in zip(columns, (mean, spread)):
        heard = heard.to(told)  # [S]
        moved = told[:, column] + gain * weight * (told[:, column] - heard)  # [S]
        moved = moved.clamp(float(low[column]), float(high[column]))
        out[:, column] = torch.where(torch.isfinite(heard) & (notes > 0).to(told.device), moved, told[:, column])
    return out
