"""What tsm generate's line for each written file says of it, checked against the file."""
from __future__ import annotations

import re

from timestepmusic.cli import main

from midi_factory import presses_in_file


def test_a_files_line_counts_its_pedal_presses_as_the_file_holds_them(tmp_path, capsys):
    # a new user's trial: '94 notes, 1 pedal event' for a file that holds one una corda press (two MIDI messages);
    # the count was of pedal events, each a depth bin of a press, so a damper pressed deeper counted twice
    assert main(["generate", "--seconds", "8", "-n", "3", "-o", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for line in lines:
        path, presses, word = re.fullmatch(r"(\S+)  \d+ notes?, (\d+) pedal (press|presses), .*", line).groups()
        assert int(presses) == presses_in_file(path) and word == ("press" if presses == "1" else "presses"), line


def test_a_length_of_no_whole_number_of_chunks_is_said_once_with_the_chunks_drawn(tmp_path, capsys, caplog):
    # a new user's trial: `--seconds 0.1` printed '0.1 s long (0.25 s drawn)'; the length asked is drawn as whole
    # 0.25 s chunks, said once for the run (not for each file) in the line's words
    assert main(["generate", "--seconds", "0.1", "-n", "3", "-o", str(tmp_path)]) == 0
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("--seconds")]
    assert said == ["--seconds 0.1: each piece is drawn as 1 chunk of 0.25 s = 0.25 s (pieces are whole chunks)"]
    assert capsys.readouterr().out.count("(0.25 s drawn)") == 3
    caplog.clear()
    assert main(["generate", "--seconds", "1:00", "-n", "1", "-o", str(tmp_path / "whole")]) == 0
    assert "whole chunks" not in caplog.text
