"""The events arm: the likelihood arm's transformer with a head that draws each chunk as events."""
from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from timestepmusic.batches import SetBatch
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.generation import GANModel
from timestepmusic.midi import NUM_IDS, NUM_KEYS, Events, read_events
from timestepmusic.midi_write import write_events
from timestepmusic.prompts import prompt_until
from timestepmusic.sequence.event_head import DURATION_BINS, STOP, EventBins, EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.events import EventAutoregressive
from timestepmusic.sequence.onsets import END
from timestepmusic.sequence.sampler_draws import lean_to_join
from timestepmusic.train.log import read_metrics
from timestepmusic.train.sequence import train_sequence_model

from conftest import assert_same_weights, spy_on_event_sampler
from midi_factory import Note, midi_bytes

TINY_EVENTS = {"ar.context": 16, "ar.width": 16, "ar.layers": 1, "ar.heads": 2, "ar.batch": 4, "ar.head_hidden": 16,
               "ar.temperature": 1.0, "gan.steps": 8, "gan.validate_every": 4, "gan.sample_every": 0}


@pytest.fixture(scope="module")
def events_run(tiny_corpus, tiny_ae, tmp_path_factory):
    run = tmp_path_factory.mktemp("events") / "run"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TINY_EVENTS), arch="events", progress=False)
    return run


def chunk_sets(rows: list[list[tuple[int, float, float, int]]], n: int = 6) -> SetBatch:
    """Padded sets [R, n] from rows of (id, offset_s, duration_s, intensity) events in time order."""
    ids, offsets, durations, intensities = (torch.zeros(len(rows), n, dtype=dtype) for dtype in
                                            (torch.long, torch.float64, torch.float64, torch.long))
    for r, events in enumerate(rows):
        for i, (key, offset_s, duration_s, intensity) in enumerate(events):
            ids[r, i], offsets[r, i], durations[r, i], intensities[r, i] = key, offset_s, duration_s, intensity
    return SetBatch(ids, offsets, durations, intensities, torch.tensor([len(e) for e in rows]))


def test_bins_round_trip_within_half_a_bin():
    bins = EventBins(0.25)
    sets = chunk_sets([[(39, 0.0, 0.005, 1), (88, 0.1234, 0.04, 64), (90, 0.2499, 31.0, 127)]])
    back = bins.to_sets(*bins.to_bins(sets), sets.sizes)
    assert torch.equal(back.ids, sets.ids) and torch.equal(back.intensity[:, :3], sets.intensity[:, :3])
    assert (back.offset_s - sets.offset_s)[:, :3].abs().max() <= 0.0025 + 1e-9  # 5 ms bins
    ratio = (back.duration_s / sets.duration_s)[:, :3]
    step = (32.0 / 0.005) ** (1 / (DURATION_BINS - 1))  # the log bins' width
    assert ((ratio >= step ** -0.5 - 1e-9) & (ratio <= step ** 0.5 + 1e-9)).all()
    too_long = bins.to_sets(*bins.to_bins(chunk_sets([[(0, 0.3, 100.0, 5)]])), torch.tensor([1]))
    assert too_long.offset_s[0, 0] < 0.25 and too_long.duration_s[0, 0] <= 32.0 + 1e-9  # clamped onto the bins


def test_drawn_times_fill_their_bins_in_time_order_and_bin_back_the_same():
    """A drawn start or duration is placed uniformly inside its bin (not on the bins' grid of middles); the starts
    of a chunk stay in time order, also for events in one start bin; binning them again gives the same classes."""
    bins = EventBins(0.25)
    g = torch.Generator().manual_seed(0)
    rows, n = 4000, 6
    start = torch.randint(0, 3, (rows, n), generator=g).cumsum(1).clamp(max=bins.starts - 1)  # in order, many ties
    duration = torch.randint(0, DURATION_BINS, (rows, n), generator=g)
    key, intensity = torch.zeros(rows, n, dtype=torch.long), torch.full((rows, n), 64)
    sizes = torch.randint(0, n + 1, (rows,), generator=g)
    placed = bins.to_sets(key, start, duration, intensity, sizes, torch.rand(rows, n, 2, generator=g))
    valid = torch.arange(n) < sizes[:, None]
    again = bins.to_bins(placed)
    assert torch.equal(again[1][valid], start[valid]) and torch.equal(again[2][valid], duration[valid])
    gaps = placed.offset_s.diff(dim=1)[(valid[:, 1:])]
    assert (gaps >= 0).all()
    middles = bins.to_sets(key, start, duration, intensity, sizes)
    inside = ((placed.offset_s - start * 0.005) / 0.005)[valid]  # place inside the start bin, 0 … 1
    assert 0.45 < float(inside.mean()) < 0.55 and float(inside.std()) > 0.25  # uniform: mean ½, sd ≈ 0.29
    assert len(torch.unique(placed.duration_s[valid])) > 0.9 * int(valid.sum())  # not the 96 middles
    assert len(torch.unique(middles.duration_s[valid])) <= DURATION_BINS
    for edge in (0, DURATION_BINS - 1):  # the first and last bins too: none clamped onto 5 ms or 32 s
        at_edge = valid & (duration == edge)
        assert len(torch.unique(placed.duration_s[at_edge])) > 0.9 * int(at_edge.sum()) > 10


def test_the_sampler_writes_bin_middles_unless_told_to_place_times_inside_them():
    torch.manual_seed(3)
    head = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25)
    features = torch.randn(400, 8)
    drawn = {in_bins: EventSampler(head, in_bins).sample(features, torch.Generator().manual_seed(0))
             for in_bins in (False, True)}
    valid = torch.arange(6) < drawn[False].sizes[:, None]
    middles = (drawn[False].offset_s / 0.005 - 0.5)[valid]
    assert int(valid.sum()) > 200 and torch.allclose(middles, middles.round(), atol=1e-6)
    assert len(torch.unique(drawn[True].duration_s[torch.arange(6) < drawn[True].sizes[:, None]])) > 100


def test_the_head_learns_each_chunk_its_features_stand_for_and_draws_it():
    torch.manual_seed(0)
    head = EventHead(width=8, hidden=32, max_events=6, chunk_seconds=0.25)
    sets = chunk_sets([[(39, 0.01, 0.5, 80), (43, 0.01, 0.5, 70)], [(88, 0.0, 0.25, 127)], []])
    features = torch.eye(3, 8)  # one feature vector per chunk
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(300):
        loss = head.nll(features, sets).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.5  # nats per chunk: all but certain
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(0), temperature=0.5)
    assert drawn.sizes.tolist() == [2, 1, 0]
    assert drawn.ids[0, :2].tolist() == [39, 43] and drawn.ids[1, 0] == 88
    assert drawn.intensity[0, :2].tolist() == [80, 70]
    assert (drawn.offset_s[0, :2] - 0.01).abs().max() < 0.005


def test_drawn_events_are_valid_and_in_time_order():
    torch.manual_seed(1)
    head = EventHead(width=8, hidden=16, max_events=15, chunk_seconds=0.25)  # untrained: anything may come
    drawn = EventSampler(head).sample(torch.randn(64, 8), torch.Generator().manual_seed(3))
    mask = drawn.mask
    assert ((drawn.ids >= 0) & (drawn.ids < NUM_IDS))[mask].all()
    assert ((drawn.intensity >= 1) & (drawn.intensity <= 127)).all()
    assert ((drawn.offset_s >= 0) & (drawn.offset_s < 0.25))[mask].all()
    assert (drawn.duration_s > 0)[mask].all()
    later = drawn.offset_s[:, 1:] >= drawn.offset_s[:, :-1]
    assert later[mask[:, 1:]].all()
    assert drawn.sizes.max() > 1  # more than stops


def test_the_sampler_draws_each_choice_at_the_heads_odds():
    torch.manual_seed(4)
    head = EventHead(width=8, hidden=16, max_events=3, chunk_seconds=0.25)
    with torch.no_grad():
        for name in head.out:  # peaked odds, so that the likeliest choices are drawn often enough to compare
            head.out[name][-1].bias.copy_(3 * torch.randn_like(head.out[name][-1].bias))
        for name in head.given:  # and each choice weighing on the next
            head.given[name].weight.mul_(3)
        head.condition.weight.mul_(3)  # the chunk's features on every step
    rows = 100000
    features = torch.randn(1, 8).expand(rows, 8)
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(0))
    key, start, duration, intensity = head.bins.to_bins(drawn)  # [R, N] classes each
    first_key = torch.where(drawn.sizes > 0, key[:, 0], STOP)

    def odds(*given):  # the head's odds of the first event's next choice, given the choices before it
        state = head.states(features[:1], (torch.zeros(1, 3, dtype=torch.long),) * 4, torch.zeros(1, dtype=torch.long))
        name = ("key", "start", "duration", "intensity")[len(given)]
        args = [torch.tensor([g]) for g in given] + [None] * (3 - len(given))
        return head.choices(state[:, 0], *args[:3])[name].softmax(-1)[0].detach()

    def distance(drawn_classes, p):  # total variation between drawn frequencies and odds p
        seen = torch.bincount(drawn_classes, minlength=p.shape[0]).float() / drawn_classes.numel()
        return float((seen - p).abs().sum() / 2)

    kinds = torch.cat([odds()[:NUM_KEYS].sum(0, keepdim=True), odds()[NUM_KEYS:]])  # a note, each pedal, the stop
    assert distance(first_key, odds()) < 0.02 and distance((first_key - NUM_KEYS + 1).clamp(min=0), kinds) < 0.004
    k = int(first_key[first_key != STOP].mode().values)  # the likeliest key struck first
    starts = start[first_key == k, 0]
    assert distance(starts, odds(k)) < 0.03
    s = int(starts.mode().values)
    durations = duration[(first_key == k) & (start[:, 0] == s), 0]
    assert durations.numel() > 2000 and distance(durations, odds(k, s)) < 0.03
    d = int(durations.mode().values)
    intensities = intensity[(first_key == k) & (start[:, 0] == s) & (duration[:, 0] == d), 0]
    strikes = odds(k, s, d).index_fill(0, torch.tensor([0]), 0.0)  # intensity 0 is never drawn
    assert intensities.numel() > 2000 and distance(intensities, strikes / strikes.sum()) < 0.03
    # the next event (or the stop) after the likeliest whole first event, at the odds of the head reading it
    v = int(intensities.mode().values)
    after = (first_key == k) & (start[:, 0] == s) & (duration[:, 0] == d) & (intensity[:, 0] == v)
    second_key = torch.where(drawn.sizes[after] > 1, key[after, 1], STOP)
    first = tuple(torch.tensor([[c, 0, 0]]) for c in (k, s, d, v))  # [1, N] classes each
    state = head.states(features[:1], first, torch.ones(1, dtype=torch.long))[:, 1]  # after the first event
    assert second_key.numel() > 5000 and distance(second_key, head.choices(state, None)["key"].softmax(-1)[0].detach()) < 0.028


def test_training_lowers_the_held_out_nll_and_resumes_exactly(tiny_corpus, tiny_ae, tmp_path):
    config = Config().override(TINY_EVENTS | {"gan.steps": 40, "gan.validate_every": 20})
    straight = tmp_path / "straight"
    train_sequence_model(tiny_corpus, tiny_ae, straight, config, arch="events", progress=False)
    rows = [r for r in read_metrics(straight / "metrics.jsonl") if "val_nll" in r]
    assert rows[-1]["val_nll"] < rows[0]["val_nll"]
    assert all(math.isfinite(r["nll"]) for r in rows)
    resumed = tmp_path / "resumed"
    train_sequence_model(tiny_corpus, tiny_ae, resumed, config, arch="events", progress=False, max_steps=15)
    train_sequence_model(tiny_corpus, None, resumed, resume=True, progress=False)
    assert_same_weights(straight, resumed)


def test_a_resume_to_other_steps_warns_of_the_learning_rates_jump_only_where_it_trains(events_run, tiny_corpus, tmp_path,
                                                                                         caplog):
    """--resume RUN --steps N refits an events or ar run's schedule to N, and says the learning rate jumps at the run's
    step; a run already at N trains nothing (said so), so no learning rate of it jumps: that warning said both."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(events_run, run)  # (8 steps)
    assert main(["train-gan", str(tiny_corpus), "--resume", str(run), "--steps", "6", "-q"]) == 0
    assert "already at step 8 of 6; nothing to train" in caplog.text and "learning rate jumps" not in caplog.text
    caplog.clear()
    assert main(["train-gan", str(tiny_corpus), "--resume", str(run), "--steps", "9", "-q"]) == 0
    assert "now runs to step 9, not 8, so at step 8 the learning rate jumps" in caplog.text


def test_training_on_drawn_chunks_reads_them_and_resumes_exactly(tiny_corpus, tiny_ae, tmp_path, monkeypatch):
    config = Config().override(TINY_EVENTS | {"ar.drawn_share": 0.5, "gan.steps": 10, "gan.validate_every": 5})
    shares, drawn = [], {}
    sample, reading = EventSampler.sample, EventAutoregressive.reading

    def sample_spy(sampler, features, *args, **kwargs):
        drawn.update(features=features, sets=sample(sampler, features, *args, **kwargs))
        return drawn["sets"]

    def reading_spy(arm, x, real):
        read = reading(arm, x, real)
        changed = (read != x).any(-1) & (real.mask > 0.5)  # [b, T]: chunks read as drawn
        shares.append(float(changed.float().sum() / (real.mask > 0.5).sum()))
        encoded = arm.encode_sets(drawn.pop("sets"))  # [V', L]: what each draw encodes to
        arm.generator.eval()
        (features,), _ = arm.generator(x)  # the features of the network as it samples
        arm.generator.train()
        for b, t in changed.nonzero().tolist():  # each holds one draw's encoding, drawn from the features there
            which = (encoded == read[b, t]).all(-1)
            assert which.any() and any(torch.allclose(drawn["features"][i], features[b, t], atol=1e-5)
                                       for i in which.nonzero()[:, 0])
        return read
    monkeypatch.setattr(EventSampler, "sample", sample_spy)
    monkeypatch.setattr(EventAutoregressive, "reading", reading_spy)
    straight = tmp_path / "straight"
    train_sequence_model(tiny_corpus, tiny_ae, straight, config, arch="events", progress=False)
    assert 0.3 < sum(shares) / len(shares) < 0.7
    resumed = tmp_path / "resumed"
    train_sequence_model(tiny_corpus, tiny_ae, resumed, config, arch="events", progress=False, max_steps=4)
    train_sequence_model(tiny_corpus, None, resumed, resume=True, progress=False)
    assert_same_weights(straight, resumed)


def test_the_written_piece_is_what_was_drawn_and_the_transformer_read_its_encoding(events_run, monkeypatch):
    from timestepmusic import piece_events
    from timestepmusic.flams import flams_joined

    model = GANModel.load(events_run)
    pieces = model.sample_latents(2, 2.0, seed=4)
    assert [p.shape[0] for p in pieces] == [8, 8]
    drawn = model.arm.drawn  # one [S, N] set per chunk
    for t, sets in enumerate(drawn):
        encoded = model.ae.encode(sets).float()
        assert torch.allclose(pieces[0][t], encoded[0], atol=1e-4)  # the latent the transformer read next
    events = model.sample(2, 2.0, seed=4)
    with monkeypatch.context() as patch:  # as drawn, before strikes of one key within 40 ms are joined (flams.py)
        patch.setattr(piece_events, "flams_joined", lambda piece, from_s=0.0: piece)
        unjoined = model.sample(2, 2.0, seed=4)
    for i, piece in enumerate(unjoined):
        mine = [sets.sizes[i] for sets in drawn]
        assert len(piece) == int(sum(mine))
        t = np.floor(piece.start_s / 0.25 + 1e-9).astype(int)
        assert np.bincount(t, minlength=8)[:8].tolist() == [int(s) for s in mine]  # each chunk's events in place
        joined = flams_joined(piece)
        assert np.array_equal(events[i].ids, joined.ids) and np.array_equal(events[i].duration_s, joined.duration_s)
    again = model.sample(2, 2.0, seed=4)
    assert all(np.array_equal(a.ids, b.ids) and np.array_equal(a.start_s, b.start_s) for a, b in zip(events, again))
    assert not np.array_equal(events[0].ids, events[1].ids)


def test_a_drawn_strike_just_after_a_prompts_strike_of_its_key_is_not_written(events_run):
    """A continuation's first chunk strikes key 40 10 ms after the prompt's last strike of it: written, the pair was a
    restrike a few ms into the continuation. The drawn strike is dropped (flams.py); the prompt's note and the other
    drawn note are written as they are."""
    from timestepmusic.piece_events import sampled_events
    from timestepmusic.prompts import prompt_chunks

    model = GANModel.load(events_run)
    prompt = Events([40, 40, 45], [0.1, 0.74, 0.2], [0.2, 0.005, 0.1], [60, 50, 70])
    first = prompt_chunks(model.ae, prompt)
    from_s = first * model.ae.chunk_seconds
    assert from_s == pytest.approx(0.75)  # (the prompt's last strike of key 40 10 ms before the continuation)
    model.arm.drawn = [chunk_sets([[(40, 0.0, 0.4, 90), (47, 0.05, 0.1, 80)]])]
    heard = sampled_events(model.arm, model.ae, [torch.zeros(first + 1, 1)], prompt)[0]
    notes = sorted(zip(heard.ids[heard.is_note].tolist(), np.round(heard.start_s[heard.is_note], 6).tolist(),
                       np.round(heard.duration_s[heard.is_note], 6).tolist(), heard.intensity[heard.is_note].tolist()))
    assert notes == [(40, 0.1, 0.2, 60), (40, 0.74, 0.005, 50), (45, 0.2, 0.1, 70), (47, 0.8, 0.1, 80)]


def test_short_gaps_inside_a_drawn_pedal_run_are_closed_at_pedal_join_s(events_run):
    import dataclasses

    from timestepmusic.midi import DAMPER_ID, SOFT_ID

    model = GANModel.load(events_run)
    # chunk 0: damper 0.00–0.17 s, then 0.20–0.30 s (a 30 ms lift); soft 0.05–0.10 s; a note
    # chunk 1: damper from 0.42 s (a 120 ms lift after 0.30 s); soft from 0.28 s (a 180 ms lift)
    model.arm.drawn = [chunk_sets([[(DAMPER_ID, 0.0, 0.17, 100), (SOFT_ID, 0.05, 0.05, 90), (40, 0.1, 0.3, 70),
                                    (DAMPER_ID, 0.2, 0.1, 60)]]),
                       chunk_sets([[(SOFT_ID, 0.03, 0.2, 90), (DAMPER_ID, 0.17, 0.5, 120)]])]

    def held(join_s: float, share: float = 0.0) -> tuple[list[float], list[float]]:
        model.arm.settings = dataclasses.replace(model.arm.settings, pedal_join_s=join_s, pedal_join_share=share)
        events = model.arm.drawn_events(0, 2, 0.25, start_chunk=4)  # placed after a 1 s prompt
        assert len(events) == 6 and events.start_s.min() == pytest.approx(1.0)
        return ([round(float(d), 3) for d in events.duration_s[events.ids == DAMPER_ID]],
                [round(float(d), 3) for d in events.duration_s[events.ids == SOFT_ID]])
    assert held(0.0) == ([0.17, 0.1, 0.5], [0.05, 0.2])  # as drawn
    assert held(0.05) == ([0.2, 0.1, 0.5], [0.05, 0.2])  # the 30 ms lift closed: held to the next press
    assert held(0.15) == ([0.2, 0.22, 0.5], [0.05, 0.2])  # … and the 120 ms one; pedals are joined each alone
    assert held(0.2)[1] == [0.23, 0.2]
    assert held(0.0, 0.2) == ([0.2, 0.1, 0.5], [0.05, 0.2])  # 30 ms ≤ 20 % of 0.17 s; 120 ms > 20 % of 0.1 s
    note = model.arm.drawn_events(0, 2, 0.25)
    assert note.duration_s[note.ids == 40].tolist() == pytest.approx([0.3])  # notes are never joined


def test_a_prompt_pedal_held_past_its_end_is_not_flicked_up_before_a_press_drawn_just_after(events_run):
    import dataclasses

    from timestepmusic.midi import DAMPER_ID, WRITE_QUARTERS_PER_SECOND, WRITE_TICKS_PER_QUARTER
    from timestepmusic.midi_write import events_to_score
    from timestepmusic.piece_events import sampled_events
    from timestepmusic.prompts import ending_at

    model = GANModel.load(events_run)
    model.arm.settings = dataclasses.replace(model.arm.settings, pedal_join_s=0.02)
    # a prompt of 0.5 s (2 chunks): a note; the damper 0–0.2 s, lifted 10 ms, then held from 0.21 s to 1.31 s (past
    # the prompt's end, as a cut prompt's rings on); the model draws a note, and a damper press from 1.32 s
    prompt = ending_at(Events(np.array([40, DAMPER_ID, DAMPER_ID]), np.array([0.0, 0.0, 0.21]), np.array([0.5, 0.2, 1.1]),
                              np.array([70, 100, 100])), 0.5 - 1e-6)
    model.arm.drawn = [chunk_sets([[(44, 0.05, 0.3, 70)]]), chunk_sets([[]]), chunk_sets([[]]),
                       chunk_sets([[(DAMPER_ID, 0.07, 0.5, 90)]])]
    events, = sampled_events(model.arm, model.ae, [torch.zeros(6, 1)], prompt)
    lifts = [c.time for c in events_to_score(events).tracks[0].controls if c.number == 64 and c.value == 0]
    ticks_per_s = WRITE_TICKS_PER_QUARTER * WRITE_QUARTERS_PER_SECOND
    assert lifts == [round(0.2 * ticks_per_s), round(1.82 * ticks_per_s)]  # the prompt's own lift kept; none at 1.31 s


def test_a_piece_holds_no_pedal_down_in_silence_after_its_last_sound(events_run):
    from timestepmusic.holds import sound_end_s
    from timestepmusic.midi import DAMPER_ID, SOFT_ID
    from timestepmusic.piece_events import sampled_events

    model = GANModel.load(events_run)
    # chunk 0: a note 0.05–0.25 s under the damper 0–0.6 s (it rings to 0.6 s), another 0.1–0.3 s, the una corda
    # from 0.1 s for 31 s (to the piece's release, 2 s after its 1 s); chunk 2: the damper again from 0.7 s, in silence
    model.arm.drawn = [chunk_sets([[(DAMPER_ID, 0.0, 0.6, 100), (40, 0.05, 0.2, 70), (44, 0.1, 0.2, 70),
                                    (SOFT_ID, 0.1, 31.0, 90)]]), chunk_sets([[]]), chunk_sets([[(DAMPER_ID, 0.2, 1.0, 80)]]),
                       chunk_sets([[]])]
    events, = sampled_events(model.arm, model.ae, [torch.zeros(4, 1)])
    assert events.end_s == pytest.approx(0.6) and sound_end_s(events) == pytest.approx(0.6)
    assert (events.ids == DAMPER_ID).sum() == 1  # the press in the silence is gone
    assert events.duration_s[events.ids == SOFT_ID].tolist() == pytest.approx([0.5])  # lifted as the damper is
    assert events.duration_s[events.is_note].tolist() == pytest.approx([0.2, 0.2])  # the notes as drawn


def test_a_prompt_is_kept_and_continued_from_the_cli(events_run, tiny_corpus, tmp_path, capsys):
    prompt_file = next((tiny_corpus.parent / "midi").rglob("*.mid"))
    prompt, _ = read_events(prompt_file)
    model = GANModel.load(events_run)
    heard, sets = model.ae.encode_events(prompt)  # [P, L]
    p = heard.shape[0]
    pieces = model.sample_latents(1, 2.0, seed=0, prompt=prompt)
    assert pieces[0].shape[0] == p + 8
    (piece,) = model.sample(1, 2.0, seed=0, prompt=prompt)
    before = piece.start_s < p * 0.25
    assert int(before.sum()) == int(sets.sizes.sum())  # the prompt's own (capped) events, then the drawn ones
    out = tmp_path / "cont"
    assert main(["generate", "--model", str(events_run), "--prompt", str(prompt_file), "--seconds", "2", "-n", "1",
                 "-o", str(out)]) == 0
    assert len(list(out.glob("*.mid"))) == 1
    whole, _ = read_events(next(out.glob("*.mid")))
    assert main(["generate", "--model", str(events_run), "--prompt", str(prompt_file), "--seconds", "2", "-n", "1",
                 "--continuation-only", "-o", str(tmp_path / "new")]) == 0
    new, _ = read_events(next((tmp_path / "new").glob("*.mid")))
    joined_s = p * 0.25
    said = capsys.readouterr().out.splitlines()[-1]  # where to paste it: the prompt's end, as its line says
    assert f"s drawn; the continuation only, after the prompt's {joined_s:.2f} s" in said
    after = whole.is_note & (whole.start_s >= joined_s - 1e-3)
    assert 0 < int(new.is_note.sum()) == int(after.sum())  # the drawn notes alone, as in the whole file …
    assert np.allclose(np.sort(new.start_s[new.is_note]), np.sort(whole.start_s[after]) - joined_s, atol=2e-3)  # … from 0
    assert abs(new.end_s - (whole.end_s - joined_s)) < 2e-3
    assert main(["generate", "--model", str(events_run), "--max-seconds", "3", "-n", "2", "--temperature", "0.9",
                 "-o", str(tmp_path / "ended")]) == 0
    assert len(list((tmp_path / "ended").glob("*.mid"))) == 2


def test_a_piece_without_a_note_is_drawn_again(events_run, monkeypatch):
    from timestepmusic import draws
    from timestepmusic.midi import Events

    model = GANModel.load(events_run)
    drawn = []  # how many pieces each call drew
    original = draws.sampled_events

    def silent_first(arm, ae, pieces, prompt=None):  # the first draw's second piece: pedals only
        events = original(arm, ae, pieces, prompt)
        drawn.append(len(pieces))
        if len(drawn) == 1:
            events[1] = Events(np.full(2, 88), np.array([0.1, 0.5]), np.array([0.3, 0.3]), np.array([64, 64]))
        return events

    monkeypatch.setattr(draws, "sampled_events", silent_first)
    latents, events = draws.written_pieces(model, 3, 2.0, seed=7)
    assert drawn == [3, 1]  # one more draw, of the silent piece alone
    assert all(piece.is_note.any() for piece in events) and len(latents) == 3
    again = original(model.arm, model.ae, model.sample_latents(1, 2.0, seed=7 + draws.REDRAW_SEED_STEP))
    assert np.array_equal(events[1].ids, again[0].ids)  # the redraw's seed, deterministic
    monkeypatch.setattr(draws, "sampled_events", lambda arm, ae, pieces, prompt=None: [
        Events(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.uint8)) for _ in pieces])
    latents, events = draws.written_pieces(model, 2, 2.0, seed=7)  # a model that never plays: written as is
    assert len(events) == 2 and not any(len(piece) for piece in events)


def test_generate_refuses_to_replace_an_earlier_run_unless_told(events_run, tmp_path, capsys, caplog):
    out = tmp_path / "out"
    run = ["generate", "--model", str(events_run), "--seconds", "1", "-n", "2", "-o", str(out)]
    assert main(run + ["--png"]) == 0
    first = (out / "sample_0_000.mid").read_bytes()
    capsys.readouterr()
    assert main(run + ["-n", "1", "--temperature", "0.5"]) == 2  # would replace sample_0_000.mid
    err = capsys.readouterr().err.strip()
    assert "sample_0_000" in err and "--overwrite" in err and "\n" not in err
    assert (out / "sample_0_000.mid").read_bytes() == first and (out / "sample_0_000.png").is_file()
    caplog.clear()
    assert main(run + ["--seed", "1"]) == 0  # another seed of the same request: other names, counted with them rightly
    assert "not drawn by this request" not in caplog.text
    assert main(run + ["--seed", "2", "--temperature", "0.7"]) == 0  # other settings: said, with what it would count
    assert "4 MIDI file(s) not drawn by this request" in caplog.text and "tsm evaluate" in caplog.text
    caplog.clear()
    (out / "mine.mid").write_bytes(midi_bytes([Note(60, 0, 480)]))  # a file of the user's, no marker
    assert main(run + ["--seed", "3"]) == 0
    assert "3 MIDI file(s) not drawn by this request" in caplog.text  # seed 2's, and the user's
    assert main(run + ["-n", "1", "--temperature", "0.5", "--overwrite"]) == 0
    assert not (out / "sample_0_000.png").exists()  # no roll of the replaced piece left beside the new one
    assert not (out / "sample_0_001.mid").exists()  # nor the earlier run's second piece
    removed = [r.message for r in caplog.records if r.message.startswith("--overwrite: removed")]
    assert removed[-1] == ("--overwrite: removed 3 file(s) of the earlier run with --seed 0 that this run did not write "
                           "again: sample_0_000.png, sample_0_001.mid, sample_0_001.png")  # named, not silently
    edit, notes = out / "sample_0_000_edit.mid", out / "sample_0_001.txt"  # a user's, named near ours …
    edit.write_bytes((out / "sample_0_000.mid").read_bytes())
    notes.write_text("mine")
    (out / "sample_0_002.mid").mkdir()  # … and a folder where -n 3 would write
    assert main(run + ["-n", "3", "--overwrite"]) == 2
    assert "sample_0_002.mid: a folder where this run would write a file" in capsys.readouterr().err
    assert (out / "sample_0_000.mid").is_file()  # refused before anything was removed
    assert main(run + ["-n", "1", "--overwrite"]) == 0  # replaced; the user's own files are not the earlier run's
    assert edit.is_file() and notes.read_text() == "mine" and (out / "sample_0_002.mid").is_dir()
    mine = out / "sample_0_000.mid"  # a file of the earlier run given to continue or to walk: never removed
    kept = mine.read_bytes()
    for flag in ("--prompt", "--like"):
        assert main(run + ["-n", "1", "--overwrite", flag, str(mine)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{flag} {mine}: a file of the earlier run with --seed 0" in err[0], err
        assert mine.read_bytes() == kept


def test_a_piece_written_alone_is_the_same_file_as_in_the_whole_run(events_run, tmp_path, capsys, caplog):
    from timestepmusic.generate_api import generate

    run = ["generate", "--model", str(events_run), "--seconds", "1", "-n", "3", "--seed", "2"]
    whole, alone = tmp_path / "whole", tmp_path / "alone"
    assert main([*run, "-o", str(whole)]) == 0
    assert main([*run, "-o", str(alone), "--piece", "2,0"]) == 0
    assert sorted(p.name for p in alone.iterdir()) == ["sample_2_000.mid", "sample_2_002.mid"]
    for name in ("sample_2_000.mid", "sample_2_002.mid"):  # the same notes, and the same marker: the same bytes
        assert (alone / name).read_bytes() == (whole / name).read_bytes()
    ranged = tmp_path / "ranged"
    assert main([*run, "-o", str(ranged), "--piece", "1-2"]) == 0  # a range: the pieces from the first to the last
    assert sorted(p.name for p in ranged.iterdir()) == ["sample_2_001.mid", "sample_2_002.mid"]
    assert all((ranged / p.name).read_bytes() == (whole / p.name).read_bytes() for p in ranged.iterdir())
    assert generate(tmp_path / "api", model=events_run, n=3, seconds=1, seed=2, pieces=[1]) == [
        tmp_path / "api" / "sample_2_001.mid"]
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in whole.iterdir()}
    assert main([*run, "-o", str(whole), "--piece", "1", "--png"]) == 2  # its own file is there: refused …
    assert "sample_2_001.mid is there already" in capsys.readouterr().err
    caplog.clear()
    assert main([*run, "-o", str(whole), "--piece", "1", "--png", "--overwrite"]) == 0  # … or written again alone
    assert {p.name: p.read_bytes() for p in whole.iterdir() if p.suffix == ".mid"} == before
    assert (whole / "sample_2_001.png").is_file() and "removed" not in caplog.text and "other MIDI" not in caplog.text
    caplog.clear()  # the same piece asked in other words: the same request
    assert main(["generate", "--seed=2", "-n3", "--seconds", "1", "--model", str(events_run), "-o", str(whole),
                 "--piece", "1", "--overwrite"]) == 0
    mine = (whole / "sample_2_002.mid").read_bytes()  # asked of another request (-n forgotten, --seconds changed) …
    for other in (["-n", "4"], ["--seconds", "2"]):
        changed = [*run, *other, "-o", str(whole), "--piece", "2", "--overwrite"]
        assert main(changed) == 2  # … refused: it would put another piece in its place
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--piece 2:" in err[0] and "says it was drawn by" in err[0] and "--piece 2'" in err[0]
    assert (whole / "sample_2_002.mid").read_bytes() == mine
    import symusic

    score = symusic.Score(str(whole / "sample_2_000.mid"))  # a file an earlier version wrote: '… (piece 1 of 3)'
    marker = score.markers[0]
    marker.text = marker.text.replace(" --piece 0", " (piece 1 of 3)")
    score.markers[0] = marker
    score.dump_midi(str(whole / "sample_2_000.mid"))
    assert main([*run, "-o", str(whole), "--piece", "0", "--overwrite"]) == 0  # read as the same request
    assert (whole / "sample_2_000.mid").read_bytes() == before["sample_2_000.mid"]
    assert (whole / "sample_2_001.png").is_file()  # a piece's roll not written again stays beside it
    for bad, said in (("3", "3 is"), ("1,3", "3 is"), ("1-5", "3 … 5 are"), ("0-99999", "3 … 99999 are")):
        assert main([*run, "-o", str(tmp_path / "bad"), "--piece", bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"--piece: {said} not among the pieces of -n 3, numbered 0 to 2" in err[0], err
    for bad, said in (("x", "give piece numbers as in the file names"), ("-1", "give piece numbers"),
                      ("2-1", "2-1 is no range of piece numbers")):
        with pytest.raises(SystemExit):
            main([*run, "-o", str(tmp_path / "bad"), "--piece", bad])
        assert said in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_two_markers_name_the_same_request_in_any_order_and_form_and_with_defaults_said_or_not():
    from timestepmusic.requests import same_request

    made = "TimeStepMusic 0.1.0: "
    same = ("tsm generate -n 2 --piece 1", "tsm generate --piece=1 -n2 --seconds 16 --model default",
            "tsm generate -n 2 (piece 2 of 2)")
    assert all(same_request(made + a, made + same[0]) for a in same)
    assert same_request(made + "tsm generate --set ar.a=1 --set ar.b=2", made + "tsm generate --set ar.b=2 --set ar.a=1")
    assert same_request(made + "tsm generate --set 'ar.a = 0.70' --set ar.b=TRUE",
                         made + "tsm generate --set ar.a=0.7 --set ar.b=true")  # a value as the config reads it
    assert not same_request(made + "tsm generate --set ar.a=0.71", made + "tsm generate --set ar.a=0.7")
    assert not same_request(made + "tsm generate --set 'ar.a=\"1\"'", made + "tsm generate --set ar.a=1")  # a string
    assert not same_request(made + "tsm generate --set 'ar.a=[true]'", made + "tsm generate --set 'ar.a=[True]'")
    for other in ("tsm generate -n 3 --piece 1", "tsm generate -n 2 --piece 0", "tsm generate -n 2 --seconds 8 --piece 1",
                  "tsm generate -n 2 --max-seconds 16 --piece 1", "tsm generate -n 2 --piece 1 --key C"):
        assert not same_request(made + other, made + same[0]), other
    assert not same_request("TimeStepMusic 0.0.9: " + same[0], made + same[0])  # another version: other notes
    assert not same_request(None, made + same[0]) and not same_request(made + "tsm generate --no-such", made + same[0])
    assert not same_request(made + "tsm stats corpus", made + "tsm generate")  # another command's


def test_a_request_is_said_one_way_however_it_was_typed_and_reads_back_as_typed():
    from timestepmusic.cli_parser import build_parser
    from timestepmusic.requests import request_from, request_words

    def said(*words: str) -> list[str]:
        return request_words(request_from(vars(build_parser().parse_args(["generate", *words]))))

    assert said() == said("-n", "8", "--seed", "0", "--seconds", "16", "--model", "default", "--device", "cpu") == [
        "generate"]  # the defaults, given or not
    assert said("--max-seconds", "16") == ["generate", "--max-seconds", "16"]  # (--seconds 16 is the default without it)
    typed = ("-vn3", "--seed=7", "--seconds", "1:30", "--key", "E minor", "--set", "ar.b=2", "--tempo", "80 > 120",
             "--set", "ar.a=3", "--set", "ar.b=1", "--guidance", "-0.5", "--no-snap", "--temperature", "0.7",
             "-o", "elsewhere", "--png", "--overwrite", "--threads", "2", "--piece", "1")
    words = ["generate", "-n", "3", "--seconds", "90", "--seed", "7", "--key", "E minor", "--tempo", "80 > 120",
             "--guidance=-0.5", "--temperature", "0.7", "--set", "ar.a=3", "--set", "ar.b=1", "--no-snap"]
    assert said(*typed) == words  # in --help's order, spelled out, each --set once (its last), nothing unheard
    assert said(*words[1:]) == words  # what it says reads as the request typed (less the piece, made_by's)
    assert request_from(vars(build_parser().parse_args(words))) == request_from(vars(build_parser().parse_args(
        ["generate", *typed]))) | {"piece": None}
    assert said("--seed", "1") != said() and said("--set", "ar.b=1", "--set", "ar.b=2") != said("--set", "ar.b=1")


def test_a_quiet_run_writes_the_same_marker_as_a_spoken_one():
    """-q changes what is said, not a note: its files are the same request, byte for byte, as those of a run without it
    (a marker that named --quiet made `tsm generate -q` differ from `tsm generate` and its --piece redraw)."""
    from timestepmusic.cli_parser import build_parser
    from timestepmusic.requests import request_from, request_words, same_request

    def said(*words: str) -> list[str]:
        return request_words(request_from(vars(build_parser().parse_args(["generate", *words]))))

    assert said("-q") == said("--quiet") == said() == ["generate"]
    assert said("-q", "--seed", "3") == said("--seed", "3")
    made = "TimeStepMusic 0.1.0: "
    assert same_request(made + "tsm generate --quiet --piece 3", made + "tsm generate --piece 3")  # (written before)


def test_the_same_request_typed_otherwise_gives_the_same_file(events_run, tmp_path):
    import symusic

    alone = ["--model", str(events_run), "--seconds", "1", "--piece", "1"]
    assert main(["generate", *alone, "-o", str(tmp_path / "a")]) == 0  # -n 8, --seed 0: their defaults …
    assert main(["generate", "--seed=0", "--device", "cpu", "--seconds=0:01", "-n8", "--model", str(events_run),
                 "--piece=1", "-o", str(tmp_path / "b")]) == 0  # … given, in other words and another order
    assert (tmp_path / "a" / "sample_0_001.mid").read_bytes() == (tmp_path / "b" / "sample_0_001.mid").read_bytes()
    (marker,) = symusic.Score(str(tmp_path / "b" / "sample_0_001.mid")).markers
    assert marker.text.endswith(f": tsm generate --seconds 1 --model {events_run} --piece 1")


def test_a_marker_records_the_files_it_read_as_typed_not_where_they_lie(events_run, tiny_corpus, tmp_path,
                                                                          monkeypatch):
    """A file shared says nothing of the folders it was made in (no absolute path the user did not type), and its
    command draws it again from where it was typed ('..' kept: through a link it is not the folder above); the same
    files named otherwise, or by an earlier version's absolute paths, are one request."""
    import os
    import shlex

    from timestepmusic.markers import made_by_marker
    from timestepmusic.requests import same_request

    prompt_file = next((tiny_corpus.parent / "midi").rglob("*.mid"))
    here = tmp_path / "here"
    (here / "sub").mkdir(parents=True)
    monkeypatch.chdir(here)
    model, prompt = os.path.relpath(events_run), os.path.relpath(prompt_file)
    typed = ["--model", f"./{model}", "--prompt", f"sub/../{prompt}", "--seconds", "1", "-n", "2", "--piece", "1"]
    assert main(["generate", *typed, "-o", "a"]) == 0
    marker = made_by_marker(here / "a" / "sample_0_001.mid")
    assert marker.endswith(f": tsm generate -n 2 --seconds 1 --model {model} --prompt sub/../{prompt} --piece 1")
    assert str(tmp_path) not in marker  # (where it was made: not said)
    assert main([*shlex.split(marker.partition(": tsm ")[2]), "-o", "b"]) == 0  # the marker's command: the same file
    assert (here / "b" / "sample_0_001.mid").read_bytes() == (here / "a" / "sample_0_001.mid").read_bytes()
    version = marker.partition(": ")[0] + ": "
    for earlier in (["--model", str(events_run), "--prompt", str(prompt_file)],  # an earlier version's absolute paths
                    ["--model", model, "--prompt", prompt]):  # the same files named otherwise
        assert same_request(version + shlex.join(["tsm", "generate", *earlier, *typed[4:]]), marker), earlier
    assert not same_request(version + shlex.join(["tsm", "generate", "--model", model, "--prompt",
                                                    str(next(p for p in (tiny_corpus.parent / "midi").rglob("*.mid")
                                                             if p != prompt_file)), *typed[4:]]), marker)
    assert main(["generate", *typed, "-o", "a", "--overwrite"]) == 0  # (--piece asked again: the same request)


def test_pieces_written_alone_across_batches_are_those_of_the_whole_run(events_run, tmp_path, monkeypatch):
    from timestepmusic import draws

    monkeypatch.setattr(draws, "BATCH_PIECES", 2)  # (256 pieces a batch, as the shipped code draws: too slow here)
    run = ["generate", "--model", str(events_run), "--seconds", "1", "-n", "5", "--seed", "4"]
    assert main([*run, "-o", str(tmp_path / "whole")]) == 0
    assert main([*run, "-o", str(tmp_path / "alone"), "--piece", "4,1"]) == 0
    for name in ("sample_4_001.mid", "sample_4_004.mid"):
        assert (tmp_path / "alone" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


def test_each_file_says_the_command_that_drew_it_and_the_same_request_gives_the_same_file(events_run, tmp_path,
                                                                                           monkeypatch):
    import symusic

    request = ["generate", "--model", str(events_run), "--seconds", "1", "-n", "2", "--seed", "3"]
    assert main([*request, "-o", str(tmp_path / "a")]) == 0
    assert main([*request, f"--out={tmp_path / 'b'}", "--png", "--overwrite"]) == 0  # where it goes: no note changes
    font = tmp_path / "font.sf2"
    font.write_bytes(b"RIFF" + (4).to_bytes(4, "little") + b"sfbk")  # (its audio is not what is compared)
    assert main([*request, "-vo", str(tmp_path / "c"), "--wav", "--soundfont", str(font)]) == 0
    for name in ("sample_3_000.mid", "sample_3_001.mid"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "c" / name).read_bytes()
    with pytest.raises(SystemExit):  # an abbreviated flag is not read (the marker names flags as given)
        main([*request, "--ou", str(tmp_path / "d")])
    (marker,) = symusic.Score(str(tmp_path / "a" / "sample_3_001.mid")).markers
    assert marker.text.startswith("TimeStepMusic") and marker.text.endswith(
        f": tsm generate -n 2 --seconds 1 --seed 3 --model {events_run} --piece 1")  # the command that draws it alone
    from timestepmusic.evaluate import plots
    from timestepmusic.markers import made_by_marker

    assert made_by_marker(tmp_path / "a" / "sample_3_001.mid") == marker.text
    assert made_by_marker(write_events(read_events(tmp_path / "a" / "sample_3_001.mid")[0], tmp_path / "mine.mid")) is None
    titles = []  # a roll of a generated file shows the command under its name, from generate --png and from plot
    monkeypatch.setattr(plots, "plot_roll", lambda events, path, title=None, **kw: titles.append(title) or Path(path))
    assert main([*request, "-o", str(tmp_path / "e"), "--png"]) == 0
    assert main(["plot", str(tmp_path / "a" / "sample_3_001.mid"), "-o", str(tmp_path / "roll.png")]) == 0
    assert titles[1:] == [f"sample_3_001.mid\n{marker.text}"] * 2  # generate's second piece, then plot's


def test_a_large_n_is_drawn_and_written_a_batch_at_a_time(events_run, tmp_path, monkeypatch, capsys):
    from timestepmusic import draws
    from timestepmusic.midi import read_events

    request = ["generate", "--model", str(events_run), "--seconds", "1", "--seed", "2"]
    assert main([*request, "-n", "2", "-o", str(tmp_path / "two")]) == 0
    monkeypatch.setattr(draws, "BATCH_PIECES", 2)
    drawn = []
    written_pieces = draws.written_pieces
    monkeypatch.setattr(draws, "written_pieces", lambda gan, n, *rest, **kw: drawn.append(n) or written_pieces(
        gan, n, *rest, **kw))
    capsys.readouterr()
    assert main([*request, "-n", "5", "-o", str(tmp_path / "five")]) == 0
    assert drawn == [2, 2, 1]  # never more than a batch in memory
    err = capsys.readouterr().err
    assert "pieces 1–2 of 5:" in err and "pieces 5–5 of 5:" in err
    five = sorted((tmp_path / "five").glob("*.mid"))
    assert [p.name for p in five] == [f"sample_2_00{i}.mid" for i in range(5)]
    notes = [read_events(p)[0].start_s.tolist() for p in five]
    for i in range(2):  # the first batch: drawn as -n 2 draws them
        assert notes[i] == read_events(tmp_path / "two" / f"sample_2_00{i}.mid")[0].start_s.tolist()
    assert notes[2] != notes[0] and notes[3] != notes[1]  # later batches: other seeds, not the first batch again


def test_what_generate_would_do_unasked_is_said(events_run, tmp_path, capsys, caplog):
    for flags, says in ((["--list", "--info"], "--list and --info: give one"), (["-o", ""], "-o: an empty name"),
                        (["--json"], "--json goes with --info"),
                        (["-o", str(tmp_path / "piece.mid")], "the folder to write into"),
                        (["--list", "-o", str(tmp_path / "z9")], "error: -o: not read with --list, which draws nothing"),
                        (["--info", "--model", "conv-v1", "--seconds", "30"],  # (flags of drawing: not silently ignored)
                         "error: --seconds: not read with --info, which draws nothing (it says how the model was trained)"),
                        (["--info", "--key", "Em", "-n", "3"], "error: -n, --key: not read with --info")):
        assert main(["generate", *flags]) == 2
        assert says in capsys.readouterr().err
    assert not (tmp_path / "z9").exists()
    assert main(["generate", "--model", str(events_run), "-n", "1", "--seconds", "1.1", "-o", str(tmp_path)]) == 0
    assert "--seconds 1.1: each piece is drawn as 4 chunks of 0.25 s = 1 s (pieces are whole chunks)" in caplog.text
    assert "s long (1 s drawn)" in capsys.readouterr().out
    slashed = tmp_path / "takes.mid"  # a folder's name that looks like a file's, the slash saying it is a folder
    assert main(["generate", "--model", str(events_run), "-n", "1", "--seconds", "1", "-o", f"{slashed}/"]) == 0
    assert (slashed / "sample_0_000.mid").is_file()


def test_prompt_seconds_continues_from_inside_the_prompt(events_run, tiny_corpus, tmp_path, capsys, caplog):
    prompt_file = next((tiny_corpus.parent / "midi").rglob("*.mid"))
    whole, _ = read_events(prompt_file)
    out = tmp_path / "cut"
    assert main(["generate", "--model", str(events_run), "--prompt", str(prompt_file), "--prompt-seconds", "3",
                 "--seconds", "2", "-n", "1", "-o", str(out)]) == 0
    piece, _ = read_events(out / "sample_0_000.mid")
    before = piece.start_s < 3.0 - 1e-3
    given = whole.start_s < 3.0
    assert int(before.sum()) == int(given.sum())  # the prompt's events up to the cut, nothing after it
    assert piece.start_s[before] == pytest.approx(np.sort(whole.start_s[given]), abs=1e-3)  # as played, to the tick
    assert piece.start_s.max() < 3.0 + 2.0 and (piece.start_s >= 3.0).any()  # then 2 s of its own
    model = GANModel.load(events_run)
    for cut_s, chunks in ((3.0, 12), (2.9, 11)):  # rounded down to whole chunks; no empty chunk after the cut
        cut = prompt_until(whole, cut_s, 0.25)
        assert model.ae.encode_events(cut)[0].shape[0] == chunks
        assert model.sample_latents(1, 2.0, seed=0, prompt=cut)[0].shape[0] == chunks + 8
    held = whole.take(np.flatnonzero(given))  # written as played: what rings across the cut rings on
    assert (held.start_s + held.duration_s > 3.05).any()  # (this prompt holds a sound across it)
    drawn = model.sample(1, 2.0, seed=0, prompt=prompt_until(whole, 3.0, 0.25))[0]
    kept = drawn.take(np.flatnonzero(drawn.start_s < 3.0))
    assert (kept.ids == held.ids).all() and (kept.start_s == held.start_s).all()
    assert (kept.duration_s == held.duration_s).all()
    assert "--prompt-seconds 2.9: the prompt is cut at whole chunks of 0.25 s: continued from 2.75 s" in caplog.text
    assert "drawn after the prompt's 3.00 s" in capsys.readouterr().out  # where the new music starts
    for flags, words in ((["--prompt-seconds", "3"], "--prompt"),
                         (["--prompt", str(prompt_file), "--prompt-seconds", f"{whole.end_s + 5:g}"], "past its end"),
                         (["--prompt", str(prompt_file), "--prompt-seconds", "0"], "> 0"),
                         (["--prompt", str(prompt_file), "--prompt-seconds", "0.1"], "shorter than one chunk (0.25 s)"),
                         (["--max-seconds", "3", "--seconds", "2"], "--max-seconds")):
        assert main(["generate", "--model", str(events_run), "-o", str(tmp_path / "x"), *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and "\n" not in err
    assert main(["generate", "--model", str(events_run), "--seconds", "1", "-n", "1", "--no-snap",
                 "-o", str(tmp_path / "y")]) == 0  # nothing to snap: said, and ignored
    assert "nothing to snap" in caplog.text


def entropy(values: torch.Tensor) -> float:
    """The entropy (nats) of the values drawn [n]: how spread the draws are."""
    _, counts = torch.unique(values, return_counts=True)
    p = counts.float() / values.numel()
    return float(-(p * p.log()).sum())


def test_temperature_sharpens_what_is_played_not_how_much():
    torch.manual_seed(2)
    head = EventHead(width=8, hidden=16, max_events=15, chunk_seconds=0.25)
    with torch.no_grad():
        head.out["key"][-1].bias.mul_(20)  # keys of clearly unequal odds
        head.out["key"][-1].bias[-1] = head.out["key"][-1].bias[:-1].max() + 1  # the stop: often, not always
    features = torch.randn(1, 8).expand(2000, 8)  # one chunk's features: every row draws from the same odds
    drawn = {t: EventSampler(head).sample(features, torch.Generator().manual_seed(0), temperature=t) for t in (1.0, 0.2)}
    sizes = {t: d.sizes.float().mean() for t, d in drawn.items()}
    assert 0.5 < sizes[1.0] < 5  # neither empty nor full chunks
    assert abs(sizes[0.2] - sizes[1.0]) < 0.15 * sizes[1.0]  # a tempered stop (the likeliest) would end most at once
    notes = {t: d.ids[d.mask & (d.ids < 88)] for t, d in drawn.items()}
    pedals = {t: float((d.ids[d.mask] >= 88).float().mean()) for t, d in drawn.items()}
    assert abs(pedals[0.2] - pedals[1.0]) < 0.05  # notes or pedals: at the model's odds
    assert entropy(notes[0.2]) < entropy(notes[1.0]) - 0.5  # which key: sharpened


def test_the_start_temperature_sharpens_when_events_start_not_what_is_played():
    torch.manual_seed(3)
    head = EventHead(width=8, hidden=16, max_events=15, chunk_seconds=0.25)
    with torch.no_grad():
        head.out["start"][-1].bias.mul_(20)  # start bins of clearly unequal odds
        head.out["key"][-1].bias[-1] = head.out["key"][-1].bias[:-1].max() + 1  # the stop: often, not always
    features = torch.randn(1, 8).expand(2000, 8)  # every row draws from the same odds
    drawn = {t: EventSampler(head).sample(features, torch.Generator().manual_seed(0), start_temperature=t)
             for t in (1.0, 0.2)}
    firsts = {t: d.offset_s[d.sizes > 0, 0] for t, d in drawn.items()}  # each chunk's first start [rows]
    assert entropy(firsts[0.2]) < entropy(firsts[1.0]) - 0.5  # when: sharpened
    keys = {t: d.ids[d.mask] for t, d in drawn.items()}
    assert abs(entropy(keys[0.2]) - entropy(keys[1.0])) < 0.2  # what: at the model's odds
    sizes = {t: d.sizes.float().mean() for t, d in drawn.items()}
    assert abs(sizes[0.2] - sizes[1.0]) < 0.15 * sizes[1.0]
    with pytest.raises(ValueError, match="ar.start_temperature"):
        Config().override(["ar.start_temperature=0"])


def test_the_velocity_temperature_spreads_the_notes_velocities_not_the_pedals_depths():
    torch.manual_seed(6)
    head = EventHead(width=8, hidden=16, max_events=15, chunk_seconds=0.25)
    with torch.no_grad():
        head.out["intensity"][-1].bias.copy_(-0.01 * (torch.arange(128.0) - 64).pow(2))  # velocities about 64
        head.out["key"][-1].bias[88:91] += 2.0  # pedals often enough to measure
    features = torch.randn(1, 8).expand(3000, 8)
    drawn = {t: EventSampler(head).sample(features, torch.Generator().manual_seed(0), velocity_temperature=t)
             for t in (1.0, 1.5)}
    spread = {t: d.intensity[d.mask & (d.ids < 88)].float().std() for t, d in drawn.items()}
    depth = {t: d.intensity[d.mask & (d.ids >= 88)].float().std() for t, d in drawn.items()}
    assert spread[1.5] > 1.15 * spread[1.0]  # logits ÷ 1.5: the velocities about √1.5 times as spread
    assert abs(depth[1.5] - depth[1.0]) < 0.05 * depth[1.0]  # a pedal's depth at the model's odds
    told = torch.cat([features, torch.randn(1, 8).expand(3000, 8)])  # guided: told rows, then untold ones
    guided = {t: EventSampler(head).sample(told, torch.Generator().manual_seed(0), guidance=2.0, velocity_temperature=t)
              for t in (1.0, 1.5)}
    spread = {t: d.intensity[d.mask & (d.ids < 88)].float().std() for t, d in guided.items()}
    assert spread[1.5] > 1.15 * spread[1.0]
    with pytest.raises(ValueError, match="ar.velocity_temperature"):
        Config().override(["ar.velocity_temperature=0"])


def test_the_duration_tilt_holds_notes_longer_and_leaves_the_pedals_presses_alone():
    torch.manual_seed(6)
    head = EventHead(width=8, hidden=16, max_events=15, chunk_seconds=0.25)
    with torch.no_grad():
        head.out["key"][-1].bias[88:91] += 2.0  # pedals often enough to measure
    features = torch.randn(1, 8).expand(3000, 8)
    for guided in (False, True):
        told = torch.cat([features, torch.randn(1, 8).expand(3000, 8)]) if guided else features
        drawn = {b: EventSampler(head).sample(told, torch.Generator().manual_seed(0), guidance=2.0 if guided else 1.0,
                                              duration_tilt=b) for b in (0.0, 0.5)}
        held = {b: d.duration_s[d.mask & (d.ids < 88)].log().mean() for b, d in drawn.items()}  # ln s, notes
        pressed = {b: d.duration_s[d.mask & (d.ids >= 88)].log().mean() for b, d in drawn.items()}  # … pedals
        assert held[0.5] > held[0.0] + 0.5  # a tilt of ½ per ln s: notes held for more than e^½ as long
        assert abs(pressed[0.5] - pressed[0.0]) < 0.1  # a pedal's press at the model's odds
    with pytest.raises(ValueError, match="ar.duration_tilt"):
        Config().override(["ar.duration_tilt=nan"])


def test_the_stop_bias_shortens_chunks_that_hold_an_event_and_the_empty_bias_empties_fewer():
    torch.manual_seed(4)
    head = EventHead(width=8, hidden=16, max_events=15, chunk_seconds=0.25)
    with torch.no_grad():
        head.out["key"][-1].bias[-1] = head.out["key"][-1].bias[:-1].max() + 1  # the stop: often, not always
    features = torch.randn(1, 8).expand(2000, 8)
    drawn = {b: EventSampler(head).sample(features, torch.Generator().manual_seed(0), stop_bias=b) for b in (0.0, 2.0)}
    assert 1 < drawn[0.0].sizes.float().mean() < 14  # neither empty nor full chunks
    assert drawn[2.0].sizes.float().mean() < 0.8 * drawn[0.0].sizes.float().mean()
    assert torch.equal(drawn[2.0].sizes == 0, drawn[0.0].sizes == 0)  # the first choice as it was: no more silence
    fewer_empty = EventSampler(head).sample(features, torch.Generator().manual_seed(0), empty_bias=-2.0)
    assert 0.02 < (drawn[0.0].sizes == 0).float().mean()  # some chunks empty …
    assert (fewer_empty.sizes == 0).float().mean() < 0.5 * (drawn[0.0].sizes == 0).float().mean()  # … fewer now
    held = drawn[0.0].sizes > 0
    assert torch.equal(fewer_empty.sizes[held], drawn[0.0].sizes[held])  # and a chunk that holds events ends as it did
    for name in ("stop_bias", "empty_bias"):
        with pytest.raises(ValueError, match=f"ar.{name}"):
            Config().override([f"ar.{name}=inf"])


def test_the_empty_ramp_keeps_a_pause_at_the_networks_odds_and_cuts_a_long_silence_short():
    torch.manual_seed(4)
    head = EventHead(width=8, hidden=16, max_events=15, chunk_seconds=0.25)
    with torch.no_grad():
        head.out["key"][-1].bias[-1] = head.out["key"][-1].bias[:-1].max() + 3  # the stop: often, not always
    rows = 2000
    features = torch.randn(1, 8).expand(rows, 8)
    def draw(latest_note_s: float, **bias) -> torch.Tensor:  # the share of empty chunks, the latest note that long ago
        onsets = (torch.full((rows, 4), -torch.inf, dtype=torch.float64),
                  torch.full((rows,), latest_note_s, dtype=torch.float64))
        sets = EventSampler(head).sample(features, torch.Generator().manual_seed(0), onsets=onsets, **bias)
        return sets.sizes
    plain = draw(-0.1)
    empty = (plain == 0).float().mean()
    assert 0.05 < empty < 0.95
    just_played = draw(-0.1, empty_bias=-3.0, empty_ramp_s=2.0)  # 0.1 s after a note: a twentieth of the bias
    assert (just_played == 0).float().mean() > 0.8 * empty
    long_silent, always = draw(-3.0, empty_bias=-3.0, empty_ramp_s=2.0), draw(-3.0, empty_bias=-3.0)
    assert torch.equal(long_silent, always)  # past the ramp: all of it, draw for draw
    assert (always == 0).float().mean() < 0.5 * empty
    never_played = draw(-torch.inf, empty_bias=-3.0, empty_ramp_s=2.0)  # no note yet: all of it
    assert torch.equal(never_played, draw(-torch.inf, empty_bias=-3.0))
    with pytest.raises(ValueError, match="ar.empty_ramp_s"):  # it needs the notes heard
        EventSampler(head).sample(features[:2], torch.Generator().manual_seed(0), empty_bias=-1.0, empty_ramp_s=1.0)
    for bad in ("-1", "inf", "nan"):
        with pytest.raises(ValueError, match="ar.empty_ramp_s"):
            Config().override([f"ar.empty_ramp_s={bad}"])


def test_a_model_without_the_beat_echo_samples_with_the_empty_ramp(tmp_path, monkeypatch):
    heard = []
    spy_on_event_sampler(monkeypatch, lambda arguments: heard.append(
        (arguments.get("empty_ramp_s"), arguments.get("onsets") is not None)))
    assert main(["generate", "-n", "1", "--seconds", "1", "-o", str(tmp_path / "a"), "--set", "ar.beat_echo=0",
                 "--set", "ar.empty_ramp_s=2"]) == 0
    assert heard and set(heard) == {(2.0, True)}  # the onsets heard, for the ramp alone


def test_with_onsets_the_biases_move_the_next_choices_end():
    torch.manual_seed(5)
    head = EventHead(width=8, hidden=16, max_events=15, chunk_seconds=0.25, onsets=True)
    with torch.no_grad():
        head.out["next"][-1].bias[END] += 1.0  # the end: often, not always
    features = torch.randn(1, 8).expand(2000, 8)
    def draw(**bias) -> SetBatch:
        return EventSampler(head).sample(features, torch.Generator().manual_seed(0), **bias)
    plain, shorter, fewer_empty = draw(), draw(stop_bias=2.0), draw(empty_bias=-2.0)
    empty = plain.sizes == 0
    assert 0.05 < empty.float().mean() < 0.95 and plain.sizes.float().mean() > 1
    assert torch.equal(shorter.sizes == 0, empty) and shorter.sizes.float().mean() < 0.8 * plain.sizes.float().mean()
    assert (fewer_empty.sizes == 0).float().mean() < 0.5 * empty.float().mean()
    assert torch.equal(fewer_empty.sizes[~empty], plain.sizes[~empty])


def test_with_onsets_the_join_bias_moves_notes_into_chords():
    from timestepmusic.sequence.voices import ONSET_S

    torch.manual_seed(5)
    head = EventHead(width=8, hidden=16, max_events=15, chunk_seconds=0.25, onsets=True)
    features = torch.randn(1, 8).expand(2000, 8)
    def joined(sets: SetBatch) -> float:  # the share of events within ONSET_S of the one before
        gaps, both = sets.offset_s[:, 1:] - sets.offset_s[:, :-1], sets.mask[:, 1:]  # [R, N − 1] each
        return (gaps[both] <= ONSET_S).double().mean().item()
    def draw(**bias) -> tuple[float, torch.Tensor]:  # the joined share; sizes
        sets = EventSampler(head).sample(features, torch.Generator().manual_seed(0), **bias)
        return joined(sets), sets.sizes
    (plain, sizes), (more, more_sizes), (fewer, _) = draw(), draw(join_bias=2.0), draw(join_bias=-2.0)
    assert 0.05 < plain < 0.95 and fewer < plain - 0.05 and more > plain + 0.05
    assert torch.equal(more_sizes == 0, sizes == 0)  # a chunk's first event joins nothing: empty chunks as they were
    told = torch.cat([features, torch.randn(1, 8).expand(2000, 8)])  # guided: told rows, then untold
    guided = {b: EventSampler(head).sample(told, torch.Generator().manual_seed(0), guidance=2.0, join_bias=b)
              for b in (0.0, 2.0)}
    shares = {b: joined(sets) for b, sets in guided.items()}
    assert shares[2.0] > shares[0.0] + 0.05  # guided, it leans the mixed odds alike
    logits = torch.tensor([[0.5, -1.0, 0.2], [-torch.inf, 0.3, 1.0], [0.1, -torch.inf, -0.4]])  # join, onset, end
    leaned = lean_to_join(logits, 1.5)
    assert torch.allclose(leaned.softmax(1)[:, END], logits.softmax(1)[:, END])  # the end's odds kept …
    assert torch.isclose(leaned[0, 0] - leaned[0, 1], logits[0, 0] - logits[0, 1] + 1.5)  # … joining leaned by 1.5
    assert torch.equal(leaned[1:], logits[1:])  # where one of the two is not allowed, nothing to lean
    with pytest.raises(ValueError, match="ar.join_bias"):  # a head that never chooses to join refuses it
        EventSampler(EventHead(width=8, hidden=16, max_events=15, chunk_seconds=0.25)).sample(
            features[:2], torch.Generator().manual_seed(0), join_bias=1.0)
    with pytest.raises(ValueError, match="ar.join_bias"):
        Config().override(["ar.join_bias=nan"])


def test_the_sampling_settings_reach_the_sampler_from_the_model_and_from_set(tmp_path, monkeypatch):
    heard = []
    spy_on_event_sampler(monkeypatch, lambda arguments: heard.append(
        tuple(arguments.get(k) for k in ("start_temperature", "stop_bias", "empty_bias", "beat_echo", "cluster_guard",
                                         "velocity_temperature", "step_lean", "echo_recency_s"))
        + (arguments.get("onsets") is not None,)))
    assert main(["generate", "-n", "1", "--seconds", "0.5", "-o", str(tmp_path / "a")]) == 0
    assert heard and set(heard) == {(0.6, 0.6, -0.75, 3.0, 1.5, 1.1, 0.35, 0.25, True)}  # the default's own, onsets heard
    heard.clear()
    assert main(["generate", "-n", "1", "--seconds", "0.5", "-o", str(tmp_path / "b"), "--set", "ar.start_temperature=0.9",
                 "--set", "ar.stop_bias=0", "--set", "ar.empty_bias=-1", "--set", "ar.beat_echo=0",
                 "--set", "ar.cluster_guard=0", "--set", "ar.velocity_temperature=1", "--set", "ar.step_lean=0",
                 "--set", "ar.echo_recency_s=0"]) == 0
    assert heard and set(heard) == {(0.9, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, 0.0, False)}


def test_the_shipped_default_draws_events_over_the_latent75_autoencoder(tmp_path, capsys):
    from timestepmusic.autoencoder import load_autoencoder

    model = GANModel.load()  # the default
    assert model.arch == "events" and model.arm.settings.temperature == 1.0  # chosen on validation
    assert (model.arm.settings.end_bias, model.arm.settings.end_rise) == (1.5, 0.3)  # the lengths, calibrated on the
    # training split's (the bias and a rise per minute, against the whole distribution; fitted again in the thirty-first,
    # and in the fifty-fourth with the closing's 10 s after the end head fires)
    assert (model.arm.settings.final_ritard, model.arm.settings.final_ritard_s) == (3.0, 1.0)  # slowing into the final
    # onset (fifty-fourth session)
    assert model.arm.settings.pedal_join_s == 0.02  # lifts of ≤ 20 ms closed
    assert model.arm.settings.in_bins  # times inside their bins, off the grid of their middles (forty-sixth session)
    assert model.arm.settings.echo_recency_s == 0.25  # the echo's votes fade with their lag (forty-seventh session)
    assert model.arm.settings.start_temperature == 0.6  # sharper starts, chosen on validation (twenty-first session) …
    assert (model.arm.settings.stop_bias, model.arm.settings.empty_bias) == (0.6, -0.75)  # … the density calibrated
    assert model.arm.settings.beat_echo == 3.0  # notes keep the beat heard (twenty-second session, validation)
    assert model.arm.settings.cluster_guard == 1.5  # few seconds inside chords (twenty-third session, validation)
    assert model.arm.settings.step_lean == 0.35  # … and steps where a line moves (thirty-first session, validation)
    assert model.arm.settings.soft_kept_up == 0.5  # half the pieces told no una corda keep it up (twenty-sixth)
    assert model.arm.settings.velocity_temperature == 1.1  # the velocities spread as real ones (twenty-seventh)
    assert model.arm.settings.style_path == "loudness,density,damper,half_pedal"  # they walk (twenty-eighth) …
    assert model.arm.paths is not None and model.arm.paths.rows.shape == (59892, 8)  # … along the tracks it keeps
    assert model.arm.settings.carry and model.arm.generator.events.carry is not None  # it hears the past
    assert model.arm.settings.intervals == 4 and model.arm.generator.events.intervals is not None  # and intervals
    assert model.arm.generator.events.tonal is not None and model.arm.generator.style is not None  # key, character
    assert model.arm.generator.events.voices is not None and model.arm.settings.style_drawn  # voices; drawn style
    assert model.arm.settings.register and model.arm.generator.events.register is not None  # the register heard (31st)
    assert model.ae.weights_sha256 == load_autoencoder("ae-latent75").weights_sha256
    assert load_autoencoder().weights_sha256 == model.ae.weights_sha256  # tsm reconstruct's default
    (piece,) = model.sample(1, 2.0, seed=0)
    assert piece.is_note.sum() > 0 and piece.end_s <= 2.0 + 2.0  # rings on at most RELEASE_S
    (piece,) = model.sample(1, 16.0, seed=0)
    notes = piece.is_note & (piece.start_s + piece.duration_s < 16.0)  # (those cut at the end: not their bins')
    bins_s = piece.start_s[notes] / 0.005 - 0.5  # a start at its bin's middle: a whole number
    assert notes.sum() > 50 and np.mean(np.abs(bins_s - np.round(bins_s)) > 0.01) > 0.9
    assert len(np.unique(np.round(piece.duration_s[notes], 6))) > 96  # more durations than bins
    assert main(["generate", "--mixture-temperature", "0.7", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no mixture" in err and "\n" not in err and not (tmp_path / "o").exists()


def test_events_checkpoints_from_before_the_pedal_join_write_their_runs_as_drawn(events_run):
    import json

    from timestepmusic.generation import checkpoint_config

    meta = json.loads((events_run / "last" / "config.json").read_text())
    assert checkpoint_config(meta).ar.pedal_join_s == meta["config"]["ar"]["pedal_join_s"] == 0.02  # today's default
    del meta["config"]["ar"]["pedal_join_s"]
    assert checkpoint_config(meta).ar.pedal_join_s == 0.0  # written before the setting: as drawn, as it sampled then


def test_the_shipped_default_never_lifts_a_pedal_for_twenty_ms_or_less():
    """As drawn, a quarter of the default's consecutive damper events were parted by a lift of 1–20 ms (a duration
    bin is ~10 % wide); its ar.pedal_join_s closes those and keeps longer ones, as a pianist's lifts are."""
    import dataclasses

    from timestepmusic.midi import DAMPER_ID, SOFT_ID

    def lifts(events) -> np.ndarray:  # each pedal's lifts: next press − the latest release before it (as MIDI plays)
        out = []
        for pedal in (DAMPER_ID, SOFT_ID):
            mine = np.flatnonzero(events.ids == pedal)
            mine = mine[np.argsort(events.start_s[mine], kind="stable")]
            reach = np.maximum.accumulate(events.start_s[mine] + events.duration_s[mine])
            out.append(events.start_s[mine][1:] - reach[:-1])
        return np.concatenate(out)

    model = GANModel.load()
    joined = np.concatenate([lifts(p) for p in model.sample(4, 8.0, seed=0)])
    model.arm.settings = dataclasses.replace(model.arm.settings, pedal_join_s=0.0)
    drawn = np.concatenate([lifts(p) for p in model.sample(4, 8.0, seed=0)])
    assert ((drawn > 1e-6) & (drawn <= 0.02)).sum() >= 10  # the draws do lift that briefly …
    assert not ((joined > 1e-6) & (joined <= 0.02)).any()  # … the written pieces never
    assert (joined > 0.02).sum() == (drawn > 0.02).sum() > 0  # and every longer lift is kept
    for beside in ("events-pause", "events-onsets"):  # the shipped models offered beside it join alike
        assert GANModel.load(beside).arm.settings.pedal_join_s == 0.02


def test_the_shipped_onsets_model_leans_toward_chords():
    model = GANModel.load("events-onsets")  # the default + the onset choice (thirty-third session)
    assert model.arm.settings.onsets and model.arm.settings.onsets_leans
    assert model.arm.settings.join_bias == 0.5  # chosen on validation (docs/quality.md, thirty-third session)
    assert GANModel.load().arm.settings.join_bias == 0.0  # the default has no such choice, so no lean
    pieces = model.sample(2, 2.0, seed=0)
    assert all(len(p.ids) > 0 for p in pieces)


def test_threads_are_one_unless_asked_and_change_no_note(events_run, tmp_path, capsys, caplog, monkeypatch):
    import os

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    run = ["generate", "--model", str(events_run), "--seconds", "1", "-n", "2", "--seed", "4"]
    try:
        torch.set_num_threads(2)
        assert main([*run, "-o", str(tmp_path / "one")]) == 0
        assert torch.get_num_threads() == 1  # several threads beside another job wait on each other at every step
        assert main([*run, "-o", str(tmp_path / "two"), "--threads", "2"]) == 0
        assert torch.get_num_threads() == 2
        for name in ("sample_4_000.mid", "sample_4_001.mid"):  # the same notes and the same marker
            assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
        assert main([*run, "-o", str(tmp_path / "one"), "--threads=2", "--piece", "1", "--overwrite"]) == 0
        many = (os.cpu_count() or 1) + 1
        assert main([*run, "-o", str(tmp_path / "many"), "--threads", str(many)]) == 0
        assert f"--threads {many}: this machine has {many - 1} cores" in caplog.text
        capsys.readouterr()
        for bad in ("0", "two", "-1"):
            with pytest.raises(SystemExit):
                main([*run, "-o", str(tmp_path / "bad"), "--threads", bad])
            assert "--threads" in capsys.readouterr().err
    finally:
        torch.set_num_threads(before)


def test_a_fresh_process_takes_one_thread_or_the_users_omp_setting():
    import os
    import subprocess
    import sys

    probe = ("import os, sys; from timestepmusic.cli import _use_threads; _use_threads(None if sys.argv[1] == '-' "
             "else int(sys.argv[1])); import torch; print(os.environ['OMP_NUM_THREADS'], torch.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}

    def threads(asked: str, **extra: str) -> list[str]:  # → [OMP_NUM_THREADS as torch found it, torch's threads]
        return subprocess.run([sys.executable, "-c", probe, asked], env=dict(env, **extra), check=True,
                              capture_output=True, text=True).stdout.split()
    assert threads("-") == ["1", "1"]  # (torch itself would take every core)
    assert threads("4")[0] == "4" and threads("-", OMP_NUM_THREADS="4")[0] == "4"  # (torch caps it at the cores)
    assert threads("2", OMP_NUM_THREADS="4")[0] == "2"
    assert threads("-", OMP_NUM_THREADS="abc") == ["1", "1"]  # (not a number: one, with a warning)


def test_overwrite_replaces_only_what_generate_wrote(events_run, tmp_path, capsys):
    run = ["generate", "--model", str(events_run), "--seconds", "1", "-n", "2", "--seed", "5", "-o", str(tmp_path)]
    assert main([*run, "--png"]) == 0
    earlier = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    foreign_midi = tmp_path / "sample_5_005.mid"  # a performance of the user's under generate's name
    write_events(read_events(tmp_path / "sample_5_000.mid")[0], foreign_midi)  # (the notes without the marker)
    for name, text in (("sample_5_001.wav", b"MThd not audio"), ("sample_5_002.png", b"a text file"),
                       ("sample_5_003.png", b"\x89PNG\r\n\x1a\n a plot of the user's, no MIDI file beside it")):
        (tmp_path / name).write_bytes(text)
    for foreign in ("sample_5_005.mid", "sample_5_001.wav", "sample_5_002.png", "sample_5_003.png"):
        kept = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
        capsys.readouterr()
        assert main([*run, "--overwrite"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "not a file tsm generate wrote" in err[0], err
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == kept  # nothing removed or replaced
        assert main(run) == 2  # without --overwrite: called the user's, not an earlier run's
        assert "is there already and is not a file tsm generate wrote" in (err := capsys.readouterr().err)
        assert "it is never replaced, with --overwrite or without" in err
        (tmp_path / foreign).unlink()
    assert main([*run, "--png", "--overwrite"]) == 0  # what it wrote itself it replaces
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == earlier


def test_a_continued_prompt_keeps_its_files_tempos_bars_and_key(events_run, tiny_corpus, tmp_path, monkeypatch):
    import symusic

    score = symusic.Score(str(next((tiny_corpus.parent / "midi").rglob("*.mid"))))
    score.tempos = [symusic.Tempo(0, qpm=90.0), symusic.Tempo(score.ticks_per_quarter * 2, qpm=96.0)]
    score.time_signatures = [symusic.TimeSignature(0, 3, 4)]
    score.key_signatures = [symusic.KeySignature(0, -3, 0)]  # E♭ major
    prompt_file = tmp_path / "daw.mid"
    score.dump_midi(str(prompt_file))
    run = ["generate", "--model", str(events_run), "--prompt", str(prompt_file), "--seconds", "2", "-n", "1"]

    def grid(folder: str) -> tuple[list, list, list]:
        written = symusic.Score(str(next((tmp_path / folder).glob("*.mid"))), ttype="second")
        return ([(round(t.time, 3), round(t.qpm, 2)) for t in written.tempos],
                [(round(m.time, 3), m.numerator, m.denominator) for m in written.time_signatures],
                [(round(k.time, 3), k.key, k.tonality) for k in written.key_signatures])
    from timestepmusic import midi

    read, file_bytes = [], midi.file_bytes
    monkeypatch.setattr(midi, "file_bytes", lambda path: read.append(Path(path)) or file_bytes(path))
    assert main([*run, "-o", str(tmp_path / "kept")]) == 0
    assert read.count(prompt_file) == 1  # its notes and its grid from one reading
    monkeypatch.undo()
    assert grid("kept") == ([(0.0, 90.0), (1.333, 96.0)], [(0.0, 3, 4)], [(0.0, -3, 0)])  # the sequencer's bars go on
    assert main([*run, "--tempo", "120", "--set", "ar.beat_echo=3", "-o", str(tmp_path / "asked")]) == 0
    tempos, meters, keys = grid("asked")
    prompt_s = tempos[2][0]  # the tempo asked starts after the prompt (at a whole chunk) …
    assert prompt_s > 1.333 and prompt_s % 0.25 < 1e-3 and tempos[:2] == [(0.0, 90.0), (1.333, 96.0)]
    assert tempos[-1][1] == 120.0 and meters == [(0.0, 3, 4)] and keys == [(0.0, -3, 0)]  # … the prompt's grid before
    from timestepmusic.keys import Key
    from timestepmusic.midi import read_prompt
    from timestepmusic.sample_files import written_meta
    from timestepmusic.sequence.tonal import KeyTold

    events, drops, prompt_grid, _ = read_prompt(prompt_file)  # its events as read_events reads them, and its grid
    alone, alone_drops = read_events(prompt_file)
    assert drops == alone_drops and all(np.array_equal(getattr(events, name), getattr(alone, name)) for name in (
        "ids", "start_s", "duration_s", "intensity")) and events.end_s == alone.end_s
    meta = written_meta("", KeyTold(Key(2, False)), None, 3.0, 5.0, grid=prompt_grid)  # D major asked
    assert meta.keys == ((0.0, -3, False), (3.0, 2, False))
    assert [(at_s, round(bpm, 3)) for at_s, bpm in meta.tempos] == [(0.0, 90.0), (1.333334, 96.0)]
    written = symusic.Score(str(next((tmp_path / "kept").glob("*.mid"))))
    assert [t.mspq for t in written.tempos] == [t.mspq for t in symusic.Score(str(prompt_file)).tempos]  # exactly
    assert main([*run, "--continuation-only", "-o", str(tmp_path / "new")]) == 0
    from timestepmusic.prompt_grid import grid_from  # (its bar lines: tests/test_midi.py)

    going_on = grid_from(prompt_grid, prompt_s)  # timed from the prompt's end, its bars going on
    assert grid("new") == ([(round(at_s, 3), round(bpm, 2)) for at_s, bpm in going_on.tempos],
                           [(round(at_s, 3), n, d) for at_s, n, d in going_on.meters], [(0.0, -3, 0)])
    assert going_on.tempos[-1][1] == 96.0 and going_on.meters[-1][1:] == (3, 4)
    assert main([*run, "--continuation-only", "--tempo", "110", "--set", "ar.beat_echo=3", "-o", str(tmp_path / "fast")]) == 0
    tempos, meters, keys = grid("fast")  # the tempo asked, in the prompt's meter and key
    assert tempos[-1][1] == 110.0 and meters == [(0.0, 3, 4)] and keys == [(0.0, -3, 0)]


def test_a_prompt_is_continued_after_its_last_sound_and_written_note_for_note(events_run, tmp_path, capsys, caplog):
    """A file that runs on silent for a minute after its last note (a volume controller at 62 s) is continued after its
    last sound, with one line saying so; a chord of 20 notes (more than a chunk's 15 events the model hears) is written
    whole, with one line saying what the model did not hear."""
    from midi_factory import CC, Note, write_midi

    chord = [Note(40 + 2 * i, 960, 1920) for i in range(20)]  # 20 notes at 1 s (480 ticks a quarter, 120 bpm)
    beyond = [Note(10, 960, 1200), Note(120, 960, 1200)]  # below and above the piano's keys
    line = [Note(72 + i % 5, 1920 + 240 * i, 2160 + 240 * i) for i in range(8)]  # then a line to 4 s
    prompt = write_midi(tmp_path / "mine.mid", chord + beyond + line,  # the damper held on after the line, its depth
                        [CC(64, 100, 1920), CC(64, 0, 2400), CC(64, 127, 2400 + 240), CC(64, 60, 4000),  # changed
                         CC(64, 0, 4400), CC(64, 90, 4600), CC(7, 100, 62 * 960)])  # after it, then lifted and pressed again
    out = tmp_path / "out"
    assert main(["generate", "--model", str(events_run), "--prompt", str(prompt), "--seconds", "1", "-n", "1",
                 "-o", str(out)]) == 0
    assert ("its last note ends at 4 s and the file runs on to 62 s with no key held: continued from its last note "
            "(--prompt-seconds 62 continues after all of it)") in caplog.text
    assert "5 of its 30 events fall in 0.25 s chunks of more than 15, of which the model hears the first 15" in caplog.text
    assert "drawn after the prompt's 4.00 s" in capsys.readouterr().out  # (its last sound's end, a chunk's) …
    assert not re.search(r"\d:\d\d", caplog.text)  # … each time said in seconds, as that line says it (not 1:02)
    assert "mine.mid: notes left out: 2 beyond the piano's keys (pitch 21–108)" in caplog.text
    piece, _ = read_events(out / "sample_0_000.mid")
    written = piece.take(np.flatnonzero(piece.start_s < 4.0 - 1e-3))
    notes = written.take(np.flatnonzero(written.is_note))
    assert sorted(notes.ids.tolist()) == sorted(p.pitch - 21 for p in chord + line)  # every note of the prompt
    pedal = written.take(np.flatnonzero(~written.is_note))
    assert pedal.start_s.tolist() == pytest.approx([2.0, 2.75], abs=1e-3)  # and its damper, ringing on past its end
    assert pedal.start_s[1] + pedal.duration_s[1] == pytest.approx(4000 / 960, abs=1e-3)  # to where the pianist
    # changed its depth (4.17 s), as played: the pianist's later pedalling is not the continuation's
    assert piece.start_s.max() < 5.0  # then 1 s of its own, from its last sound


def test_the_roll_of_a_long_prompts_continuation_shows_the_seam(events_run, tmp_path, monkeypatch):
    """`--prompt long.mid --png`: the roll starts 16 s (or the continuation's length) before the continuation, not at
    the prompt's start, where a short continuation would be a sliver at the edge."""
    from timestepmusic.evaluate import render

    from midi_factory import Note, write_midi

    drawn = []
    monkeypatch.setattr(render, "render_outputs", lambda path, events, **kwargs: drawn.append(kwargs) or [])
    prompt = write_midi(tmp_path / "long.mid", [Note(60 + i % 12, 480 * i, 480 * i + 400) for i in range(80)])
    for seconds, shown in (("2", 16.0), ("20", 20.0)):  # the prompt's notes run to 39.9 s: continued from 40 s
        drawn.clear()
        assert main(["generate", "--model", str(events_run), "--prompt", str(prompt), "--seconds", seconds, "-n", "1",
                     "--png", "--overwrite", "-o", str(tmp_path / "out")]) == 0
        (kwargs,) = drawn
        assert kwargs["continuation_s"] == 40.0 and kwargs["span"] == (40.0 - shown, 40.0 + float(seconds))
        assert kwargs["title"].startswith(f"sample_0_000.mid from 0:{40 - shown:02.0f}")
    short = write_midi(tmp_path / "short.mid", [Note(60, 0, 400)])
    assert main(["generate", "--model", str(events_run), "--prompt", str(short), "--seconds", "2", "-n", "1", "--png",
                 "--overwrite", "-o", str(tmp_path / "out")]) == 0
    assert drawn[-1]["span"] is None  # a short prompt: the whole file


def test_ctrl_c_as_a_file_is_written_names_what_the_folder_holds(events_run, tmp_path, capsys, monkeypatch):
    """Ctrl-C as generate --overwrite wrote its first file, once that file was on disk but before write_held
    returned (it then read the notes back at their ticks), said the file was still the earlier run's when it held
    the new piece; now the file is written last: said written, or left as the earlier run's, as it is."""
    import timestepmusic.midi_write as midi_module
    from timestepmusic.markers import made_by_marker

    assert main(["generate", "--model", str(events_run), "-n", "2", "--seconds", "1", "-q", "-o", str(tmp_path)]) == 0
    capsys.readouterr()

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(midi_module, "at_written_ticks", ctrl_c)
    assert main(["generate", "--model", str(events_run), "-n", "2", "--seconds", "2", "--overwrite", "-q", "-o",
                 str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert "interrupted after writing 0 of 2 MIDI file(s); still the earlier run's: sample_0_000.mid" in err
    assert "--seconds 1 " in made_by_marker(tmp_path / "sample_0_000.mid")  # as said: the earlier run's


def test_the_python_generate_reads_what_the_cli_reads(tiny_corpus, tmp_path):
    """generate() takes a prompt's path and the style and key as their text, as the CLI's flags do; a misspelled
    option is named with the nearest one, before anything is drawn; prepare() takes one source as it is."""
    import timestepmusic as tsm

    prompt = next((tiny_corpus.parent / "midi").rglob("*.mid"))
    written = tsm.generate(tmp_path / "out", n=1, seconds=1, style="density=6", key="E minor", prompt=str(prompt))
    piece, _ = read_events(written[0])
    assert piece.end_s > read_events(prompt)[0].end_s  # the prompt, continued
    with pytest.raises(ValueError, match=r"generate\(\): no option 'stlye' \(did you mean 'style'\?\)"):
        tsm.generate(tmp_path / "typo", n=1, seconds=1, stlye="density=6")
    assert not (tmp_path / "typo").exists()
    report = tsm.prepare(str(tiny_corpus.parent / "midi"), tmp_path / "corpus", progress=False)  # one folder's name
    assert report.corpus.num_tracks == Corpus.open(tiny_corpus).num_tracks


def test_ctrl_c_while_generate_writes_says_what_it_wrote(events_run, tmp_path, capsys, monkeypatch):
    import timestepmusic.midi_write as midi_module

    write, calls = midi_module.write_held, []

    def write_then_ctrl_c(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return write(*args, **kwargs)
    monkeypatch.setattr(midi_module, "write_held", write_then_ctrl_c)
    assert main(["generate", "--model", str(events_run), "-n", "3", "--seconds", "1", "-o", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert f"interrupted after writing 1 of 3 MIDI file(s), the last {tmp_path / 'sample_0_000.mid'}" in err
    assert "with --overwrite writes them all again" in err
    assert err.count("interrupted") == 1, err  # (one line: not a bare 'interrupted' under it)
    calls.clear()  # an --overwrite run stopped part way: the earlier run's files still there are named
    assert main(["generate", "--model", str(events_run), "-n", "3", "--seconds", "1", "--overwrite", "-o",
                 str(tmp_path)]) == 130
    assert "still the earlier run's: sample_0_001.mid" not in capsys.readouterr().err  # (the first run wrote only 000)
    monkeypatch.setattr(midi_module, "write_held", write)
    assert main(["generate", "--model", str(events_run), "-n", "3", "--seconds", "1", "--overwrite", "-o",
                 str(tmp_path)]) == 0
    calls.clear()
    monkeypatch.setattr(midi_module, "write_held", write_then_ctrl_c)
    assert main(["generate", "--model", str(events_run), "-n", "3", "--seconds", "2", "--overwrite", "-o",
                 str(tmp_path)]) == 130
    assert "still the earlier run's: sample_0_001.mid, sample_0_002.mid" in capsys.readouterr().err
    monkeypatch.setattr(midi_module, "write_held", write)
    assert main(["generate", "--model", str(events_run), "-n", "3", "--seconds", "1", "--overwrite", "--composer",
                 "Bach", "-o", str(tmp_path)]) == 2  # a request the model cannot follow: refused, nothing replaced
    err = capsys.readouterr().err
    assert "after writing" not in err and len(err.strip().splitlines()) == 1


def test_a_pedal_down_at_a_cut_rings_on_to_its_next_change_of_depth_as_played():
    """A damper pressed at 2 s, its depth changed at 3 s and at 4.17 s, lifted at 6 s. Cut at 4 s, the prompt held
    the press down then to the pianist's lift at 6 s as one press at its first depth: the model heard a press two
    seconds into its music that training never shows it (a pedal's runs end where its depth changes), and held off its
    own pedalling under it (on 60 validation prompts cut so: 0.7–1.0 changes of depth a second in the first 2 s,
    against 2.9–3.3 played there; 3.7 with the run as played). Now the press rings on to its own run's end (4.17 s),
    and the model pedals from there (a press it draws there is joined to it: the test below)."""
    from timestepmusic.midi import DAMPER_ID, SOFT_ID

    events = Events(np.array([40, 41, DAMPER_ID, DAMPER_ID, DAMPER_ID, SOFT_ID, DAMPER_ID]),
                    np.array([0.0, 3.5, 2.0, 3.0, 4.17, 3.9, 6.5]), np.array([3.0, 0.4, 1.0, 1.17, 1.83, 1.0, 1.0]),
                    np.array([64, 70, 127, 100, 60, 127, 90], dtype=np.uint8))
    cut = prompt_until(events, 4.0, 0.25)
    assert [(i, s, round(s + d, 3)) for s, d, i in zip(cut.start_s, cut.duration_s, cut.ids) if i >= DAMPER_ID] == [
        (DAMPER_ID, 2.0, 3.0), (DAMPER_ID, 3.0, 4.17), (SOFT_ID, 3.9, 4.9)]  # as played; nothing pressed after the cut
    assert cut.end_s == pytest.approx(4.0, abs=1e-5)


SECOND = 960  # ticks a second in midi_factory's files (480 a quarter at 120 bpm)
CHUNKS = SimpleNamespace(chunk_seconds=0.25, max_events=15)  # what continued_prompt reads of an autoencoder


def line_to(seconds: float) -> list:
    """A line of half-second notes from 0 to `seconds`, with a bass in whole seconds under it."""
    from midi_factory import Note

    return ([Note(60 + (5 * i) % 12, int(SECOND * i / 2), int(SECOND * (i + 1) / 2)) for i in range(int(2 * seconds))]
            + [Note(36 + i % 4, SECOND * i, SECOND * (i + 1)) for i in range(int(seconds))])


def continued(path: Path, seconds: float | None = None) -> tuple[Events, tuple[int, ...]]:
    """`path` as generate --prompt continues it, and the pedals read_prompt says its file ends with down."""
    from timestepmusic.midi import read_prompt
    from timestepmusic.prompts import continued_prompt

    events, _, _, held = read_prompt(path)
    return continued_prompt(events, CHUNKS, seconds, path, held), held


def pedal_spans(events: Events) -> list[tuple[int, float, float]]:
    """(id, press, release) of each pedal event, in seconds to the millisecond."""
    return [(int(i), round(s, 3), round(s + d, 3)) for i, s, d in zip(events.ids, events.start_s, events.duration_s)
            if i >= NUM_KEYS]


def test_the_prompt_seconds_a_silent_tail_is_told_to_give_are_taken(caplog):
    """A prompt whose file runs on silent after its last note is told '--prompt-seconds END continues after all of
    it', END its end to the millisecond: rounded up (9.0006 s said as 9.001), that cut was refused as past its end;
    and a cut past the end was told to give 'at most' that rounded end."""
    import re

    from timestepmusic.prompts import continued_prompt

    notes = Events(np.arange(4) + 39, np.arange(4.0), np.full(4, 0.9), np.full(4, 0.5))
    notes.end_s = 9.0006  # (ticks to seconds: not a whole millisecond)
    with caplog.at_level("WARNING"):
        continued_prompt(notes, CHUNKS)
    told = re.search(r"--prompt-seconds (\S+) continues after all of it", caplog.text)
    assert told and float(told[1]) <= notes.end_s
    assert continued_prompt(notes, CHUNKS, float(told[1])).end_s == pytest.approx(9.0)
    with pytest.raises(ValueError, match=r"--prompt-seconds 9\.5 is past its end \(9\.001 s\); give at most 9,"):
        continued_prompt(notes, CHUNKS, 9.5)  # (not 'at most that', 9.001, past it too)


def test_a_recording_that_ends_with_the_damper_down_is_continued_with_it_down(tmp_path):
    """Case 1: notes to the file's end (8 s) and the damper down from 5.6 s, never lifted. The reader lifts every pedal
    where a file ends (a piece's end, as training hears it), so the continuation (from 8 s) started with the damper
    up, as if the pianist had lifted it at the cut. Now it rings on into the continuation, as a damper down at a cut
    rings on to its run's end: as long as a damper goes on at its depth at the median (GOES_ON_S, 0.33 s), the model
    pedalling from there. A file whose last message lifts it (0.4 s after its last note) is read as played."""
    from timestepmusic.midi import DAMPER_ID

    from midi_factory import CC, write_midi

    pedal = [CC(64, 100, SECOND), CC(64, 0, 3 * SECOND), CC(64, 120, int(5.6 * SECOND))]
    prompt, held = continued(write_midi(tmp_path / "held.mid", line_to(8), pedal))
    assert held == (DAMPER_ID,) and prompt.end_s == pytest.approx(8.0)
    assert pedal_spans(prompt) == [(DAMPER_ID, 1.0, 3.0), (DAMPER_ID, 5.6, 8.0 + 0.33)]  # (8.0 before)
    prompt, held = continued(write_midi(tmp_path / "lifted.mid", line_to(8), pedal + [CC(64, 0, int(8.4 * SECOND))]))
    assert held == () and pedal_spans(prompt) == [(DAMPER_ID, 1.0, 3.0), (DAMPER_ID, 5.6, 8.4)]  # lifted as played


def test_a_recording_that_ends_with_the_una_corda_and_sostenuto_down_is_continued_with_them_down(tmp_path):
    """Case 2: the una corda down from 4 s and the sostenuto from 6.2 s to the file's end (8 s), never lifted: lifted
    at 8 s, the model heard them lifted and pressed neither again (20 seeds of the default: the una corda down 0.09 of
    the continuation's first 2 s, the sostenuto never). Now each rings on as long as it goes on at its depth at the
    median (3.8 s, 3.7 s; down 1.00 of the first 2 s, and the model pressing the una corda on from there)."""
    from timestepmusic.midi import DAMPER_ID, SOFT_ID, SOSTENUTO_ID

    from midi_factory import CC, write_midi

    prompt, held = continued(write_midi(tmp_path / "soft.mid", line_to(8), [CC(67, 127, 4 * SECOND),
                                        CC(66, 127, int(6.2 * SECOND)), CC(64, 90, 7 * SECOND)]))
    assert sorted(held) == [DAMPER_ID, SOSTENUTO_ID, SOFT_ID]
    assert sorted(pedal_spans(prompt)) == [(DAMPER_ID, 7.0, 8.33), (SOSTENUTO_ID, 6.2, 11.7), (SOFT_ID, 4.0, 11.8)]


def test_a_final_chord_let_ring_with_the_damper_is_continued_with_it_down_not_after_its_silence(tmp_path):
    """Case 3: a final chord struck at 7 s and released at 7.5 s, the damper pressed under it at 7.1 s and never
    lifted. Where the file ends with the chord, the damper rang to 7.5 s and the continuation (from 7.5 s) started
    with it up; now it rings on to 7.5 + 0.33 s. Where the recording runs on 20 s with the damper down (its depth
    moving a little, or a volume controller at the end, or the damper lifted as the file's last message), the silence
    is not waited out (as before) and the damper no longer rings on to 27 s over the continuation's music (what the
    pianist did in the silence is not the continuation's): it rings on as long, to 7.83 s."""
    from timestepmusic.midi import DAMPER_ID

    from midi_factory import CC, Note, write_midi

    notes = [n for n in line_to(7) if n.off <= 7 * SECOND] + [Note(p, 7 * SECOND, int(7.5 * SECOND)) for p in (48, 64, 67)]
    pedal = [CC(64, 100, SECOND), CC(64, 0, 3 * SECOND), CC(64, 110, int(7.1 * SECOND))]
    for name, after in (("chord", []), ("moving", [CC(64, 112, 27 * SECOND)]), ("volume", [CC(7, 100, 27 * SECOND)]),
                        ("lifted", [CC(64, 0, 27 * SECOND)])):
        prompt, _ = continued(write_midi(tmp_path / f"{name}.mid", notes, pedal + after))
        assert prompt.end_s == pytest.approx(7.5), name
        assert pedal_spans(prompt) == [(DAMPER_ID, 1.0, 3.0), (DAMPER_ID, 7.1, 7.5 + 0.33)], name


def test_a_cut_inside_a_pedal_never_lifted_rings_on_past_the_files_end_as_far(tmp_path):
    """Case 4 for comparison: cut (--prompt-seconds) where the damper is down, a press rings on to its run's end, where
    the pianist next changed its depth (as before: test_a_pedal_down_at_a_cut_rings_on_to_its_next_change_of_depth_as_
    played). A run that ends only where the file does (never lifted) rings on to there, and from a cut nearer to the
    file's end than GOES_ON_S, as far as it would from the end: not lifted where the file ends."""
    from timestepmusic.midi import DAMPER_ID

    from midi_factory import CC, write_midi

    pedal = [CC(64, 100, SECOND), CC(64, 0, 3 * SECOND), CC(64, 120, int(5.6 * SECOND))]
    path = write_midi(tmp_path / "held.mid", line_to(8), pedal + [CC(64, 90, int(7.6 * SECOND))])
    assert pedal_spans(continued(path, 7.0)[0]) == [(DAMPER_ID, 1.0, 3.0), (DAMPER_ID, 5.6, 7.6)]  # its run's end
    assert pedal_spans(continued(path, 8.0)[0]) == [(DAMPER_ID, 1.0, 3.0), (DAMPER_ID, 5.6, 7.6),
                                                    (DAMPER_ID, 7.6, 8.33)]  # (to 8.0, the file's end, before)


def test_a_continued_recording_keeps_the_damper_it_ends_with_down_in_the_written_file(events_run, tmp_path):
    """Case 1 as written, by the CLI and by generate(): no CC64 lift between the prompt's last press (5.6 s) and
    the end of its ringing on (8.33 s); before, one at the file's end (8 s)."""
    import symusic

    import timestepmusic as tsm

    from midi_factory import CC, write_midi

    prompt = write_midi(tmp_path / "held.mid", line_to(8), [CC(64, 120, int(5.6 * SECOND))])
    assert main(["generate", "--model", str(events_run), "--prompt", str(prompt), "--seconds", "2", "-n", "1",
                 "-o", str(tmp_path / "cli")]) == 0
    written = [next((tmp_path / "cli").glob("*.mid"))]
    written += tsm.generate(tmp_path / "api", model=events_run, n=1, seconds=2, prompt=str(prompt))
    for path in written:
        damper = [(round(c.time, 3), c.value) for c in symusic.Score(str(path)).to("second").tracks[0].controls
                  if c.number == 64 and c.time < 8.33 - 1e-3]
        assert damper[0] == (5.6, 120) and all(value > 0 for _, value in damper), (path, damper)


def test_a_pedal_pressed_as_the_prompts_last_message_is_down_where_the_continuation_starts(tmp_path):
    """The damper pressed (CC64 127) as the file's last message, at its end (8 s, where its last notes end): a run of
    no length, which the reader left out, so the continuation started with it up though the pianist had just pressed
    it. Now it rings on from there as a pedal held at the end does (GOES_ON_S), cut at the end (--prompt-seconds 8)
    or not; its depth changed at the end (100 → 40) goes on at the new depth, and one lifted and pressed again after
    the last note (the file's end not on a chunk's boundary) is down from its press past the seam."""
    from timestepmusic.midi import DAMPER_ID

    from midi_factory import CC, write_midi

    pressed = write_midi(tmp_path / "pressed.mid", line_to(8), [CC(64, 127, 8 * SECOND)])
    for seconds in (None, 8.0):
        prompt, held = continued(pressed, seconds)
        assert held == (DAMPER_ID,) and prompt_chunks(prompt) == 32, seconds  # (the seam still at 8 s)
        assert pedal_spans(prompt) == [(DAMPER_ID, 8.0, 8.33)], seconds
    changed = write_midi(tmp_path / "changed.mid", line_to(8), [CC(64, 100, int(5.6 * SECOND)), CC(64, 40, 8 * SECOND)])
    prompt, _ = continued(changed)
    assert pedal_spans(prompt) == [(DAMPER_ID, 5.6, 8.0), (DAMPER_ID, 8.0, 8.33)]
    assert prompt.intensity[prompt.ids == DAMPER_ID].tolist() == [100, 40]
    again = write_midi(tmp_path / "again.mid", line_to(8), [CC(64, 100, int(5.6 * SECOND)), CC(64, 0, int(7.5 * SECOND)),
                                                              CC(64, 90, int(8.1 * SECOND))])
    prompt, _ = continued(again)
    assert pedal_spans(prompt) == [(DAMPER_ID, 5.6, 7.5), (DAMPER_ID, 8.1, 8.25 + 0.33)]


def test_a_pedal_pressed_as_the_last_notes_end_is_down_though_the_file_runs_on_after_them(tmp_path):
    """The damper pressed as the prompt's last notes end (8 s), in a file whose tempo track runs on to 10 s (a
    sequencer's marker or tempo event after the playing): the prompt is continued from its last note, and the press,
    at that instant, was left out as pressed in the silence after it, so the continuation started with the damper up,
    where one pressed 10 ms before, or in a file ending at 8 s, was down. Now it is down where the continuation
    starts either way; one pressed after the last note (8.5 s) is still the silence's, left out."""
    from timestepmusic.midi import DAMPER_ID

    from midi_factory import CC, write_midi

    runs_on = ((0, 500_000), (10 * SECOND, 500_000))  # (a tempo event at 10 s: the file's end)
    for tick in (8 * SECOND - 10, 8 * SECOND):
        path = write_midi(tmp_path / f"runs_on_{tick}.mid", line_to(8), [CC(64, 127, tick)], tempos=runs_on)
        prompt, held = continued(path)
        assert held == (DAMPER_ID,) and prompt_chunks(prompt) == 32, tick
        assert [(i, round(end, 2)) for i, _, end in pedal_spans(prompt)] == [(DAMPER_ID, 8.33)], tick
    later = write_midi(tmp_path / "later.mid", line_to(8), [CC(64, 127, int(8.5 * SECOND))], tempos=runs_on)
    assert pedal_spans(continued(later)[0]) == []


def prompt_chunks(prompt: Events) -> int:
    """How many chunks the model hears `prompt` as (where its continuation starts)."""
    from timestepmusic.prompts import prompt_chunks as chunks

    return chunks(CHUNKS, prompt)


def test_a_pedal_pressed_as_the_prompts_last_message_is_written_down_in_the_continuation_only(events_run, tmp_path):
    """The file of `--continuation-only` after a prompt whose last message presses the damper starts with it down (it
    started with it up)."""
    import symusic

    from midi_factory import CC, write_midi

    prompt = write_midi(tmp_path / "pressed.mid", line_to(8), [CC(64, 127, 8 * SECOND)])
    assert main(["generate", "--model", str(events_run), "--prompt", str(prompt), "--seconds", "2", "-n", "1",
                 "--continuation-only", "-o", str(tmp_path / "cli")]) == 0
    written = symusic.Score(str(next((tmp_path / "cli").glob("*.mid")))).to("second")
    damper = [(round(c.time, 3), c.value) for t in written.tracks for c in t.controls if c.number == 64]
    assert damper[0] == (0.0, 127) and all(value > 0 for at_s, value in damper if at_s < 0.33), damper


def test_a_cap_that_is_not_whole_chunks_is_said_and_counted_as_drawn(tmp_path, capsys, caplog):
    """--max-seconds 2.1 draws pieces of at most 2 s: said, as --seconds says it, and the table counts pieces at the
    cap of 2 s (it said 'at max 0.00', as if every piece had ended itself before the cap)."""
    assert main(["generate", "--max-seconds", "2.1", "-n", "2", "-o", str(tmp_path)]) == 0
    assert "--max-seconds 2.1: each piece is drawn as at most 8 chunks of 0.25 s = 2 s (pieces are whole chunks)" in \
        caplog.text
    generated = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("generated"))
    assert generated.split()[-2] == "1.00"  # (the default does not end a piece within its first 10 s)


def test_a_prompt_that_ends_on_a_chunks_boundary_is_continued_from_its_end_not_a_silent_chunk_later(tmp_path):
    """A pianist's trial: a notated file whose last note is released on the beat (at 120 bpm every beat ends a 0.25 s
    chunk) was continued a silent chunk after it (from 2.25 s for a file ending at 2 s): a performance's chunks run one
    past an end on a boundary. Now from its end, as a cut (--prompt-seconds) is; a file ending inside a chunk is
    continued after that chunk, as before."""
    from timestepmusic.prompts import prompt_span_s

    from midi_factory import Note, write_midi

    for name, seconds, seam_s in (("on_the_beat", 2.0, 2.0), ("inside", 2.1, 2.25)):
        notes = line_to(2) + ([Note(72, int(1.9 * SECOND), int(seconds * SECOND))] if seconds != 2.0 else [])
        prompt, _ = continued(write_midi(tmp_path / f"{name}.mid", notes, []))
        assert prompt.end_s == pytest.approx(seconds, abs=1e-5), name
        assert prompt_span_s(CHUNKS, prompt) == pytest.approx(seam_s), name
        assert prompt.is_note.sum() == len(notes), name  # every note kept


def test_a_cut_before_a_prompts_first_note_says_where_that_note_starts():
    """A pianist's take that starts after 40 s of silence, cut with --prompt-seconds 20, was told only that no note
    starts before the cut: not where one does, which is what they need to give a cut that works."""
    take = Events(np.array([39, 43]), np.array([40.0, 40.5]), np.array([0.4, 0.4]), np.array([64, 64]))
    with pytest.raises(ValueError, match=r"take.mid: no note starts before --prompt-seconds 20 .*its first note starts "
                                         r"at 40 s$"):
        prompt_until(take, 20.0, 0.25, "take.mid")


def test_a_prompt_ending_within_a_microsecond_of_its_start_keeps_its_end_and_its_one_chunk():
    """inside_its_last_chunk pulls an end on a chunk's boundary just inside the chunk before it; an end within 1e-6 s of
    0 (Events built in Python: the boundary before the first chunk) was pulled before the start, to -1e-6 s, a prompt
    of no chunks. It keeps its end, and its one chunk; an end on a later boundary is pulled in, as before."""
    from timestepmusic.chunks import count_chunks
    from timestepmusic.prompts import inside_its_last_chunk

    for length_s, end_s, chunks in ((5e-7, 5e-7, 1), (0.5, 0.5 - 1e-6, 2)):
        prompt = Events(np.array([39]), np.array([0.0]), np.array([length_s]), np.array([64]))
        kept = inside_its_last_chunk(prompt, 0.25)
        assert kept.end_s == pytest.approx(end_s, abs=1e-12) and count_chunks(kept.end_s, 0.25) == chunks, length_s


def test_a_composer_asked_of_a_run_of_yours_without_descriptions_says_how_to_train_one_that_walks(events_run, tmp_path,
                                                                                                  capsys):
    """A MAESTRO user's own events run asked --composer was told only that the shipped default walks a performance's
    path: not how to train a model of theirs that does. The line now names the training flag."""
    assert main(["generate", "--model", str(events_run), "--composer", "Chopin", "-n", "1", "--seconds", "2",
                 "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: --composer: the model in {events_run / 'last'} (events) walks no performance's path; the "
                   "shipped default does (and events-onsets, events-v28); a model of yours does when trained as an "
                   "events model with --set ar.style=true, or from --init-from default"), err
    assert not (tmp_path / "out").exists()
