"""The copy check against the training split: for each excerpt, the most similar chunk-aligned window of any
training track (cosine of binary onset rolls, optionally under transpositions), flagged as a near copy at
COPY_THRESHOLD. Vectorised with numpy.

Letters: X excerpts, N positions on the training chunk grid, T chunks of an excerpt.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..midi import NUM_KEYS
from .excerpts import EXCERPT_SECONDS, ExcerptTable, gather_ranges

COPY_THRESHOLD = 0.9
TRANSPOSE_SEMITONES = 5


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy 2's default hash-based unique is ~10× slower on millions of int64)."""
    values = np.sort(values)
    keep = np.ones(values.size, dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


class TrainingOnsets:
    """Binary onset rolls (88 keys × chunks) of a corpus split, laid end to end on one grid of N
    positions (each track followed by T empty positions, so no window reaches into the next track)
    and indexed by key, to find for an excerpt the most similar chunk-aligned window of any track of
    the split. Similarity = cosine of the two binary rolls (the excerpt's T chunks × 88 keys against
    the window of T chunks at each shift s). Computed as a sparse correlation: every onset of the
    excerpt (key k, column c) votes for shift p - c of every training onset (k, p), so the cost is
    the number of matching pairs, not windows × roll size — every shift is searched, not a hop grid."""

    def __init__(self, corpus, split: str, seconds: float = EXCERPT_SECONDS, flag: str | None = "--train-split"):
        self.corpus = corpus
        self.chunk_seconds = corpus.chunk_seconds
        self.columns = max(1, int(round(seconds / self.chunk_seconds)))  # T
        self.tracks = corpus.tracks_in(split)  # [S] corpus track indices
        if self.tracks.size == 0:
            raise ValueError(corpus.empty_split(split, flag, " for the copy check"))
        event_ptr, chunk_ptr = np.asarray(corpus.track_event_ptr), np.asarray(corpus.track_chunk_ptr)
        chunks = chunk_ptr[self.tracks + 1] - chunk_ptr[self.tracks]  # [S]
        self.base = np.concatenate([[0], np.cumsum(chunks + self.columns)])  # [S+1] where each track starts
        self.num_positions = int(self.base[-1])  # N
        events = gather_ranges(event_ptr[self.tracks], event_ptr[self.tracks + 1])
        rank_of_event = np.repeat(np.arange(self.tracks.size), event_ptr[self.tracks + 1] - event_ptr[self.tracks])
        ids = np.asarray(corpus.ids)[events].astype(np.int64)
        note = ids < NUM_KEYS
        column = np.floor(np.asarray(corpus.start_s)[events][note] / self.chunk_seconds + 1e-9).astype(np.int64)
        rank = rank_of_event[note]
        position = self.base[rank] + np.minimum(column, chunks[rank] - 1)
        cell = _sorted_unique(ids[note] * self.num_positions + position)  # binary roll, sorted by key then position
        self.position = cell % self.num_positions  # [cells]
        self.key_ptr = np.searchsorted(cell // self.num_positions, np.arange(NUM_KEYS + 1))  # [89]
        cum = np.concatenate([[0], np.cumsum(np.bincount(self.position, minlength=self.num_positions))])
        ends = np.minimum(np.arange(self.num_positions) + self.columns, self.num_positions)
        self.window_onsets = (cum[ends] - cum[:-1]).astype(np.float64)  # [N] onsets in the window at each shift
        self.valid = np.zeros(self.num_positions, dtype=bool)  # shifts whose window starts inside a track
        self.valid[gather_ranges(self.base[:-1], self.base[:-1] + np.maximum(chunks - self.columns + 1, 1))] = True

    def votes(self, key: np.ndarray, column: np.ndarray) -> np.ndarray:
        """Roll cells (key, column) of one excerpt, sorted by key → shared onsets with the window at
        every shift [N]. One outer difference per key present (≤ 88), no gather per onset."""
        first = np.flatnonzero(np.diff(key, prepend=-1))  # first cell of each key
        bounds = np.append(first, key.size)
        keys = key[first]
        sizes = (self.key_ptr[keys + 1] - self.key_ptr[keys]) * np.diff(bounds)  # votes per key
        ends = np.cumsum(sizes)
        shifted = np.empty(int(ends[-1]) if ends.size else 0, dtype=np.int64)  # shift + columns, never < 0
        for j, k in enumerate(keys):
            positions = self.position[self.key_ptr[k]:self.key_ptr[k + 1]]
            back = self.columns - column[bounds[j]:bounds[j + 1]]
            np.add(positions[:, None], back[None, :],
                   out=shifted[ends[j] - sizes[j]:ends[j]].reshape(positions.size, back.size))
        return np.bincount(shifted, minlength=self.num_positions + self.columns)[self.columns:]

    def nearest(self, table: ExcerptTable, transpose: bool = False) -> dict[str, np.ndarray]:
        """For each excerpt: the best cosine similarity [X], its corpus track, start in seconds and transposition."""
        x_count = table.num_excerpts
        best = np.zeros(x_count)
        where = np.zeros(x_count, dtype=np.int64)
        shift_by = np.zeros(x_count, dtype=np.int64)
        note = table.ids < NUM_KEYS
        column = np.floor(table.start_s[note] / self.chunk_seconds + 1e-9).astype(np.int64)
        inside = column < self.columns
        cells = _sorted_unique((table.excerpt[note][inside] * NUM_KEYS + table.ids[note][inside]) * self.columns
                          + column[inside])  # binary roll of every excerpt, sorted by excerpt
        cell_excerpt = cells // (NUM_KEYS * self.columns)
        bounds = np.searchsorted(cell_excerpt, np.arange(x_count + 1))
        transpositions = range(-TRANSPOSE_SEMITONES, TRANSPOSE_SEMITONES + 1) if transpose else (0,)
        for x in range(x_count):  # one excerpt at a time: its votes span every position N
            mine = cells[bounds[x]:bounds[x + 1]]
            key, col = (mine // self.columns) % NUM_KEYS, mine % self.columns
            for semitones in transpositions:
                k = key + semitones
                ok = (k >= 0) & (k < NUM_KEYS)
                if not ok.any():
                    continue
                votes = self.votes(k[ok], col[ok])  # [N]
                with np.errstate(invalid="ignore", divide="ignore"):
                    cosine = votes / np.sqrt(ok.sum() * self.window_onsets)
                cosine = np.where(self.valid & (self.window_onsets > 0), cosine, 0.0)
                s = int(np.argmax(cosine))
                if cosine[s] > best[x]:
                    best[x], where[x], shift_by[x] = cosine[s], s, semitones
        rank = np.searchsorted(self.base, where, side="right") - 1
        start_s = (where - self.base[rank]) * self.chunk_seconds
        return {"similarity": best, "track": self.tracks[rank], "start_s": start_s, "transpose": shift_by}


def copy_check(table: ExcerptTable, onsets: TrainingOnsets, threshold: float = COPY_THRESHOLD,
               transpose: bool = False) -> list[dict]:
    """Per excerpt: its nearest training window and whether it is a near copy (similarity ≥ threshold)."""
    found = onsets.nearest(table, transpose)
    tracks = [onsets.corpus.tracks[t] for t in found["track"]]
    return [{"excerpt": table.label(x), "similarity": float(found["similarity"][x]),
             "nearest": f"{t.get('composer', '')} {t.get('title', '')} ({Path(t['path']).name})".strip(),
             "nearest_path": t["path"], "nearest_start_s": float(found["start_s"][x]),
             "transpose": int(found["transpose"][x]), "flagged": bool(found["similarity"][x] >= threshold)}
            for x, t in enumerate(tracks)]
