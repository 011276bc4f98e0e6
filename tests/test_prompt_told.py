"""A continued prompt told its own last passage (ar.prompt_told): described as training describes the same passage
of the corpus, untold where that passage is silent, and guided only where it is told."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from test_events_arm import TINY_EVENTS
from timestepmusic.batches import ChunkGatherer
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.midi import Events
from timestepmusic.sequence import told as told_module
from timestepmusic.sequence.style import AHEAD
from timestepmusic.sequence.style_describe import StyleGatherer
from timestepmusic.train.sequence import train_sequence_model


@pytest.fixture(scope="module")
def paused_model(tiny_corpus, tiny_ae, tmp_path_factory):
    """A tiny events model told descriptions with their longest pause (ar.style_pause)."""
    out = tmp_path_factory.mktemp("prompt_told") / "run"
    config = Config().override(TINY_EVENTS | {"ar.style": True, "ar.style_pause": True, "ar.carry": True,
                                              "gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, out, config, arch="events", progress=False)
    from timestepmusic.generation import GANModel

    return GANModel.load(out)


@pytest.mark.parametrize("ahead", [AHEAD, 12])
def test_a_prompt_is_described_as_training_describes_its_last_passage(tiny_corpus, paused_model, monkeypatch, ahead):
    """The whole of each (12 s) track as a prompt: its last 16 s are the whole track; with passages of 12 chunks
    (3 s), a passage from mid-track, whose first note steps from the note before it."""
    monkeypatch.setattr(told_module, "AHEAD", ahead)  # (read by prompt_described)
    corpus = Corpus.open(tiny_corpus)
    styles = StyleGatherer(ChunkGatherer(corpus), pause=True)
    checked = 0
    for track in range(corpus.num_tracks):
        events = corpus.track_events(track)
        _, sets = paused_model.ae.encode_events(events)  # [P, N]: the chunks the model reads
        chunks = sets.sizes.shape[0]
        if int(sets.sizes.sum()) != len(events):  # a chunk over the cap drops events the corpus keeps
            continue
        length = min(chunks, ahead)
        expected = styles.describe(torch.tensor([track]), torch.tensor([chunks - length]), torch.tensor([length]))[0]
        got = paused_model.arm.prompt_described(sets)[0]
        assert got.shape == (9,)  # the eight attributes and the pause
        assert torch.allclose(got, expected, atol=1e-5, equal_nan=True), (track, got, expected)
        checked += 1
    assert checked >= 3


def test_a_silent_last_passage_is_not_told_and_guidance_needs_a_told_prompt(tiny_corpus, paused_model):
    events = Corpus.open(tiny_corpus).track_events(0)
    notes = events.take(np.flatnonzero(events.is_note))
    first = notes.take(np.flatnonzero(notes.start_s < 2.0))
    pedal = Events(np.array([88]), np.array([40.0]), np.array([1.0]), np.array([100], dtype=np.uint8))
    silent_end = Events.concatenate([first, pedal])  # notes in its first 2 s, then 38 s without one
    _, sets = paused_model.ae.encode_events(silent_end)
    assert paused_model.arm.prompt_described(sets) is None
    _, sets = paused_model.ae.encode_events(first)
    assert paused_model.arm.prompt_described(sets) is not None
    settings = paused_model.arm.settings
    try:
        assert len(paused_model.sample(1, 1.0, seed=0, prompt=first, guidance=2.0)) == 1  # told: guided by it
        with pytest.raises(ValueError, match="nothing is told to guide by"):  # its last 16 s silent: nothing told
            paused_model.sample(1, 1.0, seed=0, prompt=silent_end, guidance=2.0)
        paused_model.arm.settings = dataclasses.replace(settings, style_drawn=False)  # drawn pieces untold; a prompt
        assert len(paused_model.sample(1, 1.0, seed=0, prompt=first, guidance=2.0)) == 1  # is still told its own
        paused_model.arm.settings = dataclasses.replace(settings, prompt_told=False)
        with pytest.raises(ValueError, match=r"heard, not told a description \(ar\.prompt_told false\)"):
            paused_model.sample(1, 1.0, seed=0, prompt=first, guidance=2.0)
    finally:
        paused_model.arm.settings = settings


def test_generate_sets_sampling_settings_for_one_run(tiny_corpus, paused_model, tmp_path, capsys, monkeypatch):
    """`tsm generate --set ar.prompt_told=false` continues a prompt heard only (its description never made); settings
    that are not sampling's, or not this arm's, are refused in one line."""
    from timestepmusic.cli import main
    from timestepmusic.sequence.events import EventAutoregressive

    described, describe = [], EventAutoregressive.prompt_described

    def spy(arm, prompt_sets):
        described.append(prompt_sets.sizes.shape[0])
        return describe(arm, prompt_sets)
    monkeypatch.setattr(EventAutoregressive, "prompt_described", spy)
    prompt = next((tiny_corpus.parent / "midi").rglob("*.mid"))
    run = ["generate", "--model", str(paused_model.folder), "-n", "2", "--seconds", "2", "--prompt", str(prompt)]
    assert main(run + ["-o", str(tmp_path / "told")]) == 0 and described  # told: described
    described.clear()
    assert main(run + ["--set", "ar.prompt_told=false", "-o", str(tmp_path / "heard")]) == 0 and not described
    for bad, said in (("ar.width=8", "ar.width is not a setting generate changes; give ar.NAME=VALUE"),
                      ("ar.beat_ech=3", "(did you mean ar.beat_echo?)"),
                      ("beat_echo=3", "beat_echo is not a setting generate changes (did you mean ar.beat_echo?)"),
                      ("ar.mixture_temperature=0.5", "an events model does not read ar.mixture_temperature"),
                      ("ar.pedals_as_told=maybe", "must be one of none, given, all")):
        capsys.readouterr()
        assert main(run + ["--set", bad, "-o", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err.strip()
        assert said in err and len(err.splitlines()) == 1
        if "is not a setting" in said:  # the list offered holds only what this arm reads
            assert "ar.beat_echo" in err and "ar.mixture_temperature" not in err
    fixed = ["generate", "--model", str(paused_model.folder), "-n", "1", "--seconds", "2", "-o", str(tmp_path / "x")]
    for bad, said in ((["--set", "ar.end_bias=5"], "give --max-seconds too"),  # it would change nothing
                      (["--set", "ar.end_rise=1"], "give --max-seconds too"),
                      (["--set", "ar.end_after_s=30"], "give --max-seconds too"),
                      (["--temperature", "0.9", "--set", "ar.temperature=1.2"], "both given: give one")):
        capsys.readouterr()
        assert main(fixed + bad) == 2
        err = capsys.readouterr().err.strip()
        assert said in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_a_silent_continuation_of_a_prompt_ending_in_silence_says_so(tiny_corpus, paused_model, monkeypatch, caplog):
    from timestepmusic import draws

    events = Corpus.open(tiny_corpus).track_events(0)
    early = events.take(np.flatnonzero(events.is_note & (events.start_s < 2.0)))
    notes = Events(early.ids, early.start_s, early.duration_s, early.intensity)  # ending where its notes end
    pedal = Events(np.array([88]), np.array([20.0]), np.array([0.5]), np.array([100], dtype=np.uint8))
    prompt = Events.concatenate([notes, pedal])  # notes in its first 2 s, then silence to 20.5 s
    monkeypatch.setattr(draws, "sampled_events", lambda arm, ae, latents, given: [given] * len(latents))
    with caplog.at_level("WARNING", logger="timestepmusic"):
        draws.written_pieces(paused_model, 1, 1.0, 0, prompt=prompt)  # (every draw: the prompt, no new note)
    said = [r.getMessage() for r in caplog.records if "no new note" in r.getMessage()]
    assert len(said) == 1 and "runs on silent" in said[0] and "--prompt-seconds" in said[0]
    from timestepmusic import GenerateWarning
    from timestepmusic.generate_api import api_keywords
    from timestepmusic.setting_names import keyword_messages

    with keyword_messages(api_keywords()), pytest.warns(GenerateWarning, match="runs on silent") as warned:
        draws.written_pieces(paused_model, 1, 1.0, 0, prompt=prompt)  # from Python: no flag it cannot give
    said = str(warned[0].message)
    assert "--prompt-seconds" not in said and "midi.window(events, 0, SECONDS)" in said
    caplog.clear()
    with caplog.at_level("WARNING", logger="timestepmusic"):
        draws.written_pieces(paused_model, 1, 1.0, 0, prompt=notes)  # ends on its notes: no such reason
    said = [r.getMessage() for r in caplog.records if "no new note" in r.getMessage()]
    assert len(said) == 1 and "--prompt-seconds" not in said[0]


def test_a_continuation_keeps_up_the_pedals_its_prompt_never_pressed(tiny_corpus, paused_model):
    """ar.pedals_as_told "given" (the default): a told prompt whose last 16 s press neither the damper nor the soft
    pedal is continued without them; "none" leaves them to the network."""
    from timestepmusic.midi import DAMPER_ID, SOFT_ID, SOSTENUTO_ID

    events = Corpus.open(tiny_corpus).track_events(0)
    dry = events.take(np.flatnonzero(events.is_note & (events.start_s < 6.0)))  # notes only: no pedal pressed
    head, settings = paused_model.arm.generator.events, paused_model.arm.settings
    bias = head.out["key"][-1].bias
    kept = bias.detach().clone()
    try:
        with torch.no_grad():  # as if trained to press every pedal often
            bias[88:91] += 4.0
        new = [p.take(np.flatnonzero(p.start_s >= 6.0)) for p in paused_model.sample(4, 3.0, seed=1, prompt=dry)]
        assert not any(np.isin(p.ids, [DAMPER_ID, SOFT_ID]).any() for p in new)
        assert any((p.ids == SOSTENUTO_ID).any() for p in new)  # never told: still pressed
        paused_model.arm.settings = dataclasses.replace(settings, pedals_as_told="none")
        free = [p.take(np.flatnonzero(p.start_s >= 6.0)) for p in paused_model.sample(4, 3.0, seed=1, prompt=dry)]
        assert any(np.isin(p.ids, [DAMPER_ID, SOFT_ID]).any() for p in free)
    finally:
        paused_model.arm.settings = settings
        with torch.no_grad():
            bias.copy_(kept)


def test_a_style_asked_of_a_continued_prompt_keeps_the_rest_of_the_prompts_character(tiny_corpus, paused_model,
                                                                                      monkeypatch):
    """`--prompt dry.mid --style loudness=70`: the continuation is told the prompt's last passage with the loudness
    asked (not a real passage near the request, which would pedal and move the register as that passage does); a
    pedal the prompt never pressed stays up; without a prompt, the rest comes from the bank, as before."""
    from timestepmusic.sequence.event_sampler import EventSampler
    from timestepmusic.sequence.style_request import StyleRamp, parse_style, parse_style_path

    events = Corpus.open(tiny_corpus).track_events(0)
    dry = events.take(np.flatnonzero(events.is_note))  # the damper never pressed
    _, sets = paused_model.ae.encode_events(dry)
    own = paused_model.arm.prompt_described(sets)[0]  # [D]
    attributes = paused_model.arm.generator.style.attributes
    loud, damper = attributes.index("loudness"), attributes.index("damper")
    assert own[damper] == 0 and own[loud] != 70
    settings, sample = paused_model.arm.settings, EventSampler.sample
    kept_up = []  # the pedals each chunk's draw keeps up [S, 3]

    def spy(sampler, *args, **kwargs):
        kept_up.append(args[6])
        return sample(sampler, *args, **kwargs)
    monkeypatch.setattr(EventSampler, "sample", spy)
    paused_model.arm.settings = dataclasses.replace(settings, pedals_as_told="given")  # (the default's)
    try:
        for style in (parse_style("loudness=70"),
                      StyleRamp.timed(parse_style_path("loudness=70 > loudness=90"), 1.0)):
            kept_up.clear()
            paused_model.sample(3, 1.0, seed=0, prompt=dry, style=style)
            told = paused_model.arm.told  # [S, D]
            kept = [i for i in range(len(attributes)) if i != loud]
            assert torch.allclose(told[:, kept], own[kept].expand(3, -1), equal_nan=True)  # the player's own
            assert told[:, loud].allclose(torch.full((3,), told[0, loud].item())) and told[0, loud] != own[loud]
            assert kept_up and all(up[:, 0].all() for up in kept_up)  # the dry prompt's damper kept up
    finally:
        paused_model.arm.settings = settings
    paused_model.sample(3, 1.0, seed=0, style=parse_style("loudness=70"))
    assert not torch.allclose(paused_model.arm.told[:, damper], own[damper].expand(3))  # no prompt: a bank passage's
