"""Benchmark: sampling an ar model past its context, the window slid one chunk at a time (stride 1, the
baseline row: the whole window re-run for every chunk, as before `ar.slide_stride`) beside larger strides
(the last context − stride chunks re-read in one pass, the next stride chunks drawn with the key/value cache).

For each stride: seconds of music per second (× real time) of GANModel.sample_latents plus PISA decoding to
events, for one piece and for --pieces pieces at once, of each length in --lengths (median of --repeats seeds).
One thread. The quality side of the choice is bench/compare_generators.py --slide-stride on 60 s pieces
(docs/quality.md).

    python bench/ar_slide.py --markdown bench/results/ar_slide.md    # the shipped default, no data needed
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import busy_warning, load_average, table, verdict, write_markdown  # noqa: E402

TARGET = 100.0  # the target: sampling ≥ 100× faster than real time


def real_time_factor(model, n: int, seconds: float, repeats: int) -> float:
    """Median over `repeats` seeds of (music written) ÷ (seconds to sample and decode it)."""
    from timestepmusic.piece_events import decode_piece

    factors = []
    for seed in range(repeats):
        t0 = time.perf_counter()
        pieces = model.sample_latents(n, seconds, seed, snap_to_real=False)  # [T_s, L] each
        for latent in pieces:
            decode_piece(model.ae, latent)
        factors.append(sum(p.shape[0] for p in pieces) * model.ae.chunk_seconds / (time.perf_counter() - t0))
    return statistics.median(factors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="an ar run, checkpoint or shipped model (default: default)")
    parser.add_argument("--strides", default="1,4,16", help="comma-separated; the first is the baseline (default 1,4,16)")
    parser.add_argument("--lengths", default="60,600", help="piece lengths in seconds (default 60,600)")
    parser.add_argument("--pieces", type=int, default=50, help="pieces sampled at once in the batch rows (default 50)")
    parser.add_argument("--repeats", type=int, default=3, help="seeds per figure; the median is shown (default 3)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic.generation import GANModel

    model = GANModel.load(args.model)
    if not getattr(model.arm, "continues", False):
        raise SystemExit(f"--model {args.model}: a {model.arch} model; this bench is for ar models")
    strides = [int(s) for s in args.strides.split(",")]
    lengths = [float(s) for s in args.lengths.split(",")]
    settings = model.arm.settings
    load_before = os.getloadavg()[0]
    figures: dict[tuple[int, int, float], float] = {}
    for stride in strides:
        model.arm.settings = dataclasses.replace(settings, slide_stride=stride)
        for n in (1, args.pieces):
            for seconds in lengths:
                figures[stride, n, seconds] = real_time_factor(model, n, seconds, args.repeats)
                print(f"stride {stride}, {n} × {seconds:g} s: {figures[stride, n, seconds]:,.0f}× real time",
                      file=sys.stderr, flush=True)
    load_after = os.getloadavg()[0]

    context_s = model.arm.generator.context * model.ae.chunk_seconds
    header = ["pieces × length", *(f"stride {s}" + (" (baseline)" if i == 0 else "") for i, s in enumerate(strides)),
              f"≥ {TARGET:g}× (stride {strides[-1]})"]
    rows = [[f"{n} × {seconds:g} s", *(f"{figures[s, n, seconds]:,.0f}×" for s in strides),
             verdict(figures[strides[-1], n, seconds] >= TARGET)]
            for n in (1, args.pieces) for seconds in lengths]
    lines = [f"model: {args.model} (context {context_s:g} s, temperature {model.arm.temperature:g}); "
             f"× real time = music written ÷ seconds to sample and decode it; one thread; median of {args.repeats}",
             "", *table(header, rows), "", load_average(load_before, load_after),
             *busy_warning(load_before, load_after)]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Sampling an ar model past its context: the window's stride", lines)


if __name__ == "__main__":
    main()
