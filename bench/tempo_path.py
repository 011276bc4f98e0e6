"""How closely a model sampled with the beat echo follows a path of tempos (`tsm generate --tempo "80 > 120"`: an
accelerando): for each --ramp, -n pieces of --seconds per sampling seed, cut into --parts equal parts, and in each
part the beat its onsets repeat at (tempo.heard_beat_s, as `tsm generate` names it) against the tempo the ramp asks
at the part's middle: the share of pieces at that beat, and at it or twice or half as fast (tempo.beat_relation);
beside the same seeds asked the ramp's first tempo and its last one, held, each measured against the same ramp (a
held tempo can match the ramp only near its own end).

    python bench/tempo_path.py --model default --seeds 2 3 --markdown bench/results/tempo_path.md
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

RAMPS = ("80 > 120", "120 > 80", "60 > 120")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_drawing_arguments(parser, 24, "pieces per ramp, arm and seed", 32.0)
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--ramps", nargs="+", default=list(RAMPS), help="paths of tempos, as --tempo takes them")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from timestepmusic.generate_flags import parse_tempo_path
    from timestepmusic.generation import GANModel
    from timestepmusic.midi import window
    from timestepmusic.sequence.pulse import TempoTold
    from timestepmusic.shipped import resolve_model
    from timestepmusic.tempo import beat_relation, heard_beat_s

    gan = GANModel.load(resolve_model(args.model))
    bounds = np.linspace(0.0, args.seconds, args.parts + 1)
    middles = (bounds[:-1] + bounds[1:]) / 2
    lines = [f"model {args.model}; {args.n} pieces of {args.seconds:g} s per ramp, arm and sampling seed "
             f"{', '.join(map(str, args.seeds))}; each cut into {args.parts} parts; each arm at the same seeds"]
    for text in args.ramps:
        path = parse_tempo_path(text)
        ramp = TempoTold.timed(path, args.seconds)
        asked = [ramp.at(at_s).bpm for at_s in middles]  # [parts]
        arms = {"ramp": ramp, "first held": TempoTold(path[0][1]), "last held": TempoTold(path[-1][1])}
        rows = [["asked of the ramp (bpm)", *(f"{bpm:.1f}" for bpm in asked)]]
        for arm, tempo in arms.items():
            pieces = [piece for seed in args.seeds for piece in drawn(gan, args.n, args.seconds, seed, args.select,
                                                                      tempo=tempo)]
            relations = np.array([[beat_relation(heard_beat_s(window(piece, begin_s, end_s), end_s - begin_s), bpm)
                                   for (begin_s, end_s), bpm in zip(zip(bounds, bounds[1:]), asked)]
                                  for piece in pieces])  # [pieces, parts]
            rows.append([f"{arm}: at the beat", *(f"{np.mean(r == 'the beat'):.3f}" for r in relations.T)])
            rows.append([f"{arm}: … or twice, half", *(f"{np.isin(r, ('the beat', 'twice as fast', 'half as fast')).mean():.3f}"
                                                      for r in relations.T)])
        header = ["", *(f"{a:g}-{b:g} s" for a, b in zip(bounds, bounds[1:]))]
        lines += ["", f"--tempo \"{text}\" ({len(pieces)} pieces per arm; each arm against the ramp's tempo)",
                  *table(header, rows)]
    print("\n".join(lines))
    write_markdown(args.markdown, f"# Following a path of tempos (`--tempo \"A > B\"`): the model `{args.model}`",
                   lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
