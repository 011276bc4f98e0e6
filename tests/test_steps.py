"""More steps where a line moves (ar.step_lean, sequence/steps.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from test_clusters import chord_head, first_notes, one_note_carry
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.sequence.event_head import EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.steps import away_from, note_before

from conftest import spy_on_event_sampler

NONE = float("-inf")
FIELDS = ("ids", "offset_s", "duration_s", "intensity", "sizes")


def test_the_note_before_is_the_latest_heard_and_the_last_drawn_of_a_chord():
    heard_s = torch.tensor([[-1.0, -0.2, -0.2, NONE, -0.5], [NONE, NONE, NONE, NONE, NONE]], dtype=torch.float64)
    ids = torch.tensor([[30, 52, 40, 88, 70], [30, 31, 32, 88, 89]])  # a pedal (88) heard last is not a note
    assert note_before(heard_s, ids).tolist() == [40, -1]  # 52 and 40 struck together: 40 drawn after 52; no note
    assert note_before(heard_s[:, :0], ids[:, :0]).tolist() == [-1, -1]
    away = away_from(torch.tensor([40, -1]), torch.arange(88)[None])  # [2, 88]
    assert torch.nonzero(~away[0]).squeeze(1).tolist() == [38, 39, 40, 41, 42] and not away[1].any()


def test_without_the_lean_the_sampler_draws_as_before_it():
    # pinned from the sampler before ar.step_lean (commit c0ff402), the cluster guard on: its noise is where it was
    torch.manual_seed(5)
    head = EventHead(width=8, hidden=16, max_events=5, chunk_seconds=0.25, carry=True)
    carry = one_note_carry([42, 60, 30], [0.005, 0.1, 0.02])
    features = torch.randn(3, 8, generator=torch.Generator().manual_seed(2))
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(0), carry=carry, start_temperature=0.6,
                                      stop_bias=0.3, cluster_guard=1.5, step_lean=0.0)
    assert drawn.ids.tolist() == [[53, 78, 47, 60, 61], [78, 35, 42, 71, 62], [59, 21, 35, 21, 75]]
    assert (drawn.offset_s / 0.005).floor().long().tolist() == [[0, 33, 47, 47, 47], [28, 43, 46, 47, 48],
                                                                 [12, 22, 28, 40, 42]]


@pytest.mark.parametrize("guidance", [1.0, 6.0])
def test_the_lean_weighs_the_steps_among_the_notes_that_start_an_onset_exactly(guidance):
    # the note before: key 42, 5 ms before the chunk; a first note starting at 20 ms or later starts a new onset. The
    # head strikes keys 40–44 (within 2 of 42) most often, and mostly in the first 20 ms (joining): a redraw must
    # know how often each key starts a new onset
    head, rows = chord_head(4, carry=True, near_join=True), 20000
    carry = one_note_carry([42] * rows, [0.005] * rows)
    g = torch.Generator().manual_seed(0)
    told, untold = torch.randn(1, 8, generator=g) * 2, torch.randn(1, 8, generator=g) * 2
    features = told.expand(rows, 8) if guidance == 1.0 else torch.cat([told.expand(rows, 8), untold.expand(rows, 8)])

    def starting(strength: float) -> tuple[np.ndarray, np.ndarray, float]:
        near, start_s, notes = first_notes(head, features, carry, guidance, step_lean=strength)
        return near, start_s >= 0.02, notes  # a step; a new onset; notes
    near, fresh, notes = starting(0.0)
    q = near[fresh].mean()  # the steps' share among the notes that start a new onset
    assert 0.05 < fresh.mean() < 0.97 and 0.02 < q < 0.85  # both outcomes seen, so the test can fail
    if guidance == 1.0:
        assert fresh[~near].mean() > fresh[near].mean() + 0.3  # a step starts a new onset far less often
    w = math.exp(1.0)
    near_l, fresh_l, notes_l = starting(1.0)
    assert abs(notes_l - notes) < 0.015  # a note as often: the kind choice is the network's
    assert abs(fresh_l.mean() - fresh.mean()) < 0.02  # as many notes start a new onset …
    assert abs(near_l[fresh_l].mean() - q * w / (q * w + 1 - q)) < 0.03  # … the steps among them weighed by e^L
    assert abs(near_l[~fresh_l].mean() - near[~fresh].mean()) < 0.03  # the notes that join: as drawn


def test_a_pieces_draws_do_not_depend_on_whether_another_pieces_note_was_drawn_again():
    head = chord_head(3, carry=True)
    for seed in range(8):  # the first piece heard a note near the chord's keys 40–44 (no redraw) or far from them
        near = EventSampler(head).sample(torch.zeros(2, 8), torch.Generator().manual_seed(seed),
                                         carry=one_note_carry([42, 80], [0.2, 0.2]), step_lean=2.0)
        far = EventSampler(head).sample(torch.zeros(2, 8), torch.Generator().manual_seed(seed),
                                        carry=one_note_carry([80, 80], [0.2, 0.2]), step_lean=2.0)
        assert all(torch.equal(getattr(near, f)[1:], getattr(far, f)[1:]) for f in FIELDS)


def test_the_lean_is_a_checked_sampling_setting_that_reaches_the_sampler(tmp_path, monkeypatch):
    assert Config().override(["ar.step_lean=0.5"]).ar.step_lean == 0.5
    for bad in ("-1", "inf", "nan"):
        with pytest.raises(ValueError, match="ar.step_lean"):
            Config().override([f"ar.step_lean={bad}"])
    heard = []
    spy_on_event_sampler(monkeypatch, lambda arguments: heard.append(arguments.get("step_lean")))
    assert main(["generate", "-n", "1", "--seconds", "0.5", "-o", str(tmp_path), "--set", "ar.step_lean=0.5"]) == 0
    assert heard and set(heard) == {0.5}


def test_with_a_strong_lean_every_new_onset_steps_from_the_note_drawn_before_it():
    # the note before follows the chunk's own notes: a lean of 30 keeps almost no note off the line, so each note
    # that starts a new onset lies within 2 semitones of the note drawn just before it (the carry's 80 for the first)
    head, rows = chord_head(3, carry=True), 300
    drawn = EventSampler(head).sample(torch.randn(rows, 8, generator=torch.Generator().manual_seed(4)),
                                      torch.Generator().manual_seed(0), carry=one_note_carry([80] * rows, [0.2] * rows),
                                      step_lean=30.0)
    checked = later = 0
    for row in range(rows):
        before, latest_s = 80, -0.2
        for j in range(int(drawn.sizes[row])):
            key, start_s = int(drawn.ids[row, j]), float(drawn.offset_s[row, j])
            if key >= 88:  # a pedal: not a note
                continue
            if start_s > latest_s + 0.03:  # clearly a new onset
                assert abs(key - before) <= 2, (row, j, key, before)
                checked += 1
                later += j > 0 and before != 80
            before, latest_s = key, max(latest_s, start_s)
    assert checked > 100 and later > 20  # the test can fail, also after the chunk's first note
