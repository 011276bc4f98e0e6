"""The codes head of the likelihood arm: k-means codes of the training latents, drawn as real exemplars."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.generation import GANModel
from timestepmusic.latents import split_rows
from timestepmusic.sequence.codebook import CodeHead, exemplars_of, kmeans, nearest
from timestepmusic.train.sequence import train_sequence_model

TINY_CODES = {"ar.context": 16, "ar.width": 16, "ar.layers": 1, "ar.heads": 2, "ar.batch": 4, "ar.head": "codes",
              "ar.codes": 12, "gan.steps": 30, "gan.validate_every": 10, "gan.sample_every": 0}


def blobs(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    means = torch.tensor([[10.0, 0.0], [-10.0, 0.0], [0.0, 10.0]])
    label = torch.arange(300) % 3
    return means[label] + 0.1 * torch.randn(300, 2, generator=generator), label


def test_kmeans_finds_separate_clusters_and_exemplars_are_rows_near_them():
    x, label = blobs(torch.Generator().manual_seed(0))
    centres = kmeans(x, 3, 10, torch.Generator().manual_seed(1))
    assigned = nearest(x, centres)
    for k in range(3):  # each cluster is one code, whole
        assert assigned[label == k].unique().numel() == 1
    assert assigned.unique().numel() == 3
    index = exemplars_of(centres, x)
    assert torch.allclose(x[index], centres, atol=0.5)
    assert (nearest(x[index], centres) == torch.arange(3)).all()


def test_a_draw_is_always_an_exemplar_and_the_reading_snaps_to_them():
    head = CodeHead(latent=2, width=4, codes=3)
    x, _ = blobs(torch.Generator().manual_seed(0))
    head.fit(x)
    assert bool(head.fitted)
    draws = head.sample(torch.randn(50, 3), 1.0, torch.Generator().manual_seed(0))
    assert all(any(torch.equal(d, e) for e in head.exemplars) for d in draws)
    assert all(any(torch.equal(e, row) for row in x) for e in head.exemplars)  # real latents, not centres
    cold = head.sample(torch.tensor([[0.0, 3.0, 0.0]]).expand(20, 3), 0.01, torch.Generator().manual_seed(0))
    assert (cold == head.exemplars[1]).all()  # a low temperature takes the likeliest code
    assert torch.equal(head.snap(x[:5] + 0.01), head.exemplars[head.assign(x[:5])])
    with pytest.raises(ValueError, match="more codes"):
        CodeHead(latent=2, width=4, codes=500).fit(x)


def test_a_codes_run_samples_real_training_latents(tiny_corpus, tiny_ae, tmp_path):
    run = tmp_path / "codes"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TINY_CODES), arch="ar", progress=False)
    model = GANModel.load(run)
    codes = model.generator.codes
    assert bool(codes.fitted) and codes.exemplars.shape[0] == 12
    latents = np.load(next(run.glob("latents-*.npy")))
    train = torch.from_numpy(latents[split_rows(Corpus.open(tiny_corpus), "train")])
    pieces = model.sample_latents(3, 2.0, seed=0, snap_to_real=False)
    for piece in pieces:
        for z in piece:  # every chunk is the latent of a real training chunk
            assert torch.isclose(train, z[None], atol=1e-4).all(1).any()
    with pytest.raises(ValueError, match="frozen"):
        train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "tuned", Config().override(
            TINY_CODES | {"gan.finetune_ae": True}), arch="ar", progress=False)
