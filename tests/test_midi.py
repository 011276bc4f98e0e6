"""MIDI ⇄ events on tiny files written by the tests with mido; expected values worked out by hand."""
from __future__ import annotations

import mido
import numpy as np
import pretty_midi
import pytest

from timestepmusic.holds import merge_restrikes, pedal_presses
from timestepmusic.midi import (
    DAMPER_ID,
    HIGHEST_PITCH,
    LOWEST_PITCH,
    NUM_KEYS,
    SOFT_ID,
    SOSTENUTO_ID,
    WRITE_QUARTERS_PER_SECOND,
    WRITE_TICKS_PER_QUARTER,
    Events,
    read_events,
    score_to_events,
)
from timestepmusic.midi_open import load_score
from timestepmusic.midi_write import pedal_messages, write_events

from midi_factory import CC, Note, bad_files, midi_bytes, presses_in_file, write_midi

WRITE_TICK_S = 1 / (WRITE_TICKS_PER_QUARTER * WRITE_QUARTERS_PER_SECOND)  # one tick of a written file


def read(tmp_path, notes=(), controls=(), *, pedal_bins=4, name="piece.mid", **kwargs):
    path = write_midi(tmp_path / name, notes, controls, **kwargs)
    return read_events(path, pedal_bins=pedal_bins)


def as_rows(events: Events, which) -> list[tuple]:
    """(id, start, duration, intensity) of the events selected by the boolean mask `which`."""
    return [(int(i), float(s), float(d), int(v)) for i, s, d, v in
            zip(events.ids[which], events.start_s[which], events.duration_s[which], events.intensity[which])]


# --- notes and time ---------------------------------------------------------------------------------

@pytest.mark.parametrize("note_off", ["note_off", "velocity0"])
def test_both_note_off_styles(tmp_path, note_off):
    # 480 ticks per quarter at 120 bpm: one tick is 1/960 s
    notes = [Note(60, 0, 480, 80), Note(64, 240, 1200, 100), Note(21, 960, 1000, 1), Note(108, 960, 1920, 127)]
    events, drops = read(tmp_path, notes, note_off=note_off)
    expected = [(60 - 21, 0.0, 0.5, 80), (64 - 21, 0.25, 1.0, 100), (0, 1.0, 40 / 960, 1), (87, 1.0, 1.0, 127)]
    assert as_rows(events, events.is_note) == [pytest.approx(row, abs=1e-12) for row in expected]
    assert events.end_s == pytest.approx(2.0)
    assert drops.notes_out_of_range == 0 and drops.restruck_notes == 0


@pytest.mark.parametrize("file_type", [0, 1])
def test_tempo_map_with_changes(tmp_path, file_type):
    # 500000 µs/quarter from tick 0, 250000 from tick 960 (1.0 s), 1000000 from tick 1920 (1.5 s)
    tempos = [(0, 500_000), (960, 250_000), (1920, 1_000_000)]
    notes = [Note(60, 480, 960, 70), Note(62, 1440, 1920, 71), Note(64, 1920, 2400, 72), Note(65, 720, 2880, 73)]
    events, _ = read(tmp_path, notes, tempos=tempos, file_type=file_type)
    starts = dict(zip(events.ids.tolist(), events.start_s.tolist()))
    ends = dict(zip(events.ids.tolist(), (events.start_s + events.duration_s).tolist()))
    # by hand: tick 480 → 0.5 s; 960 → 1.0; 1440 → 1.0 + 480·0.25/480 = 1.25; 1920 → 1.5;
    # 2400 → 1.5 + 480·1.0/480 = 2.5; 720 → 0.75; 2880 → 1.5 + 960/480 = 3.5
    assert starts[60 - 21] == pytest.approx(0.5, abs=1e-12)
    assert ends[60 - 21] == pytest.approx(1.0, abs=1e-12)
    assert starts[62 - 21] == pytest.approx(1.25, abs=1e-12)
    assert ends[62 - 21] == pytest.approx(1.5, abs=1e-12)
    assert starts[64 - 21] == pytest.approx(1.5, abs=1e-12)
    assert ends[64 - 21] == pytest.approx(2.5, abs=1e-12)
    assert starts[65 - 21] == pytest.approx(0.75, abs=1e-12)
    assert ends[65 - 21] == pytest.approx(3.5, abs=1e-12)
    assert events.end_s == pytest.approx(3.5, abs=1e-12)


@pytest.mark.parametrize("ticks_per_quarter", [96, 384, 480, 960])
def test_ticks_per_quarter(tmp_path, ticks_per_quarter):
    q = ticks_per_quarter
    # the same music in quarters at 100 bpm (0.6 s a quarter): quarters → seconds × 0.6
    notes = [Note(60, 0, q, 90), Note(67, q // 2, 3 * q, 60), Note(72, 2 * q + q // 4, 4 * q, 30)]
    events, _ = read(tmp_path, notes, ticks_per_quarter=q, tempos=[(0, 600_000)])
    assert events.ids.tolist() == [60 - 21, 67 - 21, 72 - 21]
    np.testing.assert_allclose(events.start_s, [0.0, 0.3, 2.25 * 0.6], atol=1e-12)
    np.testing.assert_allclose(events.duration_s, [0.6, 2.5 * 0.6, 1.75 * 0.6], atol=1e-12)
    assert events.intensity.tolist() == [90, 60, 30]
    assert events.end_s == pytest.approx(2.4)


def test_events_sorted_by_start_then_id(tmp_path):
    notes = [Note(70, 480, 960), Note(50, 480, 960), Note(60, 0, 960), Note(40, 960, 1200)]
    events, _ = read(tmp_path, notes, [CC(64, 100, 480)])
    assert events.ids.tolist() == [60 - 21, 50 - 21, 70 - 21, DAMPER_ID, 40 - 21]
    assert np.all(np.diff(events.start_s) >= 0)


def test_restruck_key_ends_the_earlier_note(tmp_path):
    # two strikes of C4 overlap: the earlier note must end at the second strike (tick 480 = 0.5 s)
    notes = [Note(60, 0, 960, 80), Note(60, 480, 1440, 90), Note(64, 0, 1440, 70)]
    events, drops = read(tmp_path, notes)
    c4 = events.ids == 60 - 21
    assert drops.restruck_notes == 1
    assert events.start_s[c4].tolist() == [0.0, 0.5]
    assert events.duration_s[c4][0] == pytest.approx(0.5)
    assert events.intensity[c4].tolist() == [80, 90]
    assert events.duration_s[events.ids == 64 - 21].tolist() == [1.5]  # other keys untouched


def test_repeated_key_without_overlap_is_not_restruck(tmp_path):
    events, drops = read(tmp_path, [Note(60, 0, 480), Note(60, 480, 960), Note(60, 960, 1440)])
    assert drops.restruck_notes == 0
    np.testing.assert_allclose(events.duration_s, [0.5, 0.5, 0.5])


def test_dropped_notes_channels_and_controllers_are_counted(tmp_path):
    notes = [Note(20, 0, 480), Note(109, 0, 480), Note(127, 0, 480), Note(60, 0, 480, 99),
             Note(38, 0, 240, channel=9), Note(42, 240, 480, channel=9), Note(46, 240, 480, channel=9)]
    controls = [CC(7, 100, 0), CC(1, 30, 10), CC(1, 40, 20), CC(64, 127, 0), CC(64, 0, 480)]
    events, drops = read(tmp_path, notes, controls)
    assert drops.notes_out_of_range == 3
    assert drops.drum_notes == 3
    assert drops.other_controllers == 3
    assert drops.controller_numbers == {1: 2, 7: 1}
    assert drops.pedal_messages == 2
    assert events.ids.tolist() == [60 - 21, DAMPER_ID]
    assert events.intensity.tolist() == [99, 127]
    assert set(drops.to_dict()) >= {"notes_out_of_range", "drum_notes", "other_controllers", "restruck_notes"}


def test_a_drum_channels_controllers_are_counted(tmp_path):
    notes = [Note(60, 0, 480), Note(38, 0, 240, channel=9)]
    controls = [CC(7, 100, 0, channel=9), CC(64, 127, 0, channel=9), CC(1, 30, 10)]
    _, drops = read(tmp_path, notes, controls)
    assert drops.drum_notes == 1 and drops.other_controllers == 3 and drops.pedal_messages == 0


def test_an_instrument_layered_with_the_piano_is_left_out_and_counted(tmp_path):
    # a digital piano's layer: the piano on channel 1, strings (program 48) on channel 2 with a pedal of their own
    notes = [Note(60, 0, 480, 90), Note(48, 0, 1920, 70, channel=1), Note(55, 0, 1920, 70, channel=1)]
    controls = [CC(64, 127, 240), CC(64, 0, 720), CC(64, 127, 0, channel=1), CC(66, 100, 0, channel=1),
                CC(66, 0, 1920, channel=1)]
    events, drops = read(tmp_path, notes, controls, programs=[(0, 0), (1, 48)])
    assert events.ids.tolist() == [60 - 21, DAMPER_ID] and pedal_rows(events, DAMPER_ID) == [(0.25, 0.5, 127)]
    assert drops.other_instrument_notes == 2 and drops.drum_notes == 0
    assert "2 of another voice beside the piano" in drops.notes_left_out()


def test_a_layers_pedal_leaves_the_pianos_own_pedal_channel_read(tmp_path):
    # a Disklavier's notes on channel 1 and its pedal on channel 2 (no notes there: symusic drops it, read from the
    # bytes), strings layered on channel 3 with a damper of their own: the piano keeps its damper, and the layer's is
    # not merged into it (read whole from the bytes, the damper was held from tick 0 to 1920)
    notes = [Note(60, 0, 480), Note(64, 480, 960), Note(48, 0, 1920, channel=2), Note(52, 0, 1920, channel=2)]
    controls = [CC(64, 127, 240, channel=1), CC(64, 0, 720, channel=1), CC(64, 127, 0, channel=2),
                CC(64, 0, 1920, channel=2)]
    events, drops = read(tmp_path, notes, controls, programs=[(0, 0), (2, 48)])
    assert pedal_rows(events, DAMPER_ID) == [(0.25, 0.5, 127)]
    assert drops.other_instrument_notes == 2 and drops.pedal_messages == 2


def test_a_grand_layered_with_an_electric_piano_is_read_once(tmp_path):
    # a digital piano's 'Dual' of a grand (channel 1) and an electric piano (program 4, channel 2) strikes each key
    # twice at one tick: read whole, each note came twice, once of no length
    notes = [Note(60, 0, 480, 80), Note(60, 0, 480, 60, channel=1), Note(64, 480, 960, 70), Note(64, 480, 960, 50, channel=1)]
    events, drops = read(tmp_path, notes, programs=[(0, 0), (1, 4)])
    assert events.ids.tolist() == [60 - 21, 64 - 21] and events.intensity.tolist() == [80, 70]
    np.testing.assert_allclose(events.duration_s, [0.5, 0.5])
    assert drops.other_instrument_notes == 2 and drops.restruck_notes == 0


def test_a_voice_switched_to_on_the_pianos_channel_is_read_with_its_pedal(tmp_path):
    # one channel: the grand until tick 960, where the player switches to strings (48) with the damper down; symusic
    # files the notes and controllers after the switch as a track of its own, which plays after the piano, not beside
    # it: its notes are the performance's, and its damper lift ends the press made under the grand (left out, the
    # damper was held to the file's end)
    notes = [Note(60, 0, 480), Note(64, 480, 960), Note(67, 960, 1440), Note(72, 1440, 1920), Note(76, 1920, 6720)]
    controls = [CC(64, 127, 480), CC(64, 0, 1440)]
    events, drops = read(tmp_path, notes, controls, programs=[(0, 0), (0, 48, 960)])
    assert events.ids[events.is_note].tolist() == [p - 21 for p in (60, 64, 67, 72, 76)]
    assert pedal_rows(events, DAMPER_ID) == [(0.5, 1.0, 127)]
    assert drops.other_instrument_notes == 0


def test_a_file_no_piano_plays_in_is_refused_not_read_as_piano(tmp_path):
    # an electric piano (4) is the piano where no grand plays; a file whose notes are all another instrument's (a
    # violin's part, 40; an organ's, 16) was read whole as piano playing, and prepare learnt it as piano: refused in
    # one line naming its programs, and a file of drums alone as before (no piano notes)
    events, drops = read(tmp_path, [Note(60, 0, 480), Note(64, 0, 480, channel=1)], programs=[(0, 4), (1, 48)],
                         name="epiano.mid")
    assert events.ids.tolist() == [60 - 21] and drops.other_instrument_notes == 1
    for programs, said in (([(0, 40), (1, 40)], "40 (strings)"), ([(0, 16), (1, 52)], "16 (organ), 52 (ensemble)")):
        with pytest.raises(ValueError) as info:
            read(tmp_path, [Note(60, 0, 480), Note(64, 0, 480, channel=1)], programs=programs, name="other.mid")
        message = str(info.value)
        assert message.startswith(f"{tmp_path / 'other.mid'}: no piano plays in the file: ") and "\n" not in message
        assert f"programs, {said}, none on a piano's" in message
    with pytest.raises(ValueError, match="no piano notes .*; its notes: 1 on the drum channel"):
        read(tmp_path, [Note(38, 0, 240, channel=9)], programs=[(9, 40)], name="drums.mid")
    events, _ = read(tmp_path, [Note(60, 0, 480), Note(64, 0, 480, channel=1)], programs=[(1, 40)], name="duo.mid")
    assert events.ids.tolist() == [60 - 21]  # (a piano beside the violin, on a channel without a program change: read)


def test_keyboard_edges_are_kept(tmp_path):
    events, drops = read(tmp_path, [Note(LOWEST_PITCH, 0, 10), Note(HIGHEST_PITCH, 0, 10)])
    assert events.ids.tolist() == [0, NUM_KEYS - 1]
    assert drops.notes_out_of_range == 0


# --- pedals -----------------------------------------------------------------------------------------

PEDAL_CURVES = {  # (tick, value) per controller; at 480 tpq and 120 bpm one tick is 1/960 s
    64: [(0, 70), (480, 90), (1440, 127), (1920, 0)],
    66: [(240, 20), (720, 0), (960, 1), (1200, 0)],
    67: [(0, 40), (480, 33), (960, 64), (1200, 127), (1680, 0)],
}


def pedal_controls():
    return [CC(number, value, tick) for number, curve in PEDAL_CURVES.items() for tick, value in curve]


def pedal_rows(events, pedal_id):
    return [(s, d, v) for i, s, d, v in as_rows(events, events.ids == pedal_id)]


def test_pedals_without_binning_keep_every_value(tmp_path):
    notes = [Note(60, 0, 2400)]
    events, drops = read(tmp_path, notes, pedal_controls(), pedal_bins=0)
    assert drops.pedal_messages == 13 and drops.other_controllers == 0
    approx = lambda rows: [pytest.approx(r, abs=1e-12) for r in rows]  # noqa: E731
    assert pedal_rows(events, DAMPER_ID) == approx([(0.0, 0.5, 70), (0.5, 1.0, 90), (1.5, 0.5, 127)])
    assert pedal_rows(events, SOSTENUTO_ID) == approx([(0.25, 0.5, 20), (1.0, 0.25, 1)])
    assert pedal_rows(events, SOFT_ID) == approx(
        [(0.0, 0.5, 40), (0.5, 0.5, 33), (1.0, 0.25, 64), (1.25, 0.5, 127)])


def test_pedals_with_four_bins_merge_runs_with_time_weighted_mean(tmp_path):
    # four bins of 1–127: 1–32, 33–64, 65–96, 97–127
    events, _ = read(tmp_path, [Note(60, 0, 2400)], pedal_controls())
    approx = lambda rows: [pytest.approx(r, abs=1e-12) for r in rows]  # noqa: E731
    # damper: 70 for 0.5 s and 90 for 1.0 s share bin 3 → one event, mean (70·0.5 + 90·1.0)/1.5 = 83.33 → 83
    assert pedal_rows(events, DAMPER_ID) == approx([(0.0, 1.5, 83), (1.5, 0.5, 127)])
    # sostenuto: two separate presses in bin 1 with a release between them stay two events
    assert pedal_rows(events, SOSTENUTO_ID) == approx([(0.25, 0.5, 20), (1.0, 0.25, 1)])
    # soft: 40 (0.5 s), 33 (0.5 s), 64 (0.25 s) share bin 2 → (40·0.5 + 33·0.5 + 64·0.25)/1.25 = 42.0
    assert pedal_rows(events, SOFT_ID) == approx([(0.0, 1.25, 42), (1.25, 0.5, 127)])


def test_pedal_bins_boundaries(tmp_path):
    # 32 and 33 fall in different bins with 4 bins; with 1 bin every depth is one bin
    controls = [CC(64, 32, 0), CC(64, 33, 480), CC(64, 0, 960)]
    four, _ = read(tmp_path, [Note(60, 0, 960)], controls, pedal_bins=4, name="four.mid")
    one, _ = read(tmp_path, [Note(60, 0, 960)], controls, pedal_bins=1, name="one.mid")
    assert pedal_rows(four, DAMPER_ID) == [(0.0, 0.5, 32), (0.5, 0.5, 33)]
    assert pedal_rows(one, DAMPER_ID) == [(0.0, 1.0, 32)]  # mean 32.5 rounds to even


def test_pedal_down_at_the_end_ends_at_the_end_of_the_file(tmp_path):
    # the damper goes down at 0.5 s and never comes up; the file's last message is the note-off at 2.0 s
    events, _ = read(tmp_path, [Note(60, 0, 1920)], [CC(64, 100, 480), CC(67, 50, 960)], pedal_bins=0)
    assert events.end_s == pytest.approx(2.0)
    assert pedal_rows(events, DAMPER_ID) == [(0.5, 1.5, 100)]
    assert pedal_rows(events, SOFT_ID) == [(1.0, 1.0, 50)]


def test_pedal_up_is_never_an_event(tmp_path):
    events, _ = read(tmp_path, [Note(60, 0, 960)], [CC(64, 0, 0), CC(64, 0, 480), CC(66, 0, 10)], pedal_bins=0)
    assert not (events.ids >= DAMPER_ID).any()


def test_pedal_on_a_channel_without_notes_is_read(tmp_path):
    # the damper on channel 1, the notes on channel 0 (a Disklavier writes its pedals on both): symusic keeps a
    # channel's controllers only where it holds a note, so the pedal was lost without a word
    controls = [CC(64, 100, 240, channel=1), CC(64, 0, 720, channel=1), CC(67, 60, 0, channel=2), CC(67, 0, 1200, channel=2)]
    events, drops = read(tmp_path, [Note(60, 0, 960)], controls, pedal_bins=0)
    assert pedal_rows(events, DAMPER_ID) == [(0.25, 0.5, 100)]
    assert pedal_rows(events, SOFT_ID) == [(0.0, 1.25, 60)]
    assert drops.pedal_messages == 4
    assert events.end_s == pytest.approx(1.25)  # the soft pedal's release is the file's last message


def test_pedal_track_without_notes_is_read(tmp_path):
    # a type-1 file with the pedals in a track of their own (as notation programs and DAWs export them)
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000, time=0)]))
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=80, time=0),
                                      mido.Message("note_off", note=60, time=960)]))
    mid.tracks.append(mido.MidiTrack([mido.Message("control_change", control=64, value=127, time=480),
                                      mido.Message("control_change", control=64, value=0, time=960),
                                      mido.Message("control_change", control=66, value=90, time=0),
                                      mido.Message("control_change", control=66, value=0, time=480)]))
    path = tmp_path / "pedal_track.mid"
    mid.save(path)
    events, drops = read_events(path, pedal_bins=0)
    assert pedal_rows(events, DAMPER_ID) == [(0.5, 1.0, 127)]
    assert pedal_rows(events, SOSTENUTO_ID) == [(1.5, 0.5, 90)]
    assert drops.pedal_messages == 4 and events.end_s == pytest.approx(2.0)


def test_a_pedal_on_the_drum_channel_alone_is_not_read(tmp_path):
    events, drops = read(tmp_path, [Note(60, 0, 960)], [CC(64, 100, 0, channel=9), CC(64, 0, 480, channel=9)])
    assert not (events.ids >= DAMPER_ID).any() and drops.pedal_messages == 0


# --- writing ------------------------------------------------------------------------------------------

def random_events(seed: int, seconds: float = 20.0) -> Events:
    """Valid events on the written file's tick grid (plus < 0.3 tick of jitter, which writing rounds away).

    Notes of one key never overlap, every event lasts at least two ticks, and back-to-back events of
    one pedal differ in value (with binning off, equal neighbours would read back as one event).
    """
    rng = np.random.default_rng(seed)
    grid = int(seconds / WRITE_TICK_S)
    ids, start, stop, level = [], [], [], []
    for key in rng.choice(NUM_KEYS, size=30, replace=False):
        n = int(rng.integers(1, 12))
        length = rng.integers(2, 3000, n)
        gap = rng.integers(0, 3000, n)
        begin = np.cumsum(gap + length) - length
        keep = begin + length < grid
        ids += [np.full(keep.sum(), key)]
        start += [begin[keep]]
        stop += [(begin + length)[keep]]
        level += [rng.integers(1, 128, keep.sum())]
    for pedal in (DAMPER_ID, SOSTENUTO_ID, SOFT_ID):
        n = 40
        length = rng.integers(2, 2000, n)
        gap = np.where(rng.random(n) < 0.5, 0, rng.integers(1, 2000, n))  # half of them back to back
        begin = np.cumsum(gap + length) - length
        value = np.cumsum(rng.integers(1, 127, n)) % 127 + 1  # neighbours always differ
        keep = begin + length < grid
        ids += [np.full(keep.sum(), pedal)]
        start += [begin[keep]]
        stop += [(begin + length)[keep]]
        level += [value[keep]]
    start_tick, stop_tick = np.concatenate(start), np.concatenate(stop)
    jitter = rng.uniform(-0.3, 0.3, (2, start_tick.size)) * WRITE_TICK_S
    start_s = start_tick * WRITE_TICK_S + jitter[0]
    stop_s = stop_tick * WRITE_TICK_S + jitter[1]
    ids = np.concatenate(ids)
    order = np.lexsort((ids, start_tick))  # sorted as read back: by start (on the grid), then id
    return Events(ids, start_s, stop_s - start_s, np.concatenate(level)).take(order)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_round_trip_events_to_midi_to_events(tmp_path, seed):
    original = random_events(seed)
    assert len(original) > 100 and (original.ids >= DAMPER_ID).sum() > 30
    path = write_events(original, tmp_path / "deep" / "out.mid")
    back, drops = read_events(path, pedal_bins=0)
    assert back.ids.tolist() == original.ids.tolist()
    assert back.intensity.tolist() == original.intensity.tolist()
    np.testing.assert_allclose(back.start_s, original.start_s, rtol=0, atol=WRITE_TICK_S)
    np.testing.assert_allclose(back.start_s + back.duration_s, original.start_s + original.duration_s,
                               rtol=0, atol=WRITE_TICK_S)
    assert back.end_s == pytest.approx(original.end_s, abs=WRITE_TICK_S)
    assert drops.restruck_notes == 0 and drops.other_controllers == 0
    assert not list(tmp_path.glob("deep/.*"))  # no temporary file left behind


def test_round_trip_of_a_read_file(tmp_path):
    # file → events → file → events keeps everything (binning off) even at another tick resolution
    notes = [Note(60, 0, 300, 80), Note(64, 100, 700, 90), Note(60, 300, 500, 70)]
    controls = [CC(64, 45, 50), CC(64, 46, 250), CC(64, 0, 600), CC(66, 127, 0), CC(67, 3, 300)]
    first, _ = read(tmp_path, notes, controls, pedal_bins=0, ticks_per_quarter=384, tempos=[(0, 432_100)])
    second, _ = read_events(write_events(first, tmp_path / "again.mid"), pedal_bins=0)
    assert second.ids.tolist() == first.ids.tolist()
    assert second.intensity.tolist() == first.intensity.tolist()
    np.testing.assert_allclose(second.start_s, first.start_s, atol=WRITE_TICK_S / 2 + 1e-12)
    np.testing.assert_allclose(second.duration_s, first.duration_s, atol=WRITE_TICK_S + 1e-12)


def test_written_midi_is_read_the_same_by_pretty_midi(tmp_path):
    events = random_events(7)
    path = write_events(events, tmp_path / "out.mid")
    pm = pretty_midi.PrettyMIDI(str(path))
    assert len(pm.instruments) == 1 and not pm.instruments[0].is_drum
    piano = pm.instruments[0]
    notes = sorted((n.start, n.pitch, n.end, n.velocity) for n in piano.notes)
    key = events.is_note
    expected = sorted(zip((events.start_s[key]).tolist(), (events.ids[key] + 21).tolist(),
                          (events.start_s + events.duration_s)[key].tolist(), events.intensity[key].tolist()))
    assert len(notes) == len(expected)
    assert [(p, v) for _, p, _, v in notes] == [(p, v) for _, p, _, v in expected]
    np.testing.assert_allclose([n[0] for n in notes], [e[0] for e in expected], atol=WRITE_TICK_S)
    np.testing.assert_allclose([n[2] for n in notes], [e[2] for e in expected], atol=WRITE_TICK_S)
    for pedal_id, number in ((DAMPER_ID, 64), (SOSTENUTO_ID, 66), (SOFT_ID, 67)):
        got = [(c.time, c.value) for c in piano.control_changes if c.number == number]
        mine = events.ids == pedal_id
        want = []
        s, e, v = events.start_s[mine], (events.start_s + events.duration_s)[mine], events.intensity[mine]
        for i in range(s.size):  # down at the start, up at the end unless the next press takes over there
            want.append((s[i], int(v[i])))
            if i + 1 == s.size or s[i + 1] - e[i] > WRITE_TICK_S:
                want.append((e[i], 0))
        assert [g[1] for g in got] == [w[1] for w in want], number
        np.testing.assert_allclose([g[0] for g in got], [w[0] for w in want], atol=WRITE_TICK_S)


def damper_changes(path) -> list[tuple[int, int]]:
    """(tick, value) of every CC64 message in a file, in file order, read with pretty_midi's reader (mido)."""
    pm = pretty_midi.PrettyMIDI(str(path))
    return [(pm.time_to_tick(c.time), c.value) for c in pm.instruments[0].control_changes if c.number == 64]


def test_pedal_pressed_and_released_at_one_tick_stays_up(tmp_path):
    # the damper goes to 50 and back to 0 at tick 480 (it happens in real files), then to 80 from 1.0 s to 1.5 s
    controls = [CC(64, 50, 480), CC(64, 0, 480), CC(64, 80, 960), CC(64, 0, 1440)]
    first, _ = read(tmp_path, [Note(60, 0, 1920)], controls, pedal_bins=0)
    back, _ = read_events(write_events(first, tmp_path / "again.mid"), pedal_bins=0)
    np.testing.assert_allclose(back.duration_s[back.ids == DAMPER_ID], first.duration_s[first.ids == DAMPER_ID],
                               atol=WRITE_TICK_S)  # 0.0 s and 0.5 s, not 0.5 s and 0.5 s


def test_back_to_back_pedal_events_stay_back_to_back(tmp_path):
    # 384 ticks per quarter at 120 bpm: one source tick is 2.5 written ticks, so odd ticks fall on half ticks
    controls = [CC(64, 58, 0), CC(64, 60, 5), CC(64, 61, 19), CC(64, 62, 35), CC(64, 0, 50)]
    events, _ = read(tmp_path, [Note(60, 0, 384)], controls, pedal_bins=0, ticks_per_quarter=384)
    path = write_events(events, tmp_path / "again.mid")
    assert [value for _, value in damper_changes(path)] == [58, 60, 61, 62, 0]


def test_overlapping_pedal_presses_hold_the_pedal_until_the_last_ends(tmp_path):
    # decoded presses may overlap: a deep one from 0 to 2 s holding a shallow one from 0.5 to 0.75 s; the
    # pedal must stay down until 2 s, back at the deep press's level, not be lifted at 0.75 s
    ticks = WRITE_TICKS_PER_QUARTER * WRITE_QUARTERS_PER_SECOND  # per second
    deep_then_shallow = Events(np.array([DAMPER_ID, DAMPER_ID, 60]), np.array([0.0, 0.5, 0.0]),
                               np.array([2.0, 0.25, 3.0]), np.array([120, 40, 64]))
    path = write_events(deep_then_shallow, tmp_path / "held.mid")
    assert damper_changes(path) == [(0, 120), (int(0.5 * ticks), 40), (int(0.75 * ticks), 120), (2 * ticks, 0)]
    back, _ = read_events(path, pedal_bins=0)
    assert back.duration_s[back.ids == DAMPER_ID].sum() == pytest.approx(2.0)


def test_pedal_messages_lift_only_when_no_press_is_held():
    times, values = pedal_messages(np.array([0, 10, 10, 30]), np.array([20, 15, 12, 30]), np.array([90, 50, 60, 70]))
    # 0: 90; 10: 60 (two presses at one tick, the later wins: 50 is not sent); 12: back to 50 (still held until
    # 15); 15: back to 90 (held until 20); 20: up; 30: pressed and lifted at once, never sounding: not sent
    assert list(zip(times.tolist(), values.tolist())) == [(0, 90), (10, 60), (12, 50), (15, 90), (20, 0)]
    times, values = pedal_messages(np.array([0, 10]), np.array([10, 20]), np.array([90, 50]))
    assert list(zip(times.tolist(), values.tolist())) == [(0, 90), (10, 50), (20, 0)]  # back to back: no lift


def test_a_written_pedal_sends_only_changes(tmp_path):
    # the damper pressed at 80 from 0 to 1 s, again at 80 from 1 s to 2 s (a drawn run of one depth), at 80 from
    # 1.5 s to 1.8 s (inside it), then at 40 and at 60 from 3 s, both at 3 s (one replaced at its own tick)
    events = Events(np.array([DAMPER_ID] * 5 + [60]), np.array([0.0, 1.0, 1.5, 3.0, 3.0, 0.0]),
                    np.array([1.0, 1.0, 0.3, 0.5, 0.5, 4.0]), np.array([80, 80, 80, 40, 60, 64]))
    ticks = int(WRITE_TICKS_PER_QUARTER * WRITE_QUARTERS_PER_SECOND)  # per second
    path = write_events(events, tmp_path / "changes.mid")
    assert damper_changes(path) == [(0, 80), (2 * ticks, 0), (3 * ticks, 60), (int(3.5 * ticks), 0)]
    back, _ = read_events(path, pedal_bins=0)
    assert back.duration_s[back.ids == DAMPER_ID].tolist() == pytest.approx([2.0, 0.5])


def test_pedal_presses_count_each_time_a_pedal_goes_down_as_its_file_holds_it(tmp_path):
    # a new user's trial: one una corda press was said as '1 pedal event', a word for what the file holds as two
    # messages; an event is one depth bin of a press, so a press that goes deeper was several
    events = Events(np.array([DAMPER_ID] * 5 + [SOFT_ID, SOFT_ID, SOSTENUTO_ID, 60]),
                    np.array([0.0, 1.0, 1.5, 3.0, 3.0, 0.5, 1.0, 2.0, 0.0]),
                    np.array([1.0, 1.0, 0.3, 0.5, 0.5, 0.5, 2.0, 0.0, 4.0]),
                    np.array([80, 80, 80, 40, 60, 100, 50, 70, 64]))
    # the damper down from 0 to 2 s (two events back to back, one inside them) and from 3 s (two at one time); the
    # una corda down from 0.5 s to 3 s, deeper then shallower; the sostenuto pressed for no time: never down
    assert pedal_presses(events) == 3 == presses_in_file(write_events(events, tmp_path / "presses.mid"))
    assert pedal_presses(events.take(np.flatnonzero(events.ids != DAMPER_ID))) == 1
    assert pedal_presses(events.take(np.flatnonzero(events.ids == 60))) == 0


def test_sound_end_is_where_the_pedal_holding_the_last_note_is_lifted():
    from timestepmusic.holds import release_by, sound_end_s
    from timestepmusic.midi import SOSTENUTO_ID

    # a note 0–1 s under the damper pressed at 0.5 s and changed at 1.2 s (one hold, lifted at 2 s); the una corda
    # to 5 s holds nothing
    events = Events(np.array([40, DAMPER_ID, DAMPER_ID, SOFT_ID]), np.array([0.0, 0.5, 1.2, 0.0]),
                    np.array([1.0, 0.7, 0.8, 5.0]), np.array([64, 90, 60, 80]))
    assert sound_end_s(events) == pytest.approx(2.0)
    later = Events.concatenate([events, Events(np.array([50, SOSTENUTO_ID]), np.array([2.5, 2.6]),
                                               np.array([0.5, 1.4]), np.array([64, 90]))])
    assert sound_end_s(later) == pytest.approx(4.0)  # released at 3 s under the sostenuto, lifted at 4 s
    released = release_by(later, 4.5, after_sound=True)
    assert released.end_s == pytest.approx(4.0) and release_by(later, 4.5).end_s == pytest.approx(4.5)


def test_a_note_held_by_one_pedal_past_the_others_lift_sounds_to_the_later_lift():
    from timestepmusic.holds import release_by, sound_end_s
    from timestepmusic.midi import SOSTENUTO_ID

    # a note released at 1 s under the sostenuto (down 0.5–3 s); the damper, pressed at 2 s, is down when the
    # sostenuto lifts and holds the note's damper up to 4 s: lifting the damper at 3 s cut the last second of sound
    events = Events(np.array([40, SOSTENUTO_ID, DAMPER_ID]), np.array([0.0, 0.5, 2.0]), np.array([1.0, 2.5, 2.0]),
                    np.array([64, 100, 100]))
    assert sound_end_s(events) == pytest.approx(4.0)
    # the other way about: released at 1 s under the damper (0.5–3 s), the sostenuto pressed at 2 s (catching every
    # raised damper) and lifted at 5 s
    events = Events(np.array([40, DAMPER_ID, SOSTENUTO_ID]), np.array([0.0, 0.5, 2.0]), np.array([1.0, 2.5, 3.0]),
                    np.array([64, 100, 100]))
    assert sound_end_s(events) == pytest.approx(5.0)
    released = release_by(events, 9.0, after_sound=True)
    assert released.duration_s[released.ids == SOSTENUTO_ID].tolist() == pytest.approx([3.0])


def test_a_piece_without_notes_holds_no_pedal_in_its_silence():
    from timestepmusic.holds import release_by

    # a drawn piece of the damper and the una corda alone: nothing sounds, so neither is held down in silence to its end
    events = Events(np.array([DAMPER_ID, SOFT_ID]), np.array([0.0, 1.0]), np.array([3.0, 5.0]), np.array([100, 60]))
    assert len(release_by(events, 8.0, after_sound=True)) == 0
    assert len(release_by(events, 8.0)) == 2  # (a window of a performance keeps them)


@pytest.mark.parametrize("extend", [False, True])
def test_a_key_struck_again_while_it_sounds_is_one_note(extend):
    # key 40: 0–1.0 s, struck again at 0.5 s (until 1.5 s) and 1.2 s; key 41 struck at 0.5 s is another key;
    # key 40 at 2.0 s comes after the release and stays
    events = Events(np.array([40, 40, 41, 40, 40, DAMPER_ID]), np.array([0.0, 0.5, 0.5, 1.2, 2.0, 0.3]),
                    np.array([1.0, 1.0, 0.2, 0.5, 0.1, 0.4]), np.array([64, 70, 64, 70, 64, 100]))
    merged = merge_restrikes(events, extend=extend)
    key40 = merged.ids == 40
    if extend:  # 0.5 s is dropped and the note lasts to 1.5 s, so 1.2 s is dropped too and it lasts to 1.7 s
        np.testing.assert_allclose(merged.start_s[key40], [0.0, 2.0])
        np.testing.assert_allclose(merged.duration_s[key40], [1.7, 0.1])
    else:  # 0.5 s is dropped; 1.2 s comes after the first note's release at 1.0 s and stays
        np.testing.assert_allclose(merged.start_s[key40], [0.0, 1.2, 2.0])
        np.testing.assert_allclose(merged.duration_s[key40], [1.0, 0.5, 0.1])
        np.testing.assert_allclose(merged.intensity[key40], [64, 70, 64])
    assert (merged.ids == 41).sum() == 1 and (merged.ids == DAMPER_ID).sum() == 1


@pytest.mark.parametrize("extend", [False, True])
def test_fast_repeats_that_decode_slightly_long_stay_repeats(extend):
    # 8 strikes of one key every 0.125 s, each 0.14 s long: 15 ms overlaps are a trill's, not a note decoded twice
    events = Events(np.full(8, 40), np.arange(8) * 0.125, np.full(8, 0.14), np.full(8, 64))
    assert len(merge_restrikes(events, extend=extend)) == 8


def test_strikes_at_one_onset_keep_the_longest_whatever_the_order():
    for order in ([0, 1], [1, 0]):
        events = Events(np.array([40, 40])[order], np.array([0.0, 0.0]), np.array([0.5, 1.0])[order],
                        np.array([64, 64]))
        merged = merge_restrikes(events)
        assert merged.duration_s.tolist() == [1.0]
    zero_first = Events(np.array([40, 40]), np.array([0.0, 0.0]), np.array([0.0, 1.0]), np.array([64, 64]))
    assert merge_restrikes(zero_first).duration_s.tolist() == [1.0]


def test_writing_clips_what_a_model_might_emit(tmp_path):
    # negative start, zero duration, intensity 0 and 300: the file must still be valid and playable
    events = Events(np.array([39, 40, DAMPER_ID]), np.array([-0.5, 0.25, 0.0]), np.array([1.0, 0.0, 0.5]),
                    np.array([0, 127, 1]))
    events.intensity[1] = 255
    back, _ = read_events(write_events(events, tmp_path / "clipped.mid"), pedal_bins=0)
    assert back.ids.tolist() == [39, DAMPER_ID, 40]
    assert back.start_s.min() >= 0
    assert (back.duration_s > 0).all()
    assert ((back.intensity >= 1) & (back.intensity <= 127)).all()


# --- bad input ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, message", [("empty", "empty"), ("not_midi", "not a MIDI file"),
                                           ("truncated", "damaged MIDI file"), ("drums_only", "no piano notes")])
def test_bad_files_raise_value_error_naming_the_file(tmp_path, kind, message):
    path = bad_files(tmp_path / "bad")[kind]
    with pytest.raises(ValueError, match=message) as info:
        read_events(path)
    assert str(path) in str(info.value)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read") as info:
        read_events(tmp_path / "nowhere.mid")
    assert "nowhere.mid" in str(info.value)


def test_header_only_has_no_piano_notes(tmp_path):
    data = midi_bytes([Note(60, 0, 480)])
    path = tmp_path / "header_only.mid"
    path.write_bytes(data[:14])  # MThd chunk, no track
    with pytest.raises(ValueError, match="no piano notes") as info:
        read_events(path)
    assert str(path) in str(info.value)


def test_score_level_api_counts_the_same(tmp_path):
    path = write_midi(tmp_path / "a.mid", [Note(60, 0, 480), Note(10, 0, 480)], [CC(11, 5, 0)])
    events, drops = score_to_events(load_score(path), pedal_bins=0)
    assert len(events) == 1 and drops.notes_out_of_range == 1 and drops.controller_numbers == {11: 1}


def test_a_files_meta_says_the_key_tempo_and_making_and_keeps_every_time(tmp_path):
    import symusic

    from timestepmusic.keys import Key, sharps
    from timestepmusic.midi_write import FileMeta

    major = [0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5]  # C, Db, D, Eb, E, F, F#, G, Ab, A, Bb, B major
    minor = [-3, 4, -1, -6, 1, -4, 3, -2, 5, 0, -5, 2]  # C, C#, D, Eb, E, F, F#, G, G#, A, Bb, B minor
    assert [sharps(Key(tonic, False)) for tonic in range(12)] == major  # as key_name spells each: sharps > 0, flats < 0
    assert [sharps(Key(tonic, True)) for tonic in range(12)] == minor
    from timestepmusic.keys import parse_key

    typed = ("Gb", "g-flat major", "C#", "D#m", "A#m", "Cb", "F#", "Db", "Ebm", "E minor")  # as the user spells them
    assert [sharps(parse_key(text), text) for text in typed] == [-6, -6, 7, 6, 7, -7, 6, -5, -6, 1]
    start_s = np.arange(0.0, 12.0, 0.37)
    events = Events(np.full(start_s.shape, 40), start_s, np.full(start_s.shape, 0.3), np.full(start_s.shape, 80))
    meta = FileMeta("made by hand", ((0.0, 1, True), (6.0, -2, False)), ((0.0, 90.0), (4.0, 100.0), (7.5, 60.0)))
    plain, told = write_events(events, tmp_path / "plain.mid"), write_events(events, tmp_path / "told.mid", meta)
    score = symusic.Score(str(told))
    assert [m.text for m in score.markers] == ["made by hand"]
    assert [(k.key, k.tonality) for k in score.key_signatures] == [(1, 1), (-2, 0)]
    assert [round(t.qpm) for t in score.tempos] == [90, 100, 60]
    assert [t.time for t in score.tempos] == [0, round(4.0 * 960 * 1.5), round(4.0 * 960 * 1.5 + 3.5 * 960 * 100 / 60)]
    tick_s = 60 / (960 * 60)  # the longest tick: at 60 bpm
    for path in (plain, told):  # whatever the tempo map, every event keeps its time
        back, _ = read_events(path)
        assert np.abs(back.start_s - events.start_s).max() <= tick_s
        assert np.abs(back.duration_s - events.duration_s).max() <= 2 * tick_s
    assert not symusic.Score(str(plain)).markers and not symusic.Score(str(plain)).key_signatures
    with pytest.raises(ValueError, match="a tempo map from 0 s"):
        FileMeta(tempos=((1.0, 90.0),))


def _bar_lines_s(grid, until_s: float, tmp_path) -> list[float]:
    """The bar lines a sequencer draws under `grid` (a FileGrid) before `until_s`: the grid written in a file and
    its bars counted from the file's time signatures (4/4 where none) and its tempo map, read back with pretty_midi."""
    from timestepmusic.midi_write import FileMeta

    events = Events(np.array([39]), np.array([0.0]), np.array([until_s]), np.array([64]), until_s)
    path = write_events(events, tmp_path / f"grid_{len(list(tmp_path.iterdir()))}.mid",
                        FileMeta("", grid.keys, grid.tempos, grid.meters))
    pm = pretty_midi.PrettyMIDI(str(path))
    meters = sorted(pm.time_signature_changes, key=lambda m: m.time) or [pretty_midi.TimeSignature(4, 4, 0.0)]
    lines, tick = [], 0
    while (at_s := pm.tick_to_time(tick)) < until_s:
        meter = [m for m in meters if pm.time_to_tick(m.time) <= tick][-1]
        lines.append(at_s)
        tick += meter.numerator * pm.resolution * 4 // meter.denominator
    return lines


@pytest.mark.parametrize("meter, tempos, from_s", [
    ((3, 4), ((0.0, 90.0),), 20.0),  # 3/4 at 90 (2/3 s a beat): cut on a bar line (the 10th)
    ((3, 4), ((0.0, 90.0),), 7.0),  # 10.5 beats in: a pickup of 1.5 beats
    ((3, 4), ((0.0, 90.0),), 7.9),  # 11.85 beats in: a sliver of 0.15 of a beat left
    ((6, 8), ((0.0, 60.0), (3.0, 120.0)), 5.2),  # eighths, after a tempo change
    ((5, 4), ((0.0, 100.0),), 3.1),
    (None, ((0.0, 120.0),), 3.3),  # no time signature: 4/4 as a sequencer counts
    ((4, 4), ((0.0, 120.0),), 1.75),  # half a beat left (a pickup of one unit, lasting half of one)
    ((2, 2), ((0.0, 120.0),), 1.5),
    ((3, 4), ((0.0, 90.0),), 5 / 3),
    ((7, 8), ((0.0, 100.0), (2.0, 80.0)), 2.0),  # a tempo change at the cut: the prompt's tempo before it
])
def test_a_continuation_alone_keeps_the_prompts_bar_lines(meter, tempos, from_s, tmp_path):
    from timestepmusic.midi import FileGrid
    from timestepmusic.prompt_grid import grid_from, grid_until

    prompt = FileGrid(tempos, () if meter is None else ((0.0, *meter),), ((0.0, -2, False),))
    later = grid_from(prompt, from_s)
    bpm = [t for at_s, t in tempos if at_s < from_s][-1]  # (one at the cut is the continuation's, not the prompt's)
    unit_s = 60 / bpm * 4 / (meter[1] if meter else 4)
    going_on = grid_until(prompt, from_s)  # its grid as it stood at the cut (a change at the cut is the new music's)
    after_cut = [at_s - from_s for at_s in _bar_lines_s(going_on, from_s + 10.0, tmp_path) if at_s > from_s + 1e-6]
    if after_cut[0] < unit_s / 2:  # a sliver of a beat before the prompt's next bar: that bar line is the pickup's
        after_cut = after_cut[1:]
    got = _bar_lines_s(later, 10.0, tmp_path)
    assert got[0] == 0.0 and len(got) >= 3
    shown = min(len(got) - 1, len(after_cut))  # (the bar lines both files draw within 10 s)
    assert got[1:1 + shown] == pytest.approx(after_cut[:shown], abs=2e-3)  # the prompt's, going on
    assert later.keys == ((0.0, -2, False),) and later.tempos[-1][1] == bpm
    assert all(numerator >= 1 for _, numerator, _ in later.meters)  # (a 0/4 bar: a file no reader opens)
    pretty_midi.PrettyMIDI(str(next(tmp_path.glob("grid_*.mid"))))  # (opened: pretty_midi refuses such a bar)
    assert all(bpm / 2 - 1e-6 <= t <= bpm * 2 + 1e-6 for _, t in later.tempos)  # a pickup beat at most half off


def test_a_continuation_alone_starts_with_the_pedals_down_at_the_cut(tmp_path):
    """generate --continuation-only, pasted after its prompt in a sequencer: a damper and una corda down across the cut
    are pressed at its first tick at their depths (its first notes pedalled as in the whole file); a pedal lifted
    before the cut and the notes struck before it are not in it."""
    from timestepmusic.midi import continuation_only

    played = Events([DAMPER_ID, SOFT_ID, SOSTENUTO_ID, 39, 43], [1.0, 0.5, 0.2, 3.0, 4.5], [4.0, 9.0, 1.0, 2.0, 0.5],
                    [80, 127, 127, 70, 70], 6.0)  # cut at 4 s: the damper and soft down, the sostenuto up, a note held
    alone = continuation_only(played, 4.0)
    score = load_score(write_events(alone, tmp_path / "alone.mid"))
    first = [(c.number, c.value) for c in score.tracks[0].controls if c.time == 0]
    assert sorted(first) == [(64, 80), (67, 127)]  # (CC 64 damper, 67 una corda; no 66 sostenuto)
    assert [(n.pitch, n.time) for n in score.tracks[0].notes] == [(43 + LOWEST_PITCH, 0.5 * WRITE_TICKS_PER_QUARTER
                                                                    * WRITE_QUARTERS_PER_SECOND)]


def test_a_tempo_map_of_many_changes_keeps_every_time_to_a_tick(tmp_path):
    # a prompt's tempo map (its own changes, anywhere between ticks): each change written on a whole tick must not
    # move the later ones, or the notes after hundreds of changes drift by many ticks
    from timestepmusic.midi_write import FileMeta

    rng = np.random.default_rng(0)
    change_s = np.cumsum(rng.uniform(0.2, 0.3, 400))
    tempos = ((0.0, 100.0),) + tuple((float(t), float(rng.uniform(80, 140))) for t in change_s)
    start = np.sort(rng.uniform(0, change_s[-1] + 1, 300))
    events = Events(np.full(start.size, 39), start, np.full(start.size, 0.1), np.full(start.size, 80))
    path = write_events(events, tmp_path / "tempos.mid", FileMeta("", (), tempos))
    back, _ = read_events(path)
    slowest_tick_s = 60 / (80 * WRITE_TICKS_PER_QUARTER)
    assert np.abs(back.start_s - events.start_s).max() <= slowest_tick_s


def test_two_strikes_of_a_key_at_one_tick_are_written_as_one_note(tmp_path):
    # written as note-on, note-on, note-off a tick later: a player that releases a key at its note-off (pretty_midi,
    # a synthesizer) heard the longer strike as a blip of one tick
    events = Events([39, 39, 40], [0.25, 0.25 + WRITE_TICK_S / 4, 0.25], [0.5, 1.0, 0.5], [80, 90, 70])
    path = write_events(events, tmp_path / "twice.mid")
    notes = pretty_midi.PrettyMIDI(str(path)).instruments[0].notes
    assert sorted((n.pitch, n.start, n.end, n.velocity) for n in notes) == [
        (60, 0.25, 1.25, 90), (61, 0.25, 0.75, 70)]
    from timestepmusic.midi_write import write_held

    _, kept = write_held(events, tmp_path / "held.mid")  # the events as the file holds them: what generate's line counts
    assert sorted(zip(kept.ids.tolist(), kept.intensity.tolist())) == [(39, 90), (40, 70)]
    again = write_held(kept, tmp_path / "again.mid")[1]  # nothing to drop: the same events
    assert all(np.array_equal(getattr(again, name), getattr(kept, name)) for name in ("ids", "start_s", "duration_s"))


@pytest.mark.parametrize("tempos", [((0.0, 120.0),), ((0.0, 90.0), (0.7, 137.0))])
def test_the_events_a_file_is_said_to_hold_are_those_a_reader_reads_from_it(tempos, tmp_path):
    # generate's line (its notes, the beat its onsets repeat at) is said of write_held's events: each time off its
    # tick (a drawn time, a prompt's tempo map) must be where a reader finds it, or a beat between two peaks flips
    from timestepmusic.midi_write import FileMeta, write_held

    rng = np.random.default_rng(0)
    start = np.sort(rng.uniform(0, 2, 60))
    key = rng.integers(30, 34, 60)  # keys struck again while sounding: cut at the next strike, as written
    events = Events(np.append(key, 88), np.append(start, 0.1234567), np.append(rng.uniform(0.001, 0.4, 60), 1.0),
                    np.full(61, 80)).sorted()
    path, held = write_held(events, tmp_path / "held.mid", FileMeta("", (), tempos))
    back, _ = read_events(path)
    notes, read = held.take(np.flatnonzero(held.is_note)), back.take(np.flatnonzero(back.is_note))
    assert np.array_equal(notes.ids, read.ids) and np.array_equal(notes.start_s, read.start_s)
    assert np.array_equal(notes.duration_s, read.duration_s)
    assert not np.array_equal(notes.start_s, events.start_s[events.is_note])  # (the drawn times were off their ticks)
    assert held.start_s[~held.is_note].tolist() == back.start_s[~back.is_note].tolist()  # the pedal, at its tick


def test_events_are_shown_as_a_summary_not_their_arrays():
    from timestepmusic.midi import DAMPER_ID, Events

    events = Events(np.array([40, 41, DAMPER_ID]), np.array([0.0, 0.5, 0.0]), np.array([1.0, 0.25, 2.5]),
                    np.array([60, 70, 127]))
    assert repr(events) == "Events(2 notes, 1 pedal events, 2.50 s)"
    assert repr(Events(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))) == "Events(0 notes, 0 pedal events, 0.00 s)"
