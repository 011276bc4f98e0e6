"""How closely an events model trained with `ar.tonal` follows a path of keys (`tsm generate --key "A > B@S"`):
each of the 24 keys asked as the first key A of -n pieces of --seconds per sampling seed, changing to a key B that
stands to it as each --move says (its dominant, subdominant, relative or parallel) at --change-s; beside it, at the
same seeds, the pieces asked A alone and B alone. Each part of a piece (before the change, after it, and after it
but for its first --settle-s) is named by the key its notes fit best (keys.estimate_key: the Krumhansl–Kessler
profile that correlates best with the notes' pitch-class durations), and by the notes that tell the two keys apart:
of those in one key's scale but not the other's (C major to G major: F against F#), the share in B's. So "after:
fits B" of the pieces asked A alone
is how often they land in B by chance, and that of the pieces asked B alone from the start is the most a change
could reach. What else the path moves: `tsm evaluate`'s descriptors of the whole pieces, mean over every piece.

    python bench/key_path.py --model default --seeds 2 3 --markdown bench/results/key_path.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_drawing_arguments, descriptor_means, drawn, table, write_markdown  # noqa: E402

MAJOR_SCALE, HARMONIC_MINOR = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 11)  # semitones from the tonic
MOVES = {"dominant": (7, False), "subdominant": (5, False), "relative": (None, True), "parallel": (0, True)}
DESCRIPTORS = ("key_steadiness", "pitch_class_entropy", "note_density", "stepwise_share", "polyphony_mean")


def moved(key, move: str):
    """The key that stands to `key` as `move` says (MOVES: semitones up in the same mode, or the other mode)."""
    from timestepmusic.keys import Key

    shift, other_mode = MOVES[move]
    if shift is None:  # the relative: a minor third up to the major, down to the minor
        shift = 3 if key.minor else 9
    return Key((key.tonic + shift) % 12, key.minor != other_mode)


def scale(key) -> set[int]:
    """The pitch classes of a key's scale (a minor key's harmonic minor: its leading tone raised, as played)."""
    return {(key.tonic + step) % 12 for step in (HARMONIC_MINOR if key.minor else MAJOR_SCALE)}


def telling_notes(piece, first, second) -> tuple[int, int]:
    """Of the notes of `piece` whose pitch class lies in the scale of one key but not the other's (for C major to
    G major, F and F#; to A minor, G and G#): how many are the first key's, and how many the second's."""
    from timestepmusic.midi import LOWEST_PITCH

    classes = (piece.ids[piece.is_note].astype(np.int64) + LOWEST_PITCH) % 12
    only_first, only_second = scale(first) - scale(second), scale(second) - scale(first)
    return int(np.isin(classes, list(only_first)).sum()), int(np.isin(classes, list(only_second)).sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_drawing_arguments(parser, 4, "pieces per first key, move and seed (24 keys)", 32.0)
    parser.add_argument("--change-s", type=float, default=16.0, help="when the second key is asked")
    parser.add_argument("--settle-s", type=float, default=4.0, help="the seconds after the change left out of "
                        "'after, settled'")
    parser.add_argument("--moves", nargs="+", choices=sorted(MOVES), default=["dominant", "relative"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    from timestepmusic.evaluate.descriptors import describe
    from timestepmusic.evaluate.excerpts import excerpts_from_events
    from timestepmusic.generation import GANModel
    from timestepmusic.keys import ALL_KEYS, estimate_key
    from timestepmusic.midi import window
    from timestepmusic.sequence.tonal import KeyTold
    from timestepmusic.shipped import resolve_model

    gan = GANModel.load(resolve_model(args.model))
    parts = {"before: fits A": (0.0, args.change_s, "A"), "after: fits B": (args.change_s, args.seconds, "B"),
             f"after, settled ({args.settle_s:g} s on): fits B": (args.change_s + args.settle_s, args.seconds, "B"),
             "after: fits A": (args.change_s, args.seconds, "A")}
    arms = ("A, then B", "A alone", "B alone")
    lines = [f"model {args.model}; {args.n} pieces of {args.seconds:g} s per first key (24 keys), move and sampling "
             f"seed {', '.join(map(str, args.seeds))}; B asked from {args.change_s:g} s; each arm at the same seeds"]
    for move in args.moves:
        fit = {arm: {part: [] for part in parts} for arm in arms}
        pieces = {arm: [] for arm in arms}
        telling = {arm: np.zeros((2, 2), dtype=np.int64) for arm in arms}  # [before, after] × [A's, B's]
        for seed in args.seeds:
            for i, first in enumerate(ALL_KEYS):
                second = moved(first, move)
                asked = {"A, then B": KeyTold(first, later=((args.change_s, second),)), "A alone": KeyTold(first),
                         "B alone": KeyTold(second)}
                for arm, told in asked.items():
                    drawn_now = drawn(gan, args.n, args.seconds, seed * 1000 + i, args.select, key=told)
                    pieces[arm] += drawn_now
                    for piece in drawn_now:
                        for half, (begin_s, end_s) in enumerate(((0.0, args.change_s), (args.change_s, args.seconds))):
                            telling[arm][half] += telling_notes(window(piece, begin_s, end_s), first, second)
                        for part, (begin_s, end_s, which) in parts.items():
                            key = estimate_key(window(piece, begin_s, end_s))
                            fit[arm][part].append(key == (first if which == "A" else second))
        count = len(pieces[arms[0]])
        rows = [[part, *(f"{np.mean(fit[arm][part]):.3f}" for arm in arms)] for part in parts]
        lines += ["", f"move: to the {move} ({count} pieces per arm); share of pieces whose part fits best …",
                  *table(["part", *arms], rows)]
        rows = [[f"{half}: of them, B's", *(f"{telling[arm][h, 1] / max(telling[arm][h].sum(), 1):.3f}" for arm in arms)]
                for h, half in enumerate(("before", "after"))]
        rows.append(["notes counted (before + after)", *(str(int(telling[arm].sum())) for arm in arms)])
        lines += ["", "the notes in one key's scale but not the other's (a minor key's: harmonic minor), their share "
                  "in B's:", *table(["part", *arms], rows)]
        described = {arm: describe(excerpts_from_events(pieces[arm], args.seconds)) for arm in arms}
        lines += ["", f"the whole {args.seconds:g} s (tsm evaluate's descriptors, mean over the pieces):",
                  *descriptor_means(described, DESCRIPTORS)]
    print("\n".join(lines))
    write_markdown(args.markdown, f"# Following a path of keys (`--key \"A > B@{args.change_s:g}\"`): the model "
                   f"`{args.model}`", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
