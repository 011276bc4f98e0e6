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
