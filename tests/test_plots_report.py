"""Piano rolls, training curves, the HTML report and the `tsm evaluate` / `tsm plot` commands, on files
written by the tests; a `real` test on the ASAP performances; a headless-Chromium look at the report."""
from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from matplotlib.colors import to_rgb

from timestepmusic.cli import main
from timestepmusic.cli_parser import build_parser
from timestepmusic.evaluate import CLASSIFIER_REPEATS, report_html
from timestepmusic.evaluate import comparison as comparison_module
from timestepmusic.evaluate import report as report_module
from timestepmusic.evaluate.audio import audio_unavailable_reason
from timestepmusic.evaluate.descriptors import describe
from timestepmusic.evaluate.excerpts import excerpts_from_corpus, excerpts_from_events
from timestepmusic.evaluate.plots import (
    SET_COLOURS,
    metric_panels,
    plot_densities,
    plot_roll,
    plot_roll_pair,
    plot_training_curves,
)
from timestepmusic.evaluate.render import rendered_paths
from timestepmusic.evaluate.report import _audio_for, evaluate_generated
from timestepmusic.midi import LOWEST_PITCH, Events
from timestepmusic.midi_write import write_events

from test_evaluate import hand_made, make_corpus

CORPUS_ENV = "TSM_TEST_CORPUS"  # a prepared ASAP corpus to reuse in the `real` test


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("report_corpus"))


@pytest.fixture(scope="module")
def generated(corpus, tmp_path_factory) -> Path:
    """A folder standing in for generated files: two 16 s test excerpts, a copy of a training excerpt,
    and one file that is not MIDI."""
    folder = tmp_path_factory.mktemp("generated")
    test = excerpts_from_corpus(corpus, "test")
    for k in range(2):
        write_events(test.events(k), folder / f"sample_{k}.mid")
    write_events(excerpts_from_corpus(corpus, "train").events(1), folder / "sample_copy.mid")
    (folder / "broken.mid").write_bytes(b"definitely not MIDI")
    (folder / "notes.txt").write_text("ignored: not a MIDI name")
    return folder


@pytest.fixture(scope="module")
def metrics_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    records = [{"time": 1.0, "step": s, "critic_loss": -1.0 / s, "generator_loss": 0.5 + 0.1 * s,
                "wasserstein": 1.0 / s, "val_wasserstein": 1.2 / s, "critic_steps_per_s": 40.0} for s in range(1, 6)]
    records.append({"event": "stopped", "step": 5})
    lines = [json.dumps(r) for r in records] + ['{"step": 6, "critic_lo']  # a crash mid-write
    (run / "metrics.jsonl").write_text("\n".join(lines))
    return run


@pytest.fixture(scope="module")
def report(corpus, generated, metrics_run, tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("report")
    extra = {"reconstructions": excerpts_from_corpus(corpus, "test")}  # stands in for autoencoder output
    return evaluate_generated(generated, corpus, out, runs=[metrics_run, out / "no_such_run"], wav=True,
                              extra_rows=extra), out


# --- figures ------------------------------------------------------------------------------------------

def test_plot_roll_writes_a_png_of_the_expected_size(tmp_path):
    path = plot_roll(hand_made()[0], tmp_path / "roll.png", title="hand made")
    assert path.stat().st_size > 0
    assert image.imread(path).shape[:2] == (600, 1200)  # 12 × 6 in at 100 dpi
    assert not list(tmp_path.glob(".*.tmp"))
    empty = Events(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), 3.0)
    assert image.imread(plot_roll(empty, tmp_path / "empty.png")).shape[:2] == (600, 1200)


def test_every_note_of_a_long_roll_is_drawn(tmp_path):
    """Notes far shorter than a pixel (quick figuration over ten minutes) still show, each at least a sliver."""
    start_s = np.arange(0.0, 600.0, 1.5)  # 400 notes of 30 ms over 10 min: 0.05 px each at their own length
    quick = Events(np.full(start_s.shape, 40), start_s, np.full(start_s.shape, 0.03), np.full(start_s.shape, 100))
    runs = drawn_columns(plot_roll(quick, tmp_path / "long.png"))
    assert len(runs) > 300  # (neighbours 2.5 px apart: some touch)


def test_a_roll_of_keys_between_two_cs_names_its_keys():
    """The keys were named at each C alone: a part drawn within an octave between two (D#3 to F3) had no key named."""
    from matplotlib import colors
    from matplotlib.figure import Figure

    from timestepmusic.evaluate.plots import _draw_roll

    pitches = np.array([51, 52, 53])  # D#3, E3, F3
    melody = Events(pitches - LOWEST_PITCH, np.arange(3.0), np.full(3, 0.8), np.full(3, 70), 3.0)
    figure = Figure()
    _draw_roll(figure, melody, None, 3.0, colors.Normalize(1, 127))
    named = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert {"E3", "F3"} <= set(named) and not any("#" in name for name in named)


def test_plot_roll_pair_stacks_two_rolls(tmp_path):
    original, quieter = hand_made()
    path = plot_roll_pair(original, quieter, tmp_path / "pair.png")
    assert image.imread(path).shape[:2] == (1200, 1200)


def test_training_curves_skip_events_and_half_lines(metrics_run, tmp_path):
    path = plot_training_curves(metrics_run / "metrics.jsonl", tmp_path / "curves.png", title="gan")
    height, width = image.imread(path).shape[:2]
    assert width == 1000 and height == 340  # two panels: losses and Wasserstein estimates
    (tmp_path / "empty.jsonl").write_text('{"event": "stopped", "step": 1}\n')
    with pytest.raises(ValueError, match="empty.jsonl"):
        plot_training_curves(tmp_path / "empty.jsonl", tmp_path / "none.png")


def test_a_likelihood_runs_curves_get_a_panel_of_their_own_scale_each():
    # an ar or events run's nll (tens of nats) and its lr (1e-4, a flat line at 0) were drawn on one axis as "other"
    records = [{"time": 1.0, "step": s, "nll": 30.0 / s, "end_loss": 0.4 / s, "lr": 1e-4 * s, "steps_per_s": 3.0,
                "val_nll": 20.0 / s, "val_end_loss": 0.3 / s} for s in range(1, 4)]
    assert metric_panels(records) == {"negative log-likelihood": ["nll", "val_nll"], "loss": ["end_loss", "val_end_loss"],
                                      "learning rate": ["lr"]}
    gan = [{"step": 1, "critic_loss": -1.0, "wasserstein": 1.0, "feature_matching": 2.0, "ae_lr": 1e-5}]
    assert metric_panels(gan) == {"loss": ["critic_loss"], "Wasserstein estimate": ["wasserstein"],
                                  "learning rate": ["ae_lr"], "other": ["feature_matching"]}


def test_density_plot_draws_every_set(tmp_path):
    d = describe(excerpts_from_events(hand_made()))
    sets = {"real": d} | {f"generated {k}": {name: values * (1 + k / 2) + k for name, values in d.items()}
                          for k in (1, 2)}  # more sets, their curves elsewhere
    path = plot_densities(sets, tmp_path / "densities.png")
    pixels = image.imread(path)[..., :3]  # [H, W, RGB]
    assert pixels.shape[0] > 0
    for colour in SET_COLOURS[1:3]:  # each set's curves in its own colour (black, the first, is also the text's)
        rgb = np.array(to_rgb(colour))
        assert (np.abs(pixels - rgb).max(-1) < 0.1).sum() > 200, colour


# --- the report -----------------------------------------------------------------------------------------

def test_report_lists_the_bad_file_and_evaluates_the_rest(report, generated):
    result, out = report
    assert result["files"]["read"] == 3
    assert [Path(b["file"]).name for b in result["files"]["bad"]] == ["broken.mid"]
    assert result["excerpts"]["generated"] == 3
    saved = json.loads((out / "report.json").read_text())
    assert saved["files"] == result["files"]
    assert set(saved["classifier"]) == {"generated", "shuffled chunks", "reconstructions", "real A vs real B"}
    assert set(saved["classifier_trees"]) == set(saved["classifier"])
    for row, c in saved["classifier_trees"].items():  # the trees run on the logistic regression's folds
        assert set(c) - {"why"} == {"accuracy", "p_value", "n_per_class", "folds", "repeats", "accuracy_sd",
                                    "accuracies"}, row
        if "why" in c:  # (3 pieces: too few for a tree to split, so no accuracy rather than a meaningless 0.5)
            assert c["accuracy"] is None and c["n_per_class"] < 25 and "too few excerpts for the trees" in c["why"], row
        assert c["repeats"] == saved["classifier"][row]["repeats"] == CLASSIFIER_REPEATS, row
        assert (c["n_per_class"], c["folds"]) == (saved["classifier"][row]["n_per_class"], saved["classifier"][row]["folds"])
    copies = {c["excerpt"].split(" @ ")[0]: c for c in saved["copies"]["generated"]}
    assert copies["sample_copy.mid"]["flagged"] and not copies["sample_0.mid"]["flagged"]
    assert saved["copies"]["flagged"] == 1
    for name, d in saved["descriptors"].items():
        assert set(d["rows"]) == {"generated", "shuffled chunks", "reconstructions"}, name
        assert "overlap" in d["ceiling"], name


def test_the_training_row_scores_real_excerpts_of_the_training_split(corpus, generated, tmp_path):
    """--train-row: as many real training excerpts as generated ones, compared as a row like any other — what a model
    that had learnt the training split exactly would score against the compared split."""
    report = evaluate_generated(generated, corpus, tmp_path / "r", train_row=True, repeats=1)
    assert report["classifier"]["training excerpts"]["n_per_class"] == report["excerpts"]["generated"]
    assert "training excerpts" in report["classifier_trees"]
    assert all("training excerpts" in d["rows"] for d in report["descriptors"].values())
    assert "what a model that had learnt that split exactly would score" in (tmp_path / "r" / "report.html").read_text()
    with pytest.raises(ValueError, match="the compared train split itself"):
        evaluate_generated(generated, corpus, tmp_path / "s", split="train", train_row=True)


def test_report_html_is_self_contained(report):
    _, out = report
    page = (out / "report.html").read_text()
    assert "<table id=descriptors>" in page and "note density" in page and "key steadiness" in page
    assert "<table id=classifier>" in page and "boosted trees" in page
    assert "The folds keep each piece (all its performances) and each generated file whole" in page  # no sibling
    assert "Each p-value counts pieces and generated files, not excerpts" in page  # (nor another performance) tells one
    assert page.count("<img") >= 1 + 3 + 1  # densities, a roll per sample, the training curves
    assert "src='data:image/png;base64," in page and "src='figures/" not in page
    if audio_unavailable_reason() is None:
        assert page.count("<audio controls src='data:audio/wav;base64,") == 3
    else:
        assert "no audio:" in page and "apt-get install fluidsynth" in page
    assert "broken.mid" in page and "no such metrics log" in page
    assert not list(out.glob(".*.tmp"))


def test_extra_rows_appear_in_the_report(report):
    result, _ = report
    assert result["rows"] == ["generated", "shuffled chunks", "reconstructions"]
    # the extra row is the real test split itself: its distributions are the real ones
    assert result["descriptors"]["note_density"]["rows"]["reconstructions"]["overlap"] == pytest.approx(1.0)
    assert result["classifier"]["reconstructions"]["accuracy"] <= 0.75


def test_real_halves_told_apart_are_said_to_make_the_figures_mean_little(report, corpus, generated, tmp_path,
                                                                           monkeypatch):
    import timestepmusic.evaluate.comparison as comparison_module

    told = report[0]["classifier"]["real A vs real B"]["accuracy"]
    assert any("themselves told apart" in note for note in report[0]["notes"]) == (told > 0.7)
    monkeypatch.setattr(comparison_module, "HALVES_TOLD_APART", told - 0.01)  # (the fixture's few tracks, said)
    said = [note for note in evaluate_generated(generated, corpus, tmp_path / "out")["notes"]
            if "themselves told apart" in note]
    assert len(said) == 1 and f"at {told:.2f}" in said[0] and "performances" in said[0]


def test_a_floor_told_apart_little_is_said_to_make_the_figures_mean_little(report, corpus, generated, tmp_path,
                                                                          monkeypatch):
    import timestepmusic.evaluate.comparison as comparison_module

    floor = report[0]["classifier"]["shuffled chunks"]["accuracy"]
    assert any("shuffled at random are told" in note for note in report[0]["notes"]) == (floor < 0.8)
    monkeypatch.setattr(comparison_module, "FLOOR_TOLD_BELOW", floor + 0.01)  # (as a corpus of a few pieces scores)
    said = [note for note in evaluate_generated(generated, corpus, tmp_path / "out")["notes"]
            if "shuffled at random are told" in note]
    assert len(said) == 1 and f"at only {floor:.2f}" in said[0] and "pieces" in said[0]


def test_files_shorter_than_the_excerpts_asked_for_are_named_in_the_notes(report, corpus, generated, tmp_path):
    assert not any("last less than" in note for note in report[0]["notes"])  # 16 s files, 16 s excerpts
    longer = evaluate_generated(generated, corpus, tmp_path / "out", seconds=40.0)
    assert any(note.startswith("3 of 3 generated files last less than 40 s") for note in longer["notes"])


def test_real_performances_shorter_than_the_excerpts_are_noted_and_none_long_enough_is_an_error(corpus, generated,
                                                                                                  tmp_path):
    lengths = sorted(corpus.tracks[t]["duration_s"] for t in corpus.tracks_in("test"))  # three of about 39 s
    between = (lengths[0] + lengths[1]) / 2 / comparison_module.SHORT_SHARE  # the shortest alone falls short of it
    noted = evaluate_generated(generated, corpus, tmp_path / "some", seconds=between)["notes"]
    said = [note for note in noted if "real performances" in note]
    assert len(said) == 1 and said[0].startswith(f"1 of 3 real performances in the test split last less than {between:g} s")
    with pytest.raises(ValueError, match=r"no real excerpts of 60 s in the test split to compare with \(its longest "
                                         r"performance lasts 39 s\); choose another --split, shorter --seconds"):
        evaluate_generated(generated, corpus, tmp_path / "none", seconds=60.0)  # before: 3 excerpts mostly silence
    assert not (tmp_path / "none").exists()


def test_files_of_one_name_but_the_extension_get_a_roll_each(corpus, tmp_path):
    """x.mid and x.midi were both drawn to figures/roll_x.png: the page showed the second's roll under both names."""
    folder = tmp_path / "two"
    folder.mkdir()
    test = excerpts_from_corpus(corpus, "test")
    write_events(test.events(0), folder / "x.mid")
    write_events(test.events(1), folder / "x.midi")
    samples = evaluate_generated(folder, corpus, tmp_path / "out", repeats=1)["samples"]
    rolls = {sample["file"]: Path(sample["roll"]) for sample in samples}
    assert set(rolls) == {"x.mid", "x.midi"} and rolls["x.mid"] != rolls["x.midi"]
    assert rolls["x.mid"].read_bytes() != rolls["x.midi"].read_bytes()


def test_without_wav_the_report_says_how_to_get_audio(generated, tmp_path):
    audio, why = _audio_for(generated / "sample_0.mid", tmp_path, False, None)
    assert audio is None and "--wav" in why


def test_empty_missing_or_unusable_folders_are_errors(corpus, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: no .mid or .midi files"):
        evaluate_generated(tmp_path / "empty", corpus, tmp_path / "out")
    with pytest.raises(ValueError, match="missing: no such folder"):
        evaluate_generated(tmp_path / "missing", corpus, tmp_path / "out")
    one = write_events(hand_made()[0], tmp_path / "empty" / "deeper" / "one.mid")
    with pytest.raises(ValueError, match=r"not its subfolders: deeper/one.mid is in one"):
        evaluate_generated(tmp_path / "empty", corpus, tmp_path / "out")
    with pytest.raises(ValueError, match="one.mid: a file; give the folder that holds the generated MIDI files"):
        evaluate_generated(one, corpus, tmp_path / "out")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.mid").write_bytes(b"")
    with pytest.raises(ValueError, match=r"bad: the one MIDI file is not usable \(") as refused:  # (was 'none of the 1
        evaluate_generated(tmp_path / "bad", corpus, tmp_path / "out")  # MIDI files is usable')
    assert "subfolders" not in str(refused.value)
    with pytest.raises(ValueError, match=r"^1 file given: the one MIDI file is not usable \("):  # (was '1 files given')
        evaluate_generated([tmp_path / "bad" / "x.mid"], corpus, tmp_path / "out")
    with pytest.raises(ValueError, match="^2 files given: none of the 2 MIDI files is usable"):
        evaluate_generated([tmp_path / "bad" / "x.mid"] * 2, corpus, tmp_path / "out")
    write_events(hand_made()[0], tmp_path / "bad" / "mine" / "good.mid")  # the good files in a subfolder: said
    with pytest.raises(ValueError, match="the one MIDI file is not usable .*; 1 more is in its subfolders"):
        evaluate_generated(tmp_path / "bad", corpus, tmp_path / "out")


# --- the commands ---------------------------------------------------------------------------------------

def test_every_option_of_the_new_commands_has_help():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in ("evaluate", "plot"):
        for action in sub.choices[name]._actions:
            assert action.help, f"tsm {name}: {action.dest} has no help"


def test_tsm_plot_draws_the_file(tmp_path):
    midi = write_events(hand_made()[0], tmp_path / "song.mid")
    assert main(["plot", str(midi), "-o", str(tmp_path / "roll.png")]) == 0
    assert image.imread(tmp_path / "roll.png").shape[:2] == (600, 1200)
    assert main(["plot", str(midi)]) == 0 and (tmp_path / "song.png").is_file()
    assert main(["plot", str(tmp_path / "missing.mid")]) == 2
    (tmp_path / "rolls").mkdir()
    assert main(["plot", str(midi), "-o", str(tmp_path / "rolls")]) == 0  # a folder: the roll goes inside
    assert (tmp_path / "rolls" / "song.png").is_file() and not list(tmp_path.glob(".*tmp*"))
    assert main(["plot", str(midi), "-o", str(tmp_path / "roll.jpg")]) == 2  # not PNG data under another name
    assert not (tmp_path / "roll.jpg").exists()


def test_tsm_plot_says_which_notes_of_the_file_it_does_not_draw(tmp_path, caplog):
    """--prompt, --like and reconstruct said where a file's drums, a voice layered with the piano or notes beyond the
    keys are left out; plot drew the roll without them and without a word."""
    from midi_factory import Note, write_midi

    midi = write_midi(tmp_path / "layered.mid", [Note(60, 0, 480), Note(64, 480, 960), Note(48, 0, 960, channel=1)],
                      programs=[(1, 48)])  # the piano, and strings on channel 2
    with caplog.at_level("WARNING"):
        assert main(["plot", str(midi), "-o", str(tmp_path / "roll.png")]) == 0
    assert f"{midi}: notes left out: 1" in caplog.text and (tmp_path / "roll.png").is_file()


def test_tsm_plot_draws_a_file_of_pedals_alone_and_refuses_one_of_nothing_in_one_line(tmp_path, capsys):
    """A pianist checking their pedalling plots a file of pedal messages and no notes: plot refused it ('no piano
    notes'); now it draws the pedal lanes under an empty keyboard. A file of neither is still one line, and so is a
    file no piano plays in (a violin's part)."""
    from midi_factory import CC, Note, write_midi

    pedals = write_midi(tmp_path / "pedals.mid", [], [CC(64, 127, 0), CC(64, 0, 960), CC(67, 100, 480), CC(67, 0, 1440)])
    assert main(["plot", str(pedals), "-o", str(tmp_path / "pedals.png")]) == 0
    assert drawn_columns(tmp_path / "pedals.png") == []  # no note
    pixels = image.imread(tmp_path / "pedals.png")[:, :1090, :3]  # [rows, columns, RGB]
    for colour in ("tab:blue", "tab:green"):  # the damper's and the soft pedal's fill (alpha 0.35 over white)
        fill = 0.35 * np.array(to_rgb(colour)) + 0.65
        assert (np.abs(pixels - fill).max(axis=-1) < 0.03).sum() > 5000, colour
    for name, notes, controls, said in (("nothing.mid", [], [], "no piano notes (pitch 21–108) and no pedal pressed"),
                                        ("up.mid", [], [CC(64, 0, 0)], "no piano notes (pitch 21–108) and no pedal pressed"),
                                        ("violin.mid", [Note(67, 0, 480)], [CC(64, 127, 0)], "no piano plays in the file")):
        midi = write_midi(tmp_path / name, notes, controls, programs=[(0, 40)] if name == "violin.mid" else [])
        capsys.readouterr()
        assert main(["plot", str(midi)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {midi}: {said}") and err.count("\n") == 1, err
        assert not midi.with_suffix(".png").exists()


def drawn_columns(roll: Path) -> list[tuple[int, int]]:
    """The runs of pixel columns (first, last) where a note is drawn in a roll's keys area (viridis at velocity 100:
    green over red; the pedal lanes and colour bar left out)."""
    pixels = image.imread(roll)[50:380, :1090, :3]  # [rows, columns, RGB]
    drawn = ((pixels[..., 1] - pixels[..., 0]) > 0.25).any(axis=0)  # [columns]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], drawn.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2] - 1))


def test_tsm_plot_draws_a_part_of_the_file_on_its_own_time_axis(tmp_path, monkeypatch, capsys):
    from timestepmusic.evaluate import audio
    from timestepmusic.midi import read_events

    notes = Events(np.array([20, 60, 88]), np.array([0.0, 10.0, 0.0]), np.array([1.0, 1.0, 30.0]),
                   np.array([100, 100, 70]), 30.0)  # two notes under a damper held for 30 s
    midi = write_events(notes, tmp_path / "song.mid")
    assert main(["plot", str(midi)]) == 0
    assert len(drawn_columns(tmp_path / "song.png")) == 2  # the whole file: both notes
    capsys.readouterr()
    rendered = []  # --wav: the part alone, rendered from a MIDI file of it (no FluidSynth needed here)
    monkeypatch.setattr(audio, "render_wav", lambda part, wav, font: rendered.append(read_events(part)[0])
                        or Path(wav).write_bytes(b"RIFF") and Path(wav))
    assert main(["plot", str(midi), "--from", "0:09", "--seconds", "3", "--wav"]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "song_9-12s.png"), str(tmp_path / "song_9-12s.wav")]
    (run,) = drawn_columns(tmp_path / "song_9-12s.png")  # 9–12 s: the second note alone, over the middle third
    axis_px = 0.86 * 1200 * 60 / 61  # (the keys' axis: the figure's width less its margins and the colour bar)
    assert 0.28 < (run[1] - run[0]) / axis_px < 0.38
    (part,) = rendered
    assert part.ids.tolist() == [88, 60] and part.start_s.tolist() == [0.0, 1.0]  # timed from 9 s, the damper down
    assert (part.start_s + part.duration_s).max() <= 3.0 + 1e-3  # … and all of it over by the part's end
    assert main(["plot", str(midi), "--seconds", "5", "-o", str(tmp_path / "first.png")]) == 0
    assert len(drawn_columns(tmp_path / "first.png")) == 1  # 0–5 s: the first note alone
    for flags, says in ((["--from", "0:31"], "song.mid: --from 0:31 is past its end (0:30)"),
                        (["--seconds", "0:00"], "--seconds 0:00: how long to draw must be > 0"),
                        (["--from", "-1"], "--from -1: where to start drawing, from the file's start, must be ≥ 0")):
        assert main(["plot", str(midi), *flags, "--overwrite"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err


def test_plot_refuses_pedal_bins_out_of_range_in_one_line(tmp_path, capsys):
    notes = Events(np.array([40, 88]), np.array([0.0, 0.0]), np.array([1.0, 4.0]), np.array([100, 127]), 4.0)
    midi = write_events(notes, tmp_path / "song.mid")  # a note under the damper, held down for 4 s
    for bins in ("-1", "128", "four"):  # (-1 drew every pedal as up: an empty damper lane, said nowhere)
        with pytest.raises(SystemExit):
            main(["plot", str(midi), "--pedal-bins", bins])
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--pedal-bins" in err[0] and "from 1 to 127" in err[0], err
    assert not (tmp_path / "song.png").exists()
    assert main(["plot", str(midi), "--pedal-bins", "0"]) == 0


def test_plot_and_reconstruct_do_not_replace_a_file_unasked(tmp_path, capsys):
    midi = write_events(hand_made()[0], tmp_path / "song.mid")
    roll, rebuilt = tmp_path / "roll.png", tmp_path / "rebuilt.mid"
    for path in (roll, rebuilt):
        path.write_bytes(b"mine")
    assert main(["plot", str(midi), "-o", str(roll)]) == 2
    assert main(["reconstruct", str(midi), "-o", str(rebuilt)]) == 2
    err = capsys.readouterr().err
    assert err.count("is there already") == 2 and "--overwrite" in err and "Traceback" not in err
    assert roll.read_bytes() == rebuilt.read_bytes() == b"mine"
    assert main(["plot", str(midi), "-o", str(roll), "--overwrite"]) == 0
    assert main(["reconstruct", str(midi), "-o", str(rebuilt), "--overwrite"]) == 0
    assert roll.read_bytes() != b"mine" and rebuilt.read_bytes() != b"mine"
    performance = midi.read_bytes()  # the file being reconstructed is never its own output, --overwrite or not
    assert main(["reconstruct", str(midi), "-o", str(tmp_path / "." / "song.mid"), "--overwrite"]) == 2
    assert "the performance being reconstructed" in capsys.readouterr().err and midi.read_bytes() == performance
    companion = tmp_path / "fresh.png"  # reconstruct --png writes OUT.png beside OUT.mid: not over one there
    companion.write_bytes(b"mine")
    assert main(["reconstruct", str(midi), "-o", str(tmp_path / "fresh.mid"), "--png"]) == 2
    assert companion.read_bytes() == b"mine" and not (tmp_path / "fresh.mid").exists()
    assert main(["reconstruct", str(midi), "-o", str(tmp_path)]) == 2  # a folder is no MIDI file to write
    assert "a folder" in capsys.readouterr().err and not list(tmp_path.glob(".*tmp"))
    for given in ([str(roll)], [str(roll), "--overwrite"]):  # a roll given for its MIDI file: said so, kept
        assert main(["plot", *given]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{roll}: not a MIDI file" in err[0] and "there already" not in err[0], err
    assert roll.read_bytes() != b"mine" and roll.read_bytes()[:4] == b"\x89PNG"
    own = midi.with_suffix(".png")  # a folder's MIDI file and its roll both given (plot g/*): the roll is skipped
    own.write_bytes(roll.read_bytes())
    assert main(["plot", str(midi), str(own), "--overwrite"]) == 0  # (one drawn: the skip said, not a failure)
    captured = capsys.readouterr()
    assert f"skipped {own}: not a MIDI file" in captured.err and str(own) in captured.out


def test_plot_of_a_folder_whose_rolls_are_there_says_what_to_give(tmp_path, capsys):
    """`tsm plot out/` after `generate --png -o out/` was told "give another name", though no name was given (each
    roll is named for its MIDI file): now -o, where rolls may go instead; a name given is still told to change."""
    for name in ("a.mid", "b.mid"):
        write_events(hand_made()[0], tmp_path / "out" / name)
    assert main(["plot", str(tmp_path / "out")]) == 0
    said = []
    for argv in ([str(tmp_path / "out")], [str(tmp_path / "out" / "a.mid")],
                 [str(tmp_path / "out" / "a.mid"), "-o", str(tmp_path / "out" / "b.png")]):
        assert main(["plot", *argv]) == 2
        said += capsys.readouterr().err.strip().splitlines()
    folder, one, named = said  # (one line each)
    assert "there already; give -o FOLDER/ to draw elsewhere, or --overwrite" in folder
    assert "there already; give -o ROLL.png or -o FOLDER/ to draw elsewhere, or --overwrite" in one
    assert "b.png is there already; give another name, or --overwrite" in named


def test_plot_writes_where_told_and_names_o_where_beside_the_file_is_read_only(tmp_path, monkeypatch, capsys):
    """A read-only dataset (or the shipped files): `-o`/`--out FOLDER/` puts the rolls there, the MIDI file's folder
    untouched, and refuses one there already unless --overwrite; without it, a folder that cannot be written is one
    line naming the roll and -o, and no temporary is left."""
    import errno

    from matplotlib.figure import Figure

    midi = write_events(hand_made()[0], tmp_path / "dataset" / "song.mid")
    rolls = tmp_path / "rolls"
    assert main(["plot", str(midi), "--out", f"{rolls}/"]) == 0  # (as generate's and evaluate's -o/--out)
    assert (rolls / "song.png").is_file() and os.listdir(midi.parent) == ["song.mid"]
    assert main(["plot", str(midi), "--out", f"{rolls}/"]) == 2
    assert f"{rolls / 'song.png'} is there already" in capsys.readouterr().err
    assert main(["plot", str(midi), "-o", f"{rolls}/", "--overwrite"]) == 0
    capsys.readouterr()

    def read_only(fig, fname, *args, **kwargs):  # as saving into a read-only mount does
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(fname))
    monkeypatch.setattr(Figure, "savefig", read_only)
    assert main(["plot", str(midi)]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {midi.with_suffix('.png')}: cannot write beside {midi} "
                                               "(read-only file system); give -o FOLDER/ to put the rolls elsewhere")
    assert main(["plot", str(midi), "-o", str(tmp_path / "ro" / "roll.png")]) == 2  # -o given: the roll named, no hint
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'ro' / 'roll.png'}: cannot write or read here: read-only file system"
    assert os.listdir(midi.parent) == ["song.mid"] and os.listdir(tmp_path / "ro") == []


def test_plot_writes_no_roll_beside_a_file_in_a_folder_marked_read_only(tmp_path, capsys):
    """A dataset unpacked read-only (r-xr-xr-x) refuses the roll beside its MIDI file as the system refuses a user who is
    not root; root (a container's user) could write it all the same, and plot did, leaving rolls in the data. With
    -o FOLDER/ the roll goes there."""
    midi = write_events(hand_made()[0], tmp_path / "dataset" / "song.mid")
    midi.parent.chmod(0o555)
    try:
        assert main(["plot", str(midi)]) == 2
        assert capsys.readouterr().err.strip() == (f"error: {midi.with_suffix('.png')}: cannot write beside {midi} (its "
                                                   "folder is read-only, mode dr-xr-xr-x); give -o FOLDER/ to put the "
                                                   "rolls elsewhere")
        assert os.listdir(midi.parent) == ["song.mid"]
        assert main(["plot", str(midi), "-o", f"{tmp_path / 'rolls'}/"]) == 0
        assert os.listdir(tmp_path / "rolls") == ["song.png"]
    finally:
        midi.parent.chmod(0o755)


def test_a_file_that_is_no_soundfont_is_refused_before_anything_is_drawn(tmp_path, capsys):
    """As a soundfont that is not there is: one line, rc 2, nothing written (it drew everything, then only warned)."""
    midi = write_events(hand_made()[0], tmp_path / "song.mid")
    for fake in (midi, tmp_path / "notes.sf2"):  # a MIDI file given by mistake; text named .sf2
        (tmp_path / "notes.sf2").write_text("not a soundfont")
        for argv in (["generate", "-n", "1", "-o", str(tmp_path / "g")], ["plot", str(midi)],
                     ["reconstruct", str(midi), "-o", str(tmp_path / "r.mid")],
                     ["evaluate", str(tmp_path), "--real", str(tmp_path), "-o", str(tmp_path / "report")]):
            assert main([*argv, "--wav", "--soundfont", str(fake)]) == 2
            err = capsys.readouterr().err.strip()
            assert err == (f"error: --soundfont {fake}: not a SoundFont (.sf2, .sf3) or DLS file; give one, or leave "
                           "it out for the General MIDI soundfont installed with FluidSynth"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sf2", "song.mid"]


def test_a_bad_soundfont_in_the_environment_is_refused_before_anything_is_drawn(tmp_path, capsys, monkeypatch):
    """$TSM_SOUNDFONT stands for --soundfont with --wav alone: checked up front as it is, and named as itself."""
    midi = write_events(hand_made()[0], tmp_path / "song.mid")
    (tmp_path / "notes.sf2").write_text("not a soundfont")
    for fake, why in ((tmp_path / "notes.sf2", "not a SoundFont"), (tmp_path / "gone.sf2", "no such file")):
        monkeypatch.setenv("TSM_SOUNDFONT", str(fake))
        assert main(["plot", str(midi), "--wav"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: $TSM_SOUNDFONT {fake}: {why}") and len(err.splitlines()) == 1, err
        assert main(["plot", str(midi)]) == 0  # without --wav the soundfont is not read
        (tmp_path / "song.png").unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sf2", "song.mid"]


def test_a_soundfont_without_wav_is_refused_in_one_line(tmp_path, capsys):
    """As generate and reconstruct refuse it: the font would be silently ignored."""
    midi = write_events(hand_made()[0], tmp_path / "song.mid")
    assert main(["plot", str(midi), "--soundfont", "font.sf2"]) == 2
    assert main(["evaluate", str(tmp_path), "--real", str(tmp_path), "-o", str(tmp_path / "r"),
                 "--soundfont", "font.sf2"]) == 2
    err = capsys.readouterr().err
    assert err.count("add --wav to render audio") == 2 and "Traceback" not in err
    assert not (tmp_path / "song.png").exists()


def test_tsm_evaluate_passes_its_flags_to_the_api(report, monkeypatch, tmp_path, capsys):
    calls = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))
        return report[0]

    monkeypatch.setattr(report_module, "evaluate_generated", fake)
    runs = tmp_path.parent / f"{tmp_path.name}_runs"
    (runs / "R1").mkdir(parents=True)
    (runs / "R1" / "metrics.jsonl").write_text("")
    (runs / "R2.jsonl").write_text("")
    r1, r2 = str(runs / "R1"), str(runs / "R2.jsonl")
    for missing, why in ((runs / "R3", "no such run folder or metrics log"), (runs, "no metrics.jsonl in this folder")):
        assert main(["evaluate", "GEN", "--real", "CORPUS", "-o", str(tmp_path), "--run", r1, "--run", str(missing)]) == 2
        assert capsys.readouterr().err.strip() == f"error: --run {missing}: {why}" and not calls  # named at once
    assert main(["evaluate", "GEN", "--real", "CORPUS", "-o", str(tmp_path), "--run", r1, "--run", r2, "--wav",
                 "--seconds", "8", "--transpose", "--copy-threshold", "0.8", "--repeats", "3", "--folds-by",
                 "performance"]) == 0
    (args, kwargs), = calls
    assert kwargs["folds_by"] == "performance"
    assert args == ("GEN", "CORPUS", str(tmp_path)) and kwargs["runs"] == [r1, r2] and kwargs["wav"]
    assert kwargs["seconds"] == 8.0 and kwargs["transpose"] and kwargs["copy_threshold"] == 0.8
    assert kwargs["split"] == "test" and kwargs["train_split"] == "train" and kwargs["repeats"] == 3
    printed = capsys.readouterr().out
    assert "skipped" in printed and "near copies of training excerpts: 1" in printed
    ungrouped = [row for row, c in report[0]["classifier"].items() if c.get("folds_grouped") is False]
    said = next(line for line in printed.splitlines()
                if "(the classifiers' folds keep each real piece (all its performances)" in line)
    assert all(repr(row) in said for row in ungrouped) and ("except in the row" in said) == bool(ungrouped)
    assert "not for" not in said  # (it read "not for generated, real A vs real B: …")
    logistic, trees = (report[0][test]["generated"] for test in ("classifier", "classifier_trees"))
    def rough(c: dict) -> str:  # (the fixture's few pieces: each accuracy said to tell nothing)
        over = f", over {c['p_groups']} pieces and files" if c.get("p_groups") else ""
        return f" (p = {c['p_value']:.3f} from {c['n_per_class']} excerpts a side{over}: rough)"
    assert (f"real vs generated: {logistic['accuracy']:.3f} ± {logistic['accuracy_sd']:.3f}{rough(logistic)} logistic, "
            f"— ({trees['why']}) boosted trees") in printed  # the logistic's mean of 5; too few for the trees to split
    assert main(["evaluate", "GEN", "--real", "C", "-o", "O", "--repeats", "0"]) == 2
    assert "--repeats must be ≥ 1" in capsys.readouterr().err
    assert main(["evaluate", "GEN", "--real", "C", "-o", "O", "--seconds", "0"]) == 2
    assert "--seconds 0: an excerpt's length must be > 0" in capsys.readouterr().err
    (tmp_path / "report.html").write_text("an earlier report")  # kept unless the user says to replace it
    assert main(["evaluate", "GEN", "--real", "CORPUS", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "report.html" in err and "--overwrite" in err and "\n" not in err and len(calls) == 1
    assert main(["evaluate", "GEN", "--real", "CORPUS", "-o", str(tmp_path), "--overwrite"]) == 0 and len(calls) == 2
    mine = tmp_path / "mine"  # no report there, but a file of the user's where the report writes its figures
    (mine / "figures").mkdir(parents=True)
    (mine / "figures" / "densities.png").write_text("a figure of my own")
    assert main(["evaluate", "GEN", "--real", "CORPUS", "-o", str(mine)]) == 2 and len(calls) == 2  # before: replaced
    err = capsys.readouterr().err.strip()
    assert "densities.png: -o" in err and "no report wrote" in err and "--overwrite" in err and "\n" not in err
    assert main(["evaluate", "GEN", "--real", "C", "-o", "O", "--seconds", "-1"]) == 2
    assert "--seconds -1: an excerpt's length must be > 0" in capsys.readouterr().err
    for seconds in ("nan", "inf"):  # (a usage error: argparse's)
        with pytest.raises(SystemExit):
            main(["evaluate", "GEN", "--real", "C", "-o", "O", "--seconds", seconds])
        assert "is not a time" in capsys.readouterr().err
    few = copy.deepcopy(report[0])  # a handful of pieces: the accuracy printed with why it tells nothing
    for test in ("classifier", "classifier_trees"):
        few[test]["generated"] |= {"accuracy": 0.5, "accuracy_sd": 0.0, "p_value": 0.63671875, "n_per_class": 4,
                                   "p_groups": 7}
    monkeypatch.setattr(report_module, "evaluate_generated", lambda *args, **kwargs: few)
    assert main(["evaluate", "GEN", "--real", "CORPUS", "-o", str(tmp_path), "--overwrite"]) == 0
    assert ("real vs generated: 0.500 ± 0.000 (p = 0.637 from 4 excerpts a side, over 7 pieces and files: "
            "rough) logistic"
            in capsys.readouterr().out)
    for test in ("classifier", "classifier_trees"):  # … told apart even so: said as the small p it is
        few[test]["generated"] |= {"accuracy": 1.0, "p_value": 0.0039}
    assert main(["evaluate", "GEN", "--real", "CORPUS", "-o", str(tmp_path), "--overwrite"]) == 0
    assert "1.000 ± 0.000 (p = 0.004 from 4 excerpts a side, over 7 pieces and files: rough) logistic" \
        in capsys.readouterr().out
    del few["folds_by"]  # a report written before the folds kept pieces whole: by performance, said so
    assert main(["evaluate", "GEN", "--real", "CORPUS", "-o", str(tmp_path), "--overwrite"]) == 0
    printed = capsys.readouterr().out
    assert "over 7 performances and files: rough) logistic" in printed
    assert "(the classifiers' folds keep each real performance and each generated file whole" in printed


def test_evaluate_overwrite_removes_the_earlier_reports_files_and_no_others(report, monkeypatch, tmp_path):
    """--overwrite replaces a report: the rolls and audio the earlier one listed go once the new one is written (they
    would sit beside the new one's), and nothing else in the folder, a user's pieces there included."""
    import json

    out = tmp_path / "r"
    for name in ("figures/roll_old.png", "figures/roll_both.png", "audio/old.wav", "figures/mine.png",
                 "audio/pieces/piece.mid", "audio/pieces/piece.wav"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(b"x")
    listed = lambda *names: {"figures": {"densities": str(out / names[0])},  # noqa: E731
                             "samples": [{"roll": str(out / n), "audio": None} for n in names[1:]]}
    (out / "report.json").write_text(json.dumps(listed("figures/roll_old.png", "figures/roll_both.png", "audio/old.wav")))
    (out / "report.html").write_text("the earlier report")

    def fails(*args, **kwargs):
        raise ValueError("--real CORPUS: no such corpus")
    monkeypatch.setattr(report_module, "evaluate_generated", fails)
    assert main(["evaluate", str(out / "audio" / "pieces"), "--real", "C", "-o", str(out), "--overwrite"]) == 2
    assert (out / "figures" / "roll_old.png").exists() and (out / "report.html").exists()  # a failure loses nothing

    def writes(generated, real, out_dir, **kwargs):
        (out / "report.json").write_text(json.dumps(listed("figures/roll_both.png", "figures/roll_new.png")))
        return report[0]
    monkeypatch.setattr(report_module, "evaluate_generated", writes)
    assert main(["evaluate", str(out / "audio" / "pieces"), "--real", "C", "-o", str(out), "--overwrite"]) == 0
    assert not (out / "figures" / "roll_old.png").exists() and not (out / "audio" / "old.wav").exists()
    assert (out / "figures" / "roll_both.png").exists() and (out / "figures" / "mine.png").exists()
    assert (out / "audio" / "pieces" / "piece.mid").exists() and (out / "audio" / "pieces" / "piece.wav").exists()


def test_evaluate_overwrite_removes_the_audio_folder_it_emptied_never_a_users_file_in_it(report, monkeypatch, tmp_path):
    """`tsm evaluate … --overwrite` of a report with audio by one without (no --wav this time) removed the earlier
    report's WAVs and left their audio/ folder behind, empty; now the folder goes with them, where nothing else is in
    it: a file of the user's there keeps it, untouched."""
    import json

    def writes(generated, real, out_dir, **kwargs):  # the new report: a roll, and no audio
        (Path(out_dir) / "report.json").write_text(json.dumps({"samples": [{"roll": str(Path(out_dir) / "figures" /
                                                                                         "roll_new.png"), "audio": None}]}))
        return report[0]
    monkeypatch.setattr(report_module, "evaluate_generated", writes)
    for mine in (None, "my take.wav"):
        out = tmp_path / ("with mine" if mine else "r")
        (out / "audio").mkdir(parents=True)
        (out / "audio" / "sample_0.wav").write_bytes(b"RIFF")
        if mine:
            (out / "audio" / mine).write_bytes(b"my own")
        (out / "report.json").write_text(json.dumps({"samples": [{"audio": str(out / "audio" / "sample_0.wav")}]}))
        (out / "report.html").write_text("the earlier report")
        assert main(["evaluate", str(tmp_path), "--real", "C", "-o", str(out), "--overwrite"]) == 0
        assert not (out / "audio" / "sample_0.wav").exists()
        if mine:
            assert sorted(p.name for p in (out / "audio").iterdir()) == [mine]
            assert (out / "audio" / mine).read_bytes() == b"my own"
        else:
            assert not (out / "audio").exists() and (out / "report.json").is_file()


def test_a_wav_fluidsynth_failed_to_write_leaves_no_empty_audio_folder(generated, monkeypatch, tmp_path):
    """FluidSynth failing on a file (the report then says why it has no audio) left the audio/ folder made for its WAV
    behind, empty; a folder that was there before is left as it was."""
    from timestepmusic.evaluate import audio

    monkeypatch.setattr(audio, "find_fluidsynth", lambda: shutil.which("false"))  # (exits 1, writing nothing)
    monkeypatch.setattr(audio, "find_soundfont", lambda soundfont=None: tmp_path / "font.sf2")
    out = tmp_path / "out"
    wav, why = _audio_for(generated / "sample_0.mid", out, True, None)
    assert wav is None and "fluidsynth failed" in why
    assert out.is_dir() and not (out / "audio").exists()
    (out / "audio").mkdir()
    (out / "audio" / "mine.wav").write_bytes(b"my own")
    wav, why = _audio_for(generated / "sample_0.mid", out, True, None)
    assert wav is None and [p.name for p in (out / "audio").iterdir()] == ["mine.wav"]


@pytest.mark.parametrize("written_to", ["r", "/somewhere/it/was/before/r"])
def test_evaluate_overwrite_removes_the_earlier_reports_files_written_from_another_folder_or_moved(
        written_to, report, monkeypatch, tmp_path):
    """A report.json names its figures as evaluate was told its -o (relative to the folder it ran in, or where the
    folder was before it was moved): an --overwrite run from elsewhere, or in the moved folder, read them as paths
    of another folder, and left the earlier report's rolls beside the new one's."""
    import json

    out = tmp_path / "moved" / "r"
    for name in ("figures/roll_old.png", "figures/mine.png", "audio/old.wav"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(b"x")
    (out / "report.json").write_text(json.dumps({
        "out_dir": written_to, "figures": {"densities": f"{written_to}/figures/densities.png"},
        "samples": [{"roll": f"{written_to}/figures/roll_old.png", "audio": f"{written_to}/audio/old.wav"}]}))
    (out / "report.html").write_text("the earlier report")

    def writes(generated, real, out_dir, **kwargs):
        (out / "report.json").write_text(json.dumps({"out_dir": str(out), "samples": [{"roll": str(out / "figures" /
                                                                                                  "roll_new.png")}]}))
        return report[0]
    monkeypatch.setattr(report_module, "evaluate_generated", writes)
    monkeypatch.chdir(tmp_path)  # (not the folder the relative paths were written from)
    assert main(["evaluate", str(tmp_path), "--real", "C", "-o", str(out), "--overwrite"]) == 0
    assert not (out / "figures" / "roll_old.png").exists() and not (out / "audio" / "old.wav").exists()
    assert (out / "figures" / "mine.png").exists()


def test_tsm_evaluate_refuses_an_empty_name_for_its_folder_in_one_line(tmp_path, monkeypatch, capsys):
    """`tsm evaluate "$GEN"` with GEN unset evaluated the working folder's MIDI files as generated."""
    monkeypatch.chdir(tmp_path)
    write_events(hand_made()[0], tmp_path / "mine.mid")
    for empty in ("", " "):
        assert main(["evaluate", empty, "--real", "C", "-o", str(tmp_path / "out")]) == 2
        assert capsys.readouterr().err == ("error: GENERATED_DIR: an empty name; give the folder of generated MIDI files "
                                           "('.' for the working folder)\n")
    assert not (tmp_path / "out").exists()


def test_evaluate_wav_without_fluidsynth_says_so_before_comparing(report, monkeypatch, tmp_path, caplog):
    """--wav where FluidSynth is missing was said only once the minutes of comparing were spent."""
    from timestepmusic.evaluate import audio

    def missing():
        raise audio.AudioUnavailable("the `fluidsynth` program is not on PATH")
    monkeypatch.setattr(audio, "find_fluidsynth", missing)
    monkeypatch.setattr(audio, "_warned", set())
    said_before = []

    def compares(*args, **kwargs):
        said_before.append(caplog.text)
        return report[0]
    monkeypatch.setattr(report_module, "evaluate_generated", compares)
    with caplog.at_level("WARNING"):
        assert main(["evaluate", "GEN", "--real", "CORPUS", "-o", str(tmp_path / "r"), "--wav"]) == 0
    assert "no audio in the report: the `fluidsynth` program is not on PATH" in said_before[0]


def test_generate_wav_without_fluidsynth_says_so_before_drawing(monkeypatch, tmp_path, caplog):
    """generate --wav where FluidSynth is missing said so only once the first batch was drawn (a batch of minutes
    is drawn at once); now before the model draws, once, and the MIDI files are written as before."""
    from timestepmusic import draws
    from timestepmusic.evaluate import audio

    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    monkeypatch.setattr(audio, "_warned", set())  # as in a fresh process
    drawing, said_before = draws.drawn_in_batches, []

    def draws_after_saying(*args, **kwargs):
        said_before.append(caplog.text)
        return drawing(*args, **kwargs)
    monkeypatch.setattr(draws, "drawn_in_batches", draws_after_saying)
    with caplog.at_level("WARNING"):
        assert main(["generate", "-n", "2", "--seconds", "1", "--wav", "-q", "-o", str(tmp_path / "out")]) == 0
    assert "no WAV files: the `fluidsynth` program is not on PATH" in said_before[0]
    assert caplog.text.count("apt-get install fluidsynth") == 1  # once, not again as the files are written
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["sample_0_000.mid", "sample_0_001.mid"]


def test_tsm_evaluate_reports_an_empty_folder_as_an_error(corpus, tmp_path, capsys):
    (tmp_path / "nothing").mkdir()
    assert main(["evaluate", str(tmp_path / "nothing"), "--real", str(corpus.root), "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nothing: no .mid or .midi files" in err


# --- a browser's view of the report ---------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH")
def test_report_renders_in_headless_chromium(report, tmp_path):
    _, out = report
    shot = tmp_path / "shot.png"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
               f"--screenshot={shot}", "--window-size=1200,3000", (out / "report.html").resolve().as_uri()]
    subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    pixels = image.imread(shot)
    assert pixels.shape[:2] == (3000, 1200)
    assert pixels[..., :3].std() > 0.05, "the screenshot is blank"


# --- the real performances --------------------------------------------------------------------------------

@pytest.mark.real
def test_describe_every_test_excerpt_of_asap(shared_data, tmp_path):
    from timestepmusic.corpus import Corpus
    from timestepmusic.prepare_corpus import prepare

    if os.environ.get(CORPUS_ENV):
        corpus = Corpus.open(os.environ[CORPUS_ENV])
    else:
        corpus = prepare([shared_data], tmp_path / "asap", progress=False).corpus
    started = time.perf_counter()
    table = excerpts_from_corpus(corpus, "test")
    d = describe(table)
    seconds = time.perf_counter() - started
    print(f"described {table.num_excerpts} excerpts ({table.ids.size} events) in {seconds:.2f} s")
    assert table.num_excerpts > 100
    assert np.all(np.isfinite(d["note_density"])) and np.nanmin(d["pitch_range"]) >= 0
    assert np.all((d["damper_fraction"] >= 0) & (d["damper_fraction"] <= 1))


def test_a_continuation_is_marked_on_its_roll(tmp_path):
    """`tsm generate --prompt … --png`: a dashed line where the new music starts, and nowhere else."""
    from timestepmusic.evaluate.render import render_outputs

    events = hand_made()[0]
    midi = write_events(events, tmp_path / "song.mid")
    plain = image.imread(render_outputs(midi, events, png=True, png_path=tmp_path / "plain.png")[0])
    columns = {}
    for mark_s in (1.0, 2.0):  # as generate passes it
        png = render_outputs(midi, events, png=True, continuation_s=mark_s, png_path=tmp_path / f"at{mark_s}.png")[0]
        changed = np.any(np.abs(plain - image.imread(png)) > 0.1, axis=-1)  # [rows, columns]
        columns[mark_s] = np.flatnonzero(changed.any(axis=0))
        assert columns[mark_s].size and np.ptp(columns[mark_s]) < 100  # one line and its label, not the whole roll
    seconds_px = columns[2.0].min() - columns[1.0].min()  # a second later, one second's width to the right
    assert 0.5 < seconds_px / (plain.shape[1] * 0.86 / max(events.end_s, 1.0)) < 1.5


def test_tsm_plot_of_a_folder_says_the_files_in_its_subfolders_it_does_not_draw(tmp_path, caplog):
    """A user's folder with a recital in a subfolder: `tsm plot mine/ -o rolls/` drew the files at its top and said
    nothing of the subfolder's, where `tsm evaluate mine/` says them."""
    write_events(hand_made()[0], tmp_path / "mine" / "a.mid")
    for name in ("b.mid", "c.MID"):
        write_events(hand_made()[0], tmp_path / "mine" / "recital 2024" / name)
    assert main(["plot", str(tmp_path / "mine"), "-o", str(tmp_path / "rolls") + "/"]) == 0
    assert [p.name for p in (tmp_path / "rolls").iterdir()] == ["a.png"]
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert said == [f"{tmp_path / 'mine'}: 2 more MIDI files are in its subfolders, which plot does not read (recital "
                    "2024/b.mid, …): only the 1 directly in it is read; give a subfolder to plot it"]
    caplog.clear()
    assert main(["plot", str(tmp_path / "mine" / "recital 2024"), "-o", str(tmp_path / "rolls2") + "/"]) == 0
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_tsm_plot_says_a_file_below_two_folders_given_once(tmp_path, caplog):
    """`tsm plot recital/ recital/day2/` said the file in recital/day2/encore/ twice, once below each folder."""
    for folder in ("recital", "recital/day2", "recital/day2/encore"):
        write_events(hand_made()[0], tmp_path / folder / f"{Path(folder).name}.mid")
    assert main(["plot", str(tmp_path / "recital"), str(tmp_path / "recital" / "day2"), "-o",
                 str(tmp_path / "rolls") + "/"]) == 0
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(said) == 1 and "encore.mid" in said[0]


def test_tsm_plot_does_not_say_a_subfolders_file_unread_where_it_is_given_too(tmp_path, caplog):
    """`tsm plot mine/ "mine/recital 2024/b.mid"` drew b.mid, yet warned that it was in a subfolder 'which plot does not
    read': the files said are those given no other way (c.MID alone here; none where the subfolder is given)."""
    write_events(hand_made()[0], tmp_path / "mine" / "a.mid")
    for name in ("b.mid", "c.MID"):
        write_events(hand_made()[0], tmp_path / "mine" / "recital 2024" / name)
    assert main(["plot", str(tmp_path / "mine"), str(tmp_path / "mine" / "recital 2024" / "b.mid"), "-o",
                 str(tmp_path / "rolls") + "/"]) == 0
    assert sorted(p.name for p in (tmp_path / "rolls").iterdir()) == ["a.png", "b.png"]
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert said == [f"{tmp_path / 'mine'}: 1 more MIDI file is in its subfolders, which plot does not read (recital "
                    "2024/c.MID): only the 1 directly in it is read; give a subfolder to plot it"]
    caplog.clear()
    assert main(["plot", str(tmp_path / "mine"), str(tmp_path / "mine" / "recital 2024"), "-o",
                 str(tmp_path / "rolls2") + "/"]) == 0
    assert len(list((tmp_path / "rolls2").iterdir())) == 3
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_tsm_plot_draws_several_files_into_a_new_folder_and_skips_a_bad_one(tmp_path, capsys):
    first = write_events(hand_made()[0], tmp_path / "a.mid")
    second = write_events(hand_made()[0], tmp_path / "b.mid")
    bad = tmp_path / "c.mid"
    bad.write_text("not midi")
    rolls = tmp_path / "rolls"
    assert main(["plot", str(first), str(bad), str(second), "-o", f"{rolls}/"]) == 0  # made; the bad file said
    assert sorted(p.name for p in rolls.iterdir()) == ["a.png", "b.png"]
    assert "skipped" in capsys.readouterr().err
    assert main(["plot", str(first), str(second), "-o", str(tmp_path / "one.png")]) == 2  # two rolls, one name
    (tmp_path / "sub").mkdir()
    twin = write_events(hand_made()[0], tmp_path / "sub" / "a.mid")
    capsys.readouterr()
    assert main(["plot", str(first), str(twin), "-o", str(tmp_path / "twins") + "/"]) == 2  # one roll for both
    assert not (tmp_path / "twins").exists()
    assert f"{first} and {twin} would draw to this one roll" in capsys.readouterr().err  # (which two: named)
    assert main(["plot", str(tmp_path), str(first), "-o", str(tmp_path / "all") + "/"]) == 0  # a folder: its files
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["a.png", "b.png"]  # (a.mid named twice: once)
    (tmp_path / "deep" / "er").mkdir(parents=True)
    write_events(hand_made()[0], tmp_path / "deep" / "er" / "d.mid")
    for given, says in (("", "an empty name"), (str(tmp_path / "rolls"), "rolls: a folder without .mid or .midi"),
                        (str(tmp_path / "deep"), "not its subfolders: er/d.mid is in one")):
        assert main(["plot", given]) == 2
        assert says in capsys.readouterr().err
    for name in ("bad.mid", "worse.mid"):  # its own files unusable, the good one deeper: said
        (tmp_path / "deep" / name).write_text("not midi")
    assert main(["plot", str(tmp_path / "deep"), "-o", str(tmp_path / "none") + "/"]) == 1
    assert ("error: nothing drawn: all 2 MIDI file(s) were skipped; 1 more is in subfolders, which plot does not read"
            in capsys.readouterr().err)  # (nothing drawn: 1, as prepare with no usable file)


def test_the_audio_of_a_roll_is_written_beside_the_roll_not_the_midi_file(tmp_path):
    midi = tmp_path / "in" / "song.mid"
    assert rendered_paths(midi, png=True, wav=True, png_path=tmp_path / "out" / "roll.png") == [
        tmp_path / "out" / "roll.png", tmp_path / "out" / "roll.wav"]
    assert rendered_paths(midi, png=True, wav=True) == [midi.with_suffix(".png"), midi.with_suffix(".wav")]


def test_a_shapes_waypoints_are_marked_on_its_roll(tmp_path):
    """`tsm generate --key "C > G" --png`: a labelled dashed line at each waypoint of the asked paths."""
    from timestepmusic.evaluate.render import render_outputs
    from timestepmusic.heard import shape_marks
    from timestepmusic.keys import Key
    from timestepmusic.sequence.pulse import TempoTold
    from timestepmusic.sequence.style_request import StyleRamp, parse_style_path
    from timestepmusic.sequence.tonal import KeyTold

    key = KeyTold(Key(0, False), later=((2.0, Key(7, False)),))
    tempo = TempoTold(80.0, later=((4.0, 120.0),))
    ramp = StyleRamp.timed(parse_style_path("loudness=40 > density=6@2"), 3.0)
    assert shape_marks(key, tempo, ramp, 0.0, 4.0) == (
        (0.0, "C major, 80 bpm, loudness=40"), (2.0, "G major, density=6"), (4.0, "120 bpm"))  # the end's too
    assert shape_marks(key, tempo, ramp, 0.0, 3.5) == (
        (0.0, "C major, 80 bpm, loudness=40"), (2.0, "G major, density=6"))  # none past the file's end
    assert shape_marks(key, TempoTold(90.0), None, 1.5, 9.0) == ((1.5, "C major"), (3.5, "G major"))  # after a prompt
    assert shape_marks(KeyTold(Key(0, False)), TempoTold(90.0), None, 0.0, 9.0) == ()  # no path: nothing to mark
    events = hand_made()[0]
    midi = write_events(events, tmp_path / "song.mid")
    plain = image.imread(render_outputs(midi, events, png=True, png_path=tmp_path / "plain.png")[0])
    marked = image.imread(render_outputs(midi, events, png=True, png_path=tmp_path / "marked.png",
                                         marks=((1.0, "G major"), (2.0, "D major")))[0])
    changed = np.flatnonzero(np.any(np.abs(plain - marked) > 0.1, axis=-1).any(axis=0))  # [columns changed]
    assert changed.size and np.ptp(changed) > 20  # two lines and their labels, a second apart


def test_plot_marks_where_a_generated_files_continuation_starts_as_generate_png_does(tmp_path, monkeypatch):
    """A new user's trial: `tsm plot FILE --from 4:30 --seconds 40` of a file `tsm generate --prompt` wrote drew no
    dashed 'continuation' line, though `generate --png` did; now the file marks where it starts, and plot draws that
    mark wherever it falls in the part drawn (none elsewhere, none in a continuation written alone)."""
    from timestepmusic.evaluate import plots
    from timestepmusic.markers import continuation_marker_s, generated_markers

    from midi_factory import write_piece

    drawn = []  # the marks of each roll drawn
    monkeypatch.setattr(plots, "_draw_roll", lambda *args: drawn.append(args[5]))
    prompt = write_piece(tmp_path / "mine.mid", seed=2)  # 12 notes, about 4 s
    assert main(["generate", "--prompt", str(prompt), "--seconds", "3", "-n", "1", "--png", "-o",
                 str(tmp_path / "whole")]) == 0
    (generated,) = drawn  # generate --png's
    (seam_s, label), = generated
    midi = tmp_path / "whole" / "sample_0_000.mid"
    assert label == "continuation" and seam_s > 3.0
    assert continuation_marker_s(generated_markers(midi)) == pytest.approx(seam_s, abs=1e-3)
    for flags, marks in (([], generated), (["--from", "2", "--seconds", "4"], generated),
                         (["--from", "0", "--seconds", "2"], ()), (["--from", f"{seam_s + 1:g}"], ())):
        drawn.clear()
        assert main(["plot", str(midi), *flags, "-o", f"{tmp_path / 'rolls'}/", "--overwrite"]) == 0
        assert [tuple((pytest.approx(at_s, abs=1e-3), said) for at_s, said in drawn[0])] == [marks], flags
    assert main(["generate", "--prompt", str(prompt), "--seconds", "3", "-n", "1", "--continuation-only", "-o",
                 str(tmp_path / "alone")]) == 0
    assert continuation_marker_s(generated_markers(tmp_path / "alone" / "sample_0_000.mid")) is None
    assert continuation_marker_s(generated_markers(prompt)) is None


def test_plot_marks_the_waypoints_a_generated_file_was_asked_as_generate_png_does(tmp_path, monkeypatch):
    """A new user's trial: `tsm generate --key "C > G" --tempo ... --style ... --png` marked the waypoints asked on its
    roll, `tsm plot` of the same file none; now the file holds them as markers and plot draws them, those in the part
    drawn alone (--from/--seconds). A file asked nothing along a path holds no marker but the command's (its bytes as
    before), and the marks change no note, pedal, tempo or key of a file."""
    from timestepmusic import heard
    from timestepmusic.evaluate import plots
    from timestepmusic.markers import MADE_BY, asked_marks, generated_markers
    from timestepmusic.midi_open import load_score

    drawn = []  # the marks of each roll drawn
    monkeypatch.setattr(plots, "_draw_roll", lambda *args: drawn.append(args[5]))
    asked = ["--key", "C > G", "--tempo", "80 > 100", "--style", "loudness=45 > loudness=80", "--seconds", "6",
             "-n", "1", "--seed", "3"]
    assert main(["generate", *asked, "--png", "-o", str(tmp_path / "shaped")]) == 0
    (generated,) = drawn  # generate --png's
    assert [label for _, label in generated] == ["C major, 80 bpm, loudness=45", "G major", "100 bpm, loudness=80"]
    midi = tmp_path / "shaped" / "sample_3_000.mid"
    assert [label for _, label in asked_marks(generated_markers(midi))] == [label for _, label in generated]
    g_major_s = generated[1][0]
    for flags, marks in (([], generated), (["--from", f"{g_major_s - 1:g}", "--seconds", "2"], generated[1:2]),
                         (["--from", f"{g_major_s + 0.5:g}", "--seconds", "1"], ())):
        drawn.clear()
        assert main(["plot", str(midi), *flags, "-o", f"{tmp_path / 'rolls'}/", "--overwrite"]) == 0
        assert [tuple((pytest.approx(at_s, abs=1e-3), said) for at_s, said in drawn[0])] == [tuple(marks)], flags

    monkeypatch.setattr(heard, "shape_marks", lambda *args: ())  # the same request, its file written without marks
    assert main(["generate", *asked, "-o", str(tmp_path / "unmarked")]) == 0
    marked, unmarked = load_score(midi), load_score(tmp_path / "unmarked" / "sample_3_000.mid")

    def same(one, other) -> bool:  # two symusic lists, column by column
        a, b = one.numpy(), other.numpy()
        return a.keys() == b.keys() and all(np.array_equal(a[name], b[name]) for name in a)

    assert all(same(getattr(marked, part), getattr(unmarked, part))
               for part in ("tempos", "key_signatures", "time_signatures"))
    assert all(same(track.notes, other.notes) and same(track.controls, other.controls)
               for track, other in zip(marked.tracks, unmarked.tracks, strict=True))
    assert [m.text for m in marked.markers if not m.text.startswith("asked: ")] == [m.text for m in unmarked.markers]

    monkeypatch.undo()
    assert main(["generate", "--key", "Em", "--tempo", "90", "--seconds", "6", "-n", "1", "-o", str(tmp_path / "plain")]) == 0
    (only,) = load_score(tmp_path / "plain" / "sample_0_000.mid").markers  # the command's, alone
    plain = generated_markers(tmp_path / "plain" / "sample_0_000.mid")
    assert only.text.startswith(MADE_BY) and asked_marks(plain) == ()


def test_a_title_the_font_cannot_draw_gives_no_warning(tmp_path, recwarn):
    from timestepmusic.evaluate.plots import plot_roll
    from timestepmusic.midi import Events

    events = Events(np.array([39, 43]), np.array([0.0, 0.5]), np.array([0.4, 0.4]), np.array([64, 70]))
    path = plot_roll(events, tmp_path / "roll.png", title="Fugue – Ünïcode 曲 01.mid")
    assert path.is_file() and not [w for w in recwarn if "Glyph" in str(w.message)]


# --- what a reader of the report and the console is told ---------------------------------------------------------

def test_the_report_says_what_each_set_column_and_descriptor_means_and_which_way_is_better(report):
    from timestepmusic.evaluate.descriptors import DESCRIPTOR_MEANING, SCALAR_DESCRIPTORS

    result, out = report
    page = (out / "report.html").read_text()
    assert "<table id=sets>" in page and "the floor: a trivial generator" in page and "the ceiling" in page  # (before:
    assert "higher is better" in page and "lower is better" in page and "Lower is better" in page  # rows unexplained)
    assert "A set passes only if both stay near the ceiling" not in page  # (no threshold said what "near" was)
    assert "An accuracy below 0.5 is not more real than real" in page
    meanings = page.split("<ul id=meanings>")[1].split("</ul>")[0]
    for name in SCALAR_DESCRIPTORS:
        assert html_escape(DESCRIPTOR_MEANING[name]) in meanings, name
    generated = [result["descriptors"][n]["rows"]["generated"]["overlap"] for n in SCALAR_DESCRIPTORS]
    mean = float(np.mean([v for v in generated if v is not None and np.isfinite(v)]))  # the README's target's figure
    assert f"<b>mean overlap</b> over the {len(SCALAR_DESCRIPTORS)} descriptors" in page
    assert f"<td><b>{report_html._fmt(mean)}</b></td>" in page
    assert "in the legend's order" in page  # the densities' "at 0: a / b / c"
    densities = page.split("<h2>Densities</h2>")[1].split("<img")[0]  # (before: which curve to read against which,
    assert "real excerpts' (black, first in the legend), the better" in densities  # and which way, unsaid)
    assert f"{comparison_module.BASELINE}, the floor" in densities
    assert f"The first {len(result['samples'])} of the 3 generated files" in page


def test_the_page_says_whether_the_folds_and_halves_kept_pieces_or_performances_whole(report):
    """A report by piece says pieces where it says how the folds fell, what the p-values count and how the real
    halves were split; one without "folds_by" (written before it was chosen) was made by performance, and says so."""
    by_piece = copy.deepcopy(report[0])
    assert by_piece["folds_by"] == "piece"
    before = copy.deepcopy(by_piece)
    del before["folds_by"]
    for said, unit, other in ((report_html.render_html(by_piece), "piece", "performance"),
                              (report_html.render_html(before), "performance", "piece")):
        classifiers = said.split("<h2>Classifier two-sample tests</h2>")[1].split("<table")[0]
        assert f"The folds keep each {unit}" in classifiers and f"The folds keep each {other}" not in classifiers
        assert f"Each p-value counts {unit}s and generated files" in classifiers
        assert said.count(f"(split by {unit})") == 2 and f"(split by {other})" not in said  # the sets, the descriptors
    assert "another performance of its piece" in report_html.render_html(by_piece)


def html_escape(text: str) -> str:
    import html

    return html.escape(text)


def test_a_p_value_past_the_tests_resolution_reads_as_the_console_says_it(report):
    said = copy.deepcopy(report[0])
    for test in ("classifier", "classifier_trees"):
        said[test]["generated"]["p_value"] = 1.0e-4  # the sign-flip test's floor, 1 / (9999 + 1): not an exact figure
        said[test]["shuffled chunks"]["p_value"] = 0.0123
    table = report_html.render_html(said).split("<table id=classifier>")[1].split("</table>")[0]
    generated = next(row for row in table.split("<tr>") if row.startswith("<td>generated</td>"))
    assert generated.count("<td>&lt; 0.001</td>") == 2 and "e-04" not in generated  # before: 1.0e-04
    assert "<td>0.0123</td>" in table


def test_real_files_of_the_compared_split_are_said_to_be_on_both_sides(corpus, generated, tmp_path):
    theirs = tmp_path / "theirs"  # a user checks the report on real music: files of the test split itself
    theirs.mkdir()
    test_files = [Path(corpus.root) / t["path"] for t in corpus.tracks if t["split"] == "test"]
    for path in test_files[:2]:
        shutil.copy(path, theirs / path.name)
    shutil.copy(generated / "sample_0.mid", theirs / "sample_0.mid")
    notes = evaluate_generated(theirs, corpus, tmp_path / "out")["notes"]
    said = [note for note in notes if "performances of the test split itself" in note]
    assert len(said) == 1 and said[0].startswith("2 of the 3 files") and "accuracies below 0.5" in said[0]
    assert "sample_0.mid" not in said[0]
    page = (tmp_path / "out" / "report.html").read_text()
    assert "performances of the test split itself" in page
    notes = evaluate_generated(generated, corpus, tmp_path / "mine")["notes"]  # generated files: nothing said
    assert not any("split itself" in note for note in notes)


def test_continuations_written_with_their_prompt_are_said_to_hold_its_real_notes(corpus, generated, tmp_path):
    import symusic

    theirs = tmp_path / "theirs"  # a user evaluates the files of tsm generate --prompt: each begins with the real take
    theirs.mkdir()
    made = "TimeStepMusic 0.1.0: tsm generate "
    for name, command in (("whole.mid", "--seconds 30 --prompt 'my take.mid' --piece 0"),
                          ("alone.mid", "--seconds 30 --prompt 'my take.mid' --continuation-only --piece 0"),
                          ("plain.mid", "--piece 1")):
        score = symusic.Score(str(generated / "sample_0.mid"))
        score.markers.append(symusic.TextMeta(0, made + command))
        score.dump_midi(str(theirs / name))
    notes = evaluate_generated(theirs, corpus, tmp_path / "out", repeats=1)["notes"]
    said = [note for note in notes if "--prompt" in note]
    assert len(said) == 1 and said[0].startswith("1 of the 3 files begin with the performance given to tsm generate "
                                                 "--prompt") and "whole.mid" in said[0], said
    assert "alone.mid" not in said[0] and "plain.mid" not in said[0] and "--continuation-only" in said[0]
    notes = evaluate_generated(generated, corpus, tmp_path / "mine", repeats=1)["notes"]  # no markers: nothing said
    assert not any("--prompt" in note for note in notes)


def test_evaluate_help_says_how_many_pieces_which_split_and_what_repeats_do(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "200 pieces (tsm generate -n 200) for a verdict" in said and "under 50 excerpts" in said
    assert "default test: held out from training and from choosing settings" in said
    assert "each accuracy is their mean ± spread" in said and "session" not in said  # (before: "as reports before
    assert "(default 0)" in said  # the twenty-sixth session", which no user can place)


def test_the_console_says_how_many_generated_excerpts_it_compared(report, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(report_module, "evaluate_generated", lambda *args, **kwargs: report[0])
    assert main(["evaluate", "GEN", "--real", "CORPUS", "-o", str(tmp_path)]) == 0
    real = report[0]["excerpts"]["real (test)"]
    assert f"3 file(s), 3 excerpts of 16 s, against {real} real excerpts of the test split" in capsys.readouterr().out


def test_notes_left_out_of_another_systems_files_are_said_in_the_report_and_on_the_console(corpus, generated, tmp_path,
                                                                                          capsys):
    import symusic

    theirs = tmp_path / "theirs"  # another generator's band arrangement: a piano, drums on channel 10 and a bass
    theirs.mkdir()
    band = symusic.Score(480)
    band.tempos.append(symusic.Tempo(0, 120))
    for name, program, is_drum, pitch, count in (("piano", 0, False, 60, 40), ("drums", 0, True, 36, 12),
                                                 ("bass", 33, False, 40, 5)):
        track = symusic.Track(name, program=program, is_drum=is_drum)
        track.notes.extend(symusic.Note(i * 480, 240, pitch + i % 12 * (not is_drum), 80) for i in range(count))
        band.tracks.append(track)
    band.dump_midi(str(theirs / "band.mid"))
    shutil.copy(generated / "sample_0.mid", theirs / "sample_0.mid")  # all piano: nothing to say of it
    assert main(["evaluate", str(theirs), "--real", str(corpus.root), "-o", str(tmp_path / "out"), "--repeats", "1"]) == 0
    said = capsys.readouterr().out
    assert f"{theirs / 'band.mid'}: notes left out: 12 on the drum channel (10), 5 of another voice" in said
    assert "sample_0.mid: notes left out" not in said
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [f["file"] for f in report["files"]["left_out"]] == [str(theirs / "band.mid")]
    assert "12 on the drum channel (10)" in (tmp_path / "out" / "report.html").read_text()


def test_files_of_the_same_music_are_said_and_counted_once_by_the_classifiers(corpus, generated, tmp_path,
                                                                                 monkeypatch):
    theirs = tmp_path / "theirs"  # another system's folder where one piece was saved three times
    theirs.mkdir()
    for name in ("sample_0.mid", "sample_1.mid"):
        shutil.copy(generated / name, theirs / name)
    for copy_name in ("again.mid", "sample_0 (1).mid"):
        shutil.copy(generated / "sample_0.mid", theirs / copy_name)
    grouped = []  # the generated side's groups, as the classifiers are given them
    test = comparison_module.classifier_test
    monkeypatch.setattr(comparison_module, "classifier_test", lambda a, b, **kw: grouped.append(kw["groups"][1]) or
                        test(a, b, **kw))
    report = evaluate_generated(theirs, corpus, tmp_path / "out", repeats=1)
    said = [note for note in report["notes"] if "the same music as another file" in note]
    assert len(said) == 1 and said[0].startswith("2 of the 4 files")
    assert "sample_0 (1).mid = again.mid" in said[0] and "sample_0.mid = again.mid" in said[0]
    assert report["excerpts"]["generated"] == 4  # (every excerpt described) …
    assert np.unique(grouped[0]).size == 2  # … but the three copies are one file to the folds and the p-value
    alone = tmp_path / "alone"  # the same two pieces, once each: nothing said
    alone.mkdir()
    for name in ("sample_0.mid", "sample_1.mid"):
        shutil.copy(generated / name, alone / name)
    assert not any("same music" in note for note in evaluate_generated(alone, corpus, tmp_path / "once")["notes"])


def test_a_broken_link_is_skipped_with_its_reason_and_files_in_subfolders_are_said_not_read(corpus, generated,
                                                                                            tmp_path, capsys):
    theirs = tmp_path / "theirs"  # another system's output: a link whose file is gone, a folder of further pieces
    (theirs / "more" / "deeper").mkdir(parents=True)
    shutil.copy(generated / "sample_0.mid", theirs / "sample_0.mid")
    (theirs / "gone.mid").symlink_to(tmp_path / "moved_away.mid")
    (theirs / "again.mid").symlink_to(theirs / "sample_0.mid")  # (a link that is there: read, as the same music)
    for where in ("more/a.mid", "more/deeper/b.mid"):
        shutil.copy(generated / "sample_1.mid", theirs / where)
    assert main(["evaluate", str(theirs), "--real", str(corpus.root), "-o", str(tmp_path / "out"), "--repeats", "1"]) == 0
    said = capsys.readouterr().out
    assert f"skipped {theirs / 'gone.mid'}: cannot read: a link to {tmp_path / 'moved_away.mid'}, which is not there" in said
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["files"]["read"] == 2 and len(report["files"]["bad"]) == 1
    assert any(note.startswith("1 of the 2 files holds the same music") for note in report["notes"])
    deeper = [note for note in report["notes"] if "in subfolders" in note]
    assert len(deeper) == 1 and deeper[0].startswith("2 more MIDI files are in subfolders") and "more/a.mid" in deeper[0]
    assert "only the 2 usable of the 3 directly in it are evaluated" in deeper[0]  # (was 'the 3 … are counted', 2 read)


def test_generated_excerpts_of_silence_are_said(corpus, generated, tmp_path):
    theirs = tmp_path / "theirs"  # another system's piece that waits 40 s before its first note
    theirs.mkdir()
    late = Events(np.array([40, 44]), np.array([40.0, 41.0]), np.array([0.5, 0.5]), np.array([0.6, 0.6]), 41.5)
    write_events(late, theirs / "late.mid")
    shutil.copy(generated / "sample_0.mid", theirs / "sample_0.mid")
    notes = evaluate_generated(theirs, corpus, tmp_path / "out", repeats=1)["notes"]
    said = [note for note in notes if "hold no note" in note]
    assert len(said) == 1 and said[0].startswith("2 of the 3 generated excerpts of 16 s hold no note") and \
        "in 1 file: late.mid)" in said[0]
    assert not any("hold no note" in note for note in evaluate_generated(generated, corpus, tmp_path / "mine")["notes"])


def test_one_file_that_holds_most_excerpts_is_said_to_leave_the_classifiers_little_to_learn_from(corpus, generated,
                                                                                               tmp_path):
    """Another system's one long file beside a short one: the folds keep each file whole, so the model that tests the
    long file's excerpts learnt the generated side from the short file's one excerpt, and the logistic read 0.500
    ('cannot tell it from real') for random notes the trees told at 0.974. Such a folder is now said to be so."""
    from conftest import random_performance

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    shutil.copy(generated / "sample_0.mid", theirs / "short.mid")
    write_events(random_performance(np.random.default_rng(3), 16.0 * 6), theirs / "long.mid")  # 5–6 excerpts
    report = evaluate_generated(theirs, corpus, tmp_path / "out", repeats=1)
    said = [note for note in report["notes"] if "generated excerpts: the folds keep each file whole" in note]
    held, total = map(int, re.match(r"long\.mid holds (\d+) of the (\d+) generated excerpts", said[0]).groups())
    assert len(said) == 1 and total == held + 1 and held >= 4
    assert not any("folds keep each file whole, so" in note for note in report["notes"] if note not in said)
    evenly = tmp_path / "evenly"  # the two fixtures' files, one excerpt each: nothing said
    evenly.mkdir()
    for name in ("sample_0.mid", "sample_1.mid"):
        shutil.copy(generated / name, evenly / name)
    assert not any("generated excerpts: the folds" in note for note in evaluate_generated(evenly, corpus,
                                                                                          tmp_path / "e")["notes"])


def test_linked_audio_of_any_file_name_is_found_where_the_page_points(report, tmp_path):
    """--link-audio: each <audio> src is a URL relative to report.html; a WAV named with '#' (or '%20') was written
    as it is, so that a browser looked for 'audio/take ' (the rest read as a fragment) and found nothing."""
    from urllib.parse import unquote, urljoin, urlparse

    said = copy.deepcopy(report[0])
    out = tmp_path / "report"
    names = ["take #1.wav", "50%20off.wav", "Étude ß.wav", "plain.wav"]
    for name in names:
        (out / "audio").mkdir(parents=True, exist_ok=True)
        (out / "audio" / name).write_bytes(b"RIFF")
    said.update(link_audio=True, out_dir=str(out),
                samples=[{"file": name, "roll": said["samples"][0]["roll"], "audio": str(out / "audio" / name),
                          "audio_note": None} for name in names])
    page = report_html.render_html(said)
    sources = [html_unescape(src) for src in re.findall(r"<audio controls src='([^']*)'>", page)]
    assert len(sources) == len(names)
    for source, name in zip(sources, names):
        found = urlparse(urljoin((out / "report.html").as_uri(), source))
        assert not found.fragment and Path(unquote(found.path)) == out / "audio" / name, source


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


def test_plot_overwrite_replaces_only_rolls_and_audio_it_wrote_never_a_file_of_the_users_beside(tmp_path, capsys):
    """take.wav beside take.mid is how a recorder or sequencer saves a take: `tsm plot take.mid --wav --overwrite`
    would have replaced the pianist's recording with FluidSynth's (and take.png, a photo of the score, with a roll).
    Each roll and WAV this tool writes carries its mark (made_here); --overwrite replaces those, and a file named by -o,
    never another; the mark is read from a PNG's Software text and a WAV's LIST INFO chunk, which WAV readers pass."""
    import struct
    import wave

    from timestepmusic.evaluate.made_here import made_here, mark_wav

    midi = write_events(hand_made()[0], tmp_path / "take.mid")
    assert main(["plot", str(midi)]) == 0 and made_here(tmp_path / "take.png")
    assert main(["plot", str(midi), "--overwrite"]) == 0  # its own roll: replaced
    photo = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + bytes(13) + bytes(4)  # a PNG of the user's
    (tmp_path / "take.png").write_bytes(photo)
    assert not made_here(tmp_path / "take.png")
    capsys.readouterr()
    assert main(["plot", str(midi), "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not a roll this tool wrote" in err and "never replaced" in err
    assert (tmp_path / "take.png").read_bytes() == photo
    recording = tmp_path / "song.wav"  # the recording beside song.mid, and the roll of an earlier plot
    fmt = struct.pack("<HHIIHH", 1, 1, 22050, 44100, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 8) + bytes(8)
    recording.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    song = write_events(hand_made()[0], tmp_path / "song.mid")
    assert main(["plot", str(song)]) == 0
    assert main(["plot", str(song), "--wav", "--overwrite"]) == 2  # (with or without FluidSynth: before it is run)
    assert "song.wav is there already and is not audio this tool wrote" in capsys.readouterr().err
    assert recording.read_bytes()[4:] == struct.pack("<I", len(body)) + body
    mark_wav(recording)  # as render_wav marks what FluidSynth wrote
    assert made_here(recording)
    with wave.open(str(recording)) as read:  # still a WAV a player reads
        assert read.getnframes() == 4 and read.getframerate() == 22050
    (tmp_path / "mine.png").write_bytes(photo)
    assert main(["plot", str(song), "-o", str(tmp_path / "mine.png"), "--overwrite"]) == 0  # named by -o: as asked
