"""Events → a MIDI file (one piano track, at 120 bpm or under a tempo map, with what FileMeta says beside the notes),
and the events as the written file holds them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import symusic

from .files import atomic_path
from .markers import ASKED, CONTINUATION
from .midi import (
    DAMPER_ID,
    LOWEST_PITCH,
    NUM_KEYS,
    PEDAL_CONTROLLERS,
    SOFT_ID,
    SOSTENUTO_ID,
    WRITE_QUARTERS_PER_SECOND,
    WRITE_TICKS_PER_QUARTER,
    Events,
    end_at_restrike,
    ticks_to_seconds,
)


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
    held = at_written_ticks(events.take(kept), ids[kept], start_tick[kept], stop_tick[kept], score)  # (before the
    # write, which is the last step: a Ctrl-C in this reading once left a file written that its caller had not heard of)
    with atomic_path(path) as tmp:  # a failed rename (a folder of that name) leaves nothing behind
        tmp.write_bytes(data)
    return path, held


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
