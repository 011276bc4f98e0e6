"""The latent space made for generation: true-size decoding, noise injection, log durations, categorical
keys that never clip, joined pedal runs, and the smoothness / timing figures of `tsm evaluate-ae`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from timestepmusic.autoencoder import Autoencoder
from timestepmusic.batches import ChunkGatherer
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.durations import DurationFit
from timestepmusic.encoding import Encoding
from timestepmusic.evaluate.descriptors import describe
from timestepmusic.evaluate.excerpts import excerpts_from_events
from timestepmusic.evaluate.latent_space import (
    NOISE_LEVELS,
    damper_presses,
    evaluate_autoencoder,
    smoothness_figures,
    timing_figures,
    track_latents,
)
from timestepmusic.holds import join_pedal_runs
from timestepmusic.midi import DAMPER_ID, NUM_IDS, Events
from timestepmusic.pisa import PISA
from timestepmusic.train.ae import train_autoencoder

from conftest import random_performance

TINY_OHE = {"ae.latent": 8, "ae.hidden": 32, "ae.batch_chunks": 16, "ae.epochs": 1, "ae.lr": 1e-3,
            "encoding.encoding": "OHE", "encoding.durations": "log", "ae.latent_noise": 0.2}


@pytest.fixture(scope="module")
def ohe_run(tiny_corpus, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("ohe") / "run"
    train_autoencoder(tiny_corpus, run, Config().override(TINY_OHE), progress=False)
    return run


def test_true_size_loss_equals_the_masked_loss_of_the_full_decode():
    torch.manual_seed(0)
    encoding = Encoding("OHE", 0.25, DurationFit(), "log")
    model = PISA(features=encoding.dim, max_events=6, latent=8, hidden=16)
    sizes = torch.tensor([0, 3, 6, 1])
    x = encoding.encode(torch.randint(0, NUM_IDS, (4, 6)), torch.rand(4, 6) * 0.25, torch.rand(4, 6) + 0.01,
                        torch.randint(1, 128, (4, 6)))
    loss, parts = model.loss(x, sizes, encoding)
    latent, x_sorted, elements, size_logits = model(x, sizes)
    mask = torch.arange(6) < sizes[:, None]
    expected = encoding.loss(elements, x_sorted, mask) + torch.nn.functional.cross_entropy(size_logits, sizes)
    assert torch.allclose(loss, expected, atol=1e-5)
    assert torch.allclose(parts["element"], encoding.loss(elements, x_sorted, mask), atol=1e-5)


def test_latent_noise_changes_the_loss_and_is_reproducible_per_generator():
    torch.manual_seed(0)
    encoding = Encoding("OHE", 0.25, DurationFit())
    model = PISA(features=encoding.dim, max_events=4, latent=8, hidden=16)
    x = encoding.encode(torch.randint(0, NUM_IDS, (8, 4)), torch.rand(8, 4) * 0.25, torch.rand(8, 4) + 0.01,
                        torch.randint(1, 128, (8, 4)))
    sizes = torch.tensor([1, 2, 3, 4, 4, 3, 2, 1])
    clean = model.loss(x, sizes, encoding)[0].detach()
    noisy = [model.loss(x, sizes, encoding, latent_noise=1.0, generator=torch.Generator().manual_seed(s))[0].detach()
             for s in (5, 5, 6)]
    assert float(noisy[0]) == float(noisy[1])
    assert float(noisy[0]) != float(noisy[2])
    assert float(noisy[0]) != float(clean)


def test_log_durations_round_trip_and_bound_their_errors():
    fit = DurationFit(note_max_s=30.0, pedal_max_s=60.0)
    encoding = Encoding("OHE", 0.25, fit, "log")
    d = torch.tensor([[0.002, 0.1, 1.0, 10.0, 29.0]], dtype=torch.float64)
    ids = torch.tensor([[10, 20, 30, DAMPER_ID, DAMPER_ID]])
    x = encoding.encode(ids, torch.zeros(1, 5), d, torch.full((1, 5), 64))
    assert torch.all((x[..., -2] >= 0) & (x[..., -2] <= 1))
    _, _, back, _ = encoding.decode(x)
    assert torch.allclose(back, d, rtol=1e-5)
    # an error of 0.02 in the unit is the same small relative error at every length
    x[..., -2] += 0.02
    _, _, shifted, _ = encoding.decode(x)
    ratio = (shifted / d).numpy().ravel()
    assert np.all(ratio < 1.35) and np.all(ratio > 1.0)
    assert Encoding.from_dict(encoding.to_dict()).durations == "log"
    assert Encoding.from_dict({k: v for k, v in encoding.to_dict().items() if k != "durations"}).durations == "cdf"


def test_a_far_off_latent_decodes_to_a_valid_set_without_clipped_keys(ohe_run):
    ae = Autoencoder.load(Path(ohe_run) / "last")
    far = torch.randn(16, ae.model.latent, generator=torch.Generator().manual_seed(0)) * 1000  # [B, L]
    sets = ae.decode_sets(far)
    assert sets.ids.min() >= 0 and sets.ids.max() < NUM_IDS
    assert torch.all((sets.offset_s >= 0) & (sets.offset_s < ae.chunk_seconds))
    assert torch.all(sets.duration_s > 0) and torch.all(sets.duration_s <= 120.0)
    assert sets.intensity.min() >= 1 and sets.intensity.max() <= 127
    elements, _ = ae.model.decode(far)  # [B, N, D]
    assert not ae.encoding.out_of_range(elements)["keys"].any()


def test_bounded_values_never_leave_their_range_and_train_through_the_same_loss():
    """ae.bounded_values: at any latent, however far off, no value decodes out of range; the unbounded
    decoder of the same weights does (so the check can fail), and the loss still trains."""
    torch.manual_seed(0)
    encoding = Encoding("OHE", 0.25, DurationFit(), "cdf")
    bounded = PISA(features=encoding.dim, max_events=6, latent=8, hidden=16, bounded=True)
    linear = PISA(features=encoding.dim, max_events=6, latent=8, hidden=16)
    linear.load_state_dict(bounded.state_dict())
    far = torch.randn(256, 8, generator=torch.Generator().manual_seed(1)) * 1000  # [B, L]
    assert encoding.out_of_range(linear.decode(far)[0])["values"].any()
    assert not encoding.out_of_range(bounded.decode(far)[0])["values"].any()
    assert PISA(**bounded.sizes_of()).bounded and not PISA(**linear.sizes_of()).bounded
    sizes = torch.tensor([2, 6, 1, 4])
    x = encoding.encode(torch.randint(0, NUM_IDS, (4, 6)), torch.rand(4, 6) * 0.25, torch.rand(4, 6) + 0.01,
                        torch.randint(1, 128, (4, 6)))
    optimizer = torch.optim.Adam(bounded.parameters(), lr=1e-2)
    first = float(bounded.loss(x, sizes, encoding)[0].detach())
    for _ in range(30):
        loss, _ = bounded.loss(x, sizes, encoding)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.5 * first


def test_only_the_91_way_key_can_never_clip():
    anything = torch.randn(64, 15, 1) * 1000
    ohe, pon_ohe = (Encoding(name, 0.25, DurationFit()) for name in ("OHE", "ponOHE"))
    assert not ohe.out_of_range(anything.expand(-1, -1, ohe.dim).contiguous())["keys"].any()
    # octave and pitch class one-hot can still compose a pitch off the keyboard (octave 0 below A0)
    x = torch.zeros(1, 1, pon_ohe.dim)
    x[0, 0, 0] = x[0, 0, 4] = x[0, 0, 4 + 9] = 1.0  # key, octave 0, pitch class C → MIDI 12
    assert pon_ohe.out_of_range(x)["keys"].all()


def test_scaled_keys_report_clipping_that_one_hot_keys_cannot_have():
    pon = Encoding("pon", 0.25, DurationFit())
    x = torch.zeros(1, 2, pon.dim)
    x[0, 0, 1] = 3.0  # octave far beyond C8
    flags = pon.out_of_range(x)
    assert flags["keys"].tolist() == [[True, False]]
    x[0, 1, -3] = -1.5  # offset before the chunk
    assert pon.out_of_range(x)["values"].tolist() == [[False, True]]


def test_join_pedal_runs_closes_short_gaps_only():
    events = Events([DAMPER_ID, DAMPER_ID, DAMPER_ID, 40], [0.0, 0.53, 2.0, 0.1], [0.5, 0.4, 0.2, 3.0],
                    [60, 100, 60, 70])
    joined = join_pedal_runs(events, 0.05)
    by_start = dict(zip(joined.start_s.tolist(), joined.duration_s.tolist()))
    assert by_start[0.0] == pytest.approx(0.53)  # gap of 30 ms closed
    assert by_start[0.53] == pytest.approx(0.4)  # gap of 1.07 s kept
    assert by_start[0.1] == pytest.approx(3.0)  # notes untouched


def test_join_pedal_runs_measures_a_lift_from_the_latest_release_as_midi_plays_it():
    from timestepmusic.midi_write import events_to_score

    # 0–1.0 s, a press inside it (0.2–0.3 s), then 1.05 s: MIDI lifts the pedal for 50 ms at 1.0 s
    events = Events([DAMPER_ID] * 3, [0.0, 0.2, 1.05], [1.0, 0.1, 0.5], [100, 60, 100])
    joined = join_pedal_runs(events, 0.1)
    lifts = [c.time for c in events_to_score(joined, ticks_per_quarter=480).tracks[0].controls if c.value == 0]
    assert len(lifts) == 1  # held from 0 s to the end: no lift between
    assert join_pedal_runs(events, 0.0, share=0.1).duration_s.tolist() == pytest.approx([1.05, 0.1, 0.5])  # 5 % of 1 s
    assert join_pedal_runs(events, 0.04).duration_s.tolist() == pytest.approx([1.0, 0.1, 0.5])  # 50 ms > 40 ms kept


def test_join_pedal_runs_from_a_prompts_end_keeps_a_lift_the_prompt_made_before_it():
    # a 0.5 s prompt's damper lifted at 0.485 s (a re-pedal just before its end) and a continuation's press drawn at
    # 0.5 s: the 15 ms lift is the pianist's, and stays; a prompt's press held past its end is still joined to one drawn
    # just after (0–0.51 s, a press at 0.52 s)
    lifted = Events([DAMPER_ID, DAMPER_ID, 40], [0.0, 0.5, 0.0], [0.485, 0.3, 0.5], [100, 90, 70])
    assert join_pedal_runs(lifted, 0.02, from_s=0.5 - 1e-9).duration_s.tolist() == pytest.approx([0.485, 0.3, 0.5])
    held = Events([DAMPER_ID, DAMPER_ID, 40], [0.0, 0.52, 0.0], [0.51, 0.3, 0.5], [100, 90, 70])
    assert join_pedal_runs(held, 0.02, from_s=0.5 - 1e-9).duration_s.tolist() == pytest.approx([0.52, 0.3, 0.5])


def test_damper_presses_count_lifts_not_depth_changes():
    events = Events([DAMPER_ID] * 4, [0.0, 0.5, 1.0, 3.0], [0.5, 0.5, 0.5, 0.5], [40, 100, 40, 60], 16.0)
    table = excerpts_from_events([events], seconds=16.0)
    assert damper_presses(table).tolist() == [2.0]  # 0–1.5 s held (three depths), then pressed again at 3 s
    # several excerpts: a long press in the first does not hide the presses of the next
    two = excerpts_from_events([Events([DAMPER_ID], [0.0], [15.9], [60], 16.0), events], seconds=16.0)
    assert damper_presses(two).tolist() == [1.0, 2.0]


def test_longest_note_descriptor():
    events = Events([40, 41, DAMPER_ID], [0.0, 1.0, 0.0], [0.5, 2.5, 9.0], [60, 60, 60], 16.0)
    d = describe(excerpts_from_events([events], seconds=16.0))
    assert d["longest_note_s"].tolist() == [2.5]


def test_timing_figures_of_a_perfect_copy_show_no_difference():
    rng = np.random.default_rng(0)
    tracks = [random_performance(rng, 40.0) for _ in range(3)]
    figures = timing_figures(tracks, tracks)
    assert figures["damper_share"]["mean_abs_difference"] == 0
    assert figures["damper_presses_per_s"]["relative_difference"] == 0
    assert figures["longest_note_s"]["relative_difference"] == 0
    longer = [Events(t.ids, t.start_s, t.duration_s * 2, t.intensity, t.end_s) for t in tracks]
    assert timing_figures(tracks, longer)["longest_note_s"]["relative_difference"] == pytest.approx(1.0)


def test_figures_with_nothing_to_match_are_a_dash_not_a_number(monkeypatch):
    """An autoencoder that decodes nothing: no velocity error (no note matched), no pedal F1 where neither side has
    that pedal, no F1 against a clean decode of nothing, and the original's longest note still said (not NaN)."""
    from types import SimpleNamespace

    from timestepmusic.evaluate import latent_space
    from timestepmusic.evaluate.fidelity import Fidelity
    from timestepmusic.evaluate.latent_space import format_evaluation
    from timestepmusic.midi import SOSTENUTO_ID

    played = random_performance(np.random.default_rng(0), 40.0)
    played = played.take(np.flatnonzero(played.ids != SOSTENUTO_ID))  # no sostenuto on either side
    silent = Events(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), played.end_s)
    fidelity = Fidelity()
    fidelity.add(played, silent, pedal_bins=4)
    summary = fidelity.summary()
    assert summary["velocity_mae"] is None and summary["pedals"]["sostenuto"]["f1"] is None
    assert summary["notes"]["f1"] == 0.0 and summary["pedals"]["damper"]["f1"] == 0.0  # (missed: a figure, 0)
    timing = timing_figures([played], [silent])
    assert timing["longest_note_s"]["original"] > 0 and np.isnan(timing["longest_note_s"]["decoded"])
    monkeypatch.setattr(latent_space, "_decode_track", lambda ae, z: (silent, {"keys": 0.0, "values": 0.0}))
    smoothness = smoothness_figures(SimpleNamespace(config=Config()), [torch.zeros(4, 8)])
    assert all(row["note_f1_vs_clean"] is None for row in smoothness.values())
    text = format_evaluation(summary | {"timing": timing, "ceiling": {"n_per_class": 0, "accuracy": float("nan")},
                                        "smoothness": smoothness})
    assert "nan" not in text and "1.000" not in text, text
    lines = {line.strip().split("  ")[0]: line for line in text.splitlines()}
    assert lines["velocity MAE (matched notes)"].split()[-1] == "—"
    assert "—   (0 reference, 0 decoded events)" in lines["sostenuto pedal F1"]
    assert lines["longest note (s)"].split()[-3:] == ["→", "—", "—"]
    assert [line.split()[-4] for line in text.splitlines() if line.strip().startswith(("clean", "noise"))] == ["—"] * 4


def test_smoothness_figures_are_reproducible_per_seed_and_degrade_with_noise(ohe_run, tiny_corpus):
    ae = Autoencoder.load(Path(ohe_run) / "last")
    gatherer = ChunkGatherer(Corpus.open(tiny_corpus))
    latents = [track_latents(ae, gatherer, t) for t in range(3)]
    a, b = smoothness_figures(ae, latents, seed=3), smoothness_figures(ae, latents, seed=3)
    c = smoothness_figures(ae, latents, seed=4)
    assert a == b
    assert a != c
    assert set(a) == {"clean", "midpoints"} | {f"noise {level:g}" for level in NOISE_LEVELS}
    assert a["noise 1"]["note_f1_vs_clean"] <= a["clean"]["note_f1_vs_clean"] == 1.0
    assert a["noise 1"]["clipped_keys"] == 0  # one-hot keys


def test_evaluate_ae_reports_timing_ceiling_and_smoothness(ohe_run, tiny_corpus, tmp_path, capsys):
    summary = evaluate_autoencoder(Autoencoder.load(Path(ohe_run) / "last"), Corpus.open(tiny_corpus), "train")
    assert 0 <= summary["ceiling"]["accuracy"] <= 1 and summary["ceiling"]["n_per_class"] >= 1
    assert summary["timing"]["excerpts"] >= 1
    out = tmp_path / "figures.json"
    assert main(["evaluate-ae", str(ohe_run), "--corpus", str(tiny_corpus), "--split", "train",
                 "--json-out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "noise 0.3" in printed and "damper presses per second" in printed and "ceiling" in printed
    n = summary["ceiling"]["n_per_class"]  # (the tiny corpus: a handful of excerpts; no number below 10 a side)
    told = "—" if n < 10 else f"{summary['ceiling']['accuracy']:.3f}"
    assert f"originals: {told} ({n} excerpts each" in printed and "too few excerpts for a verdict" in printed
    assert json.loads(out.read_text())["smoothness"]["noise 0.3"]["note_f1_vs_clean"] <= 1.0
    mine = tmp_path / "notes.txt"
    mine.write_text("keep me")
    assert main(["evaluate-ae", str(ohe_run), "--corpus", str(tiny_corpus), "--json-out", str(mine)]) == 2
    assert "notes.txt is there already" in capsys.readouterr().err and mine.read_text() == "keep me"
    config = Path(ohe_run) / "last" / "config.json"  # the checkpoint's own: refused even with --overwrite
    before = config.read_bytes()
    assert main(["evaluate-ae", str(ohe_run), "--corpus", str(tiny_corpus), "--json-out", str(config), "--overwrite"]) == 2
    assert "a file of the checkpoint" in capsys.readouterr().err and config.read_bytes() == before


def test_time_weight_scales_only_the_time_errors():
    encoding, heavy = (Encoding("OHE", 0.25, DurationFit(), "log", w) for w in (1.0, 10.0))
    target = encoding.encode(torch.tensor([[3, 50]]), torch.zeros(1, 2), torch.ones(1, 2), torch.full((1, 2), 64))
    mask = torch.ones(1, 2, dtype=torch.bool)
    off_time = target.clone()
    off_time[..., -1] += 0.5  # intensity wrong, keys right
    def extra(enc):  # what the wrong intensity adds to the loss of the exact prediction
        return float(enc.loss(off_time, target, mask) - enc.loss(target, target, mask))
    assert extra(heavy) == pytest.approx(10 * extra(encoding), rel=1e-3)
    assert Encoding.from_dict(heavy.to_dict()).time_weight == 10.0


def test_cdf_durations_are_capped_where_decoding_slips_grow_huge(ohe_run):
    fit = DurationFit(note_mu=-2.0, note_sigma=1.0, pedal_mu=-2.5, pedal_sigma=1.4, note_max_s=60.0, pedal_max_s=120.0)
    u = torch.tensor([0.5, 0.99999])
    is_note = torch.tensor([True, True])
    free = fit.from_unit(u, is_note)
    capped = fit.from_unit(u, is_note, z_max=3.5)
    assert capped[0] == pytest.approx(free[0])  # the middle is untouched
    assert free[1] > 7.0 and capped[1] == pytest.approx(float(np.exp(-2.0 + 3.5)))
    from timestepmusic.autoencoder import DURATION_Z_MAX
    assert Autoencoder.load(Path(ohe_run) / "last").encoding.decode_z_max == DURATION_Z_MAX


def test_each_autoencoder_decodes_with_the_settings_its_config_names(ohe_run, tmp_path):
    """ae.decode_z_max / ae.decode_pedal_join_s are read from the checkpoint (0 = no cap, no joins); a
    checkpoint written before they existed decodes as before (3.25, 0.1 s)."""
    import shutil

    from timestepmusic.autoencoder import DURATION_Z_MAX as DURATION_Z_MAX_DEFAULT
    from timestepmusic.autoencoder import PEDAL_JOIN_S

    run = tmp_path / "ae"
    shutil.copytree(Path(ohe_run) / "last", run)
    meta = json.loads((run / "config.json").read_text())
    meta["config"]["ae"] |= {"decode_z_max": 3.0, "decode_pedal_join_s": 0.05}
    (run / "config.json").write_text(json.dumps(meta))
    ae = Autoencoder.load(run)
    assert (ae.encoding.decode_z_max, ae.pedal_join_s) == (3.0, 0.05)
    held = Events([DAMPER_ID, DAMPER_ID], [0.0, 0.54], [0.5, 0.5], [64, 64])  # a 40 ms gap: closed at 0.05 s
    assert join_pedal_runs(held, ae.pedal_join_s).duration_s[0] == pytest.approx(0.54)  # the gap closed
    meta["config"]["ae"] |= {"decode_z_max": 0.0, "decode_pedal_join_s": 0.0}
    (run / "config.json").write_text(json.dumps(meta))
    ae = Autoencoder.load(run)
    assert ae.encoding.decode_z_max is None and join_pedal_runs(held, ae.pedal_join_s).duration_s[0] == 0.5
    for key in ("decode_z_max", "decode_pedal_join_s"):
        del meta["config"]["ae"][key]
    (run / "config.json").write_text(json.dumps(meta))
    ae = Autoencoder.load(run)
    assert (ae.encoding.decode_z_max, ae.pedal_join_s) == (DURATION_Z_MAX_DEFAULT, PEDAL_JOIN_S)


@pytest.mark.parametrize("reading, notes", [("cut", 2), ("drop", 1), ("join", 1)])
def test_a_key_decoded_again_in_the_next_chunk_is_read_as_ae_decode_restrikes_says(ohe_run, tmp_path, reading, notes):
    """ae.decode_restrikes from the checkpoint: a note of 0–1 s and the same key again at 0.3 s, in the next
    0.25 s chunk (as a generator writes a note that crosses chunks), stays two notes only with `cut`."""
    import shutil

    from timestepmusic.autoencoder import RESTRIKES, chunked_to_sets
    from timestepmusic.chunks import chunk_events

    run = tmp_path / "ae"
    shutil.copytree(Path(ohe_run) / "last", run)
    meta = json.loads((run / "config.json").read_text())
    meta["config"]["ae"]["decode_restrikes"] = reading
    (run / "config.json").write_text(json.dumps(meta))
    ae = Autoencoder.load(run)
    assert ae.restrikes == reading
    events = Events(np.array([40, 40]), np.array([0.0, 0.3]), np.array([1.0, 0.9]), np.array([64, 64]))
    sets = chunked_to_sets(chunk_events(events, ae.chunk_seconds, ae.max_events), ae.max_events)
    decoded = ae.sets_to_events(sets)
    assert int((decoded.ids == 40).sum()) == notes
    del meta["config"]["ae"]["decode_restrikes"]  # a checkpoint from before the setting
    (run / "config.json").write_text(json.dumps(meta))
    assert Autoencoder.load(run).restrikes == RESTRIKES
