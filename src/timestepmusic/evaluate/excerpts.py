"""Excerpts cut from a corpus split or from performances, in one table: the input of describe's descriptors.

An excerpt table holds X excerpts: their events concatenated and sorted by (excerpt, start_s, id), each event
tagged with its excerpt, its start in seconds from the *excerpt's* start. An excerpt holds the events that start
inside it, as the corpus's chunks do (evaluate/descriptors.py's docstring says why).

Letters: E events, X excerpts, S sources (tracks or performances).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..midi import Events

EXCERPT_SECONDS = 16.0
GRID_STEP_S = 0.05  # time grid on which polyphony and pedal coverage are sampled
EPS = 1e-9


def gather_ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenated aranges lo[i]:hi[i] (int64), without a Python loop."""
    lo = np.asarray(lo, dtype=np.int64)
    sizes = np.maximum(np.asarray(hi, dtype=np.int64) - lo, 0)
    starts = np.repeat(lo - (np.cumsum(sizes) - sizes), sizes)  # per element: lo minus its range's base
    return starts + np.arange(int(sizes.sum()), dtype=np.int64)


@dataclass
class ExcerptTable:
    """X excerpts' events, concatenated and sorted by (excerpt, start_s, id). Event arrays [E], excerpt arrays [X]."""

    excerpt: np.ndarray  # int64 [E], the excerpt each event belongs to
    ids: np.ndarray  # int16 [E], 0–90
    start_s: np.ndarray  # float64 [E], seconds from the excerpt's start, in [0, length_s)
    duration_s: np.ndarray  # float64 [E]
    intensity: np.ndarray  # uint8 [E], velocity or mean pedal depth
    length_s: np.ndarray  # float64 [X], each excerpt's length in seconds
    group: np.ndarray | None = None  # int64 [X], the track or file each excerpt comes from
    offset_s: np.ndarray | None = None  # float64 [X], where each excerpt starts in its source
    sources: list[str] = field(default_factory=list)  # a name per group

    def __post_init__(self) -> None:
        self.excerpt = np.asarray(self.excerpt, dtype=np.int64)
        self.ids = np.asarray(self.ids, dtype=np.int16)
        self.start_s = np.asarray(self.start_s, dtype=np.float64)
        self.duration_s = np.asarray(self.duration_s, dtype=np.float64)
        self.intensity = np.asarray(self.intensity, dtype=np.uint8)
        self.length_s = np.asarray(self.length_s, dtype=np.float64).reshape(-1)
        x = self.length_s.size
        self.group = np.arange(x, dtype=np.int64) if self.group is None else np.asarray(self.group, dtype=np.int64)
        self.offset_s = np.zeros(x) if self.offset_s is None else np.asarray(self.offset_s, dtype=np.float64)
        sizes = {a.size for a in (self.excerpt, self.ids, self.start_s, self.duration_s, self.intensity)}
        if len(sizes) != 1:
            raise ValueError(f"excerpt table: event arrays differ in length ({sorted(sizes)})")
        if self.group.size != x or self.offset_s.size != x:
            raise ValueError(f"excerpt table: group/offset_s need one value per excerpt ({x})")
        if self.excerpt.size and (self.excerpt.min() < 0 or self.excerpt.max() >= x):
            raise ValueError(f"excerpt table: excerpt index outside 0..{x - 1}")
        if np.any(self.length_s <= 0):
            raise ValueError("excerpt table: every excerpt needs a length > 0 s")
        if not self._is_sorted():
            order = np.lexsort((self.ids, self.start_s, self.excerpt))
            for name in ("excerpt", "ids", "start_s", "duration_s", "intensity"):
                setattr(self, name, getattr(self, name)[order])

    def _is_sorted(self) -> bool:
        """Whether events are in (excerpt, start_s, id) order already (an O(E) check; cutting keeps it)."""
        ex, start, ids = self.excerpt, self.start_s, self.ids
        later_excerpt = ex[1:] > ex[:-1]
        same_excerpt = ex[1:] == ex[:-1]
        later_start = start[1:] > start[:-1]
        same_start = start[1:] == start[:-1]
        return bool(np.all(later_excerpt | (same_excerpt & (later_start | (same_start & (ids[1:] >= ids[:-1]))))))

    @property
    def num_excerpts(self) -> int:
        return int(self.length_s.size)

    @property
    def event_ptr(self) -> np.ndarray:
        """CSR offsets [X+1]: excerpt x holds events event_ptr[x]:event_ptr[x+1]."""
        return np.searchsorted(self.excerpt, np.arange(self.num_excerpts + 1), side="left").astype(np.int64)

    def take(self, index: np.ndarray) -> "ExcerptTable":
        """The excerpts `index` (in that order), renumbered 0..len(index)-1."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        ptr = self.event_ptr
        picked = gather_ranges(ptr[index], ptr[index + 1])
        new_excerpt = np.repeat(np.arange(index.size), ptr[index + 1] - ptr[index])
        return ExcerptTable(new_excerpt, self.ids[picked], self.start_s[picked], self.duration_s[picked],
                            self.intensity[picked], self.length_s[index], self.group[index],
                            self.offset_s[index], list(self.sources))

    def events(self, x: int) -> Events:
        """Excerpt x as an Events (times from the excerpt's start)."""
        lo, hi = self.event_ptr[[x, x + 1]]
        return Events(self.ids[lo:hi], self.start_s[lo:hi], self.duration_s[lo:hi], self.intensity[lo:hi],
                      float(self.length_s[x]))

    def label(self, x: int) -> str:
        g = int(self.group[x])
        name = self.sources[g] if g < len(self.sources) else f"excerpt {x}"
        return f"{name} @ {self.offset_s[x]:.1f} s"


def window_counts(length_s: np.ndarray, seconds: float, hop_s: float) -> np.ndarray:
    """Windows per source: full windows at 0, hop, 2·hop …; a source shorter than `seconds` gives one."""
    length_s = np.asarray(length_s, dtype=np.float64)
    full = np.floor((length_s - seconds) / hop_s + EPS).astype(np.int64) + 1
    return np.maximum(full, 1)


def _cut(source_ptr: np.ndarray, ids, start_s, duration_s, intensity, length_s: np.ndarray, seconds: float,
         hop_s: float, sources: list[str], max_excerpts: int | None) -> ExcerptTable:
    """Sources (events start-sorted within each; source s holds source_ptr[s]:[s+1]) → windows of `seconds`."""
    if seconds <= 0 or hop_s <= 0:
        raise ValueError(f"excerpt seconds and hop must be > 0, got {seconds} and {hop_s}")
    num_sources = length_s.size
    count = window_counts(length_s, seconds, hop_s)  # [S]
    source_of = np.repeat(np.arange(num_sources), count)  # [X]
    offset = (np.arange(source_of.size) - np.repeat(np.cumsum(count) - count, count)) * hop_s  # [X]
    if max_excerpts is not None and source_of.size > max_excerpts:
        keep = np.unique(np.linspace(0, source_of.size - 1, max_excerpts).round().astype(np.int64))
        source_of, offset = source_of[keep], offset[keep]
    # one sorted key over all sources: source rank × span + start (span exceeds any time in a source)
    span = float(np.ceil(max(float(length_s.max(initial=0.0)), float(np.max(start_s, initial=0.0))) + seconds + 1.0))
    key = np.repeat(np.arange(num_sources) * span, np.diff(source_ptr)) + start_s  # [E_sources]
    lo = np.searchsorted(key, source_of * span + offset, side="left")
    hi = np.searchsorted(key, source_of * span + offset + seconds, side="left")
    picked = gather_ranges(lo, hi)
    excerpt = np.repeat(np.arange(source_of.size), hi - lo)
    return ExcerptTable(excerpt, ids[picked], start_s[picked] - offset[excerpt], duration_s[picked],
                        intensity[picked], np.full(source_of.size, float(seconds)), source_of, offset, sources)


def excerpts_from_corpus(corpus, split: str | None, seconds: float = EXCERPT_SECONDS, hop: float | None = None,
                         max_excerpts: int | None = None) -> ExcerptTable:
    """Every track of a corpus split cut into consecutive `seconds` excerpts (every `hop` s, default
    `seconds`); a track shorter than `seconds` gives one excerpt. `max_excerpts` keeps that many,
    evenly spaced over the split. Groups are the corpus's track indices."""
    tracks = corpus.tracks_in(split)
    if tracks.size == 0:
        raise ValueError(corpus.empty_split(split))
    event_ptr = np.asarray(corpus.track_event_ptr)
    picked = gather_ranges(event_ptr[tracks], event_ptr[tracks + 1])  # the split's events, track by track
    local_ptr = np.concatenate([[0], np.cumsum(event_ptr[tracks + 1] - event_ptr[tracks])])
    length_s = np.array([corpus.tracks[t]["duration_s"] for t in tracks], dtype=np.float64)
    table = _cut(local_ptr, np.asarray(corpus.ids)[picked], np.asarray(corpus.start_s)[picked],
                 np.asarray(corpus.duration_s)[picked].astype(np.float64), np.asarray(corpus.intensity)[picked],
                 length_s, seconds, hop or seconds, [], max_excerpts)
    table.group = tracks[table.group]  # local source rank → corpus track index
    table.sources = [f"{t.get('composer', '')} {t.get('title', '')}".strip() or t["path"] for t in corpus.tracks]
    return table


def excerpts_from_events(performances: list[Events], seconds: float | None = None,
                         names: list[str] | None = None) -> ExcerptTable:
    """Performances → excerpts. seconds=None: one excerpt per performance, as long as it (`end_s`).
    Otherwise consecutive `seconds` excerpts; a performance shorter than `seconds` (a 16 s sample
    whose last note ends at 15.2 s) gives one excerpt of `seconds`, silent at the end."""
    if not performances:
        raise ValueError("excerpts_from_events: no performances given")
    sorted_perfs = [p.sorted() for p in performances]
    last_onset = np.array([float(p.start_s.max(initial=0.0)) + EPS for p in sorted_perfs])
    # cut by onsets: a 16 s sample whose last notes ring on past 16 s is still one 16 s excerpt
    ends = last_onset if seconds is not None else np.array([max(p.end_s, t) for p, t in zip(sorted_perfs, last_onset)])
    names = names or [f"performance {i}" for i in range(len(performances))]
    ptr = np.concatenate([[0], np.cumsum([len(p) for p in sorted_perfs])]).astype(np.int64)
    arrays = [np.concatenate([getattr(p, a) for p in sorted_perfs]) for a in ("ids", "start_s", "duration_s", "intensity")]
    if seconds is None:
        excerpt = np.repeat(np.arange(len(sorted_perfs)), np.diff(ptr))
        return ExcerptTable(excerpt, *arrays, np.maximum(ends, GRID_STEP_S), np.arange(len(sorted_perfs)),
                            np.zeros(len(sorted_perfs)), list(names))
    return _cut(ptr, *arrays, ends, float(seconds), float(seconds), list(names), None)


def excerpts_of_length(performances: list[Events], length_s: np.ndarray, seconds: float) -> ExcerptTable:
    """Performances cut into consecutive `seconds` excerpts up to the given lengths [S]: two versions of the
    same tracks (an original and its reconstruction) get the same cuts, excerpt for excerpt."""
    sorted_perfs = [p.sorted() for p in performances]
    ptr = np.concatenate([[0], np.cumsum([len(p) for p in sorted_perfs])]).astype(np.int64)
    arrays = [np.concatenate([getattr(p, a) for p in sorted_perfs]) for a in ("ids", "start_s", "duration_s", "intensity")]
    return _cut(ptr, *arrays, np.asarray(length_s, dtype=np.float64), float(seconds), float(seconds),
                [f"performance {i}" for i in range(len(performances))], None)
