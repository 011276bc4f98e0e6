"""How generated pieces use each pedal, beside the real excerpts of a split: events per second, the share of
time down, and the pedal's runs (its events joined where the next starts at most --join s after the pedal was
last held, as a foot holds it): runs per second, their durations, the share of runs shorter than --short s, the
share of excerpts that never press the pedal, and how much quieter the notes under it are than the rest (the mean
velocity of the notes starting under its runs minus that of the others, over the excerpts with at least --notes of
each, and the share of those excerpts where it is below 0: pianists shift the keyboard for quiet playing). A pedal
written in a few long runs, as pianists press the una corda, reads differently from one pressed in many short
bursts, though both may hold it down for the same share of the time. Excerpts are cut as `tsm evaluate` cuts them:
each holds the events that start inside it, so a real press held in from before an excerpt is not in it (generated
pieces start with nothing held): of the validation split's 60 s excerpts, 26.1 % never press the soft pedal by this
count, 2.3 points of which hold one pressed before them (16 s: 48.0 %, 8.8 points; an ad hoc count, nineteenth
session).

    python bench/pedal_runs.py --corpus /work/data/asap --split validation --seconds 60 out/default/midi
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import read_pieces, table, write_markdown  # noqa: E402

if TYPE_CHECKING:
    from timestepmusic.evaluate.excerpts import ExcerptTable


def run_bounds(start_s: np.ndarray, end_s: np.ndarray, join_s: float) -> tuple[np.ndarray, np.ndarray]:
    """One pedal's events in one excerpt (start and end times [E]) → its runs' starts and ends [U] each (U runs): a
    run goes on while each next event starts at most `join_s` after the latest release so far."""
    from timestepmusic.holds import pedal_run_bounds

    if start_s.size == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(start_s, kind="stable")
    run_start, run_end, _ = pedal_run_bounds(start_s[order], end_s[order], join_s)  # [U] each
    return run_start, run_end


def quieter_under(onset_s: np.ndarray, velocity: np.ndarray, run_start: np.ndarray, run_end: np.ndarray,
                  least: int) -> float | None:
    """One excerpt's notes (onsets and velocities [N]) and a pedal's runs (bounds [U] each) → the mean velocity of
    the notes starting under a run minus that of the others; None with fewer than `least` notes (and at least one)
    on either side."""
    under = ((onset_s[None, :] >= run_start[:, None]) & (onset_s[None, :] < run_end[:, None])).any(axis=0)  # [N]
    least = max(least, 1)  # (--notes 0: a side with no note has no mean)
    if under.sum() < least or (~under).sum() < least:
        return None
    return float(velocity[under].mean() - velocity[~under].mean())


def pedal_rows(label: str, excerpts: "ExcerptTable", seconds: float, join_s: float, short_s: float,
               short_lift_s: float, least_notes: int, real: dict[str, np.ndarray] | None = None
               ) -> tuple[list[list[str]], dict[str, np.ndarray]]:
    """One table row per pedal for the excerpts of one set, and each pedal's run durations [U] (all excerpts'); with
    `real` (the real set's run durations by pedal), each row ends with the two-sample Kolmogorov–Smirnov distance
    of its runs' durations from the real ones'."""
    from scipy.stats import ks_2samp

    from timestepmusic.midi import DAMPER_ID, NUM_KEYS, SOFT_ID, SOSTENUTO_ID

    rows, every_run = [], {}
    for pedal, name in ((DAMPER_ID, "damper"), (SOSTENUTO_ID, "sostenuto"), (SOFT_ID, "soft")):
        runs, lifts, events, down, quieter = [], [], [], [], []
        for i in range(excerpts.num_excerpts):
            lo, hi = excerpts.event_ptr[i], excerpts.event_ptr[i + 1]
            ids = excerpts.ids[lo:hi]
            mine, notes = ids == pedal, ids < NUM_KEYS
            start = excerpts.start_s[lo:hi][mine]
            end = np.minimum(start + excerpts.duration_s[lo:hi][mine], seconds)
            run_start, run_end = run_bounds(start, end, join_s)
            runs.append(run_end - run_start)
            lifts.append(run_start[1:] - run_end[:-1])
            events.append(mine.sum())
            down.append(runs[-1].sum() / seconds)  # joined runs: the gaps of ≤ join_s count as down
            quieter.append(quieter_under(excerpts.start_s[lo:hi][notes], excerpts.intensity[lo:hi][notes].astype(float),
                                         run_start, run_end, least_notes))
        quieter = np.array([q for q in quieter if q is not None])
        every, every_lift = np.concatenate(runs), np.concatenate(lifts)
        quartiles = np.quantile(every, [0.25, 0.5, 0.75]) if every.size else np.full(3, np.nan)
        rows.append([label, name, f"{np.mean(events) / seconds:.2f}", f"{np.mean(down):.3f}",
                     f"{np.mean([r.size for r in runs]) / seconds:.3f}",
                     " / ".join(f"{q:.2f}" for q in quartiles),
                     f"{np.mean(every < short_s) if every.size else float('nan'):.3f}",
                     f"{np.mean(every_lift < short_lift_s) if every_lift.size else float('nan'):.3f}",
                     f"{np.mean([r.size == 0 for r in runs]):.3f}",
                     f"{quieter.mean():+.1f} / {np.mean(quieter < 0):.2f} ({quieter.size})" if quieter.size else "—",
                     "—" if real is None or not every.size or not real[name].size
                     else f"{ks_2samp(every, real[name]).statistic:.3f}"])
        every_run[name] = every
    return rows, every_run


def soft_pair(text: str) -> tuple[float, float, bool]:
    """--soft JOIN,SHORTEST[,quiet] → (ar.soft_join_s, ar.soft_shortest_s, ar.soft_quiet), each length a finite number
    ≥ 0; anything else is the flag's one-line usage error, before the corpus is read (it was a traceback after it)."""
    parts = text.split(",")
    quiet = len(parts) == 3 and parts[2].strip() == "quiet"
    try:
        pair = tuple(float(part) for part in parts[:2]) if len(parts) == 2 or quiet else ()
    except ValueError:
        pair = ()
    if len(pair) != 2 or not all(0 <= x < float("inf") for x in pair):
        raise argparse.ArgumentTypeError(f"{text!r}: give JOIN,SHORTEST in seconds, each ≥ 0, and ',quiet' for "
                                         "ar.soft_quiet, e.g. 0.3,0.2 or 0.3,0.2,quiet")
    return (*pair, quiet)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders of generated MIDI files")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--split", default="validation")
    parser.add_argument("--seconds", type=float, default=16.0,
                        help="excerpt length (each file cut into excerpts of this length, as tsm evaluate cuts them)")
    parser.add_argument("--join-s", type=float, default=0.02, help="a gap of at most this (s) does not end a run")
    parser.add_argument("--short-s", type=float, default=0.2, help="a run shorter than this (s) counts as short")
    parser.add_argument("--short-lift-s", type=float, default=0.5,
                        help="a lift between runs shorter than this (s) counts as short")
    parser.add_argument("--soft", action="append", default=[], metavar="JOIN,SHORTEST[,quiet]", type=soft_pair,
                        help="also each folder's pieces as ar.soft_join_s JOIN and ar.soft_shortest_s SHORTEST (and "
                             "ar.soft_quiet with ',quiet') would write them (soft_runs.soft_held on the events read "
                             "back); repeatable")
    parser.add_argument("--notes", type=int, default=10,
                        help="the quieter-under column counts the excerpts with at least this many notes under a "
                             "pedal and outside it")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    from timestepmusic.corpus import Corpus
    from timestepmusic.evaluate.excerpts import excerpts_from_corpus, excerpts_from_events
    from timestepmusic.soft_runs import soft_held

    counts = (args.seconds, args.join_s, args.short_s, args.short_lift_s, args.notes)
    rows, real = pedal_rows(f"real {args.split}",
                            excerpts_from_corpus(Corpus.open(args.corpus), args.split, args.seconds), *counts)
    for folder in args.folders:
        files = sorted(folder.glob("*.mid"))
        if not files:
            raise SystemExit(f"{folder}: no .mid files")
        read = read_pieces(files)[0]
        pieces = excerpts_from_events(read, args.seconds)
        rows += pedal_rows(f"{folder} ({pieces.num_excerpts})", pieces, *counts, real)[0]
        for join, shortest, quiet in args.soft:
            held = excerpts_from_events([soft_held(events, join, shortest, quiet=quiet) for events in read],
                                        args.seconds)
            said = f"{folder.name}, soft held {join:g} / {shortest:g} s" + (", quiet" if quiet else "")
            rows += [row for row in pedal_rows(said, held, *counts, real)[0] if row[1] == "soft"]
    lines = table(["excerpts", "pedal", "events/s", "share down", "runs/s", "run s: quartiles",
                   f"runs < {args.short_s:g} s", f"lifts < {args.short_lift_s:g} s", "never pressed",
                   "quieter under: velocity / share (excerpts)", "KS runs"], rows)
    lines.append(f"{args.seconds:g} s excerpts; runs joined across gaps of at most {args.join_s:g} s")
    print("\n".join(lines))
    write_markdown(args.markdown, "# How the pedals are used: events and runs", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
