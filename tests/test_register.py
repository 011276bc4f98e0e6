"""Fewer stray notes beyond the register being played (ar.register_guard, sequence/register_guard.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from timestepmusic.batches import SetBatch
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.generation import GANModel, set_sampling
from timestepmusic.midi import Events
from timestepmusic.sequence.event_head import EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.register_guard import DrawnRegister, register_lean

from conftest import spy_on_event_sampler

KEYS = torch.arange(88)[None]  # [1, 88]


def chunk(rows: list[list[int]], n: int = 4) -> SetBatch:
    """One chunk per piece: each row's event ids (keys < 88, pedals 88–90) at 0 s."""
    ids = torch.zeros(len(rows), n, dtype=torch.long)
    for r, events in enumerate(rows):
        ids[r, :len(events)] = torch.tensor(events, dtype=torch.long)
    zeros = torch.zeros(len(rows), n, dtype=torch.float64)
    return SetBatch(ids, zeros, zeros + 0.1, torch.full((len(rows), n), 64), torch.tensor([len(e) for e in rows]))


def test_the_register_heard_is_the_window_of_chunks_before_and_pedals_are_not_keys():
    register = DrawnRegister(2, window=2, device=torch.device("cpu"))
    high, low = register.bounds()
    assert high.tolist() == [-math.inf] * 2 and low.tolist() == [math.inf] * 2  # nothing heard yet
    register.append(chunk([[40, 52, 88], [89]]))
    assert register.bounds()[0].tolist() == [52, -math.inf] and register.bounds()[1].tolist() == [40, math.inf]
    register.append(chunk([[30], []]))
    assert register.bounds()[0].tolist() == [52, -math.inf] and register.bounds()[1].tolist() == [30, math.inf]
    register.append(chunk([[45], [60, 20]]))  # the first chunk leaves the window of 2
    assert register.bounds()[0].tolist() == [45, 60] and register.bounds()[1].tolist() == [30, 20]
    register.skip(2)  # a prompt known only by its latents: silence
    assert register.bounds()[0].tolist() == [-math.inf] * 2


def test_the_lean_is_the_guard_per_semitone_beyond_the_margin_and_none_where_nothing_was_heard():
    lean = register_lean(torch.zeros(2, 88), torch.tensor([50.0, -math.inf]), torch.tensor([40.0, math.inf]), KEYS,
                         margin=2.0, guard=0.5)
    assert lean.shape == (2, 88) and torch.isfinite(lean).all()
    assert lean[0, 38:53].eq(0).all()  # within 2 semitones of the register: free
    assert lean[0, 55].item() == pytest.approx(-1.5) and lean[0, 35].item() == pytest.approx(-1.5)  # 3 beyond
    assert lean[1].eq(0).all()


def test_min_p_cuts_only_the_unlikely_keys_beyond_the_margin():
    logits = torch.zeros(2, 88)
    logits[:, 45] = 3.0  # the likeliest key, inside the register heard
    logits[:, 70] = 3.0 + math.log(0.5)  # a leap the network is sure of: half the likeliest's odds
    logits[:, 39] = 3.0 + math.log(0.01)  # an unlikely key within the margin: never cut
    leaned = register_lean(logits, torch.tensor([50.0, -math.inf]), torch.tensor([40.0, math.inf]), KEYS, margin=2.0,
                           guard=0.0, min_p=0.1)
    assert leaned[0, 70] == logits[0, 70] and leaned[0, 45] == logits[0, 45]  # kept as the network gave them
    assert torch.equal(leaned[0, 38:53], logits[0, 38:53])  # within 2 semitones of the register heard: untouched
    beyond = torch.cat([torch.arange(0, 38), torch.arange(53, 88)])
    assert (leaned[0, beyond] == -math.inf).sum() == len(beyond) - 1  # every far key but the sure leap
    assert torch.equal(leaned[1], logits[1])  # nothing heard: nothing cut


def uniform_head(seed: int, max_events: int = 6) -> EventHead:
    """An untrained head whose keys are equally likely, pedals and the stop seldom."""
    torch.manual_seed(seed)
    head = EventHead(width=8, hidden=16, max_events=max_events, chunk_seconds=0.25, carry=False)
    with torch.no_grad():
        head.out["key"][-1].weight.zero_()
        head.out["key"][-1].bias.zero_()
        head.out["key"][-1].bias[88:] -= 4.0
    return head


def test_a_strong_guard_keeps_every_note_within_the_margin_of_the_register_heard_and_drawn():
    head, rows = uniform_head(0), 300
    features = torch.randn(rows, 8, generator=torch.Generator().manual_seed(1))
    heard = (torch.full((rows,), 50.0), torch.full((rows,), 40.0))
    plain = EventSampler(head).sample(features, torch.Generator().manual_seed(0))
    guarded = EventSampler(head).sample(features, torch.Generator().manual_seed(0), register=heard,
                                        register_guard=40.0, register_margin=2.0)

    def beyond(drawn: SetBatch) -> tuple[int, int]:
        """Notes beyond 2 semitones of the register heard and of the notes drawn before them; all notes."""
        out = notes = 0
        for row in range(rows):
            high, low = 50, 40
            for key in drawn.ids[row, :int(drawn.sizes[row])].tolist():
                if key < 88:
                    out, notes = out + int(key > high + 2 or key < low - 2), notes + 1
                    high, low = max(high, key), min(low, key)
        return out, notes
    out, notes = beyond(plain)
    assert notes > 500 and out > 0.3 * notes  # keys all over the keyboard, so the test can fail
    out, notes = beyond(guarded)
    assert notes > 500 and out == 0
    first = lambda drawn: (drawn.sizes > 0) & (drawn.ids[:, 0] < 88)  # noqa: E731 — a note first
    assert torch.equal(first(plain), first(guarded))  # whether an event is a note: the network's choice, as drawn


def test_the_guard_weighs_each_key_by_its_semitones_beyond_exactly():
    head, rows = uniform_head(1), 40000
    features = torch.zeros(rows, 8)
    heard = (torch.full((rows,), 60.0), torch.full((rows,), 20.0))
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(2), register=heard,
                                      register_guard=0.7, register_margin=1.0)
    first = drawn.ids[(drawn.sizes > 0) & (drawn.ids[:, 0] < 88), 0].numpy()
    inside = np.isin(first, np.arange(19, 62)).sum() / 43  # per key, within the margin (keys 19–61)
    for beyond in (1, 2):  # keys 62 and 63: 1 and 2 semitones beyond the margin
        assert (first == 61 + beyond).sum() / inside == pytest.approx(math.exp(-0.7 * beyond), abs=0.06)


def test_the_guard_is_a_checked_sampling_setting_that_reaches_the_sampler(tmp_path, monkeypatch):
    config = Config().override(["ar.register_guard=0.4", "ar.register_margin=5", "ar.register_window_s=2"])
    assert (config.ar.register_guard, config.ar.register_margin, config.ar.register_window_s) == (0.4, 5.0, 2.0)
    for bad in ("ar.register_guard=-1", "ar.register_guard=inf", "ar.register_margin=nan", "ar.register_window_s=0"):
        with pytest.raises(ValueError, match=bad.split("=")[0]):
            Config().override([bad])
    heard = []
    spy_on_event_sampler(monkeypatch, lambda arguments: heard.append(
        (arguments.get("register_guard"), arguments.get("register_margin"), arguments.get("register") is not None)))
    assert main(["generate", "-n", "1", "--seconds", "0.5", "-o", str(tmp_path / "a"), "--set", "ar.register_guard=0.4",
                 "--set", "ar.register_margin=5"]) == 0
    assert heard and set(heard) == {(0.4, 5.0, True)}


def test_a_continued_prompts_notes_make_the_register_heard():
    # a 4 s prompt striking keys 40, 43 and 46 alone; continued for 2 s with a guard no key beyond them can pass
    # (margin 0): the register heard is the prompt's, and the notes drawn stay inside it
    starts = np.arange(32) * 0.125
    prompt = Events(np.tile([40, 43, 46], 11)[:32], starts, np.full(32, 0.1), np.full(32, 70), end_s=4.0)
    drawn_keys = {}
    for guard in ("0", "60"):
        model = GANModel.load(None)  # the shipped default
        set_sampling(model, [f"ar.register_guard={guard}", "ar.register_margin=0"])
        (piece,) = model.sample(1, 2.0, seed=0, prompt=prompt)
        drawn = piece.is_note & (piece.start_s >= 4.0 - 1e-6)
        drawn_keys[guard] = piece.ids[drawn]
    assert drawn_keys["0"].size and ((drawn_keys["0"] < 40) | (drawn_keys["0"] > 46)).any()  # the test can fail
    assert drawn_keys["60"].size > 5 and ((drawn_keys["60"] >= 40) & (drawn_keys["60"] <= 46)).all()


@pytest.mark.parametrize("setting, pedal", [("damper_bias", 88), ("soft_bias", 90)])
def test_a_pedal_bias_moves_the_odds_of_that_pedal_s_event_exactly_and_nothing_else(setting, pedal):
    # (ar.damper_bias and ar.soft_bias, the sampler's pedal-side settings beside the register's)
    head, rows = uniform_head(2, max_events=1), 40000  # one event a chunk: its kind is the first choice
    with torch.no_grad():
        head.out["key"][-1].bias[pedal] = 4.5  # this pedal's events common
        head.out["key"][-1].bias[91] = 4.0  # and chunks that end at once
    features = torch.zeros(rows, 8)

    def first_kinds(bias: float) -> np.ndarray:
        drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(3), **{setting: bias})
        first = torch.where(drawn.sizes > 0, drawn.ids[:, 0], -1).numpy()  # -1: the chunk ended first
        others = (first >= 0) & (first != pedal)  # notes and the other pedals
        return np.array([(first == pedal).mean(), others.mean(), (first == -1).mean()])
    plain, biased = first_kinds(0.0), first_kinds(-1.0)
    assert 0.2 < plain[0] < 0.8  # both outcomes common, so the test can fail
    odds = plain[0] * math.exp(-1.0)
    assert biased[0] == pytest.approx(odds / (odds + 1 - plain[0]), abs=0.01)
    others = lambda shares: shares[1:] / shares[1:].sum()  # noqa: E731 — the rest against the end, among the rest
    assert others(biased) == pytest.approx(others(plain), abs=0.01)
    with pytest.raises(ValueError, match=f"ar.{setting}"):
        Config().override([f"ar.{setting}=nan"])
