"""A sense of pulse for the event head (ar.pulse, sequence/pulse.py)."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from test_events_arm import TINY_EVENTS
from timestepmusic.batches import ChunkGatherer, SetBatch
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.midi import Events, read_events
from timestepmusic.midi_write import write_events
from timestepmusic.prepare_corpus import prepare
from timestepmusic.sequence.event_head import EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.pulse import (
    ONSETS,
    BeatEcho,
    DrawnOnsets,
    OnsetGatherer,
    PulseLean,
    TempoTold,
    heard_in_chunk,
    onset_of,
    onsets_among,
)
from timestepmusic.train.sequence import train_sequence_model

from conftest import held_out_nll, spy_on_event_sampler, timed_carry

NONE = float("-inf")


def random_sets(rows: int, events: int, seed: int) -> SetBatch:
    g = torch.Generator().manual_seed(seed)
    return SetBatch(torch.randint(0, 91, (rows, events), generator=g),
                    torch.rand(rows, events, generator=g, dtype=torch.float64).sort(1).values * 0.25,
                    torch.full((rows, events), 0.2, dtype=torch.float64), torch.full((rows, events), 64),
                    torch.randint(0, events + 1, (rows,), generator=g))


def test_the_onsets_heard_are_the_latest_first_notes_of_each_onset():
    # before the chunk: onsets at −0.5 and −0.2 s, the latest note at −0.19 s (in the −0.2 s onset); in the chunk a
    # note at 0.0025 s, a pedal, a note 10 ms later (the same onset) and one at 0.1 s
    before = torch.tensor([[-0.2, -0.5] + [NONE] * (ONSETS - 2)], dtype=torch.float64)
    key = torch.tensor([[40, 88, 44, 47]])
    start_s = torch.tensor([[0.0025, 0.005, 0.0125, 0.1]], dtype=torch.float64)
    heard = heard_in_chunk(before, torch.tensor([-0.19], dtype=torch.float64), key, start_s,
                           torch.ones(1, 4, dtype=torch.bool))[0]  # [N, M]
    assert heard[:, :4].tolist() == [[-0.2, -0.5, NONE, NONE], [0.0025, -0.2, -0.5, NONE],
                                     [0.0025, -0.2, -0.5, NONE], [0.0025, -0.2, -0.5, NONE]]


def test_the_lean_adds_the_kernel_at_each_onsets_lag_within_reach():
    lean = PulseLean(4, torch.tensor([0.0025, 0.0525]))
    with torch.no_grad():
        lean.kernels.bias.copy_(torch.arange(lean.kernels.bias.numel(), dtype=torch.float32))  # kernel = lag bin
    onsets = torch.tensor([[-0.1, -0.3, -5.0, NONE]], dtype=torch.float64)  # the one 5 s back is out of reach
    out = lean(torch.zeros(1, 4), onsets)[0].tolist()
    assert out == [10 + 30, 15 + 35]  # lags 0.1025 and 0.3025 s → bins 10 and 30; 0.1525, 0.3525 → 15 and 35


def test_a_warm_start_is_the_head_it_started_from():
    torch.manual_seed(1)
    plain = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True)
    with_pulse = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True, pulse=True)
    with_pulse.load_state_dict(plain.state_dict(), strict=False)
    sets, carry, features = random_sets(32, 6, 0), timed_carry(32, 0), torch.randn(32, 8)
    onsets = (-torch.rand(32, ONSETS, dtype=torch.float64).sort(1).values, torch.full((32,), -0.01,
                                                                                      dtype=torch.float64))
    assert torch.equal(plain.nll(features, sets, carry), with_pulse.nll(features, sets, carry, onsets=onsets))
    with pytest.raises(ValueError, match="ar.pulse"):
        with_pulse.nll(features, sets, carry)


def test_the_pulse_learns_a_beat_one_period_after_the_onsets_heard():
    """Each chunk holds one note one period after the latest onset before it, the period that of the onsets heard
    (0.1–0.2 s, different in every row): one kernel says "a period after an onset", where a head without the
    pulse hears nothing of the times before the chunk."""
    def chunks(rows: int, seed: int) -> tuple[SetBatch, tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator().manual_seed(seed)
        period = 0.1 + 0.1 * torch.rand(rows, generator=g, dtype=torch.float64)  # [R]
        last = -period * torch.rand(rows, generator=g, dtype=torch.float64) * 0.9  # [R]: the latest onset
        before = last[:, None] - period[:, None] * torch.arange(ONSETS, dtype=torch.float64)  # [R, M]
        sets = SetBatch(torch.full((rows, 1), 40), (last + period)[:, None], torch.full((rows, 1), 0.1,
                                                                                        dtype=torch.float64),
                        torch.full((rows, 1), 64), torch.ones(rows, dtype=torch.long))
        return sets, (before, last)
    def nll_of(net: EventHead, rows: int, seed: int) -> torch.Tensor:
        sets, onsets = chunks(rows, seed)
        return net.nll(torch.zeros(rows, 8), sets, onsets=onsets if net.pulse is not None else None)
    final = {pulse: held_out_nll(nll_of, max_events=2, steps=80, pulse=pulse) for pulse in (False, True)}
    assert final[True] < final[False] - 0.5


def test_sampling_hears_the_onsets_exactly_as_training_scores(monkeypatch):
    """At every start choice of a draw, the onsets heard and the lean they make are those training computes for
    the drawn chunk teacher-forced: with pedals and chords inside chunks, empty chunks, chunks at the cap and
    rows stopped."""
    torch.manual_seed(0)
    head = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True, pulse=True)
    with torch.no_grad():
        head.pulse.kernels.weight.copy_(torch.randn_like(head.pulse.kernels.weight))
        head.out["key"][-1].bias[-1] += 5.0  # chunks of many sizes, some empty
        head.out["key"][-1].bias[88:91] += 4.0  # pedals among the notes
        head.out["start"][-1].bias[:3] += 3.0  # notes in the first 15 ms: some join the onset before
    rows = 64
    features, carry = torch.randn(rows, 8), timed_carry(rows, 5)
    before = -torch.rand(rows, ONSETS, dtype=torch.float64).sort(1).values * 3  # [R, M], latest first
    onsets = (before.flip(1).sort(1, descending=True).values, before.max(1).values + 0.01)
    drawn_leans, forward = [], PulseLean.forward

    def spy(lean, state, heard):
        drawn_leans.append((heard.clone(), forward(lean, state, heard)))
        return drawn_leans[-1][1]
    monkeypatch.setattr(PulseLean, "forward", spy)
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(1), carry=carry, onsets=onsets)
    taught = []
    monkeypatch.setattr(PulseLean, "forward", lambda lean, state, heard: taught.append(
        (heard, forward(lean, state, heard))) or taught[-1][1])
    head.nll(features, drawn, carry, onsets=onsets)
    monkeypatch.setattr(PulseLean, "forward", forward)
    assert (drawn.sizes == 0).any() and (drawn.sizes == 6).any() and len(set(drawn.sizes.tolist())) > 4
    assert ((drawn.ids >= 88) & drawn.mask).any()  # pedals were drawn inside chunks
    event_rows, positions = drawn.mask.nonzero(as_tuple=True)
    for step, (heard, lean) in enumerate(drawn_leans):
        at = positions == step  # the events drawn at this step
        assert torch.equal(heard[event_rows[at]], taught[0][0][at])
        torch.testing.assert_close(lean[event_rows[at]], taught[0][1][at], atol=1e-5, rtol=0)
    joined = sum(int((h[:, 0] == h0[:, 0]).sum()) for (h0, _), (h, _) in zip(drawn_leans, drawn_leans[1:]))
    assert joined > 0  # some notes joined the onset before them and were not heard as new onsets


def hear_a_track_both_ways(corpus: Corpus, track_index: int) -> int:
    """Compare, before each chunk of a track, the onsets read from the corpus (training) with those gathered chunk
    by chunk as a sampler appends them (sampling); → the onsets heard before the last chunk."""
    gatherer = ChunkGatherer(corpus, max_events=64)
    training, drawn = OnsetGatherer(gatherer), DrawnOnsets(1, gatherer.chunk_seconds, torch.device("cpu"))
    for chunk in range(int(gatherer.track_chunks[track_index])):
        track, at = torch.tensor([track_index]), torch.tensor([chunk])
        onsets, last = training.onsets(track, at)
        torch.testing.assert_close(onsets, drawn.onsets(), atol=1e-9, rtol=0)
        torch.testing.assert_close(last, drawn.last_note(), atol=1e-9, rtol=0)
        drawn.append(gatherer.gather(track, at))
    return int(torch.isfinite(drawn.onsets()).sum())


def test_training_and_sampling_hear_the_same_onsets(tiny_corpus):
    corpus = Corpus.open(tiny_corpus)
    assert hear_a_track_both_ways(corpus, 1) == ONSETS and hear_a_track_both_ways(corpus, 0) == ONSETS


def test_training_hears_every_onset_of_dense_chords(tmp_path):
    """Six-note chords every 0.2 s (each note 4 ms after the one below): 24 onsets reach back 4.8 s, past 144
    notes, and each chord is one onset on both sides."""
    chords = [(40 + 5 * k, 0.2 * i + 0.004 * k) for i in range(60) for k in range(6)]
    events = Events(np.array([key for key, _ in chords]), np.array([t for _, t in chords]), np.full(360, 0.15),
                    np.full(360, 70), 12.5)
    write_events(events, tmp_path / "midi" / "chords.mid")
    corpus = prepare([tmp_path / "midi"], tmp_path / "corpus", progress=False).corpus
    assert hear_a_track_both_ways(corpus, 0) == ONSETS
    gatherer = ChunkGatherer(corpus, max_events=64)
    onsets, last = OnsetGatherer(gatherer).onsets(torch.tensor([0]), torch.tensor([40]))  # before 10 s
    torch.testing.assert_close(onsets[0], 9.8 - 0.2 * torch.arange(ONSETS, dtype=torch.float64) - 10.0, atol=1e-3,
                               rtol=0)
    assert float(last[0]) == pytest.approx(9.8 + 0.02 - 10.0, abs=1e-3)


def test_a_model_with_the_pulse_trains_samples_and_hears_a_prompt(tiny_corpus, tiny_ae, tmp_path, monkeypatch):
    config = Config().override(TINY_EVENTS | {"ar.pulse": True, "ar.carry": True, "gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "run", config, arch="events", progress=False)
    from timestepmusic.generation import GANModel

    model = GANModel.load(tmp_path / "run")
    prompt, _ = read_events(next((tiny_corpus.parent / "midi").rglob("*.mid")))
    heard = []

    spy_on_event_sampler(monkeypatch, lambda arguments: heard.append(arguments.get("onsets")))
    model.sample_latents(1, 1.0, seed=0, prompt=prompt)
    _, sets = model.ae.encode_events(prompt)  # [P, N]: the prompt's chunks, capped as drawn ones are
    chunk_start_s = torch.arange(sets.sizes.shape[0], dtype=torch.float64)[:, None] * 0.25  # [P, 1]
    note_s = (sets.offset_s + chunk_start_s)[sets.mask & (sets.ids < 88)]
    assert float(heard[0][1][0]) == pytest.approx(float(note_s.max()) - float(chunk_start_s[-1, 0] + 0.25), abs=1e-9)
    assert torch.isfinite(heard[0][0]).sum() > 5  # the prompt's onsets heard before the first drawn chunk
    assert len(heard) == 4 and all(h is not None for h in heard)
    pieces = model.sample_latents(2, 2.0, seed=1)
    assert pieces is not None


def test_the_pulse_trains_at_its_own_learning_rate_beside_the_onsets_choice():
    from timestepmusic.sequence.events import EventAutoregressive

    config = Config().override({"ar.width": 16, "ar.layers": 1, "ar.heads": 2, "ar.head_hidden": 16, "ar.pulse": True,
                                "ar.pulse_lr_scale": 20.0, "ar.onsets": True, "ar.onsets_lr_scale": 10.0})
    arm = EventAutoregressive(config, latent=8, device=torch.device("cpu"))
    rest, onsets, pulse = arm.optimizers()["generator"].param_groups
    head = arm.generator.events
    assert {id(p) for p in pulse["params"]} == {id(p) for p in head.pulse.parameters()} and pulse["lr_scale"] == 20.0
    assert onsets["lr_scale"] == 10.0
    assert len(rest["params"]) + len(onsets["params"]) + 2 == len(list(arm.generator.parameters()))
    with pytest.raises(ValueError, match="ar.pulse_lr_scale"):
        Config().override({"ar.pulse_lr_scale": 0.0})


STARTS_S = torch.arange(50, dtype=torch.float64) * 0.005 + 0.0025  # the middles of a 0.25 s chunk's 5 ms start bins


def heard(*onsets_s: float) -> torch.Tensor:
    """Onsets before a chunk (s from its start, latest first) as one row [1, ONSETS]."""
    return torch.tensor([list(onsets_s) + [NONE] * (ONSETS - len(onsets_s))], dtype=torch.float64)


def bin_at(seconds: float) -> int:
    return int(STARTS_S.sub(seconds).abs().argmin())


def test_the_beat_echo_leans_a_start_toward_the_intervals_heard_after_the_onsets_heard():
    beat = heard(-0.2, -0.5, -0.8, -1.1)  # every 0.3 s: the next beat falls 0.1 s into the chunk
    lean = BeatEcho(beat, STARTS_S, 1.0)(beat)[0]  # [S]
    assert bin_at(0.095) <= int(lean.argmax()) <= bin_at(0.105)
    assert lean[bin_at(0.1)] > lean[bin_at(0.2)] + 1.0  # off the beat: far less
    torch.testing.assert_close(BeatEcho(beat, STARTS_S, 2.5)(beat)[0], 2.5 * lean)  # the strength scales it
    # an onset drawn in the chunk at 0.1 s is heard too: the bin 0.15 s after it (one interval heard) leans more
    halves = heard(-0.2, -0.35, -0.5, -0.65)  # every 0.15 s
    echo = BeatEcho(halves, STARTS_S, 1.0)
    assert echo(heard(0.1, -0.2, -0.35, -0.5, -0.65))[0][bin_at(0.25)] > echo(halves)[0][bin_at(0.25)] + 0.5
    sparse = heard(-1.0, -2.2, -2.5)  # the latest onsets first; all of them are summed, not only a few
    many = heard(-0.1, -0.2, -0.3, -0.4, -0.5, -1.0, -2.2, -2.5)
    assert not torch.equal(BeatEcho(sparse, STARTS_S, 1.0)(many), BeatEcho(sparse, STARTS_S, 1.0)(many[:, :4]))
    one = heard(-0.2)  # no interval heard: every bin leans alike
    flat = BeatEcho(one, STARTS_S, 1.0)(one)[0]
    assert torch.equal(flat, flat[:1].expand_as(flat))


def head_of_even_starts() -> EventHead:
    """A small untrained event head whose every start bin is alike."""
    torch.manual_seed(6)
    head = EventHead(width=8, hidden=16, max_events=4, chunk_seconds=0.25)
    with torch.no_grad():
        head.out["start"][-1].weight.zero_()
        head.out["start"][-1].bias.zero_()
    return head


def test_with_the_beat_echo_drawn_notes_start_on_the_beat_heard_and_pedals_as_before():
    head = head_of_even_starts()
    rows = 2000
    features = torch.randn(1, 8).expand(rows, 8)
    beat = heard(-0.2, -0.5, -0.8, -1.1).expand(rows, -1)
    onsets = (beat, beat[:, 0])

    def first_starts(echo: float) -> tuple[torch.Tensor, torch.Tensor]:
        d = EventSampler(head).sample(features, torch.Generator().manual_seed(0), onsets=onsets, beat_echo=echo)
        first = d.sizes > 0
        return d.offset_s[first, 0], d.ids[first, 0] < 88  # each chunk's first start [rows'], and whether a note
    plain, leaning = first_starts(0.0), first_starts(3.0)
    near_beat = {name: float(((s - 0.1).abs() < 0.02)[note].float().mean()) for name, (s, note) in
                 (("plain", plain), ("leaning", leaning))}
    assert near_beat["plain"] < 0.25 and near_beat["leaning"] > 2 * near_beat["plain"]
    assert torch.equal(plain[1], leaning[1])  # the first event's kind is drawn before any lean …
    assert (~plain[1]).sum() > 50 and torch.equal(plain[0][~plain[1]], leaning[0][~leaning[1]])  # … pedals: no lean
    with pytest.raises(ValueError, match="ar.beat_echo"):
        EventSampler(head).sample(features[:2], torch.Generator().manual_seed(0), beat_echo=1.0)  # nothing heard
    for bad in ("-1", "inf"):
        with pytest.raises(ValueError, match="ar.beat_echo"):
            Config().override([f"ar.beat_echo={bad}"])


def test_the_beat_echo_hears_the_notes_drawn_earlier_in_the_chunk_without_the_pulse(monkeypatch):
    torch.manual_seed(7)
    head = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25)  # no ar.pulse
    with torch.no_grad():
        head.out["key"][-1].bias[88:] -= 5.0  # notes, seldom pedals or the stop: several events per chunk
    heard_at_each_start, call = [], BeatEcho.__call__
    monkeypatch.setattr(BeatEcho, "__call__", lambda echo, h: heard_at_each_start.append(h.clone()) or call(echo, h))
    rows = 16
    beat = heard(-0.2, -0.5, -0.8, -1.1).expand(rows, -1)
    drawn = EventSampler(head).sample(torch.randn(rows, 8), torch.Generator().manual_seed(0), onsets=(beat, beat[:, 0]),
                                      beat_echo=1.0)
    assert drawn.sizes.min() >= 3 and bool((drawn.ids[:, 0] < 88).all())
    first_note = drawn.offset_s[:, 0]  # [R]: every chunk's first event is a note here
    assert torch.equal(heard_at_each_start[0], beat)  # the first start hears the onsets before the chunk …
    torch.testing.assert_close(heard_at_each_start[1][:, 0], first_note.double(), atol=0.003, rtol=0)  # … the next its note


def test_an_asked_tempo_leans_a_start_toward_its_beats_after_the_onsets_heard():
    tempo = TempoTold(240.0)  # a beat every 0.25 s
    one = heard(-0.2)  # one onset: no interval heard, so the echo of what was heard leans nowhere …
    flat = BeatEcho(one, STARTS_S, 1.0)(one)[0]  # [S]
    assert torch.equal(flat, flat[:1].expand_as(flat))
    lean = BeatEcho(one, STARTS_S, 1.0, tempo)(one)[0]  # … but the asked beat does: a beat after it, at 0.05 s
    assert bin_at(0.045) <= int(lean.argmax()) <= bin_at(0.055)
    assert lean[bin_at(0.05)] > lean[bin_at(0.175)] + 1.0  # half a beat later: far less
    uneven = heard(-0.2, -0.53)  # 0.33 s apart: unasked, the echo leans 0.33 s after the latest, at 0.13 s
    assert bin_at(0.125) <= int(BeatEcho(uneven, STARTS_S, 1.0)(uneven)[0].argmax()) <= bin_at(0.135)
    assert bin_at(0.045) <= int(BeatEcho(uneven, STARTS_S, 1.0, tempo)(uneven)[0].argmax()) <= bin_at(0.055)
    halves = TempoTold(120.0, half_beat_weight=0.5)  # a beat every 0.5 s, and half-beats at half its weight
    assert BeatEcho(one, STARTS_S, 1.0, halves)(one)[0][bin_at(0.05)] > BeatEcho(one, STARTS_S, 1.0, TempoTold(120.0))(
        one)[0][bin_at(0.05)] + 0.5  # 0.25 s after the onset: a half-beat, heard only with half-beats weighed
    peak = [i for i in range(1, 299) if (c := TempoTold(120.0).profile(300))[i] > c[i - 1] and c[i] >= c[i + 1]
            and c[i] > 0.1]
    assert peak == [50, 100, 150]  # every beat within the echo's 1.6 s (lags of 10 ms)
    comb = halves.profile(300)  # [L]
    peaks = [i for i in range(1, 299) if comb[i] > comb[i - 1] and comb[i] >= comb[i + 1] and comb[i] > 0.1]
    assert peaks == [25, 50, 75, 100, 125, 150]
    assert float(comb[50]) == pytest.approx(2 * float(comb[25]), rel=0.01)  # a beat weighs twice a half-beat


@pytest.mark.parametrize("bpm", [39.0, 241.0, float("nan"), float("inf")])
def test_a_tempo_out_of_reach_is_refused_in_one_line_before_the_model_loads(bpm, capsys, monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="beats per minute from 40 to 240"):
        TempoTold(bpm)
    from timestepmusic.cli import main
    from timestepmusic.generation import GANModel

    def never(*args, **kwargs):
        raise AssertionError("the model was loaded")
    monkeypatch.setattr(GANModel, "load", never)
    assert main(["generate", "--tempo", str(bpm), "-o", str(tmp_path / "out")]) == 2
    assert "--tempo" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_guided_pieces_lean_toward_the_asked_beat_in_both_halves():
    head = head_of_even_starts()
    rows = 1000
    features = torch.randn(2, 8).repeat_interleave(rows, 0)  # [2R, W]: told, then untold
    one = heard(-0.2).expand(rows, -1)  # an onset 0.2 s before the chunk: at 240 bpm the next beat is at 0.05 s
    first_starts = {}
    for name, tempo in (("unasked", None), ("asked", TempoTold(240.0))):
        d = EventSampler(head).sample(features, torch.Generator().manual_seed(0), onsets=(one, one[:, 0]),
                                      beat_echo=3.0, tempo=tempo, guidance=2.0)
        first = (d.sizes > 0) & (d.ids[:, 0] < 88)  # [R]: chunks whose first event is a note
        first_starts[name] = d.offset_s[first, 0]
    near = {name: float(((starts - 0.05).abs() < 0.01).float().mean()) for name, starts in first_starts.items()}
    assert near["asked"] > 2 * near["unasked"]


def test_a_tempo_is_asked_only_where_the_beat_echo_leans(tiny_corpus, tiny_ae, tmp_path, monkeypatch, capsys):
    from timestepmusic.cli import main
    from timestepmusic.sequence import pulse

    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "run",
                         Config().override(TINY_EVENTS | {"gan.steps": 1, "ar.beat_echo": 3.0}), arch="events",
                         progress=False)
    told = []
    echo_init = pulse.BeatEcho.__init__
    monkeypatch.setattr(pulse.BeatEcho, "__init__",
                        lambda self, *args, **kwargs: (told.append(args[3] if len(args) > 3 else kwargs.get("tempo")),
                                                       echo_init(self, *args, **kwargs))[1])
    from timestepmusic.tempo import heard_beat_s

    for seed in range(6):  # (a random tiny model's beat may sit between two peaks, where a time off its tick flips it)
        assert main(["generate", "--model", str(tmp_path / "run"), "--tempo", "90", "-n", "2", "--seconds", "1",
                     "--seed", str(seed), "-o", str(tmp_path / "out")]) == 0
        lines, paths = capsys.readouterr().out.splitlines(), sorted((tmp_path / "out").glob(f"sample_{seed}_*.mid"))
        assert len(lines) == len(paths) == 2
        for line, path in zip(lines, paths):  # each names its
            beat_s = heard_beat_s(read_events(path)[0], 1.0)  # written file's beat, as a reader of the file hears it
            assert "asked 90 bpm, " + (f"its onsets repeat most every {beat_s:.2f} s" if beat_s else "no beat heard") in line
    assert told and all(t == TempoTold(90.0) for t in told)  # every chunk's echo leans toward the asked beat
    told.clear()
    assert main(["generate", "--model", str(tmp_path / "run"), "--tempo", "60 > 120@1.5", "-n", "1", "--seconds", "2",
                 "-o", str(tmp_path / "path")]) == 0
    middles_s = (np.arange(8) + 0.5) * 0.25  # each chunk leans toward the tempo at its middle, held after 1.5 s
    assert [t.bpm for t in told] == pytest.approx(np.interp(middles_s, [0.0, 1.5], [60.0, 120.0]).tolist())
    assert "; tempo, bpm: at 0 s 60: over 0–2 s asked 100 at its middle, heard " in capsys.readouterr().out
    import symusic

    tempos = symusic.Score(str(tmp_path / "path" / "sample_0_000.mid")).tempos  # the file's grid: the tempo asked, …
    assert [round(t.qpm) for t in tempos] == [60, 100, 120]  # … beat by beat (0 s, 1 s, 1.6 s), held after 1.5 s
    for path in (tmp_path / "out").glob("*.mid"):  # a steady 90, after a pickup beat that puts its beats under the notes
        tempos = [t.qpm for t in symusic.Score(str(path)).tempos]
        assert round(tempos[-1]) == 90 and len(tempos) <= 2 and 45 <= tempos[0] <= 180
    for model, error in ((str(tmp_path / "run"), "add --set ar.beat_echo=3"), ("conv-v1", "draws no note starts")):
        extra = ["--set", "ar.beat_echo=0"] if model != "conv-v1" else []
        assert main(["generate", "--model", model, "--tempo", "90", *extra, "-o", str(tmp_path / "x")]) == 2
        assert error in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_path_of_tempos_moves_in_a_line_and_a_bad_one_is_refused_in_one_line():
    from timestepmusic.generate_flags import parse_tempo_path

    assert parse_tempo_path("90") == [(0.0, 90.0)]
    assert parse_tempo_path("80 > 120@20 > 100") == [(0.0, 80.0), (20.0, 120.0), (None, 100.0)]
    assert parse_tempo_path("90 bpm") == parse_tempo_path("90BPM") == parse_tempo_path("♩=90") == [(0.0, 90.0)]  # as marked
    assert parse_tempo_path("80bpm > ♩ = 120@20") == [(0.0, 80.0), (20.0, 120.0)]
    accelerando = TempoTold(80.0, later=((20.0, 120.0), (30.0, 100.0)))
    assert [accelerando.at(s).bpm for s in (-1.0, 0.0, 10.0, 20.0, 25.0, 99.0)] == [80, 80, 100, 120, 110, 100]
    assert accelerando.waypoints() == [(0.0, 80.0), (20.0, 120.0), (30.0, 100.0)]
    assert TempoTold(90.0).at(5.0) == TempoTold(90.0)
    for text, says in (("80 > 300", "--tempo 300: give beats per minute from 40 to 240"),
                       ("80 > fast", "'fast' is not a number of beats per minute"),
                       ("80 > > 90", "waypoint 2 is empty"), ("80@5 > 90", "the first waypoint holds from the start")):
        with pytest.raises(ValueError, match=re.escape(says)):
            parse_tempo_path(text)
    with pytest.raises(ValueError, match="each later than the one before"):
        TempoTold(80.0, later=((20.0, 120.0), (10.0, 100.0)))


def test_onset_of_one_note_is_onsets_among():
    """The sampler's one-note onset (pulse.onset_of) decides exactly as onsets_among does, −inf notes and firsts too."""
    g = torch.Generator().manual_seed(0)
    last_s = torch.rand(64, generator=g, dtype=torch.float64)
    note_s = last_s + torch.rand(64, generator=g, dtype=torch.float64) * 0.05  # onsets and joins, near the edge
    last_s[:8], note_s[8:16] = -torch.inf, -torch.inf
    onset_s, after_s = onsets_among(note_s[:, None], last_s)
    begins, one_after_s = onset_of(note_s, last_s)
    assert torch.equal(torch.where(begins, note_s, -torch.inf), onset_s[:, 0]) and torch.equal(one_after_s, after_s)
    assert torch.equal(begins, onset_s[:, 0] > -torch.inf) and begins.any() and not begins.all()


def test_with_echo_recency_a_start_leans_toward_the_next_beat_after_the_latest_onsets():
    run = heard(-0.05, -0.15, -0.25, -0.35, -0.45)  # every 0.1 s: beats at 0.05, 0.15 and 0.25 s into the chunk

    def next_over_later(recency_s: float) -> float:
        lean = BeatEcho(run, STARTS_S, 1.0, recency_s=recency_s)(run)[0]  # [S]
        assert bin_at(0.045) <= int(lean.argmax()) <= bin_at(0.055)  # on the beat
        return float(lean[bin_at(0.05)] - lean[bin_at(0.15)])
    # each vote fades with its lag: the next beat after the latest onsets leans harder than the one after it
    assert next_over_later(0.25) > next_over_later(0.0) + 0.2
    torch.testing.assert_close(BeatEcho(run, STARTS_S, 1.0, recency_s=1e9)(run), BeatEcho(run, STARTS_S, 1.0)(run))
    with pytest.raises(ValueError, match="ar.echo_recency_s"):
        Config().override(["ar.echo_recency_s=-0.1"])
