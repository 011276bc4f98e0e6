"""Strikes of one key closer together than a pianist can repeat it, joined into one note.

Why: the events arm draws each note's key and start on its own, and now and then strikes a key twice a few
milliseconds apart, across a chunk's edge or in neighbouring start bins: 0.52 % of the default's notes followed a
strike of their key by under 30 ms, where 2 of 740,176 notes of 300 ASAP performances do (0.006 % under 50 ms;
bench/flams.py; a new user's trial found one in half the files it drew). Written, such a pair is a click of a note a
few ticks long and a restrike: no piano repeats a key that fast. (holds.merge_restrikes is another rule: a decoded
note struck again while it still sounds.)
How: among the notes of a piece from `from_s` on (what was drawn; a prompt's notes are the player's), each note
struck less than MIN_REPEAT_S after the strike before it on its key joins that one: the joined note starts at the
first strike, lasts until the last of them ends, at the loudest one's intensity. Pedals are untouched. A drawn
strike within MIN_REPEAT_S after a prompt's strike of its key is dropped: the prompt's note is never changed (written,
the pair was a restrike of the prompt's last note a few ms into the continuation).
Shapes: E events, N notes, G groups of strikes joined into one.
"""
from __future__ import annotations

import numpy as np

from .midi import Events

MIN_REPEAT_S = 0.04  # under this, a second strike of a key joins the first (12 of 740,176 real notes follow theirs so soon)


def flams_joined(events: Events, from_s: float = 0.0, min_repeat_s: float = MIN_REPEAT_S) -> Events:
    """`events` with each note from `from_s` on that follows a strike of its key by less than `min_repeat_s` joined
    into that strike (its start, the latest end, the loudest intensity), or dropped where that strike is before
    `from_s` (a prompt's note, kept as it is); as it is where there is none."""
    notes = np.flatnonzero(events.is_note & (events.start_s >= from_s - min_repeat_s))  # [N]: a prompt's last too
    notes = notes[np.lexsort((events.start_s[notes], events.ids[notes]))]  # by key, then start
    key, start = events.ids[notes], events.start_s[notes]
    joins = (key[1:] == key[:-1]) & (start[1:] - start[:-1] < min_repeat_s) & (start[1:] >= from_s)  # [N − 1]: note
    if not joins.any():  # i + 1 (drawn) joins note i
        return events
    first = np.flatnonzero(np.concatenate([[True], ~joins]))  # [G]: where each joined group begins, in `notes`
    lead = notes[first]  # [G]: the event each group keeps
    end = np.maximum.reduceat(start + events.duration_s[notes], first)  # [G]
    drawn = events.start_s[lead] >= from_s  # [G]: a prompt's note keeps its own length and intensity
    duration, intensity = events.duration_s.copy(), events.intensity.copy()
    duration[lead[drawn]] = end[drawn] - events.start_s[lead[drawn]]
    intensity[lead[drawn]] = np.maximum.reduceat(events.intensity[notes], first)[drawn]
    kept = np.ones(len(events), dtype=bool)
    kept[notes] = False
    kept[lead] = True
    return Events(events.ids, events.start_s, duration, intensity, events.end_s).take(np.flatnonzero(kept))
