"""A closed piece's final onset made a held, heard chord (final_chord.py): held where hurried, raised where much
softer than the music before it; everything else as drawn."""
import numpy as np
import pytest

from timestepmusic.final_chord import floored_velocity, held_if_hurried
from timestepmusic.midi import DAMPER_ID, Events


def ending(final_start_s: float, final_velocity=(20, 30)) -> Events:
    """Four notes at velocity 80 (0–1.5 s, the last at 1.5 s), a damper press, then a final onset of two short notes
    at `final_start_s` and 0.02 s after it."""
    return Events(np.array([40, 43, 45, 47, DAMPER_ID, 50, 53]),
                  np.array([0.0, 0.5, 1.0, 1.5, 1.5, final_start_s, final_start_s + 0.02]),
                  np.array([0.2, 0.2, 0.2, 0.2, 0.3, 0.1, 0.05]), np.array([80, 80, 80, 80, 100, *final_velocity]))


def test_a_hurried_final_onset_is_held_and_nothing_else_changes():
    events = ending(1.7)  # 0.22 s after the note before it: a passage running into the end
    held = held_if_hurried(events, 1.7, 1.5, end_s=10.0)
    assert held.duration_s.tolist() == pytest.approx([0.2, 0.2, 0.2, 0.2, 0.3, 1.5, 1.5])
    assert np.array_equal(held.start_s, events.start_s) and np.array_equal(held.intensity, events.intensity)
    assert held_if_hurried(events, 1.7, 1.5, end_s=2.5).duration_s[-2:].tolist() == pytest.approx([0.8, 0.78])  # the
    # piece's end
    longer = Events(events.ids, events.start_s, np.r_[events.duration_s[:5], 2.0, 0.05], events.intensity)
    assert held_if_hurried(longer, 1.7, 1.5, 10.0).duration_s[-2:].tolist() == pytest.approx([2.0, 1.5])  # (not
    # shortened)


def test_a_final_onset_after_a_breath_is_as_drawn():
    events = ending(2.1)  # its last note 0.62 s after the note before: a pianist's staccato final chord
    assert held_if_hurried(events, 2.1, 1.5, 10.0) is events
    assert held_if_hurried(ending(1.7), 1.7, 0.0, 10.0).duration_s[-1] == pytest.approx(0.05)  # 0: as drawn
    alone = Events(np.array([50]), np.array([3.0]), np.array([0.1]), np.array([60]))
    assert held_if_hurried(alone, 3.0, 1.0, 10.0).duration_s.tolist() == [1.0]  # nothing before it: held


def test_a_final_onset_much_softer_than_the_music_before_is_raised_by_one_factor():
    events = ending(1.7)  # loudest 30 under 0.5 × 80 (the notes of the 10 s before; the damper's depth is no velocity)
    raised = floored_velocity(events, 1.7, 0.5)
    assert raised.intensity.tolist() == [80, 80, 80, 80, 100, 27, 40]  # 20 and 30 × 40 / 30
    assert np.array_equal(raised.duration_s, events.duration_s) and np.array_equal(raised.start_s, events.start_s)
    assert floored_velocity(ending(1.7, (100, 120)), 1.7, 1.0).intensity[-2:].tolist() == [100, 120]  # loud enough
    assert floored_velocity(ending(1.7, (60, 1)), 1.7, 1.0).intensity[-2:].tolist() == [80, 2]  # (1.33 up)
    assert floored_velocity(events, 1.7, 0.6).intensity[-2:].tolist() == [32, 48]  # × 1.6 exactly: not one more
    assert floored_velocity(ending(1.7, (20, 31)), 1.7, 0.39).intensity[-1] == 32  # 31.2 rounded up: the floor reached
    assert floored_velocity(events, 1.7, 0.5, recent_s=0.1) is events  # no note in the seconds before
    assert floored_velocity(events, 1.7, 0.0) is events
