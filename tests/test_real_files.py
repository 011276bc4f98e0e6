"""Every real performance in ../shared/data/asap survives MIDI → events → MIDI → events, and a subset is
cross-checked against pretty_midi (an independent MIDI reader). Marked `real`; skipped without the data.

Times are compared within one tick of the original file (tempo / ticks per quarter seconds). Pedals
are compared as the value each pedal holds after each tick: a value that another message at the same
tick replaces is never in effect, so it is left out of both sides.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pretty_midi
import pytest

from timestepmusic.config import Config
from timestepmusic.midi import (
    DAMPER_ID,
    LOWEST_PITCH,
    NUM_KEYS,
    PEDAL_CONTROLLERS,
    SOFT_ID,
    WRITE_QUARTERS_PER_SECOND,
    WRITE_TICKS_PER_QUARTER,
    Events,
    read_events,
    score_to_events,
)
from timestepmusic.midi_open import load_score, score_from_bytes
from timestepmusic.midi_write import events_to_score
from timestepmusic.prepare_corpus import prepare

from conftest import MISSING_SHARED, asap_rows

pytestmark = pytest.mark.real

ROWS = asap_rows()
FILES = [pytest.param(r["midi_performance"], id=r["midi_performance"].removesuffix(".mid")) for r in ROWS] or [
    pytest.param(None, id="asap", marks=pytest.mark.skip(reason=MISSING_SHARED))]
ORACLE_FILES = FILES[::20]
PEDAL_IDS = tuple(range(DAMPER_ID, SOFT_ID + 1))  # in the order of PEDAL_CONTROLLERS
WRITE_TICKS_PER_S = WRITE_TICKS_PER_QUARTER * WRITE_QUARTERS_PER_SECOND


def columns(parts: list[dict]) -> dict[str, np.ndarray]:
    """symusic's per-track column dicts (notes or controls) → one dict of int64 columns."""
    names = parts[0].keys() if parts else ()
    return {k: np.concatenate([p[k] for p in parts]).astype(np.int64) for k in names}


def one_tick_s(score) -> float:
    """Seconds per tick of a one-tempo file."""
    tempos = score.tempos.numpy()
    assert tempos["mspq"].size <= 1, "the shared performances have one tempo each"
    mspq = float(tempos["mspq"][0]) if tempos["mspq"].size else 500_000.0
    return mspq / 1e6 / score.ticks_per_quarter


def pedal_changes(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(time, value) messages of one pedal (in time order) → the changes of the value in effect.

    At a tick with several messages only the last one counts; repeats of the value in effect, and a
    leading 0 (the pedal starts up), are not changes.
    """
    times, values = np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.int64)
    if times.size == 0:
        return times, values
    last_at_time = np.append(times[1:] != times[:-1], True)
    times, values = times[last_at_time], values[last_at_time]
    changed = values != np.concatenate([[0], values[:-1]])
    return times[changed], values[changed]


def reference(score) -> tuple[dict, dict, float]:
    """What the file holds, read straight from its ticks: notes (restrikes cut, as documented) and pedal changes."""
    tick = one_tick_s(score)
    notes = columns([t.notes.numpy() for t in score.tracks if not t.is_drum])
    pitch, onset, velocity = notes["pitch"], notes["time"], notes["velocity"]
    offset = onset + notes["duration"]
    piano = (pitch >= LOWEST_PITCH) & (pitch < LOWEST_PITCH + NUM_KEYS) & (velocity > 0)
    pitch, onset, offset, velocity = pitch[piano], onset[piano], offset[piano], velocity[piano]
    # a key struck again before its release: the earlier note ends at the new strike
    by_key = np.lexsort((onset, pitch))
    next_onset = np.append(onset[by_key][1:], np.iinfo(np.int64).max)
    same_key = np.append(pitch[by_key][1:] == pitch[by_key][:-1], False)
    cut = np.where(same_key, np.minimum(offset[by_key], next_onset), offset[by_key])
    offset[by_key] = cut
    controls = columns([t.controls.numpy() for t in score.tracks])
    pedals = {}
    for number in PEDAL_CONTROLLERS:
        mine = np.flatnonzero(controls["number"] == number)
        mine = mine[np.argsort(controls["time"][mine], kind="stable")]
        t, v = pedal_changes(controls["time"][mine], controls["value"][mine])
        pedals[number] = (t * tick, v)
    notes = {"pitch": pitch, "velocity": velocity, "onset_s": onset * tick, "offset_s": offset * tick}
    return notes, pedals, score.end() * tick


def event_pedal_changes(events: Events, pedal_id: int) -> tuple[np.ndarray, np.ndarray]:
    """A pedal's events → the changes of its value: down at each start, up at each end unless the next
    event of the pedal starts there."""
    mine = np.flatnonzero(events.ids == pedal_id)
    start, end, value = events.start_s[mine], (events.start_s + events.duration_s)[mine], events.intensity[mine]
    if start.size == 0:
        return pedal_changes(start, value)
    release = np.append(np.abs(start[1:] - end[:-1]) > 1e-9, True)  # start + duration need not hit it exactly
    times = np.concatenate([start, end[release]])
    values = np.concatenate([value, np.zeros(int(release.sum()), np.int64)])
    rank = np.concatenate([2 * np.arange(start.size), 2 * np.flatnonzero(release) + 1])  # press, then its release
    order = np.lexsort((rank, times))
    return pedal_changes(times[order], values[order])


def assert_same_notes(events: Events, ref: dict, tol_s: float, grid_s: float) -> None:
    """Notes of `events` equal the reference: pitch, velocity exactly, onset and offset within tol_s.

    Both sides are ordered by (onset on the grid, pitch, velocity), the grid being the coarser of the
    two files' ticks, so that notes a rounding puts at one tick are paired the same way.
    """
    key = events.ids < NUM_KEYS
    got = {"pitch": events.ids[key].astype(np.int64) + LOWEST_PITCH, "velocity": events.intensity[key].astype(np.int64),
           "onset_s": events.start_s[key], "offset_s": (events.start_s + events.duration_s)[key]}
    assert got["pitch"].size == ref["pitch"].size, "note count"
    order_got = np.lexsort((got["velocity"], got["pitch"], np.rint(got["onset_s"] / grid_s)))
    order_ref = np.lexsort((ref["velocity"], ref["pitch"], np.rint(ref["onset_s"] / grid_s)))
    np.testing.assert_array_equal(got["pitch"][order_got], ref["pitch"][order_ref])
    np.testing.assert_array_equal(got["velocity"][order_got], ref["velocity"][order_ref])
    np.testing.assert_allclose(got["onset_s"][order_got], ref["onset_s"][order_ref], rtol=0, atol=tol_s)
    np.testing.assert_allclose(got["offset_s"][order_got], ref["offset_s"][order_ref], rtol=0, atol=tol_s)


def assert_same_pedals(got: tuple, want: tuple, end_s: float, tol_s: float, what: str) -> None:
    """Pedal changes equal; a pedal the file leaves down is released at the file's end."""
    want_t, want_v = want
    if want_v.size and want_v[-1] != 0:  # (a press at the very end is then no change at all)
        want_t, want_v = pedal_changes(np.append(want_t, end_s), np.append(want_v, 0))
    got_t, got_v = got
    assert got_v.tolist() == want_v.tolist(), what
    np.testing.assert_allclose(got_t, want_t, rtol=0, atol=tol_s, err_msg=what)


@pytest.mark.parametrize("name", FILES)
def test_reading_keeps_notes_and_pedals(shared_data, name):
    path = shared_data / name
    original = load_score(path)
    tick = one_tick_s(original)
    notes, pedals, end_s = reference(original)
    events, drops = read_events(path, pedal_bins=0)
    assert_same_notes(events, notes, tick + 1e-9, tick)
    assert drops.notes_out_of_range == 0 and drops.drum_notes == 0
    assert events.end_s == pytest.approx(end_s, abs=1e-9)
    for pedal_id, number in zip(PEDAL_IDS, PEDAL_CONTROLLERS):
        assert_same_pedals(event_pedal_changes(events, pedal_id), pedals[number], end_s, tick + 1e-9, f"CC{number}")


@pytest.mark.parametrize("name", FILES)
def test_round_trip_keeps_notes_and_pedals(shared_data, name):
    path = shared_data / name
    original = load_score(path)
    tick = one_tick_s(original)
    tol = tick + 1e-9
    notes, pedals, end_s = reference(original)

    events, _ = read_events(path, pedal_bins=0)
    data = events_to_score(events).dumps_midi()
    written = score_from_bytes(data, f"{path} (written back)")
    back, _ = score_to_events(written, pedal_bins=0)

    grid = max(tick, 1 / WRITE_TICKS_PER_S)  # the coarser of the file's ticks and the written file's
    assert_same_notes(back, notes, tol, grid)
    assert back.end_s <= end_s + tol  # shorter where the file ends on a message that is no event (a repeated 0)
    written_controls = written.tracks[0].controls.numpy()
    for pedal_id, number in zip(PEDAL_IDS, PEDAL_CONTROLLERS):
        mine = written_controls["number"] == number
        written_changes = pedal_changes(written_controls["time"][mine] / WRITE_TICKS_PER_S,
                                        written_controls["value"][mine])
        assert_same_pedals(written_changes, pedals[number], end_s, tol, f"CC{number} as written")
        assert_same_pedals(event_pedal_changes(back, pedal_id), pedals[number], end_s, tol, f"CC{number} read back")


@pytest.mark.parametrize("name", ORACLE_FILES)
def test_reading_agrees_with_pretty_midi(shared_data, name):
    path = shared_data / name
    original = load_score(path)
    tick = one_tick_s(original)
    events, drops = read_events(path, pedal_bins=0)
    pm = pretty_midi.PrettyMIDI(str(path))
    pm_notes = [n for inst in pm.instruments if not inst.is_drum for n in inst.notes]

    # (pitch, onset in ticks, velocity) of every note. pretty_midi drops a note whose note-on and
    # note-off share a tick; symusic and this library keep it (it was played), so those are set aside.
    key = events.ids < NUM_KEYS
    onset_ticks = np.rint(events.start_s[key] / tick).astype(int)
    ours = Counter(zip((events.ids[key] + LOWEST_PITCH).tolist(), onset_ticks.tolist(), events.intensity[key].tolist()))
    theirs = Counter((n.pitch, round(n.start / tick), n.velocity) for n in pm_notes)
    raw = columns([t.notes.numpy() for t in original.tracks if not t.is_drum])
    instant = raw["duration"] == 0
    zero_length = Counter(zip(raw["pitch"][instant].tolist(), raw["time"][instant].tolist(),
                              raw["velocity"][instant].tolist()))
    assert zero_length <= ours
    assert len(pm_notes) == int(key.sum()) - int(instant.sum()), "note count"
    assert ours - zero_length == theirs

    tol = tick + 1e-9
    controls = [c for inst in pm.instruments for c in inst.control_changes]
    for pedal_id, number in zip(PEDAL_IDS, PEDAL_CONTROLLERS):
        mine = sorted(((c.time, c.value) for c in controls if c.number == number), key=lambda c: c[0])
        want_changes = pedal_changes(np.array([c[0] for c in mine]), np.array([c[1] for c in mine]))
        assert_same_pedals(event_pedal_changes(events, pedal_id), want_changes, events.end_s, tol, f"CC{number}")
    other = sum(1 for c in controls if c.number not in PEDAL_CONTROLLERS)
    assert drops.other_controllers == other


def test_prepare_the_whole_folder(shared_data, tmp_path):
    rows = asap_rows()
    report = prepare([shared_data], tmp_path / "corpus", Config(), progress=False)
    corpus = report.corpus
    assert report.skipped == [] and corpus.skipped == []
    assert corpus.num_tracks == len(rows) == 984
    split_of_piece = {}
    for t in corpus.tracks:
        assert split_of_piece.setdefault(t["piece"], t["split"]) == t["split"], t["piece"]
    assert len(split_of_piece) == 213
    assert {t["split"] for t in corpus.tracks} == {"train", "validation", "test"}
    # figures from ../shared/data/README.md
    assert sum(t["notes"] for t in corpus.tracks) == 3_230_109
    assert sum(t["duration_s"] for t in corpus.tracks) / 3600 == pytest.approx(85.5, abs=0.1)
    assert {t["composer"] for t in corpus.tracks} == {r["composer"] for r in rows}
    assert sum(1 for t in corpus.tracks if t["dropped"]["other_controllers"] > 0) == 453
    assert corpus.chunk_event_ptr[-1] == corpus.ids.size == corpus.track_event_ptr[-1]
    assert corpus.track_chunk_ptr[-1] + 1 == corpus.chunk_event_ptr.size
    again = prepare([shared_data], tmp_path / "corpus", Config(), progress=False)
    assert again.reused
