"""How long a performance's notes and pedals are held (Events in, Events or a figure out): restrikes merged, gaps
between a pedal's presses closed, everything released by a time; when the last sound ends, how many presses a pedal
makes, where its runs start and end."""
from __future__ import annotations

import math

import numpy as np

from .midi import DAMPER_ID, NUM_KEYS, SOFT_ID, SOSTENUTO_ID, Events


def release_by(events: Events, end_s: float, after_sound: bool = False) -> Events:
    """Every note and pedal released by `end_s` (a held chord may not ring on long after the piece); with
    `after_sound`, every pedal lifted by the time the last note stops sounding too (`sound_end_s`; a generated piece:
    no una corda, or damper pressed after its notes, held down in silence to `end_s`; none in a piece without notes)."""
    duration = np.minimum(events.duration_s, np.maximum(end_s - events.start_s, 0.0))
    released = Events(events.ids, events.start_s, duration, events.intensity)
    if not after_sound:
        return released
    heard_s = sound_end_s(released)
    kept = np.flatnonzero(released.is_note | (released.start_s < heard_s))  # (a pedal pressed in the silence: gone)
    duration = np.where(released.is_note, duration, np.minimum(duration, heard_s - released.start_s))
    return Events(released.ids, released.start_s, duration, released.intensity).take(kept)


def sound_end_s(events: Events) -> float:
    """When the last note stops sounding: at its release, or where the damper or sostenuto is down then, when that
    pedal is lifted (each pedal down while any of its presses is held; the sostenuto taken to hold every note), and so
    on where the other pedal is down at that lift (a note the sostenuto holds past the damper's lift, or the damper past
    the sostenuto's, rings on)."""
    heard_s = (events.start_s + events.duration_s)[events.is_note]  # [N]
    lifts = []  # per pedal: (press starts [M], reach [M], the lift that follows each press [M])
    for pedal_id in (DAMPER_ID, SOSTENUTO_ID):
        mine = np.flatnonzero(events.ids == pedal_id)
        mine = mine[np.argsort(events.start_s[mine], kind="stable")]
        if not mine.size:
            continue
        start_s = events.start_s[mine]  # [M]
        reach_s = np.maximum.accumulate(start_s + events.duration_s[mine])  # [M]: down until here from each press
        lifted_s = np.minimum.accumulate(np.append(np.where(start_s[1:] > reach_s[:-1], reach_s[:-1], np.inf),
                                                   reach_s[-1])[::-1])[::-1]  # [M]: the lift that follows each press
        lifts.append((start_s, reach_s, lifted_s))
    for _ in range(2 * sum(s.size for s, _, _ in lifts) + 1):  # (each pass that changes reaches a later lift)
        before = heard_s
        for start_s, reach_s, lifted_s in lifts:
            held = np.searchsorted(start_s, heard_s, side="right") - 1  # [N]: the last press at or before each end
            down = (held >= 0) & (heard_s < reach_s[np.maximum(held, 0)])  # [N]: the pedal is down then
            heard_s = np.where(down, np.maximum(heard_s, lifted_s[np.maximum(held, 0)]), heard_s)
        if np.array_equal(heard_s, before):
            break
    return float(heard_s.max(initial=0.0))


def pedal_presses(events: Events) -> int:
    """How many times a pedal goes down in `events` (from up), each pedal counted apart: a pedal event is one depth bin
    of a press (`pedal_events`), and a pedal is down while any of its events is held, so that events that overlap or
    follow one another without a lift (a press going deeper) are one press, as the file written from them
    (`pedal_messages`) holds one; an event that lasts no time is none."""
    presses = 0
    for pedal_id in (DAMPER_ID, SOSTENUTO_ID, SOFT_ID):
        mine = np.flatnonzero((events.ids == pedal_id) & (events.duration_s > 0))
        mine = mine[np.argsort(events.start_s[mine], kind="stable")]
        start_s = events.start_s[mine]  # [M]
        reach_s = np.maximum.accumulate(start_s + events.duration_s[mine])  # [M]: down until here from each event on
        presses += int(mine.size > 0) + int((start_s[1:] > reach_s[:-1]).sum())  # (a lift before each that starts one)
    return presses


RESTRIKE_OVERLAP_S = 0.05  # a strike less than this before the earlier note's release is a repeated note


def merge_restrikes(events: Events, extend: bool = False) -> Events:
    """A key struck again while an earlier note of it still sounds (by more than RESTRIKE_OVERLAP_S) is read as
    that note going on: the later note is dropped, and with `extend` the earlier one lasts until the later would
    have ended. Chunks decode one at a time, so a note that crosses into the next chunk may be decoded there
    once more, and MIDI would cut the first at the second strike: two short notes for one long one. A strike
    within RESTRIKE_OVERLAP_S of the release stays a repeated note (fast repeats decode slightly long)."""
    note = np.flatnonzero((events.ids >= 0) & (events.ids < NUM_KEYS))
    if note.size < 2:
        return events
    # by key, then onset, the longest first at one onset (so that the kept note does not depend on input order)
    order = note[np.lexsort((-events.duration_s[note], events.start_s[note], events.ids[note]))]
    key, start = events.ids[order].tolist(), events.start_s[order].tolist()
    end = (events.start_s[order] + events.duration_s[order]).tolist()
    duration, keep = events.duration_s.copy(), np.ones(len(events), dtype=bool)
    first, held_until = -1, -np.inf  # the note still sounding on this key (index into order), and until when
    for j in range(order.size):  # sequential: with `extend`, a note's end grows as later strikes join it
        if j > 0 and key[j] == key[j - 1] and (start[j] < held_until - RESTRIKE_OVERLAP_S
                                                or start[j] == start[first]):
            keep[order[j]] = False
            if extend and end[j] > held_until:
                held_until = end[j]
                duration[order[first]] = held_until - start[first]
            continue
        first, held_until = j, end[j]
    return Events(events.ids[keep], events.start_s[keep], duration[keep], events.intensity[keep], events.end_s)


def join_pedal_runs(events: Events, gap_s: float, share: float = 0.0, from_s: float = -math.inf,
                    pedals: tuple[int, ...] = (DAMPER_ID, SOSTENUTO_ID, SOFT_ID)) -> Events:
    """Close gaps of at most `gap_s`, or of at most `share` × the duration of the press held longest before
    it, between consecutive events of one pedal (that press is extended to the later's start: a gap is measured
    from the latest release before it, since the pedal stays down while any press is held). A held pedal that
    changes depth is a run of abutting events; a decoded or drawn one that ends a few ms early (or, drawn, a few % of
    its length: a duration bin is ~10 % wide) would otherwise lift the pedal and press it again. With `from_s`, only
    the gaps from `from_s` on (a continuation's, and one after a prompt's press held past its end: a lift the prompt
    made before it is kept, though a press drawn just after it follows within `gap_s`). With `pedals`, those pedals'
    gaps only."""
    if (gap_s <= 0 and share <= 0) or not len(events):
        return events
    duration = events.duration_s.copy()
    for pedal_id in pedals:
        mine = np.flatnonzero(events.ids == pedal_id)
        mine = mine[np.argsort(events.start_s[mine], kind="stable")]
        if mine.size < 2:
            continue
        start, end = events.start_s[mine], events.start_s[mine] + duration[mine]
        reach = np.maximum.accumulate(end)  # [M]: the pedal is held until here (MIDI's reading)
        holder = mine[np.maximum.accumulate(np.where(end >= reach, np.arange(mine.size), 0))]  # [M]: whose press
        gap = start[1:] - reach[:-1]  # [M - 1]: a lift only where no earlier press is still held
        close = (gap > 0) & (gap <= np.maximum(gap_s, share * duration[holder[:-1]])) & (reach[:-1] >= from_s)
        duration[holder[:-1][close]] = start[1:][close] - events.start_s[holder[:-1][close]]
    return Events(events.ids, events.start_s, duration, events.intensity, events.end_s)


def pedal_run_bounds(start_s: np.ndarray, end_s: np.ndarray, join_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pedal's events in time order (start and end times [M], M ≥ 1) → where each of its runs starts and ends [G]
    each (s), and each event's run [M]: a run goes on while each next event starts at most `join_s` after the latest
    release so far (the pedal is held while any of its presses is, as MIDI reads it)."""
    reach = np.maximum.accumulate(end_s)  # [M]: the pedal is held until here
    new = np.r_[True, start_s[1:] > reach[:-1] + join_s]  # [M]: the event starts a run
    first = np.flatnonzero(new)  # [G]
    last = np.r_[first[1:] - 1, start_s.size - 1]  # [G]: each run's last event
    return start_s[first], reach[last], np.cumsum(new) - 1
