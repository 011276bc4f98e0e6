"""How often the damper is lifted, and how briefly: every full lift (the damper up between two presses) of the real
performances of a split beside `tsm generate`'s pieces (--pieces of --seconds from --model), as lifts a minute and the
share of lifts shorter than 20 ms, 20–40 ms, 40–60 ms and 60–100 ms. A lift of 20–40 ms is quicker than a pedal
seems able to drop and rise; this says whether pianists' recordings hold such lifts as often as the model's pieces.

    python bench/damper_lifts.py --corpus /work/data/asap --split validation --pieces 40 --seconds 60 --seed 3 \\
        --markdown bench/results/damper_lifts_50.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_corpus_arguments, corpus_or_skip, table, write_markdown  # noqa: E402

EDGES_S = (0.0, 0.02, 0.04, 0.06, 0.1)


def lifts_s(events) -> np.ndarray:
    """The length of each full damper lift between two presses (seconds) [K]."""
    from timestepmusic.midi import DAMPER_ID

    damper = events.ids == DAMPER_ID
    order = np.argsort(events.start_s[damper], kind="stable")
    start_s, end_s = events.start_s[damper][order], (events.start_s + events.duration_s)[damper][order]
    gaps = start_s[1:] - np.maximum.accumulate(end_s)[:-1]  # [P - 1]: after every press, the time to the next
    return gaps[gaps > 1e-6]


def row(name: str, lifts: np.ndarray, minutes: float) -> list[str]:
    shares = [np.mean((lifts >= lo) & (lifts < hi)) for lo, hi in zip(EDGES_S, EDGES_S[1:])]
    return [name, f"{lifts.size:,}", f"{lifts.size / minutes:.2f}", f"{np.sum((lifts >= 0.02) & (lifts < 0.04)) / minutes:.2f}",
            *(f"{x:.3f}" for x in shares), f"{np.median(lifts):.3f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_corpus_arguments(parser)
    parser.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    parser.add_argument("--model", default="default")
    parser.add_argument("--pieces", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    with corpus_or_skip(args, "tsm-bench-lifts-") as corpus:
        if corpus is not None:
            report(args, corpus)


def report(args: argparse.Namespace, corpus) -> None:
    """The table of `main`'s arguments over `corpus`, printed and written."""
    from timestepmusic.generation import GANModel

    real = [corpus.track_events(int(t)) for t in corpus.tracks_in(args.split)]
    real_minutes = sum(corpus.tracks[int(t)]["duration_s"] for t in corpus.tracks_in(args.split)) / 60.0
    drawn = GANModel.load(args.model).sample(args.pieces, args.seconds, args.seed)
    drawn_minutes = sum(piece.end_s for piece in drawn) / 60.0
    header = ["set", "lifts", "a minute", "20–40 ms a minute", "< 20 ms", "20–40 ms", "40–60 ms", "60–100 ms", "median s"]
    body = [row(f"real ({args.split})", np.concatenate([lifts_s(e) for e in real]), real_minutes),
            row(f"{args.model}, {args.pieces} × {args.seconds:g} s, seed {args.seed}",
                np.concatenate([lifts_s(e) for e in drawn]), drawn_minutes)]
    lines = [f"full damper lifts in {len(real)} real performances of the {args.split} split of {corpus.root} and in "
             f"{args.pieces} pieces drawn by --model {args.model}", ""] + table(header, body)
    print("\n".join(lines))
    write_markdown(args.markdown, "# Damper lifts: how often, how brief", lines)


if __name__ == "__main__":
    main()
