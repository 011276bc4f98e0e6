"""The markers a file `tsm generate` wrote holds (how it was made, where a continuation starts, the waypoints asked),
and reading them back from a file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .midi import ticks_to_seconds
from .midi_open import load_score

MADE_BY = "TimeStepMusic"  # how the marker of a file `tsm generate` wrote begins (FileMeta.text)
CONTINUATION = "continuation"  # the marker where a generated file's continuation of its prompt starts, as its roll says
ASKED = "asked: "  # how the marker of a waypoint asked of a generated file begins (FileMeta.marks), its label after it


def made_by_marker(path: str | Path) -> str | None:
    """The marker a file `tsm generate` wrote starts with (the command that drew it), or None: a file of any other
    making, or one that cannot be read (read_events says why)."""
    try:
        markers = load_score(path).markers
    except ValueError:
        return None
    return next((marker.text for marker in markers if marker.text.startswith(MADE_BY)), None)


def generated_markers(path: str | Path) -> list[tuple[float, str]]:
    """The markers of a file `tsm generate` wrote (seconds, text), in the file's order; none for any other file (no
    MADE_BY marker: a user's own markers are not this tool's), or one that cannot be read."""
    try:
        score = load_score(path)
    except ValueError:
        return []
    if not any(m.text.startswith(MADE_BY) for m in score.markers):
        return []
    at_s = ticks_to_seconds(np.array([m.time for m in score.markers], dtype=np.int64), score)  # [markers]
    return [(float(s), m.text) for s, m in zip(at_s, score.markers)]


def continuation_marker_s(markers: list[tuple[float, str]]) -> float | None:
    """Of a file's `generated_markers`: where the continuation of its prompt starts in a file `tsm generate --prompt`
    wrote whole (its CONTINUATION marker, FileMeta.continued_from_s), in seconds; None for any other file."""
    return next((at_s for at_s, text in markers if text == CONTINUATION), None)


def asked_marks(markers: list[tuple[float, str]]) -> tuple[tuple[float, str], ...]:
    """Of a file's `generated_markers`: the waypoints asked of a file `tsm generate` wrote with a path of keys, tempos
    or styles (its ASKED markers, FileMeta.marks: seconds, what was asked there, as generate --png marks them); none
    for any other file."""
    return tuple((at_s, text.removeprefix(ASKED)) for at_s, text in markers if text.startswith(ASKED))
