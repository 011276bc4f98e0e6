"""The piece critic: piano rolls, its file, the keeping rule, the pieces `tsm generate` keeps, and the tool that
trains one."""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from test_events_arm import TINY_EVENTS
from timestepmusic.cli import main as tsm
from timestepmusic.config import Config
from timestepmusic.critic import CRITIC, PieceCritic, RollCritic, shift_keeping
from timestepmusic.draws import selected_pieces, written_pieces
from timestepmusic.generation import GANModel
from timestepmusic.midi import NUM_KEYS, Events
from timestepmusic.midi_write import write_events
from timestepmusic.rolls import FRAME_S, ROWS, rolls, window_starts_s
from timestepmusic.shipped import models_dir
from timestepmusic.train.critic import main as critic_main
from timestepmusic.train.critic import transposed
from timestepmusic.train.sequence import train_sequence_model

DAMPER = NUM_KEYS  # the damper's id, then sostenuto's, then the soft pedal's


def test_a_roll_holds_each_strike_each_sounding_key_and_each_pedal_that_starts_in_its_window():
    piece = Events(np.array([60, 40, DAMPER]), np.array([1.0, 0.5, 2.0]), np.array([0.5, 2.0, 1.0]),
                   np.array([127, 64, 90]))
    roll = rolls([piece], [np.array([0.0, 1.0])], 2.0).astype(np.float32)  # two windows: 0–2 s, 1–3 s
    assert roll.shape == (2, ROWS, round(2.0 / FRAME_S))
    first, second = roll
    assert first[60, 20] == 1.0 and first[60].sum() == 1.0  # struck at 1.0 s, at full velocity
    assert first[40, 10] == pytest.approx(64 / 127, abs=1e-3)  # (kept as float16)
    assert first[NUM_KEYS + 60, 20:30].min() == 1.0 and first[NUM_KEYS + 60, 30:].max() == 0.0  # sounds 1.0–1.5 s
    assert first[2 * NUM_KEYS, :].max() == 0.0  # the damper goes down at 2.0 s: after the first window
    assert second[40].max() == 0.0 and second[NUM_KEYS + 40].max() == 0.0  # struck before the window: not in it
    assert second[60, 0] == 1.0  # struck at its start
    assert second[2 * NUM_KEYS, 20:40].min() == pytest.approx(90 / 127, abs=1e-3)  # pressed 2–3 s at its depth


def test_windows_cover_a_piece_whole_the_last_one_ending_where_it_ends():
    assert window_starts_s(10.0, 16.0).tolist() == [0.0]
    assert window_starts_s(16.0, 16.0).tolist() == [0.0]
    assert window_starts_s(60.0, 16.0).tolist() == [0.0, 16.0, 32.0, 44.0]


def test_a_transposed_roll_moves_the_keys_and_keeps_the_pedals():
    roll = torch.zeros(1, ROWS, 4)
    roll[0, 60, 0] = roll[0, NUM_KEYS + 87, 1] = roll[0, 2 * NUM_KEYS + 1, 2] = 1.0
    up = transposed(roll, 2)
    assert up[0, 62, 0] == 1.0 and up[0, 60].sum() == 0.0
    assert up[0, NUM_KEYS:2 * NUM_KEYS].sum() == 0.0  # the top key moved off the keyboard
    assert up[0, 2 * NUM_KEYS + 1, 2] == 1.0
    assert torch.equal(transposed(up, -2)[0, :NUM_KEYS], roll[0, :NUM_KEYS])


def constant_critic(logit: float, kept_share: float = 0.5) -> PieceCritic:
    """A critic that gives every window the same logit."""
    net = RollCritic(8)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.out.bias.fill_(logit)
    return PieceCritic(net.eval(), 2.0, 1.0, kept_share, {"note": "made by hand"})


def test_a_piece_is_kept_with_the_odds_its_score_gives_it_the_draw_keeping_its_share():
    critic = constant_critic(0.0, kept_share=0.5)
    rng = np.random.default_rng(0)
    scores = np.array([0.0, -math.log(2.0), -math.log(4.0), -math.log(4.0)] * 3000)  # the shift that keeps half: 0
    kept = critic.kept(scores, rng).reshape(-1, 4).mean(axis=0)
    assert kept[0] == 1.0  # at the shift: always
    assert kept[1] == pytest.approx(0.5, abs=0.03) and kept[2:] == pytest.approx(0.25, abs=0.03)  # e^(score − shift)
    assert critic.kept(scores + 7.0, rng).mean() == pytest.approx(0.5, abs=0.02)  # the share, wherever the scores lie


def test_the_shift_keeps_the_share_asked():
    scores = np.random.default_rng(1).normal(-2.0, 1.5, 5000)
    for share in (0.25, 0.5, 0.9):
        shift = shift_keeping(scores, share)
        assert np.exp(np.minimum(scores - shift, 0.0)).mean() == pytest.approx(share, abs=1e-6)


def test_a_critic_is_saved_and_read_back_and_a_damaged_one_named(tmp_path):
    critic = PieceCritic(RollCritic(8), 16.0, 1.3, 0.4, {"pieces": 10})
    critic.save(tmp_path)
    back = PieceCritic.load(tmp_path)
    assert (back.window_s, back.temperature, back.kept_share, back.trained) == (16.0, 1.3, 0.4, {"pieces": 10})
    piece = Events(np.array([60]), np.array([0.5]), np.array([1.0]), np.array([80]))
    assert back.scores([piece], [16.0]) == pytest.approx(critic.scores([piece], [16.0]), rel=1e-5)
    assert PieceCritic.load(tmp_path / "none") is None
    (tmp_path / CRITIC).write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match=f"{CRITIC}: not a readable piece critic"):
        PieceCritic.load(tmp_path)


def test_a_long_piece_is_scored_by_the_mean_of_its_windows():
    critic = PieceCritic(RollCritic(8), 16.0, 2.0, 0.5, {})
    rng = np.random.default_rng(2)
    piece = Events(rng.integers(30, 80, 200), np.sort(rng.uniform(0, 40, 200)), rng.uniform(0.1, 1, 200),
                   rng.integers(20, 110, 200))
    windows = [Events(piece.ids, piece.start_s - s, piece.duration_s, piece.intensity) for s in (0.0, 16.0, 24.0)]
    each = critic.scores(windows, [16.0] * 3)
    assert critic.scores([piece], [40.0])[0] == pytest.approx(each.mean(), rel=1e-5)


@pytest.fixture(scope="module")
def events_run(tiny_corpus, tiny_ae, tmp_path_factory):
    run = tmp_path_factory.mktemp("critic") / "events"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TINY_EVENTS | {"gan.steps": 2}), arch="events",
                         progress=False)
    return run


def test_the_pieces_kept_are_the_first_the_critic_keeps_and_the_same_seed_keeps_the_same(events_run):
    model = GANModel.load(events_run)
    model.critic = constant_critic(5.0, kept_share=1.0)  # every piece kept: the first n of the first round
    latents, events = selected_pieces(model, 3, 2.0, seed=4)
    drawn = model.sample_latents(math.ceil(3 / 1.0 * 1.25), 2.0, 4)
    assert all(torch.equal(a, b) for a, b in zip(latents, drawn[:3]))
    again, _ = selected_pieces(model, 3, 2.0, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(latents, again))


def test_a_critic_that_keeps_nothing_still_gives_n_pieces_and_says_so(events_run, caplog):
    model = GANModel.load(events_run)
    model.critic = constant_critic(0.0, kept_share=1e-9)  # kept about once in a billion draws
    with caplog.at_level(logging.WARNING):
        latents, events = selected_pieces(model, 2, 2.0, seed=0)
    assert len(latents) == len(events) == 2
    assert "the critic kept 0 of 192 pieces drawn; the best scored 2 of the others fill in" in caplog.text  # 8 × (4·2 + 16)


def test_written_pieces_select_when_asked_and_refuse_it_without_a_critic_or_with_a_prompt(events_run):
    model = GANModel.load(events_run)
    with pytest.raises(ValueError, match="has no critic"):
        written_pieces(model, 2, 2.0, seed=1, select=True)
    model.critic = constant_critic(5.0)
    selected, _ = written_pieces(model, 2, 2.0, seed=1, select=True)
    plain, _ = written_pieces(model, 2, 2.0, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(selected, selected_pieces(model, 2, 2.0, seed=1)[0]))
    assert all(torch.equal(a, b) for a, b in zip(plain, model.sample_latents(2, 2.0, 1)))
    prompt = Events(np.array([60]), np.array([0.1]), np.array([0.3]), np.array([70]))
    with pytest.raises(ValueError, match="--select cannot be used with --prompt"):
        written_pieces(model, 1, 2.0, seed=1, select=True, prompt=prompt)
    with pytest.raises(ValueError, match="pieces that end themselves"):
        written_pieces(model, 1, 2.0, seed=1, select=True, ends=True)
    with pytest.raises(ValueError, match="judges windows of 2 s"):
        written_pieces(model, 1, 1.0, seed=1, select=True)


def test_a_damaged_critic_stops_only_select_and_the_tool_trains_over_it(events_run, tiny_corpus, tmp_path, capsys):
    (events_run / "last" / CRITIC).write_bytes(b"damaged")
    try:
        model = GANModel.load(events_run)  # a warning, not a refusal
        assert model.critic is None and "not a readable piece critic" in model.critic_error
        assert len(written_pieces(model, 1, 2.0, seed=0)[1]) == 1
        with pytest.raises(ValueError, match="--select: .*not a readable piece critic"):
            written_pieces(model, 1, 16.0, seed=0, select=True)
        assert critic_main([str(events_run), "--corpus", str(tiny_corpus), "-n", "50", "--epochs", "1",
                            "--overwrite"]) == 0
        assert PieceCritic.load(events_run / "last") is not None
    finally:
        (events_run / "last" / CRITIC).unlink(missing_ok=True)


def test_the_tool_trains_a_critic_that_generate_then_uses(events_run, tiny_corpus, tmp_path, capsys, caplog):
    assert critic_main([str(events_run), "--corpus", str(tiny_corpus), "-n", "50", "--epochs", "1"]) == 0
    out, err = capsys.readouterr()
    assert "\nWARNING: a held-out accuracy" in err and "hardly better than chance" in err  # 50 pieces, one epoch
    # (WARNING: as every command's warnings begin)
    written = events_run / "last" / CRITIC
    assert str(written) in out and written.is_file()
    critic = PieceCritic.load(events_run / "last")
    assert critic.kept_share == 0.5 and critic.trained["pieces"] == 50 and critic.temperature > 0
    assert critic.trained["held_out_tracks"] >= 1 and "silent_window_score" in critic.trained
    assert critic_main([str(events_run), "--corpus", str(tiny_corpus), "-n", "50"]) == 1  # not over it unasked
    assert "--overwrite" in capsys.readouterr().err
    with caplog.at_level(logging.INFO):
        assert tsm(["generate", "--model", str(events_run), "-n", "2", "--seconds", "16", "-o", str(tmp_path / "a"),
                    "--select"]) == 0
    assert "kept by the model's critic" in caplog.text
    assert tsm(["generate", "--model", str(events_run), "-n", "2", "--seconds", "2", "-o", str(tmp_path / "b")]) == 0
    assert len(list((tmp_path / "a").glob("*.mid"))) == len(list((tmp_path / "b").glob("*.mid"))) == 2
    capsys.readouterr()
    assert tsm(["generate", "--model", str(events_run), "--info", "--json"]) == 0
    assert '"kept_share": 0.5' in capsys.readouterr().out
    assert critic_main([str(models_dir() / "default"), "--corpus", str(tiny_corpus)]) == 1
    assert "a shipped model, not changed in place" in capsys.readouterr().err
    assert critic_main([str(tmp_path / "missing"), "--corpus", str(tiny_corpus)]) == 1
    err = capsys.readouterr().err  # (a folder of the user's: no word of the shipped ones' install path)
    assert err.strip() == f"error: {tmp_path / 'missing'}: no such model folder"
    assert critic_main(["default", "--corpus", str(tiny_corpus)]) == 1
    assert "default: the shipped model default is not changed in place" in capsys.readouterr().err


def test_resuming_a_run_whose_checkpoint_holds_a_critic_or_a_calibration_is_refused_before_either_goes(
        events_run, tiny_corpus, tmp_path, capsys):
    """train.critic writes into RUN/last (its hint says so), and a resumed run replaces RUN/last (and RUN/best) with
    checkpoints of its own: the critic, minutes of drawing and training, went without a word."""
    import json
    import shutil

    from timestepmusic.generation import GANModel
    from timestepmusic.model_export import main as export_main

    run = tmp_path / "run"
    shutil.copytree(events_run, run)
    (run / "last" / CRITIC).unlink(missing_ok=True)  # (the module's run may hold one from a test before)
    assert critic_main([str(run), "--corpus", str(tiny_corpus), "-n", "50", "--epochs", "1"]) == 0
    capsys.readouterr()
    assert tsm(["train-gan", str(tiny_corpus), "--resume", str(run), "--steps", "3", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {run / 'last' / CRITIC}: a critic added to this checkpoint"), err
    assert len(err.splitlines()) == 1 and (run / "last" / CRITIC).is_file()
    # what it says to keep the checkpoint by gives a model of its own, critic and all (`cp -r RUN/last RUN-last` gave a
    # folder tsm generate refused: its autoencoder stayed in the run)
    kept = err.split("(python -m timestepmusic.model_export ")[1].split(")")[0].split()
    assert export_main(kept) == 0 and GANModel.load(kept[1]).arch == "events" and (Path(kept[1]) / CRITIC).is_file()
    (run / "last" / CRITIC).unlink()
    config = run / "best" / "config.json"  # a style calibration kept in best's config.json (train.style_calibration)
    config.write_text(json.dumps(json.loads(config.read_text()) | {"style_calibration": {}}))
    with pytest.raises(ValueError, match=r"best/config.json: a style calibration \(style_calibration\) added"):
        train_sequence_model(tiny_corpus, None, run, resume=True, steps=3, progress=False)
    config.write_text(json.dumps({k: v for k, v in json.loads(config.read_text()).items() if k != "style_calibration"}))
    assert tsm(["train-gan", str(tiny_corpus), "--resume", str(run), "--steps", "3", "-q"]) == 0  # moved out: it goes on


def test_exporting_a_run_says_what_was_added_to_last_that_the_export_of_its_best_leaves_out(events_run, tmp_path, capsys):
    """train.critic and train.style_calibration write into RUN/last, and model_export RUN takes RUN/best where there is
    one: the critic and curves a user had just made went without a word (docs/training.md trains the critic, then
    exports)."""
    import json
    import shutil

    from timestepmusic.model_export import main as export_main

    run = tmp_path / "run"
    shutil.copytree(events_run, run)
    if not (run / "best").is_dir():
        shutil.copytree(run / "last", run / "best")
    (run / "best" / CRITIC).unlink(missing_ok=True)
    (run / "last" / CRITIC).write_bytes(b"a critic")  # (only its presence is read: nothing of last is exported)
    config = run / "last" / "config.json"
    config.write_text(json.dumps(json.loads(config.read_text()) | {"style_calibration": {}}))
    assert export_main([str(run), str(tmp_path / "of-best")]) == 0
    err = capsys.readouterr().err
    assert f"WARNING: {run / 'last'}'s piece critic is not in {tmp_path / 'of-best'}" in err
    assert f"WARNING: {run / 'last'}'s style calibration is not in {tmp_path / 'of-best'}" in err
    assert "python -m timestepmusic.train.critic" in err and "python -m timestepmusic.train.style_calibration" in err
    assert not (tmp_path / "of-best" / CRITIC).exists()
    assert export_main([str(run / "last"), str(tmp_path / "of-last")]) == 0  # the checkpoint named: all of it, no word
    assert capsys.readouterr().err == "" and (tmp_path / "of-last" / CRITIC).is_file()
    shutil.copy(run / "last" / CRITIC, run / "best" / CRITIC)  # best holds its own: nothing left behind
    config = run / "best" / "config.json"
    config.write_text(json.dumps(json.loads(config.read_text()) | {"style_calibration": {}}))
    assert export_main([str(run), str(tmp_path / "both")]) == 0 and capsys.readouterr().err == ""
    shutil.rmtree(run / "best")  # a run without a best exports its last, additions and all
    assert export_main([str(run), str(tmp_path / "no-best")]) == 0 and capsys.readouterr().err == ""
    assert (tmp_path / "no-best" / CRITIC).is_file()


def test_select_without_a_critic_is_refused_in_one_line(events_run, tmp_path, capsys):
    (events_run / "last" / CRITIC).unlink(missing_ok=True)
    assert tsm(["generate", "--model", str(events_run), "-n", "1", "--seconds", "2", "-o", str(tmp_path), "--select"]) != 0
    err = capsys.readouterr().err.strip()
    assert "has no critic" in err and len(err.splitlines()) == 1


def test_select_without_a_critic_says_the_command_that_trains_one_for_that_very_folder(events_run, tiny_corpus,
                                                                                        tmp_path, capsys):
    """The hint names the checkpoint the model was read from (a run's best, not its last), and works pasted; a
    shipped model is named by its name and not trained in place."""
    import shlex
    import shutil

    best = tmp_path / "mine" / "best"
    shutil.copytree(events_run / "last", best)
    shutil.copytree(events_run / "autoencoder", tmp_path / "mine" / "autoencoder")
    (best / CRITIC).unlink(missing_ok=True)
    ask = ["generate", "--model", str(best), "-n", "1", "--seconds", "16", "--select"]
    assert tsm([*ask, "-o", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip()
    command = f"python -m timestepmusic.train.critic {best} --corpus {tiny_corpus}"
    assert err.endswith(f"has no critic ({CRITIC}); train one with: {command}") and "/last" not in err, err
    assert critic_main([*shlex.split(command)[3:], "-n", "50", "--epochs", "1"]) == 0  # pasted: it trains that one
    assert (best / CRITIC).is_file() and tsm([*ask, "-o", str(tmp_path / "b")]) == 0
    assert tsm(["generate", "--model", "conv-v1", "-n", "1", "--select", "-o", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "--select: the shipped model conv-v1 has no critic" in err and str(models_dir()) not in err, err
    assert "critic COPY --corpus CORPUS" in err


def test_select_with_a_prompt_is_refused_before_the_prompt_is_read(tmp_path, capsys):
    """The refusal comes alone: not after what reading the prompt would warn of (a file that runs on silently)."""
    prompt = Events(np.array([60]), np.array([0.1]), np.array([0.3]), np.array([70]), 9.0)  # silent for 8.6 s after
    write_events(prompt, tmp_path / "mine.mid")
    assert tsm(["generate", "--select", "--prompt", str(tmp_path / "mine.mid"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --select cannot be used with --prompt") and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_an_export_samples_with_another_models_sampling_settings_where_asked(events_run, tmp_path, capsys):
    """A run reproduced from docs/training.md samples with the settings of its training, not the shipped default's,
    chosen on validation since (the damper bias, times inside their bins, …): `--sampling-from default` exports it
    with those its arm reads, every trained setting as it was; a model of another arm is refused in one line."""
    import json
    import shutil

    from timestepmusic.generation import checkpoint_config
    from timestepmusic.model_export import main as export_main

    def config_of(folder):
        return json.loads((folder / "config.json").read_text())

    assert export_main([str(events_run), str(tmp_path / "as-trained")]) == 0
    assert export_main([str(events_run), str(tmp_path / "as-default"), "--sampling-from", "default"]) == 0
    out = capsys.readouterr().out
    trained, exported = config_of(tmp_path / "as-trained"), config_of(tmp_path / "as-default")
    shipped = checkpoint_config(config_of(models_dir() / "default")).ar
    changed = exported["sampling_from"]["changed"]
    assert {"damper_bias", "in_bins", "beat_echo"} <= set(changed) and "closing_s" not in changed  # (trained)
    assert "spread_pull" not in changed  # (a model trained without ar.style does not read it)
    assert f"sampling as default: {len(changed)} setting(s) changed (ar." in out
    ar = checkpoint_config(exported).ar
    assert ar.damper_bias == shipped.damper_bias == -0.3 and ar.in_bins is True
    assert all(getattr(ar, name) == getattr(shipped, name) for name in changed)
    assert {k: v for k, v in exported["config"]["ar"].items() if k not in changed} == \
        {k: v for k, v in trained["config"]["ar"].items() if k not in changed}  # nothing else moved
    assert ar.final_hold == checkpoint_config(trained).ar.final_hold  # (trained without a closing: not its to read)
    GANModel.load(tmp_path / "as-default").sample(1, 1.0, seed=0)  # and it samples
    run = tmp_path / "criticised"  # a piece critic made for the run's own sampling: said to make again
    shutil.copytree(events_run, run)
    (run / ("best" if (run / "best").is_dir() else "last") / CRITIC).write_bytes(b"a critic")
    assert export_main([str(run), str(tmp_path / "with-critic"), "--sampling-from", "default"]) == 0
    assert (f"WARNING: {tmp_path / 'with-critic'}'s piece critic was made with the run's own sampling settings"
            in capsys.readouterr().err)
    assert export_main([str(events_run), str(tmp_path / "as-conv"), "--sampling-from", "conv-v1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --sampling-from conv-v1: ") and len(err.splitlines()) == 1
    assert not (tmp_path / "as-conv").exists()


def test_an_export_keeps_a_sampling_setting_the_model_it_samples_as_never_reads(events_run):
    """--sampling-from MODEL takes only the settings MODEL's arm reads: a run trained with ar.style given events-v9's
    (trained without it) keeps its own ar.spread_pull, which events-v9 never read nor chose."""
    import json

    from timestepmusic.generation import checkpoint_config
    from timestepmusic.model_export import with_sampling_of

    meta = json.loads(((events_run / "best" if (events_run / "best").is_dir() else events_run / "last")
                       / "config.json").read_text())
    meta["config"]["ar"] = dict(meta["config"].get("ar", {}), style=True, spread_pull=0.9)
    exported = with_sampling_of(meta, "events-v9")
    assert "spread_pull" not in exported["sampling_from"]["changed"]
    assert checkpoint_config(exported).ar.spread_pull == 0.9
