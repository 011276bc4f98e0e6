"""Figures that come back (`ar.figure_echo`): where the steps between the last FIGURE + 1 notes struck were played
before, within the last WINDOW notes, the key that goes on as they went on then is drawn at e^E times its odds, with
no training.

Why: pianists repeat figures (an Alberti bass, an arpeggio, a motif and its answer); the drawn pieces almost never
do. Written apart from `tsm evaluate`, bench/outside_view.py finds a 3-step figure of the top line played again in a
16 s excerpt at 0.120 of its figures (median, validation) and 0.008 in the default's pieces: that descriptor alone
tells them apart at 0.73 (bench/results/outside_view_65_validation.md). The event head hears only the last 12 events
exactly (carry.RECENT), about a second of dense playing, so it cannot copy what it played three seconds ago; this lean
copies it.
How: the keys of the notes struck so far, in the order drawn (a prompt's, then each chunk's; notes struck in
one start bin by key once their chunk is drawn, as SetBatch keeps them), the last WINDOW kept per piece. Before each
note's key is drawn, the latest earlier place where the same FIGURE steps (intervals, from any key) were played names
the step after them, taken from the last key; that key's logit gets +E. Whether the event is a note keeps the
network's odds; where no figure matches, or its step leaves the keyboard, every key does.
Shapes: S pieces, R rows (guided: each piece twice), W = WINDOW keys (−1: none yet, on the left).
"""
from __future__ import annotations

import torch

from ..batches import SetBatch
from ..midi import NUM_KEYS

FIGURE = 3  # steps in a figure (the intervals between 4 notes)
WINDOW = 48  # notes kept: a figure is looked for among them


class DrawnFigures:
    """The keys of the last WINDOW notes struck in each piece being sampled, oldest first [S, W] (−1: none)."""

    def __init__(self, pieces: int, device: torch.device):
        self.keys = torch.full((pieces, WINDOW), -1, dtype=torch.long, device=device)

    def append(self, sets: SetBatch) -> None:
        """The next chunk's events [S, N], in time order: its notes' keys after those kept."""
        ids = sets.ids.to(self.keys.device).long()  # [S, N]
        is_note = sets.mask.to(ids.device) & (ids < NUM_KEYS)  # [S, N]
        both = torch.cat([self.keys, torch.where(is_note, ids, -1)], 1)  # [S, W + N]
        # the notes kept in their order, the gaps (−1) moved before them: a stable sort on whether each is a note
        order = torch.sort((both >= 0).long(), dim=1, stable=True).indices  # [S, W + N]
        self.keys = both.gather(1, order)[:, -WINDOW:]

    def skip(self, chunks: int) -> None:
        """Chunks known only by their latents (a prompt without events): heard as silence, nothing struck."""


def echoed(keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The keys struck so far [R, W] (−1: none) → the key that continues the last FIGURE steps (the intervals between
    the last FIGURE + 1 notes) as the latest earlier playing of those steps went on, from the last key [R], and whether
    there was one on the keyboard [R] (bool). The same steps from another key count: a run, an arpeggio or a
    sequence goes on as it went."""
    steps = keys[:, 1:] - keys[:, :-1]  # [R, W − 1]
    known = (keys[:, 1:] >= 0) & (keys[:, :-1] >= 0)  # [R, W − 1]: both notes struck
    last = steps[:, -FIGURE:]  # [R, F]
    windows = steps.unfold(1, FIGURE + 1, 1)  # [R, W − 1 − F, F + 1]: each earlier figure's steps and the step after
    known_windows = known.unfold(1, FIGURE + 1, 1).all(-1)  # [R, W − 1 − F]
    same = (windows[..., :FIGURE] == last[:, None, :]).all(-1) & known_windows  # [R, W − 1 − F]
    same &= known[:, -FIGURE:].all(1, keepdim=True)
    place = (same.long() * torch.arange(1, same.shape[1] + 1, device=keys.device)).argmax(1)  # [R]: the latest
    target = keys[:, -1] + windows[..., FIGURE].gather(1, place[:, None])[:, 0]  # [R]
    return target, same.any(1) & (target >= 0) & (target < NUM_KEYS)


def figure_lean(keys: torch.Tensor, strength: float, every_key: torch.Tensor) -> torch.Tensor:
    """The keys struck so far [R, W] → the lean on each key's logit [R, 88]: `strength` on the echoed key, where
    there is one; `every_key`: [1, 88], the keys' numbers."""
    target, found = echoed(keys)  # [R] each
    return ((every_key == target[:, None]) & found[:, None]).float() * strength


def struck_now(keys: torch.Tensor, key: torch.Tensor, struck: torch.Tensor) -> torch.Tensor:
    """The keys so far [R, W] and each row's event's key [R] → with it added where `struck` [R] (a note in a row
    still drawing)."""
    return torch.where(struck[:, None], torch.cat([keys[:, 1:], key[:, None]], 1), keys)
