"""ar.register_follow and ar.density_follow: a drawn piece told its register and spread, or its density, moved
against what its last 16 s played (sequence/register_follow.py)."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from timestepmusic.batches import SetBatch
from timestepmusic.sequence.events import EventGenerator
from timestepmusic.sequence.register_follow import FOLLOW_CHUNKS, FOLLOW_NOTES, DrawnKeySums, Played, followed
from timestepmusic.sequence.style import AHEAD, ATTRIBUTES
from timestepmusic.sequence.style_paths import StylePaths

REGISTER, SPREAD, DENSITY = (ATTRIBUTES.index(name) for name in ("register", "spread", "density"))
COLUMNS = {"register": REGISTER, "spread": SPREAD, "density": DENSITY}


def chunk(rows: list[list[int]]) -> SetBatch:
    """One chunk of events per piece: each row's ids (a pedal: 88 on), padded."""
    n = max(1, max(len(r) for r in rows))
    ids = torch.tensor([r + [0] * (n - len(r)) for r in rows])  # [S, N]
    zeros = torch.zeros(ids.shape, dtype=torch.float64)
    return SetBatch(ids, zeros, zeros + 0.5, torch.full(ids.shape, 64), torch.tensor([len(r) for r in rows]))


def test_key_sums_keep_the_window_and_say_the_notes_mean_and_spread():
    sums = DrawnKeySums(3, window=2, device=torch.device("cpu"))
    sums.append(chunk([[10, 20], [40], []]))  # falls out of the window
    sums.append(chunk([[30, 88], [40, 44], [89]]))  # a damper and an una corda event are not notes
    sums.append(chunk([[50, 52], [], [90]]))
    played = sums.played(0.25)
    notes, mean, spread = played.notes, played.register, played.spread
    assert notes.tolist() == [3, 2, 0] and played.chunks == 2
    assert played.density.tolist() == pytest.approx([math.log1p(3 / 0.5), math.log1p(2 / 0.5), 0.0])
    assert mean[:2].tolist() == pytest.approx([np.mean([30, 50, 52]), 42.0])
    assert spread[:2].tolist() == pytest.approx([np.std([30, 50, 52]), 2.0])
    assert torch.isnan(mean[2]) and torch.isnan(spread[2])  # no note heard


def test_the_register_and_spread_told_move_against_what_was_played_weighted_by_the_notes():
    told = torch.arange(3 * len(ATTRIBUTES), dtype=torch.float32).reshape(3, -1) + 10  # [S, D]
    told[:, REGISTER], told[:, SPREAD] = 40.0, 12.0
    notes = torch.tensor([FOLLOW_NOTES, 3 * FOLLOW_NOTES, 0], dtype=torch.float64)
    played = Played(notes, 48, torch.tensor([44.0, 30.0, float("nan")], dtype=torch.float64),
                    torch.tensor([8.0, 14.0, float("nan")], dtype=torch.float64),
                    torch.tensor([1.0, 3.0, 0.0], dtype=torch.float64))
    low, high = torch.zeros(len(ATTRIBUTES)), torch.full((len(ATTRIBUTES),), 100.0)
    high[REGISTER] = 45.0
    out = followed(told, told, played, COLUMNS, {"register": 2.0, "spread": 2.0}, low, high)
    # piece 0: half the gain (as many notes as FOLLOW_NOTES); piece 1: three quarters of it; piece 2: none heard
    assert out[0, REGISTER] == pytest.approx(40 + 1.0 * (40 - 44)) and out[0, SPREAD] == pytest.approx(12 + 1.0 * 4)
    assert out[1, REGISTER] == pytest.approx(45.0)  # 40 + 1.5 × 10 = 55, held within what descriptions span
    assert out[1, SPREAD] == pytest.approx(12 + 1.5 * (12 - 14))
    assert torch.equal(out[2], told[2])
    others = [i for i in range(len(ATTRIBUTES)) if i not in (REGISTER, SPREAD)]
    assert torch.equal(out[:, others], told[:, others])
    assert told[0, REGISTER] == 40.0  # the description given is left as it was
    denser = followed(told, told, played, COLUMNS, {"register": 0.0, "density": 1.0}, low, high)  # by the chunks heard
    weight = 48 / (48 + FOLLOW_CHUNKS)
    assert denser[:, DENSITY].tolist() == pytest.approx((told[:, DENSITY] + weight * (told[:, DENSITY] - torch.tensor(
        [1.0, 3.0, 0.0]))).tolist())  # a piece that played nothing played a density of 0: told to play more
    assert torch.equal(denser[:, [REGISTER, SPREAD]], told[:, [REGISTER, SPREAD]])


def test_a_piece_that_played_what_its_path_asked_of_the_chunks_heard_is_told_its_path_as_drawn():
    """The path rises or falls between the chunks heard and the chunk drawn next: what they played is measured
    against what was asked of them, not against the passage ahead (which would tell a piece that played its path as
    told to overshoot wherever the path moves)."""
    told = torch.full((2, len(ATTRIBUTES)), 5.0)  # [S, D]: the passage ahead
    told[:, REGISTER], told[:, SPREAD], told[:, DENSITY] = 50.0, 10.0, 2.5
    asked = told.clone()  # what the path asked of the 16 s heard: lower, narrower, sparser
    asked[:, REGISTER], asked[:, SPREAD], asked[:, DENSITY] = 40.0, 6.0, 1.5
    notes = torch.full((2,), 3.0 * FOLLOW_NOTES, dtype=torch.float64)
    played = Played(notes, 48, torch.tensor([40.0, 44.0], dtype=torch.float64),
                    torch.tensor([6.0, 6.0], dtype=torch.float64), torch.tensor([1.5, 1.0], dtype=torch.float64))
    low, high = torch.zeros(len(ATTRIBUTES)), torch.full((len(ATTRIBUTES),), 100.0)
    out = followed(told, asked, played, COLUMNS, {"register": 1.0, "spread": 1.0, "density": 1.0}, low, high)
    assert torch.equal(out[0], told[0])  # played as asked: told as drawn
    assert out[1, REGISTER] == pytest.approx(50 + 0.75 * (40 - 44))  # 4 semitones above what was asked: told lower
    assert out[1, DENSITY] == pytest.approx(2.5 + 48 / (48 + FOLLOW_CHUNKS) * (1.5 - 1.0))  # sparser: told denser


@pytest.fixture(scope="module")
def default_model():
    from timestepmusic.generation import GANModel

    return GANModel.load("default")


def test_each_chunk_is_told_what_the_notes_before_it_played_and_hears_it_again_when_the_window_slides(
        default_model, monkeypatch):
    """Past the context (64 chunks) the window is read again, every chunk told what it was told when drawn."""
    model = default_model
    settings = model.arm.settings
    heard, offset = [], EventGenerator.offset
    monkeypatch.setattr(EventGenerator, "offset", lambda net, told, b: heard.append(told) or offset(net, told, b))
    starts, draw = [], StylePaths.draw
    monkeypatch.setattr(StylePaths, "draw", lambda self, *a, **k: starts.append(draw(self, *a, **k)) or starts[-1])
    chunks = model.arm.generator.context + 8
    try:
        model.arm.settings = dataclasses.replace(settings, register_follow=1.0, density_follow=0.5)
        followed_latents = model.sample_latents(2, chunks * 0.25, seed=4, snap_to_real=False)
    finally:
        model.arm.settings = settings
    first = model.arm.told  # [S, D]: each piece's first description (register and spread held along its path)
    told = {}  # chunk → [S, D] as read, every time it is read
    for rows in (t for t in heard if t is not None and t.dim() == 3):  # [S, C, D]: a step's one chunk, or a window
        window = rows.shape[1]
        at = len(told) - window + 1 if window > 1 else len(told)  # a window ends at the chunk drawn next
        for c in range(window):
            chunk_rows = rows[:, c]
            if at + c in told:  # read again: as when it was drawn
                assert torch.equal(told[at + c], chunk_rows)
            told.setdefault(at + c, chunk_rows)
    assert len(told) == chunks
    drawn = model.arm.drawn  # [S, N] per chunk
    path = model.arm.paths.tell(starts[0], 0, chunks - 1)  # [S, C, D]: each chunk's description as walked
    moved = (path[:, chunks - 1, DENSITY] - path[:, chunks - 1 - AHEAD, DENSITY]).abs()  # [S]: the path moves, so
    assert moved.min() > 0.01  # the told density there tells asked from walked (0.4 × 0.01 > the 1e-3 tolerance)
    for t in (0, 1, 40, chunks - 1):
        notes = [[int(k) for k in s.ids[i][: s.sizes[i]] if k < 88] for s in drawn[max(0, t - AHEAD):t]
                 for i in range(2)]
        for piece in range(2):
            keys = np.array(sum(notes[piece::2], []), dtype=np.float64)
            kept = min(t, AHEAD)  # chunks heard
            walked = path[piece, t, DENSITY].double()
            asked = path[piece, t - kept, DENSITY].double()  # the description of the chunks heard (it moves: walked)
            density = math.log1p(keys.size / (kept * 0.25)) if kept else math.nan
            expected_density = walked + 0.5 * kept / (kept + FOLLOW_CHUNKS) * (asked - density) if kept else walked
            assert float(told[t][piece, DENSITY]) == pytest.approx(float(expected_density), abs=1e-3)
            if keys.size == 0:
                assert told[t][piece, REGISTER] == first[piece, REGISTER]
                continue
            weight = keys.size / (keys.size + FOLLOW_NOTES)
            expected = first[piece, [REGISTER, SPREAD]].double() + weight * (
                first[piece, [REGISTER, SPREAD]].double() - torch.tensor([keys.mean(), keys.std()]))
            assert told[t][piece, [REGISTER, SPREAD]].double().tolist() == pytest.approx(expected.tolist(), abs=1e-3)
    plain = model.sample_latents(2, chunks * 0.25, seed=4, snap_to_real=False)
    assert not all(torch.equal(a, b) for a, b in zip(followed_latents, plain))


def test_a_model_without_style_refuses_register_follow():
    from timestepmusic.config import Config

    with pytest.raises(ValueError, match="ar.register_follow: needs ar.style"):
        Config().override({"ar.style": False, "ar.register_follow": 1.0})
    with pytest.raises(ValueError, match="ar.register_follow: must be ≥ 0"):
        Config().override({"ar.style": True, "ar.register_follow": -1.0})
    with pytest.raises(ValueError, match="ar.density_follow: needs ar.style"):
        Config().override({"ar.style": False, "ar.density_follow": 1.0})


def test_a_piece_walking_like_s_path_is_followed_within_what_training_descriptions_span(default_model, monkeypatch):
    """--like walks one file's path, whose own span holds an attribute the file keeps steady where it is (one key
    struck again and again: every row's register the same): the follow is held within the training paths' span."""
    import timestepmusic.sequence.path_walk as path_walk
    from timestepmusic.midi import Events

    model, bounds = default_model, []
    monkeypatch.setattr(path_walk, "followed", lambda *args: bounds.append(args[-2:]) or followed(*args))
    like = Events(np.full(80, 39), np.arange(80) * 0.25, np.full(80, 0.2), np.full(80, 70, dtype=np.uint8))
    settings = model.arm.settings
    try:
        model.arm.settings = dataclasses.replace(settings, register_follow=1.0)
        model.sample_latents(1, 2.0, seed=0, snap_to_real=False, like=like)
    finally:
        model.arm.settings = settings
    rows = model.arm.paths.rows.float()  # [R, D]
    low, high = bounds[-1]
    assert low[REGISTER] == torch.nan_to_num(rows[:, REGISTER], nan=torch.inf).min()
    assert high[REGISTER] == torch.nan_to_num(rows[:, REGISTER], nan=-torch.inf).max()
    assert high[REGISTER] - low[REGISTER] > 40  # (the file's own: none)


@pytest.mark.parametrize("flags, said", [
    (["--style", "density=6"], "--set ar.register_follow=1 and --style: give one (ar.register_follow moves what a "
                               "piece walking a performance's path is told against what it played; a piece asked a "
                               "--style walks none)"),
    (["--prompt", "PROMPT"], "--set ar.register_follow=1: a continued --prompt is told its own character and walks "
                             "no performance's path"),
    (["--set", "ar.style_path=none"], "--set ar.register_follow=1: this model's pieces walk no performance's path "
                                      "(ar.style_path none"),
    (["--set", "ar.density_follow=0.5", "--style", "density=6"], "--set ar.density_follow=0.5 and --style: give one"),
], ids=["style", "prompt", "style_path_none", "density_follow_style"])
def test_a_follow_set_where_no_path_is_walked_is_refused_in_one_line(flags, said, tmp_path, capsys):
    """A piece asked a --style, continuing a --prompt, or of a model set to walk no path walks none: the follow was
    silently ignored (the same notes as without it); refused in one line, nothing written. Set to 0, or for a piece
    that walks a path (--composer), it draws."""
    from timestepmusic.cli import main
    from timestepmusic.midi import Events
    from timestepmusic.midi_write import write_events

    prompt = write_events(Events([39, 43], [0.0, 0.5], [0.4, 0.4], [70, 70]), tmp_path / "prompt.mid")
    flags = [str(prompt) if flag == "PROMPT" else flag for flag in flags]
    follow = [] if "ar.density_follow=0.5" in flags else ["--set", "ar.register_follow=1"]
    assert main(["generate", *flags, *follow, "-n", "1", "--seconds", "1", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and len(err.splitlines()) == 1 and not (tmp_path / "out").exists()
    unset = [flag.replace("=0.5", "=0") for flag in flags]
    assert main(["generate", *unset, "--set", "ar.register_follow=0", "-n", "1", "--seconds", "1", "-q",
                 "-o", str(tmp_path / "unset")]) == 0


def test_the_told_follow_bench_pairs_a_pulled_spread_with_what_it_was_told(default_model, monkeypatch):
    """bench/told_follow.py with ar.spread_pull: what each window was told is the spread the pull moved (at 1, every
    piece told training's mean spread), not the path's as it plays (which it paired the pieces' spreads with); the
    register is told as the path plays."""
    import importlib
    from pathlib import Path

    from timestepmusic.generation import set_sampling
    from timestepmusic.sequence.style_request import users_value

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    told_follow = importlib.import_module("told_follow")
    own = default_model.arm.settings
    try:
        plain, _ = told_follow.played_and_told(default_model, 2, 16.0, 5)
        set_sampling(default_model, ["ar.spread_pull=1"])
        pulled, _ = told_follow.played_and_told(default_model, 2, 16.0, 5)
    finally:
        default_model.arm.settings = own
    mean = float(users_value("spread", float(default_model.arm.generator.style.mean[SPREAD])))
    assert pulled["spread"][:, 1] == pytest.approx([mean, mean], rel=1e-5)
    assert not plain["spread"][:, 1] == pytest.approx([mean, mean], rel=1e-3)  # (the paths' own are not the mean)
    assert np.array_equal(pulled["register"][:, 1], plain["register"][:, 1])


def test_a_follow_set_for_pieces_walking_a_composer_s_paths_draws(tmp_path):
    from timestepmusic.cli import main

    assert main(["generate", "--composer", "Bach", "--set", "ar.register_follow=1", "--set", "ar.density_follow=1",
                 "-n", "1", "--seconds", "4", "-q", "-o", str(tmp_path / "out")]) == 0
    assert main(["generate", "--composer", "Bach", "-n", "1", "--seconds", "4", "-q", "-o", str(tmp_path / "plain")]) == 0
    (followed,), (plain,) = (list((tmp_path / name).glob("*.mid")) for name in ("out", "plain"))
    from timestepmusic.midi import read_events

    (notes_followed, _), (notes_plain, _) = read_events(followed), read_events(plain)
    assert not (np.array_equal(notes_followed.ids, notes_plain.ids)
                and np.array_equal(notes_followed.start_s, notes_plain.start_s))  # (it acts on a composer's walk)


def test_the_told_follow_bench_pairs_every_whole_window_with_what_its_first_chunk_was_told(default_model,
                                                                                          monkeypatch):
    """bench/told_follow.py: 2 pieces of 32 s → 2 windows each, the played beside what the path told each window's
    first chunk (the register held at its first chunk's; the density walked), and a pitch range for every window
    (it measured only each piece's first 16 s: excerpts were cut by the last onset)."""
    import importlib
    from pathlib import Path

    from timestepmusic.evaluate.played import windows_played
    from timestepmusic.sequence.style_request import users_value

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    told_follow = importlib.import_module("told_follow")
    pairs, ranges = told_follow.played_and_told(default_model, 2, 32.0, 5)
    starts, draw = [], StylePaths.draw
    monkeypatch.setattr(StylePaths, "draw", lambda self, *a, **k: starts.append(draw(self, *a, **k)) or starts[-1])
    pieces = default_model.sample(2, 32.0, 5)  # (the bench's own draw again: the same seed draws the same)
    path = default_model.arm.paths.tell(starts[0], 0, 64)  # [S, 65, D]
    assert all(pairs[name].shape == (4, 2) for name in told_follow.FOLLOWED) and ranges.shape == (4,)
    for s, piece in enumerate(pieces):
        played = windows_played(piece, 32.0, told_follow.FOLLOWED, 16.0)  # [2, 3]
        assert np.array_equal(pairs["density"][2 * s:2 * s + 2, 0], played[:, 2], equal_nan=True)
        told = [float(users_value("density", float(path[s, c, DENSITY]))) for c in (0, 64)]
        assert pairs["density"][2 * s:2 * s + 2, 1] == pytest.approx(told, rel=1e-5)
        register = float(users_value("register", float(path[s, 0, REGISTER])))
        assert pairs["register"][2 * s:2 * s + 2, 1] == pytest.approx([register, register], rel=1e-5)
        for w in range(2):
            notes = piece.ids[(piece.ids < 88) & (piece.start_s >= 16 * w) & (piece.start_s < 16 * (w + 1))]
            if notes.size:  # (a window without a note has no range: tsm evaluate's pitch_range says 0 or NaN)
                assert ranges[2 * s + w] == np.ptp(notes)
    assert sum(bool(((p.ids < 88) & (p.start_s >= 16 * w) & (p.start_s < 16 * (w + 1))).any())
               for p in pieces for w in range(2)) == 4  # (every window of these pieces holds notes: each was checked)
