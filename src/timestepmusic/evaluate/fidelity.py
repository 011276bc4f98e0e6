"""How much of a performance the autoencoder keeps: note and pedal matching with mir_eval.

Notes: precision/recall/F1 with onsets within 50 ms and exact pitch, the same also requiring
offsets (mir_eval's default: within 20 % of the note or 50 ms), velocity mean absolute error over
matched notes. Pedals: per pedal, events match when their depth bin is equal and their starts are
within 50 ms. Set size: share of chunks whose predicted size equals the true size.
Figures over many tracks are micro-averaged (matches, references and estimates summed). A figure with nothing to
match (no note or pedal event on either side, no note matched for the velocity error) is None, shown as "—".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import mir_eval
import numpy as np
import torch

from ..autoencoder import Autoencoder, sets_to_events
from ..batches import ChunkGatherer
from ..midi import DAMPER_ID, LOWEST_PITCH, SOFT_ID, SOSTENUTO_ID, Events
from ..pedal_cc import pedal_bin

ONSET_TOLERANCE_S = 0.05
PEDALS = {"damper": DAMPER_ID, "sostenuto": SOSTENUTO_ID, "soft": SOFT_ID}


def _intervals(events: Events, keep: np.ndarray) -> np.ndarray:
    start = events.start_s[keep]
    return np.stack([start, start + np.maximum(events.duration_s[keep], 1e-3)], axis=1)  # [K, 2]


def _match(ref_iv, ref_pitch_hz, est_iv, est_pitch_hz, offsets: bool) -> list[tuple[int, int]]:
    if len(ref_iv) == 0 or len(est_iv) == 0:
        return []
    return mir_eval.transcription.match_notes(ref_iv, ref_pitch_hz, est_iv, est_pitch_hz,
                                              onset_tolerance=ONSET_TOLERANCE_S,
                                              offset_ratio=0.2 if offsets else None)


@dataclass
class Counts:
    """Matched / reference / estimated counts that sum across tracks."""

    matched: int = 0
    reference: int = 0
    estimated: int = 0

    def add(self, matched: int, reference: int, estimated: int) -> None:
        self.matched += matched
        self.reference += reference
        self.estimated += estimated

    def prf(self) -> dict[str, float | None]:
        """Precision, recall and F1; None each where neither side holds anything (nothing to match: no figure)."""
        if not self.reference and not self.estimated:
            return {"precision": None, "recall": None, "f1": None}
        p = self.matched / self.estimated if self.estimated else 0.0  # (one side empty, the other not: nothing found)
        r = self.matched / self.reference if self.reference else 0.0
        return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


@dataclass
class Fidelity:
    notes: Counts = field(default_factory=Counts)
    notes_with_offsets: Counts = field(default_factory=Counts)
    pedals: dict[str, Counts] = field(default_factory=lambda: {name: Counts() for name in PEDALS})
    velocity_error_sum: float = 0.0
    size_correct: int = 0
    chunks: int = 0

    def add(self, reference: Events, estimate: Events, pedal_bins: int) -> None:
        ref_note, est_note = reference.is_note, estimate.is_note
        ref_iv, est_iv = _intervals(reference, ref_note), _intervals(estimate, est_note)
        ref_hz = mir_eval.util.midi_to_hz(reference.ids[ref_note].astype(float) + LOWEST_PITCH)
        est_hz = mir_eval.util.midi_to_hz(estimate.ids[est_note].astype(float) + LOWEST_PITCH)
        pairs = _match(ref_iv, ref_hz, est_iv, est_hz, offsets=False)
        self.notes.add(len(pairs), len(ref_iv), len(est_iv))
        self.notes_with_offsets.add(len(_match(ref_iv, ref_hz, est_iv, est_hz, offsets=True)), len(ref_iv), len(est_iv))
        if pairs:
            r, e = np.array(pairs).T
            ref_vel = reference.intensity[ref_note][r].astype(float)
            est_vel = estimate.intensity[est_note][e].astype(float)
            self.velocity_error_sum += float(np.abs(ref_vel - est_vel).sum())
        for name, pedal_id in PEDALS.items():
            ref_p, est_p = reference.ids == pedal_id, estimate.ids == pedal_id
            # depth bins as pseudo-pitches an octave apart, so that only equal bins can match
            ref_bin_hz = 2.0 ** pedal_bin(reference.intensity[ref_p], pedal_bins).astype(float)
            est_bin_hz = 2.0 ** pedal_bin(estimate.intensity[est_p], pedal_bins).astype(float)
            matched = _match(_intervals(reference, ref_p), ref_bin_hz, _intervals(estimate, est_p), est_bin_hz, False)
            self.pedals[name].add(len(matched), int(ref_p.sum()), int(est_p.sum()))

    def summary(self) -> dict:
        notes = self.notes.prf()
        return {
            "notes": notes | {"reference": self.notes.reference, "estimated": self.notes.estimated},
            "notes_with_offsets": self.notes_with_offsets.prf(),
            "velocity_mae": self.velocity_error_sum / self.notes.matched if self.notes.matched else None,  # (none
            # matched: no error to average)
            "pedals": {name: c.prf() | {"reference": c.reference, "estimated": c.estimated}
                       for name, c in self.pedals.items()},
            "pedal_f1_all": Counts(sum(c.matched for c in self.pedals.values()),
                                   sum(c.reference for c in self.pedals.values()),
                                   sum(c.estimated for c in self.pedals.values())).prf()["f1"],
            "set_size_accuracy": self.size_correct / self.chunks if self.chunks else None,
            "chunks": self.chunks,
        }


def reconstruct_track(ae: Autoencoder, gatherer: ChunkGatherer, track: int, first_chunk: int = 0,
                      num_chunks: int | None = None, batch: int = 4096) -> tuple[Events, Events, int]:
    """Chunks of one corpus track through the autoencoder → (capped input events, reconstruction, sizes right)."""
    total = int(gatherer.track_chunks[track])
    num_chunks = total - first_chunk if num_chunks is None else min(num_chunks, total - first_chunk)
    refs, ests, right = [], [], 0
    for lo in range(first_chunk, first_chunk + num_chunks, batch):
        hi = min(lo + batch, first_chunk + num_chunks)
        chunk = torch.arange(lo, hi, device=gatherer.device)
        sets = gatherer.gather(torch.full_like(chunk, track), chunk)
        decoded = ae.decode_sets(ae.encode(sets))
        right += int((decoded.sizes.cpu() == sets.sizes.cpu()).sum())
        refs.append(sets_to_events(sets, ae.chunk_seconds, lo))
        ests.append(ae.sets_to_events(decoded, lo))
    return Events.concatenate(refs), Events.concatenate(ests), right


def figure(value: float | None, spec: str = ".3f") -> str:
    """A figure as the tables show it; "—" where it is undefined (None, or NaN: nothing to match or to measure)."""
    return "—" if value is None or not math.isfinite(value) else format(value, spec)


def format_fidelity(summary: dict) -> str:
    n, o, p = summary["notes"], summary["notes_with_offsets"], summary["pedals"]
    lines = [f"{'figure':<34}{'value':>10}",
             f"{'note precision / recall / F1':<34}{figure(n['precision'])} / {figure(n['recall'])} / {figure(n['f1'])}",
             f"{'note F1 with offsets':<34}{figure(o['f1']):>10}",
             f"{'velocity MAE (matched notes)':<34}{figure(summary['velocity_mae'], '.2f'):>10}"]
    for name, c in p.items():
        lines.append(f"{name + ' pedal F1':<34}{figure(c['f1']):>10}   ({c['reference']} reference, {c['estimated']} "
                     "decoded events)")
    lines.append(f"{'all pedals F1':<34}{figure(summary['pedal_f1_all']):>10}")
    lines.append(f"{'set-size accuracy':<34}{figure(summary['set_size_accuracy']):>10}   ({summary['chunks']} chunks)")
    return "\n".join(lines)
