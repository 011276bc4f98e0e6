"""Notes cut short by their key's next note: how many of a model's drawn notes start while their key's note before is
still sounding (writing the file ends that note at the new one), what that does to the written durations, and the
same counts on real excerpts (sequence/sounding.py, `ar.restrike_guard`).

  drawn      the durations the model drew (the events before they are written)
  written    each note ended by its key's next onset where that comes first (what MIDI reads back)
  real       --real excerpts of --seconds from --split, evenly spaced; a note "cut" there is one that ends exactly
             (within 2 ms) at its key's next onset

    python bench/restrikes.py --corpus /work/data/asap -n 100 --markdown bench/results/restrikes_default_36.md
    python bench/restrikes.py --corpus CORPUS --set ar.restrike_guard=10
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import (  # noqa: E402
    add_corpus_arguments,
    evenly_spaced_excerpts,
    open_corpus,
    print_skipped,
    table,
    write_markdown,
)

QUANTILES = (0.5, 0.75, 0.9, 0.99)
TOUCH_S = 0.002  # a real note ending this close to its key's next onset counts as ended by it


def next_onset_of_key(ids: np.ndarray, start_s: np.ndarray) -> np.ndarray:
    """Notes' keys and starts [E] → the start of the same key's next note [E] (+inf: none)."""
    following = np.full(ids.size, np.inf)
    for key in np.unique(ids):
        at = np.flatnonzero(ids == key)
        order = at[np.argsort(start_s[at], kind="stable")]
        following[order[:-1]] = start_s[order[1:]]
    return following


def notes(events) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from timestepmusic.midi import NUM_KEYS

    is_note = events.ids < NUM_KEYS
    return events.ids[is_note], events.start_s[is_note], events.duration_s[is_note]


def row(name: str, durations: np.ndarray, cut: np.ndarray) -> list[str]:
    return [name, f"{durations.size:,}", f"{100 * cut.mean():.2f} %", f"{durations.mean():.3f}"] + [
        f"{q:.3f}" for q in np.quantile(durations, QUANTILES)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="an events run or shipped model (default: default)")
    add_corpus_arguments(parser)
    parser.add_argument("--split", default="validation", help="the real excerpts' split (default validation)")
    parser.add_argument("-n", type=int, default=100, help="generated pieces, drawn together")
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", type=int, default=1000, help="real excerpts, evenly spaced (default 1000)")
    parser.add_argument("--set", action="append", default=[], metavar="ar.NAME=VALUE", help="a sampling setting")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic.generation import GANModel, set_sampling
    from timestepmusic.piece_events import sampled_events

    with tempfile.TemporaryDirectory() as tmp:
        corpus = open_corpus(args, Path(tmp))
        if corpus is None:
            print_skipped(args.data)
            return
        real = evenly_spaced_excerpts(corpus, args.split, args.seconds, args.real)
    gan = GANModel.load(args.model)
    set_sampling(gan, args.set)
    drawn_all, written_all, cut_all = [], [], []
    for events in sampled_events(gan.arm, gan.ae, gan.sample_latents(args.n, args.seconds, args.seed)):
        ids, start_s, drawn = notes(events)  # the drawn events, before writing
        written = np.minimum(drawn, next_onset_of_key(ids, start_s) - start_s)
        drawn_all.append(drawn), written_all.append(written), cut_all.append(written < drawn - 1e-9)
    drawn, written, cut = (np.concatenate(x) for x in (drawn_all, written_all, cut_all))
    real_durations, real_cut = [], []
    for events in real:
        ids, start_s, duration_s = notes(events)
        real_durations.append(duration_s)
        real_cut.append(np.abs(start_s + duration_s - next_onset_of_key(ids, start_s)) <= TOUCH_S)
    real_durations, real_cut = np.concatenate(real_durations), np.concatenate(real_cut)

    header = ["notes", "count", "cut by their key's next", "mean (s)"] + [f"{100 * q:g} % (s)" for q in QUANTILES]
    lines = [f"model {args.model}{' with ' + ', '.join(args.set) if args.set else ''}: {args.n} pieces of "
             f"{args.seconds:g} s, seed {args.seed}; real: {len(real)} excerpts of the {args.split} split", ""]
    lines += table(header, [row("drawn", drawn, cut), row("written", written, cut),
                            row(f"real ({args.split})", real_durations, real_cut)])
    lines += ["", f"the cut notes: drawn {drawn[cut].mean():.3f} s on average, written {written[cut].mean():.3f} s"
              if cut.any() else "no note cut"]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Notes cut short by their key's next note", lines)


if __name__ == "__main__":
    main()
