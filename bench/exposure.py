"""Benchmark: how far an ar model drifts when it reads its own samples (exposure bias). The same model
draws every chunk of N real windows of a split twice: teacher-forced (each chunk drawn given the real
chunks before it) and free-running (given its own earlier draws, as `tsm generate` samples). Both are
decoded and described beside the autoencoder's decode of the real windows (the baseline row). Where the
teacher-forced row is close to the real one and the free-running row is not, the drift comes from
sampling on the model's own output, which `ar.input_noise` trains against.

    python bench/exposure.py --corpus CORPUS --model default --split validation -n 100 \
        --markdown bench/results/exposure.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import table, write_markdown  # noqa: E402

SHOWN = ("note_density", "pitch_range", "pitch_class_entropy", "melodic_step_mean", "duration_log_mean", "longest_note_s",
         "longest_silence_s", "damper_fraction",
         "soft_fraction", "polyphony_mean")


def real_windows(model, corpus, split: str, n: int, seed: int) -> torch.Tensor:
    """Latents of `n` real windows of the model's context at random places of the split (a track drawn in
    proportion to its windows, then a start): [n, context, L]. Drawn, not the first tracks in order: a
    split's tracks come grouped by piece (the validation split opens with Bach fugues, little pedal)."""
    from timestepmusic.batches import ChunkGatherer

    gatherer = ChunkGatherer(corpus, device=model.ae.device)
    context = model.arm.generator.context
    tracks = np.array([int(t) for t in corpus.tracks_in(split) if int(gatherer.track_chunks[t]) >= context])
    starts = np.array([int(gatherer.track_chunks[t]) - context + 1 for t in tracks], dtype=np.float64)
    rng = np.random.default_rng(seed)
    windows = []
    for track in rng.choice(tracks, size=n, p=starts / starts.sum()).tolist():
        first = int(rng.integers(0, int(gatherer.track_chunks[track]) - context + 1))
        chunk = torch.arange(first, first + context)
        windows.append(model.ae.encode(gatherer.gather(torch.full_like(chunk, track), chunk)).float().cpu())
    return torch.stack(windows)


def means(model, latents) -> dict[str, float]:
    from timestepmusic.evaluate.descriptors import describe
    from timestepmusic.evaluate.excerpts import excerpts_from_events
    from timestepmusic.piece_events import decode_piece

    pieces = [decode_piece(model.ae, x) for x in latents]
    described = describe(excerpts_from_events(pieces, len(latents[0]) * model.ae.chunk_seconds))
    return {name: float(np.nanmean(described[name])) for name in SHOWN}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="the prepared corpus the model was trained on")
    parser.add_argument("--model", action="append", default=[], metavar="RUN",
                        help="an ar run, checkpoint or shipped model (repeatable; default: default)")
    parser.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    parser.add_argument("-n", type=int, default=100, help="windows (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic.corpus import Corpus
    from timestepmusic.generation import GANModel

    corpus = Corpus.open(args.corpus)
    rows: dict[str, dict[str, float]] = {}
    for spec in args.model or ["default"]:
        model = GANModel.load(spec)
        if not getattr(model.arm, "continues", False):
            raise SystemExit(f"--model {spec}: a {model.arch} model; this bench is for ar models")
        arm, context = model.arm, model.arm.generator.context
        real = real_windows(model, corpus, args.split, args.n, args.seed)  # [S, T, L]
        if not rows:
            rows["baseline: autoencoder decode of the real windows"] = means(model, real)
        with torch.no_grad():
            density, _ = arm.generator(model.normaliser.forward(real))  # each [S, T, …]
            s, t, dims = real.shape
            rng = torch.Generator().manual_seed(args.seed)
            forced = arm.generator.sample(tuple(d.flatten(0, 1) for d in density), arm.settings.temperature, rng,
                                          arm.settings.mixture_temperature).view(s, t, dims)  # [S·T, L] → [S, T, L]
        rows[f"{spec}: teacher-forced"] = means(model, model.normaliser.inverse(forced))
        free = model.sample_latents(args.n, context * model.ae.chunk_seconds, args.seed, snap_to_real=False)
        rows[f"{spec}: free-running"] = means(model, free)

    lines = [f"{args.n} windows of the {args.split} split (one context each); spreads × ar.temperature, mixture "
             "weights at ar.mixture_temperature, the model's own settings; descriptor means", "",
             *table(["row", *SHOWN], [[name, *(f"{r[k]:.3f}" for k in SHOWN)] for name, r in rows.items()])]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Exposure bias: an ar model reading the real past or its own samples", lines)


if __name__ == "__main__":
    main()
