"""How often `tsm evaluate`'s classifier p-value (classifier_tests.group_sign_flip_p) falls under 0.05 and 0.1 when both sets
come from one population of performances: the level the test really has.

Two layouts on random features (4 descriptors; a performance's character, sd 1, shared by its excerpts, plus 0.3 of
noise each): `halves`, 40 performances of 10 excerpts split 20 / 20 as the report's real halves are; `generated`, 40
real performances of 2–29 excerpts against 200 one-excerpt files, each its own performance of the same population.

    python bench/p_value_null.py --draws 600
    python bench/p_value_null.py --draws 100 --trees
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from timestepmusic.evaluate.classifier_tests import classifier_test, trees_classifier_test


def null_sets(layout: str, rng: np.random.Generator):
    """Two sets of one population and their groups → (a [Xa, 4], b [Xb, 4], groups of a, groups of b)."""
    if layout == "halves":
        performance = np.repeat(np.arange(40), 10)  # [400]
        excerpts = np.repeat(rng.normal(size=(40, 4)), 10, axis=0) + 0.3 * rng.normal(size=(400, 4))
        side = (rng.permutation(40) < 20)[performance]
        return excerpts[side], excerpts[~side], performance[side], performance[~side]
    performance = np.repeat(np.arange(40), rng.integers(2, 30, size=40))  # [Xa]
    real = rng.normal(size=(40, 4))[performance] + 0.3 * rng.normal(size=(performance.size, 4))
    files = rng.normal(size=(200, 4)) + 0.3 * rng.normal(size=(200, 4))
    return real, files, performance, np.arange(200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--trees", action="store_true", help="the boosted trees (slow) in place of the logistic")
    args = parser.parse_args()
    test = trees_classifier_test if args.trees else classifier_test
    for layout in ("halves", "generated"):
        started, p = time.perf_counter(), []
        for draw in range(args.draws):
            a, b, group_a, group_b = null_sets(layout, np.random.default_rng(1000 + draw))
            p.append(test(a, b, seed=draw, repeats=args.repeats, groups=(group_a, group_b))["p_value"])
        p = np.array(p)
        print(f"{layout}: {args.draws} null draws, p < 0.05 in {np.mean(p < 0.05):.3f}, p < 0.1 in {np.mean(p < 0.1):.3f}"
              f" ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
