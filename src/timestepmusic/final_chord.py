"""A closed piece's final onset made a held, heard chord (ar.final_held_s, ar.final_velocity_floor), after drawing.

Pianists who end a piece on a short chord leave a breath before it: on the validation split, 34 % of performances
end on a final onset none of whose notes is held 1 s, but only 4 % on one struck less than HURRIED_S after the onset
before it. The default's closed pieces end that way three or four times as often: 12 / 15 % of those that end
themselves and 17 / 18 % of 20 s --ending pieces at sampling seeds 5151 / 6262 (7 / 7 % of continued prompts): a
passage running into the end, its last notes as short as the ones before (bench/results/final_chord_55_*.md).
Such a hurried final onset has its notes held at least ar.final_held_s (`held_if_hurried`); and a final onset much
softer than the music before it is raised to ar.final_velocity_floor × that music's median velocity (`floored_velocity`).

Both take the final onset as ritardando.final_onset_s does (the last note's start, with the notes struck within
ONSET_S before it) and change only its notes.
"""
from __future__ import annotations

import numpy as np

from timestepmusic.midi import Events

HURRIED_S = 0.5  # a final onset whose last note is struck less than this after the last note before it is hurried
RECENT_S = 10.0  # the seconds before the final onset whose notes' median velocity the floor is relative to
MAX_VELOCITY = 127


def final_notes(events: Events, final_s: float) -> np.ndarray:
    """Which events [E] (bool) are the notes of the final onset starting at `final_s`."""
    return events.is_note & (events.start_s >= final_s - 1e-9)


def held_if_hurried(events: Events, final_s: float, held_s: float, end_s: float) -> Events:
    """`events` with the notes of the final onset at `final_s` held at least `held_s` seconds (no later than
    `end_s`, the piece's end) where that onset's last note is struck less than HURRIED_S after the last note before
    the onset (as bench/endings.py's gap), or no note comes before it; as they are where it is not, or `held_s` is 0."""
    final = final_notes(events, final_s)  # [E]
    before = events.start_s[events.is_note & ~final]  # [N']
    if held_s <= 0.0 or not final.any():
        return events
    if before.size and float(events.start_s[final].max()) - float(before.max()) >= HURRIED_S:
        return events
    longest_s = np.clip(end_s - events.start_s, 0.0, held_s)  # [E]: what each may be held, the piece's end allowing
    duration_s = np.where(final, np.maximum(events.duration_s, longest_s), events.duration_s)  # [E]
    return Events(events.ids, events.start_s, duration_s, events.intensity, events.end_s)


def floored_velocity(events: Events, final_s: float, floor: float, recent_s: float = RECENT_S) -> Events:
    """`events` with the notes of the final onset at `final_s` played louder, all by one factor, where its loudest
    is under `floor` × the median velocity of the notes struck in the `recent_s` seconds before it, so that its
    loudest reaches that (at most MAX_VELOCITY: `floor` is at most 1); as they are where it is not, no note comes in those
    seconds, or `floor` is 0."""
    final = final_notes(events, final_s)  # [E]
    recent = events.is_note & ~final & (events.start_s >= final_s - recent_s)  # [E]
    if floor <= 0.0 or not final.any() or not recent.any():
        return events
    wanted = floor * float(np.median(events.intensity[recent]))
    loudest = float(events.intensity[final].max())
    if loudest >= wanted:
        return events
    raised = np.clip(np.ceil(events.intensity * (wanted / loudest) - 1e-9), 1, MAX_VELOCITY)  # [E] (up: the loudest
    # reaches the floor, not a velocity under it)
    intensity = np.where(final, raised, events.intensity).astype(np.uint8)  # [E]
    return Events(events.ids, events.start_s, events.duration_s, intensity, events.end_s)
