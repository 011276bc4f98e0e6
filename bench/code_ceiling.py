"""Benchmark: what a generator that picks each chunk from K codes could at best sound like. The real latent
sequences of a split (first 60 s of each track) are quantised to K k-means codes of the training latents and
decoded, as the code's centre or as its exemplar (the real training latent nearest the centre, so every chunk
decodes as a real one); `tsm evaluate`'s figures then compare them with real excerpts, beside the autoencoder's
decode of the unquantised sequences. No generator over such codes can beat its row: it is the ceiling of a
categorical ("token") head, measured before building one.

    python bench/code_ceiling.py --corpus CORPUS --model default --codes 1024 --out OUT [--split validation]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import table, write_markdown  # noqa: E402
from compare_generators import KEY_DESCRIPTORS, summary_of  # noqa: E402

BLOCK = 65_536


def nearest(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """x [C, L], centres [K, L] → index of each row's nearest centre [C]."""
    squared = (centres ** 2).sum(1)
    return torch.cat([(squared[None] - 2 * x[lo:lo + BLOCK] @ centres.T).argmin(1) for lo in range(0, len(x), BLOCK)])


def kmeans(x: torch.Tensor, k: int, iterations: int, seed: int) -> torch.Tensor:
    """Lloyd's k-means from k random rows: x [C, L] → centres [K, L]."""
    generator = torch.Generator().manual_seed(seed)
    centres = x[torch.randperm(len(x), generator=generator)[:k]].clone()
    for _ in range(iterations):
        assigned = nearest(x, centres)
        sums = torch.zeros_like(centres).index_add_(0, assigned, x)
        counts = torch.bincount(assigned, minlength=k).float()[:, None]
        centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)
    return centres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="the prepared corpus the model's autoencoder was trained on")
    parser.add_argument("--model", default="default", help="a model, for its autoencoder and normaliser")
    parser.add_argument("--codes", default="1024", help="comma-separated codebook sizes")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--fit-sample", type=int, default=200_000, help="training latents the k-means runs on")
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.comparison import GENERATED
    from timestepmusic.evaluate.excerpts import excerpts_from_events
    from timestepmusic.evaluate.report import evaluate_generated
    from timestepmusic.generation import GANModel
    from timestepmusic.latents import encode_corpus, split_rows
    from timestepmusic.midi_write import write_events
    from timestepmusic.piece_events import decode_piece

    model, corpus = GANModel.load(args.model), Corpus.open(args.corpus)
    z = model.normaliser.forward(torch.from_numpy(encode_corpus(model.ae, corpus)))  # [C, L] standardised
    train = z[split_rows(corpus, "train")]
    fit = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:args.fit_sample]]
    ptr = np.asarray(corpus.track_chunk_ptr)
    sequences = [z[ptr[t]:min(ptr[t + 1], ptr[t] + 240)] for t in corpus.tracks_in(args.split)]  # first 60 s

    def decoded(latents: list[torch.Tensor]):
        return [decode_piece(model.ae, model.normaliser.inverse(x)) for x in latents]

    for i, piece in enumerate(decoded(sequences)):
        write_events(piece, args.out / "midi" / f"track_{i:03d}.mid")
    rows = {}
    for k in (int(k) for k in args.codes.split(",")):
        started = time.perf_counter()
        centres = kmeans(fit, k, args.iterations, seed=0)
        exemplars = train[torch.stack([nearest(c[None], train)[0] for c in centres])]  # [K, L] real latents
        codes = [nearest(x, centres) for x in sequences]
        rows[f"{k} codes, centre"] = excerpts_from_events(decoded([centres[c] for c in codes]), 16.0)
        rows[f"{k} codes, exemplar"] = excerpts_from_events(decoded([exemplars[c] for c in codes]), 16.0)
        print(f"{k} codes: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    report = evaluate_generated(args.out / "midi", corpus, args.out / "report", split=args.split, seconds=16.0,
                                extra_rows=rows)
    results = {"autoencoder decode, not quantised": summary_of(report, GENERATED)}
    results |= {name: summary_of(report, name) for name in rows}
    (args.out / "code_ceiling.json").write_text(json.dumps(results, indent=1))
    columns = ["classifier", "trees", "mean_overlap", *KEY_DESCRIPTORS]
    lines = [f"{args.split} split, first 60 s of each track as 16 s excerpts, model {args.model}", "",
             *table(["row", *columns], [[name, *(f"{r[c]:.3f}" for c in columns)] for name, r in results.items()])]
    print("\n".join(lines))
    write_markdown(args.markdown, "# The ceiling of a generator over K chunk codes", lines)


if __name__ == "__main__":
    main()
