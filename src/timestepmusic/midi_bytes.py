"""What symusic leaves out of a MIDI file, read from its bytes.

symusic (as pretty_midi) drops two things without a word: a channel's controllers where that channel of that track
holds no note (a pedal in a track of its own, as notation programs and sequencers export it, or on a channel without
notes), and a note struck that no note-off follows (a recording stopped with keys held). Both are read here from
the file's channel messages, walked once, so that what reads the file can keep the pedal and say what was lost; a
performance to continue (midi.read_prompt) keeps such notes too, held to its end (keep_unreleased).
Reading stops at whatever is not valid MIDI (symusic has read, or refused, the file already). On the 984 ASAP
performances the pedal messages of channel 0 match symusic's exactly and no note is left unreleased.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import symusic

HEADER_BYTES = 14  # 'MThd', its length (6), format, tracks, division
PEDALS = (64, 66, 67)  # the damper, sostenuto and una corda controllers
HELD_KEY_S = 10.0  # keep_unreleased: a key held this long at most when a recording stopped (a final chord's fermata)
END_OF_TRACK = 0x2F  # the meta event that closes a track chunk (_track_messages yields it as (tick, 0xFF, 0x2F, 0))


def _number(data: bytes, i: int, end: int) -> tuple[int, int]:
    """The variable-length quantity at data[i:] → its value and the index after it."""
    value = 0
    while i < end:
        value, i = (value << 7) | (data[i] & 0x7F), i + 1
        if not data[i - 1] & 0x80:
            break
    return value, i


def _track_messages(data: bytes, i: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """The channel messages of one track chunk (data[i:end]) as (tick, status, first data byte, second or 0), and its
    end-of-track meta event as (tick, 0xFF, END_OF_TRACK, 0); other meta events and system exclusives skipped by their
    length. A data byte where a status byte belongs repeats the last
    channel message's status (running status), a meta event or system exclusive between them or not."""
    tick, status = 0, 0
    while i < end:
        delta, i = _number(data, i, end)
        tick += delta
        if i >= end:
            return
        if data[i] in (0xFF, 0xF0, 0xF7):  # a meta event (its type first) or a system exclusive: skipped by length,
            if data[i] == 0xFF and i + 1 < end and data[i + 1] == END_OF_TRACK:  # (said: where the track ends)
                yield tick, 0xFF, END_OF_TRACK, 0
            length, i = _number(data, i + 1 + (data[i] == 0xFF), end)  # the running status kept past it as symusic
            i += length  # keeps it (a marker between two messages of one status)
            continue
        if data[i] & 0x80:
            status, i = data[i], i + 1
        if status < 0x80 or status > 0xF0:  # data before any status, or a message no file holds: damaged
            return
        size = 1 if status & 0xF0 in (0xC0, 0xD0) else 2  # (a program change or channel pressure: one data byte)
        if i + size > end:
            return
        yield tick, status, data[i], data[i + 1] if size == 2 else 0
        i += size


def tracks(data: bytes) -> Iterator[Iterator[tuple[int, int, int, int]]]:
    """Each track chunk's channel messages (_track_messages), in the file's order; none where data is no MIDI file."""
    if len(data) < HEADER_BYTES or data[:4] != b"MThd":
        return
    i = 8 + int.from_bytes(data[4:8], "big")  # past the header, whatever length it gives
    while i + 8 <= len(data):
        end = min(i + 8 + int.from_bytes(data[i + 4:i + 8], "big"), len(data))
        if data[i:i + 4] == b"MTrk":
            yield _track_messages(data, i + 8, end)
        i = end


def scan(data: bytes) -> tuple[dict[str, np.ndarray], int]:
    """One walk over a MIDI file's channel messages → (its pedals' control changes: columns time (ticks), channel,
    number, value [M], track by track in the file's order; how many notes it strikes that no note-off of the same
    channel and key follows in their track, a note-on of velocity 0 releasing as a note-off: 0 where it cannot
    tell)."""
    rows, unreleased = [], 0
    for messages in tracks(data):
        held: dict[tuple[int, int], int] = {}  # (channel, key) → strikes not yet released
        for tick, status, first, second in messages:
            kind = status & 0xF0
            if kind == 0xB0:
                if first in PEDALS:
                    rows.append((tick, status & 0x0F, first, second))
            elif kind == 0x90 and second > 0:
                held[status & 0x0F, first] = held.get((status & 0x0F, first), 0) + 1
            elif kind in (0x80, 0x90) and held.get((status & 0x0F, first)):
                held[status & 0x0F, first] -= 1
        unreleased += sum(held.values())
    table = np.array(rows, dtype=np.int64).reshape(-1, 4)  # [M, 4]
    return dict(zip(("time", "channel", "number", "value"), table.T)), unreleased


def pedal_controls(data: bytes) -> dict[str, np.ndarray]:
    """The control changes of the three pedals in a MIDI file (scan's first)."""
    return scan(data)[0]


def unreleased_notes(data: bytes) -> int:
    """How many notes a MIDI file strikes and never releases in their track (scan's second)."""
    return scan(data)[1]


def unreleased_strikes(data: bytes) -> dict[str, np.ndarray]:
    """The notes a MIDI file strikes that no note-off follows in their track (those scan counts, which the parser
    drops; of two strikes of a key and one release, the later: symusic releases the first) → columns time (ticks),
    channel, key, velocity, program (the channel's last program change before it in the track: 0 without), end (the
    tick its track ends at: its end-of-track event, else its last message) and restruck (1 where a release of its key
    follows it: a key struck again before it rose, whose one release symusic gives the strike before) [U]."""
    rows = []
    for messages in tracks(data):
        held: dict[tuple[int, int], list[list[int]]] = {}  # (channel, key) → [tick, velocity, program, restruck]
        programs: dict[int, int] = {}
        last = 0
        for tick, status, first, second in messages:
            kind, channel, last = status & 0xF0, status & 0x0F, tick
            if kind == 0xC0:
                programs[channel] = first
            elif kind == 0x90 and second > 0:
                held.setdefault((channel, first), []).append([tick, second, programs.get(channel, 0), 0])
            elif kind in (0x80, 0x90) and held.get((channel, first)):
                held[channel, first].pop(0)
                for strike in held[channel, first]:  # (struck before this release, which symusic gave another)
                    strike[3] = 1
        rows += [(tick, channel, key, velocity, program, last, restruck)
                 for (channel, key), strikes in held.items() for tick, velocity, program, restruck in strikes]
    table = np.array(rows, dtype=np.int64).reshape(-1, 7)  # [U, 7]
    return dict(zip(("time", "channel", "key", "velocity", "program", "end", "restruck"), table.T))


def keep_unreleased(score: symusic.Score, data: bytes, pedals: dict[str, np.ndarray]) -> int:
    """The notes the file of `data` strikes and never releases (unreleased_strikes: a recording stopped with a chord
    held, which the parser drops) put in `score`, held to where the playing ends (the end of their track, or where the
    last note or pedal off the drum channel ends where that is later: `played_end`, with the file's `pedals`, scan's),
    each in a track of its channel's program (none of the drum channel's), so that they are read as its other notes
    are; only those struck within HELD_KEY_S of that end (a note-off lost mid-file is left out, not held for minutes)
    and that no release of their key follows (a key struck again before it rose and released once: it was let go
    there, not held to the end; left out as read_events leaves it). Returns how many were put in."""
    from .midi import ticks_to_seconds

    struck = unreleased_strikes(data)  # [U] each
    end = np.maximum(struck["end"], played_end(score, pedals))  # [U]
    late = ticks_to_seconds(end, score) - ticks_to_seconds(struck["time"], score) <= HELD_KEY_S  # [U]
    late &= struck["channel"] != 9  # (the drum channel's are never read: left out, and said so, as before)
    late &= struck["restruck"] == 0  # (released: the key sounds to that release from the strike before)
    for channel, program in sorted(set(zip(struck["channel"][late].tolist(), struck["program"][late].tolist()))):
        mine = late & (struck["channel"] == channel) & (struck["program"] == program)  # [U]
        track = symusic.Track(f"held at the end, channel {channel + 1}", program, False)
        track.notes = symusic.Note.from_numpy(time=struck["time"][mine].astype(np.int32),
                                              duration=np.maximum(end - struck["time"], 1)[mine].astype(np.int32),
                                              pitch=struck["key"][mine].astype(np.int8),
                                              velocity=struck["velocity"][mine].astype(np.int8))
        score.tracks.append(track)
    return int(late.sum())


def played_end(score: symusic.Score, pedals: dict[str, np.ndarray]) -> int:
    """The tick where the playing of `score` ends: its last note's end or its last pedal message (`pedals`: its
    file's, scan's; one in a track of its own included), off the drum channel; not a metronome's click, a marker, a
    lyric, a tempo change or another controller that a sequencer writes on after it (keep_unreleased)."""
    ends = [int((notes["time"] + notes["duration"]).max()) for notes in
            (track.notes.numpy() for track in score.tracks if not track.is_drum) if notes["time"].size]
    return max([0] + ends + pedals["time"][pedals["channel"] != 9].tolist())
