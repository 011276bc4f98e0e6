"""Mode collapse, counted: how many generated pieces have near twins among the others (docs/quality.md).

A piece's near twins are the other pieces whose note count and pedal-event count both lie within
`--within` (default 3 %) of its own. A generator collapsed to a few modes writes many pieces with many
twins (the recurrent GAN before its mends: docs/comparison.md); real excerpts of equal length have few.
The real row (16 s excerpts of a split, cut as `tsm evaluate` cuts them) is printed beside each folder.

    python bench/near_twins.py --corpus CORPUS out/rnn/midi out/ar/midi [--split test --within 0.03]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def near_twins(counts: np.ndarray, within: float) -> np.ndarray:
    """counts [P, 2] (notes, pedal events) → twins per piece [P]."""
    close = np.abs(counts[:, None] - counts[None]) <= within * np.maximum(counts[:, None], 1)  # [P, P, 2]
    return close.all(-1).sum(1) - 1


def folder_counts(folder: Path) -> np.ndarray:
    from timestepmusic.midi import NUM_KEYS, read_events

    counts = []
    for path in sorted(folder.glob("*.mid")):
        try:
            ids = np.asarray(read_events(path)[0].ids)
        except ValueError:  # a silent piece (no piano notes) counts as empty
            ids = np.zeros(0, dtype=int)
        counts.append(((ids < NUM_KEYS).sum(), (ids >= NUM_KEYS).sum()))
    return np.array(counts, dtype=float).reshape(-1, 2)


def real_counts(corpus_path: str, split: str, n: int, seed: int) -> np.ndarray:
    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.excerpts import excerpts_from_corpus
    from timestepmusic.midi import NUM_KEYS

    table = excerpts_from_corpus(Corpus.open(corpus_path), split, 16.0)
    x = table.length_s.size
    notes = np.bincount(table.excerpt, weights=table.ids < NUM_KEYS, minlength=x)  # [X]
    pedals = np.bincount(table.excerpt, weights=table.ids >= NUM_KEYS, minlength=x)  # [X]
    pick = np.random.default_rng(seed).choice(x, size=min(n, x), replace=False)  # as many as the largest folder
    return np.stack([notes[pick], pedals[pick]], axis=1)


def line(name: str, counts: np.ndarray, within: float) -> str:
    twins = near_twins(counts, within)
    return (f"{name:>28}  {len(counts):>6}  {counts[:, 0].mean():>7.0f} ± {counts[:, 0].std():<5.0f}"
            f"{counts[:, 1].mean():>7.0f} ± {counts[:, 1].std():<5.0f}{(twins >= 5).sum():>10}  {np.median(twins):>8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders of generated MIDI files")
    parser.add_argument("--corpus", help="prepared corpus: add a row of real 16 s excerpts")
    parser.add_argument("--split", default="test")
    parser.add_argument("--within", type=float, default=0.03, help="relative closeness on both counts (default 0.03)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    header = f"{'pieces':>28}  {'n':>6}  {'notes':>15}{'pedal events':>15}{'≥5 twins':>10}  {'median':>8}"
    rows = [line(f"{folder.parent.name}/{folder.name}", folder_counts(folder), args.within) for folder in args.folders]
    if args.corpus:
        n = max(len(folder_counts(f)) for f in args.folders)
        rows.append(line(f"real {args.split} excerpts", real_counts(args.corpus, args.split, n, args.seed), args.within))
    print(f"near twins: other pieces within {args.within:.0%} on both note and pedal-event counts")
    print("\n".join([header, *rows]))


if __name__ == "__main__":
    main()
