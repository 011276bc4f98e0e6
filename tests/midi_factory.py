"""Tiny MIDI files for the tests, written with mido (an encoder independent of symusic).

Times are absolute ticks here; `midi_bytes` turns them into delta times. Helpers return bytes or
write into a folder the test owns (always under pytest's tmp_path).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np


@dataclass(frozen=True)
class Note:
    pitch: int
    on: int  # tick
    off: int  # tick
    velocity: int = 64
    channel: int = 0


@dataclass(frozen=True)
class CC:
    number: int
    value: int
    tick: int
    channel: int = 0


def midi_bytes(notes=(), controls=(), *, ticks_per_quarter: int = 480, tempos=((0, 500_000),),
               note_off: str = "note_off", file_type: int = 0, end_tick: int | None = None, programs=()) -> bytes:
    """A MIDI file as bytes.

    tempos: (tick, microseconds per quarter) pairs. note_off: "note_off" or "velocity0" (a note_on
    with velocity 0). file_type 0 puts everything in one track; 1 puts the tempo map in a track of
    its own and the notes and controllers in a second one. programs: (channel, program) pairs, each a program
    change at tick 0, or (channel, program, tick) triples.
    """
    assert note_off in ("note_off", "velocity0")
    meta = [(tick, 0, mido.MetaMessage("set_tempo", tempo=tempo, time=0)) for tick, tempo in tempos]
    body = [(at[0] if at else 0, 0, mido.Message("program_change", channel=channel, program=program))
            for channel, program, *at in programs]
    for n in notes:
        body.append((n.on, 2, mido.Message("note_on", note=n.pitch, velocity=n.velocity, channel=n.channel)))
        if note_off == "note_off":
            off = mido.Message("note_off", note=n.pitch, velocity=64, channel=n.channel)
        else:
            off = mido.Message("note_on", note=n.pitch, velocity=0, channel=n.channel)
        body.append((n.off, 1, off))  # at a shared tick, releases before new strikes
    for c in controls:
        body.append((c.tick, 1, mido.Message("control_change", control=c.number, value=c.value, channel=c.channel)))

    def track(items) -> mido.MidiTrack:
        items = sorted(items, key=lambda x: (x[0], x[1]))  # stable: the given order stays at a shared tick
        out, now = mido.MidiTrack(), 0
        for tick, _, msg in items:
            out.append(msg.copy(time=tick - now))
            now = tick
        last = max([now] + ([end_tick] if end_tick is not None else []))
        out.append(mido.MetaMessage("end_of_track", time=last - now))
        return out

    mid = mido.MidiFile(type=file_type, ticks_per_beat=ticks_per_quarter)
    if file_type == 0:
        mid.tracks.append(track(meta + body))
    else:
        mid.tracks.append(track(meta))
        mid.tracks.append(track(body))
    buffer = io.BytesIO()
    mid.save(file=buffer)
    return buffer.getvalue()


def write_midi(path: str | Path, notes=(), controls=(), **kwargs) -> Path:
    """`midi_bytes` written to `path` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(midi_bytes(notes, controls, **kwargs))
    return path


def simple_piece(seed: int = 0, *, notes: int = 12, ticks_per_quarter: int = 480, pedal: bool = True):
    """A small deterministic piece: (notes, controls). Different seeds give different music."""
    rng = np.random.default_rng(seed)
    out, tick = [], 0
    for _ in range(notes):
        pitch = int(rng.integers(36, 96))
        length = int(rng.integers(ticks_per_quarter // 8, ticks_per_quarter * 2))
        out.append(Note(pitch, tick, tick + length, int(rng.integers(20, 120))))
        tick += int(rng.integers(ticks_per_quarter // 16, ticks_per_quarter))
    controls = []
    if pedal:
        controls = [CC(64, int(rng.integers(40, 127)), ticks_per_quarter // 4), CC(64, 0, tick // 2),
                    CC(67, int(rng.integers(1, 127)), tick // 3), CC(67, 0, tick)]
    return out, controls


def write_piece(path: str | Path, seed: int = 0, **kwargs) -> Path:
    notes, controls = simple_piece(seed)
    return write_midi(path, notes, controls, **kwargs)


def bad_files(folder: str | Path) -> dict[str, Path]:
    """One file of each kind that cannot become a performance, keyed by a short name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    good = midi_bytes(*simple_piece(1))
    files = {
        "empty": folder / "empty.mid",
        "not_midi": folder / "not_midi.mid",
        "truncated": folder / "truncated.mid",
        "drums_only": folder / "drums_only.mid",
    }
    files["empty"].write_bytes(b"")
    files["not_midi"].write_bytes(b"this is not a MIDI file at all\n" * 4)
    files["truncated"].write_bytes(good[: len(good) // 2])
    files["drums_only"].write_bytes(midi_bytes([Note(38, 0, 240, 100, channel=9), Note(42, 240, 480, 90, channel=9)]))
    return files


def presses_in_file(path: str | Path) -> int:
    """How many times a pedal goes down in a MIDI file (a CC 64, 66 or 67 value above 0 after 0, or first), read with
    mido: each pedal of the first track with notes counted apart."""
    track = next(t for t in mido.MidiFile(str(path)).tracks if any(m.type == "note_on" for m in t))
    presses, down = 0, {}
    for message in track:
        if message.type == "control_change" and message.control in (64, 66, 67):
            presses += message.value > 0 and not down.get(message.control, False)
            down[message.control] = message.value > 0
    return presses
