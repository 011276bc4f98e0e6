"""Paths a piece is asked to follow (`tsm generate --key "C > G@20"`, `--style "loudness=40 > loudness=90"`): the
text of waypoints read, each with an optional time in seconds, and the untimed ones placed between the times around
them. What a waypoint holds (a key, a request) is read by the caller's `read_one`.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

Held = TypeVar("Held")


def parse_waypoints(text: str, read_one: Callable[[str], Held], flag: str,
                    example: str) -> list[tuple[float | None, Held]]:
    """'A > B@20 > C' → [(0.0, A), (20.0, B), (None, C)]: each waypoint as `read_one` reads it, with the seconds after
    its '@' (an 's' after them allowed; None where not given); the first is at 0 s. A bad part raises ValueError in one
    line naming `flag` and `example`."""
    path = []
    for i, part in enumerate(text.split(">")):
        held, at, seconds = part.rpartition("@") if "@" in part else (part, "", "")
        at_s = None
        if at:
            try:
                at_s = float(seconds.strip().removesuffix("s"))
            except ValueError:
                raise ValueError(f"{flag} {text!r}: {part.strip()!r} has no time after its '@' (e.g. {example})") from None
            if not math.isfinite(at_s):
                raise ValueError(f"{flag} {text!r}: {part.strip()!r}: a time must be a number of seconds")
            if i == 0 and at_s != 0:
                raise ValueError(f"{flag} {text!r}: the first waypoint holds from the start; give times to the later ones")
        path.append((0.0 if i == 0 else at_s, read_one(held)))
    return path


def spaced(times: list[float | None], flag: str, end_s: float) -> list[float]:
    """Waypoint times (the first 0, the last given; None: untimed) → every one given, the untimed spaced evenly between
    the times around them; times that do not rise, or pass `end_s`, raise ValueError in one line naming `flag`."""
    anchors = [i for i, at_s in enumerate(times) if at_s is not None]
    placed = list(times)
    for begin, end in zip(anchors, anchors[1:]):
        for i in range(begin + 1, end):
            placed[i] = times[begin] + (times[end] - times[begin]) * (i - begin) / (end - begin)
    if any(later <= earlier for earlier, later in zip(placed, placed[1:])) or placed[-1] > end_s:
        raise ValueError(f"{flag}: the waypoints would come at {', '.join(f'{t:g}' for t in placed)} s: each must come "
                         f"after the one before, and none after the piece's end ({end_s:g} s)")
    return placed
