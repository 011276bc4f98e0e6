"""Helpers for ragged arrays: groups of varying size laid end to end (tracks of chunks, chunks of events).

Shapes: G groups, N = sum of the group sizes.
"""
from __future__ import annotations

import numpy as np


def positions_in_groups(counts: np.ndarray) -> np.ndarray:
    """For groups of `counts` [G] items laid end to end, each item's position within its group [N]."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)


def rows_of_groups(first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The rows first[g], first[g] + 1, … of every group g, [N] int64: e.g. all chunks of some tracks."""
    return (np.repeat(np.asarray(first, dtype=np.int64), counts) + positions_in_groups(counts)).astype(np.int64)


def group_of(counts: np.ndarray) -> np.ndarray:
    """The group index of every item [N]."""
    return np.repeat(np.arange(len(counts)), counts)
