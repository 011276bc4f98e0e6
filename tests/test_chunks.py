"""Events ⇄ chunks: offsets, the cap and its accounting, and the inverse, on hand-made and random events."""
from __future__ import annotations

import numpy as np
import pytest

from timestepmusic.chunks import capped_mask, chunk_events, count_chunks, overflow, unchunk
from timestepmusic.midi import DAMPER_ID, Events


def make(rows, end_s=0.0) -> Events:
    ids, start, duration, intensity = zip(*rows)
    return Events(np.array(ids), np.array(start), np.array(duration), np.array(intensity), end_s).sorted()


def test_offsets_are_relative_to_the_chunk_and_overflow_drops_the_latest():
    events = make([
        (40, 0.0, 0.5, 10), (41, 0.125, 0.1, 11), (39, 0.125, 0.1, 12), (42, 0.1875, 0.1, 13), (43, 0.24, 0.1, 14),
        (DAMPER_ID, 0.25, 0.6, 64),  # exactly on a boundary: belongs to chunk 1, offset 0
        (44, 0.3125, 0.2, 15),
        (45, 0.875, 0.5, 16),
    ])
    chunked = chunk_events(events, chunk_seconds=0.25, max_events=3)
    # end = 0.875 + 0.5 = 1.375 s → chunks 0..5
    assert chunked.num_chunks == 6 == count_chunks(1.375, 0.25)
    assert chunked.sizes.tolist() == [3, 2, 0, 1, 0, 0]
    assert chunked.dropped == 2
    # chunk 0 keeps its three earliest events in (start, id) order: 40 @0, then 39 and 41 @0.125
    assert chunked.ids.tolist() == [40, 39, 41, DAMPER_ID, 44, 45]
    np.testing.assert_allclose(chunked.offset_s, [0.0, 0.125, 0.125, 0.0, 0.0625, 0.125], atol=1e-12)
    np.testing.assert_allclose(chunked.duration_s, [0.5, 0.1, 0.1, 0.6, 0.2, 0.5])
    assert chunked.intensity.tolist() == [10, 12, 11, 64, 15, 16]
    assert chunked.chunk_ptr.tolist() == [0, 3, 5, 5, 6, 6, 6]


def test_the_cap_is_deterministic_whatever_the_input_order():
    rows = [(k, 0.01 * (k % 5), 0.1, 1 + k) for k in range(20)]
    a = chunk_events(make(rows), 0.25, 4)
    b = chunk_events(make(rows[::-1]), 0.25, 4)
    assert a.ids.tolist() == b.ids.tolist() == [0, 5, 10, 15]  # the four events at 0.00 s
    assert a.dropped == b.dropped == 16


def test_unchunk_inverts_chunk_events_without_overflow():
    events = make([(k % 91, 0.037 * k, 0.01 + 0.02 * k, 1 + k) for k in range(40)])
    chunked = chunk_events(events, 0.25, 15)
    assert chunked.dropped == 0
    back = unchunk(chunked)
    assert back.ids.tolist() == events.ids.tolist()
    np.testing.assert_allclose(back.start_s, events.start_s, rtol=0, atol=1e-9)
    np.testing.assert_allclose(back.duration_s, events.duration_s, rtol=0, atol=1e-9)
    assert back.intensity.tolist() == events.intensity.tolist()
    assert back.end_s >= events.end_s


def test_empty_performance_is_one_empty_chunk():
    events = Events(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    chunked = chunk_events(events, 0.25, 15)
    assert chunked.num_chunks == 1 and chunked.sizes.tolist() == [0] and chunked.dropped == 0
    assert len(unchunk(chunked)) == 0


def test_silence_at_the_end_gives_chunks():
    events = Events(np.array([40]), np.array([0.0]), np.array([0.1]), np.array([50]), end_s=2.0)
    assert chunk_events(events, 0.5, 15).num_chunks == 5  # 0–2 s, and the chunk that starts at 2.0 s


def test_capped_mask_and_overflow_agree():
    ptr = np.array([0, 0, 5, 6, 26, 26, 30])
    for cap in (1, 3, 4, 15, 30):
        mask = capped_mask(ptr, cap)
        sizes = np.diff(ptr)
        assert mask.size == 30
        assert int((~mask).sum()) == overflow(ptr, cap) == int(np.maximum(sizes - cap, 0).sum())
        kept_per_chunk = np.add.reduceat(mask.astype(int), ptr[:-1][sizes > 0])
        assert kept_per_chunk.tolist() == np.minimum(sizes, cap)[sizes > 0].tolist()


def random_events(rng, n: int, seconds: float) -> Events:
    ids = rng.integers(0, 91, n)
    start = rng.uniform(0, seconds, n)
    ties = rng.random(n) < 0.3
    start[ties] = np.round(start[ties], 1) + 0.013  # shared starts, kept clear of chunk boundaries
    return Events(ids, start, rng.uniform(0.001, 3.0, n), rng.integers(1, 128, n)).sorted()


@pytest.mark.parametrize("seed", range(20))
def test_random_chunking_properties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 400))
    events = random_events(rng, n, float(rng.uniform(0.5, 30)))
    chunk_seconds = float(rng.choice([0.1, 0.25, 0.5, 0.3]))
    max_events = int(rng.integers(1, 20))
    chunked = chunk_events(events, chunk_seconds, max_events)

    # a plain reference, event by event
    chunk_of = np.floor(events.start_s / chunk_seconds).astype(int)
    num = int(np.floor(events.end_s / chunk_seconds)) + 1
    full_sizes = np.bincount(chunk_of, minlength=num)
    rank = np.zeros(n, dtype=int)
    seen = {}
    for i, c in enumerate(chunk_of):  # events are sorted by (start, id): rank = position in the chunk
        rank[i] = seen.get(c, 0)
        seen[c] = rank[i] + 1
    keep = rank < max_events

    assert chunked.num_chunks == num
    assert chunked.sizes.tolist() == np.minimum(full_sizes, max_events).tolist()
    assert chunked.dropped == int((~keep).sum()) == overflow(np.concatenate([[0], np.cumsum(full_sizes)]), max_events)
    assert chunked.ids.tolist() == events.ids[keep].tolist()
    assert chunked.intensity.tolist() == events.intensity[keep].tolist()
    np.testing.assert_allclose(chunked.offset_s, (events.start_s - chunk_of * chunk_seconds)[keep], atol=1e-9)
    assert ((chunked.offset_s >= 0) & (chunked.offset_s < chunk_seconds)).all()
    np.testing.assert_array_equal(chunked.duration_s, events.duration_s[keep])

    back = unchunk(chunked)
    kept = events.take(np.flatnonzero(keep))
    assert back.ids.tolist() == kept.ids.tolist()
    np.testing.assert_allclose(back.start_s, kept.start_s, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(back.duration_s, kept.duration_s)
    assert back.intensity.tolist() == kept.intensity.tolist()
