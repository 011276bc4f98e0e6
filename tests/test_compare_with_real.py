"""compare_with_real(): tsm evaluate's figures from Python, equal to the CLI's report.json, written nowhere unasked."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import timestepmusic
from timestepmusic.cli import main
from timestepmusic.evaluate.descriptors import SCALAR_DESCRIPTORS
from timestepmusic.evaluate.excerpts import excerpts_from_corpus
from timestepmusic.evaluate.summary import figures_of
from timestepmusic.midi_write import write_events

from test_evaluate import make_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("compare_corpus"))


@pytest.fixture(scope="module")
def generated(corpus, tmp_path_factory) -> Path:
    """Three 16 s excerpts standing in for generated files: two of the test split, one of the training split."""
    folder = tmp_path_factory.mktemp("generated")
    test = excerpts_from_corpus(corpus, "test")
    for k in range(2):
        write_events(test.events(k), folder / f"sample_{k}.mid")
    write_events(excerpts_from_corpus(corpus, "train").events(1), folder / "sample_2.mid")
    return folder


def test_it_is_exported_from_the_package():
    assert "compare_with_real" in timestepmusic.__all__
    assert timestepmusic.compare_with_real.__module__ == "timestepmusic.evaluate.summary"


def test_the_figures_are_those_of_tsm_evaluates_report_and_nothing_is_written(corpus, generated, tmp_path):
    before = sorted(p.name for p in generated.iterdir())
    figures = timestepmusic.compare_with_real(generated, corpus.root, seed=3, repeats=1)
    assert sorted(p.name for p in generated.iterdir()) == before  # (no report noted among the files)
    assert figures["report"] is None and figures["files"] == 3

    assert main(["evaluate", str(generated), "--real", str(corpus.root), "-o", str(tmp_path / "cli"), "--seed", "3",
                 "--repeats", "1"]) == 0
    report = json.loads((tmp_path / "cli" / "report.json").read_text())
    said = figures_of(report)
    for name in ("logistic", "trees", "mean_overlap", "overlaps", "near_copies", "excerpts"):
        assert figures[name] == said[name], name
    assert figures["logistic"] == report["classifier"]["generated"]["accuracy"]
    assert figures["trees"] == report["classifier_trees"]["generated"]["accuracy"]
    assert set(figures["overlaps"]) == set(SCALAR_DESCRIPTORS)
    assert figures["overlaps"]["pitch_range"] == report["descriptors"]["pitch_range"]["rows"]["generated"]["overlap"]
    assert 0 <= figures["mean_overlap"] <= 1 and figures["ceiling"]["logistic"] is not None


def test_tsm_evaluate_s_bar_moves_once_per_classifier_draw(corpus, generated, monkeypatch):
    """tsm evaluate said nothing for its minutes (most of them the classifiers' draws): compared(progress=True) shows
    a bar where stderr is a terminal (tqdm's disable=None), moved once per draw of each classifier test; from Python,
    none unasked."""
    import tqdm

    from timestepmusic.evaluate.comparison import compared

    bars = []

    class Bar(tqdm.tqdm):  # what each bar was asked, and how often it moved (a bar not shown counts no moves)
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.asked, self.moved = kwargs, 0
            bars.append(self)

        def update(self, n=1):
            self.moved += n
            return super().update(n)

    monkeypatch.setattr(tqdm, "tqdm", Bar)
    found = compared(generated, corpus, seed=3, repeats=2, progress=True)
    (bar,) = bars
    tests = [*found.classifier.values(), *found.classifier_trees.values()]
    assert bar.asked["disable"] is None and bar.total == 2 * len(tests)  # two draws of each test
    assert bar.moved == sum(len(test["accuracies"]) for test in tests) > 0
    compared(generated, corpus, seed=3, repeats=1)
    assert bars[1].asked["disable"] is True


def test_a_list_of_files_gives_the_folders_figures_and_out_writes_the_report(corpus, generated, tmp_path):
    files = sorted(generated.glob("*.mid"))
    listed = timestepmusic.compare_with_real(files, corpus, seed=3, repeats=1)
    written = timestepmusic.compare_with_real(generated, corpus, seed=3, repeats=1, out=tmp_path / "r")
    assert written["report"] == tmp_path / "r" / "report.json" and written["report"].is_file()
    assert {k: v for k, v in listed.items() if k != "report"} == {k: v for k, v in written.items() if k != "report"}
    with pytest.raises(ValueError, match="earlier report"):
        timestepmusic.compare_with_real(generated, corpus, out=tmp_path / "r")
    with pytest.raises(ValueError, match="no such generated MIDI file"):
        timestepmusic.compare_with_real([tmp_path / "missing.mid"], corpus)


def test_out_is_checked_as_tsm_evaluate_checks_its_folder_before_anything_is_compared(corpus, generated, tmp_path,
                                                                                       monkeypatch):
    """out= a file was an OSError once the comparison's minutes were spent; out= a folder holding figures of the user's
    own had them replaced unsaid, and a report.html alone there replaced too; overwrite=True left the earlier report's
    rolls beside the new one's. Each as `tsm evaluate -o` says it, in keywords."""
    from timestepmusic.evaluate import report as report_module

    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    mine = tmp_path / "mine" / "figures" / "densities.png"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"my own figure")
    page = tmp_path / "page" / "report.html"
    page.parent.mkdir()
    page.write_text("a report kept")
    real = report_module.evaluate_generated

    def compares(*args, **kwargs):
        raise AssertionError("compared before its folder was checked")
    monkeypatch.setattr(report_module, "evaluate_generated", compares)
    with pytest.raises(ValueError, match="^" + re.escape(f"out={a_file}: a file; give the folder")):
        timestepmusic.compare_with_real(generated, corpus, out=a_file)
    with pytest.raises(ValueError, match="holds files in figures/ that no report wrote.*another out, or overwrite=True"):
        timestepmusic.compare_with_real(generated, corpus, out=mine.parent.parent)
    with pytest.raises(ValueError, match="report.html is there already"):
        timestepmusic.compare_with_real(generated, corpus, out=page.parent)
    assert a_file.read_text() == "mine" and mine.read_bytes() == b"my own figure" and page.read_text() == "a report kept"

    monkeypatch.setattr(report_module, "evaluate_generated", real)
    other = tmp_path / "other"  # a report of other files there, then one of these over it
    other.mkdir()
    (other / "take_0.mid").write_bytes((generated / "sample_0.mid").read_bytes())
    out = tmp_path / "r"
    timestepmusic.compare_with_real(other, corpus, seed=3, repeats=1, out=out)
    assert (out / "figures" / "roll_take_0.png").is_file()
    timestepmusic.compare_with_real(generated, corpus, seed=3, repeats=1, out=out, overwrite=True)
    assert not (out / "figures" / "roll_take_0.png").exists() and (out / "figures" / "roll_sample_0.png").is_file()


def test_an_accuracy_it_cannot_give_is_none_with_why(corpus, generated):
    figures = timestepmusic.compare_with_real(generated, corpus, seed=3, repeats=1)
    assert figures["trees"] is None and "too few excerpts for the trees" in figures["why"]["trees"]
    assert figures["logistic"] is not None and "logistic" not in figures["why"]


def test_the_files_may_be_a_glob_not_only_a_list(generated):
    """A glob's generator (no len(), read once) is read as the list of its files, not a TypeError traceback."""
    from timestepmusic.evaluate.generated_files import read_generated

    listed = read_generated(sorted(generated.glob("*.mid")), pedal_bins=2)
    globbed = read_generated(iter(sorted(generated.glob("*.mid"))), pedal_bins=2)
    assert globbed[1] == listed[1] and len(globbed[1]) == 3
    with pytest.raises(ValueError, match="no generated MIDI files given"):
        read_generated(iter([]), pedal_bins=2)


def test_the_report_holds_the_comparison_s_figures_as_compare_with_real_reads_them(corpus, generated, tmp_path):
    """One dict (Comparison.report_figures) is what report.json holds of the comparison and what compare_with_real
    reads its figures from, in report.json's order (compare_with_real built a subset of it by hand)."""
    from timestepmusic.evaluate.comparison import BASELINE, CEILING, compared
    from timestepmusic.evaluate.report import evaluate_generated
    from timestepmusic.evaluate.summary import row_figures
    from timestepmusic.setting_names import PYTHON_KEYWORDS

    figures = compared(generated, corpus, seed=3, repeats=1).report_figures("test")
    report = evaluate_generated(generated, corpus, tmp_path / "r", seed=3, repeats=1)
    assert {name: report[name] for name in figures} == figures
    assert list(report) == ["generated_dir", "corpus", "split", "train_split", "seconds", "seed", "folds_by", "files",
                            "excerpts",
                            "rows", "descriptors", "mean_overlap", "classifier", "classifier_trees", "copies", "figures",
                            "samples",
                            "training", "notes", "link_audio", "out_dir", "flags"]  # (as before, and the flags that
    assert report["flags"] == ["--seed", "3", "--repeats", "1"]  # write it again: evaluate_flags)
    assert list(figures["files"]) == ["read", "bad", "left_out", "described"]
    rows = {"baseline": row_figures(figures, BASELINE), "ceiling": row_figures(figures, CEILING)}
    said_in_keywords = compared(generated, corpus, seed=3, repeats=1, setting_names=PYTHON_KEYWORDS).report_figures("test")
    assert said_in_keywords | {"notes": figures["notes"]} == figures  # (its notes name compare_with_real()'s keywords)
    assert timestepmusic.compare_with_real(generated, corpus, seed=3, repeats=1) == figures_of(said_in_keywords) | {
        "report": None} | rows


WRONG_ARGUMENTS = {  # id: (compare_with_real()'s keywords, what it says), what it was before
    "generated=None": ({"generated": None}, "generated= must be a folder of MIDI files or a list of their paths, "
                       "got None"),  # TypeError: 'NoneType' object is not iterable
    "corpus=None": ({"corpus": None}, "corpus= must be a prepared corpus's folder (tsm prepare's) or a Corpus, got None"),
    "seed=-1": ({"seed": -1}, "seed= must be a whole number from 0 to 1099511627776, got -1"),  # numpy's 'expected
    # non-negative integer', after a note 'no shuffled-chunks baseline: expected non-negative integer'
    "repeats=0": ({"repeats": 0}, "repeats= must be a whole number ≥ 1, got 0"),  # '--repeats must be ≥ 1'
    "max_real_excerpts=0": ({"max_real_excerpts": 0}, "max_real_excerpts= must be a whole number ≥ 1 (None: all), got 0"),
    "max_real_excerpts text": ({"max_real_excerpts": "40"}, "max_real_excerpts= must be a whole number ≥ 1 (None: all), "
                               "got '40'"),  # TypeError: '<' not supported between instances of 'str' and 'int'
    "seconds=0": ({"seconds": 0}, "seconds= must be an excerpt's length in seconds, > 0, got 0"),
    "split=None": ({"split": None}, "split= must be a split's name ('train', 'validation', 'test'), got None"),
    "overwrite text": ({"overwrite": "no"}, "overwrite= must be True or False, got 'no'"),
    "folds_by='track'": ({"folds_by": "track"}, "folds_by= must be 'piece' or 'performance', got 'track'"),
    "generated=''": ({"generated": ""}, "generated='': an empty name; give the folder of generated MIDI files ('.' for "
                     "the working folder) or a list of their paths"),  # the working folder's MIDI files, evaluated
    "out=''": ({"out": ""}, "out='': an empty name; give the folder to write the report into ('.' for the working "
               "folder), or None to write nothing"),  # wrote report.html, report.json and figures/ into the working folder
}


@pytest.mark.parametrize("given, said", WRONG_ARGUMENTS.values(), ids=WRONG_ARGUMENTS.keys())
def test_a_wrong_argument_is_one_line_naming_its_keyword(given, said, tmp_path, monkeypatch):
    """compare_with_real(seed=-1), repeats=0, max_real_excerpts='40', generated=None … were numpy's or Python's errors
    from deep inside, or named tsm evaluate's flags (--repeats); each is one line naming the keyword, before the corpus
    is read (the corpus here is a folder that is not one: opening it would say so)."""
    arguments = {"generated": tmp_path, "corpus": tmp_path} | given
    with pytest.raises(ValueError) as raised:
        timestepmusic.compare_with_real(**arguments)
    assert str(raised.value) == said


def test_generated_files_may_be_any_iterable_of_paths(corpus, generated):
    """(the argument checks read an iterable once: a glob's generator is still every file)"""
    files = list(generated.glob("*.mid"))
    by_list = timestepmusic.compare_with_real(files, corpus, seed=3, repeats=1)
    by_iterator = timestepmusic.compare_with_real(iter(files), corpus, seed=3, repeats=1)
    assert by_list == by_iterator and by_iterator["files"] == 3


def test_its_notes_name_its_keywords_and_tsm_evaluate_s_its_flags(corpus, generated, tmp_path, caplog):
    """compare_with_real()'s notes (logged and returned) asked for `--split`, `shorter --seconds`, `pass --seconds no
    longer than the files` and `tsm generate -n 200`, flags of commands a Python caller is not running; now its
    keywords (split=, seconds=) and generate()'s n=200, while tsm evaluate's report keeps its flags."""
    import logging
    import shutil

    folder = tmp_path / "with_a_short_one"
    shutil.copytree(generated, folder)
    events = excerpts_from_corpus(corpus, "test").events(0)
    write_events(events.take(events.start_s < 2.0), folder / "short.mid")  # (a file shorter than the excerpts)
    with caplog.at_level(logging.WARNING):
        notes = timestepmusic.compare_with_real(folder, corpus, seed=3, repeats=1)["notes"]
    asked = ["use a larger split (split=), shorter seconds= or a larger corpus", "pass seconds= no longer than the files",
             "generate more pieces (generate() with n=200)"]
    assert [any(note.endswith(said) for note in notes) for said in asked] == [True] * 3, notes
    assert not any("--" in note or "tsm " in note for note in notes)
    assert [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING] == notes
    with pytest.raises(ValueError, match=r"; choose another split=, shorter seconds= or a larger corpus$"):
        timestepmusic.compare_with_real(folder, corpus, seconds=100_000.0)

    assert main(["evaluate", str(folder), "--real", str(corpus.root), "-o", str(tmp_path / "cli"), "--seed", "3",
                 "--repeats", "1"]) == 0
    said = json.loads((tmp_path / "cli" / "report.json").read_text())["notes"]
    flags = ["use a larger split (--split), shorter --seconds or a larger corpus",
             "pass --seconds no longer than the files", "generate more pieces (tsm generate -n 200)"]
    assert [any(note.endswith(flag) for note in said) for flag in flags] == [True] * 3, said


def test_tsm_evaluate_refuses_an_empty_report_folder(corpus, generated, tmp_path, monkeypatch, capsys):
    """tsm evaluate -o '' wrote report.html, report.json and figures/ into the working folder ('wrote report.html and
    report.json', not saying where), as generate -o '' is refused; now one line, before anything is read."""
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", str(generated), "--real", str(corpus.root), "-o", "", "--repeats", "1"]) == 2
    assert capsys.readouterr().err.strip() == "error: -o: an empty name; give the folder to write the report into"
    assert list(tmp_path.iterdir()) == []


def test_a_split_with_no_tracks_names_the_keyword_that_chooses_another(generated, tmp_path):
    """compare_with_real(split='test') of a corpus with no test tracks said 'choose one with --split train', a flag of
    tsm evaluate, beside today's 'choose another split=' for a split too short; now its keyword, as Python says it. The
    command keeps its flag (tests/test_bad_input)."""
    corpus = timestepmusic.prepare([generated / "sample_0.mid"], tmp_path / "corpus", progress=False).corpus.root
    with pytest.raises(ValueError) as raised:
        timestepmusic.compare_with_real(generated, corpus, repeats=1)
    assert str(raised.value) == f"{corpus}: no tracks in the test split (it has train: choose one with split='train')"


def test_a_corpus_without_a_training_split_is_said_without_a_flag_python_cannot_give(corpus, generated, monkeypatch):
    """compare_with_real() reads the training split as 'train' (no keyword chooses it): where the corpus holds none,
    its notes say which splits it has, not '--train-split', which its caller cannot give; tsm evaluate's still do."""
    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.comparison import compared
    from timestepmusic.setting_names import FLAGS

    tracks_in, chunk_index = Corpus.tracks_in, Corpus.chunk_index

    def no_train(self, split):
        found = tracks_in(self, split)
        return found[:0] if split == "train" else found

    def no_train_chunks(self, split):
        track, within = chunk_index(self, split)
        return (track[:0], within[:0]) if split == "train" else (track, within)

    monkeypatch.setattr(Corpus, "tracks_in", no_train)
    monkeypatch.setattr(Corpus, "chunk_index", no_train_chunks)
    figures = timestepmusic.compare_with_real(generated, corpus, seed=3, repeats=1)
    said = [note for note in figures["notes"] if "no tracks in the train split" in note]
    assert said and all("--train-split" not in note and "(it has validation, test)" in note for note in said), said
    cli_notes = compared(generated, corpus, seed=3, repeats=1, setting_names=FLAGS).report_figures("test")["notes"]
    assert any("choose one with --train-split validation or --train-split test" in note for note in cli_notes)


def test_the_figures_and_the_page_are_had_without_the_report_writer():
    """evaluate/report.py (which plots and writes) imports comparison.py, generated_files.py and report_html.py,
    never the other way: each loads alone, without report.py, so that compare_with_real() and a page rendered from a
    report.json need no writer (and no import cycle can form)."""
    import subprocess
    import sys

    for module in ("comparison", "generated_files", "report_html"):
        loaded = subprocess.run([sys.executable, "-c", f"import sys, timestepmusic.evaluate.{module}; "
                                 "print('timestepmusic.evaluate.report' in sys.modules)"],
                                capture_output=True, text=True, check=True).stdout.split()
        assert loaded == ["False"], module


def test_tsm_evaluate_says_what_its_accuracies_mean_and_which_rows_are_floor_and_ceiling(corpus, generated, tmp_path,
                                                                                         capsys):
    """The terminal's accuracies were printed bare: a user scoring their own files could not tell from them that 0.5
    is the aim, nor that the shuffled-chunks row is a floor and real A vs real B a ceiling (said only in report.html)."""
    assert main(["evaluate", str(generated), "--real", str(corpus.root), "-o", str(tmp_path / "r"), "--repeats",
                 "1"]) == 0
    said = capsys.readouterr().out
    rows = [line for line in said.splitlines() if line.startswith("  classifier accuracy, ")]
    assert any("shuffled chunks" in row for row in rows) and any("real A vs real B" in row for row in rows)
    meaning = next(line for line in said.splitlines() if "0.5 it cannot" in line and line not in rows)
    assert re.search(r"shuffled chunks: the floor", meaning) \
        and re.search(r"real A vs real B: the ceiling", meaning)
    assert any(" (p = " in row for row in rows) and "; p: " in meaning  # (the fixture's few excerpts: a rough p shown)


def test_report_json_and_the_terminal_carry_the_mean_overlap_report_html_and_the_readme_give(corpus, generated, tmp_path,
                                                                                           capsys):
    """The mean descriptor overlap (report.html's last row, a target the README reports, compare_with_real's
    "mean_overlap") was in neither report.json nor the terminal: a user scoring their own files from the JSON had to
    average the 22 overlaps themselves, and the terminal never said it."""
    from timestepmusic.evaluate.comparison import BASELINE, CEILING

    assert main(["evaluate", str(generated), "--real", str(corpus.root), "-o", str(tmp_path / "r"), "--seed", "3",
                 "--repeats", "1"]) == 0
    said = capsys.readouterr().out
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    figures = timestepmusic.compare_with_real(generated, corpus, seed=3, repeats=1)
    assert report["mean_overlap"] == {"generated": figures["mean_overlap"], BASELINE: figures["baseline"]["mean_overlap"],
                                      CEILING: figures["ceiling"]["mean_overlap"]}
    line = next(line for line in said.splitlines() if line.startswith("  mean descriptor overlap with real: "))
    assert all(f"{value:.3f} {row}" in line for row, value in report["mean_overlap"].items())


def test_the_notes_left_out_of_a_file_read_are_in_the_figures_as_tsm_evaluate_prints_them(corpus, generated, tmp_path,
                                                                                          capsys):
    """A file with notes beyond the piano's keys (another tool's drums or effects) is read and its other notes
    described; tsm evaluate prints what it left out and report.json lists it, but compare_with_real's figures said
    nothing of it (files counted it read, whole)."""
    from midi_factory import Note, write_midi

    folder = tmp_path / "mine"
    folder.mkdir()
    for sample in generated.iterdir():
        (folder / sample.name).write_bytes(sample.read_bytes())
    write_midi(folder / "with effects.mid", [Note(60 + k % 12, 240 * k, 240 * k + 200, 70) for k in range(64)]
               + [Note(12, 0, 480, 80), Note(120, 480, 960, 80)])
    figures = timestepmusic.compare_with_real(folder, corpus, seed=3, repeats=1)
    assert main(["evaluate", str(folder), "--real", str(corpus.root), "-o", str(tmp_path / "r"), "--seed", "3",
                 "--repeats", "1"]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert figures["left_out"] == report["files"]["left_out"]
    (entry,) = figures["left_out"]
    assert entry["file"] == str(folder / "with effects.mid") and entry["notes"].startswith("2 beyond the piano's keys")
    assert f"{entry['file']}: notes left out: {entry['notes']}" in capsys.readouterr().out
    assert timestepmusic.compare_with_real(generated, corpus, seed=3, repeats=1)["left_out"] == []


def test_several_files_or_folders_to_evaluate_are_told_what_it_reads(generated, tmp_path, capsys):
    """`tsm evaluate mine/*.mid` (the shell's glob) and `tsm evaluate mine/ theirs/` said only 'unrecognized
    arguments: …', not that it reads one folder, nor how two folders are set side by side."""
    files = sorted(str(f) for f in generated.glob("*.mid"))
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", *files, "--real", "CORPUS", "-o", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and "give the folder that holds them" in err
    with pytest.raises(SystemExit):
        main(["evaluate", str(generated), str(tmp_path), "--real", "CORPUS", "-o", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "reads one folder: evaluate each with its own -o" in err
    assert not (tmp_path / "r").exists()


def test_notes_never_released_are_listed_with_the_other_notes_left_out(corpus, generated, tmp_path, capsys):
    """A note struck and never released (another tool's file cut off with a key down) is left out as read_events
    leaves it; tsm evaluate said so in a log warning alone, which report.json, report.html and compare_with_real's
    figures did not carry (files.left_out was empty)."""
    import mido

    folder = tmp_path / "mine"
    folder.mkdir()
    for sample in generated.iterdir():
        (folder / sample.name).write_bytes(sample.read_bytes())
    track = mido.MidiTrack([mido.Message("note_on", note=96, velocity=70, time=240)]  # (its note-off never comes)
                           + [m for k in range(40) for m in (mido.Message("note_on", note=48 + k % 24, velocity=70, time=120),
                                                             mido.Message("note_off", note=48 + k % 24, time=120))])
    held = mido.MidiFile(type=0, ticks_per_beat=480)
    held.tracks.append(track)
    held.save(folder / "cut off.mid")
    assert main(["evaluate", str(folder), "--real", str(corpus.root), "-o", str(tmp_path / "r"), "--seed", "3",
                 "--repeats", "1"]) == 0
    said = capsys.readouterr()
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    (entry,) = report["files"]["left_out"]
    assert entry["file"] == str(folder / "cut off.mid") and "1 struck and never released" in entry["notes"]
    assert (said.out + said.err).count("never released") == 1  # (once, not as a warning and again as a line)
    assert "never released" in (tmp_path / "r" / "report.html").read_text()
    assert timestepmusic.compare_with_real(folder, corpus, seed=3, repeats=1)["left_out"] == report["files"]["left_out"]


def two_pieces_of_three_performances(corpus):
    """The corpus opened again, its first two test performances (and its first two training ones) said to be of one
    piece each, as ASAP's are: the fixture's own track list left as it is."""
    import copy

    from timestepmusic.corpus import Corpus

    alike = Corpus.open(corpus.root)
    alike.tracks = copy.deepcopy(alike.tracks)
    for split in ("test", "train"):
        for t in [t for t, track in enumerate(alike.tracks) if track["split"] == split][:2]:
            alike.tracks[t]["piece"] = f"one piece of the {split} split"
    return alike


def test_the_classifiers_folds_and_the_real_halves_keep_each_piece_whole(corpus, generated, monkeypatch):
    """By piece, the real excerpts of two performances of one piece are one group in every row's classifier and on
    one side of the ceiling's halves (as the training row's); by performance, two groups, as before. Generated files
    and the shuffled chunks keep their own groups."""
    from timestepmusic.evaluate import comparison
    from timestepmusic.evaluate.comparison import BASELINE, CEILING, GENERATED, TRAINING, compared, fold_groups

    alike = two_pieces_of_three_performances(corpus)
    given: list = []
    classifier_test = comparison.classifier_test

    def recording(a, b, **kwargs):
        given.append(kwargs["groups"])
        return classifier_test(a, b, **kwargs)

    monkeypatch.setattr(comparison, "classifier_test", recording)
    found = {}
    for by in ("piece", "performance"):
        given.clear()
        result = compared(generated, alike, seed=3, repeats=1, train_row=True, folds_by=by)
        found[by] = result, dict(zip(result.classifier, given))  # row → (real side's groups, the other's)
    (by_piece, groups), (by_performance, groups_before) = found["piece"], found["performance"]
    real = by_piece.real
    one_piece = np.isin(real.group, [t for t, track in enumerate(alike.tracks) if track["split"] == "test"][:2])
    assert np.unique(real.group[one_piece]).size == 2  # two performances …
    pieces = fold_groups(alike, real.group)
    for row in (GENERATED, BASELINE, TRAINING):
        assert np.unique(groups[row][0][one_piece]).size == 1, row  # … one group by piece
        assert np.array_equal(groups_before[row][0], real.group), row  # (by performance: as before)
    half_a, half_b = by_piece.half_a, by_piece.half_b
    assert not set(pieces[half_a]) & set(pieces[half_b])  # each piece on one side
    assert not (one_piece[half_a].any() and one_piece[half_b].any())  # both performances of the piece on one side
    assert all(np.array_equal(got, want) for got, want in zip(groups[CEILING], (pieces[half_a], pieces[half_b])))
    assert all(np.array_equal(got, want) for got, want in zip(
        groups_before[CEILING], (real.group[by_performance.half_a], real.group[by_performance.half_b])))
    for row in (GENERATED, BASELINE):  # a generated file, a shuffled chunk: one group each either way
        assert np.array_equal(groups[row][1], groups_before[row][1])
    training = by_piece.tables[TRAINING]
    assert np.array_equal(groups[TRAINING][1], fold_groups(alike, training.group))
    assert np.array_equal(groups_before[TRAINING][1], training.group)
    assert by_piece.report_figures("test")["folds_by"] == "piece"
    assert by_performance.report_figures("test")["folds_by"] == "performance"


def test_report_json_and_the_terminal_say_which_folds_were_used_and_a_bad_choice_is_refused(corpus, generated, tmp_path,
                                                                                         capsys):
    """The folds keep each real piece whole unless --folds-by performance; report.json records which ("folds_by"),
    the command that writes it again keeps the choice (its flags), and the terminal and the page say it."""
    from timestepmusic.evaluate.comparison import compared

    for by in ("piece", "performance"):
        flags = [] if by == "piece" else ["--folds-by", by]
        assert main(["evaluate", str(generated), "--real", str(corpus.root), "-o", str(tmp_path / by), "--repeats",
                     "1", *flags]) == 0
        said = capsys.readouterr().out
        report = json.loads((tmp_path / by / "report.json").read_text())
        assert report["folds_by"] == by and report["flags"] == ["--repeats", "1", *flags]
        assert f"(the classifiers' folds keep each real {by}" in said
        other = "performance" if by == "piece" else "piece"
        assert f"keep each real {other}" not in said
        page = (tmp_path / by / "report.html").read_text()
        assert f"(split by {by})" in page and f"(split by {other})" not in page
    with pytest.raises(SystemExit):  # (argparse's: a choice of two)
        main(["evaluate", str(generated), "--real", str(corpus.root), "-o", str(tmp_path / "bad"), "--folds-by", "track"])
    assert "invalid choice: 'track'" in capsys.readouterr().err and not (tmp_path / "bad" / "report.json").exists()
    with pytest.raises(ValueError) as raised:
        compared(generated, corpus, folds_by="track")
    assert str(raised.value) == "--folds-by must be 'piece' or 'performance', got 'track'"


def test_a_split_of_one_piece_keeps_each_performance_whole_not_each_excerpt(corpus, generated):
    """A test split of one piece's takes (a small corpus of one's own, split by piece): by piece the real side was one
    group, so every row's folds were dealt excerpt by excerpt and the ceiling's halves split each performance between
    them. Its performances are kept whole instead, as --folds-by performance, and a note says so."""
    import copy

    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.comparison import GENERATED, compared

    one = Corpus.open(corpus.root)
    one.tracks = copy.deepcopy(one.tracks)
    for track in one.tracks:
        track["piece"] = "one piece"
    found = compared(generated, one, seed=3, repeats=1)
    assert found.folds_by == "performance" and found.report_figures("test")["folds_by"] == "performance"
    performances = np.unique(found.real.group).size
    assert performances >= 2
    assert not set(found.real.group[found.half_a]) & set(found.real.group[found.half_b])  # no performance on both sides
    assert found.classifier[GENERATED]["folds_grouped"]  # (by piece: False, every excerpt dealt alone)
    assert any(f"the {performances} real performances of the test split are all of one piece" in note and
               "(as --folds-by performance)" in note for note in found.notes)
    assert compared(generated, corpus, seed=3, repeats=1).folds_by == "piece"  # (pieces of their own: as asked)
