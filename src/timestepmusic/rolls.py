"""Piano rolls: performances as frames of what sounds, the view the piece critic (critic.py) reads.

A roll has 179 rows per frame: each key's strike (its velocity / 127 in the frame it starts), each key sounding (1
from its start to its end) and each pedal's depth (its intensity / 127 while pressed: damper, sostenuto, soft), in
frames of FRAME_S. A performance longer than one window is read as windows of `window_s` (`window_starts_s`): from
0 every `window_s`, the last one ending where the performance does, so that every window is whole. A window holds the
events that start in it, as `tsm evaluate`'s excerpts do, so that a window cut from the middle of a performance and a
piece's first window look alike where they start.
Shapes: X windows, E events, F frames per window.
"""
from __future__ import annotations

import math

import numpy as np

from .midi import NUM_IDS, NUM_KEYS, Events

FRAME_S = 0.05
ROWS = 2 * NUM_KEYS + (NUM_IDS - NUM_KEYS)  # strikes, sounding keys, pedals


def window_starts_s(length_s: float, window_s: float) -> np.ndarray:
    """Where each window of a performance `length_s` long starts: 0, window_s, … and the last one ending at its end
    (one window at 0 for a performance no longer than a window)."""
    if length_s <= window_s:
        return np.zeros(1)
    count = math.ceil(length_s / window_s - 1e-9)
    return np.minimum(np.arange(count) * window_s, length_s - window_s)


def rolls(pieces: list[Events], starts_s: list[np.ndarray], window_s: float) -> np.ndarray:
    """Performances and the starts of the windows to read from each → rolls [X, ROWS, F] float16 (X: all windows,
    performance by performance), each of the events that start in it."""
    frames = round(window_s / FRAME_S)
    per_piece = [len(s) for s in starts_s]
    out = np.zeros((sum(per_piece), ROWS, frames + 1), dtype=np.float32)
    sounding = np.zeros((sum(per_piece), NUM_IDS, frames + 1), dtype=np.float32)  # +value at start, −value at end
    first = 0
    for piece, starts in zip(pieces, starts_s):
        for w, start_s in enumerate(starts, first):
            on_s = piece.start_s - start_s  # [E]
            off_s = on_s + piece.duration_s
            inside = (on_s >= 0) & (on_s < window_s)
            ids = piece.ids[inside].astype(np.int64)
            lo = np.minimum(np.floor(on_s[inside] / FRAME_S + 1e-9), frames - 1).astype(np.int64)  # (0.15 s: frame 3)
            hi = np.clip(np.ceil(off_s[inside] / FRAME_S - 1e-9), lo + 1, frames).astype(np.int64)
            level = piece.intensity[inside] / 127.0
            struck = ids < NUM_KEYS
            np.maximum.at(out[w], (ids[struck], lo[struck]), level[struck])
            value = np.where(struck, 1.0, level)
            np.add.at(sounding[w], (ids, lo), value)
            np.add.at(sounding[w], (ids, hi), -value)
        first += len(starts)
    out[:, NUM_KEYS:] = np.clip(np.cumsum(sounding, axis=2), 0.0, 1.0)  # [X, 91, F + 1]: keys, then pedals
    return out[:, :, :frames].astype(np.float16)
