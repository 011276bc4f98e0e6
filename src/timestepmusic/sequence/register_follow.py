"""`ar.register_follow` and `ar.density_follow` (sampling only; a drawn piece walking a real performance's path,
`ar.style_path`): each chunk is told its register and spread, or its density, moved against what the piece has
played in the last 16 s, so that a piece that drifts from what it was told (higher, lower, narrower, wider, denser,
sparser) is told to come back.

Why: a drawn piece follows its told spread (the notes' standard deviation of pitch) only loosely: over 16 s the
default's pieces play 0.96 semitones narrower than told on average, ±2.48 about it, and their density ±3.3 notes a
second about what they were told (bench/told_follow.py, bench/results/told_follow_60_16s.md). Told the difference,
the network plays against it, as it learnt to follow a description that changes chunk by chunk in training: at
gain 1 the spread is played −0.08 ± 1.95 from what was told. Neither classifier of `tsm evaluate` found the pieces
more real for it (bench/results/register_follow_60_validation.md): both settings are off in the default.

Told at chunk t: told + gain × w × (asked − played), where played is what the AHEAD chunks before t play and asked
what the path told them (its description at the first of them, which covers them: an attribute the path moves is
compared with what was asked of the same chunks, not with the passage ahead, so that a piece that plays its path as
told is told it as drawn where the path rises or falls): for the register (the notes' mean key) and the spread,
w = n / (n + FOLLOW_NOTES) over their n notes (a few notes move it little; none, not at all); for the density (held
as ln(1 + notes per second)), w = c / (c + FOLLOW_CHUNKS) over the c chunks heard. Held within what training
descriptions span. Shapes: S pieces, N events of a chunk, T chunks kept, D attributes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..batches import SetBatch
from ..midi import NUM_KEYS
from .style import ATTRIBUTES
from .style_describe import SUMS, described_by_sums

FOLLOW_NOTES = 16  # notes heard at which what they play moves the told register and spread by half the gain
FOLLOW_CHUNKS = 16  # chunks heard (4 s) at which what they play moves the told density by half the gain
FOLLOWED = ("register", "spread", "density")  # the attributes a piece may be told to come back to


@dataclass(frozen=True)
class Played:
    """What the pieces being sampled played in the chunks kept, as descriptions hold it: [S] each."""

    notes: torch.Tensor  # how many notes
    chunks: int  # over how many chunks
    register: torch.Tensor  # their keys' mean (NaN without notes)
    spread: torch.Tensor  # their keys' standard deviation (NaN without notes)
    density: torch.Tensor  # ln(1 + notes per second)


class DrawnKeySums:
    """Each chunk's notes of the pieces being sampled, summed: their count, their keys' sum and the sum of their
    squares [S, T, 3] (the first three of style_describe.event_sums), kept for the last `window` chunks."""

    def __init__(self, pieces: int, window: int, device: torch.device):
        self.window = window
        self.sums = torch.zeros(pieces, 0, 3, dtype=torch.float64, device=device)  # [S, T, 3]

    def append(self, sets: SetBatch) -> None:
        """The next chunk's events [S, N]."""
        keys = sets.ids.to(self.sums.device).double()  # [S, N]
        is_note = (sets.mask & (sets.ids < NUM_KEYS)).to(keys.device).double()  # [S, N]
        chunk = torch.stack([is_note.sum(1), (keys * is_note).sum(1), (keys ** 2 * is_note).sum(1)], dim=1)  # [S, 3]
        self.sums = torch.cat([self.sums, chunk[:, None]], dim=1)[:, -self.window:]

    def played(self, chunk_seconds: float) -> Played:
        """What the notes kept play, as a passage's description holds it (style_describe.described_by_sums: the notes' part of
        its sums, over the seconds kept)."""
        kept = self.sums.sum(1)  # [S, 3]
        sums = torch.cat([kept, kept.new_zeros(kept.shape[0], SUMS - kept.shape[1])], dim=1)  # [S, SUMS]
        chunks = self.sums.shape[1]
        described = described_by_sums(sums, kept.new_full((kept.shape[0],), chunks * chunk_seconds))  # [S, 8]
        return Played(kept[:, 0], chunks, *(described[:, ATTRIBUTES.index(name)] for name in FOLLOWED))


def followed(told: torch.Tensor, asked: torch.Tensor, played: Played, columns: dict[str, int],
             gains: dict[str, float], low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Each piece's description told at the next chunk [S, D], what its path asked of its last chunks [S, D] and what
    they played, the column of each attribute of FOLLOWED and the gain it is followed at → the description told
    instead [S, D]: each moved by gain × w × (asked − played) (w: the module's), kept within [low, high] (each [D]);
    the rest as told. A piece that has played nothing to measure an attribute by is told it as before."""
    out = told.clone()
    asked = asked.to(told)
    for name, gain in gains.items():
        if gain == 0:
            continue
        heard = getattr(played, name).to(told)  # [S]
        if name == "density":
            weight = torch.full_like(heard, played.chunks / (played.chunks + FOLLOW_CHUNKS))
        else:
            weight = (played.notes / (played.notes + FOLLOW_NOTES)).to(told)  # [S]
        column = columns[name]
        moved = told[:, column] + gain * weight * (asked[:, column] - heard)  # [S]
        moved = moved.clamp(float(low[column]), float(high[column]))
        out[:, column] = torch.where(torch.isfinite(heard), moved, told[:, column])
    return out
