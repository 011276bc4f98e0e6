"""A sense of key for the event head (ar.tonal, sequence/tonal.py). Training with it resumes exactly:
test_intervals.py's run has both."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from test_events_arm import TINY_EVENTS
from timestepmusic.batches import ChunkGatherer, SetBatch
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.keys import Key
from timestepmusic.midi import Events, read_events
from timestepmusic.sequence.event_head import EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.tonal import CLASSES, WINDOWS, DrawnPitchClasses, KeyTold, TonalGatherer, TonalPrior, pitch_class
from timestepmusic.shipped import models_dir
from timestepmusic.train.sequence import train_sequence_model

from conftest import held_out_nll, spy_on_event_sampler


def counts_of_one_class(rows: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pitch-class counts [R, G, 12] of pasts that played one class each (a random one), and that class [R]."""
    g = torch.Generator().manual_seed(seed)
    played = torch.randint(0, CLASSES, (rows,), generator=g)
    counts = torch.zeros(rows, len(WINDOWS), CLASSES)
    counts[torch.arange(rows), :, played] = 3.0 * torch.arange(1, len(WINDOWS) + 1)
    return counts, played


def one_note_in(classes: torch.Tensor, seed: int) -> SetBatch:
    """Chunks of one note each, of pitch class `classes` [R], in a random octave of the middle keyboard."""
    octave = torch.randint(2, 6, classes.shape, generator=torch.Generator().manual_seed(seed))
    ids = (12 * octave + classes - 21 % 12) % 88  # key id of that class: (id + 21) % 12 == class
    assert torch.equal(pitch_class(ids), classes)
    return SetBatch(ids[:, None], torch.full((classes.shape[0], 1), 0.01, dtype=torch.float64),
                    torch.full((classes.shape[0], 1), 0.2, dtype=torch.float64), torch.full((classes.shape[0], 1), 64),
                    torch.ones(classes.shape[0], dtype=torch.long))


def test_a_warm_start_is_the_head_it_started_from():
    torch.manual_seed(1)
    plain = EventHead(width=8, hidden=16, max_events=4, chunk_seconds=0.25, intervals=2)
    tonal = EventHead(width=8, hidden=16, max_events=4, chunk_seconds=0.25, intervals=2, tonal=True)
    tonal.load_state_dict(plain.state_dict(), strict=False)
    counts, played = counts_of_one_class(32, 0)
    sets, features = one_note_in(played, 0), torch.randn(32, 8)
    assert torch.equal(plain.nll(features, sets), tonal.nll(features, sets, tonal=counts))


def test_the_prior_is_the_same_function_in_every_key():
    """Transposing the past by a semitone moves the bias one key up: it scores keys relative to what was played."""
    torch.manual_seed(2)
    prior = TonalPrior()
    torch.nn.init.normal_(prior.score[2].weight)
    counts = torch.rand(5, len(WINDOWS), CLASSES) * 4
    bias, moved = prior(counts), prior(counts.roll(1, dims=-1))  # [R, 88] each
    assert bias.std() > 0.01
    assert torch.allclose(moved[:, 1:], bias[:, :-1], atol=1e-6)


def test_the_head_learns_the_key_of_its_past_where_it_could_not_without():
    """Each chunk's note is of the pitch class its past played: learnable only from the counts."""
    def nll_of(net: EventHead, rows: int, seed: int) -> torch.Tensor:
        counts, played = counts_of_one_class(rows, seed)
        return net.nll(torch.zeros(rows, 8), one_note_in(played, seed),
                       tonal=counts if net.tonal is not None else None)
    final = {tonal: held_out_nll(nll_of, max_events=2, steps=80, tonal=tonal) for tonal in (False, True)}
    assert final[True] < final[False] - 1.5  # nats per chunk (ln 12 ≈ 2.5 of the key is the class)


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_the_sampler_draws_keys_at_the_heads_odds_given_the_past(temperature):
    """The bias is part of the key's logits, which the temperature then divides."""
    torch.manual_seed(3)
    head = EventHead(width=8, hidden=16, max_events=1, chunk_seconds=0.25, tonal=True)
    with torch.no_grad():
        torch.nn.init.normal_(head.tonal.score[2].weight, std=2.0)
        head.out["key"][-1].bias[-1] -= 5  # seldom an empty chunk
    rows = 40000
    counts = counts_of_one_class(1, 4)[0].expand(rows, -1, -1)
    features = torch.randn(1, 8).expand(rows, 8)
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(0), temperature, tonal=counts)
    keys = drawn.ids[drawn.sizes > 0, 0]
    keys = keys[keys < 88]  # the notes drawn (the rest: pedals)
    state = head.states(features[:1], tuple(torch.zeros(1, 1, dtype=torch.long) for _ in range(4)),
                        torch.zeros(1, dtype=torch.long))[:, 0]
    logits = head.choices(state, None, key_bias=head.tonal_bias(counts[:1]))["key"][0, :88].detach()
    odds = (logits / temperature).softmax(-1)
    seen = torch.bincount(keys, minlength=88).float() / keys.numel()
    assert keys.numel() > 20000 and 0.5 * float((seen - odds).abs().sum()) < 0.03


def test_training_and_sampling_count_the_same_past(tiny_corpus):
    """The counts before each chunk of a track, read from the corpus (training) and gathered chunk by chunk as a
    sampler appends them (sampling), agree, also where a chunk holds more events than the cap."""
    corpus = Corpus.open(tiny_corpus)
    gatherer = ChunkGatherer(corpus, max_events=2)
    training, drawn = TonalGatherer(gatherer), DrawnPitchClasses(1, torch.device("cpu"))
    chunks, capped = int(gatherer.track_chunks[1]), 0
    assert chunks > WINDOWS[-2]  # the shorter windows start inside the track (the longest reaches past its start)
    for chunk in range(chunks):
        track, at = torch.tensor([1]), torch.tensor([chunk])
        assert torch.equal(training.counts(track, at), drawn.counts())
        sets = gatherer.gather(track, at)
        capped += int(ChunkGatherer(corpus, max_events=64).gather(track, at).sizes[0] > 2)
        drawn.append(sets)
    assert capped > 3 and drawn.counts()[0, -1].sum() > 20  # the cap mattered; the long window held notes


def tonal_model_and_prompt(tiny_corpus, tiny_ae, tmp_path):
    """A tiny events model with ar.tonal, a prompt from the tiny corpus, and the prompt's chunks' notes [P, N]
    (capped as drawn chunks are)."""
    config = Config().override(TINY_EVENTS | {"ar.tonal": True, "gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "run", config, arch="events", progress=False)
    from timestepmusic.generation import GANModel

    model = GANModel.load(tmp_path / "run")
    prompt, _ = read_events(next((tiny_corpus.parent / "midi").rglob("*.mid")))
    _, sets = model.ae.encode_events(prompt)  # [P, N]
    return model, prompt, sets, sets.mask & (sets.ids < 88)


def test_a_continued_prompt_is_heard_in_its_pitch_classes(tiny_corpus, tiny_ae, tmp_path, monkeypatch):
    model, prompt, sets, notes = tonal_model_and_prompt(tiny_corpus, tiny_ae, tmp_path)
    heard = []

    spy_on_event_sampler(monkeypatch, lambda arguments: heard.append(arguments["tonal"].clone()))
    model.sample_latents(1, 1.0, seed=0, prompt=prompt)
    for window, span in enumerate(WINDOWS):  # before the first drawn chunk: the prompt's last `span` chunks
        expected = torch.bincount(pitch_class(sets.ids[-span:][notes[-span:]]), minlength=CLASSES).float()
        assert torch.equal(heard[0][0, window], expected)
    assert heard[0].sum() > 0


def test_an_asked_key_is_heard_as_its_shares_of_the_notes_struck(tiny_corpus, tiny_ae, tmp_path, monkeypatch):
    """--key: every window before every chunk is heard as the key's shares, as many notes as the window struck but
    at least `least_per_chunk` per chunk of it (so the first chunk, with nothing struck, hears the key too)."""
    model, prompt, _, notes = tonal_model_and_prompt(tiny_corpus, tiny_ae, tmp_path)
    heard = []
    spy_on_event_sampler(monkeypatch, lambda arguments: heard.append(arguments["tonal"].clone()))
    e_minor = Key(4, True)
    shares = KeyTold(e_minor).shares()  # [12]
    floored = 0
    for least in (0.01, KeyTold(e_minor).least_per_chunk):  # the prompt's notes heard, then (sparse) the least
        model.sample_latents(2, 1.0, seed=0, prompt=prompt, key=KeyTold(e_minor, least_per_chunk=least))
        for window, span in enumerate(WINDOWS):  # before the first drawn chunk: as many as the prompt's last `span`
            struck = float(notes[-span:].sum())
            assert struck > 0.01 * span
            floored += struck < least * span
            assert torch.allclose(heard[0][:, window], max(struck, least * span) * shares.expand(2, -1))
        assert len(heard) == 4  # every chunk drawn hears the key's shares, however many notes it has heard
        for counts in heard:  # [2, G, 12]
            assert torch.allclose(counts / counts.sum(-1, keepdim=True), shares.expand_as(counts), atol=1e-6)
        heard.clear()
    assert floored  # the floor was reached
    model.sample_latents(1, 0.5, seed=0, key=e_minor)  # no prompt: the least, before the first chunk
    least = torch.tensor([KeyTold(e_minor).least_per_chunk * span for span in WINDOWS])[:, None] * shares  # [G, 12]
    assert torch.allclose(heard[0][0], least)


def test_a_path_of_keys_tells_each_chunk_the_key_asked_of_it(tiny_corpus, tiny_ae, tmp_path, monkeypatch):
    """--key "E minor > G@1": every window before each of the first 4 chunks (1 s) is told E minor's shares, after it
    G major's; timed from the first drawn chunk, also after a prompt (which is heard as the first key)."""
    model, prompt, _, _ = tonal_model_and_prompt(tiny_corpus, tiny_ae, tmp_path)
    heard = []
    spy_on_event_sampler(monkeypatch, lambda arguments: heard.append(arguments["tonal"].clone()))
    e_minor, g_major = Key(4, True), Key(7, False)
    path = KeyTold(e_minor, later=((1.0, g_major),))
    assert path.stretches() == [(0.0, e_minor), (1.0, g_major)]
    assert [path.asked_at(s) for s in (-1.0, 0.0, 0.99, 1.0, 9.0)] == [0, 0, 0, 1, 1]
    for prompted in (None, prompt):
        model.sample_latents(2, 2.0, seed=0, prompt=prompted, key=path)
        assert len(heard) == 8  # 2 s of 0.25 s chunks
        for chunk, counts in enumerate(heard):  # [2, G, 12]
            told = KeyTold(e_minor if chunk < 4 else g_major).shares()
            assert torch.allclose(counts / counts.sum(-1, keepdim=True), told.expand_as(counts), atol=1e-6)
        heard.clear()
    for later in (((2.0, g_major), (1.0, e_minor)), ((float("nan"), g_major),), ((0.0, g_major),)):
        with pytest.raises(ValueError, match="each later than the one before"):
            KeyTold(e_minor, later=later)
    with pytest.raises(ValueError, match="tonic 0–11"):
        KeyTold(e_minor, later=((1.0, (12, False)),))


def test_each_stretch_of_a_path_is_named_by_the_key_its_notes_fit():
    from timestepmusic.heard import heard_as_asked

    def scale(tonic: int, from_s: float) -> Events:  # a major scale and its tonic chord, 2 s from `from_s`
        pitches = [60 + tonic + step for step in (0, 2, 4, 5, 7, 9, 11, 12, 7, 0, 4, 7, 0)]
        start = from_s + np.linspace(0.0, 1.8, len(pitches))
        return Events(np.array(pitches) - 21, start, np.full(len(pitches), 0.14), np.full(len(pitches), 64))

    c_then = {tonic: Events.concatenate([scale(0, 0.0), scale(tonic, 2.0)]) for tonic in (7, 2)}  # then G, or D
    path = KeyTold(Key(0, False), later=((2.0, Key(7, False)),))
    assert heard_as_asked(c_then[7], 4.0, None, path, "C > G") == (
        "; asked C major from 0 s, G major from 2 s; its notes fit C major, then G major")
    assert heard_as_asked(c_then[2], 4.0, None, path, "C > G").endswith("fit C major, then D major (its dominant)")
    assert heard_as_asked(c_then[7], 4.0, None, path, "C > G", offset_s=6.0).startswith(  # after a 6 s prompt
        "; asked C major from 6 s, G major from 8 s; its notes fit C major, then G major")
    ended = KeyTold(Key(0, False), later=((2.0, Key(7, False)), (5.0, Key(2, False))))  # a piece ended at 4 s
    assert heard_as_asked(c_then[7], 4.0, None, ended, "C > G@2 > D@5").endswith(
        "fit C major, then G major, then ended before it")
    assert heard_as_asked(scale(0, 0.0), 2.0, None, KeyTold(Key(0, False)), "c") == (
        "; asked c (C major), its notes fit C major best")
    f_sharp = scale(6, 0.0)  # the key found is spelled with the accidental the key asked was typed with
    assert heard_as_asked(f_sharp, 2.0, None, KeyTold(Key(6, False)), "Gb major").endswith("fit Gb major best")
    assert heard_as_asked(f_sharp, 2.0, None, KeyTold(Key(6, False)), "F# major").endswith("fit F# major best")
    assert heard_as_asked(f_sharp, 2.0, None, KeyTold(Key(6, False)), "Gb@0") == (  # a key alone with its time:
        "; asked Gb (Gb major), its notes fit Gb major best")  # named without it, and spelled as typed
    assert heard_as_asked(f_sharp, 2.0, None, KeyTold(Key(11, False)), "Cb").endswith(
        "fit Gb major best: its dominant")
    assert heard_as_asked(scale(1, 0.0), 2.0, None, KeyTold(Key(1, False)), "Do#").endswith("fit C# major best")
    assert heard_as_asked(scale(2, 0.0), 2.0, None, KeyTold(Key(6, False)), "Gb").endswith(
        "fit D major best: another key")  # (a key no flat spells stays as it is …
    assert heard_as_asked(scale(11, 0.0), 2.0, None, KeyTold(Key(3, False)), "Eb").endswith(
        "fit B major best: another key")  # … and so does a key far from the one asked: not Cb major)
    assert heard_as_asked(scale(11, 0.0), 2.0, None, KeyTold(Key(4, False)), "Fb") == (
        "; asked Fb (E major), its notes fit B major best: its dominant")  # (as the asked key is shown: sharps)
    flats = KeyTold(Key(6, False), later=((2.0, Key(11, False)),))  # a path, each key as typed
    assert heard_as_asked(Events.concatenate([scale(6, 0.0), scale(11, 2.0)]), 4.0, None, flats, "Gb > Cb") == (
        "; asked Gb major from 0 s, Cb major from 2 s; its notes fit Gb major, then Cb major")


def test_an_asked_keys_shares_are_its_profile_sharpened():
    shares = KeyTold(Key(9, True)).shares()  # A minor: A, C, E most, then the rest of its scale
    assert shares.sum() == pytest.approx(1.0)
    order = shares.argsort(descending=True).tolist()
    assert order[:3] == [9, 0, 4]  # A, C, E
    assert set(order[:7]) == {9, 11, 0, 2, 4, 5, 7}  # A natural minor's seven
    flat = KeyTold(Key(9, True), sharpness=1.0).shares()
    assert shares.max() > flat.max() and shares.min() < flat.min()  # sharper: more to the tonic, less outside
    assert torch.allclose(KeyTold(Key(2, False)).shares(), KeyTold(Key(0, False)).shares().roll(2))  # D: C, a tone up


def test_a_key_is_asked_only_of_a_model_that_hears_keys(tiny_corpus, tiny_ae, tmp_path, capsys):
    from timestepmusic.cli import main
    from timestepmusic.keys import estimate_key, key_name

    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "plain", Config().override(TINY_EVENTS | {"gan.steps": 1}),
                         arch="events", progress=False)
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "tonal",
                         Config().override(TINY_EVENTS | {"ar.tonal": True, "gan.steps": 1}), arch="events",
                         progress=False)
    assert main(["generate", "--model", str(tmp_path / "tonal"), "--key", "Bb", "-n", "2", "--seconds", "4",
                 "-o", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, sorted((tmp_path / "out").glob("*.mid"))):  # each names its written file's key
        fits = estimate_key(read_events(path)[0])
        assert fits is not None and f"asked Bb (Bb major), its notes fit {key_name(fits)} best" in line
    assert main(["generate", "--model", str(tmp_path / "tonal"), "--key", "Bb > F", "-n", "1", "--seconds", "4",
                 "-o", str(tmp_path / "path")]) == 0
    line, = capsys.readouterr().out.splitlines()  # (each stretch named: test_each_stretch_of_a_path_is_named)
    assert "; asked Bb major from 0 s, F major from 2 s; its notes fit " in line and ", then " in line
    import symusic

    score = symusic.Score(str(tmp_path / "path" / "sample_0_000.mid"))  # the file says the keys asked, when
    assert [(k.key, k.tonality) for k in score.key_signatures] == [(-2, 0), (-1, 0)]  # Bb major, F major
    assert [k.time for k in score.key_signatures] == [0, 2 * 1920]  # (at 120 bpm: 1920 ticks a second)
    for model, said in ((str(tmp_path / "plain"), f"the model in {tmp_path / 'plain' / 'last'} (events)"),
                        ("conv-v1", "the shipped model conv-v1 (conv)")):  # events without ar.tonal; a latent model
        assert main(["generate", "--model", model, "--key", "Bb", "-o", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err  # (a shipped model by its name, not where the package is installed)
        assert f"--key: {said} does not hear keys" in err and str(models_dir()) not in err, err
    assert main(["generate", "--model", str(tmp_path / "tonal"), "--key", "H major", "-o", str(tmp_path / "y")]) == 2
    assert "not a key" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_a_file_carries_the_keys_asked_within_it_from_where_they_are_asked():
    from timestepmusic.sample_files import written_meta
    from timestepmusic.sequence.pulse import TempoTold

    path = KeyTold(Key(10, False), later=((2.0, Key(5, False)), (30.0, Key(0, False))))  # Bb, F at 2 s, C at 30 s
    ended = written_meta("", path, None, 0.0, 4.0)  # a piece that ended at 4 s (--max-seconds): no C major after it
    assert ended.keys == ((0.0, -2, False), (2.0, -1, False)) and ended.tempos == ((0.0, 120.0),)
    after_prompt = written_meta("", path, TempoTold(90.0), 6.0, 40.0)  # asked after a 6 s prompt
    assert [at_s for at_s, _, _ in after_prompt.keys] == [6.0, 8.0, 36.0]
    assert after_prompt.tempos == ((0.0, 120.0), (6.0, 90.0))  # the prompt at 120 bpm, then the tempo asked


def test_a_steady_tempo_asked_is_written_with_its_beats_under_the_notes(tmp_path):
    import symusic

    from timestepmusic.midi_write import write_events
    from timestepmusic.sample_files import written_meta
    from timestepmusic.sequence.pulse import TempoTold

    beat_s = 60 / 90
    start_s = 0.3 + beat_s * np.arange(20)  # on the beat of 90 bpm, 0.3 s in
    played = Events(np.full(20, 40), start_s, np.full(20, 0.2), np.full(20, 80), 14.0)
    meta = written_meta("", None, TempoTold(90.0), 0.0, 14.0, played)
    assert meta.tempos[0][0] == 0.0 and meta.tempos[1] == pytest.approx((0.3 + beat_s, 90.0))  # a pickup, then 90
    score = symusic.Score(str(write_events(played, tmp_path / "beat.mid", meta)))
    ticks = np.array([note.time for note in score.tracks[0].notes])  # [20]
    assert (np.abs((ticks[1:] - ticks[1] + 480) % 960 - 480) <= 1).all()  # every note from the second on a beat line
    assert ticks[1] == 960  # (the first beat line after the pickup)
    plain = written_meta("", None, TempoTold(90.0), 0.0, 14.0)  # without the notes: the beat from 0 s
    assert plain.tempos == ((0.0, 90.0),)
