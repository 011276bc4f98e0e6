"""A piece's character as a condition (ar.style, sequence/style.py): descriptions of real passages, a warm start
that changes nothing, the description heard in training and sampling alike, a run that samples told a bank
description per piece (its resume: test_intervals.py), requests from `tsm generate --style`, and the shipped
`style` model following one."""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

from test_events_arm import TINY_EVENTS
from timestepmusic.batches import ChunkGatherer
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.midi import read_events
from timestepmusic.sequence import style_describe
from timestepmusic.sequence.event_head import EventHead
from timestepmusic.sequence.events import EventGenerator
from timestepmusic.sequence.style import ATTRIBUTES, BANK, NEAREST, PieceStyle
from timestepmusic.sequence.style_describe import StyleGatherer
from timestepmusic.sequence.style_request import parse_style, parse_style_path, users_value
from timestepmusic.sequence.transformer_net import LatentTransformer
from timestepmusic.train.sequence import train_sequence_model


def network(style: bool, seed: int = 0, pause: bool = False) -> EventGenerator:
    torch.manual_seed(seed)
    trunk = LatentTransformer(latent=4, context=8, width=16, layers=1, heads=2, mixture=1, dropout=0.0,
                              head="features")
    head = EventHead(width=16, hidden=16, max_events=4, chunk_seconds=0.25)
    return EventGenerator(trunk, head, PieceStyle(16, pause) if style else None).eval()


def described(rows: int, seed: int) -> torch.Tensor:
    return torch.randn(rows, len(ATTRIBUTES), generator=torch.Generator().manual_seed(seed)) * 3 + 1


def by_hand(corpus: Corpus, track: int, first: int, length: int) -> np.ndarray:
    """The description of chunks first … first + length − 1 of `track`, straight from the corpus's arrays."""
    lo, hi = corpus.track_event_ptr[track], corpus.track_event_ptr[track + 1]
    ids, start = np.asarray(corpus.ids[lo:hi]).astype(np.int64), np.asarray(corpus.start_s[lo:hi])
    duration, intensity = np.asarray(corpus.duration_s[lo:hi]), np.asarray(corpus.intensity[lo:hi]).astype(float)
    seconds = length * corpus.chunk_seconds
    inside = (start >= first * corpus.chunk_seconds) & (start < (first + length) * corpus.chunk_seconds)
    note = ids < 88
    keys = ids[inside & note]
    order = np.nonzero(note)[0]  # the track's notes in corpus order; each after the one before it
    after = order[1:][inside[order[1:]]]
    before = order[:-1][inside[order[1:]]]
    damper = inside & (ids == 88)
    if keys.size == 0 or duration[damper].sum() == 0:
        return np.full(len(ATTRIBUTES), np.nan)  # a window without notes or damper: not this test's case
    return np.array([keys.mean(), keys.std(), np.log1p(keys.size / seconds), intensity[inside & note].mean(),
                     np.mean(np.abs(ids[after] - ids[before]) <= 2),
                     min(duration[damper].sum() / seconds, 1.0),
                     duration[damper & (intensity <= 96)].sum() / duration[damper].sum(),
                     min(duration[inside & (ids == 90)].sum() / seconds, 1.0)])


def test_descriptions_are_those_of_the_windows_events(tiny_corpus):
    corpus = Corpus.open(tiny_corpus)
    styles = StyleGatherer(ChunkGatherer(corpus))
    checked = 0
    for track, first, length in ((0, 0, 16), (1, 3, 12), (2, 10, 16), (1, 0, 40)):
        expected = by_hand(corpus, track, first, length)
        if np.isnan(expected).any():  # a window without the damper: not this test's case
            continue
        got = styles.describe(torch.tensor([track]), torch.tensor([first]), torch.tensor([length]))[0]
        assert np.allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4), (track, first, got, expected)
        checked += 1
    assert checked >= 2


def pause_by_hand(corpus: Corpus, track: int, first: int, length: int) -> float:
    """The longest run of chunks first … first + length − 1 of `track` in which no note starts, in seconds."""
    lo, hi = corpus.track_event_ptr[track], corpus.track_event_ptr[track + 1]
    notes = np.asarray(corpus.ids[lo:hi]) < 88
    struck = set((np.asarray(corpus.start_s[lo:hi])[notes] // corpus.chunk_seconds).astype(int).tolist())
    longest = run = 0
    for chunk in range(first, first + length):
        run = 0 if chunk in struck else run + 1
        longest = max(longest, run)
    return longest * corpus.chunk_seconds


def test_a_passages_longest_pause_is_the_longest_run_of_chunks_where_no_note_starts(tiny_corpus):
    corpus = Corpus.open(tiny_corpus)
    gatherer = ChunkGatherer(corpus)
    plain, paused = StyleGatherer(gatherer), StyleGatherer(gatherer, pause=True)
    rng = np.random.default_rng(0)
    chunks = np.diff(np.asarray(corpus.track_chunk_ptr))  # [tracks]
    tracks = rng.integers(len(chunks), size=400)
    lengths = np.minimum(rng.integers(1, 65, size=400), chunks[tracks])
    firsts = (rng.random(400) * (chunks[tracks] - lengths + 1)).astype(int)
    windows = [torch.tensor(x) for x in (tracks, firsts, lengths)]
    got = paused.describe(*windows)  # [400, 9]
    assert got.shape == (400, len(ATTRIBUTES) + 1)
    assert torch.allclose(got[:, :-1], plain.describe(*windows), equal_nan=True)  # the first eight as before
    expected = np.array([pause_by_hand(corpus, *w) for w in zip(tracks.tolist(), firsts.tolist(), lengths.tolist())])
    assert np.allclose(np.expm1(got[:, -1].numpy()), expected, atol=1e-5)
    # the windows include pauses that run to a window's last chunk (a note in the chunk after it is not counted)
    to_the_end = [pause_by_hand(corpus, t, f, n) > pause_by_hand(corpus, t, f, n - 1)
                  for t, f, n in zip(tracks.tolist(), firsts.tolist(), lengths.tolist()) if n > 1]
    assert any(to_the_end) and len(set(expected.tolist())) > 3


def test_a_passage_with_no_note_pauses_throughout(tiny_corpus, monkeypatch):
    corpus = Corpus.open(tiny_corpus)
    gatherer = ChunkGatherer(corpus)
    paused = StyleGatherer(gatherer, pause=True)
    empty = torch.zeros_like(paused.running)  # no event before any boundary: no note anywhere
    monkeypatch.setattr(paused, "running", empty)
    pause = paused.longest_pause_s(torch.tensor([0, 1]), torch.tensor([0, 2]), torch.tensor([64, 10]))
    assert torch.allclose(pause, torch.tensor([16.0, 2.5], dtype=pause.dtype))


def test_the_pause_warm_starts_exactly_and_is_heard():
    plain, paused = network(True), network(True, seed=1, pause=True)
    torch.nn.init.normal_(plain.style.project.weight)  # a trained projection of the first eight
    bank = torch.cat([described(BANK, 8), torch.rand(BANK, 1)], 1)  # [BANK, 9]
    plain.style.fill_bank(bank[:, :-1])
    paused.style.fill_bank(bank)
    mine = paused.state_dict()  # as a warm start loads (checkpoint.load_matching): names and shapes that fit
    paused.load_state_dict({k: v for k, v in plain.state_dict().items() if mine[k].shape == v.shape}, strict=False)
    x, told = torch.randn(3, 8, 4), bank[:3]
    (a,), _ = plain(x, told[:, :-1])
    (b,), _ = paused(x, told)
    (untold,), _ = plain(x)
    assert torch.equal(a, b) and not torch.allclose(a, untold, atol=1e-3)  # exact, and the first eight heard
    torch.nn.init.normal_(paused.style.project_pause.weight)
    longer = told.clone()
    longer[:, -1] += 1.0
    (c,), _ = paused(x, told)
    (d,), _ = paused(x, longer)
    assert not torch.allclose(c, d, atol=1e-4)  # trained, a longer pause is heard
    assert parse_style("pause=2") == {"pause": pytest.approx(np.log1p(2))}
    assert paused.style.choose(2, torch.Generator().manual_seed(0), {"pause": 0.5})[:, -1].eq(0.5).all()
    with pytest.raises(ValueError, match="not trained with ar.style_pause"):
        plain.style.choose(2, torch.Generator().manual_seed(0), {"pause": 0.5})


def test_a_warm_start_is_the_network_it_started_from():
    plain, styled = network(False), network(True)
    styled.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(3, 8, 4)
    (a,), end_a = plain(x)
    (b,), end_b = styled(x, described(3, 0))
    assert torch.equal(a, b) and torch.equal(end_a, end_b)


def test_an_untold_row_adds_nothing_and_told_rows_differ():
    style = PieceStyle(16)
    torch.nn.init.normal_(style.project.weight)
    style.fill_bank(described(BANK, 1))
    rows = described(4, 2)
    rows[1] = float("nan")  # no description
    rows[2, 0] = float("nan")  # no notes to say the register by: the rest still told
    offset = style(rows, 4)  # [4, W]
    assert torch.equal(offset[1], torch.zeros(16))
    assert offset[0].abs().sum() > 0 and offset[2].abs().sum() > 0 and not torch.allclose(offset[0], offset[3])
    assert torch.equal(style(None, 4), torch.zeros(4, 16))
    torch.manual_seed(0)
    dropped = style.drop(described(5000, 3)).isnan().all(1).float().mean()
    assert 0.08 < dropped < 0.12


def test_sampling_steps_hear_the_description_as_training_does():
    """The cached steps of sampling (prefill, then one position at a time) add the same offset as training's
    forward pass over the whole window."""
    net = network(True)
    torch.nn.init.normal_(net.style.project.weight)
    net.style.fill_bank(described(BANK, 4))
    x, told = torch.randn(2, 8, 4), described(2, 5)
    (whole,), _ = net(x, told)  # [2, 8, W]
    held = net.offset(told, 2)  # [2, W]
    outputs, cache = net.prefill(x[:, :3], held)
    assert torch.allclose(outputs[0][0][:, -1], whole[:, 3], atol=1e-5)
    outputs, cache = net.step(x[:, 3], 4, cache, held)
    assert torch.allclose(outputs[0][0][:, -1], whole[:, 4], atol=1e-5)
    (untold,), _ = net(x)
    assert not torch.allclose(untold, whole, atol=1e-3)
    per_step = described(16, 6).view(2, 8, -1)  # [2, T, D]: a description per step, as training tells them
    (whole,), _ = net(x, per_step)
    outputs, cache = net.prefill(x[:, :3], net.offset(per_step[:, :4], 2))  # positions 0 … 3
    assert torch.allclose(outputs[0][0][:, -1], whole[:, 3], atol=1e-5)
    outputs, cache = net.step(x[:, 3], 4, cache, net.offset(per_step[:, 4:5], 2))
    assert torch.allclose(outputs[0][0][:, -1], whole[:, 4], atol=1e-5)


def test_the_network_learns_what_only_the_description_says():
    """The end logit of each window is to say whether its description's register is above the mean: learnable
    only by hearing the description."""
    final = {}
    for style in (False, True):
        net = network(style).train()
        if style:
            net.style.fill_bank(described(BANK, 6))
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
        for step in range(60):
            told = described(64, 100 + step)
            target = (told[:, :1] > 1).float().expand(64, 8)  # [64, T]
            _, end = net(torch.randn(64, 8, 4), told)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(end, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        final[style] = float(loss.detach())
    assert final[True] < 0.3 < 0.6 < final[False]


def test_a_run_with_style_samples_told_a_bank_description_per_piece(tiny_corpus, tiny_ae, tmp_path, monkeypatch):
    """(Training with it resumes exactly: test_intervals.py's run has it.)"""
    config = Config().override(TINY_EVENTS | {"ar.carry": True, "ar.style": True, "gan.steps": 10,
                                              "gan.validate_every": 5})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "run", config, arch="events", progress=False)
    from timestepmusic.generation import GANModel

    model = GANModel.load(tmp_path / "run")
    style = model.arm.generator.style
    assert style is not None and style.bank.abs().sum() > 0  # the bank travels in the weights
    heard, offset = [], EventGenerator.offset

    def spy(net, told, b):
        heard.append(None if told is None else told.clone())
        return offset(net, told, b)
    monkeypatch.setattr(EventGenerator, "offset", spy)
    first = model.sample_latents(3, 2.0, seed=1)
    again = model.sample_latents(3, 2.0, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    told = heard[0]
    assert told.shape == (3, len(ATTRIBUTES))
    assert not style.bank.isnan().any()
    assert all(any(torch.equal(row, kept) for kept in style.bank) for row in told)
    heard.clear()
    prompt, _ = read_events(next((tiny_corpus.parent / "midi").rglob("*.mid")))
    model.sample_latents(2, 1.0, seed=0, prompt=prompt)  # ar.prompt_told: told its own last passage, every piece
    _, sets = model.ae.encode_events(prompt)
    assert torch.equal(heard[0], model.arm.prompt_described(sets).expand(2, -1))
    assert model.arm.held is None
    heard.clear()
    model.arm.settings = dataclasses.replace(model.arm.settings, prompt_told=False)
    model.sample_latents(1, 1.0, seed=0, prompt=prompt)
    assert heard and all(told is None for told in heard)  # without it a continued prompt is heard, not told
    heard.clear()
    model.arm.settings = dataclasses.replace(model.arm.settings, style_drawn=False)  # ar.style_drawn false
    model.sample_latents(2, 1.0, seed=0)
    assert heard and all(told is None for told in heard)  # untold: as after a prompt


def test_a_request_is_read_in_its_users_units():
    asked = parse_style("damper=0.9, register=C5,density=6,loudness=80")
    assert asked == {"damper": 0.9, "register": 72.0 - 21, "density": pytest.approx(np.log1p(6)), "loudness": 80.0}
    assert parse_style("register=F#3")["register"] == 54 - 21 and parse_style("register=Bb3")["register"] == 58 - 21
    assert parse_style("half-pedal=0.5") == parse_style("half_pedal=0.5,") == {"half_pedal": 0.5}
    assert parse_style("damper=90%,soft=5 %") == {"damper": pytest.approx(0.9), "soft": pytest.approx(0.05)}  # a share
    assert parse_style("loudness=mf") == {"loudness": 80.0} and parse_style("loudness=PP") == {"loudness": 33.0}  # marks
    assert [request["loudness"] for _, request in parse_style_path("loudness=p > loudness=ff")] == [49.0, 112.0]
    for bad, said in (("damper=1.5", "must be in [0, 1]"), ("brightness=3", "no attribute 'brightness'; one of register"),
                      ("", "ATTRIBUTE=VALUE"), (" , ", "ATTRIBUTE=VALUE"),
                      ("register=H4", "'H4' is not a note name (no note's letter is H: A to G)"),
                      ("register=C", "'C' is not a note name (no octave after C: C4)"),
                      ("register=C9", "C9 is MIDI note 120, beyond the piano's keys, A0 (21) to C8 (108)"),
                      ("register=120", "MIDI note 120 is beyond the piano's keys"), ("damper", "ATTRIBUTE=VALUE"),
                      ("register=C5;density=6", "separate the requests with ',', not ';' ('register=C5,density=6')"),
                      ("loudness=loud", "not a number"), ("damper=0.5,damper=0.9", "asked twice"),
                      ("damper=150%", "must be in [0, 1]"), ("loudness=50%", "not a number"),  # (a share alone)
                      ("loudness=mff", "or a dynamic mark, ppp to fff"), ("damper=mf", "not a number")):
        with pytest.raises(ValueError, match=re.escape(said)):
            parse_style(bad)
    with pytest.raises(ValueError, match=re.escape("--style 'loudness=40 > register=C5;density=6@10': separate the "
                                                   "requests with ','")):  # (the whole path named, not one waypoint)
        parse_style_path("loudness=40 > register=C5;density=6@10")


def test_a_request_sets_what_it_asks_and_draws_the_rest_from_near_it():
    style = PieceStyle(16)
    bank = described(BANK, 7)
    bank[:, 2] = bank[:, 2].abs()  # every passage played (the silent ones are left out: the next test)
    style.fill_bank(bank)
    rows = style.choose(200, torch.Generator().manual_seed(0), {"register": 6.0, "damper": 0.5})
    assert torch.all(rows[:, 0] == 6.0) and torch.all(rows[:, 5] == 0.5)
    near = ((bank[:, 0] - 6) / style.std[0]) ** 2 + ((bank[:, 5] - 0.5) / style.std[5]) ** 2
    kept = set(near.topk(NEAREST, largest=False).indices.tolist())
    for row in rows:  # the rest of each row is one of the nearest bank rows'
        assert any(torch.equal(row[1:5], bank[i, 1:5]) for i in kept)
    assert len({tuple(r.tolist()) for r in rows}) > NEAREST // 2
    tied = bank.clone()
    tied[: 3 * NEAREST, 5] = 0.0  # three times NEAREST passages without the damper: a request matches them all
    style.fill_bank(tied)
    rows = style.choose(2000, torch.Generator().manual_seed(1), {"damper": 0.0})
    picked = {i for row in rows for i in range(3 * NEAREST) if torch.equal(row[:5], tied[i, :5])}
    assert len(picked) > 2 * NEAREST  # drawn from every exact match, not the NEAREST that a sort lists first


def test_sampling_draws_only_passages_that_hold_a_note():
    """A silent passage's description, held for a whole piece, kept the piece silent: it is not drawn."""
    density = ATTRIBUTES.index("density")
    style = PieceStyle(16)
    bank = described(BANK, 3)
    bank[:, density] = bank[:, density].abs()
    bank[::3, density] = 0.0  # a third of the passages hold no note
    style.fill_bank(bank)
    rng = torch.Generator().manual_seed(0)
    drawn = style.draw(3000, rng)
    assert (drawn[:, density] > 0).all()
    assert len({tuple(row.tolist()) for row in drawn}) > 1500  # still drawn from all the played ones
    first_picks = style.bank[torch.randint(BANK, (3000,), generator=torch.Generator().manual_seed(0))]  # before
    played = first_picks[:, density] > 0
    assert torch.equal(drawn[played], first_picks[played])  # a seed's played picks are kept as they were
    near = style.choose(300, rng, {"register": float(bank[0, 0]), "damper": float(bank[0, 5])})
    assert (near[:, density] > 0).all()  # bank[0] is silent: its played neighbours are drawn instead
    assert torch.all(style.choose(3, rng, {"density": 0.0})[:, density] == 0)  # asked for, it is played as asked
    style.fill_bank(bank.index_fill(1, torch.tensor([density]), 0.0))  # a bank of silences still draws
    assert style.draw(4, rng).shape == (4, len(ATTRIBUTES))


def test_generate_follows_a_style_and_refuses_one_a_model_cannot(tiny_corpus, tiny_ae, tmp_path, capsys):
    config = Config().override(TINY_EVENTS | {"ar.style": True, "gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "styled", config, arch="events", progress=False)
    assert main(["generate", "--model", str(tmp_path / "styled"), "--style", "damper=0.2,register=C4", "-n", "2",
                 "--seconds", "2", "-o", str(tmp_path / "out")]) == 0
    assert len(list((tmp_path / "out").glob("*.mid"))) == 2
    from timestepmusic.evaluate.played import played
    from timestepmusic.heard import value_said
    from timestepmusic.midi import read_events

    for line in capsys.readouterr().out.strip().splitlines():  # each line: what was asked beside what it plays
        path = line.split()[0]
        damper, register = played([read_events(path)[0]], 2.0, ("damper", "register"))[0]
        assert line.endswith(f"; damper asked 0.2, played {damper:.3g}, register asked 60 (C4), played "
                             f"{value_said('register', register + 21)})")
    assert main(["generate", "--model", str(tmp_path / "styled"), "--style", "damper=2", "-o",
                 str(tmp_path / "x")]) == 2
    assert "damper=2: must be in [0, 1]" in capsys.readouterr().err
    plain = Config().override(TINY_EVENTS | {"gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "plain", plain, arch="events", progress=False)
    capsys.readouterr()
    assert main(["generate", "--model", str(tmp_path / "plain"), "--style", "damper=0.2", "-o", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not follow a description" in err and len(err.splitlines()) == 1
    assert main(["generate", "--model", str(tmp_path / "styled"), "--style", "pause=1", "-o", str(tmp_path / "z")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not trained with ar.style_pause" in err and len(err.splitlines()) == 1
    paused = Config().override(TINY_EVENTS | {"ar.style": True, "ar.style_pause": True, "gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "paused", paused, arch="events", progress=False)
    assert main(["generate", "--model", str(tmp_path / "paused"), "--style", "pause=1,density=4", "-n", "2",
                 "--seconds", "2", "-o", str(tmp_path / "p")]) == 0
    assert main(["generate", "--model", str(tmp_path / "paused"), "-n", "1", "--seconds", "2", "-o",
                 str(tmp_path / "q")]) == 0
    assert len(list((tmp_path / "p").glob("*.mid"))) == 2 and len(list((tmp_path / "q").glob("*.mid"))) == 1


def test_each_step_is_told_the_passage_from_it_on(tiny_corpus, monkeypatch):
    """A step's description covers the AHEAD chunks from it on; within its track's last AHEAD chunks, those last
    AHEAD chunks (a full passage, as sampling holds one, not one shrinking to the chunk predicted); in a track
    shorter than AHEAD, the whole track."""
    corpus = Corpus.open(tiny_corpus)
    styles = StyleGatherer(ChunkGatherer(corpus))
    ptr = torch.tensor(np.asarray(corpus.track_chunk_ptr))  # [tracks + 1]: each track's first global chunk
    chunks = int(ptr[2] - ptr[1])  # track 1: about 12 s (48 chunks and a few of its last notes' release)

    def locate(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        track = torch.searchsorted(ptr, rows, right=True) - 1
        return track, rows - ptr[track]

    def passage(begin: int, length: int) -> torch.Tensor:
        return styles.describe(torch.tensor([1]), torch.tensor([begin]), torch.tensor([length]))[0].nan_to_num(-1)

    rows = ptr[1] + torch.tensor([[2, 3, chunks - 5, chunks - 1]])  # [1, 4]: early in track 1, and at its end
    assert 40 < chunks < 64
    monkeypatch.setattr(style_describe, "AHEAD", 8)  # 2 s, shorter than the track
    told = styles.ahead(rows, locate)[0].nan_to_num(-1)  # [4, D]
    for i, begin in enumerate([2, 3, chunks - 8, chunks - 8]):
        assert torch.equal(told[i], passage(begin, 8)), i
    assert not torch.equal(told[0], told[1])  # the passage moves with the step …
    monkeypatch.setattr(style_describe, "AHEAD", 64)  # 16 s, longer than the track: the whole of it for every step
    told = styles.ahead(rows, locate)[0].nan_to_num(-1)
    for i in range(4):
        assert torch.equal(told[i], passage(0, chunks)), i


def test_the_shipped_style_model_plays_high_or_low_as_asked():
    from timestepmusic import GenerateWarning
    from timestepmusic.generation import GANModel

    model = GANModel.load("style")
    mean_pitch = {}
    # both lie beyond the registers the model was measured to play (50.4 to 82.4): said, from Python as a warning
    with pytest.warns(GenerateWarning, match="beyond what this model was measured to play"):
        for register in ("C3", "C6"):
            pieces = model.sample(6, 8.0, seed=0, style=parse_style(f"register={register}"))
            notes = np.concatenate([p.ids[p.ids < 88] for p in pieces]) + 21
            mean_pitch[register] = notes.mean()
    assert mean_pitch["C3"] + 12 < mean_pitch["C6"]  # asked three octaves apart: at least one written apart


def test_the_pause_needs_the_style():
    with pytest.raises(ValueError, match="ar.style_pause"):
        Config().override({"ar.style_pause": True})


def test_an_attribute_as_held_reads_back_in_its_users_units():
    asked = parse_style("register=C4,density=6,damper=0.3,pause=2")
    back = {name: float(users_value(name, value)) for name, value in asked.items()}
    assert back == pytest.approx({"register": 60, "density": 6, "damper": 0.3, "pause": 2})
    assert users_value("density", np.log1p(np.array([0.0, 4.0]))) == pytest.approx([0.0, 4.0])  # arrays too


def test_a_pause_asked_is_said_beside_the_longest_time_between_note_starts():
    """`--style pause=…` (a model trained with ar.style_pause): each file's line says the longest time between its
    note starts, from the piece's start to its end, beside what was asked; pedals do not count."""
    from timestepmusic.evaluate.played import longest_pause_s
    from timestepmusic.heard import style_heard
    from timestepmusic.midi import Events
    from timestepmusic.sequence.style_request import parse_style

    piece = Events(np.array([60, 88, 64, 67]), np.array([0.5, 1.0, 1.2, 3.7]), np.array([0.3, 2.0, 0.2, 0.1]),
                   np.array([70, 127, 70, 70]), 4.0)  # starts 0.5, 1.2, 3.7 (a damper at 1.0): the longest gap 2.5
    assert longest_pause_s(piece, 4.0) == pytest.approx(2.5) and longest_pause_s(piece, 8.0) == pytest.approx(4.3)
    said = style_heard(piece, 4.0, parse_style("pause=0.25,density=2"))
    assert said.startswith("; density asked 2, played 0.75") and said.endswith("pause asked 0.25 s, played 2.5 s")


def test_a_half_pedal_asked_of_a_piece_that_never_presses_the_damper_is_not_called_silent():
    """A musician asked `--style damper=0,density=10,half_pedal=0.3` and read 'half_pedal asked 0.3, played silent' of
    a piece of 119 notes: the half pedal is a share of the damper's time, and the damper stayed up. The line now says
    'no damper'; a piece without notes is still 'silent' for the notes' attributes, in a path's line too."""
    from timestepmusic.heard import shape_heard, style_heard
    from timestepmusic.midi import Events
    from timestepmusic.sequence.style_request import StyleRamp, parse_style, parse_style_path

    start_s = np.arange(0.0, 8.0, 0.25)
    dry = Events(np.full(start_s.shape, 39), start_s, np.full(start_s.shape, 0.2), np.full(start_s.shape, 70), 8.0)
    said = style_heard(dry, 8.0, parse_style("damper=0,half_pedal=0.3"))
    assert said == "; damper asked 0, played 0, half_pedal asked 0.3, played no damper"
    empty = Events(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.uint8), 8.0)
    assert style_heard(empty, 8.0, parse_style("register=60")) == "; register asked 60 (C4), played silent"
    ramp = StyleRamp.timed(parse_style_path("half_pedal=0.2 > half_pedal=0.4"), 8.0)
    assert shape_heard(dry, 8.0, ramp).startswith("half_pedal asked 0.2 → 0.4, played no damper → no damper")


def test_a_register_asked_as_a_key_is_read_back_as_one():
    """A pianist's trial: --style register=C5 gave 'register asked 72, played 91.3', numbers they had not typed; each
    register in a file's line is now also the key nearest it, as --style and the rolls name keys (C4 = 60)."""
    from timestepmusic.heard import shape_heard, style_heard, value_said
    from timestepmusic.midi import Events
    from timestepmusic.sequence.style_request import StyleRamp, parse_style, parse_style_path

    assert [value_said("register", v) for v in (72.0, 91.3, 21.0, 60.5, 108.0)] == [
        "72 (C5)", "91.3 (G6)", "21 (A0)", "60.5 (C4)", "108 (C8)"]
    assert value_said("density", 7.555) == "7.55"
    g6 = Events(np.full(32, 91 - 21), np.arange(0.0, 8.0, 0.25), np.full(32, 0.2), np.full(32, 70), 8.0)
    assert style_heard(g6, 8.0, parse_style("register=C5,density=4")) == (
        "; register asked 72 (C5), played 91 (G6), density asked 4, played 4")
    ramp = StyleRamp.timed(parse_style_path("register=C3 > register=Bb5"), 8.0)
    assert shape_heard(g6, 8.0, ramp).startswith("register asked 48 (C3) → 82 (A#5), played 91 (G6) → 91 (G6)")


def test_a_composer_known_by_a_shorter_name_is_said_once_however_often_its_tracks_are_asked(caplog):
    """A request is drawn batch by batch (and a piece without a note again): each asks the composer's tracks, and the
    line that the model knows no fuller name was said each time."""
    from timestepmusic.generation import GANModel

    paths = GANModel.load("default").arm.paths
    with caplog.at_level("WARNING", logger="timestepmusic"):
        first, again = paths.tracks_of("C.P.E. Bach"), paths.tracks_of("C.P.E. Bach")
    said = [r.getMessage() for r in caplog.records if "knows no fuller name" in r.getMessage()]
    assert len(said) == 1 and torch.equal(first, again) and first.any()


def test_a_loudness_asked_as_a_mark_beyond_what_was_measured_is_said_with_its_mark():
    """--style loudness=fff: the warning names the mark as typed beside its velocity, not a bare 127 the user did not
    write."""
    from timestepmusic import GenerateWarning
    from timestepmusic.generation import GANModel

    model = GANModel.load("default")
    with pytest.warns(GenerateWarning, match=r"^style='loudness=127': fff, beyond what this model was measured to play"):
        model.sample(1, 1.0, seed=0, style=parse_style("loudness=fff"))
    with pytest.warns(GenerateWarning, match=r"^style='loudness=125': beyond"):  # (no mark plays at 125)
        model.sample(1, 1.0, seed=0, style=parse_style("loudness=125"))
