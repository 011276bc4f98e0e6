"""What to tell a model so that it plays what `--style` asks (ar.request_calibrated): per attribute, the curve of
what the model played against what it was told, measured once (`python -m timestepmusic.train.style_calibration`),
and its inverse.

Why: a model told a description does not play it exactly. Guided (ar.request_guidance), it overshoots where the
untold model would play otherwise, and at the edges of what it heard in training it falls short or beyond: the
default told 6 notes per second played about 4.5, told a damper share of 0.3 played 0.21
(bench/results/style_follow_default_36.md). The measured curve says, for each value told, what was played; a
request is told the value whose measured playing is the one asked (linear between the measured points, and past
the ends moved as far as the request is past the end's playing). The measured curve is kept made non-decreasing
(isotonic regression, at measurement), since telling more of an attribute should never play less of it.
A pedal asked at 0 is told 0 (ar.pedals_as_told keeps it up); other attributes asked together are calibrated
each by its own curve, measured asked alone.
All values are as descriptions hold them (sequence/style.py: the register as a key id, density as ln(1 + notes/s)).
Shapes: P measured points.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..ar_config import STYLE_ATTRIBUTES, STYLE_PAUSE

META_KEY = "style_calibration"  # where a model's config.json keeps it
KEPT_UP = ("damper", "soft")  # asked at 0: told 0, and the pedal stays up
PRESSED_LEAST = 1e-3  # … asked above 0: told at least this, never the 0 that keeps it up
# what a description may hold of each attribute (the register: key ids 0–87; density, pause: logged)
BOUNDS = {"register": (0.0, 87.0), "spread": (0.0, 44.0), "density": (0.0, float(np.log1p(60.0))),
          "loudness": (1.0, 127.0), STYLE_PAUSE: (0.0, float(np.log1p(16.0)))}


def kept_up(name: str, asked: float) -> bool:
    """A pedal asked at 0: told 0 and kept up (ar.pedals_as_told), never calibrated."""
    return name in KEPT_UP and asked == 0.0


@dataclass(frozen=True)
class Curve:
    """What a model played [P] when told each of `told` [P] (increasing): the measured means made non-decreasing."""

    told: np.ndarray
    played: np.ndarray

    def inverse(self, asked: float) -> float:
        """The value to tell for `asked` to be played: linear between the curve's points (where several told values
        played alike, their mean); past either end, moved as far as `asked` is past the end's playing, from the
        told value furthest out that played it."""
        played, told = _collapse_flat(self.played, self.told)  # strictly increasing playing, its told values
        if asked <= played[0]:
            return float(self.told[self.played == played[0]].min() + asked - played[0])
        if asked >= played[-1]:
            return float(self.told[self.played == played[-1]].max() + asked - played[-1])
        return float(np.interp(asked, played, told))


def _collapse_flat(played: np.ndarray, told: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A non-decreasing curve → its distinct played values [P'] and for each the mean told value that played it."""
    levels, which = np.unique(played, return_inverse=True)  # [P'], [P]
    told_at = np.bincount(which, weights=told) / np.bincount(which)  # [P']
    return levels, told_at


@dataclass(frozen=True)
class StyleCalibration:
    """The measured curves of a model's attributes, and how they were measured (`measured`: guidance, pieces,
    seconds, seed)."""

    curves: dict[str, Curve]
    measured: dict

    @property
    def guidance(self) -> float | None:
        """The guidance the curves were measured at (a request at another is not calibrated by them)."""
        value = self.measured.get("guidance")
        return None if value is None else float(value)

    def told(self, request: dict[str, float]) -> dict[str, float]:
        """A request (style_request.parse_style's: attribute → asked value) → the values to tell, each attribute through
        its own curve (one without a curve as asked), within what a description may hold."""
        told = {}
        for name, asked in request.items():
            curve = self.curves.get(name)
            if curve is None or kept_up(name, asked):
                told[name] = asked
                continue
            low, high = BOUNDS.get(name, (0.0, 1.0))
            if name in KEPT_UP:  # asked above 0: pressed, not kept up
                low = PRESSED_LEAST
            told[name] = float(np.clip(curve.inverse(asked), low, high))
        return told

    def beyond(self, request: dict[str, float]) -> list[str]:
        """The attributes of a request asked beyond what the model was measured to play (told by extrapolation:
        it may fall short); a pedal asked at 0 is not."""
        return [name for name, asked in request.items() if name in self.curves and not kept_up(name, asked)
                and not self.curves[name].played[0] <= asked <= self.curves[name].played[-1]]

    def to_dict(self) -> dict:
        return {"measured": self.measured,
                "curves": {name: {"told": c.told.tolist(), "played": c.played.tolist()}
                           for name, c in self.curves.items()}}

    @classmethod
    def of_model(cls, meta: dict, config_path: Path) -> "StyleCalibration | None":
        """The calibration a model's config.json (`meta`, read from `config_path`) keeps; None where it keeps none;
        a broken one: ValueError in one line naming the file."""
        return cls.from_dict(meta[META_KEY], str(config_path)) if META_KEY in meta else None

    @classmethod
    def from_dict(cls, data: dict, where: str) -> "StyleCalibration":
        """From `to_dict`'s form (as a model's config.json keeps it under style_calibration); anything else:
        ValueError in one line naming `where`."""
        def refused(at: str) -> ValueError:
            return ValueError(f"{where}: style_calibration is not a set of measured curves (per attribute, at least "
                              f"two increasing told values and as many non-decreasing played ones; at {at}): measure it "
                              f"again (python -m timestepmusic.train.style_calibration MODEL --overwrite) or delete it")
        if not isinstance(data, dict) or not isinstance(data.get("curves"), dict):
            raise refused("its curves")
        measured = data.get("measured", {})
        if not isinstance(measured, dict) or not isinstance(measured.get("guidance", 0.0), (int, float)):
            raise refused("measured")
        curves = {}
        for name, curve in data["curves"].items():
            try:
                told, played = (np.asarray(curve[k], dtype=np.float64) for k in ("told", "played"))
            except (KeyError, TypeError, ValueError):
                raise refused(name) from None
            if (name not in STYLE_ATTRIBUTES + (STYLE_PAUSE,) or told.ndim != 1 or told.shape != played.shape
                    or told.size < 2 or not np.isfinite(told).all() or not np.isfinite(played).all()
                    or not np.all(np.diff(told) > 0) or not np.all(np.diff(played) >= 0)):
                raise refused(name)
            curves[name] = Curve(told, played)
        return cls(curves, dict(measured))
