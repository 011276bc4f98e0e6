"""Paths a piece is asked to follow (`tsm generate --key "C > G@20"`, `--style "loudness=40 > loudness=90"`): the
text of waypoints read, each with an optional time in seconds, and the untimed ones placed between the times around
them. What a waypoint holds (a key, a request) is read by the caller's `read_one`. A time is given as seconds or as a
clock reads it (`clock_seconds`: 90, 90s, 1:30, 1:02:03.5), here and in every flag that takes a time in a file.
"""
from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import TypeVar

from .setting_names import FLAGS, SettingNames

Held = TypeVar("Held")
CLOCK = re.compile(r"(?:(\d+):([0-5]\d)|(\d+)):([0-5]\d(?:\.\d+)?)")  # h:mm:ss[.f] or m:ss[.f]


def clock_seconds(text: str) -> float:
    """'90', '90s', '1:30' or '1:02:03.5' → seconds (90.0 … 3723.5): plain seconds, or minutes:seconds and
    hours:minutes:seconds as a clock reads them (two digits after each colon, below 60); a '-' before either reads
    as the negative time ('-1:30' → -90.0, as '-90'), for the flag's own check to refuse by its name. Anything else:
    ValueError in one line that shows the forms."""
    plain = text.strip().removesuffix("s")
    sign, unsigned = (-1.0, plain[1:]) if plain.startswith("-") else (1.0, plain)
    clock = CLOCK.fullmatch(unsigned)
    seconds = math.nan
    if clock:
        hours, minutes, more_minutes, secs = (float(part or 0) for part in clock.groups())
        seconds = sign * (3600 * hours + 60 * (minutes + more_minutes) + secs)  # (one of the minutes is 0)
    elif ":" not in plain:
        try:
            seconds = float(plain)
        except ValueError:
            pass
    if not math.isfinite(seconds):
        raise ValueError(f"{text!r} is not a time: give seconds (90, 90s, 2.5) or minutes:seconds (1:30, 1:02:03)")
    return seconds


def clock_text(seconds: float) -> str:
    """Seconds → as a clock reads them: 90 → '1:30', 3723.5 → '1:02:03.5', 5 → '0:05' (to the millisecond)."""
    millis = round(seconds * 1000)  # (to the millisecond)
    hours, rest = divmod(millis // 1000, 3600)
    minutes, secs = divmod(rest, 60)
    tail = f"{secs:02d}" + (f".{millis % 1000:03d}".rstrip("0") if millis % 1000 else "")
    return f"{hours}:{minutes:02d}:{tail}" if hours else f"{minutes}:{tail}"


def seconds_text(seconds: float) -> str:
    """Seconds → as tsm generate's messages say a time (its file lines: '30 s drawn after the prompt's 293.25 s'), to the
    millisecond: 293.0609 → '293.061 s', 5 → '5 s' (a clock's form, `clock_text`, is for a roll's title), so that
    one run's lines say each time one way."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + " s"


class TypedTime(float):
    """A time flag's seconds (clock_arg's), with the text the user typed (`typed`: '-1:30'), so that the flag's own
    check repeats it where it refuses the time, not the seconds read from it (-90)."""

    typed: str | None

    def __new__(cls, seconds: float, typed: str | None = None) -> TypedTime:
        time = super().__new__(cls, seconds)
        time.typed = typed
        return time


def typed_time(seconds: float) -> str:
    """A time as its flag was given: the user's own text where the flag read it (TypedTime: '-1:30', '0:00'), else
    the number (generate()'s seconds=: '-90')."""
    return getattr(seconds, "typed", None) or f"{seconds:g}"


def given_time(flag: str, seconds: float, names: SettingNames = FLAGS) -> str:
    """A time flag ('--seconds' or 'seconds') with its value as the user gave it (typed_time; `names`: generate()'s
    keyword): '--seconds -1:30', 'seconds=-90'."""
    return names.given(flag.removeprefix("--").replace("-", "_"), typed_time(seconds))


def refused_time(flag: str, seconds: float, rule: str, names: SettingNames = FLAGS, from_start: bool = False) -> str:
    """A time flag's value refused, as the user gave it (given_time) and why:
    '--seconds -1:30: a piece's length must be > 0'. A negative time that counts `from_start` (where to start in a
    file) is said not to count back from its end, as it may be meant."""
    given = given_time(flag, seconds, names)
    back = from_start and (seconds < 0 or typed_time(seconds).startswith("-"))
    return f"{given}: {rule}" + (" (a '-' does not count back from the end)" if back else "")


def clock_arg(text: str) -> float:
    """`clock_seconds` as an argparse type, the seconds with the text they were read from (TypedTime): a bad time is
    the flag's one-line usage error."""
    try:
        return TypedTime(clock_seconds(text), text.strip())  # (read without the spaces around it: said so too)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def parse_waypoints(text: str, read_one: Callable[[str], Held], flag: str,
                    example: str, names: SettingNames = FLAGS) -> list[tuple[float | None, Held]]:
    """'A > B@20 > C' → [(0.0, A), (20.0, B), (None, C)]: each waypoint as `read_one` reads it, with the time after
    the '@' that ends it (`clock_seconds`: 20, 20s or 0:20; None where not given); the first is at 0 s. A bad part raises
    ValueError in one line naming `flag` (or generate()'s keyword: `names`) and showing `example` (a waypoint with its
    time)."""
    said = names.given(flag.removeprefix("--").replace("-", "_"), repr(text))  # --key 'C > G', key='C > G'
    if "->" in text or "→" in text:
        raise ValueError(f"{said}: separate the waypoints with '>' alone (e.g. {example})")
    path = []
    for i, part in enumerate(text.split(">")):
        held, at, seconds = part.rpartition("@") if "@" in part else (part, "", "")
        if not held.strip():
            raise ValueError(f"{said}: waypoint {i + 1} is empty (e.g. {example})")
        at_s = None
        if at:
            try:
                at_s = clock_seconds(seconds)
            except ValueError:
                raise ValueError(f"{said}: {part.strip()!r}: {seconds.strip()!r} is not a time; '@SECONDS' (or "
                                 f"'@M:SS', two digits after the colon) ends a waypoint, after all it asks (e.g. "
                                 f"{example})") from None
            if i > 0 and (at_s < 0 or seconds.strip().startswith("-")):  # (as typed, not as spaced() places it)
                raise ValueError(f"{said}: {part.strip()!r}: a waypoint's time counts from the piece's start, so it must "
                                 f"be > 0 (a '-' does not count back from the end; e.g. {example})")
            if i == 0 and at_s != 0:
                raise ValueError(f"{said}: the first waypoint holds from the start; give times to the later ones")
        path.append((0.0 if i == 0 else at_s, read_one(held)))
    return path


def check_changes(times: list[float], what: str) -> None:
    """The times of a path's later waypoints (KeyTold's, TempoTold's, given in code) → ValueError in one line unless
    each is finite, after 0 s and later than the one before."""
    if not all(math.isfinite(at_s) and at_s > 0 for at_s in times) or times != sorted(set(times)):
        raise ValueError(f"{what} at {times} s: give times after 0 s, each later than the one before")


def spaced(times: list[float | None], flag: str, end_s: float, last_at_end: bool,
           names: SettingNames = FLAGS) -> list[float]:
    """Waypoint times (the first 0; None: untimed) over a piece of `end_s` seconds → every one given, the untimed spaced
    evenly between the times around them; with `last_at_end` an untimed last one is at the piece's end (a point a
    line reaches), else the end closes the last one's stretch (a key held from its time). Times that do not rise,
    or reach past the piece's end, raise ValueError in one line naming `flag` (or generate()'s keyword: `names`)."""
    ends_a_stretch = not last_at_end
    anchored = list(times) + ([end_s] if ends_a_stretch else [])
    if anchored[-1] is None:
        anchored[-1] = end_s
    anchors = [i for i, at_s in enumerate(anchored) if at_s is not None]
    placed = list(anchored)
    for begin, end in zip(anchors, anchors[1:]):
        for i in range(begin + 1, end):
            placed[i] = anchored[begin] + (anchored[end] - anchored[begin]) * (i - begin) / (end - begin)
    if any(later <= earlier for earlier, later in zip(placed, placed[1:])) or placed[-1] > end_s:
        asked, setting = placed[:len(times)], flag.removeprefix("--").replace("-", "_")
        raise ValueError(f"{names.alone(setting)}: the waypoints would come at {', '.join(f'{t:.4g}' for t in asked)} s: "
                         f"each must come after the one before, and {'before' if ends_a_stretch else 'none after'} the piece's "
                         f"end ({end_s:g} s)")
    return placed[:len(times)]
