"""How pieces change from one minute to the next, beside real performances.

A pianist's minute differs from the one before it: louder or softer, higher or lower, denser, more or less
pedal. A piece told one description for its whole length may stay one texture throughout. For every pair of
consecutive minutes of a piece (real: consecutive 60 s excerpts of the split's tracks; generated: of each MIDI
file in DIR, cut into whole minutes: generate them a whole number of minutes long, `tsm generate --seconds 180`;
a piece that ends early has its last, partial minute compared as a whole one), this takes the change of each
`tsm evaluate` descriptor (and of the register, the notes' mean pitch) and compares its size,
|minute k + 1 − minute k|, with the real one's: the mean change, and the overlap of the two distributions
(`tsm evaluate`'s overlap).

    python bench/piece_development.py --corpus /work/data/asap --split validation held=DIR1 path=DIR2
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from timestepmusic.corpus import Corpus  # noqa: E402
from timestepmusic.evaluate.compare import overlap_kl  # noqa: E402
from timestepmusic.evaluate.descriptors import SCALAR_DESCRIPTORS, describe  # noqa: E402
from timestepmusic.evaluate.excerpts import ExcerptTable, excerpts_from_corpus, excerpts_of_length  # noqa: E402
from timestepmusic.midi import NUM_KEYS, read_events  # noqa: E402

MINUTE = 60.0
NAMES = ("register",) + tuple(n for n in SCALAR_DESCRIPTORS if n != "sostenuto_fraction")  # (never pressed here)


def minute_changes(table: ExcerptTable, keep: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Consecutive 60 s excerpts of the same source (table.group) → each descriptor's |change| [P pairs]; `keep`
    [X] (optional): only pairs whose first excerpt it marks."""
    values = describe(table)
    notes = table.ids < NUM_KEYS
    count = np.bincount(table.excerpt[notes], minlength=table.num_excerpts)
    with np.errstate(invalid="ignore", divide="ignore"):
        values["register"] = np.bincount(table.excerpt[notes], table.ids[notes].astype(np.float64),
                                         minlength=table.num_excerpts) / count  # [X]: NaN without notes
    follows = (table.group[1:] == table.group[:-1]) & np.isclose(table.offset_s[1:], table.offset_s[:-1] + MINUTE)
    if keep is not None:
        follows &= keep[:-1]
    return {name: np.abs(values[name][1:] - values[name][:-1])[follows] for name in NAMES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--split", default="validation")
    parser.add_argument("rows", nargs="+", metavar="NAME=DIR", help="a folder of generated MIDI pieces")
    args = parser.parse_args()
    table = excerpts_from_corpus(Corpus.open(args.corpus), args.split, MINUTE)
    real = minute_changes(table)
    rows = {"real A vs B": (minute_changes(table, table.group % 2 == 0), 0)}  # the ceiling: half the tracks
    real_b = minute_changes(table, table.group % 2 == 1)
    for row in args.rows:
        name, _, folder = row.rpartition("=")
        pieces = [read_events(p)[0] for p in sorted(Path(folder).glob("*.mid"))]
        if not pieces:
            raise SystemExit(f"{folder}: no .mid files")
        minutes = np.array([np.ceil(p.start_s.max(initial=0.0) / MINUTE - 1e-3) for p in pieces])  # whole minutes
        rows[name or folder] = (minute_changes(excerpts_of_length(pieces, minutes * MINUTE, MINUTE)), len(pieces))
    print(f"consecutive minutes: real {len(real['register'])} pairs ({args.split}); "
          + ", ".join(f"{n} {len(c['register'])} pairs of {k} pieces" for n, (c, k) in rows.items() if k))
    print(f"{'|change| from one minute to the next':40s} {'real':>8s}" + "".join(f"{n:>18s}" for n in rows))
    overlaps = {n: [] for n in rows}
    for name in NAMES:
        cells = []
        for row, (changes, _) in rows.items():
            overlap, _ = overlap_kl(real_b[name] if row == "real A vs B" else real[name], changes[name])
            overlaps[row].append(overlap)
            cells.append(f"{np.nanmean(changes[name]):9.3f} ({overlap:.2f})")
        print(f"{name:40s} {np.nanmean(real[name]):8.3f}" + "".join(f"{c:>18s}" for c in cells))
    print(f"{'mean overlap':40s} {'':8s}" + "".join(f"{np.nanmean(v):18.3f}" for v in overlaps.values()))


if __name__ == "__main__":
    main()
