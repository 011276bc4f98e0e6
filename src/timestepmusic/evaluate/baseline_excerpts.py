"""Real music arranged as rows beside the generated: a trivial baseline generator (shuffled real chunks of the
training split) and real excerpts of the training split (what a model that had learnt it exactly would score).

Letters: X excerpts, T chunks per excerpt, E events.
"""
from __future__ import annotations

import numpy as np

from .excerpts import EXCERPT_SECONDS, ExcerptTable, excerpts_from_corpus, gather_ranges


def shuffled_chunks(corpus, split: str, num_excerpts: int, seconds: float = EXCERPT_SECONDS,
                    seed: int = 0, flag: str | None = "--train-split") -> ExcerptTable:
    """A trivial generator: each excerpt is `seconds` of real chunks drawn at random from the split
    (capped at the corpus's max_events, as a model sees them), laid side by side in random order. `flag`: what
    chooses the split, said where it holds no track (Corpus.empty_split)."""
    track_of, within = corpus.chunk_index(split)  # [C_split]
    if track_of.size == 0:
        raise ValueError(corpus.empty_split(split, flag, " for the shuffled-chunks baseline"))
    cs = corpus.chunk_seconds
    per_excerpt = max(1, int(round(seconds / cs)))
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, track_of.size, size=(num_excerpts, per_excerpt)).reshape(-1)  # [X·T]
    chunk = np.asarray(corpus.track_chunk_ptr)[track_of[pick]] + within[pick]  # global chunk index
    ptr = np.asarray(corpus.chunk_event_ptr)
    lo = ptr[chunk]
    hi = np.minimum(ptr[chunk + 1], lo + corpus.max_events)
    events = gather_ranges(lo, hi)
    slot = np.repeat(np.arange(pick.size), hi - lo)  # [E] which (excerpt, position) slot
    offset_in_chunk = np.asarray(corpus.start_s)[events] - within[pick][slot] * cs
    start = (slot % per_excerpt) * cs + offset_in_chunk
    return ExcerptTable(slot // per_excerpt, np.asarray(corpus.ids)[events], start,
                        np.asarray(corpus.duration_s)[events], np.asarray(corpus.intensity)[events],
                        np.full(num_excerpts, per_excerpt * cs), sources=["shuffled chunks"] * num_excerpts)


def training_excerpts(corpus, split: str, num_excerpts: int, seconds: float = EXCERPT_SECONDS,
                      seed: int = 0, flag: str | None = "--train-split") -> ExcerptTable:
    """`num_excerpts` real excerpts of the training `split`, picked at random: what a model that had learnt that
    split exactly would score against another (where the splits' repertoire differs, above 0.5: ASAP's test split
    at 60 s, 0.725 / 0.815, where the default scores 0.808 / 0.903; forty-eighth session)."""
    table = excerpts_from_corpus(corpus, split, seconds)
    if table.num_excerpts == 0:
        raise ValueError(corpus.empty_split(split, flag, " for the training excerpts' row"))
    rng = np.random.default_rng(seed)
    return table.take(np.sort(rng.choice(table.num_excerpts, min(num_excerpts, table.num_excerpts), replace=False)))
