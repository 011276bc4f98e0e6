"""Where in its 0.25 s chunk each drawn note starts.

A pianist's onsets know nothing of our chunks: over a corpus, the place of each note's start in the 0.25 s grid is
even (ASAP validation: every tenth of the chunk holds 9.8–10.3 % of the notes). A sampler that crowds notes at
the chunk's start plays a pulse at the chunk's rate (240 a minute) under the music: the shipped default does (17.5 %
of its notes in the first tenth, 6.0 % in the last; its start temperature and stop biases make it, at the network's
own odds they are even). This prints the share of drawn notes in each tenth of the chunk, and the notes per second,
for a model as it samples and under each `--set` asked (one row per --set group, `;`-separated settings).

    python bench/start_phase.py --model default
    python bench/start_phase.py --model default --settings "ar.start_temperature=1;ar.stop_bias=0;ar.empty_bias=0"
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

TENTHS = 10


def note_places(gan, pieces: int, seconds: float, seed: int) -> tuple[np.ndarray, float]:
    """The place in its chunk (0..1) of every note drawn in `pieces` pieces, and their notes per second."""
    from timestepmusic.midi import NUM_KEYS

    drawn = gan.sample(pieces, seconds, seed)
    starts = np.concatenate([p.start_s[p.ids < NUM_KEYS] for p in drawn])
    chunk_s = gan.ae.chunk_seconds
    return np.mod(starts, chunk_s) / chunk_s, len(starts) / pieces / seconds


def tenths(places: np.ndarray) -> np.ndarray:
    """The share of the notes in each tenth of the chunk [10]."""
    counts, _ = np.histogram(places, bins=TENTHS, range=(0.0, 1.0))
    return counts / max(counts.sum(), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="a shipped model's name or a run folder")
    parser.add_argument("--pieces", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--seed", type=int, default=0)
    add_settings_argument(parser)
    parser.add_argument("--markdown", type=Path, help="also write the output here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from timestepmusic.generation import GANModel

    gan = GANModel.load(args.model)
    groups, own = settings_groups(gan, args.settings)
    rows = []
    for assignments in groups:
        use_settings(gan, assignments, own)
        places, density = note_places(gan, args.pieces, args.seconds, args.seed)
        rows.append([" ".join(assignments) or "as it samples", " ".join(f"{100 * s:4.1f}" for s in tenths(places)),
                     f"{density:.2f}"])
    lines = [f"model {args.model}, {args.pieces} pieces of {args.seconds:g} s per row, sampling seed {args.seed}",
             "share of the notes in each tenth of the chunk (%; even: 10.0), and notes per second", "",
             *table(["settings", "tenths of the chunk: first … last", "notes/s"], rows)]
    print("\n".join(lines))
    if args.markdown:
        write_markdown(args.markdown, "Where each drawn note starts in its chunk", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
