"""MIDI file ⇄ events, with symusic. All arrays are vectorised over notes and controller messages.

An event is (id, start_s, duration_s, intensity):
  id 0–87   piano key, MIDI pitch 21–108; intensity = velocity 1–127
  id 88     damper (CC64), 89 sostenuto (CC66), 90 soft (CC67); intensity = time-weighted mean
            CC value over the event, 1–127. A pedal event starts when the value enters a depth bin
            and lasts until it leaves it; value 0 (pedal up) is never an event.
Times are seconds from the start of the file, computed in float64 from ticks through the tempo
map, so a file read and written back keeps every tick (binning off).
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import symusic

from .files import atomic_path
from .midi_bytes import PEDALS, pedal_controls, scan

log = logging.getLogger(__name__)

LOWEST_PITCH = 21
HIGHEST_PITCH = 108
NUM_KEYS = HIGHEST_PITCH - LOWEST_PITCH + 1  # 88
PEDAL_CONTROLLERS = PEDALS  # damper, sostenuto, soft (64, 66, 67) → ids 88, 89, 90
DAMPER_ID, SOSTENUTO_ID, SOFT_ID = 88, 89, 90
NUM_IDS = 91
WRITE_TICKS_PER_QUARTER = 960
WRITE_QUARTERS_PER_SECOND = 2.0  # 120 bpm, so one tick = 1/1920 s
READ_MAX_SECONDS = 4 * 3600.0  # read_events: the longest plausible file (check_timing; EventsConfig's default) …
READ_MAX_EVENTS_PER_SECOND = 400.0  # … and its densest events
READER_VERSION = 4  # raised whenever reading a file yields other events (2: the pedals symusic drops, midi_bytes.scan;
# an instrument layered with the piano left out; 3: a voice switched to on the piano's channel read, as before 2; 4: the
# piano's pedal on a channel without notes read beside a layer with a pedal of its own, held_by)
PIANOS = (range(4), range(8))  # General MIDI's pianos (grand, bright, electric grand, honky-tonk), then its piano family
# (… electric pianos, harpsichord, clavinet): the voices read as the piano, the first of them a file plays (a track
# without a program change is 0)


@dataclass
class Events:
    """One performance as events, sorted by (start_s, id). Arrays of shape [E]."""

    ids: np.ndarray  # int16, 0–90
    start_s: np.ndarray  # float64, seconds from the start of the file
    duration_s: np.ndarray  # float64, seconds
    intensity: np.ndarray  # uint8, 1–127
    end_s: float = 0.0  # length of the performance in seconds

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=np.int16)
        self.start_s = np.asarray(self.start_s, dtype=np.float64)
        self.duration_s = np.asarray(self.duration_s, dtype=np.float64)
        self.intensity = np.asarray(self.intensity, dtype=np.uint8)
        if self.ids.size:
            self.end_s = max(float(self.end_s), float(np.max(self.start_s + self.duration_s)))

    def __len__(self) -> int:
        return int(self.ids.size)

    def __repr__(self) -> str:  # a summary: the arrays of a whole performance run to thousands of lines
        notes = int((self.ids < NUM_KEYS).sum())
        return f"Events({notes} notes, {len(self) - notes} pedal events, {self.end_s:.2f} s)"

    def sorted(self) -> "Events":
        order = np.lexsort((self.ids, self.start_s))
        return self.take(order)

    def take(self, index: np.ndarray) -> "Events":
        return Events(self.ids[index], self.start_s[index], self.duration_s[index], self.intensity[index], self.end_s)

    @property
    def is_note(self) -> np.ndarray:
        return self.ids < NUM_KEYS

    @classmethod
    def concatenate(cls, parts: list["Events"]) -> "Events":
        if not parts:
            return cls(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
        return cls(np.concatenate([p.ids for p in parts]), np.concatenate([p.start_s for p in parts]),
                   np.concatenate([p.duration_s for p in parts]), np.concatenate([p.intensity for p in parts]),
                   max(p.end_s for p in parts)).sorted()


@dataclass
class DropCounts:
    """What a file held that is not an event, counted so nothing is dropped silently."""

    notes_out_of_range: int = 0
    drum_notes: int = 0
    other_instrument_notes: int = 0
    other_controllers: int = 0
    pedal_messages: int = 0
    restruck_notes: int = 0
    controller_numbers: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: (dict(v) if isinstance(v, dict) else int(v)) for k, v in self.__dict__.items()}

    def notes_left_out(self) -> str | None:
        """The notes a file holds that are not played (on the drum channel, beyond the piano's keys), in words;
        None where every note is."""
        why = ([f"{self.drum_notes} on the drum channel (10)"] if self.drum_notes else []) + (
            [f"{self.other_instrument_notes} of another voice beside the piano (a layer or split: strings, an electric "
             "piano beside a grand, a bass)"] if self.other_instrument_notes else []) + (
            [f"{self.notes_out_of_range} beyond the piano's keys (pitch 21–108) or silent (velocity 0)"]
            if self.notes_out_of_range else [])
        return ", ".join(why) or None


def load_score(path: str | Path) -> symusic.Score:
    """Read a MIDI file in ticks; raise ValueError naming the file when it is not usable MIDI."""
    return score_from_bytes(file_bytes(path), path)


def file_bytes(path: str | Path) -> bytes:
    """A file's bytes; ValueError naming it where it cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as e:  # (said in the words generate's --prompt and --like use)
        if Path(path).is_symlink():  # (a link whose file was moved or deleted: where it points)
            raise ValueError(f"{path}: cannot read: a link to {os.readlink(path)}, which is not there") from e
        raise ValueError(f"{path}: cannot read: no such file") from e
    except IsADirectoryError as e:
        raise ValueError(f"{path}: cannot read: a folder, not a MIDI file") from e
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror or e})") from e


def score_from_bytes(data: bytes, path: str | Path = "<bytes>") -> symusic.Score:
    if len(data) == 0:
        raise ValueError(f"{path}: empty file")
    if data[:4] != b"MThd":
        raise ValueError(f"{path}: not a MIDI file (no MThd header)")
    if len(data) >= 14 and data[12] >= 0x80:  # (a negative division: frames per second, then ticks per frame)
        raise ValueError(f"{path}: timed in SMPTE frames ({256 - data[12]} per second), which is not read; save it with "
                         "ticks per quarter note")
    if len(data) >= 14 and data[12:14] == b"\x00\x00":  # (every tick would last forever: 'it lasts inf h')
        raise ValueError(f"{path}: damaged MIDI file: its header gives 0 ticks per quarter note")
    try:
        return symusic.Score.from_midi(data)
    except (RuntimeError, ValueError, IndexError) as e:
        raise ValueError(f"{path}: {_parser_error(str(e))}") from e


def _parser_error(message: str) -> str:
    """symusic's parser message → what is wrong with the file, in words (the parser's own words after it)."""
    detail = message.removeprefix("MiniMidi: ").removesuffix(": iostream error").strip()
    if "chunk length" in message:
        what = "damaged MIDI file: a track says it is longer than the file (cut off, or not MIDI after the header)"
    elif "Get " in message or "status" in message:
        what = "damaged MIDI file: the track data is not valid MIDI (corrupt, or random bytes after the header)"
    else:
        what = "damaged MIDI file: it cannot be parsed"
    return f"{what}; parser said: {detail}"


def check_timing(events: "Events", path: str | Path, max_seconds: float, max_events_per_second: float) -> None:
    """Raise ValueError naming the file when its timing is implausible for a performance: longer than
    `max_seconds` (a huge tick value or an absurdly slow tempo) or more than `max_events_per_second`
    events starting within one second (an absurdly fast tempo)."""
    if events.end_s > max_seconds:
        raise ValueError(f"{path}: implausible timing: it lasts {events.end_s / 3600:,.1f} h (more than "
                         f"events.max_seconds={max_seconds:g} s); a huge tick value or an absurd tempo?")
    if len(events):
        peak = int(np.bincount(np.floor(events.start_s).astype(np.int64)).max())
        if peak > max_events_per_second:
            raise ValueError(f"{path}: implausible timing: {peak:,} events start within one second (more than "
                             f"events.max_events_per_second={max_events_per_second:g}); an absurd tempo?")


def ticks_to_seconds(ticks: np.ndarray, score: symusic.Score) -> np.ndarray:
    """Ticks → seconds (float64) through the score's tempo map; shape kept."""
    ticks = np.asarray(ticks, dtype=np.float64)
    tempos = score.tempos.numpy()
    change_ticks = tempos["time"].astype(np.float64)
    mspq = tempos["mspq"].astype(np.float64)
    if change_ticks.size == 0 or change_ticks[0] > 0:
        change_ticks = np.concatenate([[0.0], change_ticks])
        mspq = np.concatenate([[500000.0], mspq])
    seconds_per_tick = mspq / 1e6 / score.ticks_per_quarter
    change_seconds = np.concatenate([[0.0], np.cumsum(np.diff(change_ticks) * seconds_per_tick[:-1])])
    segment = np.searchsorted(change_ticks, ticks, side="right") - 1
    return change_seconds[segment] + (ticks - change_ticks[segment]) * seconds_per_tick[segment]


def end_at_restrike(pitch: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, int]:
    """A key struck again before its release ends the earlier note at the new strike. Returns new end, count."""
    order = np.lexsort((start, pitch))
    p, s, e = pitch[order], start[order], end[order]
    same_key_next = np.zeros(p.size, dtype=bool)
    same_key_next[:-1] = p[1:] == p[:-1]
    next_start = np.empty_like(s)
    next_start[:-1] = s[1:]
    cut = same_key_next & (next_start < e)
    e = np.where(cut, next_start, e)
    new_end = np.empty_like(end)
    new_end[order] = e
    return new_end, int(cut.sum())


def pedal_bin(values: np.ndarray, pedal_bins: int) -> np.ndarray:
    """CC value 0–127 → depth bin; 0 = up. pedal_bins = 0 keeps every value as its own bin."""
    values = values.astype(np.int64)
    if pedal_bins == 0:
        return values
    return np.where(values == 0, 0, 1 + (values - 1) * pedal_bins // 127)


def pedal_events(times: np.ndarray, values: np.ndarray, end: float, pedal_bins: int):
    """One pedal's CC messages (sorted by time) → (start, end, intensity) per run of one nonzero bin.

    times may be ticks or seconds; `end` (same unit) ends a pedal still down at the end of the file.
    """
    if times.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.uint8)
    bins = pedal_bin(values, pedal_bins)
    run_first = np.flatnonzero(np.diff(bins, prepend=0) != 0)  # index of the first message of each run
    run_end_index = np.append(run_first[1:], times.size)
    run_start = times[run_first].astype(np.float64)
    run_stop = np.append(times[run_first[1:]], end).astype(np.float64)
    hold = np.diff(times.astype(np.float64), append=float(end))  # how long each message's value holds
    weighted = np.concatenate([[0.0], np.cumsum(values * hold)])
    held = np.concatenate([[0.0], np.cumsum(hold)])
    counts = np.concatenate([[0], np.cumsum(np.ones_like(hold))])
    plain = np.concatenate([[0.0], np.cumsum(values.astype(np.float64))])
    span = held[run_end_index] - held[run_first]
    mean_weighted = (weighted[run_end_index] - weighted[run_first]) / np.where(span > 0, span, 1)
    mean_plain = (plain[run_end_index] - plain[run_first]) / (counts[run_end_index] - counts[run_first])
    mean = np.where(span > 0, mean_weighted, mean_plain)
    down = (bins[run_first] != 0) & (run_stop > run_start)  # a value replaced at the same tick never sounds
    intensity = np.clip(np.rint(mean[down]), 1, 127).astype(np.uint8)
    return run_start[down], run_stop[down], intensity


def score_to_events(score: symusic.Score, *, pedal_bins: int = 4, data: bytes | None = None,
                    file_pedals: dict[str, np.ndarray] | None = None,
                    held_at_end: list[int] | None = None) -> tuple[Events, DropCounts]:
    """A tick-time score → events in seconds, and what was dropped. With the file's bytes (`data`), or the pedal
    messages already read from them (`file_pedals`: midi_bytes.scan's), a pedal of which symusic's score holds no
    message is read from them (one in a track or channel without notes), from any channel but the drum channel (10).
    Where the piano plays beside another voice (a layer of strings on channel 2, as a digital piano records it), the
    other's notes and controllers are left out and counted: those of each track with notes whose program is not among
    the first of PIANOS that some track's is (a grand's beside an electric piano's, a piano's beside strings'), where
    the track plays beside the piano (`beside_piano`; a voice switched to mid-performance on the piano's own channel
    plays after it, and is read, with the pedal messages sent under it). A pedal still down at the file's end is read
    as lifted there; given a list `held_at_end`, its id is appended to it (read_prompt: a recording stopped with the
    pedal held, where the continuation goes on under it)."""
    drops = DropCounts()
    note_parts, cc_parts = [], []
    played = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    piano = next((programs for programs in PIANOS if any(t.program in programs for t in played)), range(128))
    beside = beside_piano([t.notes.numpy() for t in played if t.program in piano], score.ticks_per_quarter)
    others = []  # the control changes of the tracks left out, so that their pedals are not read from the bytes
    for track in score.tracks:
        notes = track.notes.numpy()
        if track.is_drum:
            drops.drum_notes += int(notes["pitch"].size)
            drops.other_controllers += len(track.controls)
        elif len(track.notes) and track.program not in piano and beside(notes):
            drops.other_instrument_notes += int(notes["pitch"].size)
            drops.other_controllers += len(track.controls)
            others.append(track.controls.numpy())
        else:
            note_parts.append(notes)
            cc_parts.append(track.controls.numpy())
    file_end_tick = float(score.end())

    pitch = np.concatenate([n["pitch"] for n in note_parts]).astype(np.int64) if note_parts else np.zeros(0, np.int64)
    on = np.concatenate([n["time"] for n in note_parts]).astype(np.float64) if note_parts else np.zeros(0)
    dur = np.concatenate([n["duration"] for n in note_parts]).astype(np.float64) if note_parts else np.zeros(0)
    vel = np.concatenate([n["velocity"] for n in note_parts]).astype(np.int64) if note_parts else np.zeros(0, np.int64)
    keep = (pitch >= LOWEST_PITCH) & (pitch <= HIGHEST_PITCH) & (vel > 0)
    drops.notes_out_of_range = int((~keep).sum())
    pitch, on, dur, vel = pitch[keep], on[keep], dur[keep], vel[keep]
    off, drops.restruck_notes = end_at_restrike(pitch, on, on + dur)

    parts = [(pitch - LOWEST_PITCH, on, off, vel)]
    cc_time = np.concatenate([c["time"] for c in cc_parts]) if cc_parts else np.zeros(0, np.int64)
    cc_number = np.concatenate([c["number"] for c in cc_parts]) if cc_parts else np.zeros(0, np.uint8)
    cc_value = np.concatenate([c["value"] for c in cc_parts]) if cc_parts else np.zeros(0, np.uint8)
    is_pedal = np.isin(cc_number, PEDAL_CONTROLLERS)
    drops.other_controllers += int((~is_pedal).sum())  # (a drum track's are counted above)
    missing = np.setdiff1d(PEDAL_CONTROLLERS, cc_number[is_pedal])
    if missing.size and (data is not None or file_pedals is not None):
        raw = file_pedals if file_pedals is not None else pedal_controls(data)
        found = np.isin(raw["number"], missing) & (raw["channel"] != 9) & ~held_by(raw, others)  # [M]
        if found.any():
            cc_time = np.concatenate([cc_time.astype(np.int64), raw["time"][found]])
            cc_number = np.concatenate([cc_number.astype(np.int64), raw["number"][found]])
            cc_value = np.concatenate([cc_value.astype(np.int64), raw["value"][found]])
            is_pedal = np.concatenate([is_pedal, np.ones(int(found.sum()), dtype=bool)])
            file_end_tick = max(file_end_tick, float(raw["time"][found].max()))
    drops.pedal_messages = int(is_pedal.sum())
    numbers, counts = np.unique(cc_number[~is_pedal], return_counts=True)
    drops.controller_numbers = {int(n): int(c) for n, c in zip(numbers, counts)}
    for pedal_id, number in zip((DAMPER_ID, SOSTENUTO_ID, SOFT_ID), PEDAL_CONTROLLERS):
        mine = np.flatnonzero(cc_number == number)
        mine = mine[np.argsort(cc_time[mine], kind="stable")]
        start, stop, level = pedal_events(cc_time[mine], cc_value[mine].astype(np.float64), file_end_tick, pedal_bins)
        parts.append((np.full(start.size, pedal_id), start, stop, level))
        if held_at_end is not None and mine.size and pedal_bin(cc_value[mine[-1:]], pedal_bins)[0]:  # (its last value)
            held_at_end.append(pedal_id)

    ids = np.concatenate([p[0] for p in parts])
    start_tick = np.concatenate([p[1] for p in parts])
    stop_tick = np.concatenate([p[2] for p in parts])
    start_s = ticks_to_seconds(start_tick, score)
    stop_s = ticks_to_seconds(stop_tick, score)
    events = Events(ids, start_s, stop_s - start_s, np.concatenate([p[3] for p in parts]),
                    float(ticks_to_seconds(np.array([file_end_tick]), score)[0]))
    return events.sorted(), drops


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


def no_piano_notes(path: str | Path, drops: DropCounts, unreleased: int = 0) -> str:
    """Why a file without a piano note is refused, in one line: where what notes it has are (`unreleased`: notes
    struck and never released, which the parser drops)."""
    left_out = ", ".join(filter(None, [drops.notes_left_out(), unreleased and never_released(unreleased)]))
    return f"{path}: no piano notes (pitch 21–108) in the file" + (f"; its notes: {left_out}" if left_out else "")


def piano_events(score: symusic.Score, path: str | Path, *, pedal_bins: int = 4, data: bytes | None = None,
                 file_pedals: dict[str, np.ndarray] | None = None, unreleased: int = 0,
                 held_at_end: list[int] | None = None) -> tuple[Events, DropCounts]:
    """score_to_events of the `score` read from `path` (`held_at_end`: score_to_events'); ValueError naming the file
    where it has no piano note (no_piano_notes, with the `unreleased` notes the parser dropped)."""
    events, drops = score_to_events(score, pedal_bins=pedal_bins, data=data, file_pedals=file_pedals,
                                    held_at_end=held_at_end)
    if not events.is_note.any():
        raise ValueError(no_piano_notes(path, drops, unreleased))
    return events, drops


def read_events(path: str | Path, *, pedal_bins: int = 4, max_seconds: float = READ_MAX_SECONDS,
                max_events_per_second: float = READ_MAX_EVENTS_PER_SECOND) -> tuple[Events, DropCounts]:
    """MIDI file → events. Raises ValueError naming the file when it is unusable, has no piano notes, or
    has implausible timing (see `check_timing`; the defaults are those of EventsConfig); a note struck and never
    released (left out: the parser drops it) is said in a warning."""
    return events_from_bytes(file_bytes(path), path, pedal_bins=pedal_bins, max_seconds=max_seconds,
                             max_events_per_second=max_events_per_second)


def events_from_bytes(data: bytes, path: str | Path, *, pedal_bins: int = 4, max_seconds: float = READ_MAX_SECONDS,
                      max_events_per_second: float = READ_MAX_EVENTS_PER_SECOND) -> tuple[Events, DropCounts]:
    """read_events of a file whose bytes `data` were read already (from `path`, named in its errors)."""
    return _checked_events(score_from_bytes(data, path), data, path, pedal_bins, max_seconds, max_events_per_second)


def read_prompt(path: str | Path, *, pedal_bins: int = 4) -> tuple[Events, DropCounts, FileGrid, tuple[int, ...]]:
    """A performance to continue (generate --prompt): its events as read_events reads them (ValueError naming the file
    where it is unusable), its grid (FileGrid: written under it, so that a sequencer shows the continued
    performance in its own bars) and the ids of the pedals still down at its end (never lifted: a recording stopped
    with the pedal held, read as lifted there; prompts.continued_prompt holds them on), from one reading of the file."""
    data = file_bytes(path)
    score = score_from_bytes(data, path)
    held: list[int] = []
    events, drops = _checked_events(score, data, path, pedal_bins, READ_MAX_SECONDS, READ_MAX_EVENTS_PER_SECOND, held)
    return events, drops, score_to_grid(score), tuple(held)


def never_released(unreleased: int) -> str:
    return f"{unreleased} struck and never released (no note-off: a recording stopped with keys held?)"


def _checked_events(score: symusic.Score, data: bytes, path: str | Path, pedal_bins: int, max_seconds: float,
                    max_events_per_second: float, held_at_end: list[int] | None = None) -> tuple[Events, DropCounts]:
    """read_events of the `score` read from `path` (named in its errors), whose bytes are `data` (the pedals symusic
    leaves out are read from them, and the notes struck and never released counted; `held_at_end`: score_to_events')."""
    file_pedals, unreleased = scan(data)  # (one walk over the bytes for both)
    events, drops = piano_events(score, path, pedal_bins=pedal_bins, file_pedals=file_pedals, unreleased=unreleased,
                                 held_at_end=held_at_end)
    check_timing(events, path, max_seconds, max_events_per_second)
    if unreleased:
        log.warning("%s: notes left out: %s", path, never_released(unreleased))
    return events, drops


def seconds_to_ticks(seconds: np.ndarray, ticks_per_second: float) -> np.ndarray:
    """Round half up, with a margin far below a tick, so that one time reached by two float paths
    (a start, and the previous event's start + duration) lands on the same tick."""
    return np.floor(np.asarray(seconds, dtype=np.float64) * ticks_per_second + 0.5 + 1e-6).astype(np.int64)


def pedal_messages(down: np.ndarray, up: np.ndarray, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One pedal's presses (press and release ticks, levels 1–127, each [M]) → its control messages (ticks and
    values, in order): the pedal is held while any press lasts, at the level of the latest press still held,
    and lifted (0) when none is. Decoded presses may overlap; a release at the tick of the next press is
    dropped (the press takes over). At most one message a tick (the last: one replaced at its own tick never
    sounds), and none that repeats the value before it (a press at the depth already held, a lift of a pedal
    that is up): a piano or synth is sent only changes."""
    order = np.argsort(down, kind="stable")
    down, up, level = down[order].tolist(), up[order].tolist(), level[order].tolist()
    times, values, held = [], [], []  # held: (release tick, press index) of the presses still down

    def release_until(tick: int, inclusive: bool) -> None:
        while held:
            end = min(e for e, _ in held)
            if end > tick or (end == tick and not inclusive):
                return
            held[:] = [(e, i) for e, i in held if e > end]
            value = level[max(i for _, i in held)] if held else 0
            if values[-1] != value:
                times.append(end)
                values.append(value)

    for i, tick in enumerate(down):
        release_until(tick, inclusive=False)  # a release at this very tick is taken over by the press
        held[:] = [(e, j) for e, j in held if e > tick]
        times.append(tick)
        values.append(level[i])
        held.append((max(up[i], tick), i))
    release_until(np.iinfo(np.int64).max, inclusive=True)
    times, values = np.array(times, dtype=np.int64), np.array(values, dtype=np.int64)  # [M]
    last = np.diff(times, append=np.iinfo(np.int64).max) != 0  # [M]: the last message of its tick
    times, values = times[last], values[last]
    changed = values != np.concatenate([[0], values[:-1]])  # (the pedal starts up)
    return times[changed], values[changed]


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


def continuation_only(events: Events, from_s: float) -> Events:
    """What follows `from_s` (a prompt's end), timed from 0: the notes struck from then on, and the pedals down
    then or pressed later (one held across the join starts at 0, so the continuation sounds as it did)."""
    ends_s = events.start_s + events.duration_s
    keep = np.where(events.is_note, events.start_s >= from_s, ends_s > from_s)  # [E]
    start_s = np.maximum(events.start_s[keep], from_s)
    return Events(events.ids[keep], start_s - from_s, ends_s[keep] - start_s, events.intensity[keep],
                  max(events.end_s - from_s, 0.0))


def window(events: Events, begin_s: float, end_s: float) -> Events:
    """The events of [begin_s, end_s), timed from begin_s: the notes struck in it and the pedals down in it (as
    `continuation_only` keeps them; a note or press running past end_s is kept whole)."""
    part = continuation_only(events, begin_s)
    return part.take(np.flatnonzero(part.start_s < end_s - begin_s))


@dataclass(frozen=True)
class FileMeta:
    """What a written file says beside its notes: `text`, a marker at its start (how it was made); `keys`, key
    signatures (seconds, sharps: −7 … 7, flats below 0; minor); `tempos`, the tempo map its ticks follow (seconds from
    0 on, beats per minute), so that a sequencer's grid shows the beat asked; `meters`, time signatures (seconds,
    numerator, denominator: a prompt's bars); `continued_from_s`, where the continuation of a prompt the file begins
    with starts (seconds; a CONTINUATION marker there); `marks`, the waypoints of the paths asked (seconds, what was
    asked there: heard.shape_marks; an ASKED marker at each, none where nothing moves). The sound is the same whatever
    they say: every event keeps its time in seconds."""

    text: str = ""
    keys: tuple[tuple[float, int, bool], ...] = ()
    tempos: tuple[tuple[float, float], ...] = ((0.0, 60.0 * WRITE_QUARTERS_PER_SECOND),)
    meters: tuple[tuple[float, int, int], ...] = ()
    continued_from_s: float | None = None
    marks: tuple[tuple[float, str], ...] = ()

    def __post_init__(self) -> None:
        times = [at_s for at_s, _ in self.tempos]
        if not times or times[0] != 0.0 or times != sorted(set(times)) or not all(bpm > 0 for _, bpm in self.tempos):
            raise ValueError(f"a tempo map from 0 s with rising times and tempos > 0, got {self.tempos}")


@dataclass(frozen=True)
class FileGrid:
    """The grid a file's notes are written on, in seconds: its tempo map (from 0 s, beats per minute; 120 where it
    names none), time signatures (numerator, denominator) and key signatures (sharps, minor), as FileMeta holds them."""

    tempos: tuple[tuple[float, float], ...]
    meters: tuple[tuple[float, int, int], ...]
    keys: tuple[tuple[float, int, bool], ...]


def score_to_grid(score: symusic.Score) -> FileGrid:
    """A tick-time score's grid (FileGrid) in seconds. Of several changes at one time the last counts."""
    score = score.to("second")
    tempos = {round(float(t.time), 6): 60e6 / t.mspq  # (its exact bpm: written back as the same microseconds per beat)
              for t in sorted(score.tempos, key=lambda t: t.time) if t.mspq > 0}
    tempos = {0.0: 60.0 * WRITE_QUARTERS_PER_SECOND} | tempos if 0.0 not in tempos else tempos
    meters = {round(float(m.time), 6): (int(m.numerator), int(m.denominator))
              for m in sorted(score.time_signatures, key=lambda m: m.time) if m.numerator > 0 and m.denominator > 0}
    keys = {round(float(k.time), 6): (int(k.key), bool(k.tonality))
            for k in sorted(score.key_signatures, key=lambda k: k.time) if -7 <= k.key <= 7}
    return FileGrid(tuple(tempos.items()), tuple((at_s, *meter) for at_s, meter in meters.items()),
                    tuple((at_s, *key) for at_s, key in keys.items()))


def grid_until(grid: FileGrid, end_s: float) -> FileGrid:
    """`grid` with only the changes before `end_s` (generate --prompt: the prompt's grid, going on after its cut as
    it stood then)."""
    return FileGrid(*(tuple(entry for entry in entries if entry[0] < end_s)
                      for entries in (grid.tempos, grid.meters, grid.keys)))


QUARTER_MICROS = 1_000_000  # grid_from: quarters counted under a tempo map in millionths (tempo_ticks' whole ticks)


def grid_from(grid: FileGrid, from_s: float) -> FileGrid:
    """`grid` going on from `from_s`, timed from there (generate --prompt --continuation-only): the tempo, time and
    key signature in effect then, from 0 s, its bars and beats where the prompt's would fall. Where `from_s` lies
    inside a bar, a pickup bar of the beats left (of the meter's unit: a quarter in 3/4, an eighth in 6/8; a whole bar
    where less than half a unit is left), its first beat stretched or shortened (at most by half) to end where the
    prompt's beat would. Without a time signature, bars of 4/4 as a sequencer counts them (written only where a
    pickup bar needs one)."""
    def in_effect(entries: tuple, fallback: tuple) -> tuple:  # (one at the cut is after it, as grid_until says)
        before = [entry for entry in entries if entry[0] < from_s - 1e-9]
        return before[-1] if before else fallback

    tempos = grid.tempos or ((0.0, 60.0 * WRITE_QUARTERS_PER_SECOND),)
    _, bpm = in_effect(tempos, tempos[0])
    meter_s, numerator, denominator = in_effect(grid.meters, (0.0, 4, 4))
    key = in_effect(grid.keys, None)
    keys = () if key is None else ((0.0, key[1], key[2]),)
    unit_q = 4.0 / denominator  # the meter's unit (a quarter: 1; an eighth: 0.5) in quarters
    micro, _ = tempo_ticks(np.array([meter_s, from_s]), tempos, QUARTER_MICROS)  # [2]: the meter's start and the cut
    into_units = (micro[1] - micro[0]) / QUARTER_MICROS / unit_q % numerator  # how far into its bar, in units
    left_units = numerator - into_units  # (0, numerator]
    written = bool(grid.meters)
    if min(into_units, left_units) < 1e-3:  # on a bar line
        return FileGrid(((0.0, bpm),), ((0.0, numerator, denominator),) if written else (), keys)
    whole, first_units = pickup(left_units, numerator)
    unit_s = unit_q * 60.0 / bpm
    pickup_s = (first_units + whole - 1) * unit_s
    tempos_from = [(0.0, bpm)]
    if abs(first_units - 1.0) > 1e-3:  # one unit of ticks lasting first_units units' time
        tempos_from = [(0.0, bpm / first_units), (first_units * unit_s, bpm)]
    meters = ((0.0, whole, denominator),) + (((pickup_s, numerator, denominator),) if whole != numerator else ())
    meters = meters if written or whole != numerator else ()
    return FileGrid(tuple(tempos_from), meters, keys)


def pickup(left_units: float, numerator: int) -> tuple[int, float]:
    """A pickup bar for `left_units` (0 < left ≤ numerator) of a bar's units before its next bar line: how many units
    it is written with, and how many units' time its first one lasts ([0.5, 1.5): at most half a unit off). Less than
    half a unit left: a whole bar, its first unit lasting the sliver longer."""
    if left_units < 0.5:
        return numerator, left_units + 1.0
    whole = math.floor(left_units + 0.5)  # (half up: Python's round() takes 0.5 to 0, a bar of no units)
    return whole, left_units - (whole - 1)


def tempo_ticks(seconds: np.ndarray, tempos: tuple[tuple[float, float], ...], ticks_per_quarter: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Times in seconds [E] → ticks [E] under a tempo map (seconds, bpm) from 0 s, and the tick of each tempo change
    [K]: within a tempo's stretch, its ticks per second from the change on (one tempo: `seconds_to_ticks` as is).
    Each change lies on the whole tick nearest its time as the file plays the ticks before it, and each time is
    counted from where its change lies in the file, so that the roundings of many changes do not add up."""
    times = np.array([at_s for at_s, _ in tempos])  # [K]
    rates = np.array([ticks_per_quarter * bpm / 60.0 for _, bpm in tempos])  # [K] ticks per second
    change_ticks = np.zeros(len(tempos), dtype=np.int64)
    played_s = times.copy()  # [K] where each change falls in the written file: its tick under the tempos before it
    for k in range(1, len(tempos)):  # each change on a whole tick, counted from the one before
        ticks = seconds_to_ticks(times[k] - played_s[k - 1], rates[k - 1])
        change_ticks[k] = change_ticks[k - 1] + ticks
        played_s[k] = played_s[k - 1] + ticks / rates[k - 1]
    stretch = np.searchsorted(times, seconds, side="right") - 1  # [E]
    ticks = change_ticks[stretch] + seconds_to_ticks(seconds - played_s[stretch], rates[stretch])
    return np.maximum(ticks, change_ticks[stretch]), change_ticks  # (a time between a change and its tick: at the tick)


def once_a_tick(key: np.ndarray, on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """[N] True for the notes written: of the strikes of one key at one tick, the one that ends last (the first of
    them in the given order where several do)."""
    order = np.lexsort((np.arange(key.size), -off, on, key))
    repeat = np.zeros(key.size, dtype=bool)
    repeat[1:] = (key[order][1:] == key[order][:-1]) & (on[order][1:] == on[order][:-1])
    keep = np.ones(key.size, dtype=bool)
    keep[order[repeat]] = False
    return keep


def _written_ticks(events: Events, meta: FileMeta, ticks_per_quarter: int):
    """Where a file under `meta`'s tempo map writes each event → (ids [E], start ticks [E], stop ticks [E], each
    tempo change's tick [K]), times before 0 s at 0."""
    ids = np.asarray(events.ids, dtype=np.int64)
    start = np.maximum(np.asarray(events.start_s, dtype=np.float64), 0.0)
    stop = start + np.maximum(np.asarray(events.duration_s, dtype=np.float64), 0.0)
    start_tick, change_ticks = tempo_ticks(start, meta.tempos, ticks_per_quarter)
    stop_tick, _ = tempo_ticks(stop, meta.tempos, ticks_per_quarter)
    return ids, start_tick, stop_tick, change_ticks


def _kept_strikes(ids: np.ndarray, start_tick: np.ndarray, stop_tick: np.ndarray) -> np.ndarray:
    """[E] False for a note that another strike of its key on its tick outlasts (a note-off after two note-ons
    releases the key: once_a_tick), True for every other event."""
    kept = np.ones(ids.size, dtype=bool)
    note = (ids >= 0) & (ids < NUM_KEYS)
    kept[note] = once_a_tick(ids[note], start_tick[note], stop_tick[note])
    return kept


def events_to_score(events: Events, *, ticks_per_quarter: int = WRITE_TICKS_PER_QUARTER,
                    meta: FileMeta | None = None) -> symusic.Score:
    """Events → a playable one-track piano score (at 120 bpm, or `meta`'s tempo map, with its key signatures and
    marker); a pedal is lifted when none of its presses is held (`pedal_messages`).

    Values are clipped to valid ranges so that whatever a model emits, the file plays.
    """
    meta = meta or FileMeta()
    return _score_and_kept(events, meta, ticks_per_quarter, _written_ticks(events, meta, ticks_per_quarter))[0]


def _score_and_kept(events: Events, meta: FileMeta, ticks_per_quarter: int, written: tuple
                    ) -> tuple[symusic.Score, np.ndarray]:
    """events_to_score's score, and [E] which events it holds (_kept_strikes: of the strikes of one key on one tick,
    the one that lasts longest); `written` is _written_ticks' (events, meta, ticks_per_quarter)."""
    ids, start_tick, stop_tick, change_ticks = written
    level = np.clip(np.asarray(events.intensity, dtype=np.int64), 1, 127)

    kept = _kept_strikes(ids, start_tick, stop_tick)
    note = (ids >= 0) & (ids < NUM_KEYS) & kept  # one strike of a key a tick
    pitch = ids[note] + LOWEST_PITCH
    on = start_tick[note]
    off, _ = end_at_restrike(pitch, on, np.maximum(stop_tick[note], on + 1))
    order = np.lexsort((pitch, on))
    score = symusic.Score(ticks_per_quarter)
    for tick, (_, bpm) in zip(change_ticks.tolist(), meta.tempos):
        score.tempos.append(symusic.Tempo(tick, qpm=bpm))
    if meta.keys:
        key_ticks, _ = tempo_ticks(np.array([at_s for at_s, _, _ in meta.keys]), meta.tempos, ticks_per_quarter)
        for tick, (_, sharps, minor) in zip(key_ticks.tolist(), meta.keys):
            score.key_signatures.append(symusic.KeySignature(tick, sharps, int(minor)))
    if meta.meters:
        meter_ticks, _ = tempo_ticks(np.array([at_s for at_s, _, _ in meta.meters]), meta.tempos, ticks_per_quarter)
        for tick, (_, numerator, denominator) in zip(meter_ticks.tolist(), meta.meters):
            score.time_signatures.append(symusic.TimeSignature(tick, numerator, denominator))
    if meta.text:
        score.markers.append(symusic.TextMeta(0, meta.text))
    if meta.continued_from_s is not None:
        seam_ticks, _ = tempo_ticks(np.array([meta.continued_from_s]), meta.tempos, ticks_per_quarter)
        score.markers.append(symusic.TextMeta(int(seam_ticks[0]), CONTINUATION))
    if meta.marks:
        mark_ticks, _ = tempo_ticks(np.array([at_s for at_s, _ in meta.marks]), meta.tempos, ticks_per_quarter)
        for tick, (_, label) in zip(mark_ticks.tolist(), meta.marks):
            score.markers.append(symusic.TextMeta(int(tick), ASKED + label))
    track = symusic.Track("Piano", 0, False)
    track.notes = symusic.Note.from_numpy(
        time=on[order].astype(np.int32), duration=(off - on)[order].astype(np.int32),
        pitch=pitch[order].astype(np.int8), velocity=level[note][order].astype(np.int8))

    cc_time, cc_number, cc_value = [], [], []
    for pedal_id, number in zip((DAMPER_ID, SOSTENUTO_ID, SOFT_ID), PEDAL_CONTROLLERS):
        mine = ids == pedal_id
        times, values = pedal_messages(start_tick[mine], stop_tick[mine], level[mine])
        cc_time.append(times)
        cc_number.append(np.full(times.size, number))
        cc_value.append(values)
    times = np.concatenate(cc_time)
    order = np.argsort(times, kind="stable")  # each pedal's messages are in order already, ties included
    track.controls = symusic.ControlChange.from_numpy(
        time=times[order].astype(np.int32), number=np.concatenate(cc_number)[order].astype(np.uint8),
        value=np.concatenate(cc_value)[order].astype(np.uint8))
    score.tracks.append(track)
    return score, kept


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


def write_events(events: Events, path: str | Path, meta: FileMeta | None = None) -> Path:
    """Events → MIDI file (saying `meta` beside them), written atomically (temporary name, then rename)."""
    return write_held(events, path, meta)[0]


def write_held(events: Events, path: str | Path, meta: FileMeta | None = None) -> tuple[Path, Events]:
    """write_events, and the events as the file holds them: of the strikes of one key on one tick (at `meta`'s tempo
    map), only the one that lasts longest, each at its ticks (`at_written_ticks`), so that what is said of a file (its
    notes, the beat its onsets repeat at, what it plays of a request) is what a reader of it hears."""
    path, meta = Path(path), meta or FileMeta()
    ids, start_tick, stop_tick, change_ticks = _written_ticks(events, meta, WRITE_TICKS_PER_QUARTER)  # [E] each, [K]
    score, kept = _score_and_kept(events, meta, WRITE_TICKS_PER_QUARTER, (ids, start_tick, stop_tick, change_ticks))
    data = score.dumps_midi()
    with atomic_path(path) as tmp:  # a failed rename (a folder of that name) leaves nothing behind
        tmp.write_bytes(data)
    return path, at_written_ticks(events.take(kept), ids[kept], start_tick[kept], stop_tick[kept], score)


def at_written_ticks(events: Events, ids: np.ndarray, start_tick: np.ndarray, stop_tick: np.ndarray,
                     score: symusic.Score) -> Events:
    """`events` (one strike of a key a tick at most) at the times the file of `score` holds them, given the ticks it
    writes them at (ids, start and stop ticks [E] each, as _written_ticks gives them; `stop_tick` is changed here):
    each start and end on its tick, read back through the file's tempo map (a beat heard between two peaks may flip
    with a time moved by half a tick); a note ends at the next strike of its key at the latest and lasts a tick at
    least, as written. Pedals are moved to their ticks only (the file's messages join overlapping presses)."""
    note = (ids >= 0) & (ids < NUM_KEYS)
    stop_tick[note], _ = end_at_restrike(ids[note], start_tick[note], np.maximum(stop_tick[note], start_tick[note] + 1))
    start_s, stop_s = ticks_to_seconds(start_tick, score), ticks_to_seconds(stop_tick, score)  # [E] each
    return Events(ids, start_s, stop_s - start_s, events.intensity, events.end_s).sorted()
