"""Fine-tuning the autoencoder jointly with the convolutional GAN (train/finetune.py, train/gan.py)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from timestepmusic.autoencoder import Autoencoder, load_autoencoder
from timestepmusic.batches import ChunkGatherer
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.generation import GANModel
from timestepmusic.latents import Normaliser
from timestepmusic.model_export import export_model
from timestepmusic.train.ae import validate
from timestepmusic.train.budget import Budget
from timestepmusic.train.finetune import RealLatents, feature_matching
from timestepmusic.train.sequence import train_sequence_model

from conftest import FINETUNE_BOUND, TINY_AE, TINY_GAN, assert_same_weights

TUNED = TINY_GAN | {"gan.finetune_ae": True, "gan.ae_lr": 1e-3, "gan.sample_every": 0}


@pytest.fixture(scope="module")
def tuned_gan(tiny_corpus, tiny_ae, tmp_path_factory):
    run = tmp_path_factory.mktemp("conv-ft") / "run"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TUNED), progress=False)
    return run


def validation_loss(ae: Autoencoder, corpus: Corpus) -> float:
    tracks, chunks = (torch.from_numpy(a) for a in corpus.chunk_index("validation"))
    return validate(ae.model, ChunkGatherer(corpus), ae.encoding, tracks, chunks, 1.0)["loss"]


def test_finetuned_conv_changes_the_autoencoder_within_the_bound(tuned_gan, tiny_ae, tiny_corpus):
    base = Autoencoder.load(tiny_ae / "best")
    model = GANModel.load(tuned_gan)
    meta = json.loads((tuned_gan / "last" / "config.json").read_text())
    assert meta["autoencoder"]["weights_sha256"] == base.weights_sha256
    assert model.ae.weights_sha256 == meta["autoencoder"]["finetuned_sha256"] != base.weights_sha256
    before, after = base.model.state_dict(), model.ae.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    corpus = Corpus.open(tiny_corpus)
    start, end = validation_loss(base, corpus), validation_loss(model.ae, corpus)
    assert end <= FINETUNE_BOUND * start, (start, end)
    records = [json.loads(line) for line in (tuned_gan / "metrics.jsonl").read_text().splitlines()]
    assert all("ae_val_loss" in r and "ae_loss" in r for r in records if "val_wasserstein" in r)


def test_finetuned_checkpoint_carries_the_codebook_of_its_own_encoder(tuned_gan, tiny_corpus):
    model = GANModel.load(tuned_gan)
    book = load_file(str(tuned_gan / "last" / "codebook.safetensors"))["latents"]  # [K, L]
    assert torch.equal(model.codebook, book)
    assert not (tuned_gan / "codebook.safetensors").exists()  # the frozen-run codebook would be stale
    # every codebook latent is what the tuned encoder gives some training chunk
    corpus = Corpus.open(tiny_corpus)
    train_rows = np.concatenate([np.arange(corpus.track_chunk_ptr[t], corpus.track_chunk_ptr[t + 1])
                                 for t in corpus.tracks_in("train")])
    encoded = RealLatents(corpus, model.ae, model.normaliser, None).encode(torch.from_numpy(train_rows))
    nearest = torch.cdist(book, encoded, compute_mode="donot_use_mm_for_euclid_dist").min(1).values
    assert float(nearest.max()) < 1e-4
    snapped = torch.cat(model.sample_latents(2, 4, seed=0))  # [S·T, L]
    assert (snapped[:, None] == book[None]).all(-1).any(-1).all()


def test_finetuned_conv_resumes_exactly(tuned_gan, tiny_corpus, tiny_ae, tmp_path):
    run = tmp_path / "ft"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TUNED), progress=False, max_steps=3)
    train_sequence_model(tiny_corpus, None, run, resume=True, progress=False)
    assert_same_weights(tuned_gan, run, ("generator", "critic", "autoencoder"))


def test_a_time_boxed_stop_says_where_it_saved_and_that_it_has_not_validated(tiny_corpus, tiny_ae, tmp_path, caplog):
    # a two-minute fine-tune of one's own stopped before the first validation printed {"step": N, "stopped": true} alone:
    # no word of where it went, nor that RUN/best and the validation figures do not exist yet
    run = tmp_path / "boxed"
    config = Config().override(TINY_GAN | {"gan.sample_every": 0})
    with caplog.at_level("WARNING"):
        train_sequence_model(tiny_corpus, tiny_ae, run, config, progress=False, max_steps=2)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert f"saved {run}/last at step 2 of 6; --resume {run} trains on" in said and "not validated yet (every 3" in said
    assert not (run / "best").exists()
    # resumed after it has validated (step 3), and stopped again before the next validation: its best is there
    train_sequence_model(tiny_corpus, tiny_ae, run, config, resume=True, progress=False, max_steps=4)
    caplog.clear()
    with caplog.at_level("WARNING"):
        train_sequence_model(tiny_corpus, tiny_ae, run, config, resume=True, progress=False, max_steps=5)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert f"saved {run}/last at step 5 of 6" in said and "not validated yet" not in said and (run / "best").exists()
    # a budget spent at the last step: the run is complete, not stopped early (--resume has nothing to train)
    caplog.clear()
    with caplog.at_level("WARNING"):
        result = train_sequence_model(tiny_corpus, tiny_ae, run, config, resume=True, progress=False, max_steps=6)
    assert "stopped early" not in caplog.text and "stopped" not in result and result["step"] == 6


def test_a_time_boxed_stop_warns_on_a_line_of_its_own_after_the_progress_bar(tiny_corpus, tiny_ae, tmp_path,
                                                                             monkeypatch):
    # `tsm train-gan … --max-minutes 1` printed its "stopped early" warning glued to the end of the still-open
    # progress bar, and `tsm train-ae … --max-minutes 1` stopped with no word at all but {"stopped": true}
    from tqdm import tqdm

    import timestepmusic.train.ae as train_ae
    import timestepmusic.train.sequence as sequence
    from timestepmusic.train.ae import train_autoencoder

    said: list[tuple[str, int]] = []  # each warning, and how many progress bars were open as it was given
    for module in (train_ae, sequence):
        monkeypatch.setattr(module.log, "warning", lambda msg, *args: said.append((msg % args, len(tqdm._instances))))
    ae_run = tmp_path / "ae"
    train_autoencoder(tiny_corpus, ae_run, Config().override(TINY_AE), progress=True, max_steps=2)
    [(text, open_bars)] = [(text, open_bars) for text, open_bars in said if "stopped early" in text]
    assert open_bars == 0 and f"saved {ae_run}/last at epoch 1 of 2, batch 2 of " in text
    assert text.endswith(f"; --resume {ae_run} trains on; it has not finished an epoch yet, so it has no best checkpoint")
    said.clear()
    config = Config().override(TINY_GAN | {"gan.sample_every": 0})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "gan", config, progress=True, max_steps=2)
    assert [open_bars for text, open_bars in said if "stopped early" in text] == [0]


def test_export_keeps_the_tuned_autoencoder_and_its_codebook(tuned_gan, tmp_path):
    exported = GANModel.load(export_model(tuned_gan, tmp_path / "model"))
    original = GANModel.load(tuned_gan / "best")
    assert exported.ae.weights_sha256 == original.ae.weights_sha256
    again = GANModel.load(export_model(tuned_gan, tmp_path / "model", overwrite=True))  # an earlier export replaced
    assert again.ae.weights_sha256 == original.ae.weights_sha256  # (it holds the tuned autoencoder.safetensors)
    assert torch.equal(exported.codebook, original.codebook)
    assert torch.equal(torch.stack(exported.sample_latents(1, 4, seed=2)),
                       torch.stack(original.sample_latents(1, 4, seed=2)))


def test_cli_finetunes_the_conv_gan(tiny_corpus, tiny_ae, tmp_path):
    from timestepmusic.cli import main

    sets = [f"--set={k}={v}" for k, v in (TINY_GAN | {"gan.sample_every": 0, "gan.steps": 2}).items()]
    run = tmp_path / "run"
    assert main(["train-gan", str(tiny_corpus), "--ae", str(tiny_ae), "--out", str(run), "--finetune-ae",
                 "-q", *sets]) == 0
    assert json.loads((run / "last" / "config.json").read_text())["config"]["gan"]["finetune_ae"] is True
    assert main(["generate", "--model", str(run), "-n", "1", "--seconds", "4", "-o", str(tmp_path / "o")]) == 0
    assert len(list((tmp_path / "o").glob("*.mid"))) == 1


def test_real_latents_masked_rows_are_zero_and_match_the_cache(tiny_corpus, tiny_ae):
    corpus = Corpus.open(tiny_corpus)
    ae = Autoencoder.load(tiny_ae / "best")
    rows = torch.tensor([[0, 1, 2], [5, 6, 7]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    live = RealLatents(corpus, ae, Normaliser((0.0,) * 8, (1.0,) * 8), None)
    cached = RealLatents(corpus, ae, Normaliser((0.0,) * 8, (1.0,) * 8), live.encode(torch.arange(8)))
    a, b = live(rows, mask), cached(rows, mask)
    assert a.shape == (2, 3, 8) and torch.all(a[mask == 0] == 0)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    x, loss = live(rows, mask, weight=2.0)
    assert x.requires_grad and loss.requires_grad and float(loss.detach()) > 0


def test_budget_stops_on_steps_or_time():
    assert not Budget(max_steps=3).spent(2) and Budget(max_steps=3).spent(3)
    assert Budget(max_seconds=0.0).spent(0) and not Budget().spent(10 ** 9)


def test_encoder_signal_is_free_of_the_critic_feature_scale():
    fake, real = torch.randn(16, requires_grad=True), torch.randn(16, requires_grad=True)
    matching, towards = feature_matching(fake, real, 0.1)
    (matching + towards).backward()
    generator_grad, encoder_grad = fake.grad.clone(), real.grad.clone()
    torch.testing.assert_close(generator_grad, 2 * (fake - real).detach() / 16)  # the plain term, fake side only
    big_fake, big_real = (1000 * fake).detach().requires_grad_(), (1000 * real).detach().requires_grad_()
    matching, towards = feature_matching(big_fake, big_real, 0.1)
    (matching + towards).backward()
    torch.testing.assert_close(big_real.grad * 1000, encoder_grad)  # features × 1000: the same signal per unit
    frozen = feature_matching(fake, real.detach(), 0.1)[1]
    assert float(frozen) == 0.0 and not frozen.requires_grad


def test_ae_may_name_a_sequence_model_whose_autoencoder_it_trains_over(tiny_corpus, tiny_ae, tuned_gan, tmp_path, capsys):
    """train-gan --ae reads what reconstruct --ae reads: a sequence model (run, checkpoint, shipped name) gives its own
    autoencoder, where it kept it frozen; a fine-tuned one is refused in one line naming the model as given."""
    from timestepmusic.cli import main

    frozen = tmp_path / "frozen"
    train_sequence_model(tiny_corpus, tiny_ae, frozen, Config().override(TINY_GAN), progress=False, max_steps=1)
    over = tmp_path / "over"
    train_sequence_model(tiny_corpus, frozen, over, Config().override(TINY_GAN), progress=False, max_steps=1)
    assert Autoencoder.load(over / "autoencoder").weights_sha256 == load_autoencoder(tiny_ae).weights_sha256
    capsys.readouterr()
    assert main(["train-gan", str(tiny_corpus), "--ae", str(tuned_gan), "--out", str(tmp_path / "no"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: --ae {tuned_gan}: a sequence model that fine-tuned its autoencoder as it trained; give an "
                   f"autoencoder (a train-ae run, or a shipped one: ae-latent75), or --init-from {tuned_gan} to start "
                   "from the model")
