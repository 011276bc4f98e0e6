"""How one of `tsm evaluate`'s descriptors spreads over the excerpts, generated beside real: its mean, its standard
deviation, its quantiles, and the share of excerpts beyond two bounds. An overlap can be low with the means alike,
where the generated excerpts spread wider than a pianist's (the fifty-ninth session: the default's 16 s pitch range
has the test split's mean and a far wider spread, some pieces held in one narrow register and some scattered over
the keyboard).

    python bench/descriptor_spread.py --corpus /work/data/asap --split test --seconds 16 --descriptor pitch_range \
        --below 30 --above 70 out/seed0/midi out/seed1/midi
"""
from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_descriptor_arguments, read_pieces, table, write_markdown  # noqa: E402

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def spread_row(label: str, values: np.ndarray, below: float, above: float) -> list[str]:
    """One descriptor's values over a set of excerpts [X] → its table row: the count, mean, standard deviation,
    quantiles, and the shares under `below` and over `above`, of the excerpts where it is defined (the time between
    onsets: not where fewer than two notes start; the count says how many)."""
    values = values[np.isfinite(values)]
    quantiles = np.quantile(values, QUANTILES)
    return [label, f"{values.size}", f"{values.mean():.3f}", f"{values.std():.3f}",
            " / ".join(f"{q:.3g}" for q in quantiles), f"{np.mean(values < below):.3f}", f"{np.mean(values > above):.3f}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_descriptor_arguments(parser)
    parser.add_argument("--descriptor", default="pitch_range", help="one of tsm evaluate's scalar descriptors")
    parser.add_argument("--below", type=float, default=30.0, help="the share of excerpts under this is printed")
    parser.add_argument("--above", type=float, default=70.0, help="the share of excerpts over this is printed")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.descriptors import SCALAR_DESCRIPTORS, describe
    from timestepmusic.evaluate.excerpts import excerpts_from_corpus, excerpts_from_events

    if args.descriptor not in SCALAR_DESCRIPTORS:
        parser.error(f"--descriptor {args.descriptor}: not one of tsm evaluate's ({', '.join(SCALAR_DESCRIPTORS)})")
    folders = {folder: sorted(glob.glob(f"{folder}/*.mid")) for folder in args.folders}
    for folder, files in folders.items():
        if not files:
            parser.error(f"{folder}: no .mid files")
    real = describe(excerpts_from_corpus(Corpus.open(args.corpus), args.split, args.seconds))[args.descriptor]  # [X]
    rows = [spread_row(f"real {args.split}", real, args.below, args.above)]
    for folder, files in folders.items():
        pieces = excerpts_from_events(read_pieces(files)[0], args.seconds)
        rows.append(spread_row(folder, describe(pieces)[args.descriptor], args.below, args.above))
    quantiles = " / ".join(f"{round(q * 100)} %" for q in QUANTILES)
    lines = table(["excerpts", "n", "mean", "sd", f"quantiles {quantiles}", f"< {args.below:g}", f"> {args.above:g}"],
                  rows)
    lines.append(f"{args.descriptor}, {args.seconds:g} s excerpts")
    print("\n".join(lines))
    write_markdown(args.markdown, f"# How {args.descriptor} spreads over the excerpts", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
