"""The sweep behind the two decode-time constants of autoencoder.py (docs/latent-space.md, "Decoding"):

  DURATION_Z_MAX  CDF durations decode no longer than mu + z·sigma (set on `encoding.decode_z_max`)
  PEDAL_JOIN_S    decoded gaps this short inside a pedal run are closed (`Autoencoder.pedal_join_s`)

Every track of a split (its first --seconds-per-track) is encoded once and decoded once by the network;
each setting of the grid (z caps × join gaps) only redoes vector → event decoding. Per setting, against
the capped chunks the autoencoder was given, the figures of `tsm evaluate-ae` (evaluate/latent_space.py):
note F1 (onsets ±50 ms) and with offsets, the timing figures per 16 s excerpt (mean |Δ| of damper-down
and soft-down share of time, damper presses and the longest note relative to the original), and the
ceiling classifier's accuracy (decoded real sequences against the originals; 0.5 = cannot tell).
The baseline is the row with no cap and no joining; the row of the settings the checkpoint decodes with
(ae.decode_z_max, ae.decode_pedal_join_s) is marked.

    python bench/decode_settings.py --corpus CORPUS --split validation --seconds-per-track 60 \
        --markdown bench/results/decode_settings.md
    python bench/decode_settings.py    # prepares ../shared/data/asap into a temporary folder first

The tables of docs/latent-space.md were measured on the ohe-cdf-32 arm (before n05), first 32 s of each
validation track: `--ae RUNS/ae/ohe-cdf-32-s0/best --seconds-per-track 32 --z-caps none,4.5,4,3.5,3.25,3
--joins 0,0.05,0.1` gives them (the cap table is the 0.05 s column, the join table the z = 3.5 rows).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
DEFAULT_AE = BENCH.parent.parent / "runs" / "ae" / "ohe-cdf-32-n05-s0" / "best"
sys.path.insert(0, str(BENCH))
from common import add_corpus_arguments, load_autoencoder, scratch_corpus, table, write_markdown  # noqa: E402


def z_cap(text: str) -> float | None:
    return None if text.strip().lower() == "none" else float(text)


def encode_tracks(ae, corpus, split: str, seconds_per_track: float | None, max_tracks: int | None):
    """Each track of the split (its first `seconds_per_track`) gathered and encoded once → the capped
    events the autoencoder is given, and the decoder's raw output (elements [T, N, D], size logits [T, N + 1])."""
    from timestepmusic.autoencoder import sets_to_events
    from timestepmusic.batches import ChunkGatherer

    gatherer = ChunkGatherer(corpus, max_events=ae.max_events, device=ae.device)
    tracks = corpus.tracks_in(split)[:max_tracks]
    if tracks.size == 0:
        raise ValueError(f"corpus {corpus.root}: no tracks in the {split} split")
    limit = None if seconds_per_track is None else int(seconds_per_track / corpus.chunk_seconds)
    references, raw = [], []
    with torch.no_grad():
        for track in tracks.tolist():
            total = int(gatherer.track_chunks[track])
            chunk = torch.arange(total if limit is None else min(total, limit), device=gatherer.device)  # [T]
            sets = gatherer.gather(torch.full_like(chunk, track), chunk)
            references.append(sets_to_events(sets, ae.chunk_seconds))
            raw.append(ae.model.decode(ae.encode(sets)))  # ([T, N, D], [T, N + 1])
    return references, raw


def figures(ae, references, raw, pedal_bins: int) -> dict:
    """The decoded tracks at the autoencoder's current decode settings against `references`."""
    from timestepmusic.evaluate.fidelity import Fidelity
    from timestepmusic.evaluate.latent_space import ceiling_figures, timing_figures

    decoded = [ae.sets_to_events(ae.sets_of(elements, size_logits)) for elements, size_logits in raw]
    fidelity = Fidelity()
    for reference, estimate in zip(references, decoded):
        fidelity.add(reference, estimate, pedal_bins)
    summary = fidelity.summary()
    return {"note_f1": summary["notes"]["f1"], "note_f1_offsets": summary["notes_with_offsets"]["f1"],
            "timing": timing_figures(references, decoded),
            "ceiling": ceiling_figures(references, decoded)["accuracy"]}


def sweep(ae, references, raw, pedal_bins: int, caps: list[float | None], joins: list[float]) -> dict:
    """{(z cap, join gap s): figures}, the baseline (None, 0.0) first."""
    settings = [(None, 0.0)] + [(z, j) for z in caps for j in joins if (z, j) != (None, 0.0)]
    out = {}
    for z, join in settings:
        t0 = time.perf_counter()
        ae.encoding.decode_z_max, ae.pedal_join_s = z, join
        out[(z, join)] = figures(ae, references, raw, pedal_bins)
        print(f"z {z}, join {join:g} s: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return out


def report(results: dict, shipped: tuple[float, float], header: str) -> list[str]:
    def cap(z):
        return "none" if z is None else f"{z:g}"

    rows = []
    for (z, join), f in results.items():
        t = f["timing"]
        mark = "baseline" if (z, join) == (None, 0.0) else "its own" if (z, join) == shipped else ""
        rows.append([cap(z), f"{join:g}", f"{f['note_f1']:.3f}", f"{f['note_f1_offsets']:.3f}",
                     f"{t['damper_share']['mean_abs_difference']:.3f}", f"{t['soft_share']['mean_abs_difference']:.3f}",
                     f"{t['damper_presses_per_s']['decoded']:.3f}", f"{t['damper_presses_per_s']['relative_difference']:+.0%}",
                     f"{t['longest_note_s']['decoded']:.2f}", f"{t['longest_note_s']['relative_difference']:+.0%}",
                     f"{f['ceiling']:.3f}", mark])
    base = results[(None, 0.0)]["timing"]
    lines = [header, "",
             f"originals: {base['damper_presses_per_s']['original']:.3f} damper presses per s, longest note "
             f"{base['longest_note_s']['original']:.2f} s per excerpt (mean); {base['excerpts']} excerpts of 16 s", "",
             *table(["z cap", "join s", "note F1", "F1 +off", "damper ±", "soft ±", "presses/s", "presses Δ",
                     "longest s", "longest Δ", "ceiling", ""], rows)]
    if shipped in results:
        ours = results[shipped]
        lines += ["", f"its own (z {cap(shipped[0])}, join {shipped[1]:g} s) beside the baseline (none, 0): damper presses "
                      f"{base['damper_presses_per_s']['relative_difference']:+.0%} → "
                      f"{ours['timing']['damper_presses_per_s']['relative_difference']:+.0%}, longest note "
                      f"{base['longest_note_s']['relative_difference']:+.0%} → "
                      f"{ours['timing']['longest_note_s']['relative_difference']:+.0%}, ceiling accuracy "
                      f"{results[(None, 0.0)]['ceiling']:.3f} → {ours['ceiling']:.3f}"]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(parser)
    parser.add_argument("--ae", type=Path, default=DEFAULT_AE if DEFAULT_AE.parent.is_dir() else None,
                        help=f"autoencoder run or checkpoint (default {DEFAULT_AE} where it exists, "
                             "else a tiny one trained here)")
    parser.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    parser.add_argument("--seconds-per-track", type=float, default=60.0,
                        help="decode only the first this many seconds of each track (default 60; 0: whole tracks)")
    parser.add_argument("--max-tracks", type=int, help="only the first N tracks of the split")
    parser.add_argument("--z-caps", default="none,2.5,3.0,3.25,3.5,4.0", help="duration caps z, comma-separated")
    parser.add_argument("--joins", default="0,0.05,0.1,0.2", help="pedal join gaps in seconds, comma-separated")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    caps = [z_cap(s) for s in args.z_caps.split(",")]
    joins = [float(s) for s in args.joins.split(",")]

    torch.set_num_threads(1)
    with scratch_corpus(args, "tsm-bench-decode-") as (tmp, corpus):
        if corpus is None:
            return
        ae = load_autoencoder(args, corpus, tmp)
        own = (ae.encoding.decode_z_max, ae.pedal_join_s)  # what its checkpoint decodes with (ae.decode_*)
        t0 = time.perf_counter()
        references, raw = encode_tracks(ae, corpus, args.split, args.seconds_per_track or None, args.max_tracks)
        print(f"encoded and decoded {len(raw)} tracks in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        results = sweep(ae, references, raw, corpus.config.events.pedal_bins, caps, joins)

    chunks = sum(int(elements.shape[0]) for elements, _ in raw)
    span = "whole tracks" if not args.seconds_per_track else f"first {args.seconds_per_track:g} s of each track"
    header = (f"decode settings: {args.ae or 'a tiny autoencoder'} on the {args.split} split, {span} "
              f"({len(raw)} tracks, {chunks:,} chunks); its own settings (marked 'its own'): "
              f"ae.decode_z_max {own[0] or 0:g}, ae.decode_pedal_join_s {own[1]:g} s\n"
              "columns: note F1 (onsets) and with offsets; per 16 s excerpt, mean |Δ| of the damper-down and soft-down "
              "share of time;\ndamper presses per s decoded and relative to the original; mean longest note (s) decoded "
              "and relative; ceiling classifier accuracy (0.5 = cannot tell)")
    lines = report(results, own, header)
    print("\n".join(lines))
    write_markdown(args.markdown, "# Decode settings: duration cap × pedal join gap", lines)


if __name__ == "__main__":
    main()
