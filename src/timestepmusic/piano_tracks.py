"""Which of a MIDI file's tracks and controller messages are the piano's, for midi.score_to_events: a voice playing
beside the piano (a layer or split) is left out, and its pedal is not read again from the file's bytes."""
from __future__ import annotations

import numpy as np
import symusic

PIANOS = (range(4), range(8))  # General MIDI's pianos (grand, bright, electric grand, honky-tonk), then its piano family
# (… electric pianos, harpsichord, clavinet): the voices read as the piano, the first of them a file plays (a track
# without a program change is 0)
FAMILIES = ("piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass", "reed", "pipe",
            "synth lead", "synth pad", "synth effects", "ethnic", "percussive", "sound effects")  # General MIDI's, 8 each


def played_by_no_piano(score: symusic.Score) -> str | None:
    """Where a file's notes are all played by other instruments than a piano (every track with notes, but the drum
    channel's, under a program outside PIANOS: a violin's 40, a choir's 52), why it is not read as piano, in words;
    None where some track plays a piano program (or none has notes, and the reader says so)."""
    played = sorted({int(t.program) for t in score.tracks if not t.is_drum and len(t.notes)})
    if not played or any(program in PIANOS[-1] for program in played):
        return None
    voices = ", ".join(f"{program} ({FAMILIES[program // 8]})" for program in played)
    return (f"no piano plays in the file: its notes are all on other instruments' programs, {voices}, none on a "
            f"piano's (General MIDI's 0–{PIANOS[-1][-1]}, counted from 0; a track without a program change is 0): give "
            "its tracks a piano's program to read it as piano")


def held_by(raw: dict[str, np.ndarray], tracks: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Which of the control changes `raw` (midi_bytes.scan's columns, [M]) are those the `tracks` (symusic's
    Track.controls.numpy() of each) hold, one for one by tick, number and value: a layer's pedal, read with its notes
    and left out, is not read again from the bytes, though the piano's own on a channel without notes is."""
    def keys(time: np.ndarray, number: np.ndarray, value: np.ndarray) -> np.ndarray:
        return (time.astype(np.int64) << 16) | (number.astype(np.int64) << 8) | value.astype(np.int64)

    mine = keys(raw["time"], raw["number"], raw["value"])  # [M]
    theirs = np.concatenate([np.zeros(0, np.int64)] + [keys(t["time"], t["number"], t["value"]) for t in tracks])
    order = np.argsort(mine, kind="stable")
    rank = np.empty(mine.size, np.int64)  # [M]: how many earlier messages are the same as each
    rank[order] = np.arange(mine.size) - np.searchsorted(mine[order], mine[order], side="left")
    same, counts = np.unique(theirs, return_counts=True)
    at = np.minimum(np.searchsorted(same, mine), max(same.size - 1, 0))
    held = counts[at] if same.size else np.zeros(mine.size, np.int64)  # [M]: how many of it the tracks hold
    return (same[at] == mine if same.size else np.zeros(mine.size, bool)) & (rank < held)


BESIDE_SHARE = 0.5  # a voice whose notes start more than this share of the time while the piano sounds plays beside it


def beside_piano(piano_notes: list[dict[str, np.ndarray]], ticks_per_quarter: int):
    """Whether a track's notes (symusic's Track.notes.numpy()) play beside the piano's (the notes of `piano_notes`' tracks):
    more than BESIDE_SHARE of them start while a piano note sounds, or within a quarter note of one (a layer strikes
    with the piano, a split's other hand plays along with it). A voice the player switched to on the piano's own
    channel (symusic files each program's notes and controllers as a track of its own) plays after the piano's
    notes, not beside them."""
    on = np.concatenate([np.zeros(0, np.int64)] + [n["time"].astype(np.int64) for n in piano_notes])  # [P]
    off = on + np.concatenate([np.zeros(0, np.int64)] + [n["duration"].astype(np.int64) for n in piano_notes])  # [P]
    order = np.argsort(on, kind="stable")
    margin = max(ticks_per_quarter, 1)
    on = on[order] - margin
    reach = np.maximum.accumulate(off[order] + margin) if on.size else on  # [P]: a piano note sounds until here

    def beside(track_notes: dict[str, np.ndarray]) -> bool:
        start = track_notes["time"].astype(np.int64)  # [Q]
        last = np.searchsorted(on, start, side="right") - 1  # [Q]: the latest piano note begun by then
        sounding = (last >= 0) & (reach[np.maximum(last, 0)] > start) if on.size else np.zeros(start.size, bool)
        return bool(start.size) and bool(sounding.mean() > BESIDE_SHARE)

    return beside
