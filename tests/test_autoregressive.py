"""The likelihood arm: a causal transformer over chunk latents with a density head (mixture or dimwise) and an end head."""
from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from timestepmusic.checkpoint import grow_positions, growing_tables, load_matching
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.generation import GANModel
from timestepmusic.midi import read_events
from timestepmusic.sequence.transformer_net import DimwiseMixture, LatentTransformer, mixture_nll, sample_mixture
from timestepmusic.train.log import read_metrics
from timestepmusic.train.sequence import train_sequence_model

from conftest import assert_same_weights

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import end_calibration  # noqa: E402  (bench/: the replay of where pieces end)

TINY_AR = {"ar.context": 16, "ar.width": 16, "ar.layers": 1, "ar.heads": 2, "ar.mixture": 2, "ar.batch": 4,
           "gan.steps": 8, "gan.validate_every": 4, "gan.sample_every": 0}


@pytest.fixture(scope="module")
def ar_run(tiny_corpus, tiny_ae, tmp_path_factory):
    run = tmp_path_factory.mktemp("ar") / "run"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TINY_AR), arch="ar", progress=False)
    return run


def test_a_run_that_ends_within_the_warm_up_says_so(tiny_corpus, tiny_ae, tmp_path, caplog):
    # a short ar or events run (a quick comparison of arms) trained at a rising fraction of ar.lr and never decayed,
    # saying nothing: its curves read as the arm's, not the schedule's
    with caplog.at_level("WARNING", logger="timestepmusic"):
        train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "short", Config().override(TINY_AR | {"gan.steps": 4}),
                             arch="ar", progress=False)
    assert ("--steps 4 ends within the learning rate's 200-step warm-up: it rises only to 2e-05 (ar.lr 0.001) and "
            "never decays; give --steps above 200 for the whole schedule") in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="timestepmusic"):  # the whole schedule: nothing to say
        train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "long", Config().override(TINY_AR | {"gan.steps": 201}),
                             arch="ar", progress=False, max_steps=1)
    assert "warm-up" not in caplog.text


def test_a_resumed_runs_sampling_setting_is_refused_with_how_to_draw_pieces_with_it(ar_run, tiny_corpus, capsys):
    # the refusal said only "start a new run": a new training run, to sample at another temperature
    assert main(["train-gan", str(tiny_corpus), "--resume", str(ar_run), "--set", "ar.temperature=0.7", "-q"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "start a new run (--init-from RUN: from its weights) to change it, or draw pieces with it: tsm generate "
        f"--model {ar_run} --set ar.temperature=0.7")
    assert main(["train-gan", str(tiny_corpus), "--resume", str(ar_run), "--set", "ar.width=24", "-q"]) == 2
    assert "tsm generate" not in capsys.readouterr().err  # a setting of the network: no sampling to change


def test_the_mixture_nll_is_the_gaussian_nll_for_one_component():
    x = torch.randn(2, 3, 4)
    mean, log_sigma = torch.randn(2, 3, 1, 4), torch.randn(2, 3, 1, 4) * 0.1
    expected = -torch.distributions.Normal(mean[:, :, 0], log_sigma[:, :, 0].exp()).log_prob(x).sum(-1)
    assert torch.allclose(mixture_nll(x, torch.zeros(2, 3, 1), mean, log_sigma), expected, atol=1e-5)


def test_a_prediction_depends_only_on_the_past():
    torch.manual_seed(0)
    net = LatentTransformer(latent=4, context=8, width=16, layers=2, heads=2, mixture=2, dropout=0.0).eval()
    x = torch.randn(1, 8, 4)
    changed = x.clone()
    changed[:, 5:] += 1.0
    a, b = net(x)[1], net(changed)[1]
    assert torch.equal(a[:, :6], b[:, :6])  # step t reads x[<t]: steps 0–5 do not see x[5:]
    assert not torch.equal(a[:, 6:], b[:, 6:])


def test_a_dimwise_density_reads_only_the_dimensions_before_each():
    torch.manual_seed(0)
    head = DimwiseMixture(latent=5, width=6, mixture=3, hidden=16)
    features, x = torch.randn(2, 6), torch.randn(2, 5, requires_grad=True)
    logits, mean, log_sigma = head(features, x)  # [2, 5, 3] each
    for d in range(5):
        (grad,) = torch.autograd.grad((logits[:, d] + mean[:, d] + log_sigma[:, d]).sum(), x, retain_graph=True)
        assert torch.all(grad[:, d:] == 0)  # nothing from x_d on
        assert d == 0 or torch.any(grad[:, :d] != 0)  # but it does read the dimensions before


def test_dimwise_sampling_draws_from_the_density_the_network_computes():
    """Sampling runs the network incrementally; at temperatures near 0 each x_d is the mean of the likeliest
    component given the x_<d drawn, which the whole forward pass must agree with."""
    torch.manual_seed(0)
    head = DimwiseMixture(latent=6, width=5, mixture=3, hidden=24)
    features = torch.randn(40, 5)
    x = head.sample(features, 1e-6, torch.Generator().manual_seed(0), mixture_temperature=1e-4)
    logits, mean, _ = head(features, x)  # [40, 6, 3] each
    likeliest = mean.gather(-1, logits.argmax(-1, keepdim=True))[..., 0]  # [40, 6]
    assert torch.allclose(x, likeliest, atol=1e-4)
    a = head.sample(features, 1.0, torch.Generator().manual_seed(1))
    assert torch.equal(a, head.sample(features, 1.0, torch.Generator().manual_seed(1)))  # deterministic per seed
    assert not torch.equal(a, head.sample(features, 1.0, torch.Generator().manual_seed(2)))


def test_a_dimwise_density_learns_what_a_diagonal_one_cannot():
    """x_1 = x_0 exactly (up to 0.01): one diagonal Gaussian pays for x_1's whole spread, the dimwise head
    predicts x_1 from x_0; its samples keep the relation."""
    torch.manual_seed(0)
    x0 = torch.randn(512, 1)
    x = torch.cat([x0, x0 + 0.01 * torch.randn(512, 1)], dim=1)[:, None]  # [512, 1, 2]
    nll = {}
    for head in ("mixture", "dimwise"):
        net = LatentTransformer(latent=2, context=4, width=8, layers=1, heads=2, mixture=1, dropout=0.0,
                                head=head, head_hidden=16)
        # (lr 1e-2 for 300 steps learned the relation on one machine and not on another; this setting
        # learned it for seeds 0-3 on both)
        optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
        for _ in range(1500):
            loss = net.nll(x, net(x)[0]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        nll[head] = float(loss.detach())
        if head == "dimwise":
            (density, _), _ = net.prefill(x.new_zeros(200, 0, 2))
            drawn = net.sample(tuple(d[:, -1] for d in density), 1.0, torch.Generator().manual_seed(1))
            assert float((drawn[:, 1] - drawn[:, 0]).abs().median()) < 0.1
            assert float(drawn[:, 0].std()) > 0.5
    assert nll["dimwise"] < nll["mixture"] - 2.0


def test_temperature_narrows_the_draws():
    rng = torch.Generator().manual_seed(0)
    logits, mean, log_sigma = torch.zeros(4000, 2), torch.zeros(4000, 2, 3), torch.zeros(4000, 2, 3)
    assert sample_mixture(logits, mean, log_sigma, 0.5, rng).std() == pytest.approx(0.5, rel=0.05)


def test_the_mixture_temperature_favours_the_likeliest_component():
    rng = torch.Generator().manual_seed(0)
    logits = torch.tensor([[math.log(0.8), math.log(0.2)]]).expand(4000, 2)  # component 0: mean 0; 1: mean 10
    mean = torch.zeros(4000, 2, 1)
    mean[:, 1] = 10.0
    log_sigma = torch.full((4000, 2, 1), -5.0)

    def share_of_second(tau: float) -> float:
        return float((sample_mixture(logits, mean, log_sigma, 1.0, rng, mixture_temperature=tau) > 5).float().mean())

    assert share_of_second(1.0) == pytest.approx(0.2, abs=0.03)  # τ = 1: the mixture's own weights
    assert share_of_second(0.5) == pytest.approx(0.04 / 0.68, abs=0.02)  # weights² renormalised
    assert share_of_second(2.0) > 0.3


@pytest.mark.parametrize("input_noise, head", [(0.0, "mixture"), (0.3, "mixture"), (0.0, "dimwise")])
def test_training_lowers_the_held_out_nll_and_resumes_exactly(tiny_corpus, tiny_ae, tmp_path, input_noise, head):
    config = Config().override(TINY_AR | {"gan.steps": 60, "gan.validate_every": 20, "ar.input_noise": input_noise,
                                          "ar.head": head, "ar.head_hidden": 32})
    straight = tmp_path / "straight"
    train_sequence_model(tiny_corpus, tiny_ae, straight, config, arch="ar", progress=False)
    rows = [r for r in read_metrics(straight / "metrics.jsonl") if "val_nll" in r]
    assert rows[-1]["val_nll"] < rows[0]["val_nll"]
    assert all(math.isfinite(r["nll"]) for r in rows)
    resumed = tmp_path / "resumed"
    train_sequence_model(tiny_corpus, tiny_ae, resumed, config, arch="ar", progress=False, max_steps=25)
    train_sequence_model(tiny_corpus, None, resumed, resume=True, progress=False)
    assert_same_weights(straight, resumed)


def test_input_noise_changes_what_the_transformer_reads_not_what_it_predicts(tiny_corpus, tiny_ae, tmp_path):
    weights = {}
    for noise in (0.0, 0.5):
        run = tmp_path / f"noise{noise}"
        config = Config().override(TINY_AR | {"gan.steps": 5, "ar.input_noise": noise})
        train_sequence_model(tiny_corpus, tiny_ae, run, config, arch="ar", progress=False)
        weights[noise] = load_file(str(run / "last" / "generator.safetensors"))
        held_out = json.loads((run / "last" / "config.json").read_text())
        assert held_out["config"]["ar"]["input_noise"] == noise  # the run records it, so resume keeps it
    assert any(not torch.equal(weights[0.0][k], weights[0.5][k]) for k in weights[0.0])
    with pytest.raises(ValueError, match="ar.input_noise"):
        Config().override({"ar.input_noise": -0.1})


def test_ar_checkpoints_from_before_the_sampling_settings_sample_as_they_did(ar_run, tmp_path):
    import shutil

    from timestepmusic.generation import checkpoint_config

    meta = json.loads((ar_run / "last" / "config.json").read_text())
    now = checkpoint_config(meta).ar
    assert (now.mixture_temperature, now.slide_stride) == (1.0, 16)  # written today: its own settings
    for key in ("mixture_temperature", "slide_stride", "head"):
        del meta["config"]["ar"][key]
    meta["config"]["ar"]["temperature"] = 0.45
    before = checkpoint_config(meta).ar
    assert (before.mixture_temperature, before.slide_stride) == (0.45, 1)  # the mixture at ar.temperature, no stride
    assert before.head == "mixture"  # whatever head new runs get
    old = tmp_path / "old"
    shutil.copytree(ar_run, old)
    (old / "last" / "config.json").write_text(json.dumps(meta))
    model = GANModel.load(old)
    assert (model.arm.settings.mixture_temperature, model.arm.settings.slide_stride) == (0.45, 1)


def test_sampling_is_deterministic_and_can_end_pieces(ar_run):
    model = GANModel.load(ar_run)
    fixed = model.sample_latents(3, 4.0, seed=1)
    assert [p.shape[0] for p in fixed] == [16, 16, 16]
    assert all(torch.equal(a, b) for a, b in zip(fixed, model.sample_latents(3, 4.0, seed=1)))
    ended = model.sample_latents(8, 4.0, seed=1, ends=True)
    assert all(1 <= p.shape[0] <= 16 for p in ended)
    # the same draws up to where a piece ends: ending only cuts
    assert all(torch.equal(e, f[:e.shape[0]]) for e, f in zip(ended, model.sample_latents(8, 4.0, seed=1)))
    cooler = model.sample_latents(3, 4.0, seed=1, temperature=0.3)
    assert not torch.equal(cooler[0], fixed[0])
    sharper = model.sample_latents(3, 4.0, seed=1, mixture_temperature=0.3)
    assert not torch.equal(sharper[0], fixed[0])
    assert model.arm.mixture_temperature == 0.3
    again = model.sample_latents(3, 4.0, seed=1)  # unset: back to the model's own settings
    assert all(torch.equal(a, b) for a, b in zip(again, fixed))


def test_the_end_bias_moves_where_pieces_end(ar_run):
    model = GANModel.load(ar_run)
    assert model.arm.settings.end_after_s == 10.0  # no piece ends before 10 s (ar.end_after_s) …
    lengths = {}
    for bias in (-20.0, 0.0, 20.0):
        model.arm.settings = dataclasses.replace(model.arm.settings, end_bias=bias, end_after_s=0.0)
        lengths[bias] = [p.shape[0] for p in model.sample_latents(8, 4.0, seed=1, ends=True)]
    assert lengths[-20.0] == [16] * 8  # never ends: the full 4 s
    assert lengths[20.0] == [1] * 8  # ends at the first chunk …
    model.arm.settings = dataclasses.replace(model.arm.settings, end_bias=20.0, end_after_s=2.0)
    assert [p.shape[0] for p in model.sample_latents(8, 4.0, seed=1, ends=True)] == [8] * 8  # … or at 2 s played
    with pytest.raises(ValueError, match="ar.end_after_s"):
        Config().override(["ar.end_after_s=-1"])
    fixed = [p.shape[0] for p in model.sample_latents(8, 4.0, seed=1)]
    assert fixed == [16] * 8  # a piece of fixed length ignores the end head and its bias


def test_the_end_rise_ends_long_pieces_sooner_and_the_trace_replays_it(ar_run):
    """ar.end_rise adds to the end logit per minute played: with it no piece runs longer, some end sooner; the end
    trace (bench/end_calibration.py) gives back exactly the lengths the sampler chose, for any bias and rise."""
    model = GANModel.load(ar_run)
    model.arm.settings = dataclasses.replace(model.arm.settings, end_bias=-4.0)
    model.arm.end_trace = []
    fixed = model.sample_latents(16, 30.0, seed=2)  # no ending: the trace of every chunk
    logits, uniforms = (torch.stack(column, dim=1) for column in zip(*model.arm.end_trace))  # [16, 120] each
    model.arm.end_trace = None
    assert logits.shape == uniforms.shape == (16, 120)
    lengths = {}
    for rise in (0.0, 30.0):
        model.arm.settings = dataclasses.replace(model.arm.settings, end_rise=rise)
        pieces = model.sample_latents(16, 30.0, seed=2, ends=True)
        lengths[rise] = torch.tensor([p.shape[0] for p in pieces])
        assert all(torch.equal(p, f[:p.shape[0]]) for p, f in zip(pieces, fixed))  # ending moves no draw
        trace = {"logits": logits.numpy(), "uniforms": uniforms.numpy(), "chunk_seconds": model.ae.chunk_seconds,
                 "end_after_s": model.arm.settings.end_after_s}  # (10 s: no piece ends sooner)
        replayed = end_calibration.replay(trace, -4.0, rise, max_seconds=30.0)  # [16] seconds
        assert np.array_equal(replayed, lengths[rise].numpy() * model.ae.chunk_seconds)
    assert (lengths[30.0] <= lengths[0.0]).all() and (lengths[30.0] < lengths[0.0]).any()


def test_a_prompt_is_continued(ar_run, tiny_corpus, tmp_path, capsys):
    prompt_file = next((tiny_corpus.parent / "midi").rglob("*.mid"))
    prompt, _ = read_events(prompt_file)
    model = GANModel.load(ar_run)
    heard, _ = model.ae.encode_events(prompt)  # [P, L]
    pieces = model.sample_latents(2, 2.0, seed=0, prompt=prompt)
    p = heard.shape[0]
    assert all(piece.shape[0] == p + 8 for piece in pieces)
    assert all(torch.allclose(piece[:p], heard, atol=1e-5) for piece in pieces)
    assert not torch.equal(pieces[0][p:], pieces[1][p:])
    out = tmp_path / "cont"
    assert main(["generate", "--model", str(ar_run), "--prompt", str(prompt_file), "--seconds", "2", "-n", "1",
                 "--temperature", "0.8", "-o", str(out)]) == 0
    assert len(list(out.glob("*.mid"))) == 1
    said = re.search(r"\(([\d.]+) s drawn after the prompt's ([\d.]+) s", capsys.readouterr().out)
    assert float(said.group(1)) == 2.0 and float(said.group(2)) >= p * model.ae.chunk_seconds  # 2 s after the prompt


def test_prompt_and_temperature_are_refused_for_a_gan_in_one_line(tiny_corpus, tiny_ae, tmp_path, capsys):
    run = tmp_path / "conv"
    config = Config().override({"gan.window_chunks": 16, "gan.channels": 16, "gan.noise": 8, "gan.batch": 4,
                                "gan.steps": 2, "gan.validate_every": 2, "gan.sample_every": 0})
    train_sequence_model(tiny_corpus, tiny_ae, run, config, arch="conv", progress=False)
    for flag in ("--temperature", "--mixture-temperature"):
        assert main(["generate", "--model", str(run), flag, "0.5", "-o", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert "events models" in err and "\n" not in err


def test_shipped_models_are_listed_and_found_by_name(capsys, tmp_path):
    from timestepmusic.shipped import resolve_model, shipped_names

    names = shipped_names()
    assert names[0] == "default"
    assert main(["generate", "--list"]) == 0
    *listed, autoencoders, composers = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == names
    assert autoencoders.startswith("autoencoders, for --ae") and "ae-latent75" in autoencoders
    assert composers.startswith("composers, for --composer") and "Chopin 225, Beethoven 220, Bach 119" in composers
    for line, name in zip(listed, names):  # one line each: its name, arch and summary
        summary = json.loads((resolve_model(name) / "config.json").read_text())["summary"]
        assert line.endswith(summary) and len(summary) < 200
    assert resolve_model(names[-1]).name == names[-1]
    capsys.readouterr()
    assert main(["generate", "--list", "--model", "events-v9"]) == 0  # the composers of the model named: none kept
    assert "composers, for --composer" not in capsys.readouterr().out
    for flags in (["--list"], ["--info"]):  # an autoencoder is no model to describe or list composers of: said first
        assert main(["generate", *flags, "--model", "ae-latent48"]) == 2
        printed = capsys.readouterr()
        assert printed.out == "" and "ae-latent48: an autoencoder" in printed.err and printed.err.count("\n") == 1
    assert main(["generate", "--model", "no-such-model", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "not a shipped model" in err and "default" in err and err.count("\n") == 1 and "did you mean" not in err
    (tmp_path / "young" / "last").mkdir(parents=True)  # a run not validated yet: its best is not there
    assert main(["generate", "--model", str(tmp_path / "young" / "best"), "-o", str(tmp_path / "o")]) == 2
    assert "has no best checkpoint yet" in capsys.readouterr().err
    for typo, meant in (("defualt", "default"), ("Default", "default"), ("evnts-v28", "events-v28")):
        assert main(["generate", "--model", typo, "-o", str(tmp_path / "o")]) == 2
        assert f"did you mean {meant}?" in capsys.readouterr().err


def test_a_folder_that_holds_no_model_does_not_hide_a_shipped_one(tmp_path, monkeypatch, capsys):
    """An output folder called `style` (or `default`) in the working directory: the shipped model is still used;
    a folder that holds a checkpoint is taken as given."""
    from timestepmusic.shipped import models_dir, recorded_model, resolve_model

    monkeypatch.chdir(tmp_path)
    (tmp_path / "style").mkdir()
    (tmp_path / "default").mkdir()
    assert resolve_model("style") == models_dir() / "style"
    assert resolve_model(None) == models_dir() / "default"
    assert resolve_model("default") == models_dir() / "default"
    assert [recorded_model(name) for name in ("style", "default", None)] == ["style", None, None]  # (a marker's)
    (tmp_path / "style" / "last").mkdir()
    (tmp_path / "style" / "last" / "config.json").write_text("{}")
    assert resolve_model("style") == Path("style")  # a checkpoint there: taken as given
    assert recorded_model("style") == "./style"  # … and a marker names the folder, not the shipped model
    assert main(["generate", "--list", "--arch", "rnn"]) == 2  # none of that kind: said, not an empty list
    err = capsys.readouterr().err.strip()
    assert "no shipped model is of this kind" in err and "\n" not in err


def test_a_shipped_autoencoder_is_found_by_name_and_is_not_a_generator(capsys, tmp_path):
    from timestepmusic.autoencoder import load_autoencoder
    from timestepmusic.shipped import shipped_autoencoders, shipped_names

    assert "ae-latent48" in shipped_autoencoders() and "ae-latent48" not in shipped_names()
    ae = load_autoencoder("ae-latent48")
    assert ae.model.latent == 48 and (ae.encoding.decode_z_max, ae.pedal_join_s) == (3.25, 0.05)
    ae = load_autoencoder("ae-latent75")  # each decodes with the settings chosen for it
    assert ae.model.latent == 75 and (ae.encoding.decode_z_max, ae.pedal_join_s) == (3.25, 0.02)
    assert "ae-latent75" in shipped_autoencoders() and "ae-latent75" not in shipped_names()
    assert main(["generate", "--model", "ae-latent48", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "autoencoder" in err and err.count("\n") == 1


def test_arch_without_model_picks_the_shipped_model_of_that_kind(capsys, tmp_path):
    from timestepmusic.shipped import shipped_description, shipped_names, shipped_of_arch

    kinds = {shipped_description(name)["arch"] for name in shipped_names()}
    for arch in kinds:
        name = shipped_of_arch(arch)
        assert shipped_description(name)["arch"] == arch
        assert main(["generate", "--arch", arch, "--info", "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["arch"] == arch
        assert ("note" in (info["trained"] or {})) == bool(info["initialised_from"])  # whose steps they are, said
        assert main(["generate", "--list", "--arch", arch]) == 0  # --list --arch: only that kind
        assert {line.split()[1] for line in capsys.readouterr().out.splitlines()} == {arch}
    for arch in {"conv", "rnn", "ar"} - {shipped_description("default")["arch"]}:  # --model and --arch disagree
        assert main(["generate", "--model", "default", "--arch", arch, "--info"]) == 2
        assert "--arch" in capsys.readouterr().err
    for arch in {"conv", "rnn", "ar"} - kinds:  # a kind nothing shipped is: one line naming what is
        assert main(["generate", "--arch", arch, "-o", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert "no shipped model" in err and "default" in err and err.count("\n") == 1


def flat(outputs):
    """(density parameters, end logit) → one list of tensors."""
    return [*outputs[0], outputs[1]]


@pytest.mark.parametrize("head", ["mixture", "dimwise"])
def test_cached_steps_equal_the_whole_window(head):
    torch.manual_seed(0)
    net = LatentTransformer(latent=4, context=8, width=16, layers=2, heads=2, mixture=2, dropout=0.0,
                            head=head, head_hidden=12).eval()
    x = torch.randn(3, 8, 4)
    whole = flat(net(x))
    step, cache = net.prefill(x[:, :0])  # position 0: the start vector
    for t in range(8):
        if t > 0:
            step, cache = net.step(x[:, t - 1], t, cache)
        for a, b in zip(flat(step), whole):
            assert torch.allclose(a[:, -1], b[:, t], atol=1e-5)
    with pytest.raises(ValueError, match="context"):
        net.step(x[:, -1], 8, cache)


def test_a_prefilled_window_equals_the_whole_window_and_steps_on():
    torch.manual_seed(0)
    net = LatentTransformer(latent=4, context=8, width=16, layers=2, heads=2, mixture=2, dropout=0.0).eval()
    x = torch.randn(3, 8, 4)
    whole = flat(net(x))
    for n in (0, 3, 7):  # seen latents x[:n] → the prediction at position n, then one cached step on
        outputs, cache = net.prefill(x[:, :n])
        for a, b in zip(flat(outputs), whole):
            assert torch.allclose(a[:, -1], b[:, n], atol=1e-5)
        if n < 7:
            stepped, _ = net.step(x[:, n], n + 1, cache)
            assert torch.allclose(flat(stepped)[1][:, -1], whole[1][:, n + 1], atol=1e-5)
    with pytest.raises(ValueError, match="context"):
        net.prefill(x)


def sample_by_whole_windows(net, n, chunks, temperature, seed):
    """The plain sliding window, re-run whole for every chunk: what `ar.slide_stride = 1` must equal."""
    rng = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, chunks, net.latent)
    for t in range(chunks):
        lo = max(0, t - (net.context - 1))
        density, _ = net(torch.cat([x[:, lo:t], x.new_zeros(n, 1, net.latent)], dim=1))
        x[:, t] = net.sample(tuple(d[:, -1] for d in density), temperature, rng)
        torch.rand(n, generator=rng)  # the arm draws its end coin every step
    return x


@pytest.mark.parametrize("stride", [1, 5])
def test_past_the_context_the_window_slides_by_its_stride(ar_run, stride):
    model = GANModel.load(ar_run)  # context 16 chunks = 4 s
    model.arm.settings = dataclasses.replace(model.arm.settings, slide_stride=stride)
    sampled = torch.stack(model.sample_latents(2, 10.0, seed=4))  # 40 chunks, standardised or not: compare raw
    model.arm.temperature = model.arm.settings.temperature
    raw, _ = model.arm.sample(2, 40, seed=4)
    reference = sample_by_whole_windows(model.arm.generator, 2, 40, model.arm.temperature, seed=4)
    assert torch.allclose(raw[:, :16], reference[:, :16], atol=1e-4)  # inside the context: the same draws
    assert torch.allclose(raw, reference, atol=1e-4) == (stride == 1)  # past it, a stride > 1 sees less
    assert sampled.shape == (2, 40, raw.shape[-1]) and torch.isfinite(sampled).all()


def test_pieces_longer_than_the_context_keep_going(ar_run):
    model = GANModel.load(ar_run)  # context 16 chunks = 4 s
    long = model.sample_latents(2, 10.0, seed=4)
    assert [p.shape[0] for p in long] == [40, 40]
    assert all(torch.isfinite(p).all() for p in long)


def test_a_run_warm_starts_from_another_keeping_what_still_fits(ar_run, tiny_corpus, tiny_ae, tmp_path, capsys):
    source = load_file(str(ar_run / "last" / "generator.safetensors"))
    run = tmp_path / "warm"
    code = main(["train-gan", str(tiny_corpus), "--init-from", str(ar_run), "--set", "ar.head=dimwise",
                 "--set", "ar.head_hidden=8", "--out", str(run), "--steps", "1", "--batch", "3", "-q"])
    assert code == 0
    meta = json.loads((run / "last" / "config.json").read_text())
    assert meta["arch"] == "ar" and meta["config"]["ar"]["head"] == "dimwise"  # the source's arm and settings …
    assert meta["config"]["ar"]["batch"] == 3  # (--batch: the transformer's windows per batch, ar.batch)
    assert meta["config"]["ar"]["width"] == TINY_AR["ar.width"]  # … not the defaults
    assert meta["initialised_from"]["model"] == str(ar_run)
    assert meta["normaliser"] == json.loads((ar_run / "last" / "config.json").read_text())["normaliser"]
    warm = load_file(str(run / "last" / "generator.safetensors"))
    assert warm["head.weight"].shape[0] == 1 and "dimwise.input.weight" in warm  # the new head, fresh
    assert torch.allclose(warm["position.weight"], source["position.weight"], atol=0.05)  # one step from the source
    assert not torch.equal(warm["position.weight"], source["position.weight"])

    capsys.readouterr()
    assert main(["train-gan", str(tiny_corpus), "--init-from", str(ar_run), "--arch", "conv",
                 "--out", str(tmp_path / "other"), "-q"]) == 2
    assert "not --arch conv" in capsys.readouterr().err
    assert main(["train-gan", str(tiny_corpus), "--resume", str(run), "--init-from", str(ar_run), "-q"]) == 2
    assert "--init-from" in capsys.readouterr().err
    assert main(["train-gan", str(tiny_corpus), "--resume", str(run), "--batch", "7", "-q"]) == 2  # not ignored
    assert "--batch 7: a resumed run keeps its saved batch (3)" in capsys.readouterr().err
    validate_every = meta["config"]["gan"]["validate_every"]
    assert main(["train-gan", str(tiny_corpus), "--resume", str(run), "--checkpoint-steps", str(validate_every + 1),
                 "-q"]) == 2
    assert f"keeps its saved checkpoint-steps ({validate_every})" in capsys.readouterr().err
    assert main(["train-gan", str(tiny_corpus), "--resume", str(run), "--batch", "3", "--checkpoint-steps",
                 str(validate_every), "--steps", "2", "-q"]) == 0  # the first run's flags, repeated: resumed
    assert json.loads((run / "last" / "config.json").read_text())["step"] == 2
    assert main(["train-gan", str(tiny_corpus), "--init-from", str(ar_run), "--set", "ar.width=24", "--set", "ar.mixture=3",
                 "--out", str(tmp_path / "none"), "-q"]) == 2  # nothing fits: not a warm start at all
    assert "none of its weights fit" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()  # refused before the run's folder is made …
    kept = shutil.copytree(run, tmp_path / "kept")  # … and an earlier run there, given --overwrite, is not deleted
    before = {p.relative_to(kept): p.read_bytes() for p in kept.rglob("*") if p.is_file()}
    assert main(["train-gan", str(tiny_corpus), "--init-from", str(ar_run), "--set", "ar.width=24", "--set", "ar.mixture=3",
                 "--out", str(kept), "--overwrite", "-q"]) == 2
    assert "none of its weights fit" in capsys.readouterr().err
    assert {p.relative_to(kept): p.read_bytes() for p in kept.rglob("*") if p.is_file()} == before
    assert main(["train-gan", str(tiny_corpus), "--init-from", "no-such-model", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.startswith("error: --init-from no-such-model")
    # the Python API takes the source's arm and settings as the command line does
    api = tmp_path / "api"
    train_sequence_model(tiny_corpus, None, api, init_from=ar_run, max_steps=1, progress=False)
    meta = json.loads((api / "last" / "config.json").read_text())
    assert meta["arch"] == "ar" and meta["config"]["ar"]["width"] == TINY_AR["ar.width"]


def test_a_warm_start_into_a_longer_context_keeps_the_learned_positions(ar_run, tiny_corpus, tmp_path):
    source = load_file(str(ar_run / "last" / "generator.safetensors"))["position.weight"]  # [16, W]
    run = tmp_path / "longer"
    assert main(["train-gan", str(tiny_corpus), "--init-from", str(ar_run), "--set", "ar.context=40",
                 "--set", "ar.lr=1e-9", "--out", str(run), "--steps", "1", "-q"]) == 0
    grown = load_file(str(run / "last" / "generator.safetensors"))["position.weight"]
    assert grown.shape == (40, source.shape[1])
    assert torch.allclose(grown[:16], source, atol=1e-4)  # its own positions …
    assert torch.allclose(grown[16:], source[-1].expand(24, -1), atol=1e-4)  # … and the last one beyond them
    pieces = GANModel.load(run).sample_latents(1, 12.0, seed=0, snap_to_real=False)  # 48 chunks: past the old 16
    assert pieces[0].shape[0] == 48 and torch.isfinite(pieces[0]).all()
    shorter = tmp_path / "shorter"  # a shorter context takes none of the table: fresh, and named as such
    assert main(["train-gan", str(tiny_corpus), "--init-from", str(ar_run), "--set", "ar.context=8",
                 "--set", "ar.lr=1e-9", "--out", str(shorter), "--steps", "1", "-q"]) == 0
    cut = load_file(str(shorter / "last" / "generator.safetensors"))["position.weight"]
    assert cut.shape == (8, source.shape[1]) and not torch.allclose(cut, source[:8], atol=1e-2)


def test_only_the_transformers_position_table_grows():
    theirs = torch.randn(4, 3)
    grown = grow_positions(theirs, torch.zeros(6, 3))
    assert torch.equal(grown[:4], theirs) and torch.equal(grown[4:], theirs[-1].expand(2, -1))
    for other in (torch.zeros(4, 3), torch.zeros(2, 3), torch.zeros(6, 5)):  # equal, shorter, another width
        assert grow_positions(theirs, other) is theirs
    arm = torch.nn.Module()
    arm.trunk = LatentTransformer(latent=2, context=4, width=8, layers=1, heads=2, mixture=1, dropout=0.0)
    arm.critic = torch.nn.Module()
    arm.critic.position = torch.nn.Embedding(4, 8)  # another table of that name (the recurrent critic's)
    assert growing_tables(arm) == ["trunk.position.weight"]
    assert growing_tables(arm.trunk) == ["position.weight"]


def test_a_warm_start_grows_the_transformers_table_and_says_so(tmp_path, caplog):
    def arm(context: int) -> torch.nn.Module:
        torch.manual_seed(context)
        module = torch.nn.Module()
        module.trunk = LatentTransformer(latent=2, context=context, width=8, layers=1, heads=2, mixture=1,
                                         dropout=0.0)
        module.critic = torch.nn.Module()
        module.critic.position = torch.nn.Embedding(context, 8)
        return module

    source, longer = arm(4), arm(6)
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(tmp_path / "generator.safetensors"))
    with caplog.at_level("INFO", logger="timestepmusic.checkpoint"):
        _, fresh = load_matching(tmp_path, {"generator": longer})
    grown = longer.trunk.position.weight.detach()
    assert torch.equal(grown[:4], source.trunk.position.weight) and torch.equal(grown[4:5], grown[3:4])
    assert fresh == ["generator.critic.position.weight"]  # the other table keeps its fresh rows
    assert "generator.trunk.position.weight grown from 4 to 6 positions" in caplog.text


def test_a_warm_start_refuses_weights_that_are_not_those_its_config_was_saved_with(tmp_path):
    source = torch.nn.Linear(2, 2)
    save_file(dict(source.state_dict()), str(tmp_path / "generator.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"weights": {"generator": "0" * 64}}))
    with pytest.raises(ValueError, match="not the weights config.json was saved with"):
        load_matching(tmp_path, {"generator": torch.nn.Linear(2, 2)})


def test_ar_project_replaces_each_drawn_latent_by_its_round_trip(ar_run):
    model = GANModel.load(ar_run)
    model.arm.settings = dataclasses.replace(model.arm.settings, project=True)
    real = model.project(torch.zeros(3, model.ae.model.latent))  # the autoencoder's round trip, standardised
    assert real.shape == (3, model.ae.model.latent) and torch.isfinite(real).all()
    calls = []

    def constant(x):
        calls.append(tuple(x.shape))
        return torch.full_like(x, 0.5)

    model.project = constant
    pieces = model.sample_latents(2, 2.0, seed=0, snap_to_real=False)  # 8 chunks of 0.25 s
    assert calls == [(2, model.ae.model.latent)] * 8  # once per drawn chunk, for every piece at once
    expected = model.normaliser.inverse(torch.full((8, model.ae.model.latent), 0.5))
    assert all(torch.allclose(piece, expected) for piece in pieces)  # what the piece holds, and what it goes on from


def test_another_seed_of_a_request_by_arch_is_not_warned_of(tmp_path, caplog):
    """--arch ar names the shipped ar model; the request compared with the folder's files is the one typed (as each
    file's marker says it), so another seed of it draws into the folder unwarned."""
    from timestepmusic.cli import main

    run = ["generate", "--arch", "ar", "-n", "1", "--seconds", "1", "-o", str(tmp_path / "out")]
    assert main([*run, "--seed", "0"]) == 0
    caplog.clear()
    assert main([*run, "--seed", "1"]) == 0
    assert "not drawn by this request" not in caplog.text
    assert main([*run, "--seed", "2", "--temperature", "0.5"]) == 0
    assert "2 MIDI file(s) not drawn by this request" in caplog.text
