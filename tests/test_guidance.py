"""Following the description more closely (ar.style_guidance, classifier-free guidance): every choice drawn from
untold + g × (told − untold) logits, the same choice made in both halves, the trunk reading each piece told and
untold, and a run sampling with it."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from test_events_arm import TINY_EVENTS
from test_onsets import onset_head
from test_style import described, network
from test_tonal import counts_of_one_class
from timestepmusic.cli import main
from timestepmusic.config import Config
from timestepmusic.midi import read_events
from timestepmusic.sequence.event_head import EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.style import BANK
from timestepmusic.sequence.style_request import parse_style
from timestepmusic.train.sequence import train_sequence_model

from conftest import spy_on_event_sampler, timed_carry


def full_head() -> EventHead:
    """A head hearing every past a sample passes (carry, intervals, tonal, voices), and drawing chunks of many
    sizes with pedals among the notes."""
    torch.manual_seed(0)
    head = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True, intervals=2, tonal=True,
                     voices=True)
    with torch.no_grad():
        torch.nn.init.normal_(head.tonal.score[2].weight, std=2.0)
        head.out["key"][-1].bias[-1] += 3.0
        head.out["key"][-1].bias[88:91] += 3.0
    return head.eval()


def draw(head: EventHead, features: torch.Tensor, guidance: float, rows: int):
    carry, (tonal, _) = timed_carry(rows, 5), counts_of_one_class(rows, 4)
    return EventSampler(head).sample(features, torch.Generator().manual_seed(1), 0.8, carry, tonal, guidance)


def same(a, b) -> bool:
    return all(torch.equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))


def test_guidance_mixes_told_and_untold_and_draws_once_for_both_halves():
    head, rows = full_head(), 48
    told, untold = torch.randn(rows, 8), torch.randn(rows, 8)
    plain = draw(head, told, 1.0, rows)
    assert (plain.sizes == 0).any() and (plain.sizes == 6).any() and ((plain.ids >= 88) & plain.mask).any()
    for g in (0.0, 2.5):  # told twice: nothing to mix, whatever g; the same draws as unguided
        assert same(draw(head, torch.cat([told, told]), g, rows), plain)
    at_zero = draw(head, torch.cat([told, untold]), 0.0, rows)  # g = 0: the untold logits alone
    assert same(at_zero, draw(head, untold, 1.0, rows)) and not same(at_zero, plain)
    guided = draw(head, torch.cat([told, untold]), 2.5, rows)
    assert guided.sizes.shape == (rows,) and not same(guided, plain) and not same(guided, at_zero)


def test_one_piece_guided_draws_as_unguided_when_told_nothing_different():
    """One piece guided (its two halves' checks read from its first row) draws as the piece unguided where both halves
    hear the same, for each of several pieces alone."""
    head = full_head()
    for seed in range(6):
        told = torch.randn(1, 8, generator=torch.Generator().manual_seed(seed))
        plain = draw(head, told, 1.0, 1)
        assert same(draw(head, torch.cat([told, told]), 2.5, 1), plain), seed


def test_guidance_draws_the_onset_choice_once_for_both_halves():
    """With ar.onsets each event first chooses to join the latest onset, start one or end the chunk: guided,
    that choice too is drawn once from the mixed odds."""
    torch.manual_seed(2)
    head, rows = onset_head().eval(), 48
    told, untold = torch.randn(rows, 8), torch.randn(rows, 8)
    carry = timed_carry(rows, 5)

    def sample(features, g):
        return EventSampler(head).sample(features, torch.Generator().manual_seed(1), 1.0, carry, None, g)
    plain = sample(told, 1.0)
    assert (plain.sizes > 1).any() and (plain.sizes == 0).any()
    assert same(sample(torch.cat([told, told]), 2.5), plain)  # nothing to mix: the unguided draws
    assert same(sample(torch.cat([told, untold]), 0.0), sample(untold, 1.0))  # the untold odds alone
    guided = sample(torch.cat([told, untold]), 2.5)
    assert not same(guided, plain) and guided.sizes.shape == (rows,)


def test_guided_choices_follow_the_told_direction_further():
    """One choice, many rows: the told features make a key likelier than the untold; guided, likelier still."""
    torch.manual_seed(1)
    head = EventHead(width=8, hidden=16, max_events=1, chunk_seconds=0.25).eval()
    rows = 20000
    told, untold = torch.randn(1, 8).expand(rows, 8), torch.randn(1, 8).expand(rows, 8)
    share = {}
    for name, features, g in (("untold", untold, 1.0), ("told", told, 1.0),
                              ("guided", torch.cat([told, untold]), 3.0)):
        drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(0), guidance=g)
        ids = drawn.ids[drawn.sizes > 0, 0]
        share[name] = torch.bincount(ids, minlength=92).float() / rows  # [92]
    favoured = (share["told"] - share["untold"]).argmax()
    assert share["untold"][favoured] < share["told"][favoured] < share["guided"][favoured]


def one_event_head_told_and_untold(rows: int = 20000) -> tuple[EventHead, torch.Tensor, torch.Tensor]:
    """A head that draws one event per chunk, pedals common enough to count, and `rows` rows of two far-apart
    features [rows, 8] each: the told and the untold."""
    torch.manual_seed(2)
    head = EventHead(width=8, hidden=16, max_events=1, chunk_seconds=0.25).eval()
    with torch.no_grad():
        head.out["key"][-1].bias[88:91] += 2.0
    told, untold = 4 * torch.randn(1, 8).expand(rows, 8), 4 * torch.randn(1, 8).expand(rows, 8)
    return head, told, untold


def first_event_shares(head: EventHead, features: torch.Tensor, **guidance) -> tuple[torch.Tensor, object]:
    """Each row's one event drawn (guided: features [2R, W], told then untold) → the share of rows [92] drawing each
    id (91: the empty chunk), and the drawn sets."""
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(0), **guidance)
    ids = torch.where(drawn.sizes > 0, drawn.ids[:, 0], 91)  # [R]
    return torch.bincount(ids, minlength=92).float() / ids.shape[0], drawn


def test_pedal_guidance_moves_the_pedal_choices_alone():
    """ar.pedal_guidance: the pedal columns of the note-pedal-or-stop choice follow the told direction further;
    the notes' keys are drawn from the told logits as unguided."""
    head, told, untold = one_event_head_told_and_untold()
    plain, plain_drawn = first_event_shares(head, told)
    untold_share, _ = first_event_shares(head, untold)
    assert same(first_event_shares(head, torch.cat([told, told]), pedal_guidance=3.0)[1], plain_drawn)  # as unguided
    guided, _ = first_event_shares(head, torch.cat([told, untold]), pedal_guidance=3.0)
    pedals = slice(88, 91)
    direction = (plain - untold_share)[pedals]  # [3]: where telling moves each pedal
    moved = (guided - plain)[pedals]
    assert (direction.abs() > 0.0015).all() and (moved * direction.sign()).min() > 0  # further the same way, each
    keys = lambda s: s[:88] / s[:88].sum()  # noqa: E731  (the notes' keys, among the notes drawn)
    assert (keys(guided) - keys(plain)).abs().sum() < 0.05 < (keys(untold_share) - keys(plain)).abs().sum()


def test_key_guidance_moves_the_keys_alone():
    """ar.key_guidance: a note's key follows the told direction further; whether the event is a note, a pedal or
    the chunk's end is drawn from the told logits as unguided."""
    head, told, untold = one_event_head_told_and_untold()
    plain, plain_drawn = first_event_shares(head, told)
    untold_share, _ = first_event_shares(head, untold)
    assert same(first_event_shares(head, torch.cat([told, told]), key_guidance=3.0)[1], plain_drawn)  # as unguided
    guided, guided_drawn = first_event_shares(head, torch.cat([told, untold]), key_guidance=3.0)
    keys = lambda s: s[:88] / s[:88].sum()  # noqa: E731  (the notes' keys, among the notes drawn)
    favoured = (keys(plain) - keys(untold_share)).argmax()
    assert keys(untold_share)[favoured] < keys(plain)[favoured] < keys(guided)[favoured]
    kind = lambda drawn: torch.where(drawn.sizes > 0, drawn.ids[:, 0].masked_fill(drawn.ids[:, 0] < 88, -1), 91)  # noqa: E731
    assert torch.equal(kind(guided_drawn), kind(plain_drawn))  # each row a note (−1), the same pedal or empty (91)


def test_a_key_the_register_min_p_rules_out_in_one_half_is_never_drawn():
    """ar.register_min_p masks each half by its own odds; a key masked in the untold half alone mixed to −inf + inf =
    NaN, which argmax drew in every row (4000 of 4000 rows the same key, beyond the register). Now a key either half
    rules out is not drawn, and the draws keep their spread."""
    torch.manual_seed(2)
    head = EventHead(width=8, hidden=16, max_events=1, chunk_seconds=0.25).eval()
    with torch.no_grad():
        head.out["key"][-1].weight.mul_(10.0)  # keys far apart in odds: the halves' masks differ
        head.out["key"][-1].bias[88:] -= 30.0  # notes only
    rows = 4000
    told, untold = 4 * torch.randn(1, 8).expand(rows, 8), 4 * torch.randn(1, 8).expand(rows, 8)
    register = (torch.full((rows,), 50.0), torch.full((rows,), 40.0))  # keys 40-50 heard
    for setting in ({"key_guidance": 2.0}, {"guidance": 2.0}):
        drawn = EventSampler(head).sample(torch.cat([told, untold]), torch.Generator().manual_seed(0), register=register,
                                          register_margin=0.0, register_min_p=0.05, **setting)
        keys = drawn.ids[:rows, 0]
        assert bool((keys < 88).all()) and keys.unique().numel() > 10, setting


def test_the_trunk_reads_each_piece_told_and_untold_when_guided():
    net = network(True)
    torch.nn.init.normal_(net.style.project.weight)
    net.style.fill_bank(described(BANK, 4))
    x, told = torch.randn(2, 8, 4), described(2, 5)
    (whole,), end = net(x, told)  # [2, T, W], [2, T]
    (untold,), _ = net(x)
    net.guidance = 2.0  # guided: every piece read twice
    held = net.offset(told, 2)  # [2, W]
    ((features,), ends), cache = net.prefill(x[:, :3], held)
    assert features.shape[0] == 4 and ends.shape[0] == 2  # both halves' features, the told pieces' end logits
    assert torch.allclose(features[:2, -1], whole[:, 3], atol=1e-5)
    assert torch.allclose(features[2:, -1], untold[:, 3], atol=1e-5) and torch.allclose(ends[:, -1], end[:, 3], atol=1e-5)
    ((features,), ends), _ = net.step(x[:, 3], 4, cache, held)
    assert torch.allclose(features[:2, -1], whole[:, 4], atol=1e-5)
    assert torch.allclose(features[2:, -1], untold[:, 4], atol=1e-5) and torch.allclose(ends[:, -1], end[:, 4], atol=1e-5)


def test_the_guidance_settings_must_be_finite_and_not_negative():
    for key in ("ar.style_guidance", "ar.request_guidance", "ar.pedal_guidance", "ar.key_guidance"):
        for bad in (-0.5, float("inf"), float("nan")):
            with pytest.raises(ValueError, match=key.replace(".", r"\.")):
                Config().override({key: bad})


def test_a_run_samples_guided_and_a_prompt_is_not(tiny_corpus, tiny_ae, tmp_path):
    config = Config().override(TINY_EVENTS | {"ar.carry": True, "ar.tonal": True, "ar.style": True,
                                              "gan.steps": 4, "gan.validate_every": 2})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "run", config, arch="events", progress=False)
    from timestepmusic.generation import GANModel

    model = GANModel.load(tmp_path / "run")
    torch.nn.init.normal_(model.arm.generator.style.project.weight)  # as if trained: the description is heard
    plain = model.sample(3, 4.0, seed=2)
    model.arm.settings = dataclasses.replace(model.arm.settings, style_guidance=3.0)
    guided = model.sample(3, 4.0, seed=2)
    assert len(guided) == 3 and all(p.ids.size for p in guided)
    again = model.sample(3, 4.0, seed=2)
    assert all(a.ids.tolist() == b.ids.tolist() and a.start_s.tolist() == b.start_s.tolist()
               for a, b in zip(guided, again))
    assert any(a.ids.tolist() != b.ids.tolist() for a, b in zip(guided, plain))
    assert not model.arm.generator.guided and model.arm.generator.guidance == 1.0  # left as it was after sampling
    asked = model.sample(2, 2.0, seed=0, style=parse_style("damper=0.2"))
    assert len(asked) == 2
    prompt, _ = read_events(next((tiny_corpus.parent / "midi").rglob("*.mid")))
    told_prompt = model.sample(2, 2.0, seed=0, prompt=prompt)  # ar.prompt_told: guided by its own last passage
    model.arm.settings = dataclasses.replace(model.arm.settings, prompt_told=False)
    continued = model.sample(2, 2.0, seed=0, prompt=prompt)  # heard, not told: nothing to guide by
    model.arm.settings = dataclasses.replace(model.arm.settings, style_guidance=1.0)
    assert [p.ids.tolist() for p in continued] == [p.ids.tolist() for p in model.sample(2, 2.0, seed=0, prompt=prompt)]
    model.arm.settings = dataclasses.replace(model.arm.settings, prompt_told=True)
    assert [p.ids.tolist() for p in told_prompt] != [p.ids.tolist() for p in model.sample(2, 2.0, seed=0, prompt=prompt)]


def test_generate_guides_asked_styles_by_default_and_takes_guidance(tiny_corpus, tiny_ae, tmp_path, monkeypatch,
                                                                    capsys):
    config = Config().override(TINY_EVENTS | {"ar.style": True, "gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "styled", config, arch="events", progress=False)
    used = []

    spy_on_event_sampler(monkeypatch, lambda arguments: used.append((arguments.get("guidance", 1.0),
                                                                     arguments.get("pedal_guidance"),
                                                                     arguments.get("key_guidance"),
                                                                     arguments["features"].shape[0])))
    run = ["generate", "--model", str(tmp_path / "styled"), "-n", "2", "--seconds", "1"]
    prompt = str(next((tiny_corpus.parent / "midi").rglob("*.mid")))
    for case, (extra, expected) in enumerate(((["--style", "damper=0.2"], (2.0, 2.0, 2.0, 4)), ([], (1.0, 1.0, 1.0, 2)),  # asked
                            (["--guidance", "3"], (3.0, 3.0, 3.0, 4)),
                            (["--style", "soft=0", "--guidance", "1"], (1.0, 1.0, 1.0, 2)),
                            (["--set", "ar.pedal_guidance=2"], (1.0, 2.0, 1.0, 4)),  # the pedals alone: read twice
                            (["--set", "ar.pedal_guidance=2", "--guidance", "3"], (3.0, 2.0, 3.0, 4)),  # its own
                            (["--set", "ar.key_guidance=2"], (1.0, 1.0, 2.0, 4)),  # the keys alone: read twice
                            (["--set", "ar.key_guidance=2", "--prompt", prompt], (1.0, 1.0, 1.0, 2)),  # a prompt's: its own
                            (["--set", "ar.key_guidance=2", "--style", "soft=0", "--guidance", "1"],
                             (1.0, 1.0, 2.0, 4)),  # --guidance leaves the keys at theirs (ar_config.py says so)
                            (["--guidance", "0.5"], (0.5, 0.5, 0.5, 4)))):  # unset: the pedals as everything else
        used.clear()
        assert main(run + extra + ["-o", str(tmp_path / f"out{case}")]) == 0
        assert set(used) == {expected}, extra  # every chunk at that guidance; guided: each piece read twice
    plain = Config().override(TINY_EVENTS | {"gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "plain", plain, arch="events", progress=False)
    unguided = ["generate", "--model", str(tmp_path / "plain"), "-n", "1", "--seconds", "1"]
    for args, said in ((run + ["--guidance", "-1"], "must be ≥ 0"), (run + ["--guidance", "inf"], "must be ≥ 0 and finite"),
                       (unguided + ["--guidance", "2"], "does not follow a description")):
        capsys.readouterr()
        assert main(args + ["-o", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err.strip()
        assert said in err and len(err.splitlines()) == 1


def test_guidance_zero_with_a_request_says_the_request_is_not_followed(tmp_path, caplog):
    run = ["generate", "-n", "1", "--seconds", "1", "--seed", "2"]
    assert main([*run, "--guidance", "0", "--style", "density=10", "-o", str(tmp_path / "zero")]) == 0
    assert "--guidance 0: each choice is drawn at the odds of a piece told nothing, so --style is not" in caplog.text
    caplog.clear()
    assert main([*run, "--guidance", "1", "--style", "density=10", "-o", str(tmp_path / "one")]) == 0
    assert "--guidance" not in caplog.text
