"""Strikes of one key closer together than a pianist can repeat it, joined into one note (flams.py)."""
from __future__ import annotations

import numpy as np

from timestepmusic.flams import MIN_REPEAT_S, flams_joined
from timestepmusic.midi import DAMPER_ID, Events


def events(*rows) -> Events:
    """(id, start_s, duration_s, intensity) rows → Events, in time order."""
    ids, start, duration, intensity = zip(*rows)
    return Events(np.array(ids), np.array(start), np.array(duration), np.array(intensity)).sorted()


def rows(e: Events) -> list[tuple]:
    return sorted(zip(e.ids.tolist(), np.round(e.start_s, 6).tolist(), np.round(e.duration_s, 6).tolist(),
                      e.intensity.tolist()))


def test_a_key_struck_twice_within_the_limit_sounds_once_from_the_first_strike_to_the_last_end_at_the_louder():
    piece = events((40, 1.0, 0.005, 50), (40, 1.012, 0.5, 80), (41, 1.005, 0.2, 60), (DAMPER_ID, 1.0, 0.01, 100))
    assert rows(flams_joined(piece)) == [(40, 1.0, 0.512, 80), (41, 1.005, 0.2, 60), (DAMPER_ID, 1.0, 0.01, 100)]


def test_strikes_as_far_apart_as_a_pianist_repeats_a_key_are_kept():
    piece = events((40, 1.0, 0.03, 50), (40, 1.0 + MIN_REPEAT_S + 0.001, 0.5, 80), (40, 2.0, 0.1, 70))
    assert flams_joined(piece) is piece


def test_a_run_of_quick_strikes_joins_as_one_chain():
    piece = events((40, 1.0, 0.01, 50), (40, 1.03, 0.01, 90), (40, 1.06, 0.3, 20), (40, 1.2, 0.1, 70))
    assert rows(flams_joined(piece)) == [(40, 1.0, 0.36, 90), (40, 1.2, 0.1, 70)]


def test_a_prompts_notes_are_never_joined():
    piece = events((40, 1.0, 0.01, 50), (40, 1.01, 0.3, 90), (40, 2.0, 0.01, 50), (40, 2.02, 0.3, 90))
    assert rows(flams_joined(piece, from_s=1.5)) == [(40, 1.0, 0.01, 50), (40, 1.01, 0.3, 90), (40, 2.0, 0.32, 90)]


def test_a_drawn_strike_just_after_a_prompts_strike_of_its_key_is_dropped_and_the_prompts_note_kept():
    # the prompt ends at 1.495 s: its last strike of key 40 at 1.48 s, drawn ones 15 ms and 45 ms after it (a chain:
    # the second 30 ms after the first), and one 41 ms after the prompt's strike of key 41 (as a pianist repeats: kept)
    piece = events((40, 1.0, 0.3, 60), (40, 1.48, 0.02, 50), (40, 1.495 + 1e-9, 0.5, 90), (40, 1.525, 0.2, 70),
                   (41, 1.47, 0.3, 60), (41, 1.47 + MIN_REPEAT_S + 0.001, 0.2, 80), (42, 1.5, 0.1, 40),
                   (DAMPER_ID, 1.49, 1.0, 90))
    assert rows(flams_joined(piece, from_s=1.495)) == [
        (40, 1.0, 0.3, 60), (40, 1.48, 0.02, 50), (41, 1.47, 0.3, 60), (41, 1.511, 0.2, 80), (42, 1.5, 0.1, 40),
        (DAMPER_ID, 1.49, 1.0, 90)]


def test_generated_pieces_strike_no_key_twice_within_the_limit(tmp_path):
    """The shipped default, as tsm generate writes it: no key's strike follows the one before within MIN_REPEAT_S."""
    from timestepmusic.cli import main
    from timestepmusic.midi import read_events

    assert main(["generate", "-n", "4", "--seconds", "16", "--seed", "1", "-q", "-o", str(tmp_path)]) == 0  # (5 flams unjoined)
    for path in sorted(tmp_path.glob("*.mid")):
        piece = read_events(path)[0]
        note = np.flatnonzero(piece.is_note)
        order = note[np.lexsort((piece.start_s[note], piece.ids[note]))]
        same = piece.ids[order][1:] == piece.ids[order][:-1]
        assert not (same & (np.diff(piece.start_s[order]) < MIN_REPEAT_S - 1e-3)).any(), path
