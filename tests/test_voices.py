"""The voices the key choices hear (ar.voices, sequence/voices.py)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from test_intervals import random_carry
from timestepmusic.batches import SetBatch
from timestepmusic.sequence import voices as voices_module
from timestepmusic.sequence.event_head import EventBins, EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.voices import (
    ONSET_S,
    REACH,
    SIGNS,
    HeardVoices,
    VoiceLean,
    latest_voices,
    signs_on,
    voice_keys,
    voices_among,
)

from conftest import heard_places, held_out_nll, timed_carry


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

    def spy(voice_lean, kernels, index, heard):  # a voice not heard: places −1
        drawn_leans.append((heard_places(voice_lean, index, heard), lean_of(voice_lean, kernels, index, heard)))
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
        notes = [[(at_s, key) for at_s, key in zip(*row) if at_s > -torch.inf] for row in zip(time_s.tolist(), ids.tolist())]
        assert [list(voices_among(row)) for row in notes] == latest_voices(time_s, ids).tolist()
    lean = VoiceLean(8)
    voices = torch.randint(-1, 88, (50, 3), generator=g)
    interval = (lean.keys - voices[..., None]).clamp(-REACH - 1, REACH + 1) + REACH + 1  # [50, 3, 88]
    place = interval + lean.width * torch.arange(3)[:, None]  # each voice's cells in its part of the kernels' row
    assert torch.equal(lean.heard(voices)[0], place.flatten(1))


def lean_as_first_written(lean: VoiceLean, kernels: torch.Tensor, voices: torch.Tensor) -> torch.Tensor:
    """The voices' lean, straightforwardly: each voice's kernel [Q, V, W], its cells gathered [Q, V, 88], times
    whether the voice is heard, summed over the voices."""
    cells = (lean.keys - voices[..., None]).clamp(-REACH - 1, REACH + 1) + REACH + 1  # [Q, V, 88]
    chosen = kernels.view(kernels.shape[0], lean.voices, lean.width).gather(2, cells)  # [Q, V, 88]
    return (chosen * (voices >= 0)[..., None]).sum(dim=1)


def test_the_lean_is_the_straightforward_one_bit_for_bit():
    """One gather from the flat row of kernels, and no mask where every voice is heard (VoiceLean.sampled), give
    the same bits as the lean first written, for many rows at once and for one row at a time (as one piece)."""
    g = torch.Generator().manual_seed(2)
    for voices_heard in (3, 4):  # ar.voices, ar.register
        lean = VoiceLean(8, voices_heard)
        kernels = torch.randn(64, voices_heard * lean.width, generator=g) * 3
        voices = torch.randint(-1, 88, (64, voices_heard), generator=g)
        voices[:32] = voices[:32].clamp(min=0)  # rows with every voice heard
        expected = lean_as_first_written(lean, kernels, voices)
        assert torch.equal(lean.leaned(kernels, *lean.heard(voices)), expected)
        assert torch.equal(lean.lean(torch.zeros(64, 8), *lean.heard(voices)), torch.zeros(64, 88))
        index, heard = lean.sampled(voices[:32])
        assert heard is None and torch.equal(lean.leaned(kernels[:32], index, heard), expected[:32])
        assert lean.sampled(voices)[1] is not None
        for q in range(0, 64, 5):
            assert torch.equal(lean.leaned(kernels[q:q + 1], *lean.sampled(voices[q:q + 1])), expected[q:q + 1])


@pytest.mark.parametrize("few_rows", [8, 0], ids=["numbers", "tensors"])
def test_the_voices_kept_note_by_note_lean_as_latest_voices_over_every_note(monkeypatch, few_rows):
    """HeardVoices, a note added at a time (the sampler's: pedals and rows without a note at −inf, chords and notes
    within an onset of each other), leans exactly as the lean first written of latest_voices over every note heard,
    kept as Python numbers (few rows) or as tensors."""
    monkeypatch.setattr(voices_module, "FEW_ROWS", few_rows)
    g = torch.Generator().manual_seed(4)
    rows, lean = 3, VoiceLean(8)
    time_s = -(torch.rand(rows, 6, generator=g, dtype=torch.float64) * 0.1).round(decimals=2)  # the carry's
    time_s[:, 0] = -torch.inf  # a pedal
    ids = torch.randint(0, 88, (rows, 6), generator=g)
    ids[:, 0] = 89
    time_s[2] = -torch.inf  # a row that has heard no note
    heard, start = HeardVoices(lean, time_s, ids), 0
    boundaries = 0  # notes exactly ONSET_S before the latest note: the onset's edge, where ≥ and > differ
    for step in range(40):
        kernels = torch.randn(rows, 3 * lean.width, generator=g)
        expected = lean_as_first_written(lean, kernels, latest_voices(time_s, ids))
        assert torch.equal(heard.leaned(kernels), expected), step
        assert torch.equal(heard.leaned(kernels), expected)  # (kept while no note is added)
        start += int(torch.randint(0, 4, (1,), generator=g))  # 0–15 ms after the event before, on the 5 ms bins
        key = torch.randint(0, 91, (rows,), generator=g)
        struck_s = torch.where(key < 88, EventBins.start_middle_s(torch.tensor(start)), -torch.inf)  # [R] float64
        boundaries += int((time_s == struck_s[:, None] - ONSET_S).any())
        if step < 3:
            struck_s[2] = -torch.inf  # the row without notes keeps none for a while
        heard.add(struck_s, key)
        time_s, ids = torch.cat([time_s, struck_s[:, None]], 1), torch.cat([ids, key[:, None]], 1)
    assert (latest_voices(time_s, ids) >= 0).all() and boundaries > 0


@pytest.mark.parametrize("guards", [False, True], ids=["plain", "guards"])
def test_a_sampler_draws_the_same_with_the_voices_as_numbers_or_tensors(monkeypatch, guards):
    torch.manual_seed(0)
    head = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True, voices=True)
    with torch.no_grad():
        head.voices.kernels.weight.copy_(torch.randn_like(head.voices.kernels.weight) * 2)
        head.out["key"][-1].bias[88:91] += 2.0  # pedals among the notes
    features, carry = torch.randn(5, 8), timed_carry(5, 3)
    asked = {"cluster_guard": 1.5, "step_lean": 0.35} if guards else {}
    drawn = {}
    for few_rows in (8, 0):
        monkeypatch.setattr(voices_module, "FEW_ROWS", few_rows)
        drawn[few_rows] = EventSampler(head).sample(features, torch.Generator().manual_seed(1), carry=carry, **asked)
    assert drawn[8].sizes.sum() > 10
    for field in dataclasses.fields(SetBatch):
        assert torch.equal(getattr(drawn[8], field.name), getattr(drawn[0], field.name)), field.name
