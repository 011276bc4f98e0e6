"""A closing's slowing into its final chord (ritardando.py): the warp of time, and events warped by it."""
import numpy as np
import pytest

from timestepmusic.midi import Events
from timestepmusic.ritardando import added_s, final_onset_s, slow_into, warp_seconds


def test_time_before_the_span_is_kept_and_after_the_chord_shifted_by_the_whole_stretch():
    times = np.array([0.0, 5.0, 8.0, 10.0, 11.5, 14.0])  # final chord at 10 s, the span 8–10 s
    warped = warp_seconds(times, final_s=10.0, span_s=2.0, slowing=3.0)
    assert warped[:3].tolist() == [0.0, 5.0, 8.0]
    assert added_s(2.0, 3.0) == pytest.approx(2.0)
    assert warped[3:] == pytest.approx(times[3:] + 2.0)  # the chord and its ring: only later


def test_the_stretch_grows_from_one_to_the_slowing_at_the_chord():
    grid = np.linspace(0.0, 12.0, 12_001)
    warped = warp_seconds(grid, final_s=10.0, span_s=2.0, slowing=2.5)
    speed = np.diff(warped) / np.diff(grid)  # seconds heard per second played
    assert np.all(speed > 0)  # (no two events swap)
    at = lambda s: speed[int(round(s * 1000))]  # noqa: E731
    assert at(7.5) == pytest.approx(1.0) and at(9.0) == pytest.approx(1.75, abs=1e-3)
    assert at(9.999) == pytest.approx(2.5, abs=1e-3) and at(11.0) == pytest.approx(1.0)


def test_events_are_warped_start_and_end_and_a_chord_stays_together():
    events = Events(np.array([60, 62, 64, 67, 88]), np.array([1.0, 8.5, 10.0, 10.0, 8.0]),
                    np.array([0.5, 1.0, 3.0, 2.0, 4.0]), np.array([60, 60, 70, 70, 127]))
    slowed = slow_into(events, final_s=10.0, span_s=2.0, slowing=3.0)
    assert slowed.start_s.tolist() == pytest.approx([1.0, 8.625, 12.0, 12.0, 8.0])
    assert slowed.duration_s[0] == 0.5  # before the span: as drawn
    assert slowed.duration_s[1] == pytest.approx(10.625 - 8.625)  # 8.5–9.5 s in the span: heard 1 s → 2 s
    assert slowed.duration_s[2:4].tolist() == pytest.approx([3.0, 2.0])  # the chord's notes: as drawn, later
    assert slowed.duration_s[4] == pytest.approx(12.0 - 8.0 + 2.0)  # a pedal down through the span: held through it
    assert slowed.ids.tolist() == events.ids.tolist() and slowed.intensity.tolist() == events.intensity.tolist()
    assert slowed.end_s == pytest.approx(events.end_s + 2.0)
    assert slow_into(events, 10.0, 2.0, 1.0) is events and slow_into(events, 10.0, 0.0, 2.0) is events


def test_the_final_onset_is_the_last_notes_with_those_struck_just_before():
    events = Events(np.array([60, 64, 88, 67, 72]), np.array([4.1, 4.3, 4.35, 4.38, 4.45]), np.ones(5), np.full(5, 64))
    assert final_onset_s(events) == pytest.approx(4.38)  # 4.38 and 4.45 (a pedal is not a note; 4.3 is 0.15 s before)
    assert final_onset_s(events, onset_s=0.2) == pytest.approx(4.3)
    assert final_onset_s(events.take(np.array([2]))) is None
