"""How the splits of a corpus differ: the mean of `tsm evaluate`'s descriptors over each split's consecutive
excerpts (as many as --excerpts, evenly spaced), side by side. A model of the training split, or a critic trained
on it (`tsm generate --select`), leans toward the training split's column; the comparisons grade against the
validation or test split's.

    python bench/split_descriptors.py --corpus CORPUS [--seconds 16] [--excerpts 3000] [--markdown OUT.md]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import descriptor_means, write_markdown  # noqa: E402

SPLITS = ("train", "validation", "test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="a prepared corpus (tsm prepare)")
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--excerpts", type=int, default=3000, help="excerpts per split at most")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.descriptors import SCALAR_DESCRIPTORS, describe
    from timestepmusic.evaluate.excerpts import excerpts_from_corpus

    corpus = Corpus.open(args.corpus)
    described, counts = {}, {}
    for split in SPLITS:
        excerpts = excerpts_from_corpus(corpus, split, args.seconds, max_excerpts=args.excerpts)
        described[split], counts[split] = describe(excerpts), excerpts.num_excerpts
    lines = [f"corpus {corpus.root}: {', '.join(f'{counts[s]} {s}' for s in SPLITS)} excerpts of {args.seconds:g} s; "
             "the mean of each descriptor (NaN left out)", "", *descriptor_means(described, SCALAR_DESCRIPTORS)]
    print("\n".join(lines))
    if args.markdown:
        write_markdown(args.markdown, "Descriptor means by split", lines)


if __name__ == "__main__":
    main()
