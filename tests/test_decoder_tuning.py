"""tsm tune-decoder: a likelihood model's decoder learns to decode the model's own teacher-forced draws."""
from __future__ import annotations

import json

import pytest
import torch

from timestepmusic.autoencoder import Autoencoder
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.generation import GANModel
from timestepmusic.train.decoder_tuning import DECODER_PARTS, tune_decoder
from timestepmusic.train.sequence import train_sequence_model

TINY_AR = {"ar.context": 16, "ar.width": 16, "ar.layers": 1, "ar.heads": 2, "ar.mixture": 2, "ar.batch": 4,
           "gan.steps": 8, "gan.validate_every": 4, "gan.sample_every": 0}


@pytest.fixture(scope="module")
def ar_run(tiny_corpus, tiny_ae, tmp_path_factory):
    run = tmp_path_factory.mktemp("ar") / "run"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TINY_AR), arch="ar", progress=False)
    return run


def is_decoder(name: str) -> bool:
    return name.split(".")[0] in DECODER_PARTS


def test_only_the_decoder_moves_and_the_draws_decode_closer(ar_run, tiny_corpus, tmp_path):
    out = tmp_path / "tuned"
    tune_decoder(ar_run, tiny_corpus, out, steps=40, batch=4, lr=3e-3, progress=False)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["val_draw_loss"] < records[0]["val_draw_loss"]

    before, after = GANModel.load(ar_run), GANModel.load(out)
    assert after.meta["decoder_tuned"]["steps"] == 40
    old, new = before.ae.model.state_dict(), after.ae.model.state_dict()
    assert any(not torch.equal(old[k], new[k]) for k in old if is_decoder(k))
    assert all(torch.equal(old[k], new[k]) for k in old if not is_decoder(k))  # the encoder: latents keep their meaning
    for a, b in zip(before.generator.parameters(), after.generator.parameters()):
        assert torch.equal(a, b)
    # the base autoencoder travels with it, so the tuned model is a model of its own
    assert Autoencoder.load(out / "autoencoder").weights_sha256 == before.meta["autoencoder"]["weights_sha256"]
    pieces = after.sample(2, seconds=2.0, seed=0, snap_to_real=False)
    assert len(pieces) == 2


def test_a_tuned_model_can_be_tuned_again_and_generates_from_the_cli(ar_run, tiny_corpus, tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    tune_decoder(ar_run, tiny_corpus, first, steps=2, batch=2, progress=False)
    assert main(["tune-decoder", str(first), str(tiny_corpus), "--out", str(second), "--steps", "2", "--batch", "2",
                 "-q"]) == 0
    capsys.readouterr()
    assert main(["generate", "--model", str(second), "--out", str(tmp_path / "gen"), "-n", "1", "--seconds", "2"]) == 0
    assert len(list((tmp_path / "gen").glob("*.mid"))) == 1
    # the run already there is kept unless asked
    assert main(["tune-decoder", str(ar_run), str(tiny_corpus), "--out", str(second), "--steps", "2", "-q"]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_a_gan_is_refused_in_one_line(tiny_corpus, tiny_ae, tmp_path, capsys):
    conv = tmp_path / "conv"
    train_sequence_model(tiny_corpus, tiny_ae, conv, Config().override(
        {"gan.window_chunks": 16, "gan.steps": 1, "gan.batch": 2, "gan.sample_every": 0}), arch="conv", progress=False)
    assert main(["tune-decoder", str(conv), str(tiny_corpus), "--out", str(tmp_path / "t"), "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "needs a likelihood (ar) model" in err and len(err.splitlines()) == 1
    assert main(["tune-decoder", str(conv), str(tiny_corpus), "--out", str(tmp_path / "t"), "--steps", "0"]) == 2
    assert "--steps must be ≥ 1" in capsys.readouterr().err
