"""The latent-space comparison (docs/latent-space.md): autoencoder arms trained at equal compute (same
batch, same number of steps, one thread each), then measured by `tsm evaluate-ae` on one split.

    python bench/ae_variants.py train --corpus CORPUS --runs RUNS --arms seed,ohe-cdf-32 --steps 5000
    python bench/ae_variants.py table --corpus CORPUS --runs RUNS --split test --markdown docs/ae.md

Each arm is `RUNS/<arm>-s<seed>`, a normal autoencoder run (`tsm evaluate-ae` and `--resume` work on it).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

# name → configuration overrides; every arm also gets the shared batch and learning rate below
ARMS = {
    "seed": {"encoding.encoding": "pon", "encoding.durations": "cdf", "ae.latent": 20},
    "ohe-cdf-32": {"encoding.encoding": "OHE", "encoding.durations": "cdf", "ae.latent": 32},
    "ohe-log-32": {"encoding.encoding": "OHE", "encoding.durations": "log", "ae.latent": 32},
    "ohe-log-32-noise": {"encoding.encoding": "OHE", "encoding.durations": "log", "ae.latent": 32,
                         "ae.latent_noise": 0.2},
    "ohe-log-20-noise": {"encoding.encoding": "OHE", "encoding.durations": "log", "ae.latent": 20,
                         "ae.latent_noise": 0.2},
    "ohe-log-48-noise": {"encoding.encoding": "OHE", "encoding.durations": "log", "ae.latent": 48,
                         "ae.latent_noise": 0.2},
    "ohe-log-75-noise": {"encoding.encoding": "OHE", "encoding.durations": "log", "ae.latent": 75,
                         "ae.latent_noise": 0.2},
}
SHARED = {"ae.batch_chunks": 512, "ae.lr": 1e-3, "ae.device": "cpu", "ae.epochs": 100, "ae.checkpoint_every_s": 120.0}


def train(args: argparse.Namespace) -> None:
    from timestepmusic.corpus import Corpus
    from timestepmusic.train.ae import train_autoencoder

    torch.set_num_threads(args.threads)
    base = Corpus.open(args.corpus).config
    for arm in args.arms.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            out = Path(args.runs) / f"{arm}-s{seed}"
            if (out / "done.json").exists():
                print(f"{out}: done already", flush=True)
                continue
            config = base.override(SHARED | ARMS[arm] | {"ae.seed": seed})
            started = time.perf_counter()
            resume = (out / "last" / "config.json").exists()
            result = train_autoencoder(args.corpus, out, None if resume else config, resume=resume,
                                       progress=False, max_steps=args.steps)
            seconds = time.perf_counter() - started
            record = {"arm": arm, "seed": seed, "steps": result.get("step"), "seconds": seconds,
                      "chunks_per_s": args.steps * SHARED["ae.batch_chunks"] / seconds,
                      "train_loss": result.get("train_loss"), "threads": args.threads}
            (out / "done.json").write_text(json.dumps(record, indent=1))
            print(json.dumps(record), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train")
    p.add_argument("--corpus", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--arms", default=",".join(ARMS))
    p.add_argument("--seeds", default="0")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=train)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
