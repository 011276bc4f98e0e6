"""A piece's beat as heard (tempo.py): what `tsm generate --tempo` prints and bench/tempo_follow.py counts."""
from __future__ import annotations

import numpy as np
import pytest

from timestepmusic.midi import LOWEST_PITCH, Events
from timestepmusic.tempo import beat_relation, heard_beat_s


def onsets_at(times_s: np.ndarray, chord: int = 1) -> Events:
    """A note (or a chord of `chord` notes, struck 10 ms apart) at each time."""
    starts = (times_s[:, None] + 0.01 * np.arange(chord)[None]).ravel()
    keys = np.tile(60 + 4 * np.arange(chord), times_s.size) - LOWEST_PITCH
    return Events(keys, starts, np.full(starts.size, 0.2), np.full(starts.size, 64))


@pytest.mark.parametrize("beat_s", [0.3, 0.6, 0.9, 1.2])
def test_a_steady_beat_is_heard_at_its_period(beat_s):
    rng = np.random.default_rng(0)
    times = np.arange(0.1, 15.9, beat_s) + rng.normal(0, 0.01, np.arange(0.1, 15.9, beat_s).size)  # played, not ticked
    assert heard_beat_s(onsets_at(np.sort(times), chord=3), 16.0) == pytest.approx(beat_s, abs=0.03)


def test_too_few_onsets_name_no_beat():
    assert heard_beat_s(onsets_at(np.array([0.5, 1.0, 1.5])), 16.0) is None
    assert heard_beat_s(onsets_at(np.array([0.5, 0.51, 0.52, 0.53, 1.0])), 16.0) is None  # one chord is one onset
    assert beat_relation(None, 90) == "no beat"


def test_a_beat_is_named_up_to_an_octave():
    assert [beat_relation(heard, 100.0) for heard in (0.6, 0.57, 0.3, 1.2, 0.9, 0.45)] == [
        "the beat", "the beat", "twice as fast", "half as fast", "another beat", "another beat"]
    assert [beat_relation(heard, bpm) for heard, bpm in ((0.25, 80.0), (0.26, 80.0), (1.35, 135.0), (0.33, 80.0))] == [
        "three times as fast", "three times as fast", "a third as fast", "another beat"]  # triplets; a bar of three


def test_the_edge_of_the_lags_is_not_a_beat():
    """Onsets every 1.6 s: the autocorrelation still rises at 1.5 s, the longest lag looked at; that is no peak."""
    assert heard_beat_s(onsets_at(np.arange(0.1, 15.9, 1.6)), 16.0) is None
    assert heard_beat_s(onsets_at(np.arange(0.1, 15.9, 1.4)), 16.0) == pytest.approx(1.4, abs=0.03)


def test_a_path_of_tempos_is_heard_at_each_waypoint_against_the_tempo_asked_there():
    from timestepmusic.heard import tempo_path_heard
    from timestepmusic.sequence.pulse import TempoTold

    beats_s = np.concatenate([np.arange(0.0, 8.0, 0.75), np.arange(8.0, 16.0, 0.5)])  # 80 bpm, then 120
    played = onsets_at(beats_s)
    ramp = TempoTold(80.0, later=((16.0, 120.0),))
    said = tempo_path_heard(played, 16.0, ramp)  # each 8 s window against the tempo at its middle: 90, then 110
    assert said == ("tempo, bpm: at 0 s 80: over 0–8 s asked 90 at its middle, heard 80 (another beat); "
                    "at 16 s 120: over 8–16 s asked 110 at its middle, heard 120 (another beat)")
    assert tempo_path_heard(played, 16.0, ramp, offset_s=4.0).startswith(  # after a 4 s prompt: times in the file
        "tempo, bpm: at 4 s 80: over 4–12 s asked 90")
    steps = TempoTold(80.0, later=((8.0, 80.0), (8.25, 120.0)))  # 80 to 8 s, then 120
    assert tempo_path_heard(played, 16.0, steps).endswith("at 8.25 s 120: over 4.25–12.25 s asked 120 at its "
                                                          "middle, heard 120")
    assert tempo_path_heard(played, 6.0, TempoTold(80.0, later=((12.0, 120.0),))).endswith(
        "at 12 s 120: ended before it")  # a piece that ended first
    assert tempo_path_heard(played, 0.0, ramp).endswith("at 16 s 120: ended before it")  # nothing after the prompt
