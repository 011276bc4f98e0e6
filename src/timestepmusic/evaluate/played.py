"""What written pieces play of each attribute a description holds (sequence/style.py): the measure of how closely
a model follows `--style` (train/style_calibration.py, bench/style_follow.py). The notes' attributes as training
describes a passage; the pedals' shares of the piece's time as `tsm evaluate` hears them (a press running past the
piece's end counts only within it). Shapes: S pieces, E events of a piece, D attributes asked for.
"""
from __future__ import annotations

import numpy as np
import torch

from ..midi import Events
from ..sequence.style import ATTRIBUTES, described_by_sums, event_sums
from .descriptors import describe, excerpts_from_events

PEDAL_SHARES = {"damper": "damper_fraction", "half_pedal": "half_pedal_share", "soft": "soft_fraction"}


def played(pieces: list[Events], seconds: float, attributes: tuple[str, ...]) -> np.ndarray:
    """Written pieces of `seconds` → what each one plays of `attributes` (of ATTRIBUTES) [S, D], as descriptions
    hold them (the register as a key id, density as ln(1 + notes/s); NaN where undefined: no notes, no damper)."""
    if not pieces:
        return np.zeros((0, len(attributes)))
    rows = []
    for piece in pieces:
        ids = torch.from_numpy(piece.ids.astype(np.int64))
        sums = event_sums(ids, torch.from_numpy(piece.intensity.astype(np.float64)),
                          torch.from_numpy(piece.duration_s), torch.zeros_like(ids))  # [E, SUMS]
        rows.append(described_by_sums(sums.sum(0, keepdim=True), torch.tensor([seconds], dtype=torch.float64))[0])
    described = torch.stack(rows).numpy()  # [S, 8]
    heard = describe(excerpts_from_events(pieces, seconds))
    for name, descriptor in PEDAL_SHARES.items():
        described[:, ATTRIBUTES.index(name)] = heard[descriptor]
    return np.stack([described[:, ATTRIBUTES.index(name)] for name in attributes], axis=1)  # [S, D]
