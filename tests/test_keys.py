"""Keys by name and by ear (keys.py): what `tsm generate --key` reads and how its pieces' keys are named."""
from __future__ import annotations

import re

import numpy as np
import pytest

from timestepmusic.keys import Key, check_key, estimate_key, key_name, parse_key, parse_key_path, same_signature, timed_path
from timestepmusic.midi import LOWEST_PITCH, Events
from timestepmusic.waypoints import clock_seconds, clock_text


@pytest.mark.parametrize("text, key", [("C", (0, False)), ("E minor", (4, True)), ("Em", (4, True)),
                                       ("f# major", (6, False)), ("Bb", (10, False)), ("b-flat minor", (10, True)),
                                       ("c#m", (1, True)), ("Cb", (11, False)), ("B#", (0, False)),
                                       ("  a  min ", (9, True)), ("E♭ maj", (3, False)), ("CM", (0, False)),
                                       ("Cm", (0, True)), ("Eb-minor", (3, True)), ("C#-minor", (1, True)),
                                       ("B FLAT MAJOR", (10, False)), ("bb", (10, False)), ("Bbm", (10, True))])
def test_a_key_is_read_from_its_name(text, key):
    assert parse_key(text) == key


@pytest.mark.parametrize("text, key, signature", [
    ("Fis-Dur", (6, False), 6), ("es-Moll", (3, True), -6), ("B-Dur", (10, False), -2), ("H-Dur", (11, False), 5),
    ("h moll", (11, True), 2), ("As-Dur", (8, False), -4), ("Ges-Dur", (6, False), -6), ("cis-moll", (1, True), 4),
    ("C-Dur", (0, False), 0), ("Ces-Dur", (11, False), -7), ("ré mineur", (2, True), -1),
    ("si bémol majeur", (10, False), -2), ("fa diesis minore", (6, True), 3), ("Sol mayor", (7, False), 1),
    ("do", (0, False), 0), ("mi bemolle maggiore", (3, False), -3), ("do dièse majeur", (1, False), 7),
    ("Es", (3, False), -3), ("fis", (6, True), 3), ("H", (11, False), 5), ("h", (11, True), 2), ("as", (8, True), -7)])
def test_a_key_is_read_as_german_and_solfege_name_it_and_its_signature_spelled_so(text, key, signature):
    from timestepmusic.keys import sharps

    assert parse_key(text) == key and sharps(parse_key(text), text) == signature


def test_a_key_is_named_back_as_typed():
    """As its signature reads, spelled with the accidental typed: as-Moll is A flat minor (seven flats), not G#."""
    assert [key_name(parse_key(text), text) for text in ("as-Moll", "C#", "Cb", "Gb", "Ges-Dur", "E minor", "Db",
                                                         "c#m")] == [
        "Ab minor", "C# major", "Cb major", "Gb major", "Gb major", "E minor", "Db major", "C# minor"]
    assert [key_name(parse_key(text)) for text in ("as-Moll", "C#", "Gb")] == ["G# minor", "Db major", "F# major"]
    from timestepmusic.keys import typed_keys

    assert typed_keys("Gb@0") == ["Gb"] and typed_keys("Gb > Cb@8") == ["Gb", "Cb"]  # a time is not part of the name


@pytest.mark.parametrize("text", ["Hm", "", "C minor major", "E mixolydian", "Cx", "11", "C##", "Ees", "Fis-", "H-Major",
                                  "Bb-Dur", "sol-", "la mineur majeur"])
def test_what_is_not_a_key_is_refused_by_name(text):
    with pytest.raises(ValueError, match="not a key"):
        parse_key(text)


@pytest.mark.parametrize("text", ["H major", "h minor", "Hm", "H-Major"])
def test_h_with_an_english_mode_is_refused_saying_how_to_name_it(text):
    with pytest.raises(ValueError, match="not a key; H is German for B: give 'H-Dur' or 'h-Moll'"):
        parse_key(text)
    with pytest.raises(ValueError, match=f"'{text}' is not a key; H is German for B"):  # in a path too
        parse_key_path(f"C > {text}@4")


def test_every_key_reads_back_from_its_name_as_its_signature_spells_it():
    for tonic in range(12):
        for minor in (False, True):
            assert parse_key(key_name(Key(tonic, minor))) == (tonic, minor)
    assert [key_name(Key(1, False)), key_name(Key(8, True)), key_name(Key(6, False))] == ["Db major", "G# minor",
                                                                                           "F# major"]


@pytest.mark.parametrize("given", [(12, False), (-1, True), (3, 1), ("E", True), (True, False), (4,), "E minor"])
def test_a_key_given_in_code_is_checked(given):
    with pytest.raises(ValueError, match="tonic 0–11"):
        check_key(given)
    assert check_key((4, True)) == Key(4, True)


C, G, A_MINOR, D = Key(0, False), Key(7, False), Key(9, True), Key(2, False)


@pytest.mark.parametrize("text, seconds, first, later", [
    ("C", 16, C, ()),  # one key: no change
    ("C > G", 16, C, ((8.0, G),)),  # untimed: evenly over the piece
    ("C major > G major > A minor", 60, C, ((20.0, G), (40.0, A_MINOR))),
    ("C > G > Am@40", 60, C, ((20.0, G), (40.0, A_MINOR))),  # between the start and a timed key
    ("C>G@5>D", 60, C, ((5.0, G), (32.5, D))),  # between a timed key and the piece's end
    ("C@0 > G @ 12s", 30, C, ((12.0, G),)),  # the first at 0 may be said; a time in seconds, "s" allowed
    ("C@0", 16, C, ()),  # … also of a key alone, as --tempo '80@0' and --style 'density=3@0' read
    ("C > C > G", 30, C, ((10.0, C), (20.0, G))),
    ("C > G@0:12 > D@1:01.5", 90, C, ((12.0, G), (61.5, D)))])  # times as a clock reads them
def test_a_path_of_keys_is_read_and_timed(text, seconds, first, later):
    assert timed_path(parse_key_path(text), seconds) == (first, later)


@pytest.mark.parametrize("text, seconds, says", [
    ("C > Hm", 16, "'Hm' is not a key"), ("C > G@x", 16, "is not a time; '@SECONDS' (or '@M:SS'"),
    ("C@3 > G", 16, "the first waypoint holds from the start"),
    ("Em@5", 16, "--key 'Em@5': the first waypoint holds from the start"),  # (not 'not a key', as it said)
    ("C > G@16", 16, "at 0, 16 s: each must come after the one before, and before the piece's end (16 s)"),
    ("C > G@20 > D@10", 60, "at 0, 20, 10 s"), ("C > G@nan", 16, "is not a time; '@SECONDS' (or '@M:SS'"),
    ("C > G@inf", 16, "is not a time; '@SECONDS' (or '@M:SS'"), ("C > G@1:75", 160, "ends a waypoint"),
    ("C -> G", 16, "separate the waypoints with '>' alone"),
    ("C → G", 16, "with '>' alone"),
    ("C > G > D@50", 16, "at 0, 25, 50 s"), ("C-", 16, "--key 'C-': not a key"),
    ("C > G@0", 16, "after the one before"), ("C > > G", 16, "waypoint 2 is empty"), ("Hm", 16, "--key 'Hm': not a key")])
def test_a_path_that_cannot_be_played_is_refused_in_one_line(text, seconds, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        timed_path(parse_key_path(text), seconds)


@pytest.mark.parametrize("text, seconds", [("90", 90.0), ("90s", 90.0), (" 2.5 ", 2.5), ("1:30", 90.0),
                                           ("0:05", 5.0), ("1:02:03.5", 3723.5), ("-5", -5.0), ("-1:30", -90.0),
                                           ("75:00", 4500.0), ("0:59.75s", 59.75)])
def test_a_time_is_read_as_seconds_or_as_a_clock_reads_it(text, seconds):
    assert clock_seconds(text) == seconds
    if seconds >= 0:
        assert clock_seconds(clock_text(seconds)) == seconds  # and written back as a clock reads it


@pytest.mark.parametrize("text", ["", "x", "1:60", "1::30", "--1:30", "1.5:30", "1:2:3:4", "nan", "inf", "1:inf",
                                  "1:7", "1:75:00", ":30", "1:2:03"])
def test_what_is_not_a_time_is_refused_in_one_line(text):
    with pytest.raises(ValueError, match=re.escape(f"{text!r} is not a time: give seconds (90, 90s, 2.5) or "
                                                   "minutes:seconds (1:30, 1:02:03)")):
        clock_seconds(text)


def test_a_time_is_written_as_a_clock_reads_it():
    assert [clock_text(s) for s in (0, 5, 90, 61.25, 3723.5, 59.9996, 7200)] == [
        "0:00", "0:05", "1:30", "1:01.25", "1:02:03.5", "1:00", "2:00:00"]


def played(pitches: list[int], durations: list[float]) -> Events:
    """Notes one after another at these MIDI pitches and durations."""
    start = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    return Events(np.array(pitches) - LOWEST_PITCH, start, np.array(durations), np.full(len(pitches), 64))


def test_a_scale_and_its_cadence_are_heard_in_their_key():
    c_major = played([60, 62, 64, 65, 67, 69, 71, 72, 67, 60, 64, 67, 60], [0.3] * 8 + [0.5, 1.0, 0.5, 0.5, 1.5])
    assert estimate_key(c_major) == (0, False)
    a_minor = played([57, 59, 60, 62, 64, 65, 68, 69, 64, 57, 60, 64, 57, 68, 69],
                     [0.3] * 8 + [0.5, 1.0, 0.5, 0.5, 1.5, 0.3, 1.5])  # harmonic minor: the G# leads to A
    assert estimate_key(a_minor) == (9, True)
    assert estimate_key(played([60, 72], [1.0, 1.0])) is None  # one pitch class says no key
    assert estimate_key(c_major.take(np.arange(0))) is None


def test_transposed_notes_are_heard_transposed():
    melody = played([60, 62, 64, 65, 67, 69, 71, 72, 67, 60], [0.3] * 8 + [0.5, 1.0])
    up = Events(melody.ids + 3, melody.start_s, melody.duration_s, melody.intensity)
    assert estimate_key(up) == ((estimate_key(melody)[0] + 3) % 12, estimate_key(melody)[1])


def test_relative_keys_share_a_signature():
    assert same_signature(Key(0, False), Key(9, True))  # C major, A minor
    assert same_signature(Key(4, True), Key(7, False))  # E minor, G major
    assert not same_signature(Key(0, False), Key(0, True))  # C major, C minor
    assert same_signature(Key(2, False), Key(2, False))


def test_a_piece_and_its_written_file_are_heard_in_one_key(tmp_path):
    """A key struck again while its note sounds ends that note, as the written file plays it; the estimate weighs
    the notes so, or a piece could be named one key on the command line and another from its file."""
    from timestepmusic.midi import read_events
    from timestepmusic.midi_write import write_events

    pitches = np.array([43, 43, 43, 43, 48, 50, 52, 55, 57])  # G2 struck four times, held on; then a line
    held = Events(pitches - LOWEST_PITCH, np.array([0.0, 0.5, 1.0, 1.5, 0, 0.4, 0.8, 1.2, 1.6]),
                  np.array([8.0, 8.0, 8.0, 8.0, 0.3, 0.3, 0.3, 0.3, 0.3]), np.full(9, 64))
    written, _ = read_events(write_events(held, tmp_path / "held.mid"))
    from timestepmusic.keys import pitch_class_weights

    assert pitch_class_weights(held) == pytest.approx(pitch_class_weights(written), abs=0.01)
    assert pitch_class_weights(held)[7] == pytest.approx(1.5 + 2.0 + 0.3, abs=0.01)  # G2 cut thrice at 0.5 s, then 2 s; G3


def test_info_says_which_shipped_models_take_a_key(capsys):
    import json

    from timestepmusic.cli import main

    takes, said = {}, {}
    for name in ("default", "style", "conv-v1"):
        assert main(["generate", "--model", name, "--info", "--json"]) == 0
        takes[name] = json.loads(capsys.readouterr().out)["takes_key"]  # --json: for scripts
        assert main(["generate", "--model", name, "--info", "-v"]) == 0
        said[name] = capsys.readouterr().out  # without: a person's words (-v: with the model's history)
    assert takes == {"default": True, "style": False, "conv-v1": False}  # style was trained without ar.tonal
    assert said["default"].startswith("default (events): the default")
    assert "trained: 5,500 steps of its own" in said["default"] and "warm-started from events-v28" in said["default"]
    lines = said["default"].splitlines()
    history = lines[[i for i, line in enumerate(lines) if line.startswith("how it came to be: ")][0]:-1]
    assert len(history) > 3 and max(map(len, history)) <= 110  # the model's history, wrapped
    assert "it may be asked: --prompt, --key, --tempo, --style (calibrated)" in said["default"]
    assert "--key" not in said["style"] and "it may be asked" not in said["conv-v1"]
    from timestepmusic.generate_info import info_words

    default = json.loads(main(["generate", "--info", "--json"]) == 0 and capsys.readouterr().out)
    def asked(info: dict) -> str:
        return next(line for line in info_words(info) if line.startswith("it may be asked: "))

    assert "--composer (7 composers), --like" in asked(default)  # it walks paths: it may be asked them
    short_run = default | {"trained": default["trained"] | {"seconds": 125.0}, "initialised_from": {}}
    assert "trained: 5,500 steps of its own, 2.1 min on " in info_words(short_run)[1]  # (not '0.0 h')
    assert "performances" in info_words(default)[1] and "tracks" not in info_words(default)[1]  # as prepare says
    own = info_words(default | {"summary": None, "model": "runs/mine/last"})[0]
    assert own.startswith("mine/last (events): a run of your own")  # (not 'no summary')
    unwalked = asked(default | {"ar": default["ar"] | {"style_drawn": False}})  # a run that tells no path: not offered
    assert "--composer" not in unwalked and "--like" not in unwalked and "--style (calibrated)" in unwalked
    assert main(["generate", "--info"]) == 0
    short = capsys.readouterr().out
    assert "how it came to be: --info -v" in short and len(short.splitlines()) == 5  # (the history asked for with -v)
    assert "\nbest validation: val_nll 35.93 (its run's best by step 5,500)\n" in short  # (shipped: its step not kept)
    assert "--resume" not in short  # (a shipped model is no run to go on with, though its 5,500 steps are of 8,000)
    assert main(["generate", "--model", "events-v28", "--info"]) == 0  # its 'default': the default of its time …
    assert "warm-started from default at its step 6,500 (the default of its time" in capsys.readouterr().out
    assert main(["generate", "--model", "events-onsets", "--info"]) == 0  # … this one's, the default shipped now
    assert "(trained before that: --info --model default)" in capsys.readouterr().out


def test_a_key_found_is_named_by_how_it_stands_to_the_one_asked():
    from timestepmusic.keys import relation

    c = Key(0, False)
    assert [relation(found, c) for found in (Key(0, False), Key(9, True), Key(0, True), Key(7, False), Key(5, False),
                                             Key(2, False), Key(7, True), None)] == [
        "the key", "its relative", "its parallel", "its dominant", "its subdominant", "another key", "another key",
        "no key"]
