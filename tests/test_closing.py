"""How a piece ends (ar.closing_s): the last chunks of each track told how many are left, trained alone on a
warm start, and a piece that ends itself closed over them."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from test_events_arm import TINY_EVENTS, events_run  # noqa: F401 (the module's fixture)
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.generation import GANModel
from timestepmusic.midi import read_events
from timestepmusic.sequence.closing import NOT_CLOSING, Closing, TrackEnds, closing_left
from timestepmusic.train.sequence import train_sequence_model


def test_chunks_left_count_the_chunk_itself_and_only_inside_the_closing():
    closing_at = torch.tensor([10, 12, 100])  # piece 2 never closes here
    left = closing_left(closing_at, 9, 14, chunks=4)  # chunks 9 … 14
    assert left.tolist() == [[0, 4, 3, 2, 1, 0], [0, 0, 0, 4, 3, 2], [0] * 6]
    table = Closing(4, 3)
    with torch.no_grad():
        table.offsets.copy_(torch.arange(12.0).view(4, 3))
    told = table(left)  # [3, 6, 3]
    assert torch.equal(told[0, 1], table.offsets[3]) and torch.equal(told[0, 4], table.offsets[0])
    assert not told[:, 0].any() and not told[2].any()  # (NOT_CLOSING reads nothing)
    assert NOT_CLOSING == 0


def test_track_ends_tell_each_window_step_its_chunks_left(tiny_corpus):
    corpus = Corpus.open(tiny_corpus)
    ptr = np.asarray(corpus.track_chunk_ptr)
    last = int(ptr[1]) - 1  # track 0's last chunk
    rows = torch.tensor([[last - 2, last - 1, last, last]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])  # (the window's end: padding past it)
    assert TrackEnds(corpus).left(rows, mask).tolist() == [[3, 2, 1, NOT_CLOSING]]


def test_closing_to_the_last_onset_tells_the_final_chords_chunk_1(tiny_corpus):
    corpus = Corpus.open(tiny_corpus)
    ptr = np.asarray(corpus.track_chunk_ptr)
    for track in range(corpus.num_tracks):
        events = corpus.track_events(track)
        final = int(ptr[track]) + int(events.start_s[events.is_note].max() // corpus.chunk_seconds)  # its chunk
        assert final < int(ptr[track + 1]) - 1  # (the tiny tracks ring on past their last onset)
        rows = torch.arange(final - 2, int(ptr[track + 1]))[None]  # [1, T]: to the track's last chunk
        left = TrackEnds(corpus, "last_onset").left(rows, torch.ones(rows.shape))
        assert left[0, :3].tolist() == [3, 2, 1] and (left[0, 3:] < 0).all()  # (after: told with a ring)
        assert TrackEnds(corpus, "end").left(rows, torch.ones(rows.shape))[0, -1] == 1
    with pytest.raises(ValueError, match="ar.closing_to"):
        Config().override({"ar.closing_to": "last_note"})


def test_chunks_after_the_final_onset_are_told_after_the_closing_and_read_their_own_rows(tiny_corpus):
    left = closing_left(torch.tensor([10]), 9, 16, chunks=3, after=2)  # chunks 9 … 16
    assert left.tolist() == [[0, 3, 2, 1, -1, -2, 0, 0]]
    table = Closing(3, 2, after=2)
    with torch.no_grad():
        table.offsets.copy_(torch.arange(10.0).view(5, 2))
    told = table(left)[0]  # [8, 2]
    assert told[4].tolist() == table.offsets[3].tolist() and told[5].tolist() == table.offsets[4].tolist()
    assert not told[[0, 6, 7]].any()
    corpus = Corpus.open(tiny_corpus)
    ptr = np.asarray(corpus.track_chunk_ptr)
    events = corpus.track_events(0)
    final = int(ptr[0]) + int(events.start_s[events.is_note].max() // corpus.chunk_seconds)
    rows = torch.arange(final - 1, final + 3)[None]  # [1, 4]
    assert TrackEnds(corpus, "last_onset").left(rows, torch.ones(rows.shape)).tolist() == [[2, 1, -1, -2]]
    with pytest.raises(ValueError, match="ar.closing_ring_s"):
        Config().override({"ar.closing_s": 8.0, "ar.closing_ring_s": 2.0})  # (counted to the end: nothing after)


@pytest.fixture(scope="module")
def closing_run(events_run, tiny_corpus, tmp_path_factory):  # noqa: F811
    run = tmp_path_factory.mktemp("closing") / "run"
    config = Config().override(TINY_EVENTS | {"ar.closing_s": 1.0, "ar.closing_only": True, "ar.lr": 0.05,
                                             "gan.steps": 6})
    train_sequence_model(tiny_corpus, None, run, config, init_from=events_run / "last", progress=False)
    return run


def test_closing_only_trains_the_closing_and_nothing_else(events_run, closing_run):  # noqa: F811
    before, after = load_file(events_run / "last" / "generator.safetensors"), load_file(
        closing_run / "last" / "generator.safetensors")
    assert set(after) - set(before) == {"closing.offsets", "closing.heard"}
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert after["closing.offsets"].abs().sum() > 0 and after["closing.heard"].abs().sum() > 0


def test_a_piece_that_ends_itself_closes_as_before_until_its_closing(closing_run):
    model = GANModel.load(closing_run / "last")
    chunks = model.arm.closing_chunks
    assert chunks == 4  # 1 s of 0.25 s chunks
    closed = model.sample_latents(3, 20.0, 5, ends=True, snap_to_real=False)
    drawn_closed = list(model.arm.drawn)
    model.arm.closing_chunks = 0  # the same weights, the piece stopping where the end head says
    stopped = model.sample_latents(3, 20.0, 5, ends=True, snap_to_real=False)
    drawn_stopped = list(model.arm.drawn)
    first_end = min(piece.shape[0] for piece in stopped)
    assert first_end < 80, "the end head ended no piece: the test needs one that does"
    for a, b in zip(drawn_closed[:first_end], drawn_stopped[:first_end]):  # every piece alike up to the first end
        assert torch.equal(a.ids, b.ids) and torch.equal(a.sizes, b.sizes)
    shortest = int(np.argmin([piece.shape[0] for piece in stopped]))
    assert closed[shortest].shape[0] == min(first_end + chunks, 80)  # its closing's chunks after it
    assert all(piece.shape[0] <= 80 for piece in closed)


def test_ending_closes_a_piece_of_a_fixed_length_over_its_last_chunks(closing_run, events_run, capsys):  # noqa: F811
    model = GANModel.load(closing_run / "last")
    with torch.no_grad():  # a closing told loudly, so that its chunks surely draw otherwise
        model.arm.generator.closing.offsets.fill_(3.0)
        model.arm.generator.closing.heard.fill_(3.0)
    plain = model.sample_latents(2, 5.0, 7, snap_to_real=False)  # 20 chunks
    drawn_plain = list(model.arm.drawn)
    closed = model.sample_latents(2, 5.0, 7, snap_to_real=False, ending=True)
    drawn_closed = list(model.arm.drawn)
    assert [p.shape[0] for p in closed] == [p.shape[0] for p in plain] == [20, 20]  # the length asked
    for a, b in zip(drawn_plain[:16], drawn_closed[:16]):  # alike until the last 4 chunks (1 s) close
        assert torch.equal(a.ids, b.ids) and torch.equal(a.sizes, b.sizes)
    assert any(not torch.equal(a.ids, b.ids) for a, b in zip(drawn_plain[16:], drawn_closed[16:]))
    assert main(["generate", "--model", str(events_run / "last"), "--ending", "-n", "1", "--seconds", "2", "-o",
                 str(closing_run.parent / "out")]) == 2
    assert "--ending:" in capsys.readouterr().err and "trained without a closing (ar.closing_s)" in \
        str(pytest.raises(ValueError, GANModel.load(events_run / "last").sample_latents, 1, 2.0, 0, ending=True).value)


def test_ending_says_so_where_the_whole_piece_is_its_closing(closing_run, caplog):
    out = closing_run.parent / "short"
    with caplog.at_level("WARNING"):  # the closing is 1 s; each piece half that
        assert main(["generate", "--model", str(closing_run / "last"), "--ending", "-n", "1", "--seconds", "0.5", "-o",
                     str(out)]) == 0
    assert "over its last 1 s; a piece of 0.5 s is closing all through" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert main(["generate", "--model", str(closing_run / "last"), "--ending", "-n", "1", "--seconds", "2", "-o",
                     str(out), "--overwrite"]) == 0
    assert "closing all through" not in caplog.text


def test_ending_with_a_cap_is_said_as_implied_and_draws_the_same(closing_run, events_run, tmp_path, caplog):  # noqa: F811
    """A new user's trial: `--ending --max-seconds 60` was taken without a word, and --ending changed nothing (a piece
    that ends itself always closes): one warning says it is implied, and the files are those drawn without it; a model
    without a closing still refuses --ending, without the warning."""
    drawn = {}
    for ending in ([], ["--ending"]):
        caplog.clear()
        with caplog.at_level("WARNING"):
            assert main(["generate", "--model", str(closing_run / "last"), "--max-seconds", "3", *ending, "-n", "2", "-q",
                         "-o", str(tmp_path / f"out{len(ending)}")]) == 0
        implied = [r.getMessage() for r in caplog.records if "implied" in r.getMessage()]
        assert implied == ([] if not ending else ["--ending is implied by --max-seconds: a piece that ends itself "
                                                  "always closes (--ending closes a piece of --seconds)"]), implied
        drawn[bool(ending)] = [read_events(p)[0] for p in sorted((tmp_path / f"out{len(ending)}").glob("*.mid"))]
    assert len(drawn[True]) == len(drawn[False]) == 2  # the same notes and pedals (only the command in each file differs)
    for with_it, without in zip(drawn[True], drawn[False]):
        assert with_it.ids.size > 0
        assert all(np.array_equal(a, b) for a, b in zip(dataclasses.astuple(with_it), dataclasses.astuple(without)))
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert main(["generate", "--model", str(events_run / "last"), "--max-seconds", "3", "--ending", "-n", "1",
                     "-q", "-o", str(tmp_path / "plain")]) == 2
    assert "implied" not in caplog.text


@pytest.mark.parametrize("model,cap,said", [
    ("closing", "0.5", "this model closes a piece over its last 1 s and ends none itself before 1 s (ar.end_after_s); "
     "every piece is 0.5 s, closing all through (a slower, thinner passage to a final chord)"),
    ("closing", "1.5", "this model closes a piece over its last 1 s and ends none itself before 1 s (ar.end_after_s); "
     "every piece is 1.5 s, the cap (more than 2 s lets the model end them)"),
    ("closing", "2", "every piece is 2 s, the cap"),  # (ended at 1 s, closed over 1 s more: 2 s, the cap)
    ("closing", "2.25", None),  # (one ended at 1 s closes by 2 s: before the cap)
    ("plain", "0.75", "this model ends none itself before 1 s (ar.end_after_s); every piece is 0.75 s, the cap (more "
     "than 1 s lets the model end them)"),
    ("plain", "1.25", None),
])
def test_a_cap_within_the_floor_and_the_closing_is_said(closing_run, events_run, tmp_path, caplog, model, cap,  # noqa: F811
                                                        said):
    """--max-seconds no longer than ar.end_after_s and the closing after it: every piece runs to the cap (closing all
    through where the cap is shorter than the closing), said in one line as --ending's piece shorter than its closing
    is; before, each piece was the cap's length, unsaid."""
    run = closing_run if model == "closing" else events_run / "last"
    with caplog.at_level("WARNING"):
        assert main(["generate", "--model", str(run), "--max-seconds", cap, "--set", "ar.end_after_s=1", "-n", "1", "-q",
                     "-o", str(tmp_path / "out")]) == 0
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("--max-seconds")]
    assert lines == ([] if said is None else [lines[0]]) and (said is None or said in lines[0]), lines


def told_left(model: GANModel, *args, **kwargs) -> list[list[int]]:
    """The chunks left each drawn chunk was told, per chunk drawn ([S] each; 0: nothing told)."""
    arm, told = model.arm, []
    draw = arm.draw

    def recording(density, rng):
        now = arm.closing_now
        told.append(None if now is None else now.tolist())
        return draw(density, rng)

    arm.draw = recording
    try:
        n = len(model.sample_latents(*args, snap_to_real=False, **kwargs))
    finally:
        del arm.draw
    return [[0] * n if chunk is None else chunk for chunk in told]


@pytest.mark.parametrize("ends", [False, True])
def test_a_piece_shorter_than_its_closing_ends_told_one_chunk_left(closing_run, ends):
    model = GANModel.load(closing_run / "last")  # K = 4 chunks of 0.25 s
    told = told_left(model, 1, 0.5, 3, ending=True, ends=ends)  # 2 chunks: the whole piece closes
    assert [chunk[0] for chunk in told] == [2, 1]  # as training tells a track of 2 chunks


@pytest.fixture(scope="module")
def ring_run(events_run, tiny_corpus, tmp_path_factory):  # noqa: F811
    run = tmp_path_factory.mktemp("ring") / "run"
    config = Config().override(TINY_EVENTS | {"ar.closing_s": 1.0, "ar.closing_to": "last_onset",
                                             "ar.closing_ring_s": 0.5, "ar.closing_only": True, "gan.steps": 2})
    train_sequence_model(tiny_corpus, None, run, config, init_from=events_run / "last", progress=False)
    return run


@pytest.mark.parametrize("ends", [False, True])
@pytest.mark.parametrize("seconds,said", [(5.0, [0] * 14 + [4, 3, 2, 1, -1, -2]), (1.0, [2, 1, -1, -2]),
                                          (0.75, [1, -1, -2]), (0.5, [1, -1]), (0.25, [1])])
def test_a_piece_with_a_ring_is_told_as_a_track_is_to_its_last_onset_and_after(ring_run, ends, seconds, said):
    """K = 4 chunks of 0.25 s, then R = 2 after the final chord: the piece's chunks told as training tells a track's
    (4 … 1 to its last onset's chunk, then -1, -2), and a piece of R chunks or fewer still draws its final chord, told
    1, rather than only ringing out one no chunk of it struck."""
    model = GANModel.load(ring_run / "last")
    assert model.arm.closing_chunks == 6
    assert [chunk[0] for chunk in told_left(model, 1, seconds, 3, ending=True, ends=ends)] == said


def test_a_closing_counted_to_the_last_onset_or_ringing_needs_a_closing():
    """Without ar.closing_s nothing is told: a ring alone made a model whose --ending and --max-seconds failed in
    a traceback (a closing of R chunks and no table to tell them from)."""
    for given in ({"ar.closing_to": "last_onset"}, {"ar.closing_to": "last_onset", "ar.closing_ring_s": 1.0}):
        with pytest.raises(ValueError, match="needs ar.closing_s"):
            Config().override(given)
    assert Config().override({"ar.closing_s": 4.0, "ar.closing_to": "last_onset", "ar.closing_ring_s": 1.0})


@pytest.mark.parametrize("arch,extra,said", [
    ("ar", {}, "ar.closing_s: only the events arm"),  # (the ar arm would train every weight, told nothing)
    ("events", {"gan.finetune_ae": True}, "gan.finetune_ae"),  # (the autoencoder would learn too)
])
def test_closing_only_is_refused_where_other_weights_would_learn(events_run, tiny_corpus, tiny_ae, tmp_path,  # noqa: F811
                                                                  arch, extra, said):
    config = Config().override(TINY_EVENTS | {"ar.closing_s": 1.0, "ar.closing_only": True, "gan.steps": 2} | extra)
    with pytest.raises(ValueError, match=said):
        train_sequence_model(tiny_corpus, None if arch == "events" else tiny_ae, tmp_path / "run", config, arch=arch,
                             init_from=events_run / "last" if arch == "events" else None, progress=False)
    assert not (tmp_path / "run").exists()


def test_closing_only_needs_a_warm_start(tiny_corpus, tiny_ae, tmp_path):
    config = Config().override(TINY_EVENTS | {"ar.closing_s": 1.0, "ar.closing_only": True, "gan.steps": 2})
    with pytest.raises(ValueError, match="--init-from"):
        train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "run", config, arch="events", progress=False)


def test_the_info_of_a_latents_model_leaves_the_closing_out(tiny_corpus, tiny_ae, tmp_path):
    from timestepmusic.model_info import model_info

    config = Config().override({"ar.context": 16, "ar.width": 16, "ar.layers": 1, "ar.heads": 2, "ar.mixture": 2,
                                "ar.batch": 4, "gan.steps": 1})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "run", config, arch="ar", progress=False)
    ar = model_info(tmp_path / "run" / "last")["ar"]  # (an events-only setting: the ar arm reads neither)
    assert not {"closing_s", "closing_to", "closing_ring_s", "closing_only"} & set(ar) and "mixture" in ar


def test_info_offers_the_ending_only_to_a_model_with_a_closing():
    from timestepmusic.generate_info import info_words

    def asked(info: dict) -> str:
        return next((line for line in info_words(info) if line.startswith("it may be asked: ")), "")

    closes = {"arch": "events", "ar": {"closing_s": 8.0}}
    assert "--ending (its last 8 s close)" in asked(closes)  # (a musician reads --info to learn what to ask)
    rings = {"arch": "events", "ar": {"closing_s": 8.0, "closing_to": "last_onset", "closing_ring_s": 2.0}}
    assert "--ending (its last 10 s close)" in asked(rings)  # (the ring is played after the closing)
    assert "--ending" not in asked({"arch": "events", "ar": {"closing_s": 0.0}})
    assert "--ending" not in asked({"arch": "events", "ar": {}})  # (a model from before the closing)
    slows = {"arch": "events", "ar": {"closing_s": 8.0, "closing_ring_s": 2.0, "final_ritard": 3.0}}
    assert "--ending (its last 10 s close, slowing into the final chord)" in asked(slows)


def test_the_help_info_and_warning_say_the_defaults_closing_alike(tmp_path, caplog):
    """--ending's help, --info and the warning of a piece shorter than its closing each give the default's closing as
    its model holds it: ar.closing_s to the final chord and ar.closing_ring_s of its ring (the help said 8 s, the
    closing alone, where --info and the warning said 10 s)."""
    import re

    from timestepmusic.generate_flags import generate_parser
    from timestepmusic.generate_info import info_words
    from timestepmusic.model_info import model_info

    info = model_info("default")
    closes_s = info["ar"]["closing_s"] + info["ar"].get("closing_ring_s", 0.0)
    helped = next(a.help for a in generate_parser()._actions if "--ending" in a.option_strings)
    assert re.findall(r"([\d.]+) s\b", helped) == [f"{closes_s:g}"] and "--info says each model's" in helped
    assert f"--ending (its last {closes_s:g} s close, slowing into the final chord)" in "\n".join(info_words(info))
    with caplog.at_level("WARNING"):
        assert main(["generate", "--ending", "--seconds", "1", "-n", "1", "-q", "-o", str(tmp_path / "out")]) == 0
    assert f"this model closes a piece over its last {closes_s:g} s; a piece of 1 s" in caplog.text


def test_no_note_starts_in_a_ring_chunk_as_in_no_training_track(ring_run, monkeypatch):
    """The chunks told -1 … -R follow the chunk of a track's last note's start: none starts a note in training, and
    none may in sampling (pedals may still move); every other chunk draws as without the rule."""
    from timestepmusic.midi import NUM_KEYS
    from timestepmusic.sequence.event_sampler import EventSampler

    def ring_notes(model: GANModel) -> tuple[list, int]:
        model.sample_latents(16, 5.0, 3, snap_to_real=False, ending=True)  # 20 chunks, the last 2 the ring
        notes = [int((sets.ids[:, :] < NUM_KEYS).logical_and(
            torch.arange(sets.ids.shape[1])[None] < sets.sizes[:, None]).sum()) for sets in model.arm.drawn]
        return [sets.ids.tolist() for sets in model.arm.drawn[:18]], sum(notes[18:])

    before_ring, in_ring = ring_notes(GANModel.load(ring_run / "last"))
    assert in_ring == 0
    sample = EventSampler.sample
    monkeypatch.setattr(EventSampler, "sample", lambda self, *a, noteless=None, **k: sample(self, *a, **k))
    unruled_before, unruled_in_ring = ring_notes(GANModel.load(ring_run / "last"))
    assert unruled_in_ring > 0 and unruled_before == before_ring  # (the rule is what kept them out)


def test_the_final_hold_holds_only_the_final_chord_longer(ring_run):
    """ar.final_hold β: in the chunk told 1 (the closing's final chord) each note's duration is drawn with β ×
    ln(its seconds) added to its logits; every chunk before it draws exactly as without."""
    from timestepmusic.generation import set_sampling
    from timestepmusic.midi import NUM_KEYS

    def drawn(hold: float) -> list:
        model = GANModel.load(ring_run / "last")
        set_sampling(model, [f"ar.final_hold={hold}"])
        model.sample_latents(64, 5.0, 3, snap_to_real=False, ending=True)  # 20 chunks: 14–17 told 4 … 1, then 2 after
        return model.arm.drawn

    def note_log_seconds(sets) -> torch.Tensor:
        notes = (sets.ids < NUM_KEYS) & (torch.arange(sets.ids.shape[1])[None] < sets.sizes[:, None])  # [S, N]
        return sets.duration_s[notes].log()

    plain, held = drawn(0.0), drawn(2.0)
    assert all(torch.equal(a.ids, b.ids) and torch.equal(a.duration_s, b.duration_s) for a, b in zip(plain[:17], held[:17]))
    assert note_log_seconds(held[17]).mean() > note_log_seconds(plain[17]).mean() + 0.5
    with pytest.raises(ValueError, match="ar.final_hold"):
        Config().override(["ar.final_hold=-1"])


def test_a_tilt_per_piece_draws_a_piece_told_zero_as_without_any():
    from timestepmusic.sequence.event_head import EventHead
    from timestepmusic.sequence.event_sampler import EventSampler

    torch.manual_seed(6)
    head = EventHead(width=8, hidden=16, max_events=15, chunk_seconds=0.25)
    features = torch.randn(400, 8)
    tilt = torch.tensor([0.0, 1.0]).repeat(200)  # [S]: every other piece held longer
    kept = tilt == 0
    for told in (features, torch.cat([features, torch.randn(400, 8)])):  # unguided [S, W]; guided [2S, W]: told, untold
        guidance = 1.0 if told.shape[0] == 400 else 2.0
        plain = EventSampler(head).sample(told, torch.Generator().manual_seed(0), guidance=guidance)
        tilted = EventSampler(head).sample(told, torch.Generator().manual_seed(0), guidance=guidance, duration_tilt=tilt)
        assert plain.ids.shape[0] == 400  # (one set per piece, guided or not)
        assert torch.equal(plain.ids[kept], tilted.ids[kept])
        assert torch.equal(plain.duration_s[kept], tilted.duration_s[kept])
        notes = [(d.duration_s[~kept][d.mask[~kept] & (d.ids[~kept] < 88)]).log().mean() for d in (plain, tilted)]
        assert notes[1] > notes[0] + 0.5


def test_the_final_hold_adds_to_the_duration_tilt_of_every_chunk():
    """ar.final_hold is added to ar.duration_tilt in the final chord's chunk, not put in its place: with
    ar.duration_tilt 0.5, a final hold of 0.25 held the final chord shorter (0.25) than every other chunk (0.5), and
    a final hold of 0 as long as them."""
    from types import SimpleNamespace

    from timestepmusic.ar_config import AutoregressiveConfig
    from timestepmusic.sequence.events import EventAutoregressive

    def tilts(hold: float, closing_now: torch.Tensor | None):
        arm = SimpleNamespace(settings=AutoregressiveConfig(duration_tilt=0.5, final_hold=hold, closing_s=1.0),
                              closing_now=closing_now)
        tilt = EventAutoregressive.duration_tilt(arm)
        return tilt.tolist() if isinstance(tilt, torch.Tensor) else tilt

    told = torch.tensor([1, 2, 0, -1])  # [S]: the final chord's chunk, one before it, none, one after it
    assert tilts(0.25, told) == [0.75, 0.5, 0.5, 0.5]
    assert tilts(0.0, told) == 0.5 and tilts(0.25, None) == 0.5 and tilts(0.25, torch.tensor([2, 0])) == 0.5


@pytest.mark.parametrize("setting,said", [
    ("final_hold=1", "needs ar.closing_s"),  # (a model without a closing has no final chord to hold: not silently nothing)
    ("final_hold=inf", "finite"),
    ("final_hold=nan", "finite"),
    ("final_held_s=1", "needs ar.closing_s"),
    ("final_held_s=-1", r"must be in \[0, 10\] seconds"),
    ("final_held_s=nan", r"must be in \[0, 10\] seconds"),
    ("final_held_s=inf", r"must be in \[0, 10\] seconds"),
    ("final_velocity_floor=0.5", "needs ar.closing_s"),
    ("final_velocity_floor=1.5", r"must be in \[0, 1\]"),
    ("final_velocity_floor=nan", r"must be in \[0, 1\]"),
])
def test_a_final_hold_that_cannot_hold_is_refused(setting, said):
    from timestepmusic.ar_config import AutoregressiveConfig

    name, _, value = setting.partition("=")
    with pytest.raises(ValueError, match=f"ar.{name}.*{said}"):
        AutoregressiveConfig(**{name: float(value)}, closing_s=0.0 if said.startswith("needs") else 8.0)
    assert AutoregressiveConfig(final_hold=1.0, closing_s=8.0).final_hold == 1.0


def test_a_final_ritard_slows_only_into_a_closed_pieces_final_chord(ring_run):
    """ar.final_ritard ρ over ar.final_ritard_s: a piece that closes is drawn as without it, its time before the
    span kept, and from its final onset on (K = 4, R = 2: the chunk told 1, the final chord's, is the 18th of 20)
    played (ρ − 1) × span / 2 s later; a piece that does not close is as drawn."""
    from timestepmusic.generation import set_sampling
    from timestepmusic.ritardando import final_onset_s

    def pieces(ending: bool, *settings: str):
        model = GANModel.load(ring_run / "last")
        set_sampling(model, list(settings))
        return model.sample(6, 5.0, 3, snap_to_real=False, ending=ending), model.arm.final_chunks

    (plain, finals), (slowed, _) = pieces(True), pieces(True, "ar.final_ritard=3", "ar.final_ritard_s=0.5")
    assert finals.tolist() == [17] * 6
    for before, after in zip(plain, slowed):
        final_s = final_onset_s(before)
        assert 17 * 0.25 <= final_s < 18 * 0.25  # (no note starts in the ring)
        early, late = before.start_s < final_s - 0.5, before.start_s >= final_s
        assert np.array_equal(after.start_s[early], before.start_s[early])
        assert np.array_equal(after.ids, before.ids)
        assert after.start_s[late] == pytest.approx(before.start_s[late] + 0.5)
    unclosed, unclosed_finals = pieces(False, "ar.final_ritard=3")
    assert (unclosed_finals == -1).all()
    assert all(np.array_equal(a.start_s, b.start_s) for a, b in zip(unclosed, pieces(False)[0]))


@pytest.mark.parametrize("setting,said", [
    ("ar.final_ritard=0.5", r"ar.final_ritard=.*must be in \[1, 10\]"),  # (a speeding up is not a slowing)
    ("ar.final_ritard=1e6", r"ar.final_ritard=.*must be in \[1, 10\]"),  # (a last sound 500,000 s on)
    ("ar.final_ritard=nan", r"ar.final_ritard=nan: expected a finite number"),
    ("ar.final_ritard_s=0", r"ar.final_ritard_s=.*must be in \(0, 30\]"),
    ("ar.final_ritard_s=inf", r"ar.final_ritard_s=inf: expected a finite number"),
])
def test_a_final_ritard_beyond_its_range_is_refused(setting, said):
    with pytest.raises(ValueError, match=said):
        Config().override([setting, "ar.closing_s=8"])
    assert Config().override(["ar.final_ritard=10", "ar.final_ritard_s=30", "ar.closing_s=8"]).ar.final_ritard == 10


@pytest.mark.parametrize("setting", ["ar.final_ritard=2", "ar.final_ritard_s=2"])
def test_a_final_ritard_without_a_closing_is_refused_not_ignored(setting):
    """A model without a closing has no final onset to slow into: its span asked alone did nothing and said nothing."""
    with pytest.raises(ValueError, match=r"ar.final_ritard(_s)?=2: needs ar.closing_s"):
        Config().override([setting])


def test_a_final_ritard_never_moves_a_prompt_and_stops_at_its_end(ring_run):
    """With a --prompt the span slows only what was drawn: a span longer than the continuation starts at the prompt's
    end (the stretch 1 there, nothing before it moved), and a continuation whose final onset is the prompt's (no note
    drawn) is as drawn."""
    import dataclasses

    from test_events_arm import chunk_sets
    from timestepmusic.midi import DAMPER_ID, Events
    from timestepmusic.piece_events import sampled_events
    from timestepmusic.prompts import ending_at
    from timestepmusic.ritardando import warp_seconds

    model = GANModel.load(ring_run / "last")
    model.arm.settings = dataclasses.replace(model.arm.settings, final_ritard=3.0, final_ritard_s=10.0)
    # a prompt of 0.5 s (2 chunks): a note at 0 s, another at 0.3 s ringing on to 0.8 s, the damper 0.1–0.45 s; drawn
    # after it: a note at 0.55 s, the final chord at 0.8 s (chunk 1, told 1), two chunks of its ring
    prompt = ending_at(Events(np.array([40, 43, DAMPER_ID]), np.array([0.0, 0.3, 0.1]), np.array([0.2, 0.5, 0.35]),
                              np.array([70, 70, 100])), 0.5 - 1e-6)
    model.arm.drawn = [chunk_sets([[(44, 0.05, 0.2, 70)]]), chunk_sets([[(47, 0.05, 0.5, 80), (52, 0.05, 0.5, 80)]]),
                       chunk_sets([[]]), chunk_sets([[]])]
    model.arm.final_chunks = torch.tensor([1])
    slowed, = sampled_events(model.arm, model.ae, [torch.zeros(6, 1)], prompt)
    given = slowed.start_s < 0.5
    assert slowed.ids[given].tolist() == [40, DAMPER_ID, 43] and slowed.start_s[given].tolist() == [0.0, 0.1, 0.3]
    assert slowed.duration_s[given][:2].tolist() == pytest.approx([0.2, 0.35])  # (within the prompt: as given)
    assert slowed.duration_s[given][2] == pytest.approx(1.1 - 0.3)  # (ringing on into the span: held through it, as
    # a drawn note is)
    span_s = 0.8 - 0.5  # the span stops at the prompt's end
    assert slowed.start_s[~given].tolist() == pytest.approx(
        [float(warp_seconds(np.array([0.55]), 0.8, span_s, 3.0)[0]), 0.8 + span_s, 0.8 + span_s])  # (ρ − 1) × span / 2
    model.arm.drawn = [chunk_sets([[(DAMPER_ID, 0.05, 0.2, 80)]]), chunk_sets([[]]), chunk_sets([[]]), chunk_sets([[]])]
    unslowed, = sampled_events(model.arm, model.ae, [torch.zeros(6, 1)], prompt)  # no note drawn (a damper pressed
    # while the prompt's last note rings): its final onset is the prompt's, and nothing moves
    assert unslowed.start_s.tolist() == [0.0, 0.1, 0.3, 0.55] and unslowed.duration_s[-1] == pytest.approx(0.2)


def test_a_final_ritard_alone_slows_over_the_span_the_default_was_chosen_with(ring_run):
    """`--set ar.final_ritard=3` alone, on a model trained with a closing and no span set (or one from before the
    slowing, whose config holds none), slows as the shipped default does: over 1 s, its final onset 1 s later."""
    from timestepmusic.ar_config import AutoregressiveConfig
    from timestepmusic.generation import set_sampling
    from timestepmusic.ritardando import final_onset_s

    assert AutoregressiveConfig().final_ritard_s == GANModel.load().arm.settings.final_ritard_s == 1.0
    model = GANModel.load(ring_run / "last")
    plain = model.sample(2, 5.0, 3, snap_to_real=False, ending=True)
    set_sampling(model, ["ar.final_ritard=3"])
    slowed = model.sample(2, 5.0, 3, snap_to_real=False, ending=True)
    assert [final_onset_s(s) - final_onset_s(p) for s, p in zip(slowed, plain)] == pytest.approx([1.0, 1.0])


def test_the_end_trace_replays_the_lengths_of_pieces_that_close(ring_run, monkeypatch):
    """bench/end_calibration.py's replay of a trace drawn without ending (ar.end_bias fitted on it): with a closing, a
    piece runs K chunks past the one where its end head fires (at most to the cap), as the sampler plays them, under
    any bias and ar.end_after_s (--after)."""
    import dataclasses
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "bench"))
    import end_calibration

    model = GANModel.load(ring_run / "last")
    model.arm.end_trace = []
    model.sample_latents(12, 8.0, seed=2, snap_to_real=False)  # no ending: every chunk's logit and uniform
    logits, uniforms = (torch.stack(column, dim=1).numpy() for column in zip(*model.arm.end_trace))  # [12, 32] each
    model.arm.end_trace = None
    trace = {"logits": logits, "uniforms": uniforms, "chunk_seconds": model.ae.chunk_seconds, "end_after_s": 0.0,
             "closing_chunks": model.arm.closing_chunks}  # K = 6 (4 to the final chord, 2 of its ring)
    seen = set()
    for bias, after_s in ((-3.0, 0.0), (-1.0, 0.0), (-1.0, 1.5), (1.0, 0.0)):
        model.arm.settings = dataclasses.replace(model.arm.settings, end_bias=bias, end_rise=0.0, end_after_s=after_s)
        drawn_s = np.array([p.shape[0] for p in model.sample_latents(12, 8.0, seed=2, snap_to_real=False, ends=True)])
        drawn_s = drawn_s * model.ae.chunk_seconds  # [12]
        assert np.array_equal(end_calibration.replay(trace, bias, 0.0, 8.0, after_s), drawn_s)
        seen |= set(drawn_s.tolist())
    assert 8.0 in seen and min(seen) == 7 * 0.25  # (at the cap, and as soon as can be: the first chunk, then K more)


@pytest.mark.parametrize("setting", ["ar.final_ritard=5", "ar.final_hold=2", "ar.final_ritard_s=3", "ar.final_held_s=1",
                                     "ar.final_velocity_floor=0.5"])
def test_a_final_setting_for_a_piece_that_does_not_close_is_refused(setting, tmp_path, capsys):
    """A new user's trial: `--seconds 20 --set ar.final_ritard=5` without --ending changed nothing and said nothing
    (a piece of --seconds does not close); now one line, and with --ending it is taken."""
    assert main(["generate", "--seconds", "1", "-n", "1", "-q", "--set", setting, "-o", str(tmp_path / "a")]) == 2
    said = capsys.readouterr().err
    assert f"--set {setting.partition('=')[0]} shapes how a closing piece ends; give --ending" in said
    assert "Traceback" not in said and not (tmp_path / "a").exists()
    assert main(["generate", "--seconds", "1", "-n", "1", "-q", "--ending", "--set", setting, "-o", str(tmp_path / "b")]) == 0


def test_a_closed_pieces_line_gives_its_length_to_its_last_sound(tmp_path, capsys):
    """A new user's trial: a closing piece's line gave the seconds drawn ("20 s") where its file rang on to 23 s (the
    final chord's ring and ar.final_ritard's slowing come after the chunks drawn); now the length to its last sound,
    as the file holds it, with the seconds drawn beside it."""
    import re

    import symusic

    out = tmp_path / "slowed"
    assert main(["generate", "--ending", "--seconds", "4", "-n", "1", "--set", "ar.final_ritard=10", "--set",
                 "ar.final_ritard_s=30", "-o", str(out)]) == 0
    line = capsys.readouterr().out
    long_s, drawn_s = map(float, re.search(r"press(?:es)?, ([\d.]+) s long \(([\d.]+) s drawn", line).groups())
    assert drawn_s == 4.0
    heard_s = symusic.Score(str(next(out.glob("*.mid"))), ttype="second").end()
    assert long_s == pytest.approx(heard_s, abs=0.06) and long_s > drawn_s + 1  # (to 0.1 s; slowed, then its ring)


@pytest.mark.parametrize("flags,said", [
    (["--ending", "--seconds", "4", "--set", "ar.final_ritard=10", "--set", "ar.final_ritard_s=30"],
     "ar.final_ritard 10 over ar.final_ritard_s 30: a closing piece slows into its final chord over up to 2 s, playing "
     "it up to 9 s longer than the 4 s drawn (--seconds 4;"),  # (its last 2 s: the final chord's ring)
    (["--ending", "--seconds", "16", "--set", "ar.final_ritard=4", "--set", "ar.final_ritard_s=3"],
     "up to 3 s, playing it up to 4.5 s longer than the 16 s drawn"),  # (more than a quarter of it)
    (["--max-seconds", "60", "--set", "ar.final_ritard=3", "--set", "ar.final_ritard_s=6"],
     "up to 6 s, playing it up to 6 s longer than the at most 60 s drawn (--max-seconds 60;"),  # (more than 5 s)
    (["--ending", "--seconds", "16", "--set", "ar.final_ritard=5", "--set", "ar.final_ritard_s=2"], None),  # 4 s: a quarter
    (["--ending", "--seconds", "16", "--set", "ar.final_ritard=3"], None),  # the default's 1 s
])
def test_a_slowing_that_plays_a_piece_much_longer_than_drawn_is_said(flags, said, tmp_path, caplog):
    """A new user's trial: `--set ar.final_ritard=10 --set ar.final_ritard_s=30` played a 16 s --ending piece for 81 s
    and said nothing; a slowing that adds more than a quarter of the piece, or more than 5 s, is said in one line."""
    with caplog.at_level("WARNING"):
        assert main(["generate", *flags, "-n", "1", "-q", "-o", str(tmp_path / "out")]) == 0
    slowing = [r.getMessage() for r in caplog.records if "ar.final_ritard" in r.getMessage()]
    assert (said in slowing[0] and len(slowing) == 1) if said else not slowing


@pytest.mark.parametrize("model,taken,refused", [
    ("events-v28", ["ar.style_path=all"], ["ar.final_ritard=2", "ar.final_ritard_s=2", "ar.final_hold=1",
                                           "ar.final_held_s=2", "ar.final_velocity_floor=0.5", "ar.closing_path=ending",
                                           "ar.join_bias=0.5"]),
    ("default", ["ar.final_ritard=2", "ar.final_ritard_s=2", "ar.final_hold=1"], ["ar.join_bias=0.5"]),
])
def test_the_settings_a_refusal_lists_are_those_the_model_takes(model, taken, refused, tmp_path, capsys):
    """A new user's trial: `--model events-v28 --set ar.bogus=1` listed ar.final_ritard and the other closing settings
    among those to give, which that model (trained without a closing) then refused; the list names only what the
    model takes, and what it leaves out is refused."""
    from timestepmusic.generation import set_sampling

    assert main(["generate", "--model", model, "--set", "ar.bogus=1", "-o", str(tmp_path / "out")]) == 2
    listed = capsys.readouterr().err.strip().partition("sampling settings: ")[2].split(", ")
    assert "ar.temperature" in listed
    for setting in taken:
        assert setting.partition("=")[0] in listed
        set_sampling(GANModel.load(model), [setting])
    for setting in refused:
        assert setting.partition("=")[0] not in listed
        gan = GANModel.load(model)
        with pytest.raises(ValueError, match="needs ar.closing_s|ar.onsets"):
            set_sampling(gan, [setting])
            gan.sample(1, 1.0, 0)  # (ar.join_bias: refused as the piece is drawn)


def test_a_tracks_ending_is_its_last_row():
    """ar.closing_path "ending": a piece's closing is told the last row of the track it walks (its last passage)."""
    from timestepmusic.sequence.style import ATTRIBUTES
    from timestepmusic.sequence.style_paths import StylePaths

    rows = torch.arange(5, dtype=torch.float32)[:, None].expand(5, len(ATTRIBUTES)) * 8  # [R, D]: row r holds 8r
    paths = StylePaths(rows, torch.tensor([0, 3, 5]))  # track 0: rows 0–2, track 1: rows 3–4
    assert paths.ending(torch.tensor([0.5, 2.9, 3.0, 4.2]))[:, 0].tolist() == [16.0, 16.0, 32.0, 32.0]


@pytest.mark.parametrize("overrides, said", [(["ar.closing_path=end", "ar.closing_s=8"], "must be walked or ending"),
                                             (["ar.closing_path=ending"], "needs ar.closing_s")])
def test_a_closing_path_that_cannot_be_walked_is_refused(overrides, said):
    with pytest.raises(ValueError, match=said):
        Config().override(overrides)
    assert Config().override(["ar.closing_path=ending", "ar.closing_s=8"]).ar.closing_path == "ending"


def test_a_closing_told_its_performances_ending_changes_only_the_closing():
    """The shipped default walks a performance's path; with ar.closing_path "ending" each chunk of a closing is told
    that performance's last passage (as training tells a track's last chunks), and every other chunk as before: a
    piece of --seconds without --ending draws exactly as with "walked", and one with --ending alike up to its closing."""
    from timestepmusic.shipped import resolve_model

    model = GANModel.load(resolve_model("default"))
    drawn = {}
    for path in ("walked", "ending"):
        model.arm.settings = dataclasses.replace(model.arm.settings, closing_path=path)
        for ending in (False, True):
            told, original = [], model.arm.path_told

            def recorded(first, last, told=told, original=original):  # each chunk's description, as told
                told.append((first, original(first, last)))
                return told[-1][1]
            model.arm.path_told = recorded
            try:
                model.sample_latents(3, 12.0, 4, snap_to_real=False, ending=ending)  # 48 chunks, the last 40 closing
            finally:
                del model.arm.path_told
            drawn[path, ending] = ([(s.ids, s.sizes) for s in model.arm.drawn], told)
    for a, b in zip(drawn["walked", False][0], drawn["ending", False][0]):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # no closing: every chunk alike
    closing_from = 48 - model.arm.closing_chunks  # (its 32 chunks to the final chord and 8 of its ring)
    for a, b in zip(drawn["walked", True][0][:closing_from], drawn["ending", True][0][:closing_from]):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert any(not torch.equal(a[0], b[0]) for a, b in zip(drawn["walked", True][0][closing_from:],
                                                          drawn["ending", True][0][closing_from:]))
    told_ending = [rows for first, rows in drawn["ending", True][1] if first >= closing_from]  # [S, C, D] each
    told_walked = [rows for first, rows in drawn["walked", True][1] if first >= closing_from]
    assert told_ending and all(torch.equal(rows, told_ending[0][:, :1].expand_as(rows)) for rows in told_ending)
    assert not all(torch.equal(a, b) for a, b in zip(told_ending, told_walked))


@pytest.mark.parametrize("flags, said", [
    (["--style", "density=6"], "--set ar.closing_path=ending and --style: give one (a piece asked a --style walks no "
                               "performance's path, whose last passage ar.closing_path=ending tells a closing)"),
    (["--prompt", "PROMPT"], "--set ar.closing_path=ending: a continued --prompt is told its own character and walks no "
                             "performance's path"),
])
def test_a_closing_told_an_ending_where_no_path_is_walked_is_refused_in_one_line(flags, said, tmp_path, capsys):
    """A piece asked a --style or continuing a --prompt walks no performance's path: ar.closing_path=ending was
    silently ignored; refused in one line, nothing written."""
    from timestepmusic.midi import Events
    from timestepmusic.midi_write import write_events

    prompt = write_events(Events([39, 43], [0.0, 0.5], [0.4, 0.4], [70, 70]), tmp_path / "prompt.mid")
    flags = [str(prompt) if flag == "PROMPT" else flag for flag in flags]
    assert main(["generate", "--ending", *flags, "--set", "ar.closing_path=ending", "-n", "1", "--seconds", "4",
                 "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and len(err.splitlines()) == 1 and not (tmp_path / "out").exists()
    assert main(["generate", "--ending", *flags, "--set", "ar.closing_path=walked", "-n", "1", "--seconds", "1", "-q",
                 "-o", str(tmp_path / "walked")]) == 0  # (as without it)


def test_the_arm_refuses_a_closing_told_an_ending_where_no_path_is_walked():
    """The API (no CLI before it): a piece asked a style, or of a model whose pieces walk no path (ar.style_path none),
    is refused as the CLI refuses it; one that walks a path draws."""
    from timestepmusic.sequence.style_request import parse_style
    from timestepmusic.shipped import resolve_model

    model = GANModel.load(resolve_model("default"))
    walking = model.arm.settings
    model.arm.settings = dataclasses.replace(walking, closing_path="ending")
    model.sample_latents(1, 1.0, 0, ending=True)
    with pytest.raises(ValueError, match="--set ar.closing_path=ending and --style: give one"):
        model.sample_latents(1, 1.0, 0, ending=True, style=parse_style("density=6"))
    model.arm.settings = dataclasses.replace(walking, closing_path="ending", style_path="none")
    with pytest.raises(ValueError, match=r"this model's pieces walk no performance's path \(ar.style_path none"):
        model.sample_latents(1, 1.0, 0, ending=True)


def test_a_closed_pieces_hurried_soft_final_onset_is_held_and_raised_and_nothing_else(ring_run):
    """ar.final_held_s, ar.final_velocity_floor (final_chord.py), after drawing: the final chord (chunk 1, told 1),
    struck 0.11 s after the note before and far softer than the notes before it, held 1.5 s and raised to 0.8 × their
    median; every other event as drawn; a piece that did not close as drawn."""
    import dataclasses

    from test_events_arm import chunk_sets
    from timestepmusic.piece_events import sampled_events

    model = GANModel.load(ring_run / "last")
    model.arm.drawn = [chunk_sets([[(44, 0.05, 0.1, 80), (47, 0.15, 0.1, 80)]]),
                       chunk_sets([[(50, 0.0, 0.1, 20), (53, 0.01, 0.05, 30)]]), chunk_sets([[]]), chunk_sets([[]])]

    def heard(final_chunk: int, *settings: tuple[str, float]):
        model.arm.settings = dataclasses.replace(model.arm.settings, final_ritard=1.0, **dict(settings))
        model.arm.final_chunks = torch.tensor([final_chunk])
        return sampled_events(model.arm, model.ae, [torch.zeros(4, 1)])[0]

    plain, ruled = heard(1), heard(1, ("final_held_s", 1.5), ("final_velocity_floor", 0.8))
    assert np.array_equal(ruled.ids, plain.ids) and np.array_equal(ruled.start_s, plain.start_s)
    assert plain.duration_s.tolist() == pytest.approx([0.1, 0.1, 0.1, 0.05])
    assert ruled.duration_s.tolist() == pytest.approx([0.1, 0.1, 1.5, 1.5])
    assert plain.intensity.tolist() == [80, 80, 20, 30] and ruled.intensity.tolist() == [80, 80, 43, 64]
    assert heard(1, ("final_held_s", 9.0)).duration_s[-1] == pytest.approx(4 * 0.25 + 2.0 - 0.26)  # to the piece's end
    unclosed = heard(-1, ("final_held_s", 1.5), ("final_velocity_floor", 0.8))
    assert np.array_equal(unclosed.duration_s, plain.duration_s) and np.array_equal(unclosed.intensity, plain.intensity)


def test_a_piece_of_fixed_length_without_ending_is_byte_for_byte_as_without_the_final_chord_rules(ring_run, tmp_path):
    """A piece of --seconds that does not close has no final chord: with ar.final_held_s and ar.final_velocity_floor
    its MIDI file is the same, byte for byte (and a closed one's is not, so the settings were read)."""
    from timestepmusic.generation import set_sampling
    from timestepmusic.midi_write import write_events

    def files(ending: bool, *settings: str) -> list[bytes]:
        model = GANModel.load(ring_run / "last")
        set_sampling(model, list(settings))
        pieces = model.sample(6, 5.0, 3, snap_to_real=False, ending=ending)
        return [write_events(p, tmp_path / f"{ending}_{len(settings)}_{i}.mid").read_bytes() for i, p in enumerate(pieces)]

    rules = ("ar.final_held_s=3", "ar.final_velocity_floor=1")
    assert files(False, *rules) == files(False)
    assert files(True, *rules) != files(True)


def test_a_prompts_final_onset_is_never_held_or_raised(ring_run):
    """A continuation that draws no note (a damper pressed while the prompt's last note rings) ends on the prompt's
    final onset: with ar.final_held_s and ar.final_velocity_floor it stays as played."""
    import dataclasses

    from test_events_arm import chunk_sets
    from timestepmusic.midi import DAMPER_ID, Events
    from timestepmusic.piece_events import sampled_events
    from timestepmusic.prompts import ending_at

    model = GANModel.load(ring_run / "last")
    prompt = ending_at(Events(np.array([40, 43]), np.array([0.0, 0.3]), np.array([0.2, 0.1]), np.array([90, 10])),
                       0.5 - 1e-6)  # its final onset: 0.3 s after the note before, far softer
    model.arm.drawn = [chunk_sets([[(DAMPER_ID, 0.05, 0.2, 80)]]), chunk_sets([[]]), chunk_sets([[]]), chunk_sets([[]])]
    model.arm.final_chunks = torch.tensor([1])
    heard = []
    for held_s, floor in ((0.0, 0.0), (2.0, 1.0)):
        model.arm.settings = dataclasses.replace(model.arm.settings, final_held_s=held_s, final_velocity_floor=floor)
        heard.append(sampled_events(model.arm, model.ae, [torch.zeros(6, 1)], prompt)[0])
    assert heard[1].duration_s[1] == pytest.approx(0.1) and heard[1].intensity[1] == 10
    assert np.array_equal(heard[0].duration_s, heard[1].duration_s) and np.array_equal(heard[0].intensity, heard[1].intensity)
