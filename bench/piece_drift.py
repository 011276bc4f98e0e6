"""How a drawn piece's density and register move from its first seconds to its last, beside real excerpts.

A real excerpt is cut from the middle of a performance: on average its notes per second and its register are the
same in its first eighth as in its last. A drawn piece starts from nothing, and whatever it does more of as it goes
on (more notes, wider leaps) adds up over a minute. This draws `--pieces` pieces of `--seconds` with a model (as it
samples, and under each `--settings` group), cuts each into eighths, and prints the mean notes per second and the
mean pitch range (highest minus lowest key struck) of each eighth, beside the same for every real excerpt of that
length in the split (consecutive excerpts of each track, as `tsm evaluate` cuts them).

    python bench/piece_drift.py --corpus /work/data/asap --seconds 60
    python bench/piece_drift.py --corpus /work/data/asap --seconds 16 --settings "ar.stop_bias=0.3"
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_settings_argument, settings_groups, table, use_settings, write_markdown  # noqa: E402

PARTS = 8


def eighths(excerpt: np.ndarray, ids: np.ndarray, start_s: np.ndarray, excerpts: int,
            seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Notes (excerpt index, key, start) [E] each of `excerpts` excerpts of `seconds` → the mean notes per second
    and the mean pitch range of each eighth [PARTS] each (an eighth without notes: no range, left out)."""
    part = np.minimum((start_s / seconds * PARTS).astype(np.int64), PARTS - 1)  # [E]
    cell = excerpt * PARTS + part  # [E]
    counts = np.bincount(cell, minlength=excerpts * PARTS).reshape(excerpts, PARTS)  # [X, P]
    highest = np.full(excerpts * PARTS, -1.0)
    lowest = np.full(excerpts * PARTS, np.inf)
    np.maximum.at(highest, cell, ids.astype(np.float64))
    np.minimum.at(lowest, cell, ids.astype(np.float64))
    spans = (highest - lowest).reshape(excerpts, PARTS)  # [X, P]: −inf where no note
    spans[counts == 0] = np.nan
    return counts.mean(axis=0) / (seconds / PARTS), np.nanmean(spans, axis=0)


def real_eighths(corpus: str, split: str, seconds: float) -> tuple[np.ndarray, np.ndarray, int]:
    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.excerpts import excerpts_from_corpus
    from timestepmusic.midi import NUM_KEYS

    corpus = Corpus.open(corpus)
    excerpts = excerpts_from_corpus(corpus, split, seconds)
    # (a track shorter than the excerpt gives one, silent at its end: left out. Each excerpt's length_s is `seconds`
    # whatever its track's, so the track's length tells)
    full = np.array([corpus.tracks[t]["duration_s"] for t in excerpts.group]) >= seconds  # [X]
    if not full.any():
        raise ValueError(f"no real excerpt of {seconds:g} s in the {split} split: every performance in it is shorter; "
                         "give a shorter --seconds or another --split")
    notes = (excerpts.ids < NUM_KEYS) & full[excerpts.excerpt]  # [E]
    kept = np.cumsum(full) - 1  # [X]: each full excerpt's index among them
    return (*eighths(kept[excerpts.excerpt[notes]], excerpts.ids[notes], excerpts.start_s[notes], int(full.sum()),
                     seconds), int(full.sum()))


def drawn_eighths(gan, pieces: int, seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from timestepmusic.midi import NUM_KEYS

    drawn = gan.sample(pieces, seconds, seed)
    notes = [(p.ids < NUM_KEYS) & (p.start_s < seconds) for p in drawn]
    excerpt = np.concatenate([np.full(int(m.sum()), i) for i, m in enumerate(notes)])
    ids = np.concatenate([p.ids[m] for p, m in zip(drawn, notes)])
    start_s = np.concatenate([p.start_s[m] for p, m in zip(drawn, notes)])
    return eighths(excerpt, ids, start_s, pieces, seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="a prepared corpus (tsm prepare)")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--model", default="default", help="a shipped model's name or a run folder")
    parser.add_argument("--pieces", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    add_settings_argument(parser)
    parser.add_argument("--markdown", type=Path, help="also write the output here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from timestepmusic.generation import GANModel
    from timestepmusic.shipped import resolve_model

    try:  # a model, split, setting or length refused: one line, as `tsm` says it
        if args.pieces < 1 or not args.seconds > 0:
            raise ValueError(f"--pieces must be ≥ 1 and --seconds > 0, got {args.pieces} and {args.seconds:g}")
        density, span, count = real_eighths(args.corpus, args.split, args.seconds)
        gan = GANModel.load(resolve_model(args.model))  # (a model not there: --model named, not the call)
        groups, own = settings_groups(gan, args.settings)  # each checked before the minutes of drawing
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    rows = [[f"real {args.split} ({count} excerpts)", " ".join(f"{d:5.2f}" for d in density),
             " ".join(f"{s:4.1f}" for s in span)]]
    for assignments in groups:
        use_settings(gan, assignments, own)
        density, span = drawn_eighths(gan, args.pieces, args.seconds, args.seed)
        rows.append([" ".join(assignments) or f"{args.model} as it samples", " ".join(f"{d:5.2f}" for d in density),
                     " ".join(f"{s:4.1f}" for s in span)])
    lines = [f"model {args.model}, {args.pieces} pieces of {args.seconds:g} s per row, sampling seed {args.seed}",
             f"each eighth of the piece ({args.seconds / PARTS:g} s): mean notes per second, mean pitch range "
             "(semitones, eighths with a note)", "",
             *table(["pieces", "notes per second: first eighth … last", "pitch range: first … last"], rows)]
    print("\n".join(lines))
    if args.markdown:
        write_markdown(args.markdown, "How density and register move along a piece", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
