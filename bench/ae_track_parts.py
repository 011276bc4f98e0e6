"""Where an autoencoder loses the pedals over a track: `tsm evaluate-ae`'s timing figures (damper-down and soft-down
share of time per 16 s excerpt, damper presses) over the excerpts of each track's first --at-s seconds, over those
after, and over whole tracks, at the autoencoder's own decode and with the pedals' durations capped apart from the
notes' (`--pedal-z-caps`: mu + z·sigma of the pedals' duration fit; 'same' is the checkpoint's own cap, 'none' the
fit's longest pedal). The network encodes and decodes each track once; each pedal cap only redoes vector → event
decoding.

Asked by the sixty-third session (docs/latent-space.md): over whole test tracks the damper share and presses miss
their targets, met over each track's first 120 s; is the rest of a track harder, or is the pedal cap too short?

    python bench/ae_track_parts.py --corpus CORPUS --ae src/timestepmusic/models/ae-latent75 --split validation \
        --markdown bench/results/ae_track_parts_64_validation.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from common import add_corpus_arguments, load_autoencoder, scratch_corpus, table, write_markdown  # noqa: E402
from decode_settings import encode_tracks, z_cap  # noqa: E402


def pedal_capped(ae, fit, pedal_z: float | None | str) -> None:
    """`ae` decoding vectors → events with its duration fit `fit`, the pedals' durations capped at `pedal_z` ('same':
    as the notes')."""
    class PedalCapped(type(fit)):
        def from_unit(self, u, is_note, z_max=None):
            notes = super().from_unit(u, is_note, z_max)  # [..] the notes' cap for every event
            return notes if pedal_z == "same" else torch.where(is_note, notes, super().from_unit(u, is_note, pedal_z))

    ae.encoding.duration_fit = PedalCapped(**fit.to_dict())


def track_part(events, start_s: float, end_s: float):
    """The events of one track that start in [start_s, end_s), on a time line from start_s, as long as that span."""
    from timestepmusic.midi import Events

    keep = (events.start_s >= start_s) & (events.start_s < end_s)  # [E]
    part = events.take(keep.nonzero()[0])
    return Events(part.ids, part.start_s - start_s, part.duration_s, part.intensity, end_s - start_s)


def figures(references, decoded, at_s: float) -> dict[str, dict]:
    """timing_figures over the excerpts before `at_s`, after it, and of whole tracks (a part shorter than an excerpt
    left out)."""
    from timestepmusic.evaluate.excerpts import EXCERPT_SECONDS
    from timestepmusic.evaluate.latent_space import timing_figures

    out = {}
    for name, start, stop in ((f"first {at_s:g} s", 0.0, at_s), (f"after {at_s:g} s", at_s, float("inf")),
                              ("whole tracks", 0.0, float("inf"))):
        parts = [(track_part(r, start, min(stop, r.end_s)), track_part(d, start, min(stop, r.end_s)))
                 for r, d in zip(references, decoded) if min(stop, r.end_s) - start >= EXCERPT_SECONDS]
        out[name] = timing_figures([r for r, _ in parts], [d for _, d in parts])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser)
    parser.add_argument("--ae", type=Path, help="autoencoder run or checkpoint (default: a tiny one trained here)")
    parser.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    parser.add_argument("--max-tracks", type=int, help="only the first N tracks of the split")
    parser.add_argument("--at-s", type=float, default=120.0, help="where each track is parted (default 120 s)")
    parser.add_argument("--pedal-z-caps", default="same,4.0,none", help="pedal duration caps z, comma-separated")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    caps = [c.strip() if c.strip() == "same" else z_cap(c) for c in args.pedal_z_caps.split(",")]

    torch.set_num_threads(1)
    with scratch_corpus(args, "tsm-bench-parts-") as (tmp, corpus):
        if corpus is None:
            return
        ae = load_autoencoder(args, corpus, tmp)
        references, raw = encode_tracks(ae, corpus, args.split, None, args.max_tracks)
        rows, fit, note_z = [], ae.encoding.duration_fit, ae.encoding.decode_z_max
        for pedal_z in caps:
            pedal_capped(ae, fit, pedal_z)
            decoded = [ae.sets_to_events(ae.sets_of(elements, size_logits)) for elements, size_logits in raw]
            for part, t in figures(references, decoded, args.at_s).items():
                damper, soft, presses = t["damper_share"], t["soft_share"], t["damper_presses_per_s"]
                rows.append([f"{pedal_z:g}" if isinstance(pedal_z, float) else str(pedal_z).lower(), part, str(t["excerpts"]),
                             f"{damper['original']:.3f} → {damper['decoded']:.3f}", f"{damper['mean_abs_difference']:.3f}",
                             f"{soft['original']:.3f} → {soft['decoded']:.3f}", f"{soft['mean_abs_difference']:.3f}",
                             f"{presses['relative_difference']:+.1%}"])
    lines = [f"{args.ae or 'a tiny autoencoder'} on the {args.split} split ({len(raw)} tracks), notes capped at z "
             f"{note_z if note_z is not None else 'none'}; per 16 s excerpt: the damper-down and soft-down share of time, "
             "original → decoded, and the mean |Δ|; damper presses decoded against the original", "",
             *table(["pedal z cap", "part", "excerpts", "damper share", "damper ±", "soft share", "soft ±",
                     "presses Δ"], rows)]
    print("\n".join(lines))
    write_markdown(args.markdown, "# Where an autoencoder loses the pedals over a track", lines)


if __name__ == "__main__":
    main()
