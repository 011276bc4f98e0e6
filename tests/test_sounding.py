"""Notes not struck on a key still sounding (ar.restrike_guard, sequence/sounding.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from test_clusters import chord_head
from timestepmusic.batches import SetBatch
from timestepmusic.config import Config
from timestepmusic.generation import GANModel, set_sampling
from timestepmusic.midi import NUM_KEYS
from timestepmusic.piece_events import sampled_events
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.sounding import DrawnSounding


def sounding_until(rows: int, keys: list[int], seconds: float) -> torch.Tensor:
    """[rows, 88]: `keys` sound until `seconds` after the chunk's start, no other key."""
    until = torch.full((rows, NUM_KEYS), -torch.inf, dtype=torch.float64)
    until[:, keys] = seconds
    return until


def test_the_end_of_each_keys_latest_note_is_kept_on_the_pieces_clock():
    sounding = DrawnSounding(2, 0.25, torch.device("cpu"))
    chunk = SetBatch(torch.tensor([[40, 88, 40], [50, 0, 0]]), torch.tensor([[0.0, 0.01, 0.1], [0.2, 0, 0]]),
                     torch.tensor([[1.0, 5.0, 0.05], [0.5, 0, 0]]), torch.tensor([[64, 64, 64], [64, 1, 1]]),
                     torch.tensor([3, 1]))
    sounding.append(chunk)  # key 40 until 1 s (its later, shorter note ends sooner); the pedal is no key
    before = sounding.before()  # from the next chunk's start, 0.25 s
    assert before[0, 40].item() == pytest.approx(0.75) and before[1, 50].item() == pytest.approx(0.45)
    assert torch.isinf(before[0, 88 - 1]) and torch.isinf(before[1, 40])
    sounding.skip(4)  # a second of a prompt known only by its latents
    assert sounding.before()[0, 40].item() == pytest.approx(-0.25)  # free by then


def test_with_the_guard_no_note_starts_on_a_key_still_sounding():
    head, rows = chord_head(3), 400
    features = torch.randn(rows, 8, generator=torch.Generator().manual_seed(0))
    until = sounding_until(rows, [42], 0.1)

    def restruck(drawn) -> tuple[int, int]:
        """Notes struck on key 42 before 0.1 s, and notes drawn."""
        valid = torch.arange(drawn.ids.shape[1]) < drawn.sizes[:, None]
        notes = valid & (drawn.ids < NUM_KEYS)
        return int((notes & (drawn.ids == 42) & (drawn.offset_s < 0.1)).sum()), int(notes.sum())
    plain = EventSampler(head).sample(features, torch.Generator().manual_seed(0))
    guarded = EventSampler(head).sample(features, torch.Generator().manual_seed(0), sounding=until,
                                        restrike_guard=30.0)
    held, notes = restruck(plain)
    assert held > 100  # the head strikes 42 early and often: the test can fail
    held_g, notes_g = restruck(guarded)
    assert held_g == 0 and notes_g > 0.95 * notes  # the notes drawn again elsewhere, not dropped


def test_a_note_drawn_again_sounds_on_in_the_chunk():
    """A note the chunk draws keeps its key sounding for the chunk's later notes."""
    head, rows = chord_head(3), 300
    features = torch.randn(rows, 8, generator=torch.Generator().manual_seed(1))
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(2),
                                      sounding=torch.full((rows, NUM_KEYS), -torch.inf, dtype=torch.float64),
                                      restrike_guard=30.0)
    for row in range(rows):
        size = int(drawn.sizes[row])
        ids, start, end = (x[row, :size].numpy() for x in (drawn.ids, drawn.offset_s,
                                                              drawn.offset_s + drawn.duration_s))
        for i in range(size):
            later = (ids[i + 1:] == ids[i]) & (ids[i] < NUM_KEYS)
            assert (start[i + 1:][later] >= end[i] - 1e-9).all()


@pytest.mark.parametrize("guidance", [1.0, 6.0])
def test_the_guard_weighs_the_notes_on_a_sounding_key_exactly(guidance):
    # keys 40 and 41 sound until 0.1 s: a first note on them before then is drawn at e^−1.5 of its odds, every other
    # note more often in proportion (a redraw among the free notes alone would give q·w, here 0.09 against 0.18)
    head, rows = chord_head(4, near_join=True), 20000
    g = torch.Generator().manual_seed(0)
    told, untold = torch.randn(1, 8, generator=g) * 2, torch.randn(1, 8, generator=g) * 2
    features = told.expand(rows, 8) if guidance == 1.0 else torch.cat([told.expand(rows, 8), untold.expand(rows, 8)])

    def first(strength: float) -> tuple[np.ndarray, np.ndarray, float]:
        drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(1), guidance=guidance,
                                          sounding=sounding_until(rows, [40, 41], 0.1), restrike_guard=strength)
        note = (drawn.sizes > 0) & (drawn.ids[:, 0] < NUM_KEYS)
        key, start_s = drawn.ids[note, 0].numpy(), drawn.offset_s[note, 0].numpy()
        return ((key == 40) | (key == 41)) & (start_s < 0.1), key, float(note.float().mean())
    held, key, notes = first(0.0)
    q = held.mean()
    assert 0.2 < q < 0.8  # both outcomes seen
    w = math.exp(-1.5)
    held_g, key_g, notes_g = first(1.5)
    assert abs(notes_g - notes) < 0.015  # a note as often: the kind choice is the network's
    assert abs(held_g.mean() - q * w / (q * w + 1 - q)) < 0.01
    for k in (42, 43, 44):  # the other keys' shares among the free notes: as drawn
        assert abs((key_g[~held_g] == k).mean() - (key[~held] == k).mean()) < 0.02


def test_the_guard_is_a_checked_sampling_setting():
    assert Config().override(["ar.restrike_guard=2.5"]).ar.restrike_guard == 2.5
    for bad in ("-1", "inf", "nan"):
        with pytest.raises(ValueError, match="ar.restrike_guard"):
            Config().override([f"ar.restrike_guard={bad}"])
    with pytest.raises(ValueError, match="sounding"):
        EventSampler(chord_head(3)).sample(torch.zeros(1, 8), torch.Generator().manual_seed(0), restrike_guard=1.0)


def test_the_default_with_the_guard_writes_no_note_cut_short_by_its_keys_next():
    gan = GANModel.load("default")
    set_sampling(gan, ["ar.restrike_guard=30"])
    pieces = gan.sample_latents(2, 16.0, 3)
    for events in sampled_events(gan.arm, gan.ae, pieces):
        notes = events.ids < NUM_KEYS
        ids, start, end = events.ids[notes], events.start_s[notes], (events.start_s + events.duration_s)[notes]
        for k in np.unique(ids):
            order = np.argsort(start[ids == k], kind="stable")
            s, e = start[ids == k][order], end[ids == k][order]
            assert (s[1:] >= e[:-1] - 1e-9).all()  # each note over before its key's next starts
