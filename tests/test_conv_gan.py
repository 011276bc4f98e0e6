"""The convolutional WGAN-GP's improvements over the seed design: a weight average that samples and resumes
exactly, a critic that hears the whole window, minibatch standard deviation within rank-local groups, two
learning rates, and the seed preset that restores the original design (and reads old checkpoints)."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.gan.conv import Critic
from timestepmusic.generation import GANModel, checkpoint_config
from timestepmusic.model_export import export_model
from timestepmusic.sequence.base import step_average
from timestepmusic.sequence.conv_gan import ConvGAN, critic_for
from timestepmusic.shipped import resolve_model
from timestepmusic.train.distributed import Dist
from timestepmusic.train.sequence import train_sequence_model

from conftest import TINY_GAN

SEED_CRITIC_PARAMETERS = 169_921  # the seed's critic at latent 20, channels 128, window 64


def seed_critic(latent: int, channels: int, window: int) -> nn.Module:
    """The seed design's critic, written out again as an oracle: four strided convolutions and a linear score."""
    widths = [latent, channels // 2, channels, channels, channels]
    layers: list[nn.Module] = []
    for cin, cout in zip(widths[:-1], widths[1:]):
        layers += [nn.Conv1d(cin, cout, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2)]
    critic = nn.Module()
    critic.features, critic.score = nn.Sequential(*layers), nn.Linear(channels * (window // 16), 1)
    return critic


@pytest.fixture(scope="module")
def ema_run(tiny_corpus, tiny_ae, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("ema") / "run"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TINY_GAN | {"gan.sample_every": 0}),
                         progress=False)
    return run


# --- weight average ---------------------------------------------------------------------------------

def test_the_weight_average_differs_from_the_trained_weights_and_is_what_generates(ema_run, tmp_path):
    raw = load_file(str(ema_run / "last" / "generator.safetensors"))
    averaged = load_file(str(ema_run / "last" / "generator_ema.safetensors"))
    assert sorted(raw) == sorted(averaged)
    assert any(not torch.equal(raw[k], averaged[k]) for k in raw)
    loaded = GANModel.load(ema_run).generator.state_dict()
    assert all(torch.equal(loaded[k], averaged[k]) for k in averaged)
    best = load_file(str(ema_run / "best" / "generator_ema.safetensors"))  # what export_model takes
    exported = GANModel.load(export_model(ema_run, tmp_path / "exported")).generator.state_dict()
    assert all(torch.equal(exported[k], best[k]) for k in best)


def test_one_average_step_moves_a_warmed_up_share_towards_the_generator():
    arm = ConvGAN(Config().override(TINY_GAN), 8, torch.device("cpu"))
    before = [p.detach().clone() for p in arm.averaged_generator.parameters()]
    with torch.no_grad():
        for p in arm.generator.parameters():
            p.add_(1.0)
    step_average(arm.averaged_generator, arm.generator, 0, arm.settings.ema)  # min(0.999, 1/10) = 0.1: 9/10 of the way
    for old, new, trained in zip(before, arm.averaged_generator.parameters(), arm.generator.parameters()):
        torch.testing.assert_close(new, 0.1 * old + 0.9 * trained)
    assert not any(p.requires_grad for p in arm.averaged_generator.parameters())
    off = ConvGAN(Config().override(TINY_GAN | {"gan.ema": 0.0}), 8, torch.device("cpu"))
    assert off.averaged() == {} and off.sampler is off.generator


# --- the critic ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("depth, hears_all", [(0, False), (1, False), (2, True), (3, True)])
def test_every_critic_feature_hears_the_whole_window_once_it_has_phrase_layers(depth, hears_all):
    torch.manual_seed(0)
    critic = Critic(latent=4, channels=8, window=64, depth=depth)
    x = torch.randn(1, 4, 64, requires_grad=True)
    _, features = critic(x)
    positions = features.view(1, -1, 4)  # [B, C, T'] (the flattened features are channel-major)
    for p in range(4):
        (grad,) = torch.autograd.grad(positions[..., p].sum(), x, retain_graph=True)  # [1, L, T]
        heard = grad.abs().sum(1)[0] > 0  # [T]
        assert bool(heard.all()) == hears_all, (depth, p, heard.nonzero().flatten().tolist())


def test_minibatch_std_couples_a_window_to_its_group_alone():
    torch.manual_seed(0)
    x, y = torch.randn(8, 4, 16), torch.randn(8, 4, 16)
    for group, coupled in ((4, True), (0, False)):
        critic = Critic(latent=4, channels=8, window=16, depth=1, minibatch_group=group)
        score, _ = critic(x)
        other_mates, _ = critic(torch.cat([x[:1], y[1:4], x[4:]]))  # window 0 beside other windows of its group
        assert torch.equal(score[0], other_mates[0]) != coupled
        other_group, _ = critic(torch.cat([x[:4], y[4:]]))  # the second group changes: the first one's scores do not
        assert torch.equal(score[:4], other_group[:4])


def test_groups_divide_the_batch_and_never_span_two_ranks():
    groups = {batch: ConvGAN(Config().override(TINY_GAN | {"gan.batch": batch, "gan.minibatch_group": 4}), 8,
                             torch.device("cpu")).critic.minibatch_group for batch in (8, 10, 2, 7)}
    assert groups == {8: 4, 10: 2, 2: 2, 7: 1}  # the largest divisor of the batch up to gan.minibatch_group
    config = Config().override(TINY_GAN | {"gan.batch": 6, "gan.minibatch_group": 2})
    data = SimpleNamespace(ranks=Dist(rank=0, world=2))  # slices of 3 windows: not whole groups of 2
    with pytest.raises(ValueError, match="gan.batch 6: 2 processes cannot each hold whole minibatch-std groups"):
        ConvGAN(config, 8, torch.device("cpu")).attach(data)
    with pytest.raises(ValueError, match="minibatch-std groups"):
        Critic(latent=4, channels=8, window=16, minibatch_group=4)(torch.randn(6, 4, 16))


def test_the_critic_learns_faster_than_the_generator():
    arm = ConvGAN(Config(), 20, torch.device("cpu"))
    rates = {name: opt.param_groups[0]["lr"] for name, opt in arm.optimizers().items()}
    assert rates == {"generator": Config().gan.lr, "critic": Config().gan.critic_lr}
    assert rates["critic"] > rates["generator"]
    one_rate = ConvGAN(Config().override({"gan.critic_lr": 0.0, "gan.lr": 3e-4}), 20, torch.device("cpu"))
    assert {opt.param_groups[0]["lr"] for opt in one_rate.optimizers().values()} == {3e-4}


# --- the seed preset and old checkpoints ------------------------------------------------------------------

def test_the_seed_preset_is_the_original_design():
    g = Config.preset("seed").gan
    assert (g.lr, g.critic_lr or g.lr, g.betas, g.batch, g.critic_steps, g.gp_weight, g.gp_every, g.fm_weight) == \
        (1e-4, 1e-4, (0.5, 0.9), 10, 5, 0.1, 1, 0.1)
    assert (g.ema, g.minibatch_std, g.critic_depth, g.critic_channels or g.channels, g.window_chunks, g.noise) == \
        (0.0, False, 0, 128, 64, 50)
    critic = critic_for(g, 20)
    assert sum(p.numel() for p in critic.parameters()) == SEED_CRITIC_PARAMETERS
    oracle = seed_critic(20, 128, 64)
    assert {k: v.shape for k, v in critic.state_dict().items()} == {k: v.shape for k, v in oracle.state_dict().items()}
    assert sum(p.numel() for p in critic_for(Config().gan, 20).parameters()) > SEED_CRITIC_PARAMETERS
    with pytest.raises(ValueError, match="--preset nope"):
        Config.preset("nope")


def test_config_and_set_go_on_top_of_a_preset(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text("[gan]\nlr = 2e-4\n")
    config = Config.from_toml(toml, Config.preset("seed")).override(["gan.fm_weight=0.5"])
    assert (config.gan.lr, config.gan.batch, config.gan.ema, config.gan.fm_weight) == (2e-4, 10, 0.0, 0.5)


def test_a_run_under_the_seed_preset_builds_the_seed_critic(tiny_corpus, tiny_ae, tmp_path):
    sizes = {k: v for k, v in TINY_GAN.items() if k in ("gan.window_chunks", "gan.channels", "gan.noise")}
    run = tmp_path / "seed"
    assert main(["train-gan", str(tiny_corpus), "--ae", str(tiny_ae), "--out", str(run), "-q", "--preset", "seed",
                 "--steps", "1", "--set", "gan.sample_every=0", *[f"--set={k}={v}" for k, v in sizes.items()]]) == 0
    meta = json.loads((run / "last" / "config.json").read_text())
    assert sorted(meta["weights"]) == ["critic", "generator"]  # no weight average
    assert meta["config"]["gan"]["batch"] == 10 and not meta["config"]["gan"]["minibatch_std"]
    critic = load_file(str(run / "last" / "critic.safetensors"))
    oracle = seed_critic(8, 16, 16).state_dict()
    assert {k: v.shape for k, v in critic.items()} == {k: v.shape for k, v in oracle.items()}
    assert {group["lr"] for opt in meta["optimizers"].values() for group in opt["param_groups"]} == {1e-4}


def test_the_seed_preset_for_a_transformer_arm_is_refused_in_one_line(tiny_corpus, tiny_ae, tmp_path, capsys):
    # `--arch ar --preset seed` trained exactly as without it, saying nothing
    run = tmp_path / "run"
    assert main(["train-gan", str(tiny_corpus), "--ae", str(tiny_ae), "--out", str(run), "-q", "--steps", "1",
                 "--arch", "ar", "--preset", "seed"]) == 2
    assert capsys.readouterr().err.strip() == ("error: --preset seed: the convolutional GAN's first design; the ar arm "
                                               "reads none of its settings (leave it out)")
    assert not run.exists()


@pytest.mark.parametrize("flags, said", [
    (["--arch", "events", "--set", "gan.lr=5e-4"], "--set gan.lr=5e-4: the events arm does not read gan.lr, so it "
                                                   "changes nothing; its own is ar.lr"),
    (["--arch", "ar", "--set", "gan.gp_weight=1"], "--set gan.gp_weight=1: the ar arm does not read gan.gp_weight, so "
                                                   "it changes nothing"),
    (["--set", "ar.lr=1e-3"], "--set ar.lr=1e-3: the conv arm does not read ar.lr, so it changes nothing; its own is "
                              "gan.lr"),
    (["--arch", "rnn", "--max-chunks", "16", "--set", "ar.batch=4"],
     "--set ar.batch=4: the rnn arm does not read ar.batch, so it changes nothing; its own is gan.batch (--batch)"),
], ids=["gan-lr-events", "gp-ar", "ar-lr-conv", "ar-batch-rnn"])
def test_a_setting_the_arm_never_reads_is_warned_of(tiny_corpus, tiny_ae, tmp_path, caplog, flags, said):
    # `--arch events --set gan.lr=…` trained at ar.lr, saying nothing; a warning, as a script may give one list of
    # settings to several arms
    sizes = [f"--set={k}={v}" for k, v in TINY_GAN.items() if k != "gan.steps"] if "ar" not in flags else []
    with caplog.at_level("WARNING", logger="timestepmusic"):
        assert main(["train-gan", str(tiny_corpus), "--ae", str(tiny_ae), "--out", str(tmp_path / "run"), "-q",
                     "--steps", "1", "--set", "gan.sample_every=0", *sizes, *flags]) == 0
    assert said in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="timestepmusic"):  # the arm's own: nothing to say
        assert main(["train-gan", str(tiny_corpus), "--ae", str(tiny_ae), "--out", str(tmp_path / "own"), "-q",
                     "--arch", "ar", "--steps", "1", "--set", "gan.sample_every=0", "--set", "gan.seed=1"]) == 0
    assert "does not read" not in caplog.text


def test_checkpoints_older_than_the_new_settings_load_and_resume_as_seed_runs(tiny_corpus, tiny_ae, tmp_path):
    shipped = json.loads((resolve_model("conv-v1") / "config.json").read_text())  # the previous default
    g = checkpoint_config(shipped).gan
    assert (g.ema, g.critic_depth, g.critic_channels, g.minibatch_std, g.critic_lr) == (0.0, 0, 0, False, 0.0)
    assert g.batch == 10 and g.gp_every == 4  # what the checkpoint saved wins over the preset
    assert GANModel.load("conv-v1").arch == "conv"
    run = tmp_path / "old"
    config = Config.preset("seed").override(TINY_GAN | {"gan.sample_every": 0, "gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, run, config, progress=False, max_steps=1)
    meta_path = run / "last" / "config.json"
    meta = json.loads(meta_path.read_text())
    for key in ("critic_channels", "critic_depth", "minibatch_std", "minibatch_group", "ema", "critic_lr"):
        del meta["config"]["gan"][key]  # as written before these settings existed
    meta_path.write_text(json.dumps(meta))
    train_sequence_model(tiny_corpus, None, run, resume=True, progress=False)
    assert json.loads(meta_path.read_text())["step"] == 2
    assert GANModel.load(run).arch == "conv"


# --- windows that continue a past ---------------------------------------------------------------------

PAST = TINY_GAN | {"gan.past_chunks": 16, "gan.sample_every": 0}


@pytest.fixture(scope="module")
def past_run(tiny_corpus, tiny_ae, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("past") / "run"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(PAST), progress=False)
    return run


def test_a_generator_with_a_past_starts_as_the_one_without(tiny_corpus, tiny_ae, ema_run, tmp_path):
    from timestepmusic.gan.conv import Generator

    torch.manual_seed(0)
    plain = Generator(noise=8, latent=4, channels=16, window=16)
    torch.manual_seed(0)
    conditioned = Generator(noise=8, latent=4, channels=16, window=16, past=16)
    z, past = torch.randn(3, 8), torch.randn(3, 5, 16)
    assert torch.equal(plain(z), conditioned(z, past))  # its past layers start at zero …
    nn.init.normal_(conditioned.past_tail.weight)
    changed = past.clone()
    changed[:, :, -1] += 1.0
    assert not torch.equal(conditioned(z, past), conditioned(z, changed))  # … and read the past once trained
    # a warm start from an independent-window run keeps its generator (the critic now hears past + window)
    run = tmp_path / "warm"
    assert main(["train-gan", str(tiny_corpus), "--init-from", str(ema_run), "--set", "gan.past_chunks=16",
                 "--out", str(run), "--steps", "1", "-q"]) == 0
    meta = json.loads((run / "last" / "config.json").read_text())
    assert meta["config"]["gan"]["past_chunks"] == 16 and meta["arch"] == "conv"


def test_each_window_continues_the_one_before_and_a_prompt(past_run):
    model = GANModel.load(past_run)
    arm = model.arm
    assert arm.continues
    nn.init.normal_(arm.generator.past_tail.weight)  # make the dependence on the past strong enough to see
    latent = arm.generator.latent
    x, lengths = arm.sample(2, 40, seed=3)  # three windows of 16 chunks, cut to 40
    assert x.shape == (2, 40, latent) and lengths.tolist() == [40, 40]
    again, _ = arm.sample(2, 40, seed=3)
    assert torch.equal(x, again)
    prompt = torch.randn(5, latent)
    prompted, lengths = arm.sample(2, 40, seed=3, prompt=prompt)
    assert prompted.shape == (2, 45, latent) and lengths.tolist() == [45, 45]
    assert torch.equal(prompted[0, :5], prompt)  # the piece starts with its prompt …
    assert not torch.allclose(prompted[:, 5:21], x[:, :16])  # … and its first window continues it
    # window w + 1 is generated from window w: the same noise after another past gives another window
    window, noise = arm.generator.window, torch.randn(1, arm.generator.noise)
    past_a = torch.cat([x[:1, :16].transpose(1, 2), torch.ones(1, 1, 16)], dim=1)  # [1, L + 1, P]
    past_b = torch.cat([x[1:2, :16].transpose(1, 2), torch.ones(1, 1, 16)], dim=1)
    assert not torch.allclose(arm.generator(noise, past_a), arm.generator(noise, past_b))
    assert window == 16


def test_the_cli_continues_a_prompt_with_a_conv_model_that_has_a_past(past_run, tiny_corpus, tmp_path, capsys):
    prompt = next((Path(tiny_corpus).parent / "midi").rglob("*.mid"))
    assert main(["generate", "--model", str(past_run), "--prompt", str(prompt), "--seconds", "4", "-n", "1",
                 "-o", str(tmp_path / "o")]) == 0
    assert len(list((tmp_path / "o").glob("*.mid"))) == 1
    assert main(["generate", "--model", str(past_run), "--temperature", "0.5", "-o", str(tmp_path / "t")]) == 2
    assert "temperatures are for ar and events models" in capsys.readouterr().err


def test_a_prompt_is_kept_as_encoded_while_the_generated_chunks_snap(past_run, tiny_corpus):
    from timestepmusic.midi import read_events

    model = GANModel.load(past_run)
    assert model.codebook is not None  # a conv run snaps its own chunks by default
    prompt, _ = read_events(next((Path(tiny_corpus).parent / "midi").rglob("*.mid")))
    encoded, _ = model.ae.encode_events(prompt)  # [P', L]
    piece = model.sample_latents(1, 4.0, 0, prompt=prompt)[0]  # [P' + 16, L]
    first = encoded.shape[0]
    assert piece.shape[0] == first + 16
    assert torch.allclose(piece[:first], encoded.float(), atol=1e-4)  # not replaced by training chunks
    book = model.codebook  # every generated chunk is one of the codebook's
    assert all(torch.isclose(book, row, atol=1e-4).all(-1).any() for row in piece[first:])


def test_the_critic_view_marks_the_known_end_of_each_past(past_run):
    arm = GANModel.load(past_run).arm
    x = torch.randn(3, 5, 16 + 16)  # [b, L, P + T]
    seen = arm.with_known(x, torch.tensor([0, 4, 16]))
    mark = seen[:, -1]  # [b, P + T]
    assert mark[:, 16:].eq(1).all()
    assert mark[0, :16].eq(0).all() and mark[1, :12].eq(0).all() and mark[1, 12:16].eq(1).all() and mark[2].eq(1).all()
    assert seen[1, :5, :12].eq(0).all() and torch.equal(seen[1, :5, 12:], x[1, :, 12:])  # unknown chunks zeroed
    counts = arm.known_pasts(4000, torch.Generator().manual_seed(0))
    assert abs(float((counts == 0).float().mean()) - 0.25) < 0.03  # gan.pastless_share
    assert abs(float((counts == 16).float().mean()) - 0.75 * 0.75 - 0.75 * 0.25 / 16) < 0.03
    with pytest.raises(ValueError, match="gan.past_chunks"):
        Config().override({"gan.past_chunks": 128})  # longer than a window
    with pytest.raises(ValueError, match="gan.pastless_share"):
        Config().override({"gan.past_chunks": 16, "gan.pastless_share": 0.0})


def test_a_conv_model_without_a_past_refuses_a_prompt(ema_run):
    model = GANModel.load(ema_run)
    with pytest.raises(ValueError, match="--prompt"):
        model.sample_latents(1, 4.0, 0, prompt=object())  # refused before the prompt is read
