"""The benchmark scripts a researcher runs to compare models (bench/compare_generators.py, bench/piece_drift.py): bad
input is one line, an earlier comparison is not mixed into a new one, and a real row holds only excerpts as long as
asked; bench/endings.py's final onsets that are not a held chord; bench/continuation.py's register ends."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from timestepmusic.corpus import Corpus
from timestepmusic.midi import DAMPER_ID, Events
from timestepmusic.midi_write import write_events

from conftest import random_performance

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import arms  # noqa: E402
import compare_generators  # noqa: E402
import continuation  # noqa: E402
import decode_settings  # noqa: E402
import descriptor_spread  # noqa: E402
import encode  # noqa: E402
import end_calibration  # noqa: E402
import endings  # noqa: E402
import free_running  # noqa: E402
import key_calibration  # noqa: E402
import pedal_runs  # noqa: E402
import piece_drift  # noqa: E402
import piece_lengths  # noqa: E402
import register_calibration  # noqa: E402
import sampler_turns  # noqa: E402
import silences  # noqa: E402
import train_ae  # noqa: E402
import train_ae_speed  # noqa: E402
import train_gan  # noqa: E402


def run_script(module, monkeypatch, *argv: str) -> None:
    monkeypatch.setattr(sys, "argv", [f"{module.__name__}.py", *argv])
    module.main()


def test_a_model_named_wrong_or_none_is_one_line_not_a_traceback(tiny_corpus, tmp_path, monkeypatch):
    for argv, said in ((["--model", "x=no-such-model"], "error: --model no-such-model: no such folder"),
                       ([], "error: no --model given"),
                       (["--model", "a=default", "--model", "a=events-v9"], "error: --model: the name a is given twice"),
                       (["--model", "x=default", "--seconds", "0"], "error: --seconds must be > 0")):
        with pytest.raises(SystemExit, match=said):
            run_script(compare_generators, monkeypatch, "--corpus", str(tiny_corpus), "--out", str(tmp_path / "c"),
                       *argv)
    run = tmp_path / "mine" / "last"  # a run of an arm of one's own, not imported: said before the default draws
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"kind": "gan", "arch": "someone-elses", **dict.fromkeys(
        ("config", "normaliser", "autoencoder", "weights"), {})}))
    with pytest.raises(SystemExit, match="error: unknown architecture 'someone-elses'; known: .*TSM_ARMS"):
        run_script(compare_generators, monkeypatch, "--corpus", str(tiny_corpus), "--out", str(tmp_path / "c"),
                   "--model", "def=default", "--model", f"mine={run.parent}")
    assert not (tmp_path / "c").exists()
    assert compare_generators.model_specs(["default", "mine=runs/mine", "runs/other/"]) == [
        ("default", "default"), ("mine", "runs/mine"), ("other", "runs/other/")]


def test_an_earlier_comparison_is_refused_and_its_pieces_not_evaluated_with_the_new_ones(tiny_corpus, tmp_path,
                                                                                          monkeypatch):
    out = tmp_path / "c"
    rng = np.random.default_rng(0)
    for k in range(5):  # an earlier run's pieces (--samples 5), under the name this run gives
        write_events(random_performance(rng, 4.0), out / "conv" / "midi" / f"sample_{k:03d}.mid")
    argv = ["--corpus", str(tiny_corpus), "--split", "train", "--out", str(out), "--model", "conv=conv-v1",
            "--samples", "2", "--seconds", "4", "--no-ae-row"]
    with pytest.raises(SystemExit, match=r"sample_000.mid: an earlier comparison's file \(of 5\); give another --out, "
                                         "or --overwrite"):
        run_script(compare_generators, monkeypatch, *argv)
    assert len(list((out / "conv" / "midi").glob("*.mid"))) == 5  # (nothing drawn, nothing removed)
    run_script(compare_generators, monkeypatch, *argv, "--overwrite")
    report = (out / "conv" / "report" / "report.json").read_text()
    assert '"read": 2' in report  # before: 2 new pieces and 3 of the earlier run's, evaluated as one set
    assert len(list((out / "conv" / "midi").glob("*.mid"))) == 2


def test_the_autoencoder_decode_row_is_each_autoencoders_named_by_its_models(tiny_corpus, tmp_path, monkeypatch,
                                                                           capsys):
    """Models over different autoencoders (a run over one's own autoencoder beside the default) were printed one
    '*autoencoder decode*' row, the first model's, unnamed, as if it were every model's: one row per autoencoder now,
    named by the models over it; rows the models share are printed once, and a figure not measured is '—', not nan."""
    run_script(compare_generators, monkeypatch, "--corpus", str(tiny_corpus), "--split", "train", "--out",
               str(tmp_path / "c"), "--model", "conv=conv-v1", "--model", "ev=events-v9", "--model", "ev2=events-v9",
               "--samples", "2", "--seconds", "4")
    printed = capsys.readouterr().out
    rows = [line.split(" | ")[0].removeprefix("| ") for line in printed.splitlines() if line.startswith("| *")]
    assert sorted(row for row in rows if "autoencoder decode" in row) == [
        "*autoencoder decode (conv)*", "*autoencoder decode (ev, ev2)*"]
    assert rows.count("*shuffled chunks*") == 1 and rows.count("*real A vs real B*") == 1
    assert "nan" not in printed and "| — |" in printed  # (trees: too few excerpts for them)
    comparison = json.loads((tmp_path / "c" / "comparison.json").read_text())
    assert [f"*{name}*" for name, _ in compare_generators.fixed_rows(comparison)] == rows and len(comparison) == 3


def test_piece_drift_real_row_leaves_out_performances_shorter_than_the_excerpts(tiny_corpus):
    corpus = Corpus.open(tiny_corpus)
    lengths = sorted(corpus.tracks[t]["duration_s"] for t in corpus.tracks_in("train"))  # about 12 s each
    seconds = (lengths[0] + lengths[1]) / 2  # the shortest take is shorter, the others are not
    _, _, count = piece_drift.real_eighths(str(tiny_corpus), "train", seconds)
    assert count == len(lengths) - 1  # before: every take, the shortest silent at its end
    with pytest.raises(ValueError, match="no real excerpt of 60 s in the train split: every performance in it is shorter"):
        piece_drift.real_eighths(str(tiny_corpus), "train", 60.0)


def test_piece_drift_bad_input_is_one_line(tiny_corpus, monkeypatch):
    for argv, said in ((["--model", "no-such-model"], "error: --model no-such-model: no such folder"),
                       (["--split", "tset"], "error: unknown split 'tset'"),
                       (["--settings", "ar.bogus=1"], r"error: --set ar.bogus=1: ar.bogus is not a setting"),
                       (["--pieces", "0"], "error: --pieces must be ≥ 1")):
        with pytest.raises(SystemExit, match=said):
            run_script(piece_drift, monkeypatch, "--corpus", str(tiny_corpus), "--seconds", "4", *argv)


def ending_of(final_s: list[float], final_velocity: list[int], at_s: float = 7.0, damper_s: float = 0.0
              ) -> tuple[float, ...]:
    """bench/endings.py's measures of 12 notes at velocity 60, 0.5 s apart (0–5.5 s), then a final onset at `at_s` of
    notes held `final_s` at `final_velocity` (with `damper_s`, the damper down that long from 0.1 s before it)."""
    k = len(final_s)
    events = Events(np.full(12 + k, 60), np.r_[np.arange(12) * 0.5, np.full(k, at_s)], np.r_[np.full(12, 0.3), final_s],
                    np.r_[np.full(12, 60), final_velocity])
    if damper_s:
        events = Events.concatenate([events, Events(np.array([DAMPER_ID]), np.array([at_s - 0.1]), np.array([damper_s]),
                                                    np.array([100]))])
    return endings.ending(events)


def test_endings_count_a_final_onset_short_hurried_soft_or_short_and_unaccented():
    rows = np.array([ending_of([2.0, 0.1], [30, 70]),  # held (2 s), loud: a held chord
                     ending_of([0.06], [8], at_s=5.7),  # 0.06 s at velocity 8, 0.2 s after the note before: short,
                     # hurried, nearly silent, unaccented
                     ending_of([0.2, 0.3], [100, 90], damper_s=2.0),  # a loud staccato chord after a breath, the damper
                     # ringing it 1.9 s: short, not unaccented, not silent within 1 s
                     ending_of([0.9, 3.0], [25, 29])])  # held, but nearly silent (29 < 0.5 × 60)
    assert rows[:, endings.MEASURES.index("loud / median")].tolist() == pytest.approx([70 / 60, 8 / 60, 100 / 60, 29 / 60])
    assert rows[:, endings.MEASURES.index("loud / recent")].tolist() == pytest.approx([70 / 60, 8 / 60, 100 / 60, 29 / 60])
    assert rows[:, endings.MEASURES.index("sounds s")].tolist() == pytest.approx([2.0, 0.06, 1.9, 3.0])
    assert endings.shares(rows) == pytest.approx([50.0, 25.0, 25.0, 25.0, 50.0, 50.0, 25.0])
    assert np.isnan(endings.loud_over_recent(np.array([60.0, 80.0]), np.array([0.0, 20.0]), np.array([False, True]), 10.0))


def test_endings_bad_input_is_one_line(tiny_corpus, monkeypatch, capsys):
    for argv, said in ((["--prompt-seconds", "20"], "error: --prompt-seconds needs --ending-seconds"),
                       (["--ending-seconds", "20", "--prompt-seconds", "0"], "error: --prompt-seconds needs"),
                       (["--ending-seconds", "700"], "error: --ending-seconds must be in (0, --max-seconds 600]")):
        with pytest.raises(SystemExit):
            run_script(endings, monkeypatch, "--corpus", str(tiny_corpus), *argv)
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err


def test_pedal_runs_soft_pair_is_refused_in_one_line_before_the_corpus_is_read(tmp_path, monkeypatch, capsys):
    """--soft 0.3 (no SHORTEST) was a traceback of unpacking, after the corpus's excerpts had been read (minutes)."""
    monkeypatch.setattr("timestepmusic.corpus.Corpus.open", lambda *a, **k: pytest.fail("the corpus was read"))
    for given in ("0.3", "0.3,x", "0.3,0.2,1", "-1,0.2", "0.3,inf"):
        with pytest.raises(SystemExit):
            run_script(pedal_runs, monkeypatch, "--corpus", str(tmp_path), str(tmp_path), f"--soft={given}")
        err = capsys.readouterr().err
        assert f"--soft: {given!r}: give JOIN,SHORTEST in seconds" in err and "Traceback" not in err
    assert pedal_runs.soft_pair("0.3,0.2") == (0.3, 0.2, False) and pedal_runs.soft_pair("0,1") == (0.0, 1.0, False)
    assert pedal_runs.soft_pair("0.3,0.2,quiet") == (0.3, 0.2, True)


def test_pedal_runs_quieter_under_is_the_velocity_under_the_runs_less_that_of_the_rest():
    onset, velocity = np.array([0.5, 1.5, 2.5, 3.5]), np.array([40.0, 50.0, 80.0, 90.0])
    assert pedal_runs.quieter_under(onset, velocity, np.array([1.0]), np.array([2.0]), 1) == pytest.approx(50 - 70)
    assert pedal_runs.quieter_under(onset, velocity, np.array([0.0, 1.0]), np.array([1.0, 2.0]), 1) == -40
    assert pedal_runs.quieter_under(onset, velocity, np.array([1.0]), np.array([2.0]), 2) is None  # one note under
    # --notes 0 with no run (an excerpt that never presses the pedal) was NaN, and so the column's mean
    assert pedal_runs.quieter_under(onset, velocity, np.zeros(0), np.zeros(0), 0) is None
    assert pedal_runs.quieter_under(onset, velocity, np.array([1.0]), np.array([2.0]), 0) == pytest.approx(50 - 70)


def test_sampler_turns_loads_a_revisions_event_sampler_and_refuses_an_unknown_one_in_one_line(tmp_path):
    from timestepmusic.sequence.event_sampler import EventSampler

    theirs = sampler_turns.sampler_at("HEAD", tmp_path)
    assert theirs.__name__ == "EventSampler" and theirs is not EventSampler
    assert "class EventSampler" in (tmp_path / "event_sampler_rev.py").read_text()  # (HEAD's, as git holds it)
    # its parts (the draws, setup, tables) are the revision's too, not this checkout's: each reads the others swapped
    assert theirs.__mro__[1].__module__ == "timestepmusic.sequence.sampler_tables_rev"
    assert "from .sampler_draws_rev import" in (tmp_path / "event_sampler_rev.py").read_text()
    assert "from .sampler_draws_rev import" in (tmp_path / "sampler_setup_rev.py").read_text()
    whole = tmp_path / "whole"  # a revision before the parts (9ab8750): its event_sampler.py holds the whole sampler
    whole.mkdir()
    if sampler_turns.shown_at("9ab8750~1", sampler_turns.SAMPLER).returncode == 0:  # (a clone of its whole history)
        assert sampler_turns.sampler_at("9ab8750~1", whole).__name__ == "EventSampler"
        assert [p.name for p in whole.iterdir()] == ["event_sampler_rev.py"]
    with pytest.raises(SystemExit, match="--against no-such-revision: no src/timestepmusic/sequence/event_sampler.py"):
        sampler_turns.sampler_at("no-such-revision", tmp_path)


def test_continuation_register_is_the_pitches_low_and_high_percentiles_over_the_first_seconds():
    keys = np.arange(10, 20)  # MIDI 31-40, one note a second from 0 s, and a damper press among them
    bass_then_high = Events(np.r_[keys, DAMPER_ID], np.r_[np.arange(10.0), 0.5], np.full(11, 0.5), np.full(11, 64))
    silent = Events(np.array([DAMPER_ID]), np.array([0.0]), np.array([1.0]), np.array([64]))
    late = Events(np.array([40]), np.array([9.0]), np.array([0.5]), np.array([64]))  # struck after the first 8 s
    ends = continuation.register([bass_then_high, silent, late], 8.0)  # [3, 2]
    assert ends[0].tolist() == pytest.approx(np.percentile(np.arange(31, 39), continuation.REGISTER_PERCENTILES))
    assert np.isnan(ends[1:]).all()  # no note (a pedal is not one), or none in the first 8 s
    assert continuation.register([bass_then_high], 20.0)[0].tolist() == pytest.approx([31.9, 39.1])


def test_continuation_register_rows_average_the_chosen_prompts_signed_and_unsigned():
    shift = np.array([[-2.0, 4.0, 1.0, np.nan], [4.0, -2.0, 3.0, 1.0], [9.0, 9.0, 9.0, 9.0]])  # [3 prompts, 4]
    truth = np.array([[40.0, 70.0, 41.0, 72.0], [50.0, 80.0, 51.0, 82.0], [0.0, 0.0, 0.0, 0.0]])  # [3, 4]
    continued, played_next = continuation.register_rows([("continued", shift)], truth, np.array([True, True, False]))
    assert continued == ["continued", "+1.00", "+1.00", "+2.00", "+1.00", "3.00", "3.00", "2.00", "1.00"]
    assert played_next[1:] == ["45.0", "75.0", "46.0", "77.0", "", "", "", ""]


def test_continuation_bad_opening_seconds_is_one_line(tiny_corpus, monkeypatch):
    for opening in ("0", "20"):
        with pytest.raises(SystemExit) as refused:
            run_script(continuation, monkeypatch, "--corpus", str(tiny_corpus), "--seconds", "16", "--opening-seconds",
                       opening)
        assert str(refused.value) == f"--opening-seconds {opening} must be above 0 and at most --seconds 16"


def test_continuation_counts_pedal_events_per_second_beside_the_other_attributes():
    keys = np.arange(30, 46)  # a note every 0.5 s over 8 s
    onsets = np.arange(16) * 0.5
    steady = Events(np.r_[keys, DAMPER_ID, DAMPER_ID], np.r_[onsets, 0.0, 4.0], np.r_[np.full(16, 0.4), 3.9, 3.9],
                    np.full(18, 90))  # the damper changed twice in 8 s
    flutter = Events(np.r_[keys, np.full(8, DAMPER_ID)], np.r_[onsets, np.arange(8.0)], np.r_[np.full(16, 0.4),
                     np.full(8, 0.9)], np.full(24, 90))  # … eight times
    described = continuation.attributes([steady, flutter], 8.0)  # [2, SCALARS + 12]
    column = continuation.ATTRIBUTES.index("pedal changes")
    assert described[:, column].tolist() == pytest.approx([2 / 8, 8 / 8])
    assert continuation.ATTRIBUTES[-1] == "key" and column < continuation.SCALARS  # compared by its difference


@pytest.mark.parametrize("module, argv", [(key_calibration, ("--excerpts", "3", "--split", "test")),
                                          (register_calibration, ("--excerpts", "3", "--split", "test")),
                                          (free_running, ()), (decode_settings, ()), (encode, ()), (train_gan, ()),
                                          (arms, ()), (end_calibration, ()), (piece_lengths, ()), (silences, ()),
                                          (train_ae, ()), (train_ae_speed, ())], ids=lambda x: getattr(x, "__name__", ""))
def test_a_script_without_its_data_says_skipped_and_leaves_no_folder(module, argv, tmp_path, monkeypatch, capsys):
    """The scripts that open their corpus through common.corpus_or_skip or scratch_corpus (and key_calibration.py's and
    register_calibration.py's flags, common.add_head_calibration_arguments): no corpus and no ASAP folder is one line,
    and the temporary folder is removed."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    run_script(module, monkeypatch, "--data", str(tmp_path / "absent"), *argv)
    assert capsys.readouterr().out.startswith(f"skipped: {tmp_path / 'absent'} is absent; give --corpus CORPUS")
    assert list(tmp_path.iterdir()) == []


def test_descriptor_spread_row_counts_the_tails_and_a_wrong_descriptor_or_folder_is_one_line(tiny_corpus, tmp_path,
                                                                                              monkeypatch, capsys):
    row = descriptor_spread.spread_row("x", np.array([10.0, 20.0, 30.0, 40.0]), 15.0, 35.0)
    assert row[:4] == ["x", "4", "25.000", f"{np.std([10, 20, 30, 40]):.3f}"] and row[5:] == ["0.250", "0.250"]
    for argv, said in ((["--descriptor", "no_such", str(tmp_path)], "--descriptor no_such: not one of"),
                       ([str(tmp_path)], f"{tmp_path}: no .mid files")):
        with pytest.raises(SystemExit):
            run_script(descriptor_spread, monkeypatch, "--corpus", str(tiny_corpus), *argv)
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err


def test_descriptor_spread_row_leaves_out_the_excerpts_where_a_descriptor_is_undefined():
    """(the time between onsets of an excerpt with fewer than two: NaN, which made the row's mean and quantiles NaN)"""
    row = descriptor_spread.spread_row("ioi_std", np.array([0.1, np.nan, 0.3, np.nan]), 0.15, 0.25)
    assert row[:4] == ["ioi_std", "2", "0.200", "0.100"] and row[5:] == ["0.500", "0.500"]


def test_descriptor_spread_prints_the_real_and_each_folders_row(tiny_corpus, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "drawn"
    folder.mkdir()
    for i in range(2):
        write_events(random_performance(np.random.default_rng(i), seconds=20.0), folder / f"p{i}.mid")
    run_script(descriptor_spread, monkeypatch, "--corpus", str(tiny_corpus), "--split", "train", "--seconds", "8",
               str(folder))
    out = capsys.readouterr().out
    assert "real train" in out and str(folder) in out and "pitch_range, 8 s excerpts" in out


def test_a_generated_file_that_cannot_be_read_is_one_line_and_skipped(tiny_corpus, tmp_path, monkeypatch, capsys):
    """(bench/common.read_pieces: descriptor_spread, pedal_runs, descriptor_tells … stopped with a traceback)"""
    folder = tmp_path / "drawn"
    folder.mkdir()
    write_events(random_performance(np.random.default_rng(0), seconds=20.0), folder / "good.mid")
    (folder / "bad.mid").write_text("not MIDI")
    run_script(descriptor_spread, monkeypatch, "--corpus", str(tiny_corpus), "--split", "train", "--seconds", "8",
               str(folder))
    captured = capsys.readouterr()
    assert f"{folder / 'bad.mid'}: not a MIDI file" in captured.err and "skipped" in captured.err
    assert "Traceback" not in captured.err and str(folder) in captured.out
    (folder / "good.mid").unlink()
    for script in (descriptor_spread, pedal_runs):
        with pytest.raises(SystemExit, match="none of the 1 generated files could be read"):
            run_script(script, monkeypatch, "--corpus", str(tiny_corpus), "--split", "train", "--seconds", "8",
                       str(folder))
