"""Batch gathering against the plain reference: chunk_events on each track's (augmented) events."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from timestepmusic.batches import ChunkGatherer, SetBatch, batch_generator, epoch_order
from timestepmusic.chunks import Chunked, chunk_events
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.midi import NUM_KEYS, Events
from timestepmusic.prepare_corpus import prepare
from timestepmusic.stage_configs import AugmentConfig

from midi_factory import CC, Note, write_midi

MAX_EVENTS = 4


def dense_piece(seed: int):
    """About 12 s of chords and runs at 480 ticks per quarter (1/960 s a tick), edge keys included, all pedals."""
    rng = np.random.default_rng(seed)
    notes, tick = [], 0
    while tick < 11_000:
        chord = rng.choice(np.r_[21:27, 40:80, 103:109], size=int(rng.integers(1, 7)), replace=False)
        for pitch in chord:
            notes.append(Note(int(pitch), tick, tick + int(rng.integers(20, 900)), int(rng.integers(1, 128))))
        tick += int(rng.integers(10, 300))
    controls = []
    for number in (64, 66, 67):
        t = int(rng.integers(0, 500))
        while t < 11_000:
            controls.append(CC(number, int(rng.integers(0, 128)), t))
            t += int(rng.integers(5, 400))
    return notes, controls


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    root = tmp_path_factory.mktemp("batches")
    for k in range(4):
        write_midi(root / "music" / f"piece{k}" / "take.mid", *dense_piece(k))
    config = Config().override({"corpus.workers": 1, "chunks.max_events": MAX_EVENTS, "events.pedal_bins": 0})
    return prepare([root / "music"], root / "corpus", config, progress=False).corpus


def transformed(events: Events, stretch: float, shift: int) -> Events:
    """The reference augmentation: keys moved by `shift` (those off the keyboard dropped), times × stretch."""
    ids = events.ids.astype(np.int64)
    key = ids < NUM_KEYS
    moved = np.where(key, ids + shift, ids)
    keep = ~key | ((moved >= 0) & (moved < NUM_KEYS))
    return Events(moved[keep], events.start_s[keep] * stretch, events.duration_s[keep] * stretch,
                  events.intensity[keep], events.end_s * stretch).sorted()


def padded(chunked: Chunked, chunks: np.ndarray, n: int):
    """Rows `chunks` of a Chunked as [B, N] arrays (zeros past each size) and sizes [B]."""
    sizes = chunked.sizes[chunks]
    index = chunked.chunk_ptr[chunks][:, None] + np.arange(n)  # [B, N]
    valid = np.arange(n) < sizes[:, None]
    index = np.where(valid, index, 0)
    take = lambda a: np.where(valid, a[index] if a.size else 0, 0)  # noqa: E731
    return take(chunked.ids), take(chunked.offset_s), take(chunked.duration_s), take(chunked.intensity), sizes


def assert_rows_equal(batch: SetBatch, rows: slice | np.ndarray, expected) -> None:
    ids, offset, duration, intensity, sizes = expected
    np.testing.assert_array_equal(batch.sizes[rows].numpy(), sizes)
    mask = batch.mask[rows].numpy()
    np.testing.assert_array_equal(batch.ids[rows].numpy()[mask], ids[mask])
    np.testing.assert_array_equal(batch.intensity[rows].numpy()[mask], intensity[mask])
    np.testing.assert_allclose(batch.offset_s[rows].numpy()[mask], offset[mask], rtol=0, atol=1e-12)
    np.testing.assert_allclose(batch.duration_s[rows].numpy()[mask], duration[mask], rtol=1e-12)


def test_the_tiny_corpus_exercises_the_cap(corpus):
    assert corpus.num_tracks == 4
    assert sum(t["overflow"] for t in corpus.tracks) > 50
    ids = np.asarray(corpus.ids)
    assert (ids < 5).any() and ((ids >= NUM_KEYS - 5) & (ids < NUM_KEYS)).any()  # keys that transposing drops


def test_gather_without_augmentation_is_chunk_events(corpus):
    gatherer = ChunkGatherer(corpus)
    track_of, within = corpus.chunk_index(None)
    batch = gatherer.gather(torch.from_numpy(track_of), torch.from_numpy(within))
    assert batch.ids.shape == (track_of.size, MAX_EVENTS)
    assert batch.ids.dtype == torch.long and batch.offset_s.dtype == torch.float64
    for t in range(corpus.num_tracks):
        expected = chunk_events(corpus.track_events(t), corpus.chunk_seconds, MAX_EVENTS)
        rows = np.flatnonzero(track_of == t)
        assert expected.num_chunks == rows.size
        assert_rows_equal(batch, rows, padded(expected, within[rows], MAX_EVENTS))
    # padding is neutral
    assert (batch.ids[~batch.mask] == 0).all() and (batch.intensity[~batch.mask] == 1).all()


def test_gather_of_one_split_and_another_cap(corpus):
    gatherer = ChunkGatherer(corpus, max_events=2)
    track_of, within = corpus.chunk_index(corpus.tracks[2]["split"])
    order = torch.randperm(track_of.size, generator=torch.Generator().manual_seed(0))[:50].numpy()
    batch = gatherer.gather(torch.from_numpy(track_of[order]), torch.from_numpy(within[order]))
    for row, (t, k) in enumerate(zip(track_of[order], within[order])):
        expected = chunk_events(corpus.track_events(int(t)), corpus.chunk_seconds, 2)
        assert_rows_equal(batch, np.array([row]), padded(expected, np.array([k]), 2))


@pytest.mark.parametrize("stretch, shift", [(1.0, 5), (1.0, -5), (1.0731, 0), (0.9123, 3), (1.0999, -4)])
def test_gather_with_one_augmentation(corpus, stretch, shift):
    gatherer = ChunkGatherer(corpus)
    for t in range(corpus.num_tracks):
        expected = chunk_events(transformed(corpus.track_events(t), stretch, shift), corpus.chunk_seconds, MAX_EVENTS)
        k = np.arange(expected.num_chunks)
        batch = gatherer.gather(torch.full((k.size,), t), torch.from_numpy(k),
                                torch.full((k.size,), stretch, dtype=torch.float64), torch.full((k.size,), shift))
        assert_rows_equal(batch, slice(None), padded(expected, k, MAX_EVENTS))


def test_gather_with_an_augmentation_per_row(corpus):
    gatherer = ChunkGatherer(corpus)
    rng = np.random.default_rng(5)
    b = 400
    track = rng.integers(0, corpus.num_tracks, b)
    stretch = 1 / (1 + rng.uniform(-0.1, 0.1, b))
    shift = rng.integers(-5, 6, b)
    refs = [chunk_events(transformed(corpus.track_events(int(t)), float(r), int(s)), corpus.chunk_seconds, MAX_EVENTS)
            for t, r, s in zip(track, stretch, shift)]
    chunk = np.array([rng.integers(0, ref.num_chunks) for ref in refs])
    batch = gatherer.gather(torch.from_numpy(track), torch.from_numpy(chunk), torch.from_numpy(stretch),
                            torch.from_numpy(shift))
    for row, ref in enumerate(refs):
        assert_rows_equal(batch, np.array([row]), padded(ref, chunk[row:row + 1], MAX_EVENTS))


def test_random_augmentation_is_reproducible_and_in_range(corpus):
    gatherer = ChunkGatherer(corpus)
    augment = AugmentConfig(transpose_semitones=5, tempo_range=0.1)
    a = gatherer.random_augmentation(1000, augment, batch_generator(3, 1, 7))
    b = gatherer.random_augmentation(1000, augment, batch_generator(3, 1, 7))
    c = gatherer.random_augmentation(1000, augment, batch_generator(3, 1, 8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    stretch, shift = a
    assert ((stretch >= 1 / 1.1 - 1e-12) & (stretch <= 1 / 0.9 + 1e-12)).all()
    assert set(shift.tolist()) == set(range(-5, 6))
    still = AugmentConfig(transpose_semitones=0, tempo_range=0.0)
    off = gatherer.random_augmentation(50, still, batch_generator(0, 0, 0))
    assert (off[0] == 1).all() and (off[1] == 0).all()


def test_epoch_order_is_a_reproducible_permutation():
    a, b = epoch_order(500, seed=1, epoch=2), epoch_order(500, seed=1, epoch=2)
    assert torch.equal(a, b)
    assert sorted(a.tolist()) == list(range(500))
    assert not torch.equal(a, epoch_order(500, seed=1, epoch=3))
    assert not torch.equal(a, epoch_order(500, seed=2, epoch=2))
    g1, g2 = batch_generator(1, 2, 3), batch_generator(1, 2, 3)
    assert torch.equal(torch.rand(10, generator=g1), torch.rand(10, generator=g2))


def test_set_batch_mask_and_move(corpus):
    gatherer = ChunkGatherer(corpus)
    batch = gatherer.gather(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2]))
    assert batch.mask.shape == (3, MAX_EVENTS)
    assert batch.mask.sum(1).tolist() == batch.sizes.tolist()
    moved = batch.to("cpu")
    assert all(torch.equal(getattr(moved, f), getattr(batch, f))
               for f in ("ids", "offset_s", "duration_s", "intensity", "sizes"))
