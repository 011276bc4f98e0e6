"""A report of `tsm evaluate` written among the generated files (evaluate OUT -o OUT), whose files a later
`tsm generate --overwrite -o OUT` replaces: marked out of date and said in one line, never removed; a report of other
files is left as it is. Tiny pieces of the shipped default model, against the tiny corpus."""
from __future__ import annotations

import json
import logging

import pytest

from timestepmusic.cli import main
from timestepmusic.evaluate.report import render_html
from timestepmusic.evaluate.stale import STALE_START

GENERATE = ["generate", "-n", "2", "--seconds", "2", "-q"]


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


def test_overwriting_the_files_a_report_describes_marks_it_out_of_date(evaluated, tiny_corpus, caplog, capsys):
    out = evaluated
    figures = sorted(p.name for p in (out / "figures").iterdir())
    before = json.loads((out / "report.json").read_text())
    assert sorted(before["files"]["described"]) == ["sample_0_000.mid", "sample_0_001.mid"]
    assert "stale" not in before and STALE_START not in (out / "report.html").read_text()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.8"]) == 0
    report = json.loads((out / "report.json").read_text())
    again = f"tsm evaluate {out} --real {tiny_corpus} -o {out} --overwrite"
    assert report["stale"]["replaced"] == ["sample_0_000.mid", "sample_0_001.mid"] and report["stale"]["again"] == again
    page = (out / "report.html").read_text()
    assert page.index("<body>" + STALE_START) < page.index("<h1>")  # the first thing a reader sees
    assert "Out of date" in page and again in page and page.count(STALE_START) == 1
    assert render_html(report).startswith(page[:page.index("<h1>")])  # drawn again from report.json: the same notice
    assert stale_lines(caplog) == [f"--overwrite: {out / 'report.html'} describes 2 of the files this run replaces "
                                   f"(sample_0_000.mid, sample_0_001.mid): marked out of date, kept; for a report of the "
                                   f"new ones: {again}"]
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


def test_a_report_html_not_of_this_tool_is_not_touched(evaluated, caplog):
    out = evaluated
    (out / "report.html").write_text("<html><body>my own notes</body></html>")
    saved = (out / "report.json").read_text()
    with caplog.at_level(logging.WARNING):
        assert main([*GENERATE, "-o", str(out), "--overwrite", "--temperature", "0.8"]) == 0
    assert (out / "report.html").read_text() == "<html><body>my own notes</body></html>"
    assert (out / "report.json").read_text() == saved and stale_lines(caplog) == []
