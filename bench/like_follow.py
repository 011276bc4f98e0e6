"""How closely `tsm generate --like FILE` follows the shape of the performance it is given: -k real performances of
--split, each given whole to -n pieces of --seconds per sampling seed, and in each 8 s window of a piece its loudness
(mean velocity), density (notes per second) and damper share against the performance's in the same window (from its
first note, as --like walks it). Two baselines at the same seeds: pieces drawn unasked (each walks a random training performance's
path) and the pieces asked one performance measured against the next one's windows (a real shape, but another).
Per attribute: the mean absolute gap over the windows, and the correlation across a piece's windows with the
performance's (does the piece rise and fall where it does?), averaged over the pieces whose windows vary.

    python bench/like_follow.py --corpus /work/data/asap --split test --seeds 4 5 --markdown bench/results/like_follow.md
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_drawing_arguments, drawing_seconds, drawn, table, write_markdown  # noqa: E402

ATTRIBUTES = ("loudness", "density", "damper", "register")  # (register: the notes' mean pitch, a MIDI note)
WINDOW_S = 8.0


def closeness(pieces: np.ndarray, performance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pieces' windows [P, W, A] against a performance's [W, A] → each piece's mean absolute gap [P, A] and its
    correlation across the windows [P, A] (evaluate.played.shape_correlation: NaN where either does not vary)."""
    from timestepmusic.evaluate.played import shape_correlation

    gap = np.nanmean(np.abs(pieces - performance[None]), axis=1)  # [P, A]
    return gap, np.stack([shape_correlation(piece, performance) for piece in pieces])


def track_events(corpus, track: int):
    """A corpus track's events, whole (its end_s the corpus's)."""
    from timestepmusic.midi import Events

    lo, hi = np.asarray(corpus.track_event_ptr)[[track, track + 1]]
    return Events(*(np.asarray(x[lo:hi]) for x in (corpus.ids, corpus.start_s, corpus.duration_s, corpus.intensity)),
                  corpus.tracks[track]["duration_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_drawing_arguments(parser, 4, "pieces per performance and sampling seed", 64.0)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--split", default="validation")
    parser.add_argument("-k", type=int, default=24, help="performances of the split, evenly spaced over it")
    parser.add_argument("--set", action="append", default=[], metavar="ar.NAME=VALUE",
                        help="as tsm generate --set, for every piece (e.g. ar.style_path=all: every attribute walks)")
    parser.add_argument("--guidance", type=float, help="as tsm generate --guidance for the asked pieces (default: the "
                        "model's)")
    args = parser.parse_args()

    import torch

    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.played import windows_played
    from timestepmusic.generation import GANModel, set_sampling
    from timestepmusic.sequence.path_walk import from_first_note
    from timestepmusic.shipped import resolve_model

    torch.set_num_threads(1)
    corpus = Corpus.open(args.corpus)
    tracks = corpus.tracks_in(args.split)
    tracks = tracks[np.linspace(0, len(tracks) - 1, min(args.k, len(tracks))).round().astype(int)]
    performances = [track_events(corpus, int(t)) for t in tracks]  # whole, as a file given to --like
    names = [f"{corpus.tracks[t].get('composer', '')} {corpus.tracks[t].get('title', '')}".strip() for t in tracks]

    def shape(piece) -> np.ndarray:  # [W, A]: its loudness, density, damper share and register in each window
        return windows_played(piece, args.seconds, ATTRIBUTES, WINDOW_S)
    real = [shape(from_first_note(p)) for p in performances]

    gan = GANModel.load(resolve_model(args.model))
    set_sampling(gan, args.set)
    gan.sample(args.n, args.seconds, 0)  # warm-up
    asked_options = {} if args.guidance is None else {"guidance": args.guidance}
    kinds = ("asked like it", "unasked", "asked like the next performance")
    gaps: dict[str, list] = {kind: [] for kind in kinds}
    rs: dict[str, list] = {kind: [] for kind in kinds}
    seconds_taken = {"asked": 0.0, "unasked": 0.0}
    for seed in args.seeds:
        t0 = time.perf_counter()
        unasked = [shape(p) for p in drawn(gan, args.n, args.seconds, seed)]
        seconds_taken["unasked"] += time.perf_counter() - t0
        for k, performance in enumerate(performances):
            t0 = time.perf_counter()
            pieces = np.stack([shape(p) for p in drawn(gan, args.n, args.seconds, seed, like=performance,
                                                       **asked_options)])
            seconds_taken["asked"] += time.perf_counter() - t0
            for kind, against, drawn_windows in (("asked like it", real[k], pieces),
                                                 ("unasked", real[k], np.stack(unasked)),
                                                 ("asked like the next performance", real[(k + 1) % len(real)], pieces)):
                gap, r = closeness(drawn_windows, against)
                gaps[kind].append(gap)
                rs[kind].append(r)
    header = ["pieces", *(f"{name} gap" for name in ATTRIBUTES), *(f"{name} r" for name in ATTRIBUTES)]
    rows = []
    for kind in kinds:
        gap, r = np.concatenate(gaps[kind]), np.concatenate(rs[kind])
        rows.append([kind, *(f"{v:.3f}" for v in np.nanmean(gap, axis=0)), *(f"{v:.2f}" for v in np.nanmean(r, axis=0))])
    spread = np.stack(real)  # [K, W, A]
    lines = [f"model {args.model}; {len(performances)} performances of the {args.split} split, each given whole to "
             f"{args.n} pieces of {args.seconds:g} s per sampling seed {', '.join(map(str, args.seeds))}"
             + (f" (asked at guidance {args.guidance:g})" if args.guidance is not None else "")
             + "".join(f"; --set {assignment}" for assignment in args.set)
             + f"; {WINDOW_S:g} s windows", "",
             "mean absolute gap between each piece's window and the performance's, and the correlation across a piece's "
             "windows (mean over the pieces whose windows vary); unasked: the same performance against pieces drawn "
             "without --like at the same seeds (each walking a random training performance)", "",
             *table(header, rows), "",
             "for scale, the performances' own spread across their windows (std over windows, mean over performances): "
             + ", ".join(f"{name} {np.nanmean(np.nanstd(spread[..., i], axis=1)):.3f}"
                         for i, name in enumerate(ATTRIBUTES)),
             "performances: " + "; ".join(names), "",
             drawing_seconds(seconds_taken | {"asked": seconds_taken["asked"] / len(performances)},
                             args.n * len(args.seeds), args.n)]
    print("\n".join(lines))
    write_markdown(args.markdown, f"# Following `--like`: the model `{args.model}`", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
