"""Two CPU processes with gloo under torchrun take the same steps as one process with the same global batch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from timestepmusic.config import Config
from timestepmusic.midi_write import write_events
from timestepmusic.prepare_corpus import prepare
from timestepmusic.train.ae import train_autoencoder

from conftest import TINY_AE, TINY_GAN, random_performance


def run_tsm(args: list[str], nproc: int, cwd: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONFAULTHANDLER="1", PYTHONPATH=os.pathsep.join(sys.path))
    if nproc == 1:
        command = [sys.executable, "-m", "timestepmusic", *args]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                   "-m", "timestepmusic", *args]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dist")
    rng = np.random.default_rng(1)
    for piece in range(4):
        write_events(random_performance(rng, 10.0), root / "midi" / f"p{piece}" / "take.mid")
    prepare([root / "midi"], root / "corpus", Config(), progress=False)
    return root / "corpus"


def assert_close_weights(one: Path, two: Path, keys: tuple[str, ...]) -> None:
    """As conftest.assert_same_weights, within the rounding two processes' summation orders leave."""
    for key in keys:
        a = load_file(str(one / "last" / f"{key}.safetensors"))
        b = load_file(str(two / "last" / f"{key}.safetensors"))
        for name in a:
            x, y = a[name], b[name]
            if name.endswith("qkv.bias"):
                # the key bias shifts every score of a query by the same amount, which softmax ignores: its
                # gradient is 0 up to rounding, and Adam scales rounding noise up to full-size steps
                width = x.shape[0] // 3
                x, y = torch.cat([x[:width], x[2 * width:]]), torch.cat([y[:width], y[2 * width:]])
            # atol 5e-5: four steps of Adam turn the two processes' different summation order into differences
            # of up to ~1.5e-5 in a few of the rnn critic's weights (2 of 4,096); a wrong batch split moves all
            torch.testing.assert_close(x, y, rtol=1e-4, atol=5e-5, msg=lambda m, where=f"{key}.{name}": f"{where}: {m}")


def test_two_gloo_processes_train_the_autoencoder_as_one(corpus, tmp_path):
    settings = [f"--set={k}={v}" for k, v in (TINY_AE | {"ae.epochs": 1, "ae.batch_chunks": 24}).items()]
    common = ["train-ae", str(corpus), "-q", *settings]
    run_tsm([*common, "--out", str(tmp_path / "one")], 1, tmp_path)
    run_tsm([*common, "--out", str(tmp_path / "two")], 2, tmp_path)
    assert_close_weights(tmp_path / "one", tmp_path / "two", ("pisa",))
    meta = json.loads((tmp_path / "two" / "last" / "config.json").read_text())
    assert meta["trained"]["world_size"] == 2
    steps = [json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    assert len(steps) == 1  # rank 0 alone writes the log


@pytest.mark.parametrize("arch, finetune", [("conv", False), ("conv", True), ("rnn", False), ("rnn", True)],
                         ids=["conv", "conv-finetuned", "rnn", "rnn-finetuned"])
def test_two_gloo_processes_train_the_gan_as_one(corpus, arch, finetune, tmp_path):
    ae = tmp_path / "ae"
    train_autoencoder(corpus, ae, Config().override(TINY_AE | {"ae.epochs": 1}), progress=False)
    settings = TINY_GAN | {"gan.sample_every": 0, "gan.steps": 4, "gan.finetune_ae": finetune}
    gan = ["train-gan", str(corpus), "--ae", str(ae), "-q", "--arch", arch,
           *[f"--set={k}={str(v).lower()}" for k, v in settings.items()]]
    if arch == "rnn":
        gan += ["--max-chunks", "16"]
    run_tsm([*gan, "--out", str(tmp_path / "one")], 1, tmp_path)
    run_tsm([*gan, "--out", str(tmp_path / "two")], 2, tmp_path)  # the same global batches, sliced over two ranks
    # both arms: TINY_GAN keeps the minibatch std on, in groups of 2 that never span the two ranks' slices of 4
    assert_close_weights(tmp_path / "one", tmp_path / "two", ("generator", "critic", "generator_ema")
                        + (("autoencoder",) if finetune else ()))
    meta = json.loads((tmp_path / "two" / "last" / "config.json").read_text())
    assert meta["trained"]["world_size"] == 2 and meta["step"] == 4
