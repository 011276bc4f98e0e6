"""How closely a model trained with `ar.style` follows a path of requests (`tsm generate --style "loudness=40 >
loudness=90"`: a crescendo): for each --ramp, -n pieces of --seconds per sampling seed, cut into --parts equal parts,
and in each part the attributes the ramp moves as played (the notes' mean velocity, notes per second, their mean
pitch, the share of the part's time the damper is down; and --also those it does not ask, as they move with it),
beside what the ramp asks of that part (the mean of its line over the part) and beside the same seeds asked the
ramp's first request and its last one, held (`--style` as before: how far apart the two ends play, which the ramp
should span). Means over the pieces.

    python bench/style_path.py --model default --seeds 2 3 --markdown bench/results/style_path.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_drawing_arguments, drawn, table, write_markdown  # noqa: E402

ATTRIBUTES = ("loudness", "density", "register", "damper")  # what `played` measures
RAMPS = ("loudness=40 > loudness=90", "loudness=90 > loudness=40", "density=3 > density=12",
         "register=C3 > register=C6", "damper=0.2 > damper=0.9")
DAMPER_ID = 88


def played(piece, name: str, begin_s: float, end_s: float) -> float:
    """What the part [begin_s, end_s) of `piece` plays of the attribute `name`, in `--style`'s units (NaN: no note)."""
    notes = (piece.ids < DAMPER_ID) & (piece.start_s >= begin_s) & (piece.start_s < end_s)
    if name == "density":
        return float(notes.sum()) / (end_s - begin_s)
    if name == "damper":
        damper = piece.ids == DAMPER_ID
        down_s = (np.minimum(piece.start_s + piece.duration_s, end_s) - np.maximum(piece.start_s, begin_s))[damper]
        return float(np.clip(down_s, 0.0, None).sum()) / (end_s - begin_s)
    if not notes.any():
        return float("nan")
    values = {"loudness": piece.intensity, "register": piece.ids + 21}[name]
    return float(np.mean(values[notes]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_drawing_arguments(parser, 24, "pieces per ramp and seed", 32.0)
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--ramps", nargs="+", default=list(RAMPS), help="paths of one attribute each, as --style takes")
    parser.add_argument("--also", nargs="*", default=["density", "loudness"], choices=ATTRIBUTES,
                        help="attributes measured beside those a ramp asks")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from timestepmusic.generation import GANModel
    from timestepmusic.sequence.style_request import StyleRamp, parse_style_path, users_value
    from timestepmusic.shipped import resolve_model

    gan = GANModel.load(resolve_model(args.model))
    bounds = np.linspace(0.0, args.seconds, args.parts + 1)
    lines = [f"model {args.model}; {args.n} pieces of {args.seconds:g} s per ramp and sampling seed "
             f"{', '.join(map(str, args.seeds))}; each cut into {args.parts} parts; each arm at the same seeds"]
    for text in args.ramps:
        ramp = StyleRamp.timed(parse_style_path(text), args.seconds)
        ends = {"first held": ramp.waypoints[0][1], "last held": ramp.waypoints[-1][1]}
        arms = {"ramp": ramp, **ends}
        fine = np.linspace(0.0, args.seconds, 1001)[:-1] + args.seconds / 2000  # the line's mean over each part
        asked = {name: users_value(name, line) for name, line in ramp.at(fine).items()}  # those asked from the start
        measured = list(asked) + [name for name in args.also if name not in asked]
        rows = [[f"{name}: asked of the ramp", *(f"{np.mean(line[(fine >= a) & (fine < b)]):.3f}"
                                                 for a, b in zip(bounds, bounds[1:]))] for name, line in asked.items()]
        for arm, style in arms.items():
            values = []  # [pieces, attributes, parts]
            for seed in args.seeds:
                for piece in drawn(gan, args.n, args.seconds, seed, args.select, style=style):
                    values.append([[played(piece, name, a, b) for a, b in zip(bounds, bounds[1:])] for name in measured])
            means = np.nanmean(np.array(values), axis=0)  # [attributes, parts]
            rows += [[f"{name}: played, {arm}", *(f"{v:.3f}" for v in row)] for name, row in zip(measured, means)]
        rows.sort(key=lambda row: measured.index(row[0].split(":")[0]))  # each attribute's rows together
        header = ["", *(f"{a:g}-{b:g} s" for a, b in zip(bounds, bounds[1:]))]
        lines += ["", f"--style \"{text}\" ({len(values)} pieces per arm)", *table(header, rows)]
    print("\n".join(lines))
    write_markdown(args.markdown, f"# Following a path of requests (`--style \"A > B\"`): the model `{args.model}`",
                   lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
