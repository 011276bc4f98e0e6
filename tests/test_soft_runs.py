"""The una corda held in passages, not flickers, and for quiet playing (soft_runs.py, ar.soft_join_s, ar.soft_shortest_s,
ar.soft_quiet)."""
from __future__ import annotations

import numpy as np
import pytest

from timestepmusic.config import Config
from timestepmusic.midi import DAMPER_ID, SOFT_ID, Events
from timestepmusic.soft_runs import soft_held


def events(*rows) -> Events:
    """(id, start_s, duration_s, intensity) rows → Events, in time order."""
    ids, start, duration, intensity = zip(*rows)
    return Events(np.array(ids), np.array(start, dtype=float), np.array(duration, dtype=float),
                  np.array(intensity, dtype=np.uint8)).sorted()


def rows(e: Events) -> list[tuple]:
    return sorted(zip(e.ids.tolist(), np.round(e.start_s, 6).tolist(), np.round(e.duration_s, 6).tolist(),
                      e.intensity.tolist()))


def test_a_short_lift_between_soft_presses_is_closed_and_a_long_one_kept():
    piece = events((SOFT_ID, 1.0, 1.0, 2), (SOFT_ID, 2.2, 1.0, 3), (SOFT_ID, 4.0, 1.0, 2))
    assert rows(soft_held(piece, 0.3, 0.0)) == [(SOFT_ID, 1.0, 1.2, 2), (SOFT_ID, 2.2, 1.0, 3), (SOFT_ID, 4.0, 1.0, 2)]


def test_a_run_shorter_than_the_shortest_is_dropped_however_many_presses_it_holds():
    # two presses of 0.08 s that join into one run of 0.18 s: dropped; a press of 0.25 s: kept
    piece = events((40, 1.0, 0.5, 70), (SOFT_ID, 1.0, 0.08, 2), (SOFT_ID, 1.1, 0.08, 3), (SOFT_ID, 3.0, 0.25, 1))
    assert rows(soft_held(piece, 0.3, 0.2)) == [(40, 1.0, 0.5, 70), (SOFT_ID, 3.0, 0.25, 1)]


def test_notes_and_the_other_pedals_are_untouched():
    piece = events((DAMPER_ID, 1.0, 0.05, 3), (DAMPER_ID, 1.1, 0.05, 3), (40, 1.0, 0.01, 70), (SOFT_ID, 5.0, 2.0, 2))
    assert rows(soft_held(piece, 0.3, 0.2)) == rows(piece)


def test_nothing_changes_where_both_settings_are_zero():
    piece = events((SOFT_ID, 1.0, 0.05, 2), (SOFT_ID, 1.1, 0.05, 3))
    assert soft_held(piece, 0.0, 0.0) is piece


def test_a_prompts_soft_pedal_is_the_players():
    # the prompt (before 2 s) keeps its short press and its lift; what was drawn after it is held
    piece = events((SOFT_ID, 0.5, 0.05, 2), (SOFT_ID, 0.6, 0.5, 2), (SOFT_ID, 2.5, 0.05, 2), (SOFT_ID, 2.6, 0.05, 2))
    assert rows(soft_held(piece, 0.3, 0.2, from_s=2.0)) == [(SOFT_ID, 0.5, 0.05, 2), (SOFT_ID, 0.6, 0.5, 2)]


def test_with_quiet_a_run_over_notes_no_quieter_than_the_rest_is_dropped():
    # outside the una corda the notes average 60; the run at 1 s holds notes of 40 (quieter: kept), the run at 4 s
    # notes of 60 and 70 (65: dropped), the run at 7 s no note (kept); without quiet every run is kept
    piece = events((40, 0.0, 0.5, 60), (41, 3.0, 0.5, 60), (42, 1.2, 0.5, 40), (43, 1.5, 0.5, 40),
                   (44, 4.1, 0.5, 60), (45, 4.5, 0.5, 70), (SOFT_ID, 1.0, 1.0, 2), (SOFT_ID, 4.0, 1.0, 2),
                   (SOFT_ID, 7.0, 1.0, 2))
    kept = [row for row in rows(soft_held(piece, 0.3, 0.2, quiet=True)) if row[0] == SOFT_ID]
    assert kept == [(SOFT_ID, 1.0, 1.0, 2), (SOFT_ID, 7.0, 1.0, 2)]
    assert rows(soft_held(piece, 0.3, 0.2)) == rows(piece)
    assert rows(soft_held(piece, 0.3, 0.2, from_s=5.0, quiet=True)) == rows(piece)  # (a prompt's run is the player's)


@pytest.mark.filterwarnings("error")  # (an empty mean outside the runs is a RuntimeWarning, and NaN compares False)
def test_with_quiet_runs_over_every_note_are_kept():
    piece = events((40, 1.2, 0.5, 90), (SOFT_ID, 1.0, 1.0, 2))
    assert rows(soft_held(piece, 0.3, 0.2, quiet=True)) == rows(piece)
    no_notes = events((SOFT_ID, 1.0, 1.0, 2), (SOFT_ID, 4.0, 1.0, 2))
    assert rows(soft_held(no_notes, 0.3, 0.2, quiet=True)) == rows(no_notes)


def test_with_quiet_a_run_as_loud_as_the_rest_is_dropped_and_a_note_at_its_release_is_outside_it():
    # under the run (1–2 s) a note of 50; outside, 40 and, struck at the release, 60: the run as loud as the rest
    piece = events((40, 0.0, 0.5, 40), (41, 1.5, 0.5, 50), (42, 2.0, 0.5, 60), (SOFT_ID, 1.0, 1.0, 2))
    assert [row for row in rows(soft_held(piece, 0.3, 0.2, quiet=True)) if row[0] == SOFT_ID] == []
    quieter = events((40, 0.0, 0.5, 40), (41, 1.5, 0.5, 49), (42, 2.0, 0.5, 60), (SOFT_ID, 1.0, 1.0, 2))
    assert rows(soft_held(quieter, 0.3, 0.2, quiet=True)) == rows(quieter)


@pytest.mark.parametrize("name", ["soft_join_s", "soft_shortest_s"])
def test_the_settings_refuse_a_negative_length(name):
    with pytest.raises(ValueError, match=f"ar.{name}: must be ≥ 0"):
        Config().override({f"ar.{name}": -0.1})


def test_the_default_writes_its_drawn_soft_pedal_held():
    """The same draws with ar.soft_join_s and ar.soft_shortest_s set: each piece is the one drawn without them, its
    soft pedal held (and a flicker of it gone), every note and other pedal as drawn."""
    from timestepmusic.generation import GANModel, set_sampling
    from timestepmusic.piece_events import sampled_events

    def pieces(settings: list[str]) -> list[Events]:
        gan = GANModel.load("default")
        set_sampling(gan, settings)
        return sampled_events(gan.arm, gan.ae, gan.sample_latents(4, 16.0, 3))

    plain = pieces(["ar.soft_join_s=0", "ar.soft_shortest_s=0"])
    held = pieces(["ar.soft_join_s=0.3", "ar.soft_shortest_s=0.2"])
    assert [rows(e) for e in held] == [rows(soft_held(e, 0.3, 0.2, from_s=-1e-9)) for e in plain]
    assert [rows(e) for e in held] != [rows(e) for e in plain]  # (these pieces flicker the una corda: it was held)


def test_ar_soft_quiet_reaches_the_drawn_pieces():
    """--set ar.soft_quiet=true writes each drawn piece as soft_held with quiet would, from the same draws."""
    from timestepmusic.generation import GANModel, set_sampling
    from timestepmusic.piece_events import sampled_events

    def pieces(settings: list[str]) -> list[Events]:
        gan = GANModel.load("default")
        set_sampling(gan, settings)
        return sampled_events(gan.arm, gan.ae, gan.sample_latents(4, 16.0, 2))

    unpulled = ["ar.spread_pull=0"]  # (the draws this seed was chosen on: before the default told a pulled spread)
    held, quiet = pieces(unpulled), pieces(unpulled + ["ar.soft_quiet=true"])
    assert [rows(e) for e in quiet] == [rows(soft_held(e, 0.3, 0.2, from_s=-1e-9, quiet=True)) for e in held]
    assert [rows(e) for e in quiet] != [rows(e) for e in held]  # (a run of these pieces' una corda is loud: dropped)


def test_pedal_run_bounds_join_overlapping_and_near_presses_as_midi_holds_them():
    from timestepmusic.holds import pedal_run_bounds

    # a press held over the next (1-4 s over 2-3 s), one starting 0.05 s after the latest release, then a lift of 1 s
    start, end = np.array([1.0, 2.0, 4.05, 5.5]), np.array([4.0, 3.0, 4.5, 6.0])
    run_start, run_end, run = pedal_run_bounds(start, end, 0.1)
    assert run_start.tolist() == [1.0, 5.5] and run_end.tolist() == [4.5, 6.0] and run.tolist() == [0, 0, 0, 1]
    assert pedal_run_bounds(start, end, 0.0)[2].tolist() == [0, 0, 1, 2]
