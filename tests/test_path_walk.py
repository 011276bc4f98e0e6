"""sequence/path_walk.py on its own: what a walk tells each chunk (the walked attributes along the path, the rest held
at its first chunk's, a closing its performance's ending), that a chunk keeps what it was first told, and who each
piece walks."""
import torch

from timestepmusic.sequence.path_walk import PathWalk, follow_gains, walked_attributes
from timestepmusic.sequence.style import ATTRIBUTES, PATH_HOP, StylePaths


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
