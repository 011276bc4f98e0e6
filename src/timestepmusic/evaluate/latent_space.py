"""`tsm evaluate-ae`: an autoencoder on a corpus split — fidelity (evaluate/fidelity.py), and what a
generator can get out of its latent space, beyond onset F1:

- timing: the pedals and long notes of decoded real latent sequences against the original, per 16 s
  excerpt (damper-down and soft-down share of time, damper presses per second, the longest note);
- ceiling: the same decoded sequences as excerpts against the real ones, by the classifier of
  `tsm evaluate` (no generator over these latents can be told apart less often);
- smoothness: real latents plus Gaussian noise of 0.1, 0.3 and 1.0 × the per-dimension spread, and
  midpoints between neighbouring chunks' latents, decoded: note F1 against the clean decode, the
  share of notes held longer than 4 s, the share of decoded elements whose raw output lies outside its
  range (a key or value the decoder could only reach by clipping).

Letters: T chunks of a track, L latent size, X excerpts.
"""
from __future__ import annotations

import numpy as np
import torch

from ..autoencoder import Autoencoder
from ..batches import ChunkGatherer
from ..corpus import Corpus
from ..midi import DAMPER_ID, Events
from . import MIN_EXCERPTS
from .classifier_tests import classifier_test
from .compare import descriptor_features
from .descriptors import describe
from .excerpts import EXCERPT_SECONDS, excerpts_of_length
from .fidelity import Fidelity, figure, format_fidelity, reconstruct_track

NOISE_LEVELS = (0.1, 0.3, 1.0)
HELD_S = 4.0


SMOOTHNESS_SECONDS = 60.0  # of each track, for the noise and midpoint decodes


def evaluate_autoencoder(ae: Autoencoder, corpus: Corpus, split: str = "test", *, max_tracks: int | None = None,
                         max_seconds_per_track: float | None = None, seed: int = 0) -> dict:
    """Fidelity, timing, ceiling and smoothness of `ae` over a split of `corpus`, against the capped chunks
    it is given. Reproducible per seed."""
    gatherer = ChunkGatherer(corpus, device=ae.device)
    fidelity = Fidelity()
    tracks = corpus.tracks_in(split)[:max_tracks]
    if tracks.size == 0:
        raise ValueError(corpus.empty_split(split))
    limit = None if max_seconds_per_track is None else int(max_seconds_per_track / corpus.chunk_seconds)
    references, decoded, latents = [], [], []
    for track in tracks:
        reference, estimate, right = reconstruct_track(ae, gatherer, int(track), 0, limit)
        fidelity.add(reference, estimate, corpus.config.events.pedal_bins)
        fidelity.size_correct += right
        fidelity.chunks += int(gatherer.track_chunks[track]) if limit is None else min(limit, int(gatherer.track_chunks[track]))
        references.append(reference)
        decoded.append(estimate)
        latents.append(track_latents(ae, gatherer, int(track), int(SMOOTHNESS_SECONDS / corpus.chunk_seconds)))
    return fidelity.summary() | {
        "split": split, "tracks": int(tracks.size), "timing": timing_figures(references, decoded),
        "ceiling": ceiling_figures(references, decoded, seed=seed), "smoothness": smoothness_figures(ae, latents, seed)}


FEWEST_TOLD = 10  # excerpts a side below which the ceiling's accuracy is not printed at all (a coin's toss)


def format_evaluation(summary: dict) -> str:
    """The figures of `evaluate_autoencoder` as text tables."""
    timing, ceiling = summary["timing"], summary["ceiling"]
    lines = [format_fidelity(summary), "",
             f"per 16 s excerpt, original → decoded ({timing['excerpts']} excerpts)"]
    for name, label, diff, unit in (("damper_share", "damper down, share of time", "mean_abs_difference", "abs"),
                                    ("soft_share", "soft down, share of time", "mean_abs_difference", "abs"),
                                    ("damper_presses_per_s", "damper presses per second", "relative_difference", "rel"),
                                    ("longest_note_s", "longest note (s)", "relative_difference", "rel")):
        row = timing[name]
        change = "—" if not np.isfinite(row[diff]) else f"{row[diff]:+.1%}" if unit == "rel" else f"±{row[diff]:.3f}"
        lines.append(f"  {label:<32}{figure(row['original']):>8} → {figure(row['decoded']):<8} {change}")
    n = ceiling["n_per_class"]
    lines += ["", "ceiling: classifier accuracy, decoded real sequences vs the originals: "
              + ("—" if n < FEWEST_TOLD else f"{ceiling['accuracy']:.3f}")  # (4 a side may read 0.000: no number)
              + f" ({n} excerpts each; 0.5 = cannot tell)"
              + (f"; too few excerpts for a verdict (below {MIN_EXCERPTS}: a larger split, or more of its tracks)"
                 if n < MIN_EXCERPTS else ""), "",
              f"smoothness (first {SMOOTHNESS_SECONDS:g} s of each track)",
              f"  {'decode of':<14}{'note F1 vs clean':>18}{'notes > 4 s':>14}{'keys clipped':>14}{'values clipped':>16}"]
    for row, f in summary["smoothness"].items():
        lines.append(f"  {row:<14}{figure(f['note_f1_vs_clean']):>18}{f['held_share']:>14.4f}"
                     f"{f['clipped_keys']:>14.4f}{f['clipped_values']:>16.4f}")
    return "\n".join(lines)


def damper_presses(table) -> np.ndarray:
    """Damper presses per excerpt [X]: damper events that do not continue an earlier one (the pedal was up)."""
    damper = np.flatnonzero(table.ids == DAMPER_ID)
    ex = table.excerpt[damper]
    shift = ex * (2.0 * float(table.length_s.max(initial=0.0)) + 1e3)  # excerpts apart on one time line
    start = table.start_s[damper] + shift  # [K], sorted by excerpt, then start
    end = start + table.duration_s[damper]
    held_until = np.maximum.accumulate(np.r_[-np.inf, end[:-1]])  # [K] latest release of the earlier events
    first = np.r_[True, ex[1:] != ex[:-1]]
    pressed = first | (start > held_until + 1e-6)  # [K] the pedal was up just before
    return np.bincount(ex[pressed], minlength=table.num_excerpts).astype(np.float64)


def timing_figures(reference: list[Events], decoded: list[Events], seconds: float = EXCERPT_SECONDS) -> dict:
    """Per-excerpt pedal and duration figures of decoded tracks against their originals (same cuts)."""
    lengths = np.array([r.end_s for r in reference])  # both cut where the original ends
    ref_table, dec_table = (excerpts_of_length(tracks, lengths, seconds) for tracks in (reference, decoded))
    ref, dec = describe(ref_table), describe(dec_table)
    ref_presses, dec_presses = damper_presses(ref_table), damper_presses(dec_table)
    longest_ref, longest_dec = ref["longest_note_s"], dec["longest_note_s"]  # [X] each; NaN in an excerpt of no note
    both = np.isfinite(longest_ref) & np.isfinite(longest_dec)  # compared where both hold a note
    if both.any():
        ref_over = dec_over = both
    else:  # (a decode of no note at all: the original's longest still said, the decoded's none)
        ref_over, dec_over = np.isfinite(longest_ref), np.isfinite(longest_dec)
    return {
        "excerpts": int(ref_table.num_excerpts),
        "damper_share": {"original": float(ref["damper_fraction"].mean()), "decoded": float(dec["damper_fraction"].mean()),
                         "mean_abs_difference": float(np.abs(ref["damper_fraction"] - dec["damper_fraction"]).mean())},
        "soft_share": {"original": float(ref["soft_fraction"].mean()), "decoded": float(dec["soft_fraction"].mean()),
                       "mean_abs_difference": float(np.abs(ref["soft_fraction"] - dec["soft_fraction"]).mean())},
        "damper_presses_per_s": {"original": float(ref_presses.sum() / ref_table.length_s.sum()),
                                 "decoded": float(dec_presses.sum() / dec_table.length_s.sum()),
                                 "relative_difference": float(dec_presses.sum() / ref_presses.sum() - 1)
                                 if ref_presses.sum() > 0 else float("nan")},  # none to compare with
        "longest_note_s": {"original": _mean(longest_ref[ref_over]), "decoded": _mean(longest_dec[dec_over]),
                           "relative_difference": _mean(longest_dec[both]) / max(_mean(longest_ref[both]), 1e-9) - 1
                           if both.any() else float("nan")},
    }


def ceiling_figures(reference: list[Events], decoded: list[Events], seconds: float = EXCERPT_SECONDS,
                    seed: int = 0) -> dict:
    """The classifier of `tsm evaluate` on decoded real sequences against the originals, as excerpts."""
    lengths = np.array([r.end_s for r in reference])
    real, rebuilt = (describe(excerpts_of_length(tracks, lengths, seconds)) for tracks in (reference, decoded))
    return classifier_test(descriptor_features(real), descriptor_features(rebuilt), seed=seed)


@torch.no_grad()
def _decode_track(ae: Autoencoder, latent: torch.Tensor) -> tuple[Events, dict[str, float]]:
    """Latents [T, L] → events, and the shares of decoded elements whose raw keys / values lie outside
    their range."""
    elements, size_logits = ae.model.decode(latent.to(ae.device).float())
    sizes = size_logits.argmax(-1)  # [T]
    mask = torch.arange(elements.shape[1], device=elements.device) < sizes[:, None]  # [T, N]
    outside = {what: flags[mask] for what, flags in ae.encoding.out_of_range(elements).items()}  # [K] each
    shares = {what: float(flags.float().mean()) if flags.numel() else 0.0 for what, flags in outside.items()}
    return ae.sets_to_events(ae.sets_of(elements, size_logits)), shares


def held_share(events: Events) -> float:
    notes = events.is_note
    return float((events.duration_s[notes] > HELD_S).mean()) if notes.any() else 0.0


def smoothness_figures(ae: Autoencoder, latents: list[torch.Tensor], seed: int = 0) -> dict:
    """Decode real latent sequences [T, L] clean, with noise at NOISE_LEVELS × the per-dimension spread,
    and at midpoints of neighbouring chunks. Reproducible per seed."""
    spread = torch.cat(latents).std(0)  # [L]
    generator = torch.Generator().manual_seed(seed)
    clean = [_decode_track(ae, z) for z in latents]
    played = any(e.is_note.any() for e, _ in clean)  # (a clean decode of no note: nothing to compare with)
    rows = {"clean": {"note_f1_vs_clean": 1.0 if played else None, "held_share": _mean([held_share(e) for e, _ in clean]),
                      **_clipped([c for _, c in clean])}}
    for level in NOISE_LEVELS:
        fidelity, held, clipped = Fidelity(), [], []
        for z, (clean_events, _) in zip(latents, clean):
            noise = torch.randn(z.shape, generator=generator)  # [T, L]
            events, clip = _decode_track(ae, z + level * spread * noise)
            fidelity.add(clean_events, events, ae.config.events.pedal_bins)
            held.append(held_share(events))
            clipped.append(clip)
        rows[f"noise {level:g}"] = {"note_f1_vs_clean": fidelity.summary()["notes"]["f1"], "held_share": _mean(held),
                                    **_clipped(clipped)}
    midpoints = [_decode_track(ae, (z[1:] + z[:-1]) / 2) for z in latents if z.shape[0] > 1]  # [T - 1, L] each
    rows["midpoints"] = {"note_f1_vs_clean": None,  # no clean decode to compare with
                         "held_share": _mean([held_share(e) for e, _ in midpoints]),
                         **_clipped([c for _, c in midpoints])}
    return rows


def _clipped(shares: list[dict[str, float]]) -> dict[str, float]:
    return {"clipped_keys": _mean([s["keys"] for s in shares]), "clipped_values": _mean([s["values"] for s in shares])}


def _mean(values) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def track_latents(ae: Autoencoder, gatherer: ChunkGatherer, track: int, num_chunks: int | None = None,
                  batch: int = 4096) -> torch.Tensor:
    """The latents [T, L] of one corpus track's chunks (its first `num_chunks`)."""
    total = int(gatherer.track_chunks[track])
    total = total if num_chunks is None else min(total, num_chunks)
    parts = []
    for lo in range(0, total, batch):
        chunk = torch.arange(lo, min(lo + batch, total), device=gatherer.device)
        parts.append(ae.encode(gatherer.gather(torch.full_like(chunk, track), chunk)))
    return torch.cat(parts)
