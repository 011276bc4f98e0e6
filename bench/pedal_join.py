"""Benchmark: closing short gaps inside an events model's drawn pedal runs (ar.pedal_join_s), chosen on the
validation split. The pieces are drawn once per model; each gap is a post-process of the same drawn events, so
every row sees the same music. For each row: `tsm evaluate`'s figures against the split (as in
bench/compare_generators.py, no snapping), and the gaps between consecutive damper events beside the real
split's (the shares of abutting runs, of overlaps, and of lifts of 1–20 ms, 20–100 ms and over 100 ms).

    python bench/pedal_join.py --corpus /work/data/asap --model s0=default --model s1=runs/ev-s1/best \
        --gaps 0,0.05,0.1,0.2,0.02/0.1,0.02/0.2 --out /tmp/join --markdown bench/results/pedal_join.md
(0.02/0.1: gaps of at most 20 ms or 10 % of the press before.)
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import busy_warning, load_average, table, write_markdown  # noqa: E402
from compare_generators import summary_of  # noqa: E402

GAP_BINS = (("abut ±1 ms", -0.001, 0.001), ("overlap > 1 ms", -np.inf, -0.001), ("gap 1–20 ms", 0.001, 0.02),
            ("gap 20–100 ms", 0.02, 0.1), ("gap > 100 ms", 0.1, np.inf))


def damper_gaps(ids: np.ndarray, start_s: np.ndarray, duration_s: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Start of each damper event minus the latest release before it in the same group (excerpt) [G]: negative
    where an earlier press is still held (an overlap), positive a lift."""
    from timestepmusic.midi import DAMPER_ID

    damper = np.flatnonzero(ids == DAMPER_ID)
    order = damper[np.lexsort((start_s[damper], group[damper]))]
    same = group[order][1:] == group[order][:-1]
    end = start_s[order] + duration_s[order]
    segment = np.cumsum(np.r_[True, ~same]) * 1e6  # [D]: excerpts apart (no excerpt lasts 1e6 s)
    reach = np.maximum.accumulate(end + segment) - segment  # the latest release so far within the excerpt
    gaps = start_s[order][1:] - reach[:-1]
    return gaps[same]


def gap_shares(gaps: np.ndarray) -> list[str]:
    return [f"{np.mean((gaps >= lo) & (gaps < hi)) if gaps.size else float('nan'):.3f}" for _, lo, hi in GAP_BINS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--split", default="validation")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--model", action="append", default=[], metavar="NAME=RUN")
    parser.add_argument("--gaps", default="0,0.05,0.1,0.2",
                        help="comma-separated ar.pedal_join_s values (s), or S/SHARE: with ar.pedal_join_share")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, help="the key's temperature (default: the model's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.comparison import GENERATED
    from timestepmusic.evaluate.excerpts import excerpts_from_corpus
    from timestepmusic.evaluate.report import evaluate_generated
    from timestepmusic.generation import GANModel
    from timestepmusic.midi_write import write_events
    from timestepmusic.piece_events import sampled_events

    corpus = Corpus.open(args.corpus)
    gaps = [tuple(float(x) for x in (g.split("/") + ["0"])[:2]) for g in args.gaps.split(",")]  # (s, share)
    real = excerpts_from_corpus(corpus, args.split, args.seconds)
    real_gaps = damper_gaps(real.ids, real.start_s, real.duration_s, real.excerpt)
    load_before = os.getloadavg()[0]
    rows = [[f"*real {args.split} excerpts*", "—", "—", "—", "—", "—", *gap_shares(real_gaps)]]
    for spec in args.model:
        name, _, run = spec.partition("=")
        model = GANModel.load(run)
        if not getattr(model.arm, "draws_events", False):
            raise SystemExit(f"{run}: not an events model (ar.pedal_join_s joins drawn events)")
        started = time.perf_counter()
        pieces = model.sample_latents(args.samples, args.seconds, args.seed, snap_to_real=False,
                                      temperature=args.temperature)
        print(f"{name}: {args.samples} pieces drawn in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        for gap, share in gaps:  # the same drawn events, joined at each gap
            model.arm.settings = dataclasses.replace(model.arm.settings, pedal_join_s=gap, pedal_join_share=share)
            events = sampled_events(model.arm, model.ae, pieces)
            label = f"{gap:g}" + (f", share {share:g}" if share else "")
            midi = args.out / name / f"join{gap:g}-{share:g}" / "midi"
            for i, piece in enumerate(events):
                write_events(piece, midi / f"sample_{i:03d}.mid")
            report = evaluate_generated(midi, corpus, midi.parent / "report", split=args.split,
                                        seconds=args.seconds, seed=args.seed)
            s = summary_of(report, GENERATED)
            drawn_gaps = np.concatenate([damper_gaps(e.ids, e.start_s, e.duration_s, np.zeros(len(e), np.int64))
                                         for e in events])
            rows.append([name, label, f"{s['classifier']:.3f}", f"{s['trees']:.3f}", f"{s['mean_overlap']:.3f}",
                         f"{s['damper_fraction']:.3f}", *gap_shares(drawn_gaps)])
            print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    header = ["model", "pedal_join_s, _share", "logistic acc.", "trees acc.", "mean overlap", "damper-down overlap",
              *(label for label, _, _ in GAP_BINS)]
    lines = [f"split {args.split}, {args.samples} pieces of {args.seconds:g} s per model (drawn once, seed "
             f"{args.seed}), no snapping; gap shares: of consecutive damper events", "",
             *table(header, rows), load_average(load_before, load_after := os.getloadavg()[0]),
             *busy_warning(load_before, load_after, "only the draw times are affected")]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Closing gaps inside drawn pedal runs (ar.pedal_join_s)", lines)


if __name__ == "__main__":
    main()
