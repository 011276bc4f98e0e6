"""Which pairs of descriptors give generated pieces away together: `tsm evaluate`'s gradient-boosted trees (the
same cross-validated two-sample test) fitted on every pair of scalar descriptors, ranked by how far the pair
tells more than the better of its two alone. A pair far above its parts is a relation the generator has wrong
(e.g. how the pulse goes with the density) while each descriptor's own histogram may look right; `--bands A:B`
then prints B's mean in fifths of A's real distribution, real beside generated.

    python bench/descriptor_pairs.py --corpus CORPUS --split validation --seconds 16 out/run0 out/run1
    python bench/descriptor_pairs.py --corpus CORPUS --bands note_density:pulse_clarity out/run0
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_descriptor_arguments, describe_real_and_generated, table  # noqa: E402


def bands(real: dict, generated: dict, by: str, of: str) -> list[list[str]]:
    """Rows of a table: `of`'s mean ± std in each fifth of `by`'s real distribution, real and generated."""
    edges = np.nanpercentile(real[by], [0, 20, 40, 60, 80, 100])
    edges[0], edges[-1] = -np.inf, np.inf
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        cells = [f"[{lo:.2f}, {hi:.2f})"]
        for desc in (real, generated):
            inside = (desc[by] >= lo) & (desc[by] < hi)  # [X]
            values = desc[of][inside]
            cells += [f"{inside.sum()}", f"{np.nanmean(values):.3f} ± {np.nanstd(values):.3f}" if inside.any() else "—"]
        rows.append(cells)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_descriptor_arguments(parser)
    parser.add_argument("--top", type=int, default=15, help="pairs to print (default 15)")
    parser.add_argument("--bands", metavar="A:B", help="instead of the pairs: B's mean in fifths of A")
    args = parser.parse_args()
    from timestepmusic.evaluate.classifier_tests import trees_classifier_test
    from timestepmusic.evaluate.compare import descriptor_features
    from timestepmusic.evaluate.descriptors import SCALAR_DESCRIPTORS

    real, generated, files, groups = describe_real_and_generated(args)
    print(f"{len(files)} generated files, {len(real[SCALAR_DESCRIPTORS[0]])} real {args.seconds:g} s excerpts "
          f"({args.split})")
    if args.bands:
        by, of = args.bands.split(":")
        for name in (by, of):
            if name not in SCALAR_DESCRIPTORS:
                raise SystemExit(f"--bands {args.bands}: {name} is not a scalar descriptor")
        print("\n".join(table([by, "real", f"real {of}", "generated", f"generated {of}"],
                              bands(real, generated, by, of))))
        return 0
    names = [n for n in SCALAR_DESCRIPTORS if np.isfinite(real[n]).any() and np.nanstd(real[n]) > 0]
    real_x = descriptor_features(real, names)[:, :len(names)]  # [Xr, D]: the scalars, no pitch-class histogram
    generated_x = descriptor_features(generated, names)[:, :len(names)]  # [Xg, D]
    alone = [trees_classifier_test(real_x[:, [j]], generated_x[:, [j]], groups=groups)["accuracy"]
             for j in range(len(names))]
    rows = []
    for i, j in itertools.combinations(range(len(names)), 2):
        both = trees_classifier_test(real_x[:, [i, j]], generated_x[:, [i, j]], groups=groups)["accuracy"]
        rows.append([f"{names[i]} × {names[j]}", f"{both:.3f}", f"{alone[i]:.3f} / {alone[j]:.3f}",
                     f"{both - max(alone[i], alone[j]):+.3f}"])
    rows.sort(key=lambda row: -float(row[3]))
    print("\n".join(table(["pair", "trees on the pair", "each alone", "above the better alone"], rows[:args.top])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
