"""What written pieces play of each attribute a description holds (sequence/style.py): the measure of how closely
a model follows `--style` (train/style_calibration.py, bench/style_follow.py). The notes' attributes as training
describes a passage; the pedals' shares of the piece's time as `tsm evaluate` hears them (a press running past the
piece's end counts only within it). Shapes: S pieces, E events of a piece, D attributes asked for.
"""
from __future__ import annotations

import numpy as np
import torch

from ..midi import NUM_KEYS, Events
from ..sequence.style import ATTRIBUTES
from ..sequence.style_describe import described_by_sums, event_sums
from .descriptors import describe
from .excerpts import excerpts_from_events

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


def longest_pause_s(piece: Events, seconds: float) -> float:
    """The longest time between consecutive note starts in a piece's first `seconds`, from 0 and to `seconds`
    included: what `--style pause=…` (a model trained with ar.style_pause) is measured by."""
    starts_s = np.sort(piece.start_s[(piece.ids < NUM_KEYS) & (piece.start_s < seconds)])  # [notes]
    return float(np.diff(np.concatenate([[0.0], starts_s, [seconds]])).max())


def windows_played(piece: Events, seconds: float, attributes: tuple[str, ...], window_s: float) -> np.ndarray:
    """What a piece plays of `attributes` in each whole `window_s` window of its first `seconds` [W, D], in users'
    units (as `--style` takes them: density in notes per second, the register as a MIDI note; NaN where undefined)."""
    from ..midi import window
    from ..sequence.style_request import users_value

    starts = np.arange(0.0, seconds - window_s + 1e-9, window_s)  # [W]
    if starts.size == 0:
        return np.zeros((0, len(attributes)))
    values = played([window(piece, at_s, at_s + window_s) for at_s in starts], window_s, attributes)  # [W, D]
    return np.stack([np.asarray(users_value(name, values[:, i]), dtype=np.float64)
                     for i, name in enumerate(attributes)], axis=1)


def shape_correlation(played_windows: np.ndarray, asked_windows: np.ndarray, least: int = 3) -> np.ndarray:
    """Two pieces' windows [W, D] → how each attribute rises and falls together in them: the correlation across the
    windows [D] (NaN where fewer than `least` windows hold both, or either does not vary beyond rounding)."""
    out = np.full(played_windows.shape[1], np.nan)
    for d in range(played_windows.shape[1]):
        x, y = played_windows[:, d], asked_windows[:, d]
        both = np.isfinite(x) & np.isfinite(y)
        if both.sum() >= least and all(v[both].std() > 1e-6 * max(1.0, np.abs(v[both]).mean()) for v in (x, y)):
            out[d] = np.corrcoef(x[both], y[both])[0, 1]
    return out
