"""Benchmark: what writing MIDI keeps of a model's decoded pieces. A model samples -n pieces; their decoded
events are described as they are (what the model wrote), then written to MIDI and read back, with the
pedal writer of before (baseline: a pedal was lifted at the end of the press just before the next one,
so a short press inside a long one lifted it early) and today's (`midi_write.pedal_messages`: held while any
press lasts, at the latest held press's level). Damper and soft-pedal time must survive the file; note
durations change only where a key is struck again while it sounds (MIDI ends the first note there;
`ae.decode_restrikes` decides that before writing).

    python bench/midi_roundtrip.py --markdown bench/results/midi_roundtrip.md    # the shipped default
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import table, write_markdown  # noqa: E402

SHOWN = ("damper_fraction", "soft_fraction", "half_pedal_share", "note_density", "duration_log_mean",
         "longest_note_s")


def previous_pedal_messages(down: np.ndarray, up: np.ndarray, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The writer before this change: presses in order, each lifted at its own end unless the next press
    starts by then (the baseline row)."""
    order = np.argsort(down, kind="stable")
    down, up, level = down[order], up[order], level[order]
    next_down = np.append(down[1:], np.iinfo(np.int64).max)
    release = next_down > up
    times = np.concatenate([down, up[release]])
    values = np.concatenate([level, np.zeros(int(release.sum()), np.int64)])
    rank = np.concatenate([np.arange(down.size) * 2.0, np.arange(down.size)[release] * 2.0 + 1])
    order = np.lexsort((rank, times))
    return times[order], values[order]


def round_trip(pieces, folder: Path, pedal_bins: int) -> list:
    from timestepmusic.midi import read_events
    from timestepmusic.midi_write import write_events

    return [read_events(write_events(events, folder / f"{i:03d}.mid"), pedal_bins=pedal_bins)[0]
            for i, events in enumerate(pieces)]


def means(pieces) -> dict[str, float]:
    from timestepmusic.evaluate.descriptors import describe
    from timestepmusic.evaluate.excerpts import excerpts_from_events

    described = describe(excerpts_from_events(pieces, 16.0))
    return {name: float(np.nanmean(described[name])) for name in SHOWN}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="a run, checkpoint or shipped model (default: default)")
    parser.add_argument("-n", type=int, default=100, help="pieces of 16 s (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    from timestepmusic import midi_write
    from timestepmusic.generation import GANModel
    from timestepmusic.piece_events import decode_piece

    model = GANModel.load(args.model)
    pieces = [decode_piece(model.ae, latent)
              for latent in model.sample_latents(args.n, 16.0, args.seed, snap_to_real=False)]
    bins = model.ae.config.events.pedal_bins
    tmp = Path(tempfile.mkdtemp(prefix="tsm-bench-roundtrip-"))
    try:
        rows = {"decoded events (what the model wrote)": means(pieces)}
        today = midi_write.pedal_messages
        midi_write.pedal_messages = previous_pedal_messages
        try:
            rows["baseline: written and read back, previous pedal writer"] = means(round_trip(pieces, tmp, bins))
        finally:
            midi_write.pedal_messages = today
        rows["written and read back, today's writer"] = means(round_trip(pieces, tmp, bins))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [f"model: {args.model}, {args.n} pieces of 16 s (seed {args.seed}), restrikes read as "
             f"'{model.ae.restrikes}'; descriptor means over the 16 s excerpts", "",
             *table(["row", *SHOWN], [[name, *(f"{r[k]:.3f}" for k in SHOWN)] for name, r in rows.items()])]
    print("\n".join(lines))
    write_markdown(args.markdown, "# What writing MIDI keeps of a model's decoded pieces", lines)


if __name__ == "__main__":
    main()
