"""Recurrent GAN: masked critic invariants, cached sampling, training with checkpoints and exact resume,
pieces that end themselves, and joint fine-tuning of the autoencoder."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import symusic
import torch
from safetensors.torch import load_file

from timestepmusic.autoencoder import Autoencoder
from timestepmusic.batches import ChunkGatherer
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.gan.recurrent import (
    RecurrentGenerator,
    SequenceCritic,
    end_loss,
    free_end_loss,
    length_distributions,
    masked_gradient_penalty,
    sampled_ends,
)
from timestepmusic.generation import GANModel
from timestepmusic.midi import Events
from timestepmusic.piece_events import RELEASE_S
from timestepmusic.sequence.windows import SequenceSampler
from timestepmusic.stage_configs import RecurrentConfig
from timestepmusic.train.ae import validate
from timestepmusic.train.sequence import train_sequence_model

from conftest import FINETUNE_BOUND, TINY_GAN, assert_same_weights

TINY_RNN = {"max_chunks": 16, "hidden": 16, "attention": 8, "step_noise": 4, "critic_width": 16,
            "critic_layers": 1, "critic_heads": 2, "sample_seconds": 4.0}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models on a shared 2-core machine: a second OpenMP thread made this file 20× slower (85 s vs 4 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- modules on random tensors -------------------------------------------------------------------

def test_masked_critic_scores_a_sequence_the_same_padded_or_not():
    torch.manual_seed(0)
    critic = SequenceCritic(latent=5, width=16, layers=2, heads=2, max_chunks=12)
    lengths = [3, 12, 7]
    x, end = torch.randn(3, 12, 5), torch.zeros(3, 12)
    mask = (torch.arange(12) < torch.tensor(lengths)[:, None]).float()
    end[0, 2] = 1.0
    garbage = x + 100 * torch.randn_like(x) * (1 - mask[..., None])  # padding content must not matter
    padded, features = critic(garbage, end + 7 * (1 - mask), mask)
    for i, n in enumerate(lengths):
        alone, alone_features = critic(x[i:i + 1, :n], end[i:i + 1, :n], torch.ones(1, n))
        torch.testing.assert_close(padded[i:i + 1], alone, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(features[i:i + 1], alone_features, rtol=1e-5, atol=1e-5)
    # the penalty is per sample and sees no padded step
    fake = (torch.randn(3, 12, 5) * mask[..., None], torch.zeros(3, 12), mask)
    eps = torch.rand(3)
    together = masked_gradient_penalty(critic, (x * mask[..., None], end, mask), fake, eps)
    one = masked_gradient_penalty(critic, (x[:1, :3], end[:1, :3], mask[:1, :3]),
                                  tuple(a[:1, :3] for a in fake), eps[:1])
    torch.testing.assert_close(together[:1], one, rtol=1e-5, atol=1e-6)


def test_cached_sampling_equals_the_unroll_and_the_end_loss_is_masked():
    torch.manual_seed(0)
    gen = RecurrentGenerator(latent=5, noise=6, step_noise=3, hidden=16, attention=8)
    z, noise = torch.randn(4, 6), torch.randn(4, 10, 3)
    unrolled, logits = gen(z, noise)
    sampled, lengths = gen.sample(z, noise, torch.ones(4, 10))  # u = 1 never fires: full length
    torch.testing.assert_close(sampled, unrolled, rtol=1e-5, atol=1e-6)
    assert lengths.tolist() == [10] * 4
    u = torch.rand(4, 10)
    end, mask = sampled_ends(logits, u)
    fires = u < torch.sigmoid(logits)
    first = torch.where(fires.any(1), fires.float().argmax(1), 10)
    assert torch.equal(mask, (torch.arange(10) <= first[:, None]).float())  # up to and including the end
    assert torch.equal(end.sum(1), fires.any(1).float())  # one marker at most
    _, cut = gen.sample(z, noise, u)
    assert torch.equal(cut, (first + 1).clamp(max=10))  # sampling stops where training would mask
    # teacher-forced on its own outputs, the unroll is the free-running one
    forced, forced_logits = gen(z, noise, teacher=unrolled)
    torch.testing.assert_close(forced_logits, logits)
    # the end loss sees valid steps only, and it trains the end head
    weight = torch.tensor([1.0, 0.5, 2.0, 1.0])
    loss = end_loss(forced_logits, end, mask, weight)
    shifted = forced_logits + 50 * (1 - mask)
    torch.testing.assert_close(end_loss(shifted, end, mask, weight), loss)
    loss.backward()
    assert gen.end.weight.grad is not None and gen.end.weight.grad.abs().sum() > 0


def test_real_sequences_end_at_the_track_end(tiny_corpus):
    corpus = Corpus.open(tiny_corpus)
    tracks = corpus.tracks_in("train")
    sampler = SequenceSampler(corpus, tracks, max_chunks=16, ending_share=0.5)
    batch = sampler.sample(200, torch.Generator().manual_seed(0))
    lengths = batch.mask.sum(1)
    track_end = np.asarray(corpus.track_chunk_ptr)[1:]
    last_row = batch.rows[torch.arange(200), lengths.long() - 1]
    ended = batch.end.sum(1) == 1
    assert torch.all(batch.end.sum(1) <= 1) and torch.all((lengths < 16) <= ended)
    assert np.all(np.isin(last_row[ended].numpy() + 1, track_end))  # the marker sits on a track's last chunk
    assert 0.3 < float(ended.float().mean()) < 0.9  # oversampled: 50 % drawn among endings, plus natural ones
    assert abs(float(batch.weight.mean()) - 1.0) < 0.25  # importance weights average to ≈ 1
    with pytest.raises(ValueError, match="rnn.critic_heads"):
        RecurrentConfig(critic_width=10, critic_heads=4)


# --- training -------------------------------------------------------------------------------------

def rnn_config(**rnn) -> Config:
    return Config().override(TINY_GAN | {f"rnn.{k}": v for k, v in (TINY_RNN | rnn).items()})


@pytest.fixture(scope="module")
def tiny_rnn(tiny_corpus, tiny_ae, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("rnn") / "run"
    train_sequence_model(tiny_corpus, tiny_ae, run, rnn_config(), arch="rnn", progress=False)
    return run


def test_the_minibatch_std_critic_tells_a_collapsed_batch_from_a_varied_one():
    """The collapse mend: with minibatch std, a batch of one repeated sequence scores differently from the same
    sequence among varied ones; without it, a sequence's score never depends on its batch."""
    torch.manual_seed(0)
    x, end, mask = torch.randn(4, 6, 5), torch.zeros(4, 6), torch.ones(4, 6)
    collapsed = x[:1].expand(4, -1, -1)
    for group, depends in ((2, True), (0, False)):
        critic = SequenceCritic(latent=5, width=16, layers=1, heads=2, max_chunks=6, minibatch_group=group)
        varied_score, varied_features = critic(x, end, mask)
        collapsed_score, collapsed_features = critic(collapsed, end, mask)
        torch.testing.assert_close(collapsed_features[0], varied_features[0])  # features stay per sequence
        assert (not torch.allclose(collapsed_score[0], varied_score[0])) == depends, group
        penalty = masked_gradient_penalty(critic, (x, end, mask), (collapsed, end, mask), torch.rand(4))
        assert penalty.shape == (4,) and torch.isfinite(penalty).all()


def test_the_weight_average_samples_and_the_trained_weights_stay_apart(tiny_rnn):
    """gan.ema: the checkpoint holds the average beside the trained generator, and a loaded model samples
    from the average."""
    trained = load_file(str(tiny_rnn / "last" / "generator.safetensors"))
    average = load_file(str(tiny_rnn / "last" / "generator_ema.safetensors"))
    assert trained.keys() == average.keys()
    assert any(not torch.equal(trained[k], average[k]) for k in trained)
    model = GANModel.load(tiny_rnn / "last")
    loaded = model.arm.generator.state_dict()
    assert all(torch.equal(loaded[k], average[k]) for k in average)


def test_training_writes_checkpoints_samples_and_resumes_exactly(tiny_corpus, tiny_ae, tiny_rnn,
                                                                 tmp_path):
    meta = json.loads((tiny_rnn / "last" / "config.json").read_text())
    assert (meta["kind"], meta["arch"], meta["step"]) == ("gan", "rnn", 6)
    assert (tiny_rnn / "best" / "generator.safetensors").is_file()
    assert sorted(p.name for p in (tiny_rnn / "samples").iterdir()) == ["step_000003", "step_000006"]
    for midi in (tiny_rnn / "samples" / "step_000006").glob("*.mid"):
        symusic.Score(str(midi))
    records = [json.loads(line) for line in (tiny_rnn / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6] and all(np.isfinite(r["val_wasserstein"]) for r in records)
    run = tmp_path / "rnn"
    train_sequence_model(tiny_corpus, tiny_ae, run, rnn_config(), arch="rnn", progress=False, max_steps=3)
    train_sequence_model(tiny_corpus, None, run, resume=True, progress=False)
    assert_same_weights(tiny_rnn, run, ("generator", "critic", "generator_ema"))  # the weight average resumes exactly too


def test_an_rnn_run_from_before_the_mends_resumes_as_it_was_trained(tiny_corpus, tiny_ae, tmp_path):
    """rnn checkpoints written before rnn.gan_mends listed gan.minibatch_std/ema/critic_lr that the arm then
    ignored: without the key they resume as trained (plain critic, no average, one lr), bit for bit."""
    straight, legacy = tmp_path / "straight", tmp_path / "legacy"
    config = rnn_config(gan_mends=False)
    train_sequence_model(tiny_corpus, tiny_ae, straight, config, arch="rnn", progress=False)
    train_sequence_model(tiny_corpus, tiny_ae, legacy, config, arch="rnn", progress=False, max_steps=3)
    for folder in ("last", "best"):
        path = legacy / folder / "config.json"
        meta = json.loads(path.read_text())
        del meta["config"]["rnn"]["gan_mends"]  # as such a run's config.json reads
        assert meta["config"]["gan"]["minibatch_std"] and meta["config"]["gan"]["ema"] > 0
        path.write_text(json.dumps(meta))
    assert not (legacy / "last" / "generator_ema.safetensors").exists()
    train_sequence_model(tiny_corpus, None, legacy, resume=True, progress=False)
    assert_same_weights(straight, legacy, ("generator", "critic"))
    assert GANModel.load(legacy).meta["arch"] == "rnn"


def test_the_held_out_batch_holds_whole_groups_of_any_size(tiny_corpus, tiny_ae, tmp_path):
    """A minibatch-std group that does not divide 256 (batch 6 → groups of 3) still validates."""
    run = tmp_path / "groups-of-3"
    config = rnn_config().override({"gan.batch": 6, "gan.minibatch_group": 3, "gan.steps": 3})
    train_sequence_model(tiny_corpus, tiny_ae, run, config, arch="rnn", progress=False)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert records and all(np.isfinite(r["val_wasserstein"]) for r in records)


def test_pieces_end_themselves_and_never_run_past_the_maximum(tiny_rnn, tiny_corpus):
    model = GANModel.load(tiny_rnn)
    latents = model.sample_latents(6, 5.0, seed=1)
    assert all(1 <= x.shape[0] <= 20 for x in latents)
    assert [x.shape for x in latents] == [x.shape for x in model.sample_latents(6, 5.0, seed=1)]
    with torch.no_grad():
        model.generator.end.bias.fill_(30.0)  # the end always fires: every piece is one chunk
    assert [x.shape[0] for x in model.sample_latents(5, 5.0, seed=0)] == [1] * 5
    with torch.no_grad():
        model.generator.end.bias.fill_(-30.0)  # it never fires: every piece runs to the maximum
    pieces = model.sample(3, 5.0, seed=0)
    assert all(p.end_s <= 5.0 + RELEASE_S + 1e-9 for p in pieces)  # released soon after the last chunk
    # a decoder that holds a note and the damper for minutes: still released soon after the piece
    model.ae.decode_events = lambda latent, start_chunk=0: Events([40, 88], [0.5, 0.0], [300.0, 500.0], [60, 64])
    assert all(p.end_s == 5.0 + RELEASE_S for p in model.sample(2, 5.0, seed=0))
    assert [x.shape[0] for x in model.sample_latents(3, 5.0, seed=0)] == [20] * 3
    lengths = length_distributions(model, Corpus.open(tiny_corpus), n=8, max_seconds=5.0)
    assert np.all(lengths["generated"] == 5.0) and lengths["real_remaining"].max() <= 5.0
    assert lengths["real_tracks"].size == Corpus.open(tiny_corpus).tracks_in("train").size


def test_the_free_running_end_term_pulls_the_head_towards_the_real_hazard(tiny_corpus, tiny_ae, tiny_rnn,
                                                                           tmp_path):
    hazard = 0.01
    logits = torch.tensor([[-8.0, math.log(hazard / (1 - hazard)), 0.0, 3.0]], requires_grad=True)
    free_end_loss(logits, hazard).backward()
    grad = logits.grad[0]
    assert grad[0] < 0 and grad[2] > 0 and grad[3] > grad[2]  # up from too rare, down from too often
    assert abs(float(grad[1])) < 1e-7  # still at the hazard itself
    # in training: on by default (the tiny_rnn fixture) the term is logged and changes the run; off, it is not
    assert RecurrentConfig().free_end_weight > 0
    run = tmp_path / "off"
    config = rnn_config(free_end_weight=0.0)  # as the fixture, the term aside
    train_sequence_model(tiny_corpus, tiny_ae, run, config, arch="rnn", progress=False)
    records = [json.loads(line) for line in (tiny_rnn / "metrics.jsonl").read_text().splitlines()]
    assert records and all(np.isfinite(r["free_end_loss"]) for r in records)
    assert not any("free_end_loss" in json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines())
    a = load_file(str(tiny_rnn / "last" / "generator.safetensors"))
    b = load_file(str(run / "last" / "generator.safetensors"))
    assert not torch.equal(a["end.weight"], b["end.weight"])
    with pytest.raises(ValueError, match="rnn.free_end_weight"):
        RecurrentConfig(free_end_weight=-1.0)


def test_finetuning_changes_the_autoencoder_within_the_bound(tiny_corpus, tiny_ae, tmp_path):
    run = tmp_path / "ft"
    tuned = rnn_config().override({"gan.sample_every": 0, "gan.finetune_ae": True, "gan.ae_lr": 1e-3})
    train_sequence_model(tiny_corpus, tiny_ae, run, tuned, arch="rnn", progress=False)
    base = Autoencoder.load(tiny_ae / "best")
    model = GANModel.load(run)
    meta = json.loads((run / "last" / "config.json").read_text())
    assert model.ae.weights_sha256 == meta["autoencoder"]["finetuned_sha256"] != base.weights_sha256
    before, after = base.model.state_dict(), model.ae.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    corpus = Corpus.open(tiny_corpus)
    gatherer = ChunkGatherer(corpus)
    tracks, chunks = (torch.from_numpy(a) for a in corpus.chunk_index("validation"))
    start = validate(base.model, gatherer, base.encoding, tracks, chunks, 1.0)["loss"]
    end = validate(model.ae.model, gatherer, model.ae.encoding, tracks, chunks, 1.0)["loss"]
    assert end <= FINETUNE_BOUND * start, (start, end)
    assert all(len(p) >= 0 for p in model.sample(2, 4.0, seed=0))  # decodes with the tuned autoencoder
    train_sequence_model(tiny_corpus, None, run, resume=True, progress=False, steps=7)  # resumes with its AE
    assert json.loads((run / "last" / "config.json").read_text())["step"] == 7


# --- CLI and export (active once cli.py has `train-gan --arch` and generate.GANModel.load dispatches) --

def _cli_knows_rnn() -> bool:
    from timestepmusic.cli_parser import build_parser

    return "--arch" in build_parser()._subparsers._group_actions[0].choices["train-gan"].format_help()


@pytest.mark.skipif(not _cli_knows_rnn(), reason="cli.py has no `train-gan --arch rnn` yet (issue 7 edits)")
def test_cli_trains_generates_and_exports_a_finetuned_rnn(tiny_corpus, tiny_ae, tmp_path, capsys):
    from timestepmusic.cli import main
    from timestepmusic.model_export import export_model

    sets = [f"--set=gan.{k.split('.')[1]}={v}" for k, v in TINY_GAN.items()]
    run = tmp_path / "rnn"
    assert main(["train-gan", str(tiny_corpus), "--ae", str(tiny_ae), "--out", str(run), "--arch", "rnn",
                 "--finetune-ae", "--max-chunks", "16", "-q", *sets]) == 0
    assert main(["generate", "--model", str(run), "--arch", "rnn", "--max-seconds", "6", "-n", "2",
                 "-o", str(tmp_path / "out")]) == 0
    assert len(list((tmp_path / "out").glob("*.mid"))) == 2
    printed = capsys.readouterr().out
    assert "piece lengths" in printed and "generated" in printed and "real remaining" in printed
    assert main(["generate", "--model", str(run), "--arch", "conv", "-o", str(tmp_path / "o")]) == 2
    assert main(["train-gan", str(tiny_corpus), "--ae", str(tiny_ae), "--out", str(tmp_path / "c"),
                 "--max-chunks", "16", "-q"]) == 2
    assert "--arch rnn" in capsys.readouterr().err
    exported = GANModel.load(export_model(run, tmp_path / "exported"))
    assert exported.arch == "rnn"
    assert exported.ae.weights_sha256 == GANModel.load(run / "best").ae.weights_sha256


def test_info_says_what_generate_takes_of_each_model(tiny_rnn, capsys):
    """--info's 'it may be asked' says what tsm generate's checks let the model be asked (sample_limits.arm_takes): an
    rnn model --max-seconds (it refuses --seconds), an ar model --prompt and --max-seconds, a conv model neither."""
    def asked(model: str) -> str:
        assert main(["generate", "--model", model, "--info"]) == 0
        return next((line for line in capsys.readouterr().out.splitlines() if line.startswith("it may be asked: ")), "")

    assert "--max-seconds (it ends each piece itself; not --seconds)" in asked(str(tiny_rnn / "last"))
    assert "--prompt" not in asked(str(tiny_rnn / "last"))
    assert asked("ar-v1").startswith("it may be asked: --prompt, --max-seconds (to end each piece itself)")
    assert asked("conv-v1") == ""
