"""The whole pipeline from the CLI on the real ASAP performances: prepare, a (tiny, time-boxed)
autoencoder, both GAN architectures with the autoencoder fine-tuned, and generation. Marked `real`;
skipped without ../shared/data/asap. Sizes are tiny so that it runs in CI; it checks that everything
works together on real data, not what the models sound like."""
from __future__ import annotations

import json

import pytest
import symusic

from timestepmusic.cli import main

pytestmark = pytest.mark.real
TINY = ["--set=ae.latent=8", "--set=ae.hidden=32", "--set=ae.epochs=1", "--set=ae.batch_chunks=256"]
TINY_GAN = ["--set=gan.channels=16", "--set=gan.critic_channels=16", "--set=gan.noise=8", "--set=gan.critic_steps=1",
            "--set=gan.validate_every=2", "--set=gan.sample_every=0", "--set=rnn.hidden=16", "--set=rnn.attention=8",
            "--set=rnn.critic_width=16"]


def test_cli_trains_both_finetuned_gans_on_asap_and_generates(shared_data, tmp_path):
    corpus, ae = tmp_path / "corpus", tmp_path / "ae"
    assert main(["prepare", str(shared_data), "--out", str(corpus), "-q"]) == 0
    assert main(["train-ae", str(corpus), "--out", str(ae), "--max-minutes", "0.1", "-q", *TINY]) == 0
    for arch in ("conv", "rnn"):
        assert main(["train-gan", str(corpus), "--ae", str(ae), "--out", str(tmp_path / arch), "--arch", arch,
                     "--finetune-ae", "--steps", "2", "--batch", "4", "-q", *TINY_GAN]) == 0
        meta = json.loads((tmp_path / arch / "last" / "config.json").read_text())
        assert meta["arch"] == arch and meta["step"] == 2 and "finetuned_sha256" in meta["autoencoder"]
        assert meta["corpus"]["tracks"] == 984
    assert main(["generate", "--model", str(tmp_path / "rnn"), "--arch", "rnn", "--max-seconds", "30", "-n", "3",
                 "-o", str(tmp_path / "rnn_out")]) == 0
    assert main(["generate", "--model", str(tmp_path / "conv"), "--seconds", "20", "-n", "2",
                 "-o", str(tmp_path / "conv_out")]) == 0
    for folder, count, longest_s in (("rnn_out", 3, 30.0), ("conv_out", 2, 20.0)):
        files = sorted((tmp_path / folder).glob("*.mid"))
        assert len(files) == count
        for path in files:
            score = symusic.Score(str(path)).to("second")
            notes = [n for track in score.tracks for n in track.notes]
            # the piece may be empty (a barely trained model), but nothing starts after its maximum length
            assert all(n.time <= longest_s for n in notes), path
