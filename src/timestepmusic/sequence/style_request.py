"""What `tsm generate --style` asks (sequence/style.py's descriptions): its text read into a request (attribute → value
as a description holds it) or a path of them (`StyleRamp`, each chunk told its line's mean over the AHEAD chunks from
it); a request given as a dict checked; a held value turned back into its users' units.
Shapes: T times, P prompt chunks, K = AHEAD chunks.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import torch

from ..waypoints import parse_waypoints, spaced
from .style import AHEAD, ATTRIBUTES, PAUSE

ASKABLE = ATTRIBUTES + (PAUSE,)  # what `--style` may name (the pause: of a model trained with it)
ASKABLE_WORDS = ", ".join(ATTRIBUTES) + f" (and {PAUSE}, of a model trained with ar.style_pause: events-pause)"  # as said
LOGGED = ("density", PAUSE)  # held as ln(1 + the value in its users' units)
UNITS = {"register": "the notes' mean pitch: a MIDI note (60) or name (C4, F#5, Bb3)",
         "spread": "the notes' standard deviation of pitch, semitones", "density": "notes per second",
         "loudness": "the notes' mean velocity, 1-127, or a dynamic mark, ppp to fff",
         "stepwise": "share of notes within 2 semitones of the one before",
         "damper": "share of time the damper is down", "half_pedal": "share of damper time at half depth",
         "soft": "share of time the soft pedal is down",
         PAUSE: "the longest stretch with no note starting, seconds (models trained with ar.style_pause)"}
# each attribute's range as --style takes it (a share: [0, 1]; the register: a piano's keys, `_described_value`); a
# pause within a passage of AHEAD chunks: 16 s
USERS_BOUNDS = {"spread": (0.0, 44.0), "density": (0.0, 60.0), "loudness": (1.0, 127.0), PAUSE: (0.0, 16.0)}
# loudness asked as a dynamic mark: the velocity notation programs play it at (MuseScore's defaults, and the common
# MIDI convention); the corpus's performances average 61, between p and mp
DYNAMICS = {"ppp": 16, "pp": 33, "p": 49, "mp": 64, "mf": 80, "f": 96, "ff": 112, "fff": 127}
NOTE_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
FLATTENED = 0.6  # a path of requests told less than this share of the range it asks is warned of


def parse_style(text: str) -> dict[str, float]:
    """`tsm generate --style` text, e.g. "damper=0.9,register=C5,density=6" → {attribute: value as a description
    holds it}; a bad request raises ValueError in one line (requests joined by ';' as well: ',' joins them)."""
    refuse_semicolons(text)
    request = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):  # a trailing comma is no attribute
        name, sep, value = part.partition("=")
        name = name.strip().lower().replace("-", "_")
        if not sep:
            raise ValueError(f"--style {part!r}: give ATTRIBUTE=VALUE[,…] with ATTRIBUTE one of {ASKABLE_WORDS}")
        if name not in ASKABLE:
            raise ValueError(f"--style {part}: no attribute {name!r}; one of {ASKABLE_WORDS}")
        if name in request:
            raise ValueError(f"--style {text}: {name} is asked twice")
        request[name] = _described_value(name, value.strip())
    if not request:
        raise ValueError(f"--style {text!r}: give ATTRIBUTE=VALUE[,…] with ATTRIBUTE one of {ASKABLE_WORDS}")
    return request


def refuse_semicolons(text: str) -> None:
    """--style text whose requests are joined by ';' (a value would read 'C5;density=6', and be refused as no note):
    ValueError in one line saying that ',' joins them."""
    if ";" in text:
        raise ValueError(f"--style {text.strip()!r}: separate the requests with ',', not ';' "
                         f"({text.strip().replace(';', ',')!r})")


def asked_style(text: str, seconds: float) -> "dict[str, float] | StyleRamp":
    """What a `--style` text asks of a piece of `seconds`: one request (parse_style's), or a path of them
    (StyleRamp, timed over the piece)."""
    path = parse_style_path(text)
    return StyleRamp.timed(path, seconds) if len(path) > 1 else path[0][1]


def parse_style_path(text: str) -> list[tuple[float | None, dict[str, float]]]:
    """`tsm generate --style` text with waypoints, e.g. "loudness=40 > loudness=90@20 > loudness=60" → each
    waypoint's request (parse_style's) and the seconds at which it is reached (the first at 0 s; None where not
    given: `StyleRamp.timed` places it); without '>', one request, reached from the start."""
    refuse_semicolons(text)  # (the whole text, not one waypoint's)
    return parse_waypoints(text, parse_style, "--style", "'loudness=90@20'")


@dataclass(frozen=True)
class StyleRamp:
    """A path of requests (`--style "loudness=40 > loudness=90"`): `waypoints`, each (the seconds from the first
    drawn chunk at which it is reached, its request as a description holds it), in time order. Each attribute moves
    in a straight line (in the description's units: density as ln(1 + notes per second)) between the waypoints that
    name it, held after the last; before the first that names it, from the piece's own description at the waypoint
    before (the first waypoint's attributes: held before it). Every chunk is told the mean of that line over the
    AHEAD chunks from it, as a real passage is described in training."""

    waypoints: tuple[tuple[float, dict[str, float]], ...]

    @classmethod
    def timed(cls, path: list[tuple[float | None, dict[str, float]]], seconds: float) -> "StyleRamp":
        """A parsed path (parse_style_path's) over a piece of `seconds`: the first waypoint at 0 s, an untimed last
        one at the piece's end, the untimed ones between spaced evenly between the times around them."""
        times = spaced([at_s for at_s, _ in path], "--style", seconds, last_at_end=True)
        return cls(tuple(zip(times, (request for _, request in path))))

    def names(self) -> list[str]:
        """Every attribute asked at some waypoint, in the order first asked."""
        return list(dict.fromkeys(name for _, request in self.waypoints for name in request))

    def at(self, at_s: np.ndarray, start: dict[str, float] | None = None) -> dict[str, np.ndarray]:
        """Each asked attribute's line at times `at_s` [T] (seconds from the first drawn chunk) → [T] each. One first
        named after the first waypoint starts from its value in `start` (a piece's own description) at the waypoint
        before; without it, it is left out."""
        lines = {}
        for name in self.names():
            points = [(t, request[name]) for t, request in self.waypoints if name in request]
            if name not in self.waypoints[0][1]:
                if start is None:
                    continue
                before_s = max(t for t, _ in self.waypoints if t < points[0][0])
                points.insert(0, (before_s, start[name]))
            times, values = zip(*points)
            lines[name] = np.interp(at_s, times, values)  # held before its first point and after its last
        return lines

    def flattened(self, chunks: int, chunk_seconds: float) -> list[str]:
        """The attributes asked from the start whose told line over `chunks` drawn chunks spans less than FLATTENED of
        the range their waypoints ask: told the AHEAD chunks ahead, a shape much shorter than twice that is averaged
        away."""
        flat = []
        for name, line in self.told(chunks, chunk_seconds).items():
            asked = [request[name] for _, request in self.waypoints if name in request]
            if max(asked) > min(asked) and np.ptp(line) < FLATTENED * (max(asked) - min(asked)):
                flat.append(name)
        return flat

    def told(self, chunks: int, chunk_seconds: float, prompt_chunks: int = 0,
             start: dict[str, float] | None = None) -> dict[str, np.ndarray]:
        """What each of a prompt's `prompt_chunks` chunks and the `chunks` drawn after them is told of each asked
        attribute [P + T] each (`start`: as `at`): the mean of its line over the AHEAD chunks from it (at the chunks'
        middles; held at its first value before the first drawn chunk, at its last past the piece's end)."""
        middles = (np.arange(-prompt_chunks, chunks + AHEAD) + 0.5) * chunk_seconds  # [P + T + K]
        told = {}
        for name, line in self.at(middles, start).items():
            running = np.concatenate([[0.0], np.cumsum(line)])  # [P + T + K + 1]
            every = prompt_chunks + chunks
            told[name] = (running[AHEAD:AHEAD + every] - running[:every]) / AHEAD
        return told


def _described_value(name: str, value: str) -> float:
    """One asked attribute in its user's units → as a description holds it."""
    if name == "register":
        number = _midi_note(value)
        if not 21 <= number <= 108:
            what = f"MIDI note {number} is" if value.lstrip("-").isdigit() else f"{value} is MIDI note {number},"
            raise ValueError(f"--style register={value}: {what} beyond the piano's keys, A0 (21) to C8 (108)")
        return float(number - 21)  # descriptions hold key ids (0: A0)
    bounds = USERS_BOUNDS.get(name, (0.0, 1.0))
    if name == "loudness" and value.lower() in DYNAMICS:  # loudness=mf
        return float(DYNAMICS[value.lower()])
    percent = bounds == (0.0, 1.0) and value.endswith("%")  # a share as a percentage: damper=90%
    try:
        number = float(value.removesuffix("%")) / 100 if percent else float(value)
    except ValueError:
        raise ValueError(f"--style {name}={value}: not a number ({UNITS[name]})") from None
    if not bounds[0] <= number <= bounds[1]:
        raise ValueError(f"--style {name}={value}: must be in [{bounds[0]:g}, {bounds[1]:g}] ({UNITS[name]})")
    return float(torch.log1p(torch.tensor(number))) if name in LOGGED else number


def held_bounds(name: str) -> tuple[float, float]:
    """The range of an attribute as a description holds it (`_described_value`'s bounds, mapped as it maps them)."""
    if name == "register":
        return 0.0, 87.0  # key ids: A0 (MIDI 21) to C8 (108)
    low, high = USERS_BOUNDS.get(name, (0.0, 1.0))
    return (float(np.log1p(low)), float(np.log1p(high))) if name in LOGGED else (low, high)


HELD_UNITS = {"register": "the key from A0: MIDI note − 21", "density": "ln(1 + notes per second)",
              PAUSE: "ln(1 + the longest pause's seconds)"}  # where a description holds other units than --style takes


def check_held_request(request: dict, subject: str) -> None:
    """A request given as a dict (attribute → value as a description holds it: parse_style's) refused in one line
    beginning `subject` (generate()'s keyword and the value) where it names no attribute, or holds a value that is not a
    finite number or is beyond the attribute's range; where held units differ from --style's and the value is one
    --style takes (within its range; for the register, a whole MIDI note), the line says the text that asks it."""
    for name, value in request.items():
        if name not in ASKABLE:
            raise ValueError(f"{subject}: no attribute {name!r}; a request names {ASKABLE_WORDS}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise ValueError(f"{subject}: {name} must be a finite number, got {value!r}")
        low, high = held_bounds(name)
        if low <= value <= high:
            continue
        if name not in HELD_UNITS:
            units = "the notes' mean velocity" if name == "loudness" else UNITS[name]  # (not a dynamic mark here)
            raise ValueError(f"{subject}: {name} must be in [{low:g}, {high:g}] ({units})")
        users_low, users_high = (21.0, 108.0) if name == "register" else USERS_BOUNDS[name]
        asks = {"register": f"MIDI note {value:g}", "density": f"{value:g} notes per second"}.get(
            name, f"a longest pause of {value:g} s")
        said = users_low <= value <= users_high and (name != "register" or float(value).is_integer())  # (--style takes
        # a whole MIDI note)
        hint = f"; style='{name}={value:g}' asks {asks}" if said else ""
        raise ValueError(f"{subject}: {name} must be in [{low:g}, {high:.4g}] as a request holds it "
                         f"({HELD_UNITS[name]}){hint}")


def users_value(name: str, held):
    """An attribute as a description holds it (a number or an array) → in its users' units, as `--style` takes it
    (the inverse of `parse_style`'s reading): the register as a MIDI note, logged attributes unlogged."""
    if name == "register":
        return held + 21  # descriptions hold key ids (0: A0)
    return np.expm1(held) if name in LOGGED else held


def _midi_note(value: str) -> int:
    """"60", "C4", "F#5", "Bb3" → the MIDI note number (C4 = 60)."""
    if value.lstrip("-").isdigit():
        return int(value)
    if not value:
        raise ValueError("--style register=: give a MIDI note number or a note name (60, C4, F#5, Bb3)")
    letter, rest = value[:1].upper(), value[1:]
    shift = {"#": 1, "b": -1}.get(rest[:1], 0)
    octave = rest[1:] if shift else rest
    if letter not in NOTE_CLASSES or not octave.lstrip("-").isdigit():
        why = (f"no note's letter is {letter}: A to G" if letter not in NOTE_CLASSES else
               f"no octave after {value}: {value}4" if not octave else "a letter A to G, # or b, then the octave")
        raise ValueError(f"--style register={value}: {value!r} is not a note name ({why}) nor a MIDI note number; give "
                         "one as 60, C4, F#5 or Bb3")
    return 12 * (int(octave) + 1) + NOTE_CLASSES[letter] + shift
