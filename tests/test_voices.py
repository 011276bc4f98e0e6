"""The voices the key choices hear (ar.voices, sequence/voices.py)."""
from __future__ import annotations

import pytest
import torch

from test_intervals import random_carry
from timestepmusic.batches import SetBatch
from timestepmusic.sequence.event_head import EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.voices import REACH, SIGNS, VoiceLean, latest_voices, signs_on, voice_keys

from conftest import held_out_nll, timed_carry


def test_the_voices_are_the_latest_onsets_highest_and_lowest_keys_and_the_top_before():
    # a chord at −0.5 s (one of its notes 10 ms late), a note at −0.2 s, then in the chunk two notes 10 ms apart
    # (one onset) and a pedal, and a note at 0.2 s
    time_s = torch.tensor([[-0.5, -0.49, -0.5, -0.2, 0.01, 0.02, -torch.inf, 0.2]], dtype=torch.float64)
    key = torch.tensor([[39, 43, 46, 50, 51, 30, 88, 55]])
    voices = voice_keys(time_s, key, torch.tensor([0, 3, 4, 6, 7, 8]))[0].tolist()
    assert voices == [[-1, -1, -1], [46, 39, -1], [50, 50, 46], [51, 30, 50], [51, 30, 50], [55, 55, 51]]
    assert latest_voices(time_s, key)[0].tolist() == voices[-1]  # the sampler's: one position hearing every item


def test_the_signs_are_made_once_per_device_as_a_row_and_a_column():
    row, column = signs_on(torch.device("cpu"))
    assert row.tolist() == SIGNS.tolist() and column.tolist() == [[1], [-1], [1]]
    again = signs_on(torch.device("cpu"))
    assert again[0] is row and again[1] is column  # (latest_voices runs note by note: no copy per note)


def test_one_position_hearing_every_item_is_the_last_of_many():
    generator = torch.Generator().manual_seed(3)
    time_s = (torch.rand(16, 9, generator=generator, dtype=torch.float64) * 0.1).round(decimals=2)  # chords, too
    time_s[torch.rand(16, 9, generator=generator) < 0.2] = -torch.inf  # pedals and empty slots
    ids = torch.randint(0, 88, (16, 9), generator=generator)
    assert torch.equal(latest_voices(time_s, ids), voice_keys(time_s, ids, torch.arange(10))[:, -1])
    assert latest_voices(time_s[:, :0], ids[:, :0]).shape == (16, 3)


def test_a_warm_start_is_the_head_it_started_from():
    torch.manual_seed(1)
    plain = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True)
    with_voices = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True, voices=True)
    with_voices.load_state_dict(plain.state_dict(), strict=False)
    sets = SetBatch(torch.randint(0, 91, (32, 6)), torch.rand(32, 6, dtype=torch.float64).sort(1).values * 0.25,
                    torch.full((32, 6), 0.2, dtype=torch.float64), torch.full((32, 6), 64), torch.randint(0, 7, (32,)))
    carry, features = timed_carry(32, 0), torch.randn(32, 8)
    assert torch.equal(plain.nll(features, sets, carry), with_voices.nll(features, sets, carry))


def test_voices_learn_to_step_from_the_top_of_a_chord():
    """Each chunk is a chord of two keys far apart, then a key a tone above the chord's highest: the step is one
    kernel weight away from the top voice, where a head without voices must learn it key by key."""
    def chunks(rows: int, seed: int) -> SetBatch:
        g = torch.Generator().manual_seed(seed)
        low = torch.randint(10, 30, (rows,), generator=g)
        high = low + torch.randint(12, 30, (rows,), generator=g)
        ids = torch.stack([low, high, high + 2], 1)  # [R, 3]
        offsets = torch.tensor([0.01, 0.012, 0.15], dtype=torch.float64).expand(rows, 3)
        return SetBatch(ids, offsets, torch.full((rows, 3), 0.1, dtype=torch.float64), torch.full((rows, 3), 64),
                        torch.full((rows,), 3))
    final = {voices: held_out_nll(lambda net, rows, seed: net.nll(torch.zeros(rows, 8), chunks(rows, seed)),
                                  max_events=4, steps=60, voices=voices) for voices in (False, True)}
    assert final[True] < final[False] - 1.0


def test_sampling_hears_the_voices_exactly_as_training_scores(monkeypatch):
    """At every step of a draw, the voices and their change to the key logits are those training computes for
    the drawn chunk teacher-forced: with pedals inside chunks, empty chunks, chunks at the cap and rows stopped."""
    torch.manual_seed(0)
    head = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True, voices=True)
    with torch.no_grad():
        head.voices.kernels.weight.copy_(torch.randn_like(head.voices.kernels.weight))
        head.out["key"][-1].bias[-1] += 5.0  # chunks of many sizes, some empty
        head.out["key"][-1].bias[88:91] += 4.0  # pedals among the notes
    rows = 64
    features, carry = torch.randn(rows, 8), timed_carry(rows, 5)
    drawn_leans, lean_of = [], VoiceLean.leaned  # (the voices as each lean heard them, the lean), per event

    def spy(voice_lean, kernels, cells, heard):  # a voice not heard: cells −1
        drawn_leans.append((cells.masked_fill(~heard, -1), lean_of(voice_lean, kernels, cells, heard)))
        return drawn_leans[-1][1]
    monkeypatch.setattr(VoiceLean, "leaned", spy)
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(1), carry=carry)
    sampled, drawn_leans = drawn_leans, []  # then teacher-forced: at the events, then at the stops
    head.nll(features, drawn, carry)
    taught = drawn_leans
    monkeypatch.setattr(VoiceLean, "leaned", lean_of)
    assert (drawn.sizes == 0).any() and (drawn.sizes == 6).any() and len(set(drawn.sizes.tolist())) > 4
    assert ((drawn.ids >= 88) & drawn.mask).any()  # pedals were drawn inside chunks
    event_rows, positions = drawn.mask.nonzero(as_tuple=True)
    stop_rows = torch.nonzero(drawn.sizes < 6).squeeze(1)
    for step, (voices, lean) in enumerate(sampled):
        at = positions == step  # the events drawn at this step
        assert torch.equal(voices[event_rows[at]], taught[0][0][at])
        torch.testing.assert_close(lean[event_rows[at]], taught[0][1][at], atol=1e-5, rtol=0)
        stopped = torch.isin(stop_rows, torch.nonzero(drawn.sizes == step).squeeze(1))  # the stops at this step
        assert torch.equal(voices[stop_rows[stopped]], taught[1][0][stopped])
        torch.testing.assert_close(lean[stop_rows[stopped]], taught[1][1][stopped], atol=1e-5, rtol=0)
    assert any((voices[:, 0] >= 0).any() for voices, _ in sampled)


def test_a_head_without_a_carry_hears_the_chunks_notes_only():
    head = EventHead(width=8, hidden=16, max_events=5, chunk_seconds=0.25, voices=True)
    with torch.no_grad():
        head.voices.kernels.weight.copy_(torch.randn_like(head.voices.kernels.weight))
        head.out["key"][-1].bias[-1] -= 3  # seldom an empty chunk
    drawn = EventSampler(head).sample(torch.randn(16, 8), torch.Generator().manual_seed(0))
    assert drawn.sizes.sum() > 0 and torch.isfinite(head.nll(torch.randn(16, 8), drawn)).all()


def test_an_onset_is_a_window_from_the_latest_start():
    time_s = torch.tensor([[0.0, 0.02, 0.04]], dtype=torch.float64)  # 20 ms apart: the latest onset is 20–40 ms
    voices = voice_keys(time_s, torch.tensor([[50, 40, 45]]), torch.tensor([3]))[0, 0].tolist()
    assert voices == [45, 40, 50]


def test_a_carry_built_by_hand_without_times_is_refused_in_one_line():
    head = EventHead(width=8, hidden=16, max_events=4, chunk_seconds=0.25, carry=True, voices=True)
    sets = SetBatch(torch.tensor([[40]]), torch.tensor([[0.01]], dtype=torch.float64),
                    torch.tensor([[0.1]], dtype=torch.float64), torch.tensor([[64]]), torch.tensor([1]))
    with pytest.raises(ValueError, match="ar.voices"):
        head.nll(torch.zeros(1, 8), sets, random_carry(1, 0))


def test_latest_voices_and_cells_are_voice_keys_and_intervals():
    """The sampler's voices (latest_voices) are voice_keys' at one position hearing every item, rows with nothing
    heard, no onset before and pedals (−inf) among them; VoiceLean.heard's cells by table are the clamped intervals."""
    g = torch.Generator().manual_seed(0)
    for trial in range(200):
        rows, items = 1 + trial % 5, trial % 30
        time_s = (torch.rand(rows, items, generator=g, dtype=torch.float64) * 0.2).round(decimals=3)  # ties, onsets
        time_s[torch.rand(rows, items, generator=g) < 0.3] = -torch.inf
        ids = torch.randint(0, 91, (rows, items), generator=g)
        assert torch.equal(latest_voices(time_s, ids), voice_keys(time_s, ids, torch.tensor([items]))[:, 0])
    lean = VoiceLean(8)
    voices = torch.randint(-1, 88, (50, 3), generator=g)
    interval = (lean.keys - voices[..., None]).clamp(-REACH - 1, REACH + 1) + REACH + 1
    assert torch.equal(lean.heard(voices)[0], interval)
