"""A pedal the told description never presses is never drawn (ar.pedals_as_told): the sampler's mask, the
pedals a description leaves up, and a run sampling with it, drawn and asked."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from test_events_arm import TINY_EVENTS
from test_guidance import draw, full_head, same
from test_style import described
from test_tonal import counts_of_one_class
from timestepmusic.config import Config
from timestepmusic.midi import DAMPER_ID, NUM_KEYS, SOFT_ID, SOSTENUTO_ID
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.style import ATTRIBUTES, BANK, PieceStyle
from timestepmusic.sequence.style_request import parse_style
from timestepmusic.train.sequence import train_sequence_model

from conftest import timed_carry


def draw_unpressed(head, features, guidance, rows, unpressed):
    carry, (tonal, _) = timed_carry(rows, 5), counts_of_one_class(rows, 4)
    return EventSampler(head).sample(features, torch.Generator().manual_seed(1), 0.8, carry, tonal, guidance,
                                     unpressed)


def pedals_drawn(sets) -> torch.Tensor:
    """Which of the three pedals each row drew [R, 3]."""
    return torch.stack([((sets.ids == pedal) & sets.mask).any(1) for pedal in (DAMPER_ID, SOSTENUTO_ID, SOFT_ID)], 1)


@pytest.mark.parametrize("guided", [False, True])
def test_a_row_never_draws_the_pedals_it_is_told_are_up(guided):
    head, rows = full_head(), 60
    told = torch.randn(rows, 8)
    features, g = (torch.cat([told, torch.randn(rows, 8)]), 2.0) if guided else (told, 1.0)
    free = draw(head, features, g, rows)
    assert pedals_drawn(free)[:, [0, 2]].any(0).all()  # free, some rows press the damper and some the soft pedal
    none_up = torch.zeros(rows, 3, dtype=torch.bool)
    assert same(draw_unpressed(head, features, g, rows, none_up), free)  # nothing masked: the same draws
    unpressed = torch.zeros(rows, 3, dtype=torch.bool)
    unpressed[::2, 2] = True  # every other row without the soft pedal
    unpressed[::3, 0] = True  # every third without the damper
    masked = draw_unpressed(head, features, g, rows, unpressed)
    drawn = pedals_drawn(masked)
    assert not (drawn & unpressed).any()
    assert drawn[~unpressed[:, 2], 2].any() and drawn[~unpressed[:, 0], 0].any()  # the others still press them
    assert masked.sizes.shape == (rows,) and (masked.ids[masked.mask] < NUM_KEYS).any()


def test_a_description_leaves_up_the_pedals_whose_share_is_zero():
    style = PieceStyle(16)
    style.fill_bank(described(BANK, 1))
    rows = described(4, 2).abs()
    damper, soft = ATTRIBUTES.index("damper"), ATTRIBUTES.index("soft")
    rows[0, soft] = 0.0
    rows[1, damper] = 0.0
    rows[2, [damper, soft]] = 0.0
    assert style.unpressed(rows).tolist() == [[False, False, True], [True, False, False], [True, False, True],
                                              [False, False, False]]  # the sostenuto: never told, never left up


def test_the_setting_names_which_descriptions():
    assert Config().ar.pedals_as_told == "given"
    with pytest.raises(ValueError, match=r"ar\.pedals_as_told: must be one of none, given, all"):
        Config().override({"ar.pedals_as_told": "yes"})


def test_a_run_told_no_soft_pedal_presses_none(tiny_corpus, tiny_ae, tmp_path):
    config = Config().override(TINY_EVENTS | {"ar.style": True, "ar.carry": True, "gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "run", config, arch="events", progress=False)
    from timestepmusic.generation import GANModel

    model = GANModel.load(tmp_path / "run")
    head = model.arm.generator.events
    with torch.no_grad():  # as if trained to press every pedal often
        head.out["key"][-1].bias[NUM_KEYS:NUM_KEYS + 3] += 4.0
    bank = model.arm.generator.style.bank
    bank[:, ATTRIBUTES.index("soft")] = 0.0  # passages without the una corda, and some without the damper
    bank[1::4, ATTRIBUTES.index("damper")] = 0.0
    asked = parse_style("soft=0,damper=0")

    def pressed(pieces, *pedals):
        return [bool(np.isin(p.ids, pedals).any()) for p in pieces]
    settings = model.arm.settings
    model.arm.settings = dataclasses.replace(settings, pedals_as_told="none")
    assert any(pressed(model.sample(4, 4.0, seed=3, style=asked), SOFT_ID, DAMPER_ID))  # told zero, still pressed
    free = model.sample(6, 4.0, seed=3)
    for as_told in ("given", "all"):  # "given", the default: an asked zero share keeps the pedal up
        model.arm.settings = dataclasses.replace(settings, pedals_as_told=as_told)
        for g in (1.0, 2.0):
            kept = model.sample(4, 4.0, seed=3, style=asked, guidance=g)
            assert not any(pressed(kept, SOFT_ID, DAMPER_ID))
            assert any(pressed(kept, SOSTENUTO_ID))  # a pedal not told zero is still pressed
        assert model.arm.unpressed is None  # left as it was after sampling
    model.arm.settings = dataclasses.replace(settings, pedals_as_told="given")
    assert [p.ids.tolist() for p in model.sample(6, 4.0, seed=3)] == [p.ids.tolist() for p in free]  # drawn: free
    for other in ("damper=0.2", "register=C5"):  # the pedals a request does not name stay free, though the bank
        request = parse_style(other)  # passage the rest of its description comes from may have had none
        kept = model.sample(6, 4.0, seed=3, style=request)
        assert (model.arm.told[:, ATTRIBUTES.index("soft")] == 0).any()
        model.arm.settings = dataclasses.replace(settings, pedals_as_told="none")
        assert [p.ids.tolist() for p in kept] == [p.ids.tolist() for p in model.sample(6, 4.0, seed=3, style=request)]
        model.arm.settings = dataclasses.replace(settings, pedals_as_told="given")
    model.arm.settings = dataclasses.replace(settings, pedals_as_told="all")
    drawn = model.sample(6, 4.0, seed=3)
    zero = (model.arm.told[:, [ATTRIBUTES.index("damper"), ATTRIBUTES.index("soft")]] == 0).numpy()  # [S, 2]
    assert zero.any()  # some pieces were told a passage without the damper or the soft pedal
    for piece, (no_damper, no_soft) in zip(drawn, zero):
        assert not (no_damper and pressed([piece], DAMPER_ID)[0]) and not (no_soft and pressed([piece], SOFT_ID)[0])


def test_some_pieces_told_no_una_corda_keep_it_up(tiny_corpus, tiny_ae, tmp_path):
    """ar.soft_kept_up: of the drawn pieces told a passage without the soft pedal, that share never press it (chosen
    once per piece); pieces told one with it, asked pieces and the default (0) are as before."""
    config = Config().override(TINY_EVENTS | {"ar.style": True, "ar.carry": True, "gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "run", config, arch="events", progress=False)
    from timestepmusic.generation import GANModel

    model = GANModel.load(tmp_path / "run")
    with torch.no_grad():  # as if trained to press the una corda often
        model.arm.generator.events.out["key"][-1].bias[SOFT_ID] += 5.0
    model.arm.generator.style.bank[::2, ATTRIBUTES.index("soft")] = 0.0  # half the passages without it
    settings = model.arm.settings
    assert settings.soft_kept_up == 0.0  # a model trained before keeps its sampling

    def soft_pressed(share: float, **kw) -> tuple[np.ndarray, np.ndarray]:
        model.arm.settings = dataclasses.replace(settings, soft_kept_up=share)
        pieces = model.sample(24, 3.0, seed=5, **kw)
        told_none = (model.arm.told[:, ATTRIBUTES.index("soft")] == 0).numpy()  # [S]
        return np.array([bool((p.ids == SOFT_ID).any()) for p in pieces]), told_none

    free, told_none = soft_pressed(0.0)
    assert free.all() and 0 < told_none.sum() < 24  # free, every piece presses it, told a zero share or not
    all_up, same_told = soft_pressed(1.0)
    assert (same_told == told_none).all()  # the descriptions are drawn as before
    assert not all_up[told_none].any() and all_up[~told_none].all()
    half, _ = soft_pressed(0.5)
    assert half[~told_none].all() and 0 < (~half[told_none]).sum() < told_none.sum()  # some of them, not all
    asked, _ = soft_pressed(1.0, style=parse_style("register=C5"))  # a request: ar.pedals_as_told decides
    assert asked.all()
    settings = dataclasses.replace(settings, pedals_as_told="none")  # read with "given" only: "none" keeps none up
    assert (soft_pressed(1.0)[0] == free).all()
    with pytest.raises(ValueError, match=r"ar\.soft_kept_up: must be in \[0, 1\]"):
        Config().override({"ar.soft_kept_up": 1.5})
