"""What a file `tsm generate` writes says of what was asked: the end of its line (how the piece followed each request:
the key its notes fit, the beat they repeat at, what they play of a character or shape asked, how they rose and fell
with a performance walked) and the marker the MIDI file starts with (the command that drew it). The roll's marks of
the asked waypoints are here too. Heavy imports (the descriptors) happen inside the functions that need them.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass

WAYPOINT_HEARD_S = 4.0  # a path of requests: what is played this near each waypoint is named in a file's line
TEMPO_HEARD_S = 8.0  # a path of tempos: the beat heard in this long around each waypoint is named there


def heard_as_asked(played, seconds: float, tempo, key, key_as_typed: str | None, offset_s: float = 0.0,
                   ramp=None) -> str:
    """The end of a written file's line: the beat its `seconds` of `played` events repeat at and how it stands to the
    asked `tempo` (pulse.TempoTold; along a path, at each waypoint), the key its notes fit best and how it stands to
    the asked `key` (tonal.KeyTold; along a path of keys, each stretch's, named at its time in the file: `offset_s`
    after the time asked, a prompt's length where the file holds it), and along a path of requests (style_request.StyleRamp)
    what is played near each waypoint; "" where none was asked."""
    from .keys import estimate_key, key_name, relation, typed_keys
    from .tempo import beat_relation, heard_beat_s

    heard = ""
    if tempo is not None and tempo.later:
        heard += "; " + tempo_path_heard(played, seconds, tempo, offset_s)
    elif tempo is not None:
        beat_s = heard_beat_s(played, seconds)
        how = beat_relation(beat_s, tempo.bpm)
        heard += (f"; asked {tempo.bpm:g} bpm, its onsets repeat most every {beat_s:.2f} s ({60 / beat_s:.0f} bpm)"
                  if beat_s is not None else f"; asked {tempo.bpm:g} bpm, no beat heard")
        heard += "" if how in ("the beat", "no beat") else f": {how}"
    if key is not None and not key.later:
        fits = estimate_key(played)
        typed = typed_keys(key_as_typed)[0]  # (without the time it holds from: 'Gb@0' is Gb)
        said = " ".join(typed.split())  # as the user spelled it, and as its signature spells it where not so
        spelled = key_name(key.key, typed)  # (as its signature, spelled as typed, reads)
        said += "" if said.lower() == spelled.lower() else f" ({spelled})"
        how = relation(fits, key.key)  # a key near the one asked is spelled with the accidental it is shown with
        near = spelled if how not in ("another key", "no key") else None
        heard += (f"; asked {said}, its notes fit " + (f"{key_name(fits, near)} best" if fits else "no key")
                  + ("" if how in ("the key", "no key") else f": {how}"))
    elif key is not None:
        heard += "; " + path_heard(played, seconds, key, offset_s, key_as_typed)
    if ramp is not None:
        heard += "; " + shape_heard(played, seconds, ramp)
    return heard


def tempo_path_heard(played, seconds: float, tempo, offset_s: float = 0.0) -> str:
    """A path of tempos (pulse.TempoTold) against the `seconds` of `played` events: at each waypoint the tempo asked
    there, and over the TEMPO_HEARD_S around it (kept inside the piece; a shorter piece whole) the tempo asked at that
    window's middle, the beat heard in it and how they stand ("ended before it" where the piece ended first); times
    in the file, `offset_s` after those asked (a prompt's length where the file holds it)."""
    from .midi import window
    from .tempo import beat_relation, heard_beat_s

    length_s = min(TEMPO_HEARD_S, seconds)
    said = []
    for at_s, bpm in tempo.waypoints():
        if at_s > seconds or length_s <= 0:
            said.append(f"at {at_s + offset_s:.4g} s {bpm:g}: ended before it")
            continue
        begin_s = min(max(at_s - length_s / 2, 0.0), seconds - length_s)
        asked = tempo.at(begin_s + length_s / 2).bpm
        beat_s = heard_beat_s(window(played, begin_s, begin_s + length_s), length_s)
        how = beat_relation(beat_s, asked)
        heard = "no beat" if beat_s is None else f"{60 / beat_s:.0f}" + ("" if how == "the beat" else f" ({how})")
        said.append(f"at {at_s + offset_s:.4g} s {bpm:g}: over {begin_s + offset_s:.4g}–"
                    f"{begin_s + length_s + offset_s:.4g} s asked {asked:.0f} at its middle, heard {heard}")
    return "tempo, bpm: " + "; ".join(said)


def path_heard(played, seconds: float, key, offset_s: float, typed: str | None = None) -> str:
    """A path of keys (tonal.KeyTold) against the `seconds` of `played` events: each stretch's asked key and the key
    its notes fit best ("no key" where they name none; "ended before it" where the piece ended first), each spelled
    as its waypoint was `typed` (the --key text; a key found near it too: Gb, not F#)."""
    from .keys import estimate_key, key_name, relation, typed_keys
    from .midi import window

    stretches = key.stretches()  # [(from_s, key)]
    spellings = [None] * len(stretches) if typed is None else typed_keys(typed)
    spellings = spellings if len(spellings) == len(stretches) else [None] * len(stretches)
    ends_s = [at_s for at_s, _ in stretches[1:]] + [seconds]
    said = ", ".join(f"{key_name(asked, spelled)} from {at_s + offset_s:.4g} s"
                     for (at_s, asked), spelled in zip(stretches, spellings))
    found = []
    for (begin_s, asked), end_s, spelled in zip(stretches, ends_s, spellings):
        if begin_s >= seconds:
            found.append("ended before it")
            continue
        fits = estimate_key(window(played, begin_s, end_s))
        how = relation(fits, asked)
        near = key_name(asked, spelled) if how not in ("another key", "no key") else None  # (as shown above)
        found.append((key_name(fits, near) if fits else "no key") + ("" if how in ("the key", "no key") else f" ({how})"))
    return f"asked {said}; its notes fit " + ", then ".join(found)


def shape_marks(key, tempo, ramp, offset_s: float, length_s: float) -> tuple[tuple[float, str], ...]:
    """The waypoints of the asked paths (tonal.KeyTold, pulse.TempoTold with `later`, style_request.StyleRamp; a single key or
    tempo, or None, has none) as a roll's marks: (seconds in the file, `offset_s` after the asked time; what is asked
    there), those at one time in one label, none past the file's `length_s`."""
    from .keys import key_name
    from .sequence.style_request import users_value

    labels: dict[float, list[str]] = {}
    for at_s, asked in key.stretches() if key is not None and key.later else []:
        labels.setdefault(at_s, []).append(key_name(asked))
    for at_s, bpm in tempo.waypoints() if tempo is not None and tempo.later else []:
        labels.setdefault(at_s, []).append(f"{bpm:g} bpm")
    for at_s, request in [] if ramp is None else ramp.waypoints:
        labels.setdefault(at_s, []).append(",".join(f"{name}={float(users_value(name, value)):.3g}"
                                                    for name, value in request.items()))
    return tuple((at_s + offset_s, ", ".join(said)) for at_s, said in sorted(labels.items())
                 if at_s + offset_s <= length_s)


def unmeasured(name: str) -> str:
    """What a file's line says where an attribute cannot be measured (evaluate/played.py gives NaN): the half pedal is a
    share of the damper's time, so a piece whose damper never goes down has none to measure, however many notes it
    plays ("no damper"); every other attribute is a measure of the notes ("silent": none to measure)."""
    return "no damper" if name == "half_pedal" else "silent"


KEY_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")  # a register's nearest key, named


def value_said(name: str, value: float) -> str:
    """An attribute's value in its users' units as a file's line says it: three figures, and a register also as the
    key nearest it, as --style and the rolls name keys (72: '72 (C5)'; C4 = 60), so that a register asked as C5 is
    read back as one."""
    if name != "register":
        return f"{value:.3g}"
    key = round(value)
    return f"{value:.3g} ({KEY_NAMES[key % 12]}{key // 12 - 1})"


def shape_heard(played, seconds: float, ramp) -> str:
    """The end of a written file's line for a path of requests (style_request.StyleRamp): each asked attribute's line at the
    waypoints (evaluate/played.py's measure; "·" before the first waypoint that names it) beside what the `seconds`
    of `played` events play within WAYPOINT_HEARD_S of each ("silent": no note to measure; "no damper": no damper time
    to measure the half pedal by, see unmeasured; "ended" where the piece ended before the waypoint)."""
    import numpy as np

    from .evaluate.played import played as played_values
    from .midi import window
    from .sequence.style_request import users_value

    names, times = ramp.names(), [at_s for at_s, _ in ramp.waypoints]
    heard = np.full((len(times), len(names)), np.inf)  # [K, A]; inf: the piece ended before the waypoint
    for k, at_s in enumerate(times):
        if at_s <= seconds:
            begin_s, end_s = max(at_s - WAYPOINT_HEARD_S, 0.0), min(at_s + WAYPOINT_HEARD_S, seconds)
            heard[k] = played_values([window(played, begin_s, end_s)], end_s - begin_s, tuple(names))[0]
    said = []
    for column, name in enumerate(names):
        points_s, values = zip(*((t, request[name]) for t, request in ramp.waypoints if name in request))
        line = ["·" if at_s < points_s[0] else value_said(name, float(users_value(name, np.interp(at_s, points_s, values))))
                for at_s in times]  # its line at each waypoint, from the first that names it
        now = ["ended" if v == np.inf else unmeasured(name) if np.isnan(v) else value_said(name, float(users_value(name, v)))
               for v in heard[:, column]]
        said.append(f"{name} asked {' → '.join(line)}, played {' → '.join(now)}")
    return f"{'; '.join(said)} (within {WAYPOINT_HEARD_S:g} s of each waypoint)"


def style_heard(played, seconds: float, request: dict[str, float]) -> str:
    """The end of a written file's line for one request (`--style`, as style_request.parse_style reads it): each attribute
    asked beside what the `seconds` of `played` events play of it over the whole piece (evaluate/played.py's measure;
    "silent": no note to measure it by; "no damper": see unmeasured); the pause (a model trained with
    ar.style_pause) as the longest time between note starts."""
    import numpy as np

    from .evaluate.played import longest_pause_s
    from .evaluate.played import played as played_values
    from .sequence.style import ATTRIBUTES, PAUSE
    from .sequence.style_request import users_value

    names = tuple(name for name in request if name in ATTRIBUTES)
    said = []
    if names:
        heard = played_values([played], seconds, names)[0]  # [A]
        said = [f"{name} asked {value_said(name, float(users_value(name, request[name])))}, played "
                + (unmeasured(name) if np.isnan(v) else value_said(name, float(users_value(name, v))))
                for name, v in zip(names, heard)]
    if PAUSE in request:
        said.append(f"{PAUSE} asked {float(users_value(PAUSE, request[PAUSE])):.3g} s, played "
                    f"{longest_pause_s(played, seconds):.3g} s")
    return "; " + ", ".join(said) if said else ""


LIKE_WINDOW_S = 8.0  # --like: the windows a piece's shape is compared with the file's in
LIKE_LEAST_WINDOWS = 4  # … and how many of them a correlation needs
LIKE_STEADY_SD = (2.0, 0.5, 0.05)  # loudness (velocity), density (notes/s), damper share: a file whose windows move
# less than this (their standard deviation) holds that attribute steady, and a correlation with it is noise (the
# Berceuse's damper, down 0.96–1.00 of each window: sd 0.017; ASAP's performances' windows move 1.3–3.7, 0.6–2.4 and
# 0–0.39 over their first minute)


def like_heard(played, seconds: float, like, name: str) -> str:
    """`--like`: how a piece of `seconds` followed the file's performance `like` (from its first note, as walked),
    named `name`, in the whole LIKE_WINDOW_S windows both hold: the mean gap of their loudness, density and damper
    share, and where there are LIKE_LEAST_WINDOWS windows and both vary, their correlation across them; where the
    file's windows (two or more) move less than LIKE_STEADY_SD, that it holds the attribute steady (no correlation to
    follow)."""
    import numpy as np

    from .evaluate.played import shape_correlation, windows_played

    names, units, places = ("loudness", "density", "damper"), ("", " notes/s", ""), (1, 1, 2)
    within_s = min(seconds, like.end_s)  # (past the file's end the piece holds its last passage: not compared)
    windows = int(within_s // LIKE_WINDOW_S + 1e-9)
    if windows == 0:
        return f"; walks the shape of {name}"
    piece, file = (windows_played(x, windows * LIKE_WINDOW_S, names, LIKE_WINDOW_S) for x in (played, like))
    with np.errstate(all="ignore"):
        gap = np.nanmean(np.abs(piece - file), axis=0)  # [3]
    r = shape_correlation(piece, file, LIKE_LEAST_WINDOWS)
    with np.errstate(all="ignore"):  # the file holds it level (one window alone, whose sd is 0, tells nothing)
        steady = (np.nanstd(file, axis=0) < np.array(LIKE_STEADY_SD)) & (np.isfinite(file).sum(axis=0) >= 2)  # [3]
    said = [f"{what} off by {g:.{k}f}{unit}" + (f" ({name} holds it steady)" if still else f" (r {c:+.2f})"
                                                 if np.isfinite(c) else "")
            for what, unit, k, g, c, still in zip(names, units, places, gap, r, steady) if np.isfinite(g)]
    return (f"; against {name} in {windows} window{'s' * (windows != 1)} of {LIKE_WINDOW_S:g} s: " + ", ".join(said)
            if said else f"; walks the shape of {name}")


@dataclass(frozen=True)
class Asked:
    """What a run of `tsm generate` asked, as each file's line compares the piece with it: a key (tonal.KeyTold, and
    as typed), a tempo (pulse.TempoTold), a path of requests (style_request.StyleRamp) or one request (as parse_style reads
    it), a performance walked `like` (from its first note; named `like_name`)."""

    key: object | None = None
    key_as_typed: str | None = None
    tempo: object | None = None
    ramp: object | None = None
    style: dict[str, float] | None = None
    like: object | None = None
    like_name: str = ""


def heard_line(events, length_s: float, asked_from_s: float, asked: Asked, walked: str | None) -> str:
    """The end of a written file's line: what a listener hears of what was `asked`, in the `length_s` of `events`
    from `asked_from_s` on (after a prompt the file holds), and the training performance it `walked` (--composer)."""
    from .midi import continuation_only

    played = continuation_only(events, asked_from_s) if asked_from_s else events
    seconds = length_s - asked_from_s
    heard = ""
    if asked.tempo is not None or asked.key is not None or asked.ramp is not None:
        heard = heard_as_asked(played, seconds, asked.tempo, asked.key, asked.key_as_typed, asked_from_s, asked.ramp)
    if walked is not None:
        heard += f"; walks {walked}"
    if asked.style is not None:
        heard += style_heard(played, seconds, asked.style)
    if asked.like is not None:
        heard += like_heard(played, seconds, asked.like, asked.like_name)
    return heard


def made_version() -> str:
    """What every marker starts with: markers.MADE_BY and the version that wrote the file."""
    from importlib.metadata import PackageNotFoundError, version

    from .markers import MADE_BY

    try:
        return f"{MADE_BY} {version('timestepmusic')}"
    except PackageNotFoundError:  # (run from a source tree)
        return MADE_BY


def made_by(request: list[str], piece: int, pieces: int) -> str:
    """The marker each generated file starts with: the version and the command that draws it again, alone: the
    `request`'s words, one way of saying it for all (requests.request_words: what changes no note left out, where it was
    written, what went beside it, which pieces were written; each flag spelled out, none at its default, in one
    order), and the piece as --piece numbers it (as its file: from 0) where -n drew several. The same request gives
    the same file wherever it is written, however its flags were typed, and whether its piece was written alone or
    with the others."""
    return f"{made_version()}: tsm {shlex.join(request)}" + (f" --piece {piece}" if pieces > 1 else "")
