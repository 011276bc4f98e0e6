"""ar.start_phase: a lean on where in its chunk a note starting a new onset lands (event_sampler.START_PHASE_AT),
leaving how often a note joins the onset before it as the network's odds."""
from __future__ import annotations

import pytest
import torch

from timestepmusic.config import Config
from timestepmusic.sequence.event_head import EventHead
from timestepmusic.sequence.event_sampler import START_PHASE_AT, EventSampler
from timestepmusic.sequence.pulse import ONSET_S

LATE = (-2.0, -1.5, -1.0, -0.5, 0.5, 2.0)  # knots that move new onsets toward the chunk's end


def head_of_notes() -> EventHead:
    """A small untrained head whose start bins are alike and whose events are mostly notes, several per chunk."""
    torch.manual_seed(6)
    head = EventHead(width=8, hidden=16, max_events=4, chunk_seconds=0.25)
    with torch.no_grad():
        head.out["start"][-1].weight.zero_()
        head.out["start"][-1].bias.zero_()
        head.out["key"][-1].bias[88:] -= 4.0  # notes, seldom pedals or the stop
    return head


def draw(head: EventHead, phase: tuple[float, ...], rows: int = 3000):
    features = torch.randn(1, 8, generator=torch.Generator().manual_seed(1)).expand(rows, 8)
    # a tiny step lean keeps the latest onset in view (the guards' bookkeeping) and hardly moves a key
    return EventSampler(head).sample(features, torch.Generator().manual_seed(0), step_lean=1e-6, start_phase=phase)


def test_the_phase_lean_moves_new_onsets_later_and_keeps_how_often_a_note_joins_the_onset_before():
    head = head_of_notes()
    plain, leaned = draw(head, (0.0,) * 6), draw(head, LATE)

    def first_start_and_joins(d) -> tuple[float, float]:
        """The mean start of each chunk's first event, and how often a second note joins a first note's onset
        where that first note starts 0.1–0.2 s into the chunk (the same room after it in both draws)."""
        notes = (d.sizes >= 2) & (d.ids[:, 0] < 88) & (d.ids[:, 1] < 88)  # [R]: two notes, the first ones
        first, second = d.offset_s[notes, 0], d.offset_s[notes, 1]
        middle = (first >= 0.1) & (first < 0.2)
        return float(d.offset_s[d.sizes > 0, 0].mean()), float((second - first <= ONSET_S)[middle].float().mean())
    (start_plain, joins_plain), (start_leaned, joins_leaned) = first_start_and_joins(plain), first_start_and_joins(leaned)
    assert start_leaned > start_plain + 0.02  # each chunk's first onset lands later …
    assert joins_plain > 0.1 and abs(joins_leaned - joins_plain) < 0.05  # … and a chord is as likely after it


def test_no_phase_lean_draws_as_before_and_the_knots_are_checked():
    head = head_of_notes()
    sampler = EventSampler(head)
    assert sampler.phase_lean((0.0,) * 6) is None
    lean = sampler.phase_lean(LATE)  # [S]: straight lines between the knots over the start bins' middles
    assert lean.shape == (50,) and float(lean[0]) == pytest.approx(-2.0, abs=0.15)
    assert float(lean[-1]) == pytest.approx(2.0, abs=0.15) and bool((lean.diff() >= 0).all())
    assert len(START_PHASE_AT) == 6 and START_PHASE_AT[0] == 0.0 and START_PHASE_AT[-1] == 1.0
    with pytest.raises(ValueError, match="ar.start_phase"):
        sampler.phase_lean((1.0, 2.0))
    assert Config().override(["ar.start_phase=[-1, -0.5, 0, 0, 0.5, 1]"]).ar.start_phase[0] == -1.0
    for bad in ("[1, 2]", "[0, 0, 0, 0, 0, inf]", "0.5"):
        with pytest.raises(ValueError, match="ar.start_phase"):
            Config().override([f"ar.start_phase={bad}"])
