"""MIDI file ⇄ events, with symusic. All arrays are vectorised over notes and controller messages.

An event is (id, start_s, duration_s, intensity):
  id 0–87   piano key, MIDI pitch 21–108; intensity = velocity 1–127
  id 88     damper (CC64), 89 sostenuto (CC66), 90 soft (CC67); intensity = time-weighted mean
            CC value over the event, 1–127. A pedal event starts when the value enters a depth bin
            and lasts until it leaves it; value 0 (pedal up) is never an event.
Times are seconds from the start of the file, computed in float64 from ticks through the tempo
map, so a file read and written back keeps every tick (binning off).
Beside it: midi_write (events → a file), holds (how long notes and pedals are held), markers (a generated file's
markers), prompt_grid (a prompt's grid after its cut), and the readers' parts midi_open (a file's bytes and
score, refused where unusable), piano_tracks and pedal_cc.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import symusic

from .midi_bytes import PEDALS, keep_unreleased, pedal_controls, scan
from .midi_open import file_bytes, score_from_bytes
from .pedal_cc import pedal_bin, pedal_events, pressed_at_end
from .piano_tracks import PIANOS, beside_piano, held_by, played_by_no_piano

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
# (not raised for a file where no piano plays, refused since, piano_tracks.played_by_no_piano: every file still read
# gives the same events, so a corpus keeps its data and cache; a parse-cache entry of such a file made before is still read)


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


def check_timing(events: "Events", path: str | Path, max_seconds: float, max_events_per_second: float) -> None:
    """Raise ValueError naming the file when its timing is implausible for a performance: longer than
    `max_seconds` (a huge tick value or an absurdly slow tempo) or more than `max_events_per_second`
    events starting within one second (an absurdly fast tempo)."""
    if events.end_s > max_seconds:
        raise ValueError(f"{path}: implausible timing: it lasts {events.end_s / 3600:,.1f} h (more than the "
                         f"{max_seconds / 3600:g} h a performance is read for); a huge tick value or an absurd tempo?")
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
    pedal held, where the continuation goes on under it; one pressed, or its depth changed, as the
    file's last message is an event of no length at its end, which the continuation holds on)."""
    drops = DropCounts()
    note_parts, cc_parts = [], []
    played = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    # (none where no piano plays, as piano_events refuses: no track then plays beside a piano, and none is left out)
    piano = next((programs for programs in PIANOS if any(t.program in programs for t in played)), ())
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
        if held_at_end is not None and mine.size and pedal_bin(cc_value[mine[-1:]], pedal_bins)[0]:  # (its last value)
            held_at_end.append(pedal_id)  # (and pressed as the file's last message: an event of no length there)
            at_end = pressed_at_end(cc_time[mine], cc_value[mine].astype(np.float64), file_end_tick, pedal_bins)
            start, stop, level = (np.concatenate(pair) for pair in zip((start, stop, level), at_end))
        parts.append((np.full(start.size, pedal_id), start, stop, level))

    ids = np.concatenate([p[0] for p in parts])
    start_tick = np.concatenate([p[1] for p in parts])
    stop_tick = np.concatenate([p[2] for p in parts])
    start_s = ticks_to_seconds(start_tick, score)
    stop_s = ticks_to_seconds(stop_tick, score)
    events = Events(ids, start_s, stop_s - start_s, np.concatenate([p[3] for p in parts]),
                    float(ticks_to_seconds(np.array([file_end_tick]), score)[0]))
    return events.sorted(), drops


def no_piano_notes(path: str | Path, drops: DropCounts, unreleased: int = 0, pedals_alone: bool = False) -> str:
    """Why a file without a piano note is refused, in one line: where what notes it has are (`unreleased`: notes
    struck and never released, which the parser drops); `pedals_alone`: a reader that takes a file of pedals alone
    (tsm plot) found none pressed either."""
    left_out = ", ".join(filter(None, [drops.notes_left_out(), unreleased and never_released(unreleased)]))
    return (f"{path}: no piano notes (pitch 21–108) {'and no pedal pressed ' if pedals_alone else ''}in the file"
            + (f"; its notes: {left_out}" if left_out else ""))


def piano_events(score: symusic.Score, path: str | Path, *, pedal_bins: int = 4, data: bytes | None = None,
                 file_pedals: dict[str, np.ndarray] | None = None, unreleased: int = 0,
                 held_at_end: list[int] | None = None, pedals_alone: bool = False) -> tuple[Events, DropCounts]:
    """score_to_events of the `score` read from `path` (`held_at_end`: score_to_events'); ValueError naming the file
    where no piano plays in it (its notes all on other instruments' programs: played_by_no_piano), or it has no piano
    note (no_piano_notes, with the `unreleased` notes the parser dropped), unless `pedals_alone` and it has a pedal
    pressed (tsm plot: a pianist's pedalling drawn without notes)."""
    other_voices = played_by_no_piano(score)
    if other_voices is not None:  # (not read as a piano's: a violin's part learnt as piano playing)
        raise ValueError(f"{path}: {other_voices}")
    events, drops = score_to_events(score, pedal_bins=pedal_bins, data=data, file_pedals=file_pedals,
                                    held_at_end=held_at_end)
    if not events.is_note.any() and not (pedals_alone and len(events)):
        raise ValueError(no_piano_notes(path, drops, unreleased, pedals_alone))
    return events, drops


def read_events(path: str | Path, *, pedal_bins: int = 4, max_seconds: float = READ_MAX_SECONDS,
                max_events_per_second: float = READ_MAX_EVENTS_PER_SECOND,
                pedals_alone: bool = False) -> tuple[Events, DropCounts]:
    """MIDI file → events. Raises ValueError naming the file when it is unusable, no piano plays in it, it has no
    piano notes (`pedals_alone`: nor a pedal pressed, as tsm plot reads a file), or it has implausible timing (see
    `check_timing`; the defaults are those of EventsConfig); a note struck and never released (left out: the parser
    drops it) is said in a warning."""
    return events_from_bytes(file_bytes(path), path, pedal_bins=pedal_bins, max_seconds=max_seconds,
                             max_events_per_second=max_events_per_second, pedals_alone=pedals_alone)


def events_from_bytes(data: bytes, path: str | Path, *, pedal_bins: int = 4, max_seconds: float = READ_MAX_SECONDS,
                      max_events_per_second: float = READ_MAX_EVENTS_PER_SECOND,
                      pedals_alone: bool = False, unreleased_said: bool = True) -> tuple[Events, DropCounts]:
    """read_events of a file whose bytes `data` were read already (from `path`, named in its errors); `unreleased_said`
    False: the notes struck and never released not warned of here (the caller says them: tsm evaluate's left_out)."""
    return _checked_events(score_from_bytes(data, path), data, path, pedal_bins, max_seconds, max_events_per_second,
                           pedals_alone=pedals_alone, unreleased_said=unreleased_said)


def read_prompt(path: str | Path, *, pedal_bins: int = 4) -> tuple[Events, DropCounts, FileGrid, tuple[int, ...]]:
    """A performance to continue (generate --prompt): its events as read_events reads them (ValueError naming the file
    where it is unusable), its grid (FileGrid: written under it, so that a sequencer shows the continued
    performance in its own bars) and the ids of the pedals still down at its end (never lifted: a recording stopped
    with the pedal held, read as lifted there; prompts.continued_prompt holds them on), from one reading of the file.
    Notes struck and never released (a recording stopped with a chord held), which read_events leaves out, are held to
    the file's end (midi_bytes.keep_unreleased), and said. Its bytes are walked twice after symusic's parse: once for
    its pedals and how many notes are never released (midi_bytes.scan, shared by both readers), once for those notes."""
    data = file_bytes(path)
    score = score_from_bytes(data, path)
    scanned = scan(data)
    kept = keep_unreleased(score, data, scanned[0])
    held: list[int] = []
    events, drops = _checked_events(score, data, path, pedal_bins, READ_MAX_SECONDS, READ_MAX_EVENTS_PER_SECOND, held,
                                    kept, scanned=scanned)
    return events, drops, score_to_grid(score), tuple(held)


def never_released(unreleased: int) -> str:
    return f"{unreleased} struck and never released (no note-off: a recording stopped with keys held?)"


def _checked_events(score: symusic.Score, data: bytes, path: str | Path, pedal_bins: int, max_seconds: float,
                    max_events_per_second: float, held_at_end: list[int] | None = None,
                    kept: int = 0, pedals_alone: bool = False,
                    scanned: tuple[dict[str, np.ndarray], int] | None = None,
                    unreleased_said: bool = True) -> tuple[Events, DropCounts]:
    """read_events of the `score` read from `path` (named in its errors), whose bytes are `data` (the pedals symusic
    leaves out are read from them, and the notes struck and never released counted; `held_at_end`: score_to_events';
    `kept`: how many of those notes `score` holds, keep_unreleased's, said as held to its end; `pedals_alone`:
    piano_events'; `scanned`: scan(data) where the caller walked them already, read_prompt)."""
    file_pedals, unreleased = scan(data) if scanned is None else scanned  # (one walk over the bytes for both)
    unreleased -= kept
    events, drops = piano_events(score, path, pedal_bins=pedal_bins, file_pedals=file_pedals, unreleased=unreleased,
                                 held_at_end=held_at_end, pedals_alone=pedals_alone)
    check_timing(events, path, max_seconds, max_events_per_second)
    if unreleased and unreleased_said:
        log.warning("%s: notes left out: %s", path, never_released(unreleased))
    if kept:
        log.warning("%s: notes held to its end: %s", path, never_released(kept))
    return events, drops


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
