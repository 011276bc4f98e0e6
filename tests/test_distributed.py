"""Two CPU processes with gloo under torchrun take the same steps as one process with the same global batch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from timestepmusic.config import Config
from timestepmusic.corpus import prepare
from timestepmusic.midi import write_events

from test_models import TINY_AE, TINY_GAN, random_performance


def run_tsm(args: list[str], nproc: int, cwd: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(sys.path))
    if nproc == 1:
        command = [sys.executable, "-m", "timestepmusic", *args]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                   "-m", "timestepmusic", *args]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def test_two_gloo_processes_equal_one(tmp_path):
    rng = np.random.default_rng(1)
    for piece in range(4):
        write_events(random_performance(rng, 10.0), tmp_path / "midi" / f"p{piece}" / "take.mid")
    corpus = tmp_path / "corpus"
    prepare([tmp_path / "midi"], corpus, Config(), progress=False)
    settings = [f"--set={k}={v}" for k, v in (TINY_AE | {"ae.epochs": 1, "ae.batch_chunks": 24}).items()]
    common = ["train-ae", str(corpus), "-q", *settings]
    run_tsm([*common, "--out", str(tmp_path / "one")], 1, tmp_path)
    run_tsm([*common, "--out", str(tmp_path / "two")], 2, tmp_path)
    one = load_file(str(tmp_path / "one" / "last" / "pisa.safetensors"))
    two = load_file(str(tmp_path / "two" / "last" / "pisa.safetensors"))
    for key in one:
        torch.testing.assert_close(one[key], two[key], rtol=1e-4, atol=1e-5, msg=key)
    meta = json.loads((tmp_path / "two" / "last" / "config.json").read_text())
    assert meta["trained"]["world_size"] == 2
    steps = [json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    assert len(steps) == 1  # rank 0 alone writes the log
    # the GAN: the same global batch of windows, sliced over two ranks
    gan_settings = [f"--set={k}={v}" for k, v in (TINY_GAN | {"gan.sample_every": 0}).items()]
    gan = ["train-gan", str(corpus), "--ae", str(tmp_path / "one"), "-q", *gan_settings]
    run_tsm([*gan, "--out", str(tmp_path / "gan1")], 1, tmp_path)
    run_tsm([*gan, "--out", str(tmp_path / "gan2")], 2, tmp_path)
    for key in ("generator", "critic"):
        a = load_file(str(tmp_path / "gan1" / "last" / f"{key}.safetensors"))
        b = load_file(str(tmp_path / "gan2" / "last" / f"{key}.safetensors"))
        for name in a:
            torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5, msg=f"{key}.{name}")
