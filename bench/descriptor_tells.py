"""Which descriptors give generated pieces away: `tsm evaluate`'s gradient-boosted trees (the same
cross-validated two-sample test) fitted on each scalar descriptor alone, and on all but each one, for
generated MIDI folders against the real excerpts of a split. A descriptor that alone scores well above 0.5
is a tell (the eleventh session found one: drawn durations on the bins' grid, longest note alone 0.762);
the drop when one is left out says how much the others cover for it; the share of excerpts where a descriptor is
exactly zero (a pedal never pressed) is printed beside, real and generated.

    python bench/descriptor_tells.py --corpus CORPUS --split validation --seconds 16 out/run0 out/run1
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_descriptor_arguments, describe_real_and_generated, table  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_descriptor_arguments(parser)
    args = parser.parse_args()
    from timestepmusic.evaluate.classifier_tests import trees_classifier_test
    from timestepmusic.evaluate.compare import descriptor_features
    from timestepmusic.evaluate.descriptors import SCALAR_DESCRIPTORS

    real_desc, generated_desc, files, groups = describe_real_and_generated(args)
    real, generated = descriptor_features(real_desc), descriptor_features(generated_desc)  # [Xr, D], [Xg, D]
    every = trees_classifier_test(real, generated, groups=groups)["accuracy"]
    rows = []
    for j, name in enumerate(SCALAR_DESCRIPTORS):
        others = [k for k in range(real.shape[1]) if k != j]
        alone = trees_classifier_test(real[:, [j]], generated[:, [j]], groups=groups)["accuracy"]
        without = trees_classifier_test(real[:, others], generated[:, others], groups=groups)["accuracy"]
        zero = [f"{np.mean(x[:, j] == 0):.2f}" for x in (real, generated)]  # e.g. pieces without the soft pedal
        rows.append([name, f"{alone:.3f}", f"{every - without:+.3f}", " / ".join(zero)])
    rows.sort(key=lambda row: -float(row[1]))
    print(f"{len(files)} generated files, {real.shape[0]} real {args.seconds:g} s excerpts ({args.split}); "
          f"trees on every descriptor: {every:.3f}")
    print("\n".join(table(["descriptor", "trees on it alone", "accuracy lost without it", "zero: real / generated"],
                           rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
