"""Descriptors, distribution comparison, classifier test, copy check, baseline, audio — on excerpts
built by hand and a small corpus of MIDI files written by the test (MAESTRO-style table, fixed splits)."""
from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.evaluate import audio
from timestepmusic.evaluate.baseline_excerpts import shuffled_chunks
from timestepmusic.evaluate.classifier_tests import classifier_test, trees_classifier_test
from timestepmusic.evaluate.compare import POINT_MASS_AT_ZERO, kde_on_grid, overlap_kl, split_halves
from timestepmusic.evaluate.descriptors import HISTOGRAM, SCALAR_DESCRIPTORS, describe
from timestepmusic.evaluate.excerpts import ExcerptTable, excerpts_from_corpus, excerpts_from_events
from timestepmusic.evaluate.near_copies import TrainingOnsets, copy_check
from timestepmusic.evaluate.render import render_outputs
from timestepmusic.midi import DAMPER_ID, LOWEST_PITCH, NUM_KEYS, SOFT_ID, Events
from timestepmusic.midi_write import write_events
from timestepmusic.prepare_corpus import prepare

from midi_factory import CC, Note, write_midi

SERIAL = Config().override({"corpus.workers": 1})
TICKS_PER_S = 960  # midi_factory's default: 480 ticks per quarter at 120 bpm
SPLIT_OF_PIECE = ["train"] * 5 + ["validation"] + ["test"] * 3


# --- a small corpus, shared with test_plots_report.py -----------------------------------------------

def random_piece(seed: int, seconds: float = 40.0) -> tuple[list[Note], list[CC]]:
    """Notes every ~0.1–0.5 s over `seconds`, a damper pressed and released every ~2 s, a soft pedal span."""
    rng = np.random.default_rng(seed)
    onsets = np.cumsum(rng.uniform(0.1, 0.5, size=int(seconds * 4)))
    onsets = onsets[onsets < seconds - 1]
    centre = rng.integers(50, 75)
    notes = [Note(int(np.clip(centre + rng.integers(-12, 13), 21, 108)), int(t * TICKS_PER_S),
                  int((t + rng.uniform(0.1, 0.8)) * TICKS_PER_S), int(rng.integers(30, 110))) for t in onsets]
    controls = []
    for t in np.arange(0.5, seconds - 2, 2.0):
        controls += [CC(64, int(rng.integers(40, 128)), int(t * TICKS_PER_S)), CC(64, 0, int((t + 1.5) * TICKS_PER_S))]
    controls += [CC(67, 90, int(5 * TICKS_PER_S)), CC(67, 0, int(12 * TICKS_PER_S))]
    return notes, controls


def make_corpus(root: Path) -> Corpus:
    """Nine 40 s pieces in a MAESTRO-style folder: five train, one validation, three test."""
    folder = root / "maestro"
    rows = []
    for k, split in enumerate(SPLIT_OF_PIECE):
        name = f"{2004 + k}/piece_{k}.midi"
        write_midi(folder / name, *random_piece(k))
        rows.append({"canonical_composer": f"Composer {k}", "canonical_title": f"Piece {k}", "split": split,
                     "year": 2004 + k, "midi_filename": name, "audio_filename": name.replace(".midi", ".wav"),
                     "duration": 40.0})
    with (folder / "maestro-v3.0.0.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = prepare([folder], root / "corpus", SERIAL, progress=False)
    assert not report.skipped
    return report.corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    return make_corpus(tmp_path_factory.mktemp("evaluate_corpus"))


def key(pitch: int) -> int:
    return pitch - LOWEST_PITCH


# --- descriptors ------------------------------------------------------------------------------------

def hand_made() -> list[Events]:
    """Excerpt 0 (4 s): C4 0–2 s v60, E4 0–1 v80, G4 1–2 v100, C5 3–3.5 v40; damper 0.5–1.5 at 127 and
    2–3 at 50; soft throughout. Excerpt 1 (2 s): no notes, damper 0–1 at 100."""
    first = Events([key(60), key(64), key(67), key(72), DAMPER_ID, DAMPER_ID, SOFT_ID],
                   [0.0, 0.0, 1.0, 3.0, 0.5, 2.0, 0.0], [2.0, 1.0, 1.0, 0.5, 1.0, 1.0, 4.0],
                   [60, 80, 100, 40, 127, 50, 70], 4.0)
    second = Events([DAMPER_ID], [0.0], [1.0], [100], 2.0)
    return [first, second]


def test_descriptors_match_hand_computed_values():
    table = excerpts_from_events(hand_made())  # one excerpt per performance, as long as it
    np.testing.assert_allclose(table.length_s, [4.0, 2.0])
    d = describe(table)
    expected_first = {
        "note_density": 1.0,  # 4 notes in 4 s
        "polyphony_mean": (20 * 2 + 20 * 2 + 10 * 1) / 80,  # 80 grid points of 50 ms
        "polyphony_max": 2.0,
        "pitch_range": 12.0,
        "pitch_class_entropy": 1.5,  # C twice, E, G: -(½ log2 ½ + 2 · ¼ log2 ¼)
        "velocity_mean": 70.0,
        "velocity_std": math.sqrt(500.0),
        "ioi_mean": 1.5,  # distinct onsets 0, 1, 3
        "ioi_std": 0.5,
        "melodic_step_mean": 4.0,  # top line E4 (over C4), G4, C5: steps 3 and 5
        "stepwise_share": 0.0,
        "chord_cluster_share": 0.0,  # one chord, C4 and E4: 4 semitones apart
        # pitch-class counts C, E, G in the first 2 s against C alone in the second, correlated over 12 classes
        "key_steadiness": (1 - 3 / 12) / math.sqrt((3 - 9 / 12) * (1 - 1 / 12)),
        "duration_log_mean": 0.0,  # ln 2 + ln 1 + ln 1 + ln ½
        "longest_note_s": 2.0,
        "longest_silence_s": 1.0,  # no key held from 2 to 3 s (and 3.5 to 4 s)
        "damper_fraction": 0.5,
        "half_pedal_share": 0.5,  # the depth-50 second of the two damper seconds
        "pedal_changes_per_s": 0.75,
        "sostenuto_fraction": 0.0,
        "soft_fraction": 1.0,
    }
    for name, value in expected_first.items():
        assert d[name][0] == pytest.approx(value, abs=1e-9), name
    np.testing.assert_allclose(d[HISTOGRAM][0], np.array([2, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0]) / 4)
    # the second excerpt has no notes: note figures are NaN, pedal figures are not
    for name in ("pitch_range", "pitch_class_entropy", "velocity_mean", "ioi_mean", "duration_log_mean",
                 "melodic_step_mean", "stepwise_share", "chord_cluster_share", "key_steadiness", "longest_note_s"):
        assert np.isnan(d[name][1]), name
    assert d["note_density"][1] == 0 and d["polyphony_max"][1] == 0
    assert d["longest_silence_s"][1] == pytest.approx(2.0)  # silent throughout
    assert d["damper_fraction"][1] == pytest.approx(0.5)
    assert d["half_pedal_share"][1] == pytest.approx(0.0)
    assert set(d) == set(SCALAR_DESCRIPTORS) | {HISTOGRAM}


def test_short_notes_are_not_silence():
    # 16 notes of 30 ms, one every 0.25 s from 0.06 s: shorter than the 50 ms grid step, still sound
    notes = Events(np.full(16, key(60)), 0.06 + np.arange(16) * 0.25, np.full(16, 0.03), np.full(16, 64), 4.0)
    d = describe(excerpts_from_events([notes]))
    assert d["longest_silence_s"][0] == pytest.approx(0.25, abs=0.051)


def test_spans_running_past_the_excerpt_are_clipped_to_it():
    held = Events([key(60), DAMPER_ID], [1.0, 2.0], [20.0, 20.0], [64, 127], 22.0)
    d = describe(excerpts_from_events([held], seconds=4.0))  # one 4 s window of a 22 s performance
    assert d["polyphony_mean"][0] == pytest.approx(0.75)
    assert d["damper_fraction"][0] == pytest.approx(0.5)
    assert d["duration_log_mean"][0] == pytest.approx(math.log(20.0))  # durations themselves are not cut


def test_close_onsets_are_one_onset_for_inter_onset_intervals():
    chord = Events([key(60), key(64), key(67), key(72)], [0.0, 0.01, 0.02, 0.5], [0.3] * 4, [60] * 4, 1.0)
    d = describe(excerpts_from_events([chord]))
    assert d["ioi_mean"][0] == pytest.approx(0.5)  # the rolled chord's three onsets are one


def line(pitches, step_s: float = 0.25, start_s: float = 0.0, id_offset: int = 0) -> Events:
    """One note per onset, every step_s seconds, each held for one step."""
    pitches = np.asarray(pitches)
    times = start_s + step_s * np.arange(pitches.size)
    return Events(pitches - LOWEST_PITCH + id_offset, times, np.full(pitches.size, step_s), np.full(pitches.size, 64),
                  float(times[-1] + step_s))


def merge(*parts: Events, end_s: float) -> Events:
    return Events(*(np.concatenate([getattr(p, a) for p in parts]) for a in ("ids", "start_s", "duration_s", "intensity")),
                  end_s)


C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]  # steps of 2, 2, 1, 2, 2, 2, 1
F_SHARP_MAJOR = [66, 68, 70, 71, 73, 75, 77, 78]  # shares two pitch classes (B, E♯ = F) with C major


def test_top_line_steps_tell_a_scale_from_leaps_under_a_bass():
    scale = line(C_MAJOR)
    bass = line([36, 43] * 4, start_s=0.01)  # struck 10 ms after each melody note: the same onsets, below
    leaps = line([48, 72, 50, 74, 52, 76, 53, 77])  # up and down by 24 and 22 semitones
    d = describe(excerpts_from_events([merge(scale, bass, end_s=2.0), leaps]))
    assert d["melodic_step_mean"][0] == pytest.approx(12 / 7) and d["stepwise_share"][0] == 1.0
    assert d["melodic_step_mean"][1] == pytest.approx((24 + 22 + 24 + 22 + 24 + 23 + 24) / 7)
    assert d["stepwise_share"][1] == 0.0
    one_note = describe(excerpts_from_events([line([60])]))  # a single onset has no step
    assert np.isnan(one_note["melodic_step_mean"][0]) and np.isnan(one_note["stepwise_share"][0])


def test_figure_repeats_count_the_top_lines_figures_played_again_at_any_pitch():
    alberti = line([60, 67, 64, 67] * 4)  # steps 7 −3 3 −7 over and over: 13 figures of 3 steps, 4 distinct
    scale = line(C_MAJOR)  # steps 2 2 1 2 2 2 1: (2 2 1) comes back once in 5 figures
    under_a_bass = merge(line([72, 79, 76, 79] * 3), line([36] * 12, start_s=0.01), end_s=3.0)  # the top line's
    transposed = merge(line([60, 64, 67, 72]), line([62, 66, 69, 74], start_s=1.0), end_s=2.0)  # 4 3 5 a tone higher
    d = describe(excerpts_from_events([alberti, scale, under_a_bass, transposed, line([60, 62, 64, 65])]))
    assert d["figure_repeats"][0] == pytest.approx(1 - 4 / 13)
    assert d["figure_repeats"][1] == pytest.approx(1 - 4 / 5)
    assert d["figure_repeats"][2] == pytest.approx(1 - 4 / 9)  # the bass below each onset is not the line
    # steps 4 3 5 −10 4 3 5: figures (4 3 5) (3 5 −10) (5 −10 4) (−10 4 3) (4 3 5): one of five played again
    assert d["figure_repeats"][3] == pytest.approx(1 / 5)
    assert np.isnan(d["figure_repeats"][4])  # one figure: none could come back
    # figures stay inside their excerpt: two excerpts of one figure each (2 2 1) are one figure each, not four
    twice = describe(excerpts_from_events([line(C_MAJOR[:4]), line(C_MAJOR[:4])]))
    assert np.isnan(twice["figure_repeats"]).all()


def test_chord_clusters_are_neighbouring_keys_of_one_onset_at_most_2_semitones_apart():
    # C4 D4 G4 rolled over 20 ms (one onset: D4 is 2 from C4, G4 5 from D4), then E4 and F4 0.5 s apart (no chord)
    rolled = Events([key(67), key(60), key(62), key(64), key(65)], [0.0, 0.01, 0.02, 0.5, 1.0], [0.3] * 5,
                    [60] * 5, 1.5)
    unison_and_third = Events([key(60), key(60), key(64)], [0.0, 0.0, 0.0], [0.3] * 3, [60] * 3, 1.0)
    d = describe(excerpts_from_events([rolled, unison_and_third, line(C_MAJOR)]))
    assert d["chord_cluster_share"][0] == pytest.approx(0.5)  # a line's seconds are not clusters
    assert d["chord_cluster_share"][1] == pytest.approx(0.5)  # a unison struck twice is
    assert np.isnan(d["chord_cluster_share"][2])  # no chord


def test_key_steadiness_is_one_for_one_key_and_negative_for_a_far_modulation():
    same = merge(line(C_MAJOR), line(C_MAJOR[::-1], start_s=2.0), end_s=4.0)
    modulating = merge(line(C_MAJOR), line(F_SHARP_MAJOR, start_s=2.0), end_s=4.0)
    first_half_only = line(C_MAJOR)
    chromatic = line(list(range(60, 72)) * 2, step_s=1 / 6)  # every pitch class once per half: no key
    d = describe(excerpts_from_events([same, modulating, first_half_only, chromatic], seconds=4.0))
    assert d["key_steadiness"][0] == pytest.approx(1.0)
    # C major counts C twice (C4 and C5), F♯ major F♯ twice; they share B and F: (2 - 12·(2/3)²) / (10 - 12·(2/3)²)
    assert d["key_steadiness"][1] == pytest.approx(-5 / 7)
    assert np.isnan(d["key_steadiness"][2])  # nothing in the second half
    assert np.isnan(d["key_steadiness"][3])  # flat histograms: nothing to correlate, not "steady"


def test_pulse_clarity_is_high_for_a_beat_and_low_for_onsets_at_random_moments():
    rng = np.random.default_rng(0)
    metronome = line([60] * 32, step_s=0.5)  # a beat every 0.5 s for 16 s
    played = metronome.start_s + rng.normal(0, 0.01, 32)  # … played, ±10 ms
    rubato = Events(metronome.ids, np.sort(played), metronome.duration_s, metronome.intensity, 16.0)
    chords = merge(metronome, line([64] * 32, step_s=0.5, start_s=0.01), end_s=16.0)  # a second note 10 ms late
    random_times = np.sort(rng.uniform(0, 16, 64))  # onsets at random moments
    scattered = Events(np.full(64, key(60)), random_times, np.full(64, 0.1), np.full(64, 64), 16.0)
    few = line([60, 62, 64], step_s=0.5)  # three onsets: nothing to measure
    d = describe(excerpts_from_events([metronome, rubato, chords, scattered, few], seconds=16.0))["pulse_clarity"]
    assert d[0] > 0.9 and d[1] > 0.6 and d[2] == pytest.approx(d[0])  # a chord is one onset
    assert d[3] < 0.3 and np.isnan(d[4])
    short = line([60, 62, 64, 65, 67], step_s=0.15)  # 0.75 s: measured the same alone and beside a long excerpt
    alone = describe(excerpts_from_events([short]))["pulse_clarity"][0]
    beside = describe(excerpts_from_events([short, metronome]))["pulse_clarity"][0]
    assert alone == pytest.approx(beside) and np.isfinite(alone)
    assert np.isnan(describe(excerpts_from_events([line([60] * 6, step_s=0.05)]))["pulse_clarity"][0])  # 0.3 s


def test_describing_together_equals_describing_apart():
    rng = np.random.default_rng(3)
    performances = []
    for _ in range(6):
        n = int(rng.integers(5, 60))
        ids = np.concatenate([rng.integers(0, NUM_KEYS, n), rng.integers(DAMPER_ID, DAMPER_ID + 3, 4)])
        performances.append(Events(ids, rng.uniform(0, 16, ids.size), rng.uniform(0.01, 3, ids.size),
                                   rng.integers(1, 128, ids.size), 16.0))
    table = excerpts_from_events(performances, seconds=16.0)
    together = describe(table)
    order = np.array([3, 0, 5, 1, 4, 2])
    shuffled = describe(table.take(order))
    for x in range(6):
        alone = describe(table.take([x]))
        for name, values in together.items():
            np.testing.assert_allclose(values[x], alone[name][0], err_msg=name)
            np.testing.assert_allclose(values[order], shuffled[name], err_msg=name)


def test_excerpts_from_events_cuts_consecutive_windows():
    def notes_at(times, end):
        times = np.asarray(times, dtype=float)
        return Events(np.full(times.size, 40), times, np.full(times.size, 0.1), np.full(times.size, 64), end)

    table = excerpts_from_events([notes_at([1.0, 17.0, 33.0, 47.0], 47.5), notes_at([2.0], 15.2)], seconds=16.0,
                                 names=["long.mid", "short.mid"])
    # 47.5 s → two full windows (the 15.5 s remainder is dropped); 15.2 s → one window of 16 s
    np.testing.assert_array_equal(table.group, [0, 0, 1])
    np.testing.assert_allclose(table.offset_s, [0.0, 16.0, 0.0])
    np.testing.assert_allclose(table.length_s, 16.0)
    np.testing.assert_allclose(table.start_s, [1.0, 1.0, 2.0])  # from each window's start
    assert table.label(1) == "long.mid @ 16.0 s"
    with pytest.raises(ValueError, match="no performances"):
        excerpts_from_events([])


def test_excerpts_from_corpus_hold_the_events_starting_inside(corpus):
    table = excerpts_from_corpus(corpus, "test", seconds=16.0)
    tracks = corpus.tracks_in("test")
    lengths = [corpus.tracks[t]["duration_s"] for t in tracks]
    assert table.num_excerpts == sum(int((length - 16) // 16) + 1 for length in lengths)
    assert np.all((table.start_s >= 0) & (table.start_s < 16.0))
    for x in (0, table.num_excerpts - 1):
        track = corpus.track_events(int(table.group[x]))
        inside = (track.start_s >= table.offset_s[x]) & (track.start_s < table.offset_s[x] + 16.0)
        mine = table.events(x)
        np.testing.assert_array_equal(mine.ids, track.ids[inside])
        np.testing.assert_allclose(mine.start_s, track.start_s[inside] - table.offset_s[x])
    assert excerpts_from_corpus(corpus, "test", max_excerpts=2).num_excerpts == 2
    with pytest.raises(ValueError, match="unknown split"):
        excerpts_from_corpus(corpus, "holdout")


def test_excerpt_table_rejects_inconsistent_arrays():
    with pytest.raises(ValueError, match="differ in length"):
        ExcerptTable([0, 0], [1], [0.0], [1.0], [64], [16.0])
    with pytest.raises(ValueError, match="excerpt index"):
        ExcerptTable([1], [1], [0.0], [1.0], [64], [16.0])


# --- distributions ----------------------------------------------------------------------------------

def test_kde_agrees_with_scipy():
    samples = np.random.default_rng(0).gamma(2.0, size=400)
    grid, (density,) = kde_on_grid([samples])
    reference = stats.gaussian_kde(samples)(grid)
    assert np.abs(density - reference).max() < 1e-2 * reference.max()


def test_identical_sets_overlap_fully_and_disjoint_sets_not_at_all():
    rng = np.random.default_rng(1)
    a = rng.normal(10, 2, 300)
    overlap, kl = overlap_kl(a, a.copy())
    assert overlap == pytest.approx(1.0, abs=1e-6) and kl == pytest.approx(0.0, abs=1e-6)
    overlap, kl = overlap_kl(a, a + 100)
    assert overlap < 1e-3 and kl > 5
    assert overlap_kl(np.full(20, 3.0), np.full(20, 3.0)) == pytest.approx((1.0, 0.0), abs=1e-6)  # constant sets
    assert overlap_kl(np.full(20, 3.0), np.full(20, 7.0))[0] < 1e-3
    assert np.isnan(overlap_kl([np.nan], a)[0])


def test_a_value_of_exactly_zero_is_compared_as_a_point_mass():
    """A pedal never pressed is 0 exactly: two sets that almost never press it are alike (a KDE of the values
    with their zeros read 0.59 here), and the share of pieces that never press it counts in full."""
    never = np.zeros(683)
    once = never.copy()
    once[0] = 0.027  # one real excerpt of 683 presses the sostenuto
    overlap, kl = overlap_kl(once, never, zero_mass=True)
    assert overlap > 0.99 and 0 <= kl < 0.1  # (KL: the real press has no drawn mass under it; floored, finite)
    rng = np.random.default_rng(3)
    pressed = rng.uniform(0.1, 0.9, 2000)
    real = np.where(rng.random(2000) < 0.26, 0.0, pressed)  # 26 % never press it
    drawn = np.where(rng.random(2000) < 0.02, 0.0, rng.permutation(pressed))  # 2 % never do
    overlap, kl = overlap_kl(real, drawn, zero_mass=True)
    assert overlap == pytest.approx(0.02 + 0.74, abs=0.03) and kl > 0.2  # only 2 % of the mass at 0 is shared
    assert overlap_kl(real, real.copy(), zero_mass=True) == pytest.approx((1.0, 0.0), abs=1e-6)
    assert overlap_kl(never, never.copy(), zero_mass=True) == pytest.approx((1.0, 0.0), abs=1e-6)
    assert overlap_kl(never, pressed, zero_mass=True)[0] == pytest.approx(0.0, abs=1e-6)  # all at 0 against none at 0
    assert overlap_kl(real, drawn, zero_mass=True)[1] < 2.0  # a share the other lacks: floored at half a sample
    assert overlap_kl(once, never)[0] < 0.9  # without zero_mass (a descriptor whose 0 is a value): the KDEs alone
    assert "soft_fraction" in POINT_MASS_AT_ZERO and "stepwise_share" not in POINT_MASS_AT_ZERO


def test_classifier_cannot_tell_a_distribution_from_itself_and_always_tells_separated_ones():
    rng = np.random.default_rng(2)
    same = classifier_test(rng.normal(size=(400, 5)), rng.normal(size=(400, 5)))
    assert abs(same["accuracy"] - 0.5) < 0.08 and same["p_value"] > 0.01
    apart = classifier_test(rng.normal(size=(200, 5)), rng.normal(size=(300, 5)) + 10)
    assert apart["accuracy"] == pytest.approx(1.0) and apart["n_per_class"] == 200
    with_nan = rng.normal(size=(100, 3))
    with_nan[:, 2] = np.nan  # a descriptor that is NaN throughout is filled, not fatal
    assert classifier_test(with_nan, with_nan + [10, 0, 0])["accuracy"] > 0.95
    assert np.isnan(classifier_test(np.zeros((1, 2)), np.zeros((5, 2)))["accuracy"])


def test_each_draw_of_a_classifier_test_is_told_to_its_progress():
    """tsm evaluate's bar (comparison.compared's) moves once per draw of each test: a draw of the trees takes seconds."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(60, 3)), rng.normal(size=(60, 3))
    for test in (classifier_test, trees_classifier_test):
        calls: list[int] = []
        figures = test(a, b, repeats=3, progress=lambda done=calls: done.append(1))
        assert len(calls) == 3 == len(figures["accuracies"]), test.__name__


def test_the_folds_keep_each_performance_whole_so_that_siblings_do_not_tell_an_excerpt():
    """Real excerpts come many to a performance and share its character; generated ones one to a piece. Both drawn
    from the same population of performances, no classifier should tell them; with a performance's siblings in the
    training folds, the trees learn the performances and tell their held-out excerpts as real."""
    rng = np.random.default_rng(3)
    performances = rng.normal(size=(40, 4))  # [G, D]: each performance's character
    real = np.repeat(performances, 10, axis=0) + 0.05 * rng.normal(size=(400, 4))  # 10 excerpts each
    real_groups = np.repeat(np.arange(40), 10)
    generated = rng.normal(size=(400, 4)) + 0.05 * rng.normal(size=(400, 4))  # each piece its own
    pieces = np.arange(400)
    leaky = trees_classifier_test(real, generated, repeats=3)
    grouped = trees_classifier_test(real, generated, repeats=3, groups=(real_groups, pieces))
    assert grouped["folds_grouped"] and not leaky["folds_grouped"]
    assert grouped["accuracy"] < 0.6 < leaky["accuracy"] - 0.05, (grouped["accuracy"], leaky["accuracy"])
    logistic = classifier_test(real, generated, groups=(real_groups, pieces))
    assert logistic["folds_grouped"] and logistic["accuracy"] < 0.6
    apart = classifier_test(real, generated + 10, groups=(real_groups, pieces))  # told apart all the same
    assert apart["accuracy"] == pytest.approx(1.0)
    few = classifier_test(real[:30], generated[:30], groups=(real_groups[:30], pieces[:30]))  # 3 performances, 5 folds
    assert few["folds_grouped"] and few["folds"] == 3 and not np.isnan(few["accuracy"])  # a fold each, still whole
    leaky_few = trees_classifier_test(real[:30], generated[:30], repeats=3)  # as such folds were drawn before: 0.94
    whole_few = trees_classifier_test(real[:30], generated[:30], repeats=3, groups=(real_groups[:30], pieces[:30]))
    assert whole_few["folds"] == 3 and whole_few["accuracy"] < 0.65 < leaky_few["accuracy"] - 0.2  # 0.49
    one = classifier_test(real[:10], generated[:10], groups=(real_groups[:10], pieces[:10]))  # a single performance
    assert one["folds_grouped"] is False and not np.isnan(one["accuracy"])  # drawn ungrouped, and said so


def test_the_p_value_counts_performances_not_excerpts():
    """Two halves of one population of performances, 10 excerpts each sharing their performance's character: the
    accuracy swings with which performances fall on which side (sd 0.09 here), and a binomial test over the 400
    excerpts called 15 of 40 such draws significant at 0.05. The p-value over performances comes near its level
    (over 600 such draws, 5 each: 0.067 under 0.05 with the shared training's variance counted, 0.097 without;
    bench/p_value_null.py)."""
    from timestepmusic.evaluate.classifier_tests import group_sign_flip_p

    binomial, grouped = [], []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        excerpts = np.repeat(rng.normal(size=(40, 4)), 10, axis=0) + 0.3 * rng.normal(size=(400, 4))  # [400, 4]
        performance = np.repeat(np.arange(40), 10)
        side = (rng.permutation(40) < 20)[performance]  # [400]: half the performances each side
        result = classifier_test(excerpts[side], excerpts[~side], seed=seed,
                                 groups=(performance[side], performance[~side]))
        n = result["n_per_class"]
        binomial.append(stats.binomtest(round(result["accuracy"] * 2 * n), 2 * n, 0.5, alternative="greater").pvalue)
        grouped.append(result["p_value"])
        assert result["p_groups"] == 40
    assert np.mean(np.array(binomial) < 0.05) > 0.25  # the excerpts' test: far above its level
    assert np.mean(np.array(grouped) < 0.05) <= 0.125, grouped  # 5 of 40 allowed
    rng = np.random.default_rng(0)
    performance = np.repeat(np.arange(20), 10)
    real = np.repeat(rng.normal(size=(20, 4)), 10, axis=0) + 0.3 * rng.normal(size=(200, 4))
    apart = trees_classifier_test(real, rng.normal(size=(200, 4)) + 3, groups=(performance, np.arange(200)))
    assert apart["accuracy"] > 0.95 and apart["p_value"] < 1e-3 and apart["p_groups"] == 220  # a real difference
    assert group_sign_flip_p(np.array([3, 2, 5, 1]), np.array([3, 2, 5, 1])) == pytest.approx(1 / 16)  # all 16 signs
    assert group_sign_flip_p(np.array([1, 1]), np.array([2, 2])) == 1.0  # at chance in every group
    assert group_sign_flip_p(np.full(30, 10), np.full(30, 10)) == pytest.approx(1 / 10000)  # drawn: its floor


def test_grouped_folds_do_not_tell_one_population_below_chance():
    """Grouped folds hold unequal numbers of the two classes (a performance of 40 excerpts against pieces of one): a
    training fold with more real excerpts than generated tilts the classifier towards "real" while its test fold is
    short of real excerpts by as many. Unweighed, one population was told from itself at 0.45 (logistic) and 0.48
    (trees) on these groups; the training weighs the classes equally, and deals the groups to even the folds."""
    from timestepmusic.evaluate.classifier_tests import _class_weights, _group_folds

    sizes = [40, 30, 25, 20, 15, 10, 10, 10, 5, 5, 5, 5, 5, 5]  # 190 excerpts of 14 performances
    groups = (np.repeat(np.arange(len(sizes)), sizes), np.arange(190))
    accuracies = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        result = classifier_test(rng.normal(size=(190, 3)), rng.normal(size=(190, 3)), seed=seed, groups=groups)
        assert result["folds_grouped"]
        accuracies.append(result["accuracy"])
    assert abs(np.mean(accuracies) - 0.5) < 0.025, accuracies
    rng = np.random.default_rng(0)
    trees = trees_classifier_test(rng.normal(size=(190, 3)), rng.normal(size=(190, 3)), groups=groups)
    assert trees["folds_grouped"] and 0.35 < trees["accuracy"] < 0.65
    fold = _group_folds(groups[0], 5, np.random.default_rng(1))
    filled = np.bincount(fold, minlength=5)
    assert filled.max() - filled.min() <= max(sizes)  # dealt to the emptiest fold, not in turn
    assert all(np.unique(fold[groups[0] == g]).size == 1 for g in range(len(sizes)))  # each performance whole
    assert _class_weights(np.array([0, 0, 1, 1.0])) is None  # equal already (ungrouped folds): unweighed, as before
    weights = _class_weights(np.array([0, 0, 0, 1.0]))
    assert weights[:3].sum() == pytest.approx(weights[3]) and weights.mean() == pytest.approx(1.0)


def xor_sets(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two sets with the same mean and spread in every feature [n, 5]: a has x0·x1 > 0, b has x0·x1 < 0
    (opposite quadrants; no straight boundary parts them); columns 2–4 are noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.1, 1.0, size=(2 * n, 5)) * rng.choice([-1.0, 1.0], size=(2 * n, 5))
    x[n:, 1] = -np.sign(x[n:, 0]) * np.abs(x[n:, 1])
    x[:n, 1] = np.sign(x[:n, 0]) * np.abs(x[:n, 1])
    return x[:n], x[n:]


def test_boosted_trees_tell_apart_what_the_logistic_regression_cannot():
    a, b = xor_sets(300, seed=4)
    trees, logistic = trees_classifier_test(a, b), classifier_test(a, b)
    assert trees["accuracy"] > 0.9 and trees["p_value"] < 1e-10
    assert logistic["accuracy"] < 0.65  # the reason for the second test
    assert trees["n_per_class"] == logistic["n_per_class"] == 300 and trees["folds"] == logistic["folds"] == 5
    with_nan = np.concatenate([a, np.full((300, 1), np.nan)], axis=1)  # a descriptor that is NaN throughout
    assert trees_classifier_test(with_nan, np.concatenate([b, np.full((300, 1), np.nan)], axis=1))["accuracy"] > 0.9
    assert np.isnan(trees_classifier_test(np.zeros((1, 2)), np.zeros((5, 2)))["accuracy"])


def test_boosted_trees_cannot_tell_two_halves_of_one_distribution():
    rng = np.random.default_rng(5)
    pooled = np.concatenate(xor_sets(200, seed=6))  # the same mixture on both sides
    pooled = pooled[rng.permutation(len(pooled))]
    same = trees_classifier_test(pooled[:200], pooled[200:])
    assert abs(same["accuracy"] - 0.5) < 0.15 and same["p_value"] > 0.01


def test_boosted_trees_are_deterministic_per_seed():
    a, b = xor_sets(100, seed=7)
    b = b + np.random.default_rng(8).normal(0, 0.5, size=b.shape)  # a harder pair: folds and fits matter
    assert trees_classifier_test(a, b, seed=3) == trees_classifier_test(a, b, seed=3)
    accuracies = {trees_classifier_test(a, b, seed=s)["accuracy"] for s in range(4)}
    assert len(accuracies) > 1  # the seed does pick the subsample and folds


def test_real_halves_are_disjoint_by_track(corpus):
    table = excerpts_from_corpus(corpus, None)
    a, b = split_halves(table, seed=0)
    assert a.size and b.size and np.intersect1d(a, b).size == 0 and a.size + b.size == table.num_excerpts
    assert not set(table.group[a]) & set(table.group[b])


def piece_corpus():
    """Tracks as a corpus lists them: three performances of one piece (0, 1, 5), one of another, two without a name."""
    from types import SimpleNamespace

    return SimpleNamespace(tracks=[{"piece": "Bach/Fugue/bwv_846"}, {"piece": "Bach/Fugue/bwv_846"},
                                   {"piece": "Chopin/Etudes_op_10/3"}, {"piece": ""}, {},
                                   {"piece": "Bach/Fugue/bwv_846"}])


def test_piece_folds_put_every_performance_of_a_piece_in_one_fold():
    """ASAP's test split holds 90 performances of 17 pieces: folds that keep performances whole test one performance
    with a classifier that trained on another of the same notes. By piece, all of a piece's excerpts share a fold."""
    from timestepmusic.evaluate.classifier_tests import _balanced_folds
    from timestepmusic.evaluate.comparison import fold_groups, piece_codes

    corpus = piece_corpus()
    tracks = np.repeat(np.arange(6), 8)  # [X]: 8 excerpts a performance
    pieces = fold_groups(corpus, tracks, "piece")
    assert np.array_equal(pieces, piece_codes(corpus, tracks))
    assert np.unique(pieces[np.isin(tracks, [0, 1, 5])]).size == 1  # one piece, three performances
    assert np.unique(pieces).size == 4  # (a track without a piece name is a piece of its own)
    assert np.array_equal(fold_groups(corpus, tracks, "performance"), tracks)
    bach = np.isin(tracks, [0, 1, 5])
    rng = np.random.default_rng(0)
    real, generated = rng.normal(size=(48, 3)), rng.normal(size=(48, 3))
    spread_by_performance = False
    for seed in range(8):
        for by, groups in (("piece", pieces), ("performance", tracks)):
            _, _, fold, n, _, grouped, (kept, _) = _balanced_folds(real, generated, 5, seed, (groups, np.arange(48)))
            real_fold = fold[:n]  # [n]: the fold of each real excerpt kept
            assert grouped
            if by == "piece":
                assert all(np.unique(real_fold[pieces[kept] == p]).size == 1 for p in np.unique(pieces[kept]))
            else:
                spread_by_performance |= np.unique(real_fold[bach[kept]]).size > 1
    assert spread_by_performance  # (by performance the piece's performances fall in several folds: the leak)


def test_real_halves_split_by_piece_keep_each_piece_on_one_side(corpus):
    table = excerpts_from_corpus(corpus, None)
    pieces = table.group // 2  # [X]: tracks two by two as pieces
    for seed in range(4):
        a, b = split_halves(table, seed, pieces)
        assert a.size and b.size and np.intersect1d(a, b).size == 0 and a.size + b.size == table.num_excerpts
        assert not set(pieces[a]) & set(pieces[b])
    assert all(np.array_equal(x, y) for x, y in zip(split_halves(table, 3), split_halves(table, 3, table.group)))


# --- copies and the baseline ------------------------------------------------------------------------

def test_copy_check_flags_copies_and_not_other_music(corpus):
    onsets = TrainingOnsets(corpus, "train")
    train = excerpts_from_corpus(corpus, "train", hop=2.0)  # windows at every 2 s: copies off the 16 s grid
    copies = train.take([1, 5])
    found = copy_check(copies, onsets)
    for x, c in enumerate(found):
        assert c["flagged"] and c["similarity"] == pytest.approx(1.0)
        assert c["nearest_path"] == corpus.tracks[int(copies.group[x])]["path"]
        assert c["nearest_start_s"] == pytest.approx(copies.offset_s[x])
    other = copy_check(excerpts_from_corpus(corpus, "test").take([0, 1]), onsets)
    assert not any(c["flagged"] for c in other) and all(c["similarity"] < 0.5 for c in other)


def test_copy_check_finds_a_transposed_copy_only_when_asked(corpus):
    onsets = TrainingOnsets(corpus, "train")
    copy = excerpts_from_corpus(corpus, "train").take([0])
    note = copy.ids < NUM_KEYS
    raised = copy.ids.copy()
    raised[note] = np.minimum(raised[note] + 3, NUM_KEYS - 1)
    transposed = ExcerptTable(copy.excerpt, raised, copy.start_s, copy.duration_s, copy.intensity, copy.length_s)
    assert not copy_check(transposed, onsets)[0]["flagged"]
    found = copy_check(transposed, onsets, transpose=True)[0]
    assert found["flagged"] and found["transpose"] == -3


def test_shuffled_chunks_are_real_capped_chunks_in_random_order(corpus):
    table = shuffled_chunks(corpus, "train", num_excerpts=5, seconds=16.0, seed=1)
    assert table.num_excerpts == 5
    np.testing.assert_allclose(table.length_s, 16.0)
    assert np.all((table.start_s >= 0) & (table.start_s < 16.0))
    slot = np.floor(table.start_s / corpus.chunk_seconds).astype(int) + 64 * table.excerpt
    assert np.bincount(slot).max() <= corpus.max_events
    assert not np.array_equal(table.ids, shuffled_chunks(corpus, "train", 5, seed=2).ids)
    with pytest.raises(ValueError, match="holdout"):
        shuffled_chunks(corpus, "holdout", 2)


# --- audio and render ---------------------------------------------------------------------------------

HAVE_FLUIDSYNTH = audio.audio_unavailable_reason() is None


def test_missing_fluidsynth_raises_audio_unavailable_with_the_install_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(audio.AudioUnavailable, match="apt-get install fluidsynth fluid-soundfont-gm"):
        audio.render_wav(tmp_path / "a.mid", tmp_path / "a.wav")


def test_missing_soundfont_raises_audio_unavailable(tmp_path):
    with pytest.raises(audio.AudioUnavailable, match="missing.sf2: no such soundfont") as said:
        audio.find_soundfont(tmp_path / "missing.sf2")
    assert "install FluidSynth" not in str(said.value)  # (the font given is what is wrong, not the install)


def test_a_file_that_is_no_soundfont_is_refused_not_passed_to_fluidsynth(tmp_path):
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"MThd" + bytes(20))  # a MIDI file renamed
    with pytest.raises(audio.AudioUnavailable, match="fake.sf2: not a SoundFont") as said:
        audio.find_soundfont(fake)
    assert "install FluidSynth" not in str(said.value)
    font = tmp_path / "font.sf2"
    font.write_bytes(b"RIFF" + (4).to_bytes(4, "little") + b"sfbk")  # a SoundFont's header
    assert audio.find_soundfont(font) == font


@pytest.mark.skipif(not HAVE_FLUIDSYNTH, reason="fluidsynth or its soundfont is not installed")
def test_render_wav_writes_a_wave_file(tmp_path):
    midi = write_events(hand_made()[0], tmp_path / "a.mid")
    wav = audio.render_wav(midi, tmp_path / "out" / "a.wav", sample_rate=22050)
    data = wav.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and len(data) > 22050
    assert not list((tmp_path / "out").glob(".*.tmp"))
    with pytest.raises(ValueError, match="no such MIDI file"):
        audio.render_wav(tmp_path / "missing.mid", tmp_path / "b.wav")


def test_render_outputs_warns_and_goes_on_without_audio(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    monkeypatch.setattr(audio, "_warned", set())  # as in a fresh process
    events = hand_made()[0]
    midi = write_events(events, tmp_path / "song.mid")
    with caplog.at_level(logging.WARNING, logger="timestepmusic.evaluate.audio"):
        written = render_outputs(midi, events, png=True, wav=True)
        again = render_outputs(write_events(events, tmp_path / "two.mid"), events, wav=True)
    assert written == [tmp_path / "song.png"] and written[0].stat().st_size > 0 and again == []
    assert caplog.text.count("apt-get install fluidsynth") == 1  # once, not once per file
    pair = render_outputs(midi, events, png=True, original=events, png_path=tmp_path / "pair.png")
    assert pair == [tmp_path / "pair.png"]


def test_repeated_draws_average_the_accuracy_of_single_draws():
    """repeats=R: the mean of R single draws of the balancing subsample and folds, the first being the seed's own
    (so repeats=1 is the single test), with their spread; both classifiers."""
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=(300, 4)), rng.normal(size=(80, 4)) + [0.6, 0, 0, 0]  # uneven: the subsample matters
    for test in (classifier_test, trees_classifier_test):
        single = test(a, b, seed=2)
        assert single["repeats"] == 1 and single["accuracy_sd"] == 0.0
        repeated = test(a, b, seed=2, repeats=4)
        draws = repeated["accuracies"]
        assert len(draws) == 4 and draws[0] == single["accuracy"] and len(set(draws)) > 1
        assert repeated["accuracy"] == pytest.approx(np.mean(draws))
        assert repeated["accuracy_sd"] == pytest.approx(np.std(draws)) and repeated["accuracy_sd"] > 0
        assert repeated["repeats"] == 4 and repeated["n_per_class"] == 80
        assert 0 < repeated["p_value"] < 0.05  # a real difference, still found
        assert test(a, b, seed=2, repeats=4) == repeated  # deterministic
    with pytest.raises(ValueError, match="repeats"):
        classifier_test(a, b, repeats=0)


def test_the_trees_give_no_accuracy_where_no_split_fits_and_one_where_it_does():
    from timestepmusic.evaluate.classifier_tests import trees_classifier_test

    rng = np.random.default_rng(0)
    few = trees_classifier_test(rng.normal(size=(8, 4)), rng.normal(size=(300, 4)) + 3)  # 8 a side: no tree splits
    assert np.isnan(few["accuracy"]) and "too few excerpts for the trees (8 a side" in few["why"]
    told = trees_classifier_test(rng.normal(size=(15, 4)), rng.normal(size=(300, 4)) + 3)  # 15 a side: it splits
    assert told["accuracy"] > 0.8 and "why" not in told


def test_piece_drift_counts_only_real_excerpts_of_the_whole_length(tiny_corpus):
    """bench/piece_drift.py compares drawn pieces with real excerpts of their whole length: a track shorter than the
    excerpt (cut as one, silent at its end) is left out. It was kept (its length_s is the excerpt's), so the last
    eighths of a long excerpt read emptier than pianists play them."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import piece_drift

    density, _, count = piece_drift.real_eighths(str(tiny_corpus), "train", 8.0)  # 12 s takes: one 8 s excerpt each
    assert count == sum(t["split"] == "train" for t in Corpus.open(tiny_corpus).tracks) and density[-1] > 0
    with pytest.raises(ValueError, match="no real excerpt of 16 s in the train split"):
        piece_drift.real_eighths(str(tiny_corpus), "train", 16.0)  # none as long: not silent eighths counted


def test_a_single_generated_excerpt_gives_no_accuracy_and_says_why():
    rng = np.random.default_rng(0)
    real, one = rng.normal(size=(40, 3)), rng.normal(size=(1, 3))  # another system's folder of one short file
    said = classifier_test(real, one, groups=(np.arange(40) // 4, np.zeros(1)))
    assert math.isnan(said["accuracy"]) and said["why"] == "too few excerpts to cross-validate (1 a side: two folds need 2)"
