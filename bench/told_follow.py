"""How closely drawn pieces play the description they were told (an events model trained with ar.style, walking
real performances' paths: ar.style_path), with the model's own sampling settings and with others: for each 16 s
window of each piece, the register (the notes' mean pitch), spread (their standard deviation) and density (notes per
second) it played beside what it was told at the window's first chunk (the description of the 16 s from there),
and how the pieces' pitch range spreads. The sixtieth session's question: the default's pieces play narrower than
told, and loosely, so that their pitch range spreads far wider over the pieces than a pianist's.

    python bench/told_follow.py -n 200 --seconds 16 --seeds 2 3 --settings "ar.register_follow=1"
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import (  # noqa: E402
    add_drawing_arguments,
    add_settings_argument,
    settings_groups,
    table,
    use_settings,
    write_markdown,
)

FOLLOWED = ("register", "spread", "density")
WINDOW_S = 16.0  # what a description covers (style.AHEAD chunks)


def played_and_told(gan, n: int, seconds: float, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """`n` pieces drawn → per attribute of FOLLOWED, (played, told) pairs over every whole 16 s window of every
    piece [W, 2] in users' units (NaN where a window holds no note), and the pitch range of each of those windows
    [W]."""
    from timestepmusic.evaluate.descriptors import describe
    from timestepmusic.evaluate.excerpts import excerpts_of_length
    from timestepmusic.evaluate.played import windows_played
    from timestepmusic.sequence.path_walk import PathWalk
    from timestepmusic.sequence.style_paths import StylePaths
    from timestepmusic.sequence.style_request import users_value

    starts, draw = [], StylePaths.draw

    def kept_draw(self, *args, **kwargs):  # where each piece's path starts
        starts.append(draw(self, *args, **kwargs))
        return starts[-1]

    StylePaths.draw = kept_draw
    try:
        pieces = gan.sample(n, seconds, seed)
    finally:
        StylePaths.draw = draw
    if len(starts) != 1:
        raise SystemExit("told_follow.py: the pieces walked no path (a model trained with ar.style and ar.style_path)")
    chunk_s = gan.arm.chunk_seconds
    windows = int(seconds // WINDOW_S)
    look = gan.arm.generator.style
    # as the walk told it, without what a follow moved: the walked attributes along the path, the rest held at its
    # first chunk's, the spread moved ar.spread_pull of the way to training's mean
    walk = PathWalk(gan.arm.paths, starts[0], gan.arm.walked_attributes(), look, liked=False, ending=False,
                    spread_pull=gan.arm.settings.spread_pull)
    told = walk.told(0, max(0, round((windows - 1) * WINDOW_S / chunk_s)), None)  # [S, C, D]
    attributes = look.attributes
    out = {}
    for i, name in enumerate(FOLLOWED):
        column = attributes.index(name)
        pairs = []
        for s, piece in enumerate(pieces):
            played = windows_played(piece, windows * WINDOW_S, FOLLOWED, WINDOW_S)[:, i]  # [W]
            at = [round(w * WINDOW_S / chunk_s) for w in range(windows)]
            said = np.asarray(users_value(name, told[s, at, column].double().numpy()), dtype=np.float64)  # [W]
            pairs.append(np.stack([played, said], axis=1))
        out[name] = np.concatenate(pairs)  # [W, 2]
    # every whole window, as the pairs (excerpts_from_events cuts a piece by its last onset: one 16 s excerpt of 32 s)
    ranges = describe(excerpts_of_length(pieces, np.full(len(pieces), windows * WINDOW_S), WINDOW_S))["pitch_range"]
    return out, ranges


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_drawing_arguments(parser, 200, "pieces per seed and row", 16.0)
    add_settings_argument(parser)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.seconds < WINDOW_S:
        parser.error(f"--seconds {args.seconds:g}: at least one {WINDOW_S:g} s window")
    torch.set_num_threads(args.threads)
    from timestepmusic.generation import GANModel

    gan = GANModel.load(args.model)
    try:
        groups, own = settings_groups(gan, args.settings)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    rows, started = [], time.perf_counter()
    for group in groups:
        use_settings(gan, group, own)
        pairs, ranges = {name: [] for name in FOLLOWED}, []
        for seed in args.seeds:
            got, spans = played_and_told(gan, args.n, args.seconds, seed)
            for name in FOLLOWED:
                pairs[name].append(got[name])
            ranges.append(spans)
        label = "; ".join(group) or "the model's own settings"
        cells = []
        for name in FOLLOWED:
            both = np.concatenate(pairs[name])  # [W, 2]
            both = both[np.isfinite(both).all(1)]
            miss = both[:, 0] - both[:, 1]
            cells.append(f"{both[:, 0].mean():.2f} / {both[:, 1].mean():.2f}, {miss.mean():+.2f} ± {miss.std():.2f}, "
                         f"r {np.corrcoef(both[:, 0], both[:, 1])[0, 1]:.2f}")
        spans = np.concatenate(ranges)
        spans = spans[np.isfinite(spans)]
        cells.append(f"{spans.mean():.1f} ± {spans.std():.1f}; {np.mean(spans < 30):.3f} / {np.mean(spans > 70):.3f}")
        rows.append([label, *cells])
    lines = table(["sampling", *(f"{name}: played / told, played − told, r" for name in FOLLOWED),
                   "pitch range per 16 s (mean ± sd; share < 30 / > 70)"], rows)
    lines.append(f"{args.n} pieces of {args.seconds:g} s per seed, seeds {', '.join(map(str, args.seeds))}; every whole "
                 f"{WINDOW_S:g} s window, told the description at its first chunk (the 16 s from there); register as "
                 f"a MIDI note, spread in semitones, density in notes per second; "
                 f"{time.perf_counter() - started:.0f} s")
    print("\n".join(lines))
    write_markdown(args.markdown, f"# Playing what was told: `{args.model}`", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
