"""Joining the latest onset or starting a new one, chosen before the key (ar.onsets, sequence/onsets.py)."""
from __future__ import annotations

import pytest
import torch

from timestepmusic.batches import SetBatch
from timestepmusic.midi import NUM_KEYS
from timestepmusic.sequence import event_head, event_sampler
from timestepmusic.sequence.event_head import START_STEP_S, STOP, EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.onsets import END, JOIN, ONSET, join_limit, next_allowed, start_allowed

from conftest import timed_carry


def test_a_start_joins_when_its_bins_middle_is_within_25_ms_of_the_latest_note():
    latest_s = torch.tensor([0.0125, -0.02, -0.03, -torch.inf], dtype=torch.float64)
    # bin 2's middle + 25 ms is bin 7's; a note 20 ms before the chunk: only bin 0 (2.5 ms) is within 25 ms;
    # 30 ms before: none; no note heard: none
    assert join_limit(latest_s, START_STEP_S).tolist() == [7, 0, -1, -1]


def test_each_choice_allows_only_what_can_follow():
    limit, earliest = torch.tensor([7, -1, 49, 3]), torch.tensor([2, 0, 10, 5])
    assert next_allowed(limit, earliest, 50).tolist() == [[True, True, True], [False, True, True],
                                                          [True, False, True], [False, True, True]]
    starts = start_allowed(torch.tensor([JOIN, ONSET, JOIN, ONSET]), limit, earliest, 50)  # [4, 50]
    assert torch.nonzero(starts[0]).squeeze(1).tolist() == [2, 3, 4, 5, 6, 7]
    assert torch.equal(starts[1], torch.ones(50, dtype=torch.bool))
    assert torch.nonzero(starts[2]).squeeze(1).tolist() == list(range(10, 50))
    assert torch.nonzero(starts[3]).squeeze(1).tolist() == list(range(5, 50))


def onset_head(max_events: int = 6, carry: bool = True, voices: bool = True) -> EventHead:
    """A head with onsets whose every choice matters: the next choice peaked and read by the key."""
    head = EventHead(width=8, hidden=16, max_events=max_events, chunk_seconds=0.25, carry=carry, voices=voices,
                     intervals=2 if carry else 0, onsets=True)
    with torch.no_grad():
        head.given["next"].weight.normal_(0, 3)
        head.out["next"][-1].weight.normal_()
        if voices:
            head.voices.kernels.weight.normal_()
        head.out["next"][-1].bias.copy_(torch.tensor([1.0, 0.5, -1.5]))  # chunks of many sizes, chords among them
        head.out["key"][-1].bias[88:91] += 3.0  # pedals among the notes
    return head


def test_a_warm_start_keeps_every_choice_after_the_new_one():
    torch.manual_seed(1)
    plain = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True, voices=True)
    with_onsets = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True, voices=True, onsets=True)
    with_onsets.load_state_dict(plain.state_dict(), strict=False)
    state, key, start, duration = torch.randn(20, 16), torch.randint(0, 91, (20,)), torch.randint(0, 50, (20,)), \
        torch.randint(0, 96, (20,))
    before = plain.choices(state, key, start, duration)
    for chosen in (JOIN, ONSET):
        after = with_onsets.choices(state, key, start, duration, chosen=torch.full((20,), chosen))
        assert torch.equal(after["key"][:, :STOP], before["key"][:, :STOP]) and (after["key"][:, STOP] == -torch.inf).all()
        for name in ("start", "duration", "intensity"):
            assert torch.equal(after[name], before[name])


@pytest.mark.parametrize("voices", [True, False])
def test_sampling_chooses_and_bounds_each_start_exactly_as_training_scores_it(monkeypatch, voices):
    """At every step of a draw, the next choice, the latest note's limit and the earliest start are those training
    finds for the drawn chunk teacher-forced, and every drawn chunk has a finite likelihood: with chords joined
    inside chunks and across the chunk's start (the carry), pedals, empty chunks and chunks at the cap."""
    torch.manual_seed(0)
    head, rows = onset_head(voices=voices), 400
    features, carry = torch.randn(rows, 8), timed_carry(rows, 5)
    carry.ago_s[:, 0] = 0.004  # a note 4 ms before each chunk: its first event may join that onset
    carry.ids[:, 0] = 40
    calls = {"sampled": [], "taught": []}

    def spy(into):
        def allowed(chosen, limit, earliest, starts):
            calls[into].append((chosen.clone(), limit.clone(), earliest.clone()))
            return start_allowed(chosen, limit, earliest, starts)
        return allowed
    monkeypatch.setattr(event_sampler, "start_allowed", spy("sampled"))
    monkeypatch.setattr(event_head, "start_allowed", spy("taught"))
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(1), carry=carry)
    assert torch.isfinite(head.nll(features, drawn, carry)).all()
    rows_at, positions = drawn.mask.nonzero(as_tuple=True)
    (taught,) = calls["taught"]
    for step, sampled in enumerate(calls["sampled"]):
        at = positions == step
        for drawn_values, taught_values in zip(sampled, taught):
            assert torch.equal(drawn_values[rows_at[at]], taught_values[at])
    assert len(calls["sampled"]) == 6 and (taught[0] == JOIN).any() and (taught[0] == ONSET).any()
    assert (drawn.sizes == 0).any() and (drawn.sizes == 6).any() and len(set(drawn.sizes.tolist())) > 4
    assert ((drawn.ids >= NUM_KEYS) & drawn.mask).sum() > 10  # pedals among the events
    assert ((taught[0] == JOIN) & (positions == 0)).any()  # joined the carry's note (within 25 ms of −4 ms)
    assert ((taught[0] == JOIN) & (positions > 0)).any()  # and a note drawn in the chunk


def test_the_sampler_draws_the_next_choice_the_key_and_the_start_at_the_heads_odds():
    torch.manual_seed(4)
    head = onset_head(max_events=3, carry=False)
    rows = 60000
    features = torch.randn(1, 8).expand(rows, 8)
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(0))
    key, start, _, _ = head.bins.to_bins(drawn)  # [R, N] classes each
    state = head.states(features[:1], (torch.zeros(1, 3, dtype=torch.long),) * 4, torch.zeros(1, dtype=torch.long))

    def distance(drawn_classes, p):  # total variation between drawn frequencies and odds p
        seen = torch.bincount(drawn_classes, minlength=p.shape[0]).float() / drawn_classes.numel()
        return float((seen - p).abs().sum() / 2)

    # the first event: nothing heard, so it starts an onset (or the chunk is empty)
    limit, earliest = torch.tensor([-1]), torch.tensor([0])
    first_next = head.choices(state[:, 0], None, next_mask=next_allowed(limit, earliest, 50))["next"].softmax(-1)[0]
    assert first_next[JOIN] == 0
    assert distance(torch.where(drawn.sizes > 0, ONSET, END), first_next.detach()) < 0.01
    odds = head.choices(state[:, 0], None, chosen=torch.tensor([ONSET]))["key"].softmax(-1)[0].detach()
    first_key = key[drawn.sizes > 0, 0]
    assert odds[STOP] == 0 and distance(first_key, odds) < 0.03
    k = int(first_key.mode().values)
    starts = start[(drawn.sizes > 0) & (key[:, 0] == k), 0]
    start_odds = head.choices(state[:, 0], torch.tensor([k]), chosen=torch.tensor([ONSET]),
                              start_mask=start_allowed(torch.tensor([ONSET]), limit, earliest, 50))["start"]
    assert distance(starts, start_odds.softmax(-1)[0].detach()) < 0.05
    # the second event after a note: it joins only within 25 ms of it
    second = drawn.sizes > 1
    joined = (start[second, 1] <= start[second, 0] + 5) & (key[second, 0] < NUM_KEYS)
    assert 0 < float(joined.float().mean()) < 1


@pytest.mark.parametrize("leans", [False, True])
def test_the_chunks_drawn_come_as_often_as_their_likelihood_says(leans):
    """Every distinct chunk a tiny head draws (at most two events, three keys, ten start bins; a note 20 ms before
    the chunk), counted over many draws, against exp(−nll) of it: the sampler draws exactly training's density;
    also where the key's leans hear the next choice (ar.onsets_leans)."""
    torch.manual_seed(0)
    head = EventHead(width=8, hidden=16, max_events=2, chunk_seconds=0.05, carry=True, voices=True, intervals=2,
                     tonal=True, onsets=True, onsets_leans=leans)
    with torch.no_grad():
        head.given["next"].weight.normal_(0, 3)
        head.voices.kernels.weight.normal_()
        head.intervals.kernel.normal_()
        head.out["next"][-1].bias.copy_(torch.tensor([0.5, 0.5, -0.5]))
        keys, last = torch.tensor([40, 41, 89]), head.out["key"][-1]  # two keys and the damper, nothing else …
        last.weight.copy_(torch.zeros_like(last.weight).index_copy(0, keys, 2 * torch.randn(3, 16)))
        last.bias.fill_(-40.0).index_fill_(0, keys, 0.0)
        last.bias[STOP] = 15.0  # … and a stop as likely as they are, which a head with onsets never draws as a key
        for name, only in (("duration", 10), ("intensity", 64)):
            head.out[name][-1].weight.zero_()
            head.out[name][-1].bias.zero_().index_fill_(0, torch.tensor([only]), 60.0)
        head.out["start"][-1].weight.mul_(5)
    rows = 100000
    features, carry = torch.randn(1, 8).expand(rows, 8), timed_carry(1, 5)
    carry.ago_s[:, 0], carry.ids[:, 0] = 0.02, 40
    carry = type(carry)(*(t.expand(rows, -1) for t in (carry.ids, carry.ago, carry.left, carry.intensity, carry.ago_s)))
    pitch_classes = (5 * torch.rand(1, 3, 12)).expand(rows, 3, 12)  # pitch classes heard in the 2 s, 8 s, 60 s before
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(0), carry=carry, tonal=pitch_classes)
    key, start, _, _ = head.bins.to_bins(drawn)  # [R, 2] each
    code = drawn.sizes * 10**8 + (torch.where(drawn.mask, key * 100 + start, 0) * torch.tensor([10**4, 1])).sum(1)
    outcomes, which, counts = torch.unique(code, return_inverse=True, return_counts=True)
    one = torch.zeros(len(outcomes), dtype=torch.long).scatter_(0, which, torch.arange(rows))  # one row of each
    chunks = SetBatch(drawn.ids[one], drawn.offset_s[one], drawn.duration_s[one], drawn.intensity[one],
                      drawn.sizes[one])
    held = type(carry)(*(t[one] for t in (carry.ids, carry.ago, carry.left, carry.intensity, carry.ago_s)))
    with torch.no_grad():
        likelihood = torch.exp(-head.nll(features[one], chunks, held, pitch_classes[one])).double()
    assert len(outcomes) > 30 and (chunks.sizes == 2).any()
    assert float(likelihood.sum()) > 0.999  # the chunks drawn are all but every chunk the density holds
    assert float((counts / rows - likelihood).abs().sum() / 2) < 0.02  # at their odds


def test_with_onsets_leans_the_keys_leans_hear_whether_the_note_joins():
    torch.manual_seed(2)
    state, rows, positions = torch.randn(4, 16), torch.arange(4), torch.zeros(4, dtype=torch.long)
    events = tuple(torch.randint(0, 40, (4, 3)) for _ in range(4))
    leans = {}
    for hears in (False, True):
        head = onset_head(carry=False)
        head.onsets_leans = hears  # (no intervals without a carry: the voices' lean alone)
        for chosen in (JOIN, ONSET):
            lean_state = head.lean_state(state, torch.full((4,), chosen))
            leans[hears, chosen], _ = head.key_bias((lean_state, rows, positions + 2), None, events,
                                                    torch.ones(4, 3, dtype=torch.bool), None, None)
    assert torch.equal(leans[False, JOIN], leans[False, ONSET])
    assert not torch.allclose(leans[True, JOIN], leans[True, ONSET])


def test_training_scores_the_keys_leans_with_the_choice_heard():
    torch.manual_seed(3)
    head, features, carry = onset_head(), torch.randn(50, 8), timed_carry(50, 5)
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(0), carry=carry)
    with torch.no_grad():
        plain = head.nll(features, drawn, carry)
        head.onsets_leans = True
        hearing = head.nll(features, drawn, carry)
    assert not torch.allclose(plain, hearing)


def test_onsets_leans_needs_onsets():
    from timestepmusic.config import Config
    with pytest.raises(ValueError, match="ar.onsets_leans"):
        Config().override({"ar.onsets_leans": True})


def test_a_chunk_out_of_time_order_is_refused_in_one_line():
    head = EventHead(width=8, hidden=16, max_events=4, chunk_seconds=0.25, onsets=True)
    sets = SetBatch(torch.tensor([[40, 42]]), torch.tensor([[0.1, 0.05]], dtype=torch.float64),
                    torch.full((1, 2), 0.1, dtype=torch.float64), torch.full((1, 2), 64), torch.tensor([2]))
    with pytest.raises(ValueError, match="time order"):
        head.nll(torch.zeros(1, 8), sets)


def test_the_added_choice_trains_at_its_own_learning_rate():
    from timestepmusic.config import Config
    from timestepmusic.sequence.events import EventAutoregressive

    config = Config().override({"ar.width": 16, "ar.layers": 1, "ar.heads": 2, "ar.head_hidden": 16, "ar.onsets": True,
                                "ar.onsets_lr_scale": 10.0, "ar.lr": 1e-4})
    arm = EventAutoregressive(config, latent=8, device=torch.device("cpu"))
    rest, own = arm.optimizers()["generator"].param_groups
    head = arm.generator.events
    assert {id(p) for p in own["params"]} == {id(p) for m in (head.given["next"], head.out["next"])
                                              for p in m.parameters()}
    assert own["lr_scale"] == 10.0 and len(rest["params"]) + 5 == len(list(arm.generator.parameters()))
