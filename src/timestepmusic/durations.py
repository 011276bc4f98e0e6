"""The log-normal duration fit that maps durations (seconds) to [0, 1] and back.

Fitted on the training split of a corpus (notes and pedals apart) and stored with the corpus and
every model. numpy only at import, so preparing data never loads torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

MIN_DURATION_S = 1e-3


@dataclass(frozen=True)
class DurationFit:
    """Log-normal fit of durations (seconds): ln d ~ N(mu, sigma²), separately for notes and pedals."""

    note_mu: float = -1.0
    note_sigma: float = 1.0
    pedal_mu: float = -1.0
    pedal_sigma: float = 1.0
    note_max_s: float = 60.0  # longest duration in the fitted data: decoding never exceeds it
    pedal_max_s: float = 120.0

    @classmethod
    def fit(cls, duration_s: np.ndarray, is_note: np.ndarray) -> "DurationFit":
        log_d = np.log(np.maximum(np.asarray(duration_s, dtype=np.float64), MIN_DURATION_S))
        out = {}
        for name, mask in (("note", is_note), ("pedal", ~is_note)):
            values = log_d[mask]
            out[f"{name}_mu"] = float(values.mean()) if values.size else -1.0
            out[f"{name}_sigma"] = float(max(values.std(), 1e-3)) if values.size > 1 else 1.0
            out[f"{name}_max_s"] = float(np.exp(values.max())) if values.size else 60.0
        return cls(**out)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> "DurationFit":
        return cls(**{k: float(v) for k, v in d.items()})

    def _params(self, is_note: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor"]:
        import torch

        as64 = lambda v: torch.tensor(v, dtype=torch.float64, device=is_note.device)  # noqa: E731
        mu = torch.where(is_note, as64(self.note_mu), as64(self.pedal_mu))
        sigma = torch.where(is_note, as64(self.note_sigma), as64(self.pedal_sigma))
        return mu, sigma

    def to_unit(self, duration_s: "torch.Tensor", is_note: "torch.Tensor") -> "torch.Tensor":
        """Durations (seconds) → [0, 1] through the log-normal CDF; float64 inside."""
        import torch
        mu, sigma = self._params(is_note)
        # float64: in float32 the normal CDF underflows in the tails and short notes lose their length
        z = (torch.log(duration_s.double().clamp_min(MIN_DURATION_S)) - mu) / sigma
        return torch.special.ndtr(z).to(duration_s.dtype if duration_s.is_floating_point() else torch.float32)

    def from_unit(self, u: "torch.Tensor", is_note: "torch.Tensor", z_max: float | None = None) -> "torch.Tensor":
        """[0, 1] → durations in seconds (float64), never longer than the longest fitted duration, nor (with
        `z_max`) than mu + z_max · sigma: near the top of the CDF a small error in u is a huge one in
        seconds (u 0.9995 for 0.99 turns a 0.9 s pedal into 3.8 s), so a decoder's slips are capped there."""
        import torch
        mu, sigma = self._params(is_note)
        u = u.double().clamp(1e-12, 1 - 1e-12)
        longest = torch.where(is_note, self.note_max_s, self.pedal_max_s).double()
        if z_max is not None:
            longest = torch.minimum(longest, torch.exp(mu + z_max * sigma))
        return torch.minimum(torch.exp(mu + sigma * torch.special.ndtri(u)), longest)

    def to_log_unit(self, duration_s: "torch.Tensor", is_note: "torch.Tensor") -> "torch.Tensor":
        """Durations (seconds) → [0, 1], linear in log duration from 1 ms to the longest fitted one: an error
        of ε in the unit is the same relative error (× e^(ε·range)) at every length, where the CDF's
        errors grow without bound near its top (a 0.3 s pedal decoded as 30 s)."""
        import torch
        lowest, span = self._log_span(is_note)
        unit = (torch.log(duration_s.double().clamp_min(MIN_DURATION_S)) - lowest) / span
        return unit.clamp(0, 1).to(duration_s.dtype if duration_s.is_floating_point() else torch.float32)

    def from_log_unit(self, u: "torch.Tensor", is_note: "torch.Tensor") -> "torch.Tensor":
        """[0, 1] → durations in seconds (float64), between 1 ms and the longest fitted duration."""
        import torch
        lowest, span = self._log_span(is_note)
        return torch.exp(lowest + span * u.double().clamp(0, 1))

    def _log_span(self, is_note: "torch.Tensor") -> tuple[float, "torch.Tensor"]:
        import torch
        lowest = float(np.log(MIN_DURATION_S))
        longest = torch.where(is_note, float(np.log(self.note_max_s)), float(np.log(self.pedal_max_s))).double()
        return lowest, (longest - lowest).clamp_min(1e-6)
