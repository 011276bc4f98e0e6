"""Shared fixtures: tiny settings, a tiny corpus and autoencoder trained once per session, where the real
performances live ($TSM_ASAP_DATA, else beside the checkout), and a skip when they are not there."""
from __future__ import annotations

import csv
import inspect
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from timestepmusic.config import Config
from timestepmusic.midi import Events
from timestepmusic.midi_write import write_events
from timestepmusic.prepare_corpus import prepare
from timestepmusic.sequence.carry import Carry, History, carry_items
from timestepmusic.sequence.event_head import EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.voices import VoiceLean
from timestepmusic.train.ae import train_autoencoder

# The models in these tests are tiny: one thread is several times faster than two threads that
# contend for a 2-core machine (and the results do not depend on it).
torch.set_num_threads(1)
# The tests' own arms only: a $TSM_ARMS of the shell's (one's own arm, or one that fails to import) is imported by every
# arch lookup, and the tests that name one set it themselves.
os.environ.pop("TSM_ARMS", None)

SHARED_ASAP = Path(__file__).parents[1].parent / "shared" / "data" / "asap"  # beside the checkout, by default
ASAP_ENV = "TSM_ASAP_DATA"  # … or the raw ASAP folder (the one holding metadata.csv) named here, for a clone elsewhere


def asap_folder() -> Path:
    """The raw ASAP folder the real-file tests read: $TSM_ASAP_DATA where set, else ../shared/data/asap."""
    given = os.environ.get(ASAP_ENV, "").strip()
    return Path(given).expanduser() if given else SHARED_ASAP


def missing_asap() -> str:
    """Why the real-file tests find no performances: the folder they looked in, and how to name another."""
    if os.environ.get(ASAP_ENV, "").strip():
        return f"${ASAP_ENV}={asap_folder()}: no metadata.csv there; name the raw ASAP folder"
    return (f"../shared/data/asap not found: real-file tests need the shared data beside the checkout, or ${ASAP_ENV} "
            "naming the raw ASAP folder")


MISSING_SHARED = missing_asap()  # (as the session started)


def asap_rows() -> list[dict]:
    """Rows of the ASAP folder's metadata.csv (`asap_folder`), or [] when it is absent."""
    table = asap_folder() / "metadata.csv"
    if not table.is_file():
        return []
    with table.open(newline="") as f:
        return list(csv.DictReader(f))


def checked_asap_folder() -> Path:
    """The ASAP folder of real performances (`asap_folder`); where it holds no metadata.csv, skips the test, or fails
    it where $TSM_ASAP_DATA named the folder (a folder asked for by name is not silently passed over)."""
    folder = asap_folder()
    if not (folder / "metadata.csv").is_file():
        (pytest.fail if os.environ.get(ASAP_ENV, "").strip() else pytest.skip)(missing_asap())
    return folder


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ASAP folder of real performances (checked_asap_folder: skipped where it is not there)."""
    return checked_asap_folder()


TINY_AE = {"ae.latent": 8, "ae.hidden": 32, "ae.batch_chunks": 16, "ae.epochs": 2, "ae.lr": 1e-3}
# the conv arm's improvements stay on (weight average, phrase critic, minibatch std), at tiny sizes; groups of 2
# so that two ranks of a batch of 4 each hold whole groups (tests/test_distributed.py)
TINY_GAN = {"gan.window_chunks": 16, "gan.channels": 16, "gan.critic_channels": 16, "gan.noise": 8, "gan.batch": 4,
            "gan.minibatch_group": 2, "gan.steps": 6, "gan.validate_every": 3, "gan.sample_every": 3,
            "gan.critic_steps": 2}
# a recurrent arm (it ends its pieces itself), as TINY_GAN
TINY_RNN = {"rnn.max_chunks": 16, "rnn.hidden": 16, "rnn.attention": 8, "rnn.step_noise": 4,
            "rnn.critic_width": 16, "rnn.critic_layers": 1, "rnn.critic_heads": 2, "rnn.sample_seconds": 4.0}
FINETUNE_BOUND = 1.5  # fine-tuned validation reconstruction loss ≤ this × the starting one


def assert_same_weights(a: Path, b: Path, files: tuple[str, ...] = ("generator",)) -> None:
    """Runs a and b end with bit-identical tensors in each named weights file of their last checkpoint (a
    resumed run against the one trained straight through)."""
    for file in files:
        weights_a, weights_b = (load_file(str(run / "last" / f"{file}.safetensors")) for run in (a, b))
        assert weights_a.keys() == weights_b.keys(), file
        for name in weights_a:
            assert torch.equal(weights_a[name], weights_b[name]), (file, name)


def fit(module: torch.nn.Module, loss_at, steps: int, lr: float = 1e-2) -> None:
    """Train `module` with Adam for `steps` steps on the scalar loss `loss_at(module, step)` (the learning tests'
    loop)."""
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    for step in range(steps):
        loss = loss_at(module, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def held_out_nll(nll_of, max_events: int, steps: int, **options) -> float:
    """A small event head with `options` (e.g. pulse=True), fitted for `steps` steps on the per-row NLL
    `nll_of(head, rows, seed)` of 256 rows drawn with each step as the seed: the mean NLL (nats per chunk) of
    2,048 rows drawn with seed 999 (the learning tests' "learns with it, not without")."""
    torch.manual_seed(0)
    head = EventHead(width=8, hidden=16, max_events=max_events, chunk_seconds=0.25, **options)
    fit(head, lambda net, step: nll_of(net, 256, step).mean(), steps=steps)
    return float(nll_of(head, 2048, 999).mean().detach())


def spy_on_event_sampler(monkeypatch, seen) -> None:
    """Every EventSampler.sample call first hands `seen` its arguments by name (a dict), then samples as it would."""
    sample = EventSampler.sample

    def spy(sampler, *args, **kwargs):
        seen(inspect.signature(sample).bind(sampler, *args, **kwargs).arguments)
        return sample(sampler, *args, **kwargs)
    monkeypatch.setattr(EventSampler, "sample", spy)


def random_performance(rng: np.random.Generator, seconds: float) -> Events:
    notes = int(seconds * 6)
    pedals = int(seconds)
    ids = np.concatenate([rng.integers(20, 70, notes), rng.choice([88, 89, 90], pedals, p=[0.7, 0.1, 0.2])])
    start = rng.uniform(0, seconds, ids.size)
    duration = np.concatenate([rng.uniform(0.05, 1.0, notes), rng.uniform(0.2, 2.0, pedals)])
    intensity = rng.integers(20, 120, ids.size)
    return Events(ids, start, duration, intensity).sorted()


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A corpus of 6 pieces × 2 random 12 s takes, 60/20/20 split by piece."""
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    for piece in range(6):
        for take in range(2):
            write_events(random_performance(rng, 12.0), root / "midi" / f"piece{piece}" / f"take{take}.mid")
    config = Config().override({"corpus.validation_fraction": 0.2, "corpus.test_fraction": 0.2})
    prepare([root / "midi"], root / "corpus", config, progress=False)
    return root / "corpus"


@pytest.fixture(scope="session")
def tiny_ae(tiny_corpus, tmp_path_factory) -> Path:
    """A tiny autoencoder run (2 epochs) on tiny_corpus."""
    run = tmp_path_factory.mktemp("ae") / "run"
    train_autoencoder(tiny_corpus, run, Config().override(TINY_AE), progress=False)
    return run


def timed_carry(rows: int, seed: int) -> Carry:
    """A carry of notes and pedals with exact start times, as training and sampling build it."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 91, (rows, 8), generator=g)
    start_s = -torch.rand(rows, 8, generator=g, dtype=torch.float64).sort(dim=1).values.flip(1) * 2
    start_s[:, 3] = start_s[:, 2] + 0.01  # a chord: two notes within one onset
    history = History(ids, start_s, start_s + 0.3, torch.randint(1, 128, (rows, 8), generator=g),
                      torch.ones(rows, 8, dtype=torch.bool))
    return carry_items(history, torch.zeros(rows, dtype=torch.float64))


def heard_places(voice_lean: VoiceLean, index: torch.Tensor, heard: torch.Tensor | None) -> torch.Tensor:
    """What a VoiceLean.leaned call heard (index [Q, V·88], heard [Q, V, 1] or None) as one tensor to compare:
    each voice's places in the kernels' row [Q, V, 88], −1 for a voice not heard."""
    places = index.view(index.shape[0], voice_lean.voices, -1)  # [Q, V, 88]
    return places if heard is None else places.masked_fill(heard == 0, -1)
