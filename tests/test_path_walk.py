"""sequence/path_walk.py on its own: what a walk tells each chunk (the walked attributes along the path, the rest held
at its first chunk's, a closing its performance's ending), that a chunk keeps what it was first told, and who each
piece walks."""
from types import SimpleNamespace

import pytest
import torch

from timestepmusic.sequence.path_walk import PathWalk, follow_gains, walked_attributes
from timestepmusic.sequence.style import ATTRIBUTES, PATH_HOP
from timestepmusic.sequence.style_paths import StylePaths


def ramp_paths() -> StylePaths:
    """Two tracks: rows 0–2 and 3–4, row r holding r + 1 in every attribute."""
    rows = (torch.arange(5, dtype=torch.float32)[:, None] + 1).expand(5, len(ATTRIBUTES)).clone()  # [R, D]
    return StylePaths(rows, torch.tensor([0, 3, 5]), ["Bach\tFugue_1\tA01", "\tpiece1"])


def test_a_walk_tells_the_walked_attributes_along_the_path_and_holds_the_rest():
    paths, walked = ramp_paths(), walked_attributes("loudness,density", ATTRIBUTES)  # [D]
    walk = PathWalk(paths, torch.tensor([0.0, 3.0], dtype=torch.float64), walked, None, liked=False, ending=False)
    told = walk.told(0, 3 * PATH_HOP, None)  # [S, C, D]
    along = paths.tell(walk.start, 0, 3 * PATH_HOP)  # [S, C, D]
    assert torch.equal(told[..., walked], along[..., walked])
    assert torch.equal(told[..., ~walked], along[:, :1, ~walked].expand_as(told[..., ~walked]))  # held at its first
    assert (told[0, -1, walked] != told[0, 0, walked]).all()  # (the path moves)
    assert torch.equal(walk.told(2, 5, None), told[:, 2:6])  # read again: the same
    walk.rows[:, 1] = -1.0  # a chunk's told once per sample: growing the rows keeps what was told
    assert (walk.told(0, 10 * PATH_HOP, None)[:, 1] == -1.0).all()


def test_a_closing_is_told_its_performances_ending_and_a_piece_its_track():
    paths, walked = ramp_paths(), walked_attributes("all", ATTRIBUTES)
    walk = PathWalk(paths, torch.tensor([0.0, 3.0], dtype=torch.float64), walked, None, liked=False, ending=True)
    told = walk.told(0, 7, torch.tensor([4, 100]))  # piece 0 closes from chunk 4 on, piece 1 not within them
    assert (told[0, 4:] == 3.0).all() and (told[0, :4] < 3.0).all()  # track 0's last row holds 3
    assert torch.equal(told[1], walk.told(0, 7, None)[1])
    assert walk.labels(0.25) == ["Bach Fugue 1 (A01) from 0 s", "piece1 from 0 s"]
    liked = PathWalk(paths, torch.zeros(2, dtype=torch.float64), walked, None, liked=True, ending=False)
    assert liked.labels(0.25) is None  # --like's file names no training performance


def test_only_the_follows_asked_are_followed():
    assert follow_gains(0.0, 0.0) == {} and follow_gains(0.5, 0.0) == {"register": 0.5, "spread": 0.5}
    assert follow_gains(0.0, 1.0) == {"density": 1.0}
    assert walked_attributes("none", ATTRIBUTES) is None


def test_a_spread_pull_tells_each_piece_a_spread_nearer_training_s_mean_and_leaves_the_rest():
    paths, walked = ramp_paths(), walked_attributes("loudness,density", ATTRIBUTES)
    look = SimpleNamespace(attributes=ATTRIBUTES, mean=torch.full((len(ATTRIBUTES),), 11.0))  # a PieceStyle's mean [D]
    start = torch.tensor([0.0, 3.0], dtype=torch.float64)
    plain = PathWalk(paths, start, walked, look, liked=False, ending=True)
    pulled = PathWalk(paths, start, walked, look, liked=False, ending=True, spread_pull=0.25)
    at = ATTRIBUTES.index("spread")
    told, told_plain = pulled.told(0, 9, None), plain.told(0, 9, None)  # [S, C, D]
    assert torch.allclose(told[..., at], told_plain[..., at] + 0.25 * (11.0 - told_plain[..., at]))
    rest = torch.arange(len(ATTRIBUTES)) != at
    assert torch.equal(told[..., rest], told_plain[..., rest])
    assert torch.allclose(pulled.first[:, at], plain.first[:, at] + 0.25 * (11.0 - plain.first[:, at]))
    assert torch.allclose(pulled.ending[:, at], plain.ending[:, at] + 0.25 * (11.0 - plain.ending[:, at]))
    liked = PathWalk.drawn(2, 9, torch.Generator().manual_seed(0), paths=None, liked=paths, composed=None,
                           walked=walked, style=look, path_room=False, ending=False, spread_pull=0.25)
    assert liked.spread_pull == 0  # --like's file is told as it plays


def test_a_spread_pull_draws_other_notes_and_a_pull_or_trim_out_of_bounds_is_refused_in_one_line(tmp_path, capsys):
    from timestepmusic.cli import main
    from timestepmusic.midi import read_events

    flags = ["generate", "-n", "2", "--seconds", "4", "--seed", "3", "-q"]
    assert main(flags + ["-o", str(tmp_path / "plain")]) == 0
    assert main(flags + ["--set", "ar.spread_pull=1", "-o", str(tmp_path / "pulled")]) == 0
    drawn = [[read_events(tmp_path / run / f"sample_3_00{i}.mid")[0] for i in range(2)] for run in ("plain", "pulled")]
    assert any(len(a.ids) != len(b.ids) or not (a.ids == b.ids).all() for a, b in zip(*drawn))
    for setting, bounds in (("ar.spread_pull=1.5", "[0, 1]"), ("ar.path_spread_trim=0.5", "[0, 0.5)")):
        capsys.readouterr()
        assert main(flags + ["--set", setting, "-o", str(tmp_path / "refused")]) != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and setting.partition("=")[0] in err[0] and bounds in err[0]


def test_a_spread_trim_starts_no_piece_from_the_narrowest_or_widest_passages():
    spread = torch.arange(20, dtype=torch.float32)  # row r spreads r semitones
    rows = torch.ones(20, len(ATTRIBUTES))  # [R, D]: every row holds notes (density 1)
    rows[:, ATTRIBUTES.index("spread")] = spread
    paths = StylePaths(rows, torch.tensor([0, 10, 20]), None)
    rng = torch.Generator().manual_seed(0)
    any_row = paths.draw(2000, rng, played=0.0).floor().long()  # [S]
    middle = paths.draw(2000, rng, played=0.0, spread_trim=0.2).floor().long()  # [S]
    assert any_row.min() == 0 and any_row.max() == 19  # (without it, every row is a start)
    assert middle.min() >= 3 and middle.max() <= 16 and len(middle.unique()) >= 12  # the middle 60 %, all of it
    both = paths.draw(500, rng, played=0.0, tracks=torch.tensor([True, False]), distinct=True, spread_trim=0.2)
    assert both.floor().long().min() >= 1 and both.floor().long().max() <= 8  # within a composer's own tracks


@pytest.mark.parametrize("flags, said", [
    (["--style", "density=6"], "--set ar.spread_pull=0.5 and --style: give one (ar.spread_pull moves the spread told "
                               "a piece walking a training performance's path toward training's mean; a piece asked a "
                               "--style walks none)"),
    (["--prompt", "FILE"], "--set ar.spread_pull=0.5: a continued --prompt is told its own character and walks no "
                           "performance's path"),
    (["--like", "FILE"], "--set ar.spread_pull=0.5 and --like: give one (ar.spread_pull moves the spread told a piece "
                         "walking a training performance's path toward training's mean; --like walks your file's "
                         "path, told as it plays)"),
    (["--set", "ar.style_path=none"], "--set ar.spread_pull=0.5: this model's pieces walk no performance's path "
                                      "(ar.style_path none"),
    (["--set", "ar.path_spread_trim=0.2", "--like", "FILE"], "--set ar.path_spread_trim=0.2 and --like: give one "
                                                             "(ar.path_spread_trim keeps pieces walking training "
                                                             "performances' paths from starting at the narrowest"),
], ids=["style", "prompt", "like", "style_path_none", "trim_like"])
def test_a_spread_pull_or_trim_set_where_no_training_path_is_walked_is_refused_in_one_line(flags, said, tmp_path,
                                                                                           capsys):
    """A piece asked a --style, continuing a --prompt, walking --like's file (told as it plays) or of a model set to
    walk no path walks no training performance's path: ar.spread_pull and ar.path_spread_trim were silently ignored
    (the same notes as without them); refused in one line, nothing written. Set to 0, each draws."""
    from timestepmusic.cli import main
    from timestepmusic.midi import Events
    from timestepmusic.midi_write import write_events

    played = write_events(Events([39, 43, 47, 50], [0.0, 0.5, 1.0, 1.5], [0.4] * 4, [70] * 4), tmp_path / "file.mid")
    flags = [str(played) if flag == "FILE" else flag for flag in flags]
    pull = [] if "ar.path_spread_trim=0.2" in flags else ["--set", "ar.spread_pull=0.5"]
    assert main(["generate", *flags, *pull, "-n", "1", "--seconds", "1", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and len(err.splitlines()) == 1 and not (tmp_path / "out").exists(), err
    unset = [flag.replace("=0.2", "=0") for flag in flags]
    assert main(["generate", *unset, "--set", "ar.spread_pull=0", "-n", "1", "--seconds", "1", "-q",
                 "-o", str(tmp_path / "unset")]) == 0
