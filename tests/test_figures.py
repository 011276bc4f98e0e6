"""Figures that come back (ar.figure_echo, sequence/figures.py)."""
from __future__ import annotations

import pytest
import torch

from test_clusters import chord_head, one_note_carry
from timestepmusic.batches import SetBatch
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.figures import FIGURE, WINDOW, DrawnFigures, echoed, struck_now

from conftest import spy_on_event_sampler

FIELDS = ("ids", "offset_s", "duration_s", "intensity", "sizes")


def kept(*keys: int) -> torch.Tensor:
    """One row of keys struck, oldest first, padded on the left to WINDOW [1, W]."""
    return torch.tensor([[-1] * (WINDOW - len(keys)) + list(keys)])


def test_the_echo_goes_on_as_the_latest_earlier_playing_of_the_last_steps_went_on():
    target, found = echoed(torch.cat([kept(60, 62, 64, 65, 67, 40, 50, 52, 54, 55, 54, 40, 72, 74, 76, 77),  # 2 2 1: −1
                                      kept(60, 64, 67, 72, 61, 64, 67),  # −11 3 3 never played before
                                      kept(64, 67),  # fewer notes than a figure
                                      kept(60, 60, 60, 60, 60),  # a repeated key echoes itself
                                      kept(10, 11, 12, 13, 43, 80, 81, 82, 83)]))  # 1 1 1 went on +30: off the keys
    assert FIGURE == 3
    assert found.tolist() == [True, False, False, True, False]
    assert target[0] == 76 and target[3] == 60


def test_the_figures_keep_the_notes_in_order_and_leave_out_pedals_and_padding():
    figures = DrawnFigures(2, torch.device("cpu"))
    ids = torch.tensor([[60, 88, 62, 64], [70, 71, 89, 0]])  # 88, 89: pedals; the second row's last is padding
    zeros = torch.zeros(2, 4)
    figures.append(SetBatch(ids, zeros, zeros, torch.zeros(2, 4, dtype=torch.long), torch.tensor([4, 3])))
    assert figures.keys[0, -3:].tolist() == [60, 62, 64] and figures.keys[0, :-3].eq(-1).all()
    assert figures.keys[1, -2:].tolist() == [70, 71] and figures.keys[1, :-2].eq(-1).all()
    many = torch.arange(21, 21 + WINDOW + 5)[None].expand(2, -1)  # more notes than the window keeps
    figures.append(SetBatch(many, torch.zeros(2, many.shape[1]), torch.zeros(2, many.shape[1]),
                            torch.zeros(2, many.shape[1], dtype=torch.long), torch.full((2,), many.shape[1])))
    assert figures.keys.tolist() == [list(range(26, 26 + WINDOW))] * 2
    added = struck_now(figures.keys, torch.tensor([30, 31]), torch.tensor([True, False]))
    assert added[0, -1] == 30 and added[0, :-1].tolist() == figures.keys[0, 1:].tolist()
    assert torch.equal(added[1], figures.keys[1])


@pytest.mark.parametrize("guidance", [1.0, 4.0])
def test_with_a_strong_echo_the_first_note_is_the_key_that_followed_the_figure(guidance):
    # every row heard 60 62 64 65 67 … 70 72 74 75: the steps 2 2 1 went on by +2, so a lean of 30 on 77 draws it
    # wherever the first event is a note; the head strikes keys 40–44, so without the lean it never does and the test
    # can fail. Whether it is a note keeps the network's odds
    head, rows = chord_head(3, carry=True), 400
    features = torch.randn(rows, 8, generator=torch.Generator().manual_seed(1))
    if guidance != 1.0:
        features = torch.cat([features, torch.randn(rows, 8, generator=torch.Generator().manual_seed(2))])
    figures = kept(60, 62, 64, 65, 67, 20, 70, 72, 74, 75).expand(rows, -1)
    carry = one_note_carry([42] * rows, [0.2] * rows)

    def first(strength: float):
        drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(0), carry=carry, guidance=guidance,
                                          figures=figures, figure_echo=strength)
        key = drawn.ids[:, 0]
        return key, (key < 88) & (drawn.sizes > 0)
    plain, plain_notes = first(0.0)
    leaned, notes = first(30.0)
    assert (plain[plain_notes] == 77).float().mean() < 0.5
    assert (leaned[notes] == 77).float().mean() > 0.98
    assert abs(notes.float().mean() - plain_notes.float().mean()) < 0.05  # a note as often


def test_without_the_echo_the_sampler_draws_as_before_it():
    head = chord_head(3, carry=True)
    features = torch.randn(5, 8, generator=torch.Generator().manual_seed(3))
    carry = one_note_carry([42, 60, 30, 50, 70], [0.005, 0.1, 0.02, 0.3, 0.1])
    before = EventSampler(head).sample(features, torch.Generator().manual_seed(0), carry=carry, cluster_guard=1.5)
    now = EventSampler(head).sample(features, torch.Generator().manual_seed(0), carry=carry, cluster_guard=1.5,
                                    figures=kept(60, 62, 64, 65, 67, 20, 70, 72, 74, 75).expand(5, -1), figure_echo=0.0)
    assert all(torch.equal(getattr(before, f), getattr(now, f)) for f in FIELDS)
    with pytest.raises(ValueError, match="figure_echo"):
        EventSampler(head).sample(features, torch.Generator().manual_seed(0), carry=carry, figure_echo=1.0)


def test_the_echo_is_a_checked_sampling_setting_that_reaches_the_sampler(tmp_path, monkeypatch):
    assert Config().override(["ar.figure_echo=1.5"]).ar.figure_echo == 1.5
    for bad in ("-1", "inf", "nan"):
        with pytest.raises(ValueError, match="ar.figure_echo"):
            Config().override([f"ar.figure_echo={bad}"])
    heard = []
    spy_on_event_sampler(monkeypatch, lambda arguments: heard.append((arguments.get("figure_echo"),
                                                                      arguments.get("figures"))))
    assert main(["generate", "-n", "2", "--seconds", "1", "-o", str(tmp_path), "--set", "ar.figure_echo=1.5"]) == 0
    assert heard and {echo for echo, _ in heard} == {1.5}
    assert all(figures is not None and figures.shape == (2, WINDOW) for _, figures in heard)
    assert (heard[-1][1] >= 0).any()  # the notes drawn before the last chunk are heard
