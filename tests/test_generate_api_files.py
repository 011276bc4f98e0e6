"""generate() from Python writes the files `tsm generate` writes for the same model, seed and requests: the same
notes, pedals, tempo map, time and key signatures and markers (a prompt's continuation, the waypoints asked), all
but the made-by marker, which says how each was made (sample_files.piece_meta builds both)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import symusic

import timestepmusic as tsm
from timestepmusic.cli import main
from timestepmusic.markers import MADE_BY
from timestepmusic.setting_names import GenerateWarning


@pytest.fixture(scope="module")
def prompt(tmp_path_factory) -> Path:
    """A short prompt at 100 bpm in D major, 3/4, so that its grid is not the default one written under it."""
    path = tmp_path_factory.mktemp("prompt") / "p.mid"
    tsm.write_events(tsm.Events([39, 43, 46, 51], [0.0, 0.5, 1.0, 1.5], [0.4] * 4, [70] * 4), path)
    score = symusic.Score(str(path))
    score.tempos = [symusic.Tempo(0, 100.0)]  # (its notes keep their ticks: at 100 bpm they move, as a file's may)
    score.key_signatures = [symusic.KeySignature(0, 2, 0)]
    score.time_signatures = [symusic.TimeSignature(0, 3, 4)]
    score.dump_midi(str(path))
    return path


def said_of(path: Path) -> dict:
    """What a file holds, in ticks: notes, pedals, tempos, time and key signatures, and its markers but the made-by."""
    score = symusic.Score(str(path))
    notes = [n for track in score.tracks for n in track.notes]  # (a piece drawn without a note: no track)
    pedals = [c for track in score.tracks for c in track.controls]
    return {"notes": [(n.time, n.duration, n.pitch, n.velocity) for n in notes],
            "pedals": [(c.time, c.number, c.value) for c in pedals],
            "tempos": [(t.time, t.mspq) for t in score.tempos],
            "meters": [(m.time, m.numerator, m.denominator) for m in score.time_signatures],
            "keys": [(k.time, k.key, k.tonality) for k in score.key_signatures],
            "markers": [(m.time, m.text) for m in score.markers if not m.text.startswith(MADE_BY)]}


REQUESTS = {  # id: (the CLI's flags, generate()'s keywords)
    "tempo and key": (["--tempo", "90", "--key", "Em"], {"tempo": 90, "key": "Em"}),
    "tempo path": (["--tempo", "80 > 120"], {"tempo": "80 > 120"}),
    "key path": (["--key", "Gb > Cb@1.5"], {"key": "Gb > Cb@1.5"}),
    "style path": (["--style", "loudness=45 > loudness=80"], {"style": "loudness=45 > loudness=80"}),
    "prompt": (["--prompt", "PROMPT"], {"prompt": "PROMPT"}),
    "prompt, tempo and key path": (["--prompt", "PROMPT", "--tempo", "90", "--key", "C > G"],
                                   {"prompt": "PROMPT", "tempo": 90, "key": "C > G"}),
}


@pytest.mark.filterwarnings("ignore::timestepmusic.setting_names.GenerateWarning")  # (what is drawn: WARNED's test)
@pytest.mark.parametrize("flags, keywords", REQUESTS.values(), ids=REQUESTS.keys())
def test_generate_writes_the_file_the_command_writes(flags, keywords, prompt, tmp_path):
    flags = [str(prompt) if flag == "PROMPT" else flag for flag in flags]
    keywords = {name: prompt if value == "PROMPT" else value for name, value in keywords.items()}
    assert main(["generate", "-q", "-o", str(tmp_path / "cli"), "-n", "1", "--seconds", "2", "--seed", "3", *flags]) == 0
    by_cli = tmp_path / "cli" / "sample_3_000.mid"
    by_python = tsm.generate(tmp_path / "python", n=1, seconds=2.0, seed=3, **keywords)[0]
    cli_said, python_said = said_of(by_cli), said_of(by_python)
    assert python_said == cli_said
    assert python_said["notes"]  # (a piece, not two empty files)
    made_by = [m.text for m in symusic.Score(str(by_python)).markers if m.text.startswith(MADE_BY)]
    assert len(made_by) == 1 and "generate() in Python, seed 3" in made_by[0]


@pytest.mark.filterwarnings("ignore::timestepmusic.setting_names.GenerateWarning")  # (what is drawn: WARNED's test)
def test_what_a_request_writes_is_in_the_files_compared(prompt, tmp_path):
    # (the comparison above would pass on two files that both left them out, as generate() did)
    told = said_of(tsm.generate(tmp_path / "told", n=1, seconds=2.0, seed=3, tempo="80 > 120", key="Gb > Cb@1.5")[0])
    bpms = [round(60e6 / mspq) for _, mspq in told["tempos"]]  # (a tempo that moves: written beat by beat)
    assert bpms[0] == 80 and bpms == sorted(bpms) and bpms[-1] >= 115
    assert [(key, tonality) for _, key, tonality in told["keys"]] == [(-6, 0), (-7, 0)]  # (Gb and Cb as spelt)
    assert [text for _, text in told["markers"]] == ["asked: F# major, 80 bpm", "asked: B major", "asked: 120 bpm"]
    continued = said_of(tsm.generate(tmp_path / "continued", n=1, seconds=2.0, seed=3, prompt=prompt)[0])
    assert continued["tempos"][0][1] == round(60e6 / 100.0) and continued["keys"][:1] == [(0, 2, 0)]
    assert continued["meters"][:1] == [(0, 3, 4)] and "continuation" in [text for _, text in continued["markers"]]


def test_generate_s_messages_name_its_keywords_and_the_command_s_its_flags(tmp_path, caplog, capsys):
    # (generate() said '--seconds must be > 0' and '--overwrite: removed …', flags a Python caller never typed)
    with pytest.raises(ValueError, match=r"^seconds=0: a piece's length must be > 0$"):
        tsm.generate(tmp_path / "none", seconds=0)
    with pytest.raises(ValueError, match=r"^pieces: 5 is not among the pieces of n=3, numbered 0 to 2"):
        tsm.generate(tmp_path / "none", n=3, pieces=[5])
    tsm.generate(tmp_path, n=2, seconds=1.0, seed=3)
    with pytest.raises(ValueError, match=r"earlier run with seed=3\); give another out= or seed=, or overwrite=True to "
                                         "replace them$"):
        tsm.generate(tmp_path, n=1, seconds=1.0, seed=3)
    with pytest.warns(GenerateWarning) as warned:  # (a Python warning, not a log line: warn_of_python's test)
        tsm.generate(tmp_path, n=1, seconds=1.0, seed=3, overwrite=True)
    assert [str(w.message) for w in warned] == [
        "overwrite=True: removed 1 file(s) of the earlier run with seed=3 that this run did not write again: "
        "sample_3_001.mid"]
    assert not [r for r in caplog.records if "removed" in r.message]
    tsm.generate(tmp_path, n=2, seconds=1.0, seed=3, overwrite=True)
    assert main(["generate", "-q", "-o", str(tmp_path), "-n", "1", "--seconds", "1", "--seed", "3"]) == 2  # the command:
    assert "earlier run with --seed 3); give another -o or --seed, or --overwrite to replace them" in capsys.readouterr().err
    assert main(["generate", "-q", "-o", str(tmp_path), "-n", "1", "--seconds", "1", "--seed", "3", "--overwrite"]) == 0
    assert [r.message for r in caplog.records if "removed" in r.message] == [  # its flags, as before
        "--overwrite: removed 1 file(s) of the earlier run with --seed 3 that this run did not write again: "
        "sample_3_001.mid"]


@pytest.fixture(scope="module")
def rnn_run(tiny_corpus, tiny_ae, tmp_path_factory) -> Path:
    """A tiny recurrent run: a model that ends every piece itself (tsm generate's --max-seconds, default 120)."""
    from timestepmusic.config import Config
    from timestepmusic.train.sequence import train_sequence_model

    from conftest import TINY_GAN, TINY_RNN

    run = tmp_path_factory.mktemp("rnn") / "run"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TINY_GAN | {"gan.sample_every": 0} | TINY_RNN),
                         arch="rnn", progress=False)
    return run


def drawn_as(monkeypatch) -> list:
    """Each GANModel.sample_latents call's pieces, length (s), seed and options (its progress bar aside), as drawn."""
    calls, sample_latents = [], tsm.GANModel.sample_latents

    def spy(gan, n, seconds, seed, snap_to_real=True, **options):
        options.pop("progress", None)
        calls.append((n, seconds, seed, snap_to_real, {k: v for k, v in options.items() if v is not None}))
        return sample_latents(gan, n, seconds, seed, snap_to_real, **options)
    monkeypatch.setattr(tsm.GANModel, "sample_latents", spy)
    return calls


LENGTHS = {  # id: (the model, the CLI's flags, generate()'s keywords): pieces that end themselves
    "default, --max-seconds": (None, ["--max-seconds", "11"], {"max_seconds": 11}),
    "rnn, its own cap": ("RNN", [], {}),
    "rnn, --max-seconds": ("RNN", ["--max-seconds", "3"], {"max_seconds": 3}),
    "rnn, seconds= as the cap": ("RNN", ["--max-seconds", "3"], {"seconds": 3}),
}


@pytest.mark.filterwarnings("ignore::timestepmusic.setting_names.GenerateWarning")  # (what is drawn: WARNED's test)
@pytest.mark.parametrize("model, flags, keywords", LENGTHS.values(), ids=LENGTHS.keys())
def test_generate_draws_the_pieces_that_end_themselves_as_the_command(model, flags, keywords, rnn_run, tmp_path,
                                                                       monkeypatch):
    """A model that ends its pieces (rnn: always, within 120 s; the default: given a cap) draws them from generate() as
    `tsm generate` does: the same cap, ends=True and temperatures, so the same notes (piece_length.py)."""
    model = None if model is None else str(rnn_run)
    drawn = drawn_as(monkeypatch)
    assert main(["generate", "-q", "-o", str(tmp_path / "cli"), "-n", "1", "--seed", "3", *flags]
                + ([] if model is None else ["--model", model])) == 0
    by_python = tsm.generate(tmp_path / "python", model=model, n=1, seed=3, **keywords)[0]
    half = len(drawn) // 2  # (a piece without a note is drawn again, with the next seed: draws.written_pieces)
    assert half and drawn[:half] == drawn[half:]  # the same request drawn
    assert drawn[-1][1] == (11 if model is None else 120 if not keywords else 3)
    assert drawn[-1][4].get("ends") == (model is None or None)  # (the rnn arm is told nothing: it always ends)
    assert said_of(by_python) == said_of(tmp_path / "cli" / "sample_3_000.mid")


def test_generate_refuses_lengths_the_command_refuses(rnn_run, tmp_path):
    with pytest.raises(ValueError, match=r"^seconds=: this rnn model ends each piece itself; give max_seconds="):
        tsm.generate(tmp_path / "a", model=rnn_run, n=1, seconds=3, max_seconds=3)
    with pytest.raises(ValueError, match=r"^max_seconds= is for models that end pieces themselves .* writes exactly "
                       r"seconds$"):
        tsm.generate(tmp_path / "b", model="conv-v1", n=1, max_seconds=3)
    with pytest.raises(ValueError, match=r"^seconds= and max_seconds=: give one \(seconds=S: every piece S long"):
        tsm.generate(tmp_path / "c", n=1, seconds=3, max_seconds=3)
    with pytest.raises(ValueError, match=r"^max_seconds=0: the longest a piece may last must be > 0$"):
        tsm.generate(tmp_path / "d", n=1, max_seconds=0)
    with pytest.raises(ValueError, match="ends=False asks that none does"):
        tsm.generate(tmp_path / "e", n=1, max_seconds=3, ends=False)


BAD_REQUESTS = {  # id: (generate()'s keywords, the command's flags, what generate() says, what the command says)
    "key": ({"key": "Q major"}, ["--key", "Q major"], "key='Q major': not a key; ", "--key 'Q major': not a key; "),
    "key path": ({"key": "C > Q@1"}, ["--key", "C > Q@1"], "key='C > Q@1': 'Q' is not a key", "--key 'C > Q@1': 'Q' is"),
    "key too late": ({"key": "C > G@5"}, ["--key", "C > G@5"], "key: the waypoints would come at 0, 5 s",
                     "--key: the waypoints would come at 0, 5 s"),
    "tempo": ({"tempo": "fast"}, ["--tempo", "fast"], "tempo='fast': 'fast' is not a number of beats per minute",
              "--tempo 'fast': 'fast' is not"),
    "tempo number": ({"tempo": 500}, ["--tempo", "500"], "tempo=500: give beats per minute from 40 to 240",
                     "--tempo 500: give beats"),
    "tempo path": ({"tempo": "90 > 900"}, ["--tempo", "90 > 900"], "tempo=900: give beats per minute", "--tempo 900: give"),
    "first tempo timed": ({"tempo": "90@3 > 100"}, ["--tempo", "90@3 > 100"], "tempo='90@3 > 100': the first waypoint "
                          "holds from the start", "--tempo '90@3 > 100': the first"),
    "prompt": ({"prompt": "NOT MIDI"}, ["--prompt", "NOT MIDI"], "prompt=NOT MIDI: not a MIDI file (no MThd header)",
               "--prompt NOT MIDI: not a MIDI file"),
    "like": ({"like": "NOT MIDI"}, ["--like", "NOT MIDI"], "like=NOT MIDI: not a MIDI file", "--like NOT MIDI: not a"),
    # (these were said with the command's flags from Python: the code that says them is shared, setting_names.in_keywords)
    "style out of range": ({"style": "damper=2"}, ["--style", "damper=2"], "style='damper=2': must be in [0, 1]",
                           "--style damper=2: must be in [0, 1]"),
    "style no attribute": ({"style": "x=0.3"}, ["--style", "x=0.3"], "style='x=0.3': no attribute 'x'; one of",
                           "--style x=0.3: no attribute 'x'"),
    "style no request": ({"style": "nonsense"}, ["--style", "nonsense"], "style='nonsense': give ATTRIBUTE=VALUE",
                         "--style 'nonsense': give ATTRIBUTE=VALUE"),
    "style asked twice": ({"style": "density=6, density=3"}, ["--style", "density=6, density=3"],
                          "style='density=6, density=3': density is asked twice",
                          "--style density=6, density=3: density is asked twice"),
    "style too late": ({"style": "density=3 > density=4@9"}, ["--style", "density=3 > density=4@9"],
                       "style: the waypoints would come at 0, 9 s", "--style: the waypoints would come at 0, 9 s"),
    "composer unknown": ({"composer": "J.S. Nobody"}, ["--composer", "J.S. Nobody"],
                         "composer='J.S. Nobody': not one this model was trained on", "--composer J.S. Nobody: not one"),
    "composer and style": ({"composer": "Bach", "style": "density=3"}, ["--composer", "Bach", "--style", "density=3"],
                           "composer and style: give one (composer= tells each piece",
                           "--composer and --style: give one (--composer tells"),
    "model ''": ({"model": ""}, ["--model", ""], "model='': an empty name; give a shipped model's name (default, …) or a "
                 "run folder", "--model '': an empty name"),  # '.: no checkpoint here (expected config.json in it …)'
    "key of a model without": ({"model": "conv-v1", "key": "C"}, ["--model", "conv-v1", "--key", "C"],
                               "key: the shipped model conv-v1 (conv) does not hear keys", "--key: the shipped model"),
    "tempo of a model without": ({"model": "conv-v1", "tempo": 90}, ["--model", "conv-v1", "--tempo", "90"],
                                 "tempo: the shipped model conv-v1 (conv) draws no note starts", "--tempo: the shipped"),
    "temperature": ({"temperature": -1}, ["--temperature", "-1"], "temperature= must be > 0 and finite, got -1",
                    "--temperature must be > 0"),
    "mixture temperature": ({"mixture_temperature": 0.5}, ["--mixture-temperature", "0.5"],
                            "mixture_temperature: an events model has no mixture; its temperature= is the key's",
                            "--mixture-temperature: an events model has no mixture; its --temperature is the key's"),
    "ending": ({"model": "ar-v1", "ending": True}, ["--model", "ar-v1", "--ending"],
               "ending: the shipped model ar-v1 (ar) was trained without a closing", "--ending: the shipped model"),
}


def test_a_tempo_that_is_neither_a_number_nor_text_is_one_line(tmp_path):
    """generate(tempo=[80]) was a TypeError of float() once the model had loaded (and GANModel.sample(tempo=True) said
    'tempo=1: give beats per minute from 40 to 240'): now generate_api.TAKES' line, as for every keyword."""
    with pytest.raises(ValueError, match=r"^tempo= must be beats per minute \(90\), a path as text \('80 > 120'\) or a "
                                         r"TempoTold, got \[80\]$"):
        tsm.generate(tmp_path / "python", n=1, seconds=2.0, tempo=[80])
    assert not (tmp_path / "python").exists() or not list((tmp_path / "python").glob("*.mid"))


@pytest.mark.parametrize("keywords, flags, python_said, cli_said", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_a_bad_request_is_said_in_generate_s_keywords(keywords, flags, python_said, cli_said, tmp_path, capsys):
    """A key, tempo, prompt or performance to walk that cannot be read was said with tsm generate's flags (--key 'Q
    major': …) to a Python caller; the command says them as before."""
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi")
    keywords = {name: str(bad) if value == "NOT MIDI" else value for name, value in keywords.items()}
    with pytest.raises(ValueError) as raised:
        tsm.generate(tmp_path / "python", n=1, seconds=2.0, **keywords)
    assert str(raised.value).startswith(python_said.replace("NOT MIDI", str(bad)))
    flags = [str(bad) if flag == "NOT MIDI" else flag for flag in flags]
    assert main(["generate", "-q", "-o", str(tmp_path / "cli"), "-n", "1", "--seconds", "2", *flags]) == 2
    assert capsys.readouterr().err.startswith("error: " + cli_said.replace("NOT MIDI", str(bad)))
    assert not (tmp_path / "python").exists() or not list((tmp_path / "python").glob("*.mid"))


def test_a_composer_not_known_is_said_alone_before_what_the_folder_holds(tmp_path, capsys, caplog):
    """--composer Chopn into a folder holding another request's pieces said first that the folder held them (a
    warning), then the error: the name is checked once the model is loaded, before the folder is looked at."""
    out = tmp_path / "out"
    assert main(["generate", "-q", "-o", str(out), "-n", "1", "--seconds", "2", "--seed", "1", "--temperature", "0.8"]) == 0
    capsys.readouterr()
    caplog.clear()
    assert main(["generate", "-q", "-o", str(out), "-n", "1", "--seconds", "2", "--composer", "Chopn"]) == 2
    assert capsys.readouterr().err.startswith("error: --composer Chopn: not one this model was trained on; did you "
                                              "mean Chopin?")
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    assert main(["generate", "-q", "-o", str(out), "-n", "1", "--seconds", "2", "--composer", "Chopin"]) == 0
    assert "1 MIDI file(s) not drawn by this request" in caplog.text  # (said where the request is drawn)


def test_a_composer_for_a_model_without_descriptions_says_it_walks_no_path(tmp_path, capsys):
    """The check of --composer's name before -o is looked at asked events-v9 (trained without ar.style) for its
    description paths, and told the user to add them with train.style_paths, which such a model cannot take:
    GANModel.sample_latents' line is said, as before."""
    assert main(["generate", "--model", "events-v9", "--composer", "Bach", "-n", "1", "--seconds", "2",
                 "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: --composer: the shipped model events-v9 (events) walks no performance's path; the shipped "
                   "default does (and events-onsets, events-v28)")
    assert not (tmp_path / "out").exists()


def test_a_tempo_a_model_cannot_lean_to_names_the_call_that_sets_its_echo(tmp_path):
    from timestepmusic.generation import set_sampling

    model = tsm.GANModel.load()
    set_sampling(model, ["ar.beat_echo=0"])
    with pytest.raises(ValueError, match=re.escape("tempo= leans each note's start toward the asked beats through the "
                                                   "beat echo, which this model samples without (ar.beat_echo 0): add "
                                                   "generation.set_sampling(model, ['ar.beat_echo=3']) (the default's)")):
        tsm.generate(tmp_path, model=model, n=1, seconds=2.0, tempo=90)
    with pytest.raises(ValueError, match=re.escape("style='x=0.3': no attribute 'x'")):  # (GANModel.sample too)
        model.sample(1, 2.0, 0, style="x=0.3")


KEYWORDS = ["style", "tempo", "composer", "guidance", "seconds", "prompt", "temperature", "mixture_temperature", "max_seconds"]
SAID = {  # id: (the command's message, as generate() says it)
    "words after a flag are no value": ("--tempo leans each note (ar.beat_echo 0): add",
                                        "tempo= leans each note (ar.beat_echo 0): add"),
    "a value of words given": ("--composer J.S. Nobody: not one", "composer='J.S. Nobody': not one"),
    "a number left bare": ("--temperature -1: no", "temperature=-1: no"),
    "a quoted value kept": ("--style 'a;b': separate", "style='a;b': separate"),
    "a subject alone": ("--style: the waypoints", "style: the waypoints"),
    "subjects joined": ("--composer and --style: give one", "composer and style: give one"),
    "flags joined later": ("--guidance 0: so --style and --composer is not", "guidance=0: so style= and composer= is not"),
    "a flag in brackets": ("--style: give it longer (--seconds, or later)", "style: give it longer (seconds=, or later)"),
    "a longer flag first": ("--mixture-temperature: its --temperature is", "mixture_temperature: its temperature= is"),
    "another flag left": ("--prompt-seconds 3: past its end; --select", "--prompt-seconds 3: past its end; --select"),
    "a path left": ("prompt=/tmp/--style.mid: not a MIDI file", "prompt=/tmp/--style.mid: not a MIDI file"),
    "a setting set": ("add --set ar.beat_echo=3 (the default's)", "add generation.set_sampling(model, ['ar.beat_echo=3']) "
                      "(the default's)"),
}


@pytest.mark.parametrize("cli_said, python_said", SAID.values(), ids=SAID.keys())
def test_a_shared_message_names_generate_s_keywords(cli_said, python_said):
    from timestepmusic.setting_names import in_keywords

    assert in_keywords(cli_said, KEYWORDS, {"composer": "J.S. Nobody"}) == python_said


WARNED = {  # id: (generate()'s keywords, the command's flags, what generate() warns, what the command logs)
    "not whole chunks": ({"seconds": 2.1}, ["--seconds", "2.1"], "seconds=2.1: each piece is drawn as 8 chunks of 0.25 s",
                         "--seconds 2.1: each piece is drawn as 8 chunks"),
    "nothing to snap": ({"model": "ar-v1", "snap_to_real": False, "seconds": 2.0}, ["--model", "ar-v1", "--no-snap"],
                        "snap_to_real=False: the shipped model ar-v1 has no codebook of real chunks",
                        "--no-snap: the shipped model ar-v1 has no codebook"),
    "a shape too short": ({"style": "loudness=50 > loudness=70", "seconds": 2.0}, ["--style", "loudness=50 > loudness=70"],
                          "style: each chunk is told the 16 s ahead, so the shape of loudness over 2 s is told less than "
                          "60% of its range; give it longer (seconds=, or later waypoints)",
                          "--style: each chunk is told the 16 s ahead"),
    "a performance shorter": ({"like": "PROMPT", "seconds": 4.0}, ["--like", "PROMPT", "--seconds", "4"],
                              "like: p.mid lasts 2.3 s from its first note, the pieces 4 s", "--like: p.mid lasts 2.3 s"),
    "tempo waypoints close": ({"tempo": "80 > 100", "seconds": 2.0}, ["--tempo", "80 > 100"],
                              "tempo: each waypoint's beat is heard over the 8 s around it",
                              "--tempo: each waypoint's beat is heard"),
    "guidance 0": ({"guidance": 0, "style": "density=3", "seconds": 2.0}, ["--guidance", "0", "--style", "density=3"],
                   "guidance=0: each choice is drawn at the odds of a piece told nothing, so style= is not followed",
                   "--guidance 0: each choice is drawn at the odds of a piece told nothing, so --style is not"),
    "closing all through": ({"ending": True, "seconds": 2.0}, ["--ending"], "ending: this model closes a piece over its "
                            "last 10 s; a piece of 2 s is closing all through", "--ending: this model closes a piece"),
    "a cap within the closing": ({"max_seconds": 3}, ["--max-seconds", "3"], "max_seconds=3: this model closes a piece "
                                 "over its last 10 s and ends none itself", "--max-seconds 3: this model closes"),
    "ending with a cap": ({"ending": True, "max_seconds": 3}, ["--ending", "--max-seconds", "3"],
                          "ending= is implied by max_seconds=: a piece that ends itself always closes",
                          "--ending is implied by --max-seconds: a piece that ends itself always closes"),
    "a composer's fuller name": ({"composer": "C.P.E. Bach", "seconds": 2.0}, ["--composer", "C.P.E. Bach"],
                                 "composer='C.P.E. Bach': this model knows no fuller name than Bach",
                                 "--composer C.P.E. Bach: this model knows no fuller name than Bach"),
    "beyond what was measured": ({"style": "register=96", "seconds": 2.0}, ["--style", "register=96"],
                                 "style='register=96': beyond what this model was measured to play",
                                 "--style register=96: beyond what this model was measured to play"),
}


@pytest.mark.parametrize("keywords, flags, python_said, cli_said", WARNED.values(), ids=WARNED.keys())
def test_what_the_command_warns_of_generate_warns_of_in_its_keywords(keywords, flags, python_said, cli_said, prompt,
                                                                     tmp_path, caplog):
    """generate() said none of what `tsm generate` warns of (a length not whole chunks, a shape too short to be told,
    --guidance 0 with a style …): a GenerateWarning says it, naming the keywords, at the caller's line; the command
    logs it as before."""
    keywords = {name: str(prompt) if value == "PROMPT" else value for name, value in keywords.items()}
    with pytest.warns(GenerateWarning) as warned:
        tsm.generate(tmp_path / "python", n=1, seed=3, **keywords)
    said = [str(w.message) for w in warned if str(w.message).startswith(python_said)]
    assert said, [str(w.message) for w in warned]
    assert {w.filename for w in warned} == {__file__}  # (at the line that called generate())
    assert not [r for r in caplog.records if r.levelname == "WARNING"]  # (not said twice)
    flags = [str(prompt) if flag == "PROMPT" else flag for flag in flags]
    if "seconds" in keywords and "--seconds" not in flags:
        flags += ["--seconds", f"{keywords['seconds']:g}"]
    assert main(["generate", "-q", "-o", str(tmp_path / "cli"), "-n", "1", "--seed", "3", *flags]) == 0
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith(cli_said)]


def test_a_path_the_caller_gave_is_said_as_given_not_taken_for_flags(tmp_path):
    """A path that holds what reads as one of the command's flags ('take -n 2.mid', a folder 'rec --seed 3') was said
    mangled ('prompt=…/take n= 2.mid: cannot read', '…/rec seed= 3/sample_0_000.mid is there already'): what the
    caller gave is said as given, the flags around it named as keywords as before."""
    from timestepmusic.setting_names import in_keywords

    assert in_keywords("--composer Bach --style: not one", KEYWORDS, {"composer": "Bach --style"}) == (
        "composer='Bach --style': not one")
    assert in_keywords("--set ar.x=1 (--style)", KEYWORDS, {"style": "a --set b"}) == (
        "generation.set_sampling(model, ['ar.x=1']) (style=)")
    missing = tmp_path / "take -n 2.mid"
    with pytest.raises(ValueError, match=f"^prompt={re.escape(str(missing))}: cannot read: no such file$"):
        tsm.generate(tmp_path / "a", n=1, seconds=2.0, prompt=missing)
    out = tmp_path / "rec --seed 3"
    out.mkdir()
    (out / "sample_0_000.mid").write_bytes(b"")
    with pytest.raises(ValueError, match=f"^{re.escape(str(out / 'sample_0_000.mid'))} is there already"):
        tsm.generate(out, n=1, seconds=2.0)


def test_a_warning_is_said_at_the_callers_line_where_the_package_is_reached_through_a_link(tmp_path):
    """Where the package's folder is reached through a link (a linked install), a GenerateWarning was said at a line
    of the package's own (generate_told.py), as the package's folder was compared resolved with its code's unresolved
    file names; it is said at the caller's line."""
    import subprocess
    import sys

    link = tmp_path / "linked"
    link.symlink_to(Path(tsm.__file__).resolve().parent.parent)
    code = ("import warnings\nfrom timestepmusic.generate_told import say_unfollowed\n"
            "from timestepmusic.setting_names import keyword_messages\n"
            "with warnings.catch_warnings(record=True) as said:\n    warnings.simplefilter('always')\n"
            "    with keyword_messages(['guidance', 'style']):\n        say_unfollowed(0, 'density=3', None, None)\n"
            "print(*[f'{w.filename}:{w.lineno}' for w in said])")
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(link), "OMP_NUM_THREADS": "1"},
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["<string>:7"]
