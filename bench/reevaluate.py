"""`tsm evaluate` again on pieces already written, beside the report they had: which descriptors' overlaps moved
when the evaluation changed (the pieces and the real excerpts are the same, so only the measure differs). A report
written before the twenty-sixth session holds one draw of each classifier's subsample and folds, a new one their
mean over 5 (`tsm evaluate --repeats`): part of a classifier's move is that.

    python bench/reevaluate.py --corpus /work/data/asap --split test --seconds 16 OUT/default \
        --markdown bench/results/reevaluate.md
OUT/default holds midi/ and report/report.json as bench/compare_generators.py writes them; the new report is
written to OUT/default/report-again.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from timestepmusic.evaluate import FOLDS_BY

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import table, write_markdown  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="folders holding midi/ and report/report.json")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--seed", type=int, default=0, help="the seed the first report was made with")
    parser.add_argument("--folds-by", choices=FOLDS_BY, default=FOLDS_BY[0],
                        help="what the classifiers' folds and the real halves keep whole (tsm evaluate --folds-by)")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.comparison import GENERATED
    from timestepmusic.evaluate.descriptors import SCALAR_DESCRIPTORS
    from timestepmusic.evaluate.report import evaluate_generated

    corpus, lines = Corpus.open(args.corpus), []
    for run in args.runs:
        before = json.loads((run / "report" / "report.json").read_text())
        after = evaluate_generated(run / "midi", corpus, run / "report-again", split=args.split,
                                   seconds=args.seconds, seed=args.seed, folds_by=args.folds_by)
        overlap = {name: [report["descriptors"][name]["rows"][GENERATED]["overlap"] if name in report["descriptors"]
                          else np.nan for report in (before, after)]
                   for name in SCALAR_DESCRIPTORS}  # a descriptor added since the first report: NaN there
        rows = [[name, "—" if np.isnan(a) else f"{a:.3f}", f"{b:.3f}"] for name, (a, b) in overlap.items()
                if np.isnan(a) or abs(a - b) >= 5e-4]
        means = [float(np.mean([v[i] for v in overlap.values() if not np.isnan(v[i])])) for i in (0, 1)]
        logistic = [report["classifier"][GENERATED]["accuracy"] for report in (before, after)]
        trees = [report["classifier_trees"][GENERATED]["accuracy"] for report in (before, after)]
        trees = [np.nan if t is None else t for t in trees]  # (None: too few excerpts for the trees)
        rows.append(["mean overlap (over the descriptors each report has)", f"{means[0]:.3f}", f"{means[1]:.3f}"])
        rows.append(["logistic accuracy", f"{logistic[0]:.3f}", f"{logistic[1]:.3f}"])
        rows.append(["trees accuracy", f"{trees[0]:.3f}", f"{trees[1]:.3f}"])
        lines += [f"{run}: {args.split} split, {args.seconds:g} s; descriptors whose overlap moved", "",
                  *table(["descriptor", "before", "now"], rows), ""]
    print("\n".join(lines))
    write_markdown(args.markdown, "# The same pieces evaluated again", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
