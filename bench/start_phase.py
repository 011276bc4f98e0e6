"""Where in its 0.25 s chunk each drawn note starts, and the lean (`ar.start_phase`) that spreads the starts evenly.

A pianist's onsets know nothing of our chunks: over a corpus, the place of each note's start in the 0.25 s grid is
uniform (ASAP validation: every tenth of the chunk holds 9.8–10.3 % of the notes). A sampler that crowds notes at
the chunk's start plays a pulse at the chunk's rate (240 a minute) under the music. This prints the share of drawn
notes in each tenth of the chunk, for the model as it samples and, with --fit, fits the six knots of
`ar.start_phase` by rounds: each round draws `--pieces` pieces (the same sampling seed each round) and lowers each knot by the
mean log-excess of the bins around it (weighted by the knot's straight-line share of each bin), so that no
place in the chunk is favoured; the last line draws at a held-out seed with the fitted knots.

    python bench/start_phase.py --model default                        # the shares as it samples
    python bench/start_phase.py --model default --fit 5 --markdown bench/results/start_phase.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import table, write_markdown  # noqa: E402

TENTHS = 10
DENSITY_STEP = 2.5  # --hold-density: the stop bias moved by this × ln(notes per second over the target) per round


def note_places(gan, pieces: int, seconds: float, seed: int) -> tuple[np.ndarray, float]:
    """The place in its chunk (0..1) of every note drawn in `pieces` pieces, and their notes per second."""
    from timestepmusic.midi import NUM_KEYS

    drawn = gan.sample(pieces, seconds, seed)
    starts = np.concatenate([p.start_s[p.ids < NUM_KEYS] for p in drawn])
    chunk_s = gan.ae.chunk_seconds
    return np.mod(starts, chunk_s) / chunk_s, len(starts) / pieces / seconds


def excess(places: np.ndarray, cells: int) -> np.ndarray:
    """Each of `cells` equal parts of the chunk: its share of the notes over an even share [cells]."""
    counts, _ = np.histogram(places, bins=cells, range=(0.0, 1.0))
    return counts / max(counts.mean(), 1e-12)


def knot_step(places: np.ndarray, knots_at: tuple[float, ...], cells: int = 50) -> np.ndarray:
    """How much to lower each knot: the mean ln-excess of the cells, each weighted by the knot's straight-line share
    of the cell's middle [K]."""
    middles = (np.arange(cells) + 0.5) / cells  # [C]
    share = np.stack([np.interp(middles, knots_at, np.eye(len(knots_at))[k]) for k in range(len(knots_at))])  # [K, C]
    log_excess = np.log(np.maximum(excess(places, cells), 1e-3))  # [C]
    return (share @ log_excess) / share.sum(axis=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="a shipped model's name or a run folder")
    parser.add_argument("--pieces", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--seed", type=int, default=0,
                        help="the sampling seed of every round (the held-out check: this + 1000)")
    parser.add_argument("--fit", type=int, default=0, metavar="ROUNDS", help="fit ar.start_phase in this many rounds")
    parser.add_argument("--hold-density", action="store_true",
                        help="while fitting, also move ar.stop_bias each round so that the notes per second stay as "
                             "the model samples them unleaned (a later start leaves less of the chunk to fill)")
    parser.add_argument("--set", action="append", default=[], metavar="ar.NAME=VALUE",
                        help="a sampling setting for every draw (as tsm generate --set)")
    parser.add_argument("--markdown", type=Path, help="also write the output here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from timestepmusic.generation import GANModel, set_sampling
    from timestepmusic.sequence.event_sampler import START_PHASE_AT

    gan = GANModel.load(args.model)
    set_sampling(gan, args.set)
    knots = np.array(gan.arm.settings.start_phase, dtype=np.float64)  # [K]: as the model samples
    stop_bias = gan.arm.settings.stop_bias
    rows, lines = [], []

    def measure(label: str, seed: int) -> tuple[np.ndarray, float]:
        places, density = note_places(gan, args.pieces, args.seconds, seed)
        shares = excess(places, TENTHS) / TENTHS
        rows.append([label, f"{seed}", " ".join(f"{100 * s:4.1f}" for s in shares), f"{density:.2f}",
                     "[" + ", ".join(f"{k:.2f}" for k in knots) + "]", f"{stop_bias:.2f}"])
        return places, density

    places, target = measure("as it samples", args.seed)
    for round_ in range(args.fit):
        knots = knots - knot_step(places, START_PHASE_AT)
        set_sampling(gan, [*args.set, "ar.start_phase=[" + ",".join(f"{k:.3f}" for k in knots) + "]",
                           f"ar.stop_bias={stop_bias:.3f}"])
        places, density = measure(f"fit, round {round_ + 1}", args.seed)  # the same draws' noise: density is paired
        if args.hold_density:  # about −0.35 in ln(notes per second) per unit of stop bias (measured)
            stop_bias += DENSITY_STEP * float(np.log(density / target))
    if args.fit:
        set_sampling(gan, [*args.set, "ar.start_phase=[" + ",".join(f"{k:.3f}" for k in knots) + "]",
                           f"ar.stop_bias={stop_bias:.3f}"])
        measure("fitted, held-out seed", args.seed + 1000)
        lines.append("fitted: --set ar.start_phase=[" + ",".join(f"{k:.2f}" for k in knots) + "]"
                     + (f" --set ar.stop_bias={stop_bias:.2f}" if args.hold_density else ""))
    lines = [f"model {args.model}, {args.pieces} pieces of {args.seconds:g} s per row"
             + (f", --set {' '.join(args.set)}" if args.set else ""),
             "share of the notes in each tenth of the chunk (%; even: 10.0), notes per second, the knots drawn with", "",
             *table(["draws", "seed", "tenths of the chunk: first … last", "notes/s", "ar.start_phase", "ar.stop_bias"],
                   rows),
             "", *lines]
    print("\n".join(lines))
    if args.markdown:
        write_markdown(args.markdown, "Where each drawn note starts in its chunk (`ar.start_phase`)", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
