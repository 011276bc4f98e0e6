"""One idea spelled one way across `tsm`'s subcommands: the same flag, the same error for the same mistake."""
from __future__ import annotations

import pytest

from timestepmusic.cli import build_parser, main

from midi_factory import write_piece


@pytest.mark.parametrize("verb", ["prepare", "train-ae", "train-gan"])
def test_the_output_folder_is_o_or_out_in_every_command_that_writes_one(verb):
    """generate, evaluate and plot take -o; prepare and the trainers took --out alone, and refused -o as an unknown
    argument (prepare: as a missing --out)."""
    for spelling in ("-o", "--out"):
        assert build_parser().parse_args([verb, "SOURCE", spelling, "FOLDER"]).out == "FOLDER"


def test_prepare_writes_its_corpus_to_o(tmp_path, capsys):
    write_piece(tmp_path / "a.mid")
    assert main(["prepare", str(tmp_path / "a.mid"), "-o", str(tmp_path / "corpus"), "-q"]) == 0
    assert (tmp_path / "corpus" / "corpus.json").is_file()
