"""Descriptions that move as a performance's do (ar.style_path, sequence/style_paths.py's StylePaths): the paths a run
keeps, a piece told one track's path chunk by chunk (blended between rows, held past the track's end), sampling
that hears it as training would, pedals kept up by the description of each chunk, and the tool that adds paths
to a model trained before."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from test_events_arm import TINY_EVENTS
from timestepmusic.batches import ChunkGatherer
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.sequence import style_describe, style_request
from timestepmusic.sequence.events import EventGenerator
from timestepmusic.sequence.style import ATTRIBUTES, PATH_HOP
from timestepmusic.sequence.style_describe import StyleGatherer
from timestepmusic.sequence.style_paths import StylePaths
from timestepmusic.sequence.style_request import StyleRamp, parse_style, parse_style_path
from timestepmusic.sequence.windows import SequenceSampler
from timestepmusic.train.sequence import train_sequence_model
from timestepmusic.train.style_paths import main as add_paths

DAMPER_ID, SOFT_ID = 88, 90


def test_a_path_blends_the_two_nearest_rows_and_holds_its_tracks_last():
    rows = torch.arange(5, dtype=torch.float32)[:, None].expand(5, len(ATTRIBUTES)) * 8  # [R, D]: row r holds 8r
    paths = StylePaths(rows, torch.tensor([0, 3, 5]))  # track 0: rows 0–2, track 1: rows 3–4
    told = paths.tell(torch.tensor([0.5, 3.0]), 0, 4 * PATH_HOP)[..., 0]  # [2, C]
    chunk = torch.arange(4 * PATH_HOP + 1, dtype=torch.float64)
    expected_0 = (0.5 + chunk / PATH_HOP).clamp(max=2) * 8  # blended, then track 0's last row held
    expected_1 = (3 + chunk / PATH_HOP).clamp(max=4) * 8  # never into a row of another track
    assert torch.allclose(told[0].double(), expected_0) and torch.allclose(told[1].double(), expected_1)
    assert torch.equal(paths.tell(torch.tensor([0.5, 3.0]), 5, 7), paths.tell(torch.tensor([0.5, 3.0]), 0, 7)[:, 5:])


def test_a_bad_paths_file_is_refused_in_one_line():
    for state in ({}, {"rows": torch.zeros(4, 8), "starts": torch.tensor([0, 3])},
                  {"rows": torch.zeros(4, 8), "starts": torch.tensor([0, 0, 4])}):
        with pytest.raises(ValueError, match="not description paths"):
            StylePaths.from_state(state)


def test_a_missing_model_folder_is_said_as_missing_not_as_a_folder_without_a_checkpoint(tiny_corpus, tmp_path, capsys):
    """train.style_paths and model_export of a mistyped folder said 'no checkpoint here (expected config.json in it
    …)', as of a folder that is there; the other commands say 'no such folder'."""
    from timestepmusic.model_export import main as export_main

    missing = tmp_path / "runs" / "ev8" / "best"
    assert add_paths([str(missing), str(tiny_corpus)]) == 1
    assert capsys.readouterr().err.strip() == f"error: {missing}: no such folder"
    assert export_main([str(missing), str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.strip() == f"error: {missing}: no such folder"
    missing.mkdir(parents=True)  # there, but empty: what it lacks is said
    assert add_paths([str(missing), str(tiny_corpus)]) == 1
    assert "no checkpoint here (expected config.json" in capsys.readouterr().err


def test_a_draw_starts_only_where_a_note_is_played():
    rows = torch.zeros(6, len(ATTRIBUTES))
    rows[[1, 4], ATTRIBUTES.index("density")] = 1.0  # only rows 1 and 4 hold a note
    start = StylePaths(rows, torch.tensor([0, 6])).draw(200, torch.Generator().manual_seed(0), played=0.0)
    assert set(start.floor().long().tolist()) == {1, 4} and ((start % 1) * PATH_HOP % 1 == 0).all()


def training_windows(corpus: Corpus, tracks: np.ndarray) -> tuple[SequenceSampler, object]:
    """A sampler over `tracks` (windows of 16 chunks) and the `locate` StyleGatherer.paths reads: global chunk rows →
    (track, chunk within it)."""
    ptr = torch.tensor(np.asarray(corpus.track_chunk_ptr))

    def locate(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        track = torch.searchsorted(ptr, rows, right=True) - 1
        return track, rows - ptr[track]
    return SequenceSampler(corpus, tracks, 16, 0.0), locate


def test_paths_hold_every_hop_th_chunks_description_of_each_training_track(tiny_corpus):
    corpus = Corpus.open(tiny_corpus)
    styles = StyleGatherer(ChunkGatherer(corpus))
    tracks = corpus.tracks_in("train")
    sampler, locate = training_windows(corpus, tracks)
    ptr = torch.tensor(np.asarray(corpus.track_chunk_ptr))
    fill = torch.full((len(ATTRIBUTES),), -7.0)
    paths = styles.paths(sampler, locate, fill)
    counts = (ptr[tracks + 1] - ptr[tracks])  # [K] chunks per track
    rows_per_track = (counts + PATH_HOP - 1) // PATH_HOP
    assert torch.equal(paths.starts, torch.cat([torch.zeros(1, dtype=torch.long), rows_per_track.cumsum(0)]))
    for k, track in enumerate(tracks[:3]):
        chunks = torch.arange(0, int(counts[k]), PATH_HOP)
        expected = styles.ahead((ptr[track] + chunks)[:, None], locate)[:, 0]  # [rows, D]
        expected = torch.where(expected.isnan(), fill, expected)
        got = paths.rows[paths.starts[k]:paths.starts[k + 1]].float()
        assert torch.allclose(got, expected, rtol=2e-3, atol=2e-3)  # (kept at half precision)


@pytest.fixture(scope="module")
def style_run(tiny_corpus, tiny_ae, tmp_path_factory):
    run = tmp_path_factory.mktemp("paths") / "run"
    config = Config().override(TINY_EVENTS | {"ar.style": True, "ar.carry": True, "gan.steps": 4})
    with pytest.MonkeyPatch.context() as patch:  # passages of 2 s: the tiny tracks' (12 s) descriptions move
        patch.setattr(style_describe, "AHEAD", 8)
        train_sequence_model(tiny_corpus, tiny_ae, run, config, arch="events", progress=False)
    return run


def test_a_run_keeps_its_paths_and_pieces_are_told_them_chunk_by_chunk(style_run, monkeypatch):
    from timestepmusic.generation import GANModel

    meta = json.loads((style_run / "last" / "config.json").read_text())
    assert "style_paths" in meta["weights"]  # beside the weights, with its sha256
    model = GANModel.load(style_run)
    paths = model.arm.paths
    assert paths is not None and paths.rows.shape[1] == len(ATTRIBUTES)
    torch.nn.init.normal_(model.arm.generator.style.project.weight)  # as if trained to follow its descriptions
    starts = []
    draw = StylePaths.draw
    monkeypatch.setattr(StylePaths, "draw", lambda self, *a, **k: starts.append(draw(self, *a, **k)) or starts[-1])
    model.arm.settings = dataclasses.replace(model.arm.settings, style_path="all")
    model.arm.end_trace = []
    chunks = 12  # within the context: one prefill, then steps with the cache
    latents = model.sample_latents(3, chunks * 0.25, seed=2, snap_to_real=False)
    (start,) = starts
    told = paths.tell(start, 0, chunks - 1)  # [S, C, D]
    assert not torch.allclose(told[:, 0], told[:, -1])  # the descriptions move along the pieces
    x = torch.stack([model.normaliser.forward(z) for z in latents])  # [S, C, L] as the transformer read them
    _, end_logit = model.arm.generator(x, told)  # training's forward pass, told each chunk's description
    sampled = torch.stack([logit for logit, _ in model.arm.end_trace], dim=1)  # [S, C]
    assert torch.allclose(sampled, end_logit, atol=1e-4)
    model.arm.end_trace = None
    again = model.sample_latents(3, chunks * 0.25, seed=2, snap_to_real=False)
    assert all(torch.equal(a, b) for a, b in zip(latents, again))
    assert model.arm.path_start is None  # left as it was after sampling
    model.arm.settings = dataclasses.replace(model.arm.settings, style_path="none")
    held = model.sample_latents(3, chunks * 0.25, seed=2, snap_to_real=False)
    assert not all(torch.equal(a, b) for a, b in zip(latents, held))
    heard, offset = [], EventGenerator.offset
    monkeypatch.setattr(EventGenerator, "offset", lambda net, told, b: heard.append(told) or offset(net, told, b))
    model.arm.settings = dataclasses.replace(model.arm.settings, style_path="loudness, density")  # these two move
    model.sample_latents(3, chunks * 0.25, seed=2, snap_to_real=False)
    told_now = torch.cat([t for t in heard if t is not None and t.dim() == 3], dim=1)  # [S, C, D]: each chunk's
    moving = [ATTRIBUTES.index("loudness"), ATTRIBUTES.index("density")]
    held_columns = [i for i in range(len(ATTRIBUTES)) if i not in moving]
    assert torch.equal(told_now[..., moving], told[..., moving])
    assert torch.equal(told_now[..., held_columns], told[:, :1, held_columns].expand(-1, chunks, -1))
    heard.clear()
    model.arm.settings = dataclasses.replace(model.arm.settings, style_path="all", style_guidance=2.0)  # read twice
    model.arm.end_trace = []
    guided = model.sample_latents(3, chunks * 0.25, seed=2, snap_to_real=False)
    told = paths.tell(starts[-1], 0, chunks - 1)  # [S, C, D]
    x = torch.stack([model.normaliser.forward(z) for z in guided])  # [S, C, L]
    _, end_logit = model.arm.generator(x, told)  # the told half's, as training reads it
    sampled = torch.stack([logit for logit, _ in model.arm.end_trace], dim=1)  # [S, C]
    assert torch.allclose(sampled, end_logit, atol=1e-4)
    model.arm.end_trace = None
    long = model.sample_latents(2, 40 * 0.25, seed=3, snap_to_real=False)  # past the context of 16: it slides
    assert all(torch.equal(a, b) for a, b in zip(long, model.sample_latents(2, 40 * 0.25, seed=3, snap_to_real=False)))


def test_a_chunk_told_no_una_corda_keeps_it_up_in_the_pieces_that_keep_it_up(style_run):
    from timestepmusic.generation import GANModel

    model = GANModel.load(style_run)
    with torch.no_grad():  # as if trained to press the una corda often
        model.arm.generator.events.out["key"][-1].bias[SOFT_ID] += 5.0
    soft = ATTRIBUTES.index("soft")
    rows = model.arm.paths.rows
    rows[:, soft] = 0.0
    rows[1::3, soft] = 0.5  # every track's second row with it: told none at first, then some, then none
    settings = dataclasses.replace(model.arm.settings, style_path="all")
    pressed = {}
    for share in (0.0, 1.0):
        model.arm.settings = dataclasses.replace(settings, soft_kept_up=share)
        pieces = model.sample(8, 12.0, seed=4)
        pressed[share] = [np.sort(p.start_s[p.ids == SOFT_ID]) for p in pieces]
    assert all(len(p) for p in pressed[0.0])  # free: every piece presses it
    assert any(len(p) for p in pressed[1.0])  # kept up only where told none: pressed where told some
    assert sum(map(len, pressed[1.0])) < sum(map(len, pressed[0.0]))


def test_paths_are_added_to_a_model_trained_before_them(style_run, tmp_path, capsys, monkeypatch):
    old = tmp_path / "old"
    import shutil

    shutil.copytree(style_run / "last", old)
    shutil.copytree(style_run / "autoencoder", old / "autoencoder")
    meta = json.loads((old / "config.json").read_text())
    del meta["weights"]["style_paths"]
    (old / "style_paths.safetensors").unlink()
    (old / "config.json").write_text(json.dumps(meta))
    assert main(["generate", "--model", str(old), "-n", "1", "--seconds", "1", "-o", str(tmp_path / "a"),
                 "--set", "ar.style_path=all"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "keeps no description paths" in err[0] and "style_paths" in err[0]
    corpus = Corpus.open(json.loads((style_run / "last" / "config.json").read_text())["corpus"]["root"])
    monkeypatch.setattr(style_describe, "AHEAD", 8)  # as the run was trained
    assert add_paths([str(old), str(corpus.root)]) == 0
    assert (old / "style_paths.safetensors").read_bytes() == (style_run / "last" / "style_paths.safetensors").read_bytes()
    assert main(["generate", "--model", str(old), "-n", "1", "--seconds", "1", "-o", str(tmp_path / "b"),
                 "--set", "ar.style_path=all"]) == 0
    capsys.readouterr()
    assert add_paths([str(old), str(corpus.root)]) == 1  # kept already: left as it is
    assert "keeps description paths already" in capsys.readouterr().err
    before = (old / "style_paths.safetensors").read_bytes()
    assert add_paths([str(old), str(corpus.root), "--relabel"]) == 0  # written again: the same descriptions, labelled
    assert (old / "style_paths.safetensors").read_bytes() == before
    unlabelled = load_file(old / "style_paths.safetensors")  # as a model trained before paths named their tracks
    labels = unlabelled.pop("track_labels")
    save_file(unlabelled, str(old / "style_paths.safetensors"))
    meta = json.loads((old / "config.json").read_text())
    meta["weights"]["style_paths"] = None  # (no sha256 recorded: the file is read as it is)
    (old / "config.json").write_text(json.dumps(meta))
    assert add_paths([str(old), str(corpus.root), "--relabel"]) == 0
    relabelled = load_file(old / "style_paths.safetensors")
    assert torch.equal(relabelled["track_labels"], labels)
    assert torch.equal(relabelled["rows"], unlabelled["rows"]) and torch.equal(relabelled["starts"], unlabelled["starts"])
    rows = load_file(old / "style_paths.safetensors")
    rows["rows"] = rows["rows"] + 1  # descriptions the corpus would not give: not relabelled
    save_file(rows, str(old / "style_paths.safetensors"))
    meta = json.loads((old / "config.json").read_text())
    meta["weights"]["style_paths"] = None  # (no sha256 recorded: the file is read as it is)
    (old / "config.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert add_paths([str(old), str(corpus.root), "--relabel"]) == 1
    assert "differ from those kept; not relabelled" in capsys.readouterr().err


def test_an_exported_model_keeps_its_paths_and_a_wrong_file_is_refused(style_run, tmp_path, capsys):
    from safetensors.torch import save_file

    from timestepmusic.generation import GANModel
    from timestepmusic.model_export import export_model

    out = export_model(style_run, tmp_path / "exported")
    assert (out / "style_paths.safetensors").is_file()
    model = GANModel.load(out)
    assert model.arm.paths is not None
    assert main(["generate", "--model", str(out), "-n", "1", "--seconds", "1", "-o", str(tmp_path / "a"),
                 "--set", "ar.style_path=all"]) == 0
    meta = json.loads((out / "config.json").read_text())
    save_file({"rows": torch.zeros(3, 5, dtype=torch.float16), "starts": torch.tensor([0, 3])},
              str(out / "style_paths.safetensors"))
    meta["weights"].pop("style_paths")  # (no sha256 recorded: the file is read, and its shape refused)
    meta["weights"]["style_paths"] = None
    (out / "config.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["generate", "--model", str(out), "-n", "1", "--seconds", "1", "-o", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "description paths of 5 attributes" in err[0]


def test_a_model_without_style_gets_no_paths(tiny_corpus, tiny_ae, tmp_path, capsys):
    config = Config().override(TINY_EVENTS | {"gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "run", config, arch="events", progress=False)
    assert add_paths([str(tmp_path / "run"), str(tiny_corpus)]) == 1
    assert "trained with ar.style" in capsys.readouterr().err
    with pytest.raises(ValueError, match="ar.style_path: needs ar.style"):
        Config().override({"ar.style_path": "all"})
    with pytest.raises(ValueError, match="ar.style_path: expected str"):
        Config().override({"ar.style": True, "ar.style_path": True})
    for bad in ("", ",", "loudness,tempo", "pause"):  # (the pause: only with ar.style_pause)
        with pytest.raises(ValueError, match="ar.style_path: must be none, all or a comma-separated list"):
            Config().override({"ar.style": True, "ar.style_path": bad})
    assert Config().override({"ar.style": True, "ar.style_pause": True, "ar.style_path": "pause, loudness"})


@pytest.mark.parametrize("text, seconds, times", [
    ("loudness=40 > loudness=90", 32, (0, 32)),  # the last at the piece's end
    ("loudness=40 > density=6@10 > loudness=90", 32, (0, 10, 32)),
    ("register=C3 > register=C6 > register=C4", 16, (0, 8, 16)),  # untimed: evenly between
    ("loudness=40@0 > loudness=90 @ 12s > loudness=60@20", 30, (0, 12, 20))])  # held after its last
def test_a_path_of_requests_is_read_and_timed(text, seconds, times):
    ramp = StyleRamp.timed(parse_style_path(text), seconds)
    assert tuple(at_s for at_s, _ in ramp.waypoints) == times
    assert [request for _, request in ramp.waypoints] == [parse_style(part.split("@")[0]) for part in text.split(">")]
    assert parse_style_path("damper=0.5,register=C5") == [(0.0, parse_style("damper=0.5,register=C5"))]
    assert parse_style_path("Loudness=40,density=4 > LOUDNESS=90,density=10@20") == [  # several per waypoint
        (0.0, parse_style("loudness=40,density=4")), (20.0, parse_style("loudness=90,density=10"))]


@pytest.mark.parametrize("text, says", [
    ("loudness=40 > loudness=90@40", "none after the piece's end (32 s)"),
    ("loudness=40 > loudness=90@20 > loudness=50@10", "each must come after the one before"),
    ("loudness=40@3 > loudness=90", "the first waypoint holds from the start"),
    ("loudness=40 > loudness=90@x", "is not a time; '@SECONDS' (or '@M:SS'"),
    ("density=3,damper=0.5 > density=12@20,damper=0.9", "ends a waypoint, after all it asks"),
    ("density=3 > @20", "waypoint 2 is empty"), ("density=3 → density=9", "separate the waypoints with '>' alone"),
    ("loudness=40 > loudness=90@nan", "is not a time; '@SECONDS' (or '@M:SS'"),
    ("loudness=40 > loudness=900", "loudness=900: must be in [1, 127]"),
    ("loudness=40 > ", "waypoint 2 is empty")])
def test_a_path_of_requests_that_cannot_be_played_is_refused_in_one_line(text, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        StyleRamp.timed(parse_style_path(text), 32)


def test_each_attribute_moves_in_a_line_and_each_chunk_is_told_its_mean_ahead():
    ramp = StyleRamp(((0.0, {"loudness": 40.0}), (8.0, {"density": 2.0}), (16.0, {"loudness": 80.0})))
    assert ramp.names() == ["loudness", "density"]
    line = ramp.at(np.array([-1.0, 0.0, 4.0, 8.0, 16.0, 30.0]), start={"loudness": 99.0, "density": 1.0})
    assert np.allclose(line["loudness"], [40, 40, 50, 60, 80, 80])  # held before the first and after the last
    assert np.allclose(line["density"], [1.0, 1.0, 1.5, 2.0, 2.0, 2.0])  # from the piece's own at the waypoint before
    assert list(ramp.at(np.zeros(1))) == ["loudness"]  # without the piece's own: left out
    told = ramp.told(100, 0.25, prompt_chunks=8)  # {name: [8 + 100]}
    middles = (np.arange(-8, 100 + style_request.AHEAD) + 0.5) * 0.25
    loudness = ramp.at(middles)["loudness"]
    by_hand = [loudness[chunk:chunk + style_request.AHEAD].mean() for chunk in range(108)]
    assert np.allclose(told["loudness"], by_hand) and told["loudness"][8] == pytest.approx(60.0)
    assert told["loudness"][0] < told["loudness"][8]  # a prompt's chunks: the line held at 40 before it
    assert np.all(np.diff(told["loudness"]) >= 0) and told["loudness"][-1] == pytest.approx(80.0)


def test_a_piece_asked_a_path_is_told_its_ramp_chunk_by_chunk(style_run, monkeypatch, tmp_path, capsys):
    from timestepmusic.generation import GANModel
    from timestepmusic.prompts import prompt_until

    model = GANModel.load(style_run)
    torch.nn.init.normal_(model.arm.generator.style.project.weight)  # as if trained to follow its descriptions
    with torch.no_grad():  # as if trained to press the damper often
        model.arm.generator.events.out["key"][-1].bias[DAMPER_ID] += 5.0
    heard, offset = [], EventGenerator.offset
    monkeypatch.setattr(EventGenerator, "offset", lambda net, told, b: heard.append(told) or offset(net, told, b))
    ramp = StyleRamp(((0.0, {"loudness": 30.0}), (2.0, {"loudness": 100.0, "damper": 0.0})))
    chunks = 12  # within the context: one prefill, then steps with the cache
    pieces = model.sample(2, chunks * 0.25, seed=1, style=ramp)
    told = torch.cat([t for t in heard if t is not None and t.dim() == 3], dim=1)  # [S, C, D]: each chunk's
    assert told.shape[:2] == (2, chunks)
    loudness, damper = ATTRIBUTES.index("loudness"), ATTRIBUTES.index("damper")
    for piece, own in enumerate(model.arm.told):  # [D]: the description each piece began from
        lines = ramp.told(chunks, 0.25, start={"damper": float(own[damper])})
        assert torch.allclose(told[piece, :, loudness], torch.tensor(lines["loudness"]).float())
        assert torch.allclose(told[piece, :, damper], torch.tensor(lines["damper"]).float())
        assert own[damper] > 0 and told[piece, 0, damper] > 0 and told[piece, 8:, damper].eq(0).all()
        pressed_s = pieces[piece].start_s[pieces[piece].ids == DAMPER_ID]
        assert len(pressed_s) and pressed_s.min() < 2.0 and pressed_s.max() < 2.0  # kept up once told none (2 s)
    others = [i for i, name in enumerate(ATTRIBUTES) if name not in ("loudness", "damper")]
    assert torch.equal(told[..., others], told[:, :1, others].expand(-1, chunks, -1))  # the rest held, per piece
    assert model.arm.ramp is None  # left as it was after sampling
    heard.clear()
    prompt = prompt_until(pieces[0], 1.0, 0.25)  # 4 chunks: with the 12 drawn, within the context
    model.sample(2, chunks * 0.25, seed=1, style=ramp, prompt=prompt)  # the prompt's chunks: told the line before it
    told = torch.cat([t for t in heard if t is not None and t.dim() == 3], dim=1)  # [S, P + C, D]
    assert told.shape[1] == 4 + chunks
    lines = ramp.told(chunks, 0.25, prompt_chunks=4, start={"damper": float(model.arm.told[0, damper])})
    assert torch.allclose(told[0, :, loudness], torch.tensor(lines["loudness"]).float())
    assert torch.allclose(told[0, :, damper], torch.tensor(lines["damper"]).float())
    assert main(["generate", "--model", str(style_run), "--style", "loudness=30 > loudness=100@1", "-n", "1",
                 "--seconds", "2", "-o", str(tmp_path / "out")]) == 0
    assert main(["generate", "--model", str(style_run), "--style", "loudness=30 > loudness=100@3", "--seconds", "2",
                 "-o", str(tmp_path / "x")]) == 2
    assert "none after the piece's end (2 s)" in capsys.readouterr().err


def test_a_files_line_names_what_is_played_near_each_waypoint():
    from timestepmusic.heard import shape_heard
    from timestepmusic.midi import Events

    start_s = np.arange(0.0, 16.0, 0.5)  # two notes a second, soft to 8 s, then loud
    velocity = np.where(start_s < 8.0, 40, 80)
    played = Events(np.full(start_s.shape, 39), start_s, np.full(start_s.shape, 0.2), velocity.astype(np.uint8))
    ramp = StyleRamp.timed(parse_style_path("loudness=40 > loudness=60,density=3@8 > loudness=80"), 16.0)
    assert shape_heard(played, 16.0, ramp) == (
        "loudness asked 40 → 60 → 80, played 40 → 60 → 80; density asked · → 3 → 3, played 2 → 2 → 2 (within 4 s "
        "of each waypoint)")
    assert shape_heard(played, 6.0, ramp).startswith(  # a piece that ended at 6 s, before the second waypoint
        "loudness asked 40 → 60 → 80, played 40 → ended → ended; ")
    silent = Events(played.ids[:4], played.start_s[:4], played.duration_s[:4], played.intensity[:4])  # to 2 s
    assert shape_heard(silent, 16.0, ramp).startswith("loudness asked 40 → 60 → 80, played 40 → silent → silent; ")


def test_a_shape_too_short_for_what_each_chunk_is_told_is_named():
    crescendo = parse_style_path("loudness=40 > loudness=90")
    assert StyleRamp.timed(crescendo, 16.0).flattened(64, 0.25) == ["loudness"]  # told 65 → 90 of 40 → 90
    assert StyleRamp.timed(crescendo, 32.0).flattened(128, 0.25) == []  # told 52.5 → 90
    swell = StyleRamp.timed(parse_style_path("density=3,loudness=60 > density=12,loudness=60@4"), 32.0)
    assert swell.flattened(128, 0.25) == ["density"]  # reached in 4 s; loudness asks no range


def labelled_paths() -> StylePaths:
    """Four tracks of two rows each, every row holding a note: two of Bach's, one of Chopin's, one unnamed."""
    rows = torch.ones(8, len(ATTRIBUTES))
    labels = ["Bach\tFugue bwv 846", "Chopin\tBallade 1", "Bach\tPrelude bwv 846", "\tpiece3"]
    return StylePaths(rows, torch.tensor([0, 2, 4, 6, 8]), labels)


def test_paths_keep_each_tracks_composer_and_a_draw_keeps_to_one_composers_tracks():
    paths = StylePaths.from_state(labelled_paths().state_dict())  # as read back from style_paths.safetensors
    assert paths.labels == labelled_paths().labels
    assert paths.composers() == {"Bach": 2, "Chopin": 1}  # most first; an unnamed track counts for none
    assert paths.tracks_of(" bach ").tolist() == [True, False, True, False]  # any case, spaces trimmed
    start = paths.draw(300, torch.Generator().manual_seed(0), played=0.0, tracks=paths.tracks_of("Bach"))
    assert set(paths.track_at(start).tolist()) == {0, 2}
    start = paths.draw(300, torch.Generator().manual_seed(0), played=0.0, tracks=paths.tracks_of("chopin"))
    assert set(paths.track_at(start).tolist()) == {1}
    rows = torch.ones(8, len(ATTRIBUTES))
    rows[2:4, ATTRIBUTES.index("density")] = 0.0  # Chopin's one track: silent throughout
    silent_chopin = StylePaths(rows, paths.starts, paths.labels)
    start = silent_chopin.draw(50, torch.Generator().manual_seed(0), played=0.0, tracks=paths.tracks_of("Chopin"))
    assert set(silent_chopin.track_at(start).tolist()) == {1}  # still Chopin's, though no row of it holds a note
    assert paths.tracks_of("  CHOPIN  ").tolist() == [False, True, False, False]
    for fuller in ("Frédéric Chopin", "F. Chopin", "Chopin, Frédéric"):  # a fuller name, as a score prints it
        assert paths.tracks_of(fuller).tolist() == [False, True, False, False]
    assert paths.tracks_of("J.S. Bach").tolist() == [True, False, True, False]
    with pytest.raises(ValueError, match="not one this model was trained on"):  # two of them: which, not said
        paths.tracks_of("Bach or Chopin")
    with pytest.raises(ValueError, match="give a composer's name; this model knows Bach, Chopin"):
        paths.tracks_of("  ")
    start = paths.draw(2, torch.Generator().manual_seed(1), played=0.0, tracks=paths.tracks_of("Bach"), distinct=True)
    assert sorted(paths.track_at(start).tolist()) == [0, 2]  # two pieces, Bach's two performances: one each
    start = paths.draw(3, torch.Generator().manual_seed(1), played=0.0, tracks=paths.tracks_of("Bach"), distinct=True)
    assert sorted(paths.track_at(start).tolist()[:2]) == [0, 2]  # a third: one of them again
    start = paths.draw(40, torch.Generator().manual_seed(1), played=0.0, room=2)  # rows followed by 2 of their track
    assert (start.floor().long() % 2 == 0).all()  # (each track's first row of two)
    assert paths.draw(40, torch.Generator().manual_seed(1), played=0.0, room=3).floor().long().unique().numel() == 8
    # (no row has room for 3: any row, as without)
    every = torch.ones(4, dtype=torch.bool)  # all tracks allowed: the same draw as without, so unasked pieces keep theirs
    assert torch.equal(paths.draw(20, torch.Generator().manual_seed(3), played=0.0, tracks=every),
                       paths.draw(20, torch.Generator().manual_seed(3), played=0.0))
    with pytest.raises(ValueError, match=re.escape("--composer Mozart: not one this model was trained on; it knows "
                                                   "Bach (2), Chopin (1) (performances of each)")):
        paths.tracks_of("Mozart")
    with pytest.raises(ValueError, match="did you mean Chopin"):  # a typo, near enough …
        paths.tracks_of("shopin")
    with pytest.raises(ValueError, match=r"trained on; it knows"):  # … but not a composer who sounds like none of them
        paths.tracks_of("Bachmann")
    unlabelled = StylePaths(torch.ones(8, len(ATTRIBUTES)), torch.tensor([0, 2, 4, 6, 8]))
    assert StylePaths.from_state(unlabelled.state_dict()).labels is None and unlabelled.composers() == {}
    with pytest.raises(ValueError, match="name no composer"):
        unlabelled.tracks_of("Bach")
    with pytest.raises(ValueError, match="3 track labels for 4 tracks"):
        StylePaths(torch.ones(8, len(ATTRIBUTES)), torch.tensor([0, 2, 4, 6, 8]), ["a\tb"] * 3)


def test_a_runs_paths_are_labelled_with_each_training_tracks_composer_and_title(tiny_corpus):
    corpus = Corpus.open(tiny_corpus)
    tracks = corpus.tracks_in("train")
    for k, track in enumerate(tracks):  # a folder of MIDI files names no composer: name some here
        corpus.tracks[track]["composer"] = ["Bach", "Chopin"][k % 2]
    sampler, locate = training_windows(corpus, tracks)
    paths = StyleGatherer(ChunkGatherer(corpus)).paths(sampler, locate, torch.zeros(len(ATTRIBUTES)))
    assert paths.labels == [f"{['Bach', 'Chopin'][k % 2]}\t{corpus.tracks[t]['title']}\t{Path(corpus.tracks[t]['path']).stem}"
                            for k, t in enumerate(tracks)]  # composer, title, the file's name
    assert paths.composers() == {"Bach": (len(tracks) + 1) // 2, "Chopin": len(tracks) // 2}


def test_pieces_asked_a_composer_walk_only_that_composers_performances(style_run, monkeypatch, tmp_path, capsys):
    from timestepmusic.generation import GANModel
    from timestepmusic.model_info import model_info

    model = GANModel.load(style_run)
    torch.nn.init.normal_(model.arm.generator.style.project.weight)  # as if trained to follow its descriptions
    paths = model.arm.paths
    k = paths.starts.numel() - 1
    names = ["Bach" if i % 3 == 0 else "Chopin" for i in range(k)]
    model.arm.paths = StylePaths(paths.rows, paths.starts, [f"{name}\tpiece {i}" for i, name in enumerate(names)])
    model.arm.settings = dataclasses.replace(model.arm.settings, style_path="all")
    starts, draw = [], StylePaths.draw
    monkeypatch.setattr(StylePaths, "draw", lambda self, *a, **kw: starts.append(draw(self, *a, **kw)) or starts[-1])
    model.sample_latents(6, 2.0, seed=1, snap_to_real=False, composer="BACH")
    assert {names[t] for t in model.arm.paths.track_at(starts[-1]).tolist()} == {"Bach"}
    bach = model.arm.walked_from  # which performance each piece walked, and from where
    assert len(bach) == 6 and all(label.startswith("Bach piece ") and re.search(r" from \d+ s$", label) for label in bach)
    model.sample_latents(6, 2.0, seed=1, snap_to_real=False)
    assert {names[t] for t in model.arm.paths.track_at(starts[-1]).tolist()} == {"Bach", "Chopin"}
    from timestepmusic.draws import written_pieces

    written_pieces(model, 3, 2.0, 4, composer="Bach")  # what tsm generate writes: each file's line names its walk
    assert len(model.walked) == 3 and all(label.startswith("Bach piece ") for label in model.walked)
    written_pieces(model, 3, 2.0, 4)
    assert len(model.walked) == 3 and {label.split()[0] for label in model.walked} <= {"Bach", "Chopin"}
    settings = model.arm.settings  # a composer's performance is followed as an unasked piece's: at ar.style_guidance
    model.arm.settings = dataclasses.replace(settings, request_guidance=2.5, style_guidance=1.5)
    asked = model.sample_latents(2, 2.0, seed=1, snap_to_real=False, composer="Bach")
    assert all(torch.equal(a, b) for a, b in zip(asked, model.sample_latents(2, 2.0, seed=1, snap_to_real=False,
                                                                             composer="Bach", guidance=1.5)))
    assert not all(torch.equal(a, b) for a, b in zip(asked, model.sample_latents(2, 2.0, seed=1, snap_to_real=False,
                                                                                 composer="Bach", guidance=2.5)))
    model.arm.settings = settings
    with pytest.raises(ValueError, match="--composer Liszt: not one this model was trained on"):
        model.sample_latents(1, 2.0, seed=1, composer="Liszt")
    model.arm.settings = dataclasses.replace(model.arm.settings, style_path="none")
    with pytest.raises(ValueError, match="walk no performance's path"):
        model.sample_latents(1, 2.0, seed=1, composer="Bach")
    with pytest.raises(ValueError, match="--composer and --style: give one"):
        model.sample_latents(1, 2.0, seed=1, composer="Bach", style={"loudness": 50.0})
    # the tool: the tiny corpus names no composer, so its model's paths name none; what cannot go together is refused
    # before the model loads
    assert model_info(style_run)["composers"] == {}
    for extra, says in ((["--composer", "Bach"], "name no composer"),
                        (["--composer", "Bach", "--style", "loudness=50"], "--composer and --style: give one"),
                        (["--composer", "Bach", "--prompt", "nowhere.mid"], "a continued --prompt is told its own")):
        assert main(["generate", "--model", str(style_run), "-n", "1", "--seconds", "1", "-o", str(tmp_path / "a"),
                     "--set", "ar.style_path=all", *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0]


def test_the_shipped_default_walks_the_performances_of_seven_composers():
    from timestepmusic.model_info import model_info

    composers = model_info("default")["composers"]
    assert composers == {"Chopin": 225, "Beethoven": 220, "Bach": 119, "Liszt": 114, "Schubert": 49, "Haydn": 26,
                         "Schumann": 17}


def test_a_performances_path_is_described_as_training_describes_a_track(tiny_corpus):
    corpus = Corpus.open(tiny_corpus)
    tracks = corpus.tracks_in("train")
    sampler, locate = training_windows(corpus, tracks)
    from timestepmusic.midi import Events

    events = np.asarray(corpus.track_event_ptr)
    with pytest.MonkeyPatch.context() as patch:  # passages of 2 s, so that the 12 s tracks have rows near their end
        patch.setattr(style_describe, "AHEAD", 8)
        for pause in (False, True):  # (with ar.style_pause, each passage's longest pause too)
            fill = torch.full((len(ATTRIBUTES) + pause,), -7.0)
            paths = StyleGatherer(ChunkGatherer(corpus), pause).paths(sampler, locate, fill)
            for k, track in enumerate(tracks[:3]):
                lo, hi = events[track], events[track + 1]
                performance = Events(*(np.asarray(x[lo:hi]) for x in (corpus.ids, corpus.start_s, corpus.duration_s,
                                                                     corpus.intensity)), corpus.tracks[track]["duration_s"])
                one = style_describe.performance_path(performance, 0.25, fill, pause, label="mine.mid")
                assert one.labels == ["mine.mid"]
                assert one.starts.tolist() == [0, int(paths.starts[k + 1] - paths.starts[k])]
                assert torch.allclose(one.rows.float(), paths.rows[paths.starts[k]:paths.starts[k + 1]].float())
    fill = torch.full((len(ATTRIBUTES),), -7.0)
    on_the_line = style_describe.performance_path(Events([40], [0.0], [11.5], [60]), 0.25, fill)  # ends on a boundary
    assert on_the_line.rows.shape[0] == 3  # 47 chunks, as the corpus counts them (floor(11.5 / 0.25) + 1): rows 0, 16, 32
    silent = style_describe.performance_path(Events([88], [0.0], [3.0], [127]), 0.25, fill)  # a damper press alone
    assert silent.rows.shape[0] == 1 and torch.equal(silent.rows[0, ATTRIBUTES.index("density")].float(),
                                                     torch.tensor(0.0))


def test_pieces_asked_like_a_performance_walk_its_path_from_its_start(style_run, monkeypatch, tmp_path, capsys):
    from timestepmusic.generation import GANModel
    from timestepmusic.midi import Events
    from timestepmusic.midi_write import write_events

    model = GANModel.load(style_run)
    torch.nn.init.normal_(model.arm.generator.style.project.weight)  # as if trained to follow its descriptions
    model.arm.settings = dataclasses.replace(model.arm.settings, style_path="loudness")  # --like: every attribute walks
    start_s = np.arange(0.0, 6.0, 0.25)  # 6 s: soft and sparse, then loud and dense
    loud = start_s >= 3.0
    like = Events(np.full(start_s.shape, 40), start_s, np.full(start_s.shape, 0.2),
                  np.where(loud, 100, 30).astype(np.uint8)).take(np.flatnonzero(~loud | (start_s * 8 % 2 == 0)))
    with monkeypatch.context() as patch:
        heard, offset = [], EventGenerator.offset
        patch.setattr(EventGenerator, "offset", lambda net, told, b: heard.append(told) or offset(net, told, b))
        patch.setattr(style_describe, "AHEAD", 8)  # as the run was trained
        chunks = 12
        model.sample_latents(2, chunks * 0.25, seed=1, snap_to_real=False, like=like)
        told = torch.cat([t for t in heard if t is not None and t.dim() == 3], dim=1)  # [S, C, D]: each chunk's
        path = style_describe.performance_path(like, 0.25, model.arm.generator.style.mean.cpu())
        assert torch.allclose(told, path.tell(torch.zeros(2, dtype=torch.float64), 0, chunks - 1))
        assert model.arm.generator.guidance == 1.0 and model.arm.walking is None  # left as it was after sampling
        heard.clear()  # a recording's silent lead-in is not walked: the same path, from its first note
        late = Events(like.ids, like.start_s + 5.0, like.duration_s, like.intensity)
        model.sample_latents(2, chunks * 0.25, seed=1, snap_to_real=False, like=late)
        told_late = torch.cat([t for t in heard if t is not None and t.dim() == 3], dim=1)  # [S, C, D]
        assert torch.allclose(told_late, told)
        settings = model.arm.settings  # followed as a request is: at ar.request_guidance
        model.arm.settings = dataclasses.replace(settings, request_guidance=2.5, style_guidance=1.5)
        asked = model.sample_latents(2, 2.0, seed=1, snap_to_real=False, like=like)
        assert all(torch.equal(a, b) for a, b in zip(asked, model.sample_latents(2, 2.0, seed=1, snap_to_real=False,
                                                                                 like=like, guidance=2.5)))
        model.arm.settings = settings
    for bad, says in (({"composer": "Bach"}, "--like and --composer: give one"),
                      ({"style": {"loudness": 50.0}}, "--like and --style: give one")):
        with pytest.raises(ValueError, match=re.escape(says)):
            model.sample_latents(1, 2.0, seed=1, like=like, **bad)
    pedal_only = Events(np.array([88]), np.array([0.0]), np.array([2.0]), np.array([127], dtype=np.uint8))
    with pytest.raises(ValueError, match="--like: the performance holds no note"):
        model.sample_latents(1, 2.0, seed=1, like=pedal_only)
    mine = write_events(like, tmp_path / "mine.mid")
    out = tmp_path / "out"
    assert main(["generate", "--model", str(style_run), "-n", "1", "--seconds", "2", "-o", str(out), "--like",
                 str(mine), "--set", "ar.style_path=all"]) == 0
    assert len(list(out.glob("*.mid"))) == 1
    capsys.readouterr()
    for extra, says in ((["--like", str(mine), "--composer", "Bach"], "--like and --composer: give one"),
                        (["--like", str(mine), "--style", "loudness=50"], "--like and --style: give one"),
                        (["--like", str(tmp_path / "none.mid")], "none.mid"),
                        (["--like", str(mine), "--set", "ar.style_path=none"], "walk no performance's path")):
        assert main(["generate", "--model", str(style_run), "-n", "1", "--seconds", "1", "-o", str(tmp_path / "b"),
                     *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err


def test_like_seconds_walks_a_recording_from_inside_it(style_run, tmp_path, capsys):
    from timestepmusic.midi import Events, read_events
    from timestepmusic.midi_write import write_events

    start_s = np.arange(0.0, 6.0, 0.25)  # the passage to walk: soft and sparse, then loud and dense …
    loud = start_s >= 3.0
    passage = Events(np.full(start_s.shape, 40), start_s, np.full(start_s.shape, 0.2),
                     np.where(loud, 100, 30).astype(np.uint8)).take(np.flatnonzero(~loud | (start_s * 8 % 2 == 0)))
    before_s = np.arange(0.0, 80.0, 0.5)  # … after 80 s of other playing, a chord held across the cut dropped
    recording = Events(np.concatenate([np.full(before_s.shape, 70), [60], passage.ids]),
                       np.concatenate([before_s, [79.0], passage.start_s + 80.0]),
                       np.concatenate([np.full(before_s.shape, 0.4), [3.0], passage.duration_s]),
                       np.concatenate([np.full(before_s.shape, 120), [90], passage.intensity]).astype(np.uint8))
    files = write_events(passage, tmp_path / "passage.mid"), write_events(recording, tmp_path / "recording.mid")
    common = ["generate", "--model", str(style_run), "-n", "2", "--seconds", "8", "--set", "ar.style_path=all"]
    assert main([*common, "-o", str(tmp_path / "a"), "--like", str(files[0])]) == 0
    assert main([*common, "-o", str(tmp_path / "b"), "--like", str(files[1]), "--like-seconds", "1:20"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert all("recording.mid from 80 s" in line for line in lines[2:]), lines  # (in seconds, as the line's times)
    for name in ("sample_0_000.mid", "sample_0_001.mid"):  # walked from 1:20, as the passage alone is
        (a, _), (b, _) = (read_events(tmp_path / run / name) for run in "ab")
        assert len(a) > 0 and all(np.array_equal(getattr(a, f), getattr(b, f))
                                  for f in ("ids", "start_s", "duration_s", "intensity"))
    for extra, says in ((["--like-seconds", "3"], "--like-seconds: give the performance to walk with --like"),
                        (["--like", str(files[1]), "--like-seconds", "9:00"],
                         "recording.mid: --like-seconds 9:00: no note starts then or later; its last note starts at "
                         "85.75 s"),
                        (["--like", str(files[1]), "--like-seconds", "-2"],
                         "--like-seconds -2: where to start in the --like file, from its start, must be ≥ 0 (a '-' does "
                         "not count back from the end)"),
                        (["--like", str(files[1]), "--like-seconds", "1:7"], "'1:7' is not a time")):
        with pytest.raises(SystemExit) if "not a time" in says else contextlib.nullcontext():
            assert main([*common, "-o", str(tmp_path / "c"), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert says in err[-1], err
    assert not (tmp_path / "c").exists()


def test_a_files_line_says_how_a_piece_rose_and_fell_with_the_performance_it_was_asked_like():
    from timestepmusic.heard import like_heard
    from timestepmusic.midi import Events

    start_s = np.arange(0.0, 32.0, 0.25)
    velocity = (30 + 2 * start_s).astype(np.uint8)  # louder and louder
    like = Events(np.full(start_s.shape, 40), start_s, np.full(start_s.shape, 0.2), velocity, 32.0)
    falling = Events(like.ids, like.start_s, like.duration_s, velocity[::-1].copy(), 32.0)
    assert like_heard(like, 32.0, like, "mine.mid") == (  # an even density and no damper: neither rises nor falls
        "; against mine.mid in 4 windows of 8 s: loudness off by 0.0 (r +1.00), density off by 0.0 notes/s (mine.mid "
        "holds it steady), damper off by 0.00 (mine.mid holds it steady)")
    said = like_heard(falling, 32.0, like, "mine.mid")
    assert "loudness off by 32.0 (r -1.00)" in said
    assert like_heard(falling, 16.0, like, "mine.mid") == (  # two windows: too few for a correlation
        "; against mine.mid in 2 windows of 8 s: loudness off by 32.0, density off by 0.0 notes/s (mine.mid holds it "
        "steady), damper off by 0.00 (mine.mid holds it steady)")
    barely = (30 + 0.05 * start_s).astype(np.uint8)  # louder by 1 velocity step over 32 s: steady, by ear
    level = Events(like.ids, like.start_s, like.duration_s, barely, 32.0)
    said = like_heard(falling, 32.0, level, "level.mid")  # a correlation would say r +0.9 or so of noise
    assert "loudness off by 31.1 (level.mid holds it steady)" in said and "(r " not in said
    first = like.start_s < 15.0  # a file that ends before the piece (at 14.95 s): its windows alone
    short = Events(like.ids[first], like.start_s[first], like.duration_s[first], like.intensity[first])
    assert like_heard(falling, 32.0, short, "short.mid").startswith("; against short.mid in 1 window of 8 s:")
    one = like_heard(falling, 8.0, like, "mine.mid")  # one window tells nothing of how the file moves (it rises here)
    assert one == "; against mine.mid in 1 window of 8 s: loudness off by 48.0, density off by 0.0 notes/s, damper off by 0.00"
    assert like_heard(falling, 5.0, like, "mine.mid") == "; walks the shape of mine.mid"


def test_a_composers_surname_or_unaccented_name_finds_maestros_full_name():
    """MAESTRO names composers in full ('Frédéric Chopin'): `--composer Chopin`, as the README asks the default, finds
    them; a name of two composers ('Franz Schubert / Franz Liszt', a transcription) is no one's by surname alone."""
    labels = ["Frédéric Chopin\tBallade No. 1", "Franz Liszt\tLa campanella", "Franz Schubert / Franz Liszt\tErlkönig",
              "Franz Schubert\tImpromptu", "Antonín Dvořák\tHumoresque"]
    paths = StylePaths(torch.ones(10, len(ATTRIBUTES)), torch.arange(0, 11, 2), labels)
    assert paths.tracks_of("Chopin").tolist() == [True, False, False, False, False]
    assert paths.tracks_of("liszt").tolist() == [False, True, False, False, False]
    assert paths.tracks_of("Schubert").tolist() == [False, False, False, True, False]
    assert paths.tracks_of("frederic chopin").tolist() == [True, False, False, False, False]  # accents left out
    assert paths.tracks_of("Dvorak").tolist() == [False, False, False, False, True]
    assert paths.tracks_of("Franz Schubert / Franz Liszt").tolist() == [False, False, True, False, False]
    with pytest.raises(ValueError, match="not one this model was trained on"):
        paths.tracks_of("Franz")  # a first name: whose, not said


def test_a_surname_two_composers_share_is_said_as_theirs_not_as_unknown():
    """`--composer Bach` of a MAESTRO model (J.S. Bach and C.P.E. Bach) was 'not one this model was trained on'; it is
    both composers' surname: it names them (neither picked), and each full name finds its own."""
    labels = ["Johann Sebastian Bach\tPrelude", "Carl Philipp Emanuel Bach\tSolfeggietto", "Frédéric Chopin\tBallade"]
    paths = StylePaths(torch.ones(6, len(ATTRIBUTES)), torch.arange(0, 7, 2), labels)
    with pytest.raises(ValueError, match=r"^--composer Bach: the surname of more than one composer this model was "
                       r"trained on: .*Johann Sebastian Bach \(1\).*; give one's full name$") as said:
        paths.tracks_of("Bach")
    assert "Carl Philipp Emanuel Bach (1)" in str(said.value) and "Chopin" not in str(said.value)
    assert paths.tracks_of("emanuel bach").tolist() == [False, True, False]
    assert paths.tracks_of("Johann Sebastian Bach").tolist() == [True, False, False]


def test_a_fuller_name_read_as_a_shorter_one_is_said(caplog):
    """`--composer "C.P.E. Bach"` of a model that knows only 'Bach' (ASAP's name for J.S. Bach) played J.S. Bach without
    a word; the model cannot tell which Bach its 'Bach' is, so it says which name it read the request as."""
    paths = labelled_paths()
    with caplog.at_level(logging.WARNING, logger="timestepmusic.sequence.style"):
        assert paths.tracks_of("C.P.E. Bach").tolist() == [True, False, True, False]
    assert [r.getMessage() for r in caplog.records] == [
        "--composer C.P.E. Bach: this model knows no fuller name than Bach (2 performances); playing in the manner of "
        "those"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="timestepmusic.sequence.style"):
        paths.tracks_of("bach")  # the name it knows: nothing to say
    assert caplog.records == []


def test_a_run_trained_with_descriptions_but_set_to_walk_none_names_the_setting_that_walks(style_run, tmp_path, capsys):
    """A run of one's own trained with ar.style keeps ar.style_path at none: --composer said only that the shipped
    default walks a path (--like offered `--set ar.style_path=all`). Both now name the setting, and it works."""
    from timestepmusic.midi import Events
    from timestepmusic.midi_write import write_events
    from timestepmusic.sequence.path_walk import DEFAULT_WALKED, check_walks

    hint = f"or give --set ar.style_path={DEFAULT_WALKED}"
    for flag in ("--composer", "--like"):
        with pytest.raises(ValueError, match=re.escape(f"{flag}: this model is set to walk no performance's path")) as e:
            check_walks(flag, True, None)
        assert str(e.value).endswith(hint)
        with pytest.raises(ValueError) as e:
            check_walks(flag, False, torch.ones(3, dtype=torch.bool))
        assert str(e.value).endswith("or give --set ar.style_drawn=true")
    rng = np.random.default_rng(3)
    mine = write_events(Events(rng.integers(40, 80, 24), np.arange(24) * 0.25, np.full(24, 0.2),
                               rng.integers(30, 100, 24).astype(np.uint8)), tmp_path / "mine.mid")
    common = ["generate", "--model", str(style_run), "-n", "1", "--seconds", "2", "--like", str(mine)]
    assert main([*common, "-o", str(tmp_path / "a")]) == 2
    assert capsys.readouterr().err.strip().endswith(hint)
    assert main([*common, "-o", str(tmp_path / "b"), *hint.removeprefix("or give ").split()]) == 0
