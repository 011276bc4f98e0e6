"""Batch sampling speed, models side by side: each model samples -n pieces together at each --seconds, in one
process on one thread (`GANModel.sample_latents`: the generator alone, no MIDI written), after a warm-up; the
issue's target is 100× real time. With --style, every piece is told that description (guided at the model's
ar.request_guidance, or --guidance: each piece read twice, told and untold).

    python bench/batch_speed.py --models default,events-v12 --markdown bench/results/batch_speed_voices.md
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import busy_warning, load_average, table, verdict, write_markdown  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="default", help="comma-separated runs, checkpoints or shipped models")
    parser.add_argument("-n", type=int, default=200, help="pieces sampled together (default 200)")
    parser.add_argument("--seconds", default="16,60", help="piece lengths, comma-separated (default 16,60)")
    parser.add_argument("--style", help="ask every piece for this description, e.g. damper=0.3 (style models)")
    parser.add_argument("--guidance", type=float, help="how closely it is followed (default: the model's)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic.generation import GANModel
    from timestepmusic.sequence.style_request import parse_style

    asked = {} if args.style is None else {"style": parse_style(args.style)}
    if args.guidance is not None:
        asked["guidance"] = args.guidance

    before = os.getloadavg()[0]
    rows = []
    for name in args.models.split(","):
        model = GANModel.load(name)
        model.sample_latents(4, 2.0, seed=0)  # warm-up
        for seconds in (float(s) for s in args.seconds.split(",")):
            start = time.perf_counter()
            model.sample_latents(args.n, seconds, seed=1, **asked)
            elapsed = time.perf_counter() - start
            speed = args.n * seconds / elapsed
            rows.append([name, f"{seconds:g}", f"{elapsed:.1f}", f"{speed:.0f}×", verdict(speed >= 100)])
    after = os.getloadavg()[0]
    told = f"; told --style {args.style}" if args.style else ""
    told += f", --guidance {args.guidance:g}" if args.guidance is not None else ""
    lines = [f"{args.n} pieces sampled together per row, one thread; torch {torch.__version__}{told}",
             load_average(before, after), "",
             *table(["model", "seconds", "wall (s)", "× real time", "≥ 100×"], rows), *busy_warning(before, after)]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Batch sampling speed", lines)


if __name__ == "__main__":
    main()
