"""How closely an events model trained with `ar.tonal` plays in the key `tsm generate --key` asks: each of the 24
keys asked of -n pieces of --seconds per sampling seed, and the key their notes fit best (keys.estimate_key: the
Krumhansl–Kessler profile that correlates best with the notes' pitch-class durations) compared with the one asked,
beside the same pieces drawn unasked (the baseline: how often a piece lands in a key by chance, compared with the
same list of asked keys). Over more than 16 s, the first and the last 16 s are also compared (does the piece stay
in the key?); with --corpus, real minutes of --split say how often a pianist's 16 s passages fit their minute's key
(16 s of notes name a key less surely than a minute, and passages modulate).
What else the key moves: `tsm evaluate`'s descriptors of the pieces, asked against unasked, means over every
piece; and the seconds per piece drawn (one thread).

    python bench/key_follow.py --model default --seeds 2 3 --corpus /work/data/asap --markdown bench/results/key_follow.md
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_follow_arguments, descriptor_means, drawing_seconds, drawn, table, write_markdown  # noqa: E402

DESCRIPTORS = ("note_density", "pitch_range", "pitch_class_entropy", "key_steadiness", "stepwise_share",
               "polyphony_mean", "velocity_mean", "damper_fraction", "longest_note_s")
LAST_S = 16.0


def fits(pieces, asked: list[tuple[int, bool]], seconds: float) -> tuple[dict[str, np.ndarray], list]:
    """Per piece: whether its notes fit the asked key best, a key of the same signature, the same tonic; and over
    more than LAST_S, whether its last LAST_S do; and the key each piece's notes fit best."""
    from timestepmusic.keys import estimate_key, same_signature

    found = [estimate_key(piece) for piece in pieces]
    out = {"exact": np.array([f == a for f, a in zip(found, asked)]),
           "signature": np.array([f is not None and same_signature(f, a) for f, a in zip(found, asked)]),
           "tonic": np.array([f is not None and f[0] == a[0] for f, a in zip(found, asked)])}
    if seconds > LAST_S:
        for part, after_s in (("first", 0.0), ("last", seconds - LAST_S)):
            passage = [estimate_key(part_of(piece, after_s)) for piece in pieces]
            out[f"{part} 16 s exact"] = np.array([f == a for f, a in zip(passage, asked)])
    return out, found


def part_of(piece, after_s: float):
    """The notes of `piece` that start in [after_s, after_s + LAST_S)."""
    return piece.take(np.flatnonzero((piece.start_s >= after_s) & (piece.start_s < after_s + LAST_S)))


def own_key(pieces, seconds: float) -> dict[str, float]:
    """How often the first and the last 16 s of each piece fit best the key its whole length fits best."""
    from timestepmusic.keys import estimate_key

    agree = {"first": [], "last": []}
    for piece in pieces:
        key = estimate_key(piece)
        for part, after_s in (("first", 0.0), ("last", seconds - LAST_S)):
            agree[part].append(key is not None and estimate_key(part_of(piece, after_s)) == key)
    return {part: float(np.mean(shares)) for part, shares in agree.items()}


def real_reference(corpus_path: Path, split: str) -> tuple[dict[str, float], int, str]:
    """own_key of a pianist's minutes: the real 60 s excerpts of `split`, how many, what the first 16 s of each fit
    best against the minute's key (relation_shares), and their mean key steadiness (tsm evaluate's)."""
    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.descriptors import describe
    from timestepmusic.evaluate.excerpts import excerpts_from_corpus, excerpts_from_events
    from timestepmusic.keys import estimate_key

    minutes = excerpts_from_corpus(Corpus.open(corpus_path), split, 60.0)
    whole = [minutes.events(x) for x in range(minutes.num_excerpts) if minutes.length_s[x] >= 60.0]
    steadiness = float(np.nanmean(describe(excerpts_from_events(whole, 60.0))["key_steadiness"]))
    keyed = [(estimate_key(part_of(minute, 0.0)), estimate_key(minute)) for minute in whole]
    keyed = [(first, key) for first, key in keyed if key is not None]
    return (own_key(whole, 60.0), len(whole), relation_shares([first for first, _ in keyed], [key for _, key in keyed]),
            steadiness)


RELATIONS = ("the key", "its relative", "its parallel", "its dominant", "its subdominant", "another key", "no key")


def relation_shares(found: list, asked: list) -> str:
    """How each found key stands to the asked one (keys.relation), as shares of the pieces, over RELATIONS."""
    from timestepmusic.keys import relation

    relations = [relation(f, a) for f, a in zip(found, asked)]
    if not relations:
        return "no pieces"
    return ", ".join(f"{name} {relations.count(name) / len(relations):.3f}" for name in RELATIONS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_follow_arguments(parser, 4, "pieces per key and seed (24 keys)",
                         "a prepared corpus: also measure real minutes of --split")
    parser.add_argument("--sharpness", type=float, help="the asked profile's power (default: KeyTold's)")
    parser.add_argument("--least", type=float, help="the least notes per chunk a window is told of (default: KeyTold's)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from timestepmusic.evaluate.descriptors import describe
    from timestepmusic.evaluate.excerpts import excerpts_from_events
    from timestepmusic.generation import GANModel
    from timestepmusic.keys import ALL_KEYS, key_name
    from timestepmusic.sequence.tonal import KeyTold
    from timestepmusic.shipped import resolve_model

    how = {name: value for name, value in (("sharpness", args.sharpness), ("least_per_chunk", args.least))
           if value is not None}
    told = KeyTold(ALL_KEYS[0], **how)  # the settings every key is told with
    gan = GANModel.load(resolve_model(args.model))
    gan.sample(args.n, args.seconds, 0, key=told)  # warm-up
    asked_pieces, unasked_pieces, asked_keys, seconds_taken = [], [], [], {"asked": 0.0, "unasked": 0.0}
    for seed in args.seeds:
        for i, key in enumerate(ALL_KEYS):  # the same seeds asked and unasked: the same descriptions drawn
            for what, pieces, options in (("asked", asked_pieces, {"key": dataclasses.replace(told, key=key)}),
                                          ("unasked", unasked_pieces, {})):
                start = time.perf_counter()
                pieces += drawn(gan, args.n, args.seconds, seed * 1000 + i, args.select, **options)
                seconds_taken[what] += time.perf_counter() - start
            asked_keys += [key] * args.n
    total = len(asked_keys)
    (asked_fit, asked_found), (chance_fit, _) = (fits(pieces, asked_keys, args.seconds)
                                                 for pieces in (asked_pieces, unasked_pieces))
    lines = [f"model {args.model}; {args.n} pieces of {args.seconds:g} s per key (24 keys) and sampling seed "
             f"{', '.join(map(str, args.seeds))}: {total} pieces asked, {total} unasked at the same seeds; asked "
             f"profile to the power {told.sharpness:g}, told of at least {told.least_per_chunk:g} notes per chunk", "",
             "share of pieces whose notes fit best …"]
    rows = [[what, f"{asked_fit[what].mean():.3f}", f"{chance_fit[what].mean():.3f}"] for what in asked_fit]
    lines += table(["… the key asked", "asked", "unasked (chance)"], rows)
    minor_asked = np.array([minor for _, minor in asked_keys])
    by_mode = [[f"{'minor' if minor else 'major'} keys asked", f"{asked_fit['exact'][minor_asked == minor].mean():.3f}", ""]
               for minor in (False, True)]
    lines += ["", *table(["exact, by mode", "asked", ""], by_mode)]
    lines += ["", "what the asked pieces' notes fit best: " + relation_shares(asked_found, asked_keys)]
    missed = [key_name(k) for k, ok in zip(asked_keys, asked_fit["exact"]) if not ok]
    most_missed = sorted(set(missed), key=lambda name: (-missed.count(name), name))[:6]  # ties by name
    lines += ["", "asked keys missed most: " + ", ".join(f"{name} ({missed.count(name)}/{total // len(ALL_KEYS)})"
                                                           for name in most_missed)]
    described = {name: describe(excerpts_from_events(pieces, args.seconds))
                 for name, pieces in (("asked", asked_pieces), ("unasked", unasked_pieces))}
    lines += ["", "what else moves (tsm evaluate's descriptors, mean over the pieces):",
              *descriptor_means(described, DESCRIPTORS)]
    lines += ["", drawing_seconds(seconds_taken, total, args.n)]
    if args.seconds > LAST_S or args.corpus is not None:
        rows = []
        if args.seconds > LAST_S:
            rows += [[f"drawn, {what} ({total} pieces of {args.seconds:g} s)", *(f"{share:.3f}" for share in
                                                                             own_key(pieces, args.seconds).values())]
                     for what, pieces in (("asked", asked_pieces), ("unasked", unasked_pieces))]
        if args.corpus is not None:
            real, count, real_relations, real_steadiness = real_reference(args.corpus, args.split)
            rows.append([f"real ({args.split} split, {count} minutes)", *(f"{share:.3f}" for share in real.values())])
        lines += ["", "16 s of a piece fit the key its whole length fits (16 s of notes name a key less surely than a "
                  "minute, and passages modulate):", *table(["pieces", "first 16 s", "last 16 s"], rows)]
        if args.corpus is not None:
            lines += [f"what a real minute's first 16 s fit best, against the minute's key: {real_relations}",
                      f"real minutes' key steadiness (tsm evaluate's, half against half of the minute): "
                      f"{real_steadiness:.3f}"]
    print("\n".join(lines))
    write_markdown(args.markdown, f"# Following `--key`: the model `{args.model}`", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
