"""Event → vector, batched on tensors, with exact inverses and a loss per layout.

Shapes: B sets, N events per set, D features. Every layout ends with the same three numbers:
start offset in [-1, 1] over the chunk, duration in [0, 1] (`durations`: "cdf" through a log-normal CDF
fitted on the training split, notes and pedals fitted apart; "log" linear in log seconds from 1 ms to the
longest fitted duration, so that a small error is a small relative error at every length), intensity in
[-1, 1]. In front, the id layout:
  pon     pedal kind (key/damper/sostenuto/soft), octave, pitch class as three scaled numbers
  ponOHE  the same three as one-hots (4 + 9 + 12)
  pnOHE   pedal kind one-hot (4), octave as a scaled number, pitch class one-hot (12)
  OHE     91-way one-hot of the id
  none    the raw id scaled to [-1, 1]
Scaled numbers are trained with MSE, one-hot groups with cross-entropy.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .durations import DurationFit
from .midi import LOWEST_PITCH, NUM_IDS, NUM_KEYS
from .stage_configs import DURATION_SCALES, ENCODINGS

NUM_OCTAVES = 9  # MIDI pitch 21–108 → pitch // 12 in 1..9
SCALED_TOPS = {"kind": 3, "octave": NUM_OCTAVES - 1, "pitch_class": 11, "id": NUM_IDS - 1}  # id parts' largest values
# the last three features of every layout: offset and intensity scaled to [-1, 1], duration to [0, 1]
VALUE_LOWS = (-1.0, 0.0, -1.0)


def _scale(x: torch.Tensor, top: float) -> torch.Tensor:
    return x / top * 2 - 1


def _unscale(x: torch.Tensor, top: float) -> torch.Tensor:
    return torch.round((x.clamp(-1, 1) + 1) / 2 * top).long()


class Encoding:
    """One id layout + the shared time/intensity features. Groups: (name, start, stop, 'mse' | 'ce')."""

    def __init__(self, name: str, chunk_seconds: float, duration_fit: DurationFit, durations: str = "cdf",
                 time_weight: float = 1.0):
        if name not in ENCODINGS:
            raise ValueError(f"unknown encoding {name!r}; choose one of {', '.join(ENCODINGS)}")
        if durations not in DURATION_SCALES:
            raise ValueError(f"unknown duration scale {durations!r}; choose one of {', '.join(DURATION_SCALES)}")
        self.name = name
        self.durations = durations
        self.time_weight = float(time_weight)  # weight of the offset/duration/intensity MSE in the loss
        self.decode_z_max: float | None = None  # cdf durations: decode no longer than mu + z · sigma (None: the fit's max)
        self.chunk_seconds = chunk_seconds
        self.duration_fit = duration_fit
        id_groups = {
            "pon": [("kind", 1, "mse"), ("octave", 1, "mse"), ("pitch_class", 1, "mse")],
            "ponOHE": [("kind", 4, "ce"), ("octave", NUM_OCTAVES, "ce"), ("pitch_class", 12, "ce")],
            "pnOHE": [("kind", 4, "ce"), ("octave", 1, "mse"), ("pitch_class", 12, "ce")],
            "OHE": [("id", NUM_IDS, "ce")],
            "none": [("id", 1, "mse")],
        }[name]
        groups, at = [], 0
        for group, width, kind in id_groups + [("time", 3, "mse")]:
            groups.append((group, at, at + width, kind))
            at += width
        self.groups = groups
        self.dim = at

    # ids → parts: kind 0 = key, 1..3 = pedal; octave 0..8; pitch class 0..11 (0 for pedals)
    @staticmethod
    def _parts(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        is_key = ids < NUM_KEYS
        pitch = ids + LOWEST_PITCH
        kind = torch.where(is_key, 0, ids - NUM_KEYS + 1)
        octave = torch.where(is_key, pitch // 12 - 1, 0)
        pitch_class = torch.where(is_key, pitch % 12, 0)
        return kind, octave, pitch_class

    def encode(self, ids: torch.Tensor, offset_s: torch.Tensor, duration_s: torch.Tensor,
               intensity: torch.Tensor) -> torch.Tensor:
        """[B, N] each → [B, N, D] float32."""
        ids = ids.long().clamp(0, NUM_IDS - 1)
        # the parts only where a group is one (ponOHE, pnOHE, pon); OHE and none read the id alone
        values = {"id": ids} if self.groups[0][0] == "id" else dict(zip(("kind", "octave", "pitch_class"),
                                                                             self._parts(ids)))
        # written into one tensor (one-hot groups by a scatter): no int64 one-hots, no concatenation
        features = torch.zeros(*ids.shape, self.dim, device=ids.device)  # [B, N, D]
        for group, start, _, loss in self.groups:
            if group == "time":
                continue
            if loss == "ce":
                features.scatter_(-1, (values[group] + start).unsqueeze(-1), 1.0)
            else:
                features[..., start] = _scale(values[group].float(), SCALED_TOPS[group])
        is_note = ids < NUM_KEYS
        features[..., -3] = _scale(offset_s.float(), self.chunk_seconds).clamp(-1, 1)
        to_unit = self.duration_fit.to_log_unit if self.durations == "log" else self.duration_fit.to_unit
        features[..., -2] = to_unit(duration_s.double(), is_note).float()
        features[..., -1] = _scale(intensity.float() - 1, 126)
        return features

    def decode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """[B, N, D] → ids long, offset_s float64, duration_s float64, intensity long (all [B, N]), clipped valid."""
        parts = {}
        for group, start, stop, loss in self.groups:
            if group == "time":
                continue
            block = x[..., start:stop]
            parts[group] = block.argmax(-1) if loss == "ce" else _unscale(block.squeeze(-1), SCALED_TOPS[group])
        if "id" in parts:
            ids = parts["id"]
        else:
            pitch = (parts["octave"] + 1) * 12 + parts["pitch_class"]
            key_id = (pitch - LOWEST_PITCH).clamp(0, NUM_KEYS - 1)
            ids = torch.where(parts["kind"] == 0, key_id, NUM_KEYS - 1 + parts["kind"])
        time = x[..., -3:].double()
        offset_s = ((time[..., 0].clamp(-1, 1) + 1) / 2 * self.chunk_seconds)
        offset_s = offset_s.clamp(0, self.chunk_seconds * (1 - 1e-9))
        if self.durations == "log":
            duration_s = self.duration_fit.from_log_unit(time[..., 1], ids < NUM_KEYS)
        else:
            duration_s = self.duration_fit.from_unit(time[..., 1], ids < NUM_KEYS, self.decode_z_max)
        intensity = torch.round((time[..., 2].clamp(-1, 1) + 1) / 2 * 126 + 1).long()
        return ids, offset_s, duration_s, intensity

    def out_of_range(self, x: torch.Tensor, tolerance: float = 0.02) -> dict[str, torch.Tensor]:
        """[B, N, D] raw decoder output → {"keys": [B, N], "values": [B, N]} bool: what decoding must clip.
        keys: a scaled id number beyond its range by more than `tolerance` (of the range [-1, 1] or [0, 1]),
        or a pitch composed from octave and pitch class off the keyboard (one-hot groups never clip);
        values: an offset, duration or intensity beyond its range by more than `tolerance`."""
        keys = torch.zeros(x.shape[:-1], dtype=torch.bool, device=x.device)
        parts = {}
        for group, start, stop, kind in self.groups:
            block = x[..., start:stop]  # [B, N, W]
            if group == "time" or kind == "ce":
                parts[group] = block.argmax(-1) if kind == "ce" else None
                continue
            keys |= ((block < -1 - 2 * tolerance) | (block > 1 + 2 * tolerance)).any(-1)
            parts[group] = _unscale(block.squeeze(-1), SCALED_TOPS[group])
        if "octave" in parts:  # the same composition as decode, before its clamp to the keyboard
            pitch = (parts["octave"] + 1) * 12 + parts["pitch_class"]
            keys |= (parts["kind"] == 0) & ((pitch < LOWEST_PITCH) | (pitch >= LOWEST_PITCH + NUM_KEYS))
        time = x[..., -3:]  # [B, N, 3]: offset and intensity in [-1, 1], duration in [0, 1]
        margin = time.new_tensor([2 * tolerance, tolerance, 2 * tolerance])
        low = time.new_tensor(VALUE_LOWS)
        values = ((time < low - margin) | (time > 1 + margin)).any(-1)
        return {"keys": keys, "values": values}

    def loss(self, prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
             reduction: str = "mean") -> torch.Tensor:
        """Summed group losses over valid elements, averaged ("mean") or summed ("sum").

        prediction/target [B, N, D], mask [B, N].
        """
        per_element = prediction.new_zeros(mask.shape)
        for group, start, stop, kind in self.groups:
            weight = self.time_weight if group == "time" else 1.0
            p, t = prediction[..., start:stop], target[..., start:stop]
            if kind == "ce":
                per_element = per_element + weight * F.cross_entropy(p.reshape(-1, stop - start).float(),
                                                            t.reshape(-1, stop - start).argmax(-1),
                                                            reduction="none").view(mask.shape)
            else:
                per_element = per_element + weight * ((p.float() - t.float()) ** 2).sum(-1)
        weight = mask.float()
        total = (per_element * weight).sum()
        return total if reduction == "sum" else total / weight.sum().clamp_min(1.0)

    def to_dict(self) -> dict:
        return {"name": self.name, "chunk_seconds": self.chunk_seconds, "duration_fit": self.duration_fit.to_dict(),
                "durations": self.durations, "time_weight": self.time_weight}

    @classmethod
    def from_dict(cls, d: dict) -> "Encoding":
        return cls(d["name"], float(d["chunk_seconds"]), DurationFit.from_dict(d["duration_fit"]),
                   d.get("durations", "cdf"), d.get("time_weight", 1.0))  # older checkpoints: cdf, 1
