"""Checks that a model and a corpus belong together."""
from __future__ import annotations

from pathlib import Path

from .config import Config
from .corpus import Corpus


def check_corpus_matches(meta: dict, corpus: Corpus, what: str) -> None:
    """A model trained on one chunking cannot be used with a corpus chunked differently."""
    saved = Config.from_dict(meta["config"])
    for key in ("chunk_seconds", "max_events"):
        mine, theirs = getattr(saved.chunks, key), getattr(corpus.config.chunks, key)
        if mine != theirs:
            raise ValueError(f"{what} was trained with chunks.{key}={mine} but the corpus in {corpus.root} has {theirs}; "
                             f"prepare the corpus with the same setting or train a new model")
    if saved.events.pedal_bins != corpus.config.events.pedal_bins:
        raise ValueError(f"{what} was trained with events.pedal_bins={saved.events.pedal_bins} but the corpus "
                         f"in {corpus.root} has {corpus.config.events.pedal_bins}")


def check_resumed_corpus(meta: dict, corpus: Corpus, run: str | Path) -> None:
    """A resumed run goes on with a corpus that holds what it was trained on (the same files' contents, splits and
    settings: Corpus.content_key, wherever and from whichever path it was prepared), so that its batches,
    validation and best checkpoint keep meaning the same; a run saved before the content was recorded is not
    checked."""
    saved = meta.get("corpus", {})
    if saved.get("content") not in (None, corpus.content_key):
        raise ValueError(f"{corpus.root}: run {run} was trained on another corpus ({saved.get('root')}: other "
                         "files, splits or settings); resume it with that one, or start a new run")
