"""How much the classifiers' accuracy moves on the same files with the draw of the balancing subsample and the
folds, and how much averaging over repeated draws (`tsm evaluate --repeats`, 5 by default since the twenty-sixth
session) steadies it: each --seeds value is one evaluation seed; per seed, one draw (the reports before) and the
mean of --repeats draws, for both classifiers, generated files against a split's real excerpts.

    python bench/classifier_repeats.py --corpus CORPUS --split validation --seconds 60 GENERATED_DIR [--out FILE.md]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_descriptor_arguments, describe_real_and_generated, table, write_markdown  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_descriptor_arguments(parser)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="evaluation seeds")
    parser.add_argument("--repeats", type=int, default=5, help="draws averaged per seed (default 5)")
    parser.add_argument("--out", type=Path, help="also write the table to this markdown file")
    args = parser.parse_args()
    from timestepmusic.evaluate.classifier_tests import classifier_test, trees_classifier_test
    from timestepmusic.evaluate.compare import descriptor_features

    real_desc, generated_desc, files, groups = describe_real_and_generated(args)
    real, generated = descriptor_features(real_desc), descriptor_features(generated_desc)  # [Xr, D], [Xg, D]
    rows, spread = [], {}
    for seed in args.seeds:
        cells = [str(seed)]
        for name, test in (("logistic", classifier_test), ("trees", trees_classifier_test)):
            mean = test(real, generated, seed=seed, repeats=args.repeats, groups=groups)
            one = mean["accuracies"][0] if mean["accuracies"] else float("nan")  # the seed's own draw (none: too
            # few excerpts for the trees), the single draw reports made before
            spread.setdefault((name, 1), []).append(one)
            spread.setdefault((name, args.repeats), []).append(mean["accuracy"])
            cells += [f"{one:.3f}", f"{mean['accuracy']:.3f} ± {mean['accuracy_sd']:.3f}"]
        rows.append(cells)
    rows.append(["sd over seeds"] + [f"{np.std(spread[name, r]):.3f}" for name in ("logistic", "trees")
                                     for r in (1, args.repeats)])
    lines = [f"{len(files)} generated files, {real.shape[0]} real {args.seconds:g} s excerpts ({args.split}); "
             f"{args.folders[0]}", "",
             *table(["eval seed", "logistic, 1 draw", f"logistic, mean of {args.repeats}", "trees, 1 draw",
                     f"trees, mean of {args.repeats}"], rows)]
    print("\n".join(lines))
    write_markdown(args.out, "# The classifiers' accuracy over evaluation seeds: one draw against the mean of "
                   f"{args.repeats}", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
