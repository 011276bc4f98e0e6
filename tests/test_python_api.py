"""GANModel.sample() from Python: the pieces generate() writes, taking its options as generate() takes them."""
from __future__ import annotations

import functools
import pathlib

import numpy as np
import pytest

import timestepmusic as tsm
from timestepmusic.keys import parse_key
from timestepmusic.sequence.style_request import asked_style
from timestepmusic.sequence.tonal import KeyTold


@pytest.fixture(scope="module")
def model():
    return tsm.GANModel.load()  # the shipped default


def notes_of(events):
    keep = events.is_note
    return events.ids[keep], events.start_s[keep]


def test_sampled_pieces_are_the_notes_generate_writes(model, tmp_path):
    sampled = model.sample(2, 2.0, 5)
    for events, path in zip(sampled, tsm.generate(tmp_path, n=2, seconds=2.0, seed=5)):
        written, _ = tsm.read_events(path)
        (ids, starts), (written_ids, written_starts) = notes_of(events), notes_of(written)
        assert np.array_equal(ids, written_ids) and np.allclose(starts, written_starts, atol=2e-3)


def test_style_and_key_may_be_given_as_text_as_to_generate(model):
    as_text = model.sample(1, 2.0, 1, style="density=6", key="E minor")[0]
    parsed = model.sample(1, 2.0, 1, style=asked_style("density=6", 2.0),
                          key=KeyTold.timed([(0.0, parse_key("E minor"))], 2.0))[0]
    assert np.array_equal(as_text.ids, parsed.ids) and np.array_equal(as_text.start_s, parsed.start_s)


def test_a_prompt_may_be_a_midi_file(model, tmp_path):
    prompt = tsm.write_events(tsm.Events([39, 43, 46, 51], [0.0, 0.5, 1.0, 1.5], [0.4] * 4, [70] * 4), tmp_path / "p.mid")
    piece = model.sample(1, 2.0, 0, prompt=prompt)[0]
    assert piece.end_s > 2.0 and np.array_equal(piece.ids[:1], [39])  # the prompt, then 2 s more


def test_an_option_it_does_not_take_is_one_line_naming_it(model):
    with pytest.raises(ValueError, match=r"GANModel.sample\(\): no option 'tempp' \(did you mean 'tempo'\?\)"):
        model.sample(1, 2.0, 0, tempp=90)


def test_the_autoencoder_has_a_docstring_not_its_dataclass_signature():
    assert not tsm.Autoencoder.__doc__.startswith("Autoencoder(")


def test_generate_takes_a_loaded_model_and_its_changed_settings(model, tmp_path):
    from timestepmusic.generation import set_sampling

    by_name = tsm.generate(tmp_path / "named", n=1, seconds=2.0, seed=2)[0].read_bytes()
    assert tsm.generate(tmp_path / "loaded", n=1, seconds=2.0, seed=2, model=model)[0].read_bytes() == by_name
    changed = tsm.GANModel.load()
    set_sampling(changed, ["ar.beat_echo=0", "ar.step_lean=0"])
    assert tsm.generate(tmp_path / "changed", n=1, seconds=2.0, seed=2, model=changed)[0].read_bytes() != by_name


@pytest.mark.filterwarnings("ignore::timestepmusic.setting_names.GenerateWarning")  # (its short path: said)
def test_a_tempo_may_be_given_as_text_as_to_generate(model):
    from timestepmusic.generate_flags import parse_tempo_path
    from timestepmusic.sequence.pulse import TempoTold

    as_text = model.sample(1, 2.0, 1, tempo="80 > 120")[0]  # (was a ValueError of float('80 > 120'))
    parsed = model.sample(1, 2.0, 1, tempo=TempoTold.timed(parse_tempo_path("80 > 120"), 2.0))[0]
    assert np.array_equal(as_text.ids, parsed.ids) and np.array_equal(as_text.start_s, parsed.start_s)


SAMPLE_WRONG_KINDS = {  # id: (GANModel.sample()'s arguments, what it says), each refused before anything is drawn
    "n=-1": ({"n": -1}, "n must be from 1 to 1,000,000, got -1"),  # torch's RuntimeError: negative dimension
    "n=None": ({"n": None}, "n must be a whole number from 1 to 1,000,000, got None"),  # torch.full's TypeError
    "seed=None": ({"seed": None}, "seed must be a whole number from 0 to 1099511627776, got None"),  # a TypeError
    "seed=NaN": ({"seed": float("nan")}, "seed must be a whole number from 0 to 1099511627776, got nan"),  # manual_seed
    "seconds=None": ({"seconds": None}, "seconds= must be a number of seconds, got None"),  # a comparison's TypeError
    "seconds=[2]": ({"seconds": [2]}, "seconds= must be a number of seconds, got [2]"),
    "prompt=123": ({"prompt": 123}, "prompt= must be a MIDI file's path or Events, got 123"),  # AttributeError
    "like=123": ({"like": 123}, "like= must be a MIDI file's path or Events, got 123"),  # AttributeError
    "composer=3": ({"composer": 3}, "composer= must be a composer's name as text ('Bach'), got 3"),  # AttributeError
    "style, NaN": ({"style": {"density": float("nan")}}, "style={'density': nan}: density must be a finite number, "
                   "got nan"),  # torch's RuntimeError
    "style, no such attribute": ({"style": {"x": 1}}, "style={'x': 1}: no attribute 'x'; a request names register, "
                                 "spread, density, loudness, stepwise, damper, half_pedal, soft (and pause, of a model "
                                 "trained with ar.style_pause: events-pause)"),  # 'not trained with ar.style_pause'
    "style, a share over 1": ({"style": {"damper": 2}}, "style={'damper': 2}: damper must be in [0, 1] (share of time the "
                              "damper is down)"),  # drawn as asked
    "style, negative": ({"style": {"loudness": -3}}, "style={'loudness': -3}: loudness must be in [1, 127] (the notes' "
                        "mean velocity)"),
    "style, density in notes per second": ({"style": {"density": 6}}, "style={'density': 6}: density must be in [0, "
                                           "4.111] as a request holds it (ln(1 + notes per second)); style='density=6' "
                                           "asks 6 notes per second"),  # drawn as 402 notes per second
    "style, register as a MIDI note": ({"style": {"register": 96}}, "style={'register': 96}: register must be in [0, 87] "
                                       "as a request holds it (the key from A0: MIDI note − 21); style='register=96' asks "
                                       "MIDI note 96"),
    "style, register between keys": ({"style": {"register": 90.5}}, "style={'register': 90.5}: register must be in [0, 87] "
                                     "as a request holds it (the key from A0: MIDI note − 21)"),  # said style='register=90.5'
    # asks MIDI note 90.5, a text --style refuses (no note's letter is 9)
    "tempo=True": ({"tempo": True}, "tempo= must be beats per minute (90), a path as text ('80 > 120') or a TempoTold, "
                   "got True"),  # 'tempo=1: give beats per minute from 40 to 240'
    "snap_to_real='no'": ({"snap_to_real": "no"}, "snap_to_real= must be True or False, got 'no'"),  # taken as True
    "guidance text": ({"guidance": "strong"}, "guidance= must be a number (None: the model's own), got 'strong'"),
    "progress=True": ({"progress": True}, "progress= must be a function called with no arguments once per chunk drawn, "
                      "or None, got True"),  # 'bool' object is not callable, after the first chunk was drawn
}


@pytest.mark.parametrize("given, said", SAMPLE_WRONG_KINDS.values(), ids=SAMPLE_WRONG_KINDS.keys())
def test_an_argument_of_a_kind_it_does_not_take_is_one_line_naming_it(given, said, model, monkeypatch):
    """GANModel.sample(n=-1), seed=None, seconds=None, prompt=123 … were torch's errors or an AttributeError from deep
    inside; each is generate()'s line for it (generate_api.check_arguments), before anything is drawn."""
    @functools.wraps(tsm.GANModel.sample_latents)  # (its signature kept: the options it takes are read from it)
    def drawn(*args, **kwargs):
        pytest.fail("drawn")
    monkeypatch.setattr(tsm.GANModel, "sample_latents", drawn)
    with pytest.raises(ValueError) as raised:
        model.sample(**{"n": 1, "seconds": 2.0, "seed": 0} | given)
    assert str(raised.value) == said


def test_a_model_told_an_attribute_it_does_not_follow_names_it():
    """A request that did not come through parse_style (a dict, a StyleRamp) naming no attribute was said to be the
    pause of a model without ar.style_pause ('--style x: this model was not trained with ar.style_pause')."""
    from timestepmusic.sequence.style import PieceStyle

    with pytest.raises(ValueError, match=r"^--style x: no attribute 'x'; it follows register, spread, density"):
        PieceStyle(4).asked_columns({"x": 1.0})
    with pytest.raises(ValueError, match=r"^--style pause: this model was not trained with ar.style_pause; it follows"):
        PieceStyle(4).asked_columns({"pause": 1.0})
    assert PieceStyle(4, pause=True).asked_columns({"pause": 1.0})[0].tolist() == [8]


def test_a_style_request_s_bad_attribute_is_said_by_generate_before_the_model_loads(tmp_path, monkeypatch):
    """generate(style={'x': 1}) blamed ar.style_pause once drawing; now one line naming the keyword and what a request
    names, before the model loads."""
    monkeypatch.setattr(tsm.GANModel, "load", lambda *args: pytest.fail("loaded"))
    with pytest.raises(ValueError, match=r"^style=\{'x': 1\}: no attribute 'x'; a request names register, spread, "):
        tsm.generate(tmp_path / "out", n=1, seconds=2.0, style={"x": 1})


def test_a_model_that_takes_no_style_names_the_shipped_models_that_do(tmp_path):
    """The line ended 'the shipped default does (and `style`)', where `style`, a shipped model's name, read from
    Python as generate()'s keyword."""
    with pytest.raises(ValueError) as raised:
        tsm.generate(tmp_path / "out", model="conv-v1", n=1, seconds=2.0, style="density=6")
    assert str(raised.value) == ("style: the shipped model conv-v1 (conv) does not follow a description; the shipped "
                                 "models default and style do, as does any model trained with ar.style")


def test_generate_s_docstring_names_every_keyword_it_takes():
    """progress= was taken (an option of GANModel.sample_latents) but not documented, nor were device and guidance:
    each keyword generate() takes, its own and its options', is named in its docstring (`seed` or seed=), so that the
    next one added cannot be left out."""
    import inspect
    import re

    from timestepmusic.generate_api import generate

    takes = [name for name, p in inspect.signature(generate).parameters.items() if p.kind is not p.VAR_KEYWORD]
    takes += [name for name, p in inspect.signature(tsm.GANModel.sample_latents).parameters.items()
              if p.kind is p.KEYWORD_ONLY]
    assert "progress" in takes and "device" in takes
    unnamed = [name for name in takes if not re.search(rf"`{name}`|(?<![\w.]){name}=", generate.__doc__)]
    assert unnamed == []


def test_generate_calls_progress_with_no_arguments_once_per_chunk(tmp_path):
    """What the docstring says of progress=: called with nothing, once per chunk of the pieces drawn together."""
    calls = []
    tsm.generate(tmp_path / "out", n=2, seconds=1.0, progress=lambda *args: calls.append(args))
    assert calls == [()] * 4  # 1 s of 0.25 s chunks, both pieces at once


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "auto"])
def test_a_loaded_model_asked_to_draw_on_another_device_is_refused_in_one_line(device, model, tmp_path, monkeypatch):
    """generate(model=a GANModel loaded on cpu, device='cuda') drew on cpu without a word; now, where the device is
    there (CUDA said to be here: nothing reaches it before the refusal), one line naming the device the model is on,
    and nothing written."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(ValueError) as raised:
        tsm.generate(tmp_path / "out", model=model, n=1, seconds=1.0, device=device)
    assert str(raised.value) == (f"device='{device}': the model given is already loaded on cpu; load it on the device "
                                 f"asked (GANModel.load(NAME, device='{device}')) or leave device out to draw where it is")
    assert not list(tmp_path.rglob("*.mid"))


@pytest.mark.parametrize("device, said", [
    ("cuda", "device='cuda': CUDA is not available on this machine"),
    ("meta", "device='meta': not a device name (cpu, cuda, cuda:N, auto)"),
    ("gpu", "device='gpu': not a device name (cpu, cuda, cuda:N, auto)"),
], ids=["cuda", "meta", "gpu"])
def test_a_loaded_model_asked_for_a_device_there_is_not_is_told_so_as_for_a_model_by_name(device, said, model, tmp_path,
                                                                                           monkeypatch):
    """generate(model=a GANModel, device='cuda') on a machine with no CUDA said to load the model on cuda
    (GANModel.load(NAME, device='cuda')), which that machine refuses; now the line generate(model=a name, device='cuda')
    says, and device='meta' is not a device name for either."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for given in (model, None):
        with pytest.raises(ValueError) as raised:
            tsm.generate(tmp_path / "out", model=given, n=1, seconds=1.0, device=device)
        assert str(raised.value) == said
    assert not list(tmp_path.rglob("*.mid"))


def test_a_loaded_model_draws_where_it_is_when_no_other_device_is_asked(model, tmp_path):
    import torch

    for i, device in enumerate((None, "cpu", torch.device("cpu"))):
        assert len(tsm.generate(tmp_path / str(i), model=model, n=1, seconds=1.0, device=device)) == 1


@pytest.mark.parametrize("given, said", [
    ("", "GANModel.load(''): an empty name; give a shipped model's name (default, …) or a run folder (None: the default)"),
    ("defualt", "GANModel.load('defualt'): no such folder, and not a shipped model; did you mean default? (generators: "
                "default, "),
    (pathlib.Path("defualt"), "GANModel.load('defualt'): no such folder"),  # (a Path said as its text, not PosixPath('…'))
], ids=["empty", "misspelt", "path"])
def test_a_model_name_load_cannot_read_is_said_as_the_python_call(given, said):
    """GANModel.load('defualt') said `--model defualt: …`, a flag of the command, to a Python caller; now the call as
    given, and the generators alone (it loads no autoencoder). The command's --model line is tests/test_bad_input's."""
    with pytest.raises(ValueError) as raised:
        tsm.GANModel.load(given)
    assert str(raised.value).startswith(said) and "autoencoders" not in str(raised.value)


def test_the_command_still_names_its_flag_for_a_model_name_it_cannot_read(tmp_path, capsys):
    from timestepmusic.cli import main

    assert main(["generate", "--model", "defualt", "-n", "1", "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith("error: --model defualt: no such folder, and not a shipped model; did "
                                              "you mean default? (generators: default, ")
