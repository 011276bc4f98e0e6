"""A report of `tsm evaluate` written among the generated files (evaluate OUT -o OUT) or elsewhere (-o REPORTS, found
through the record evaluate leaves in OUT), whose files a later `tsm generate --overwrite -o OUT` replaces: marked out
of date and said in one line, never removed; a report of other files is left as it is. Tiny pieces of the shipped
default model, against the tiny corpus."""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

from timestepmusic.cli import main
from timestepmusic.evaluate import stale
from timestepmusic.evaluate.report_html import render_html
from timestepmusic.evaluate.stale import RECORD, STALE_START
from timestepmusic.midi_write import write_events

from conftest import random_performance

GENERATE = ["generate", "-n", "2", "--seconds", "2", "-q"]
FLAGS = "--split train --seconds 2 --repeats 1"  # evaluate's below, as the command a stale report names gives them


def evaluate(out, corpus, report_dir, *more) -> int:
    return main(["evaluate", str(out), "--real", str(corpus), "--split", "train", "-o", str(report_dir), "--seconds",
                 "2", "--repeats", "1", *more])


@pytest.fixture
def evaluated(tiny_corpus, tmp_path):
    """A folder of two generated pieces (seed 0) and the report on them written into the same folder."""
    out = tmp_path / "out"
    assert main([*GENERATE, "-o", str(out)]) == 0
    assert main(["evaluate", str(out), "--real", str(tiny_corpus), "--split", "train", "-o", str(out), "--seconds", "2",
                 "--repeats", "1"]) == 0
    return out


def stale_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "marked out of date" in r.getMessage()]


def marked_out_of_date(report_dir: Path, again: str, caplog) -> tuple[dict, str]:
    """The report in `report_dir` as an overwrite of both its files leaves it: marked out of date in report.json
    (what was replaced, the command for a new one), at the top of its page, and in the one line said → (report.json,
    the page)."""
    report = json.loads((report_dir / "report.json").read_text())
    assert report["stale"]["replaced"] == ["sample_0_000.mid", "sample_0_001.mid"] and report["stale"]["again"] == again
    page = (report_dir / "report.html").read_text()
    assert page.index("<body>" + STALE_START) < page.index("<h1>") and again in page  # the first thing a reader sees
    assert stale_lines(caplog) == [f"--overwrite: {report_dir / 'report.html'} describes 2 of the files this run "
                                   f"replaces (sample_0_000.mid, sample_0_001.mid): marked out of date, kept; for a "
                                   f"report of the new ones: {again}"]
    return report, page


def test_overwriting_the_files_a_report_describes_marks_it_out_of_date(evaluated, tiny_corpus, caplog, capsys):
    out = evaluated
    figures = sorted(p.name for p in (out / "figures").iterdir())
    before = json.loads((out / "report.json").read_text())
    assert sorted(before["files"]["described"]) == ["sample_0_000.mid", "sample_0_001.mid"]
    assert "stale" not in before and STALE_START not in (out / "report.html").read_text()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.8"]) == 0
    report, page = marked_out_of_date(out, f"tsm evaluate {out} --real {tiny_corpus} {FLAGS} -o {out} --overwrite",
                                      caplog)
    assert "Out of date" in page and page.count(STALE_START) == 1
    assert render_html(report).startswith(page[:page.index("<h1>")])  # drawn again from report.json: the same notice
    assert sorted(p.name for p in (out / "figures").iterdir()) == figures  # nothing of the report removed
    assert not list(out.glob(".*.tmp"))
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # its files already replaced: said once, not at every run after
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.7"]) == 0
    assert stale_lines(caplog) == [] and page == (out / "report.html").read_text()
    assert main(["evaluate", str(out), "--real", str(tiny_corpus), "--split", "train", "-o", str(out), "--seconds", "2",
                 "--repeats", "1"]) == 2  # an earlier report, out of date or not, is still replaced only when asked
    assert "--overwrite" in capsys.readouterr().err
    assert main(["evaluate", str(out), "--real", str(tiny_corpus), "--split", "train", "-o", str(out), "--seconds", "2",
                 "--repeats", "1", "--overwrite"]) == 0
    assert "stale" not in json.loads((out / "report.json").read_text())
    assert STALE_START not in (out / "report.html").read_text()


def test_files_written_again_byte_for_byte_leave_their_report_as_it_is(evaluated, caplog):
    """The same command again with --overwrite (the README's `--piece 3 --wav --overwrite`: a piece written again,
    now with its audio) writes the same bytes: the report still describes the files there, and is not marked out of
    date; where one of them is drawn otherwise, it is."""
    out = evaluated
    page, saved = (out / "report.html").read_text(), (out / "report.json").read_text()
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--overwrite"]) == 0
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--piece", "1", "--png"]) == 0
    assert stale_lines(caplog) == [] and (out / "report.html").read_text() == page
    assert (out / "report.json").read_text() == saved
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.8"]) == 0
    assert json.loads((out / "report.json").read_text())["stale"]["replaced"] == ["sample_0_000.mid", "sample_0_001.mid"]
    assert len(stale_lines(caplog)) == 1


def test_a_report_of_other_files_is_left_as_it_is(evaluated, tiny_corpus, tmp_path, caplog):
    out = evaluated
    assert main([*GENERATE, "-o", str(out), "--seed", "1"]) == 0  # drawn after the report: not described by it
    page, saved = (out / "report.html").read_text(), (out / "report.json").read_text()
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--seed", "1", "--overwrite", "--temperature", "0.8"]) == 0
    assert stale_lines(caplog) == [] and (out / "report.html").read_text() == page
    assert (out / "report.json").read_text() == saved
    elsewhere = tmp_path / "report"  # a report of OUT's files written into another folder: not OUT's to mark
    assert main(["evaluate", str(out), "--real", str(tiny_corpus), "--split", "train", "-o", str(elsewhere),
                 "--seconds", "2", "--repeats", "1"]) == 0
    saved = (elsewhere / "report.json").read_text()
    assert main([*GENERATE, "-o", str(elsewhere), "--overwrite"]) == 0
    assert (elsewhere / "report.json").read_text() == saved and stale_lines(caplog) == []


def test_a_report_from_before_it_named_its_files_is_marked_too(evaluated, caplog):
    """A report.json written before files.described: it read every MIDI file of its folder, so the earlier run's
    files replaced there are among them."""
    out = evaluated
    report = json.loads((out / "report.json").read_text())
    del report["files"]["described"]
    (out / "report.json").write_text(json.dumps(report))
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.8"]) == 0
    assert len(stale_lines(caplog)) == 1 and "stale" in json.loads((out / "report.json").read_text())


def test_the_command_a_stale_report_names_writes_the_same_kind_of_report_again(evaluated, tiny_corpus, caplog):
    """It named the corpus alone ('tsm evaluate OUT --real CORPUS -o OUT --overwrite'): run, it replaced a report of
    2 s excerpts of the train split with one of 16 s excerpts of the test split. It gives the flags the report was
    written with (report.json's "flags"); a report written before it kept them, the split, length and seed it records."""
    out = evaluated
    assert json.loads((out / "report.json").read_text())["flags"] == FLAGS.split()
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.8"]) == 0
    again = json.loads((out / "report.json").read_text())["stale"]["again"]
    assert main(shlex.split(again)[1:]) == 0
    report = json.loads((out / "report.json").read_text())
    assert "stale" not in report and (report["split"], report["seconds"], report["flags"]) == ("train", 2.0, FLAGS.split())
    assert {row["repeats"] for row in report["classifier"].values()} == {1}
    del report["flags"]  # a report from before
    (out / "report.json").write_text(json.dumps(report))
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.7"]) == 0
    assert json.loads((out / "report.json").read_text())["stale"]["again"] == (
        f"tsm evaluate {out} --real {tiny_corpus} --split train --train-split train --seconds 2 --seed 0 -o {out} "
        "--overwrite")


def test_the_command_of_a_report_from_before_folds_by_keeps_its_folds_by_performance():
    """Reports written before tsm evaluate --folds-by (no "folds_by" in report.json) were made with the folds and the
    real halves by performance; the command a stale one names gave their flags alone, which now run by piece (the
    default): another kind of report. It says --folds-by performance; a report that records its choice, as it is."""
    before = {"flags": ["--repeats", "1"], "split": "test"}
    assert stale._flags_of(before) == ["--repeats", "1", "--folds-by", "performance"]
    assert stale._flags_of({"split": "test", "seed": 3}) == ["--split", "test", "--seed", "3", "--folds-by", "performance"]
    assert stale._flags_of(before | {"folds_by": "piece"}) == ["--repeats", "1"]
    chosen = {"flags": ["--folds-by", "performance"], "folds_by": "performance"}
    assert stale._flags_of(chosen) == ["--folds-by", "performance"]  # (not twice)


def test_the_command_a_stale_report_names_runs_from_any_folder(tiny_corpus, tmp_path, monkeypatch, caplog):
    """A new user's trial: report.json kept the paths evaluate was given as typed (a relative corpus, --run), and the
    command a stale report named the folders as generate was given them, so it ran only from the folder each ran in:
    every path of it is absolute, and it writes the report again from another folder."""
    work, elsewhere = tmp_path / "work", tmp_path / "else" / "where"  # (not as deep: a relative path reads otherwise)
    (work / "runs" / "gan").mkdir(parents=True)
    (work / "runs" / "gan" / "metrics.jsonl").write_text("")
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(work)
    assert main([*GENERATE, "-o", "out"]) == 0
    assert main(["evaluate", "out", "--real", os.path.relpath(tiny_corpus), "--split", "train", "-o", "out", "--seconds",
                 "2", "--repeats", "1", "--run", "runs/gan"]) == 0
    report = json.loads((work / "out" / "report.json").read_text())
    assert report["corpus"] == str(tiny_corpus) and report["flags"] == [*FLAGS.split(), "--run", str(work / "runs/gan")]
    monkeypatch.chdir(elsewhere)
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", "../../work/out", "--overwrite", "--temperature", "0.8"]) == 0
    again = json.loads((work / "out" / "report.json").read_text())["stale"]["again"]
    assert again == shlex.join(["tsm", "evaluate", str(work / "out"), "--real", str(tiny_corpus), *FLAGS.split(), "--run",
                                str(work / "runs/gan"), "-o", str(work / "out"), "--overwrite"]), again
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(again)[1:]) == 0
    assert "stale" not in json.loads((work / "out" / "report.json").read_text())


def test_a_report_html_not_of_this_tool_is_not_touched(evaluated, caplog):
    out = evaluated
    (out / "report.html").write_text("<html><body>my own notes</body></html>")
    saved = (out / "report.json").read_text()
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.8"]) == 0
    assert (out / "report.html").read_text() == "<html><body>my own notes</body></html>"
    assert (out / "report.json").read_text() == saved and stale_lines(caplog) == []


def test_a_report_written_elsewhere_is_found_through_the_record_and_marked(tiny_corpus, tmp_path, caplog, capsys):
    out, reports = tmp_path / "out", tmp_path / "reports"
    assert main([*GENERATE, "-o", str(out)]) == 0
    assert evaluate(out, tiny_corpus, reports) == 0
    assert json.loads((out / RECORD).read_text()) == {"reports": [str(reports.resolve())]}
    assert not list(out.glob(".*.tmp")) and not (out / "report.json").exists()
    capsys.readouterr()
    assert evaluate(out, tiny_corpus, reports, "--overwrite") == 0  # the record is not one of the generated files
    assert capsys.readouterr().out.startswith("2 file(s),")
    assert json.loads((out / RECORD).read_text()) == {"reports": [str(reports.resolve())]}  # (not doubled)
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--seed", "1"]) == 0
    assert not [r for r in caplog.records if "not drawn by this request" in r.getMessage()]  # (generate's listing)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.8"]) == 0
    marked_out_of_date(reports, f"tsm evaluate {out} --real {tiny_corpus} {FLAGS} -o {reports.resolve()} --overwrite",
                       caplog)


def test_a_folder_of_music_not_generated_here_is_not_written_into(tiny_corpus, tmp_path):
    """No file of it is one generate replaces, so no record is left there (a dataset, a folder of the user's)."""
    mine = tmp_path / "mine"
    rng = np.random.default_rng(0)
    for k in range(2):
        write_events(random_performance(rng, 3.0), mine / f"take_{k}.mid")
    assert evaluate(mine, tiny_corpus, tmp_path / "reports") == 0
    assert sorted(p.name for p in mine.iterdir()) == ["take_0.mid", "take_1.mid"]


def test_a_recorded_report_of_other_files_now_is_left_as_it_is(evaluated, tiny_corpus, tmp_path, caplog):
    """The folder a report of OUT was recorded in, written again since with a report of another folder's files: not
    marked when OUT's files are replaced (its files are named by SHA-1)."""
    out, other, reports = evaluated, tmp_path / "other", tmp_path / "reports"
    assert evaluate(out, tiny_corpus, reports) == 0
    assert main([*GENERATE, "-o", str(other), "--temperature", "0.9"]) == 0  # (the same names, other bytes)
    assert evaluate(other, tiny_corpus, reports, "--overwrite") == 0
    saved = (reports / "report.json").read_text()
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.8"]) == 0
    assert (reports / "report.json").read_text() == saved
    assert [line.split(" describes")[0] for line in stale_lines(caplog)] == [f"--overwrite: {out / 'report.html'}"]


def test_a_recorded_report_gone_or_unreadable_is_passed_over(tiny_corpus, tmp_path, caplog, capsys):
    out, reports = tmp_path / "out", tmp_path / "reports"
    assert main([*GENERATE, "-o", str(out)]) == 0
    assert evaluate(out, tiny_corpus, reports) == 0
    shutil.rmtree(reports)  # deleted by the user
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.8"]) == 0
    assert stale_lines(caplog) == [] and not reports.exists()  # (nothing made where it was)
    (out / RECORD).write_text(json.dumps({"reports": [str(out / "sample_0_000.mid"), "a\0b", "x" * 5000, 7,
                                                      str(tmp_path / "nowhere")]}))  # (a file, a NUL, too long a name)
    assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.7"]) == 0
    (out / RECORD).write_text("{not json")
    assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.6"]) == 0
    assert "Traceback" not in capsys.readouterr().err and stale_lines(caplog) == []
    assert evaluate(out, tiny_corpus, reports) == 0  # an unreadable record is written again, whole
    assert json.loads((out / RECORD).read_text()) == {"reports": [str(reports.resolve())]}


def test_a_record_or_a_mark_that_cannot_be_written_is_said_in_one_line(tiny_corpus, tmp_path, caplog, monkeypatch):
    out, reports = tmp_path / "out", tmp_path / "reports"
    assert main([*GENERATE, "-o", str(out)]) == 0
    assert evaluate(out, tiny_corpus, reports) == 0
    saved = (reports / "report.json").read_text()

    @contextlib.contextmanager
    def full_disk(path, suffix=""):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        yield

    monkeypatch.setattr(stale, "atomic_path", full_disk)
    with caplog.at_level(logging.WARNING):  # the report left as it was, said; the new pieces written even so
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.8"]) == 0
    assert (reports / "report.json").read_text() == saved
    said = [r.getMessage() for r in caplog.records if "cannot" in r.getMessage()]
    assert said == [f"--overwrite: {reports / 'report.html'} describes 2 of the files this run replaces (sample_0_000.mid, "
                    "sample_0_001.mid), but cannot be marked out of date (No space left on device): it describes the "
                    "earlier files"]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert evaluate(out, tiny_corpus, tmp_path / "again") == 0  # the report written, the record not: said
    said = [r.getMessage() for r in caplog.records if "cannot" in r.getMessage()]
    assert said == [f"{out}: cannot record where the report of its files is (No space left on device): tsm generate "
                    f"--overwrite there will not mark {tmp_path / 'again' / 'report.html'} out of date"]
