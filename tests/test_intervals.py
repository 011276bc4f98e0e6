"""Relative pitch for the event head (ar.intervals, sequence/intervals.py)."""
from __future__ import annotations

import torch

from test_events_arm import TINY_EVENTS
from timestepmusic.batches import SetBatch
from timestepmusic.config import Config
from timestepmusic.sequence.carry import Carry
from timestepmusic.sequence.event_head import EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.intervals import IntervalPointer
from timestepmusic.train.sequence import train_sequence_model

from conftest import assert_same_weights, held_out_nll


def random_carry(rows: int, seed: int) -> Carry:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 92, (rows, 5), generator=g)  # notes, pedals and empty slots (91: none)
    return Carry(ids, torch.randint(0, 96, (rows, 5), generator=g), torch.randint(0, 192, (rows, 5), generator=g),
                 torch.randint(1, 128, (rows, 5), generator=g))


def stepping_chunks(rows: int, seed: int) -> SetBatch:
    """Chunks of a note and the note a whole tone above it, the first anywhere in the middle of the keyboard."""
    first = torch.randint(20, 60, (rows,), generator=torch.Generator().manual_seed(seed))
    ids = torch.stack([first, first + 2], 1)  # [R, 2]
    offsets = torch.tensor([0.01, 0.1], dtype=torch.float64).expand(rows, 2)
    return SetBatch(ids, offsets, torch.full((rows, 2), 0.2, dtype=torch.float64), torch.full((rows, 2), 64),
                    torch.full((rows,), 2))


def test_a_warm_start_is_the_head_it_started_from():
    torch.manual_seed(1)
    plain = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True)
    with_intervals = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True, intervals=2)
    with_intervals.load_state_dict(plain.state_dict(), strict=False)
    sets, carry, features = stepping_chunks(32, 0), random_carry(32, 0), torch.randn(32, 8)
    assert torch.equal(plain.nll(features, sets, carry), with_intervals.nll(features, sets, carry))


def test_intervals_learn_a_step_from_the_note_before_that_absolute_keys_learn_slowly():
    """The second note of each chunk is a tone above the first: a relative step, one kernel weight away, where
    a head without intervals must learn it key by key."""
    final = {heads: held_out_nll(lambda net, rows, seed: net.nll(torch.zeros(rows, 8), stepping_chunks(rows, seed)),
                                 max_events=4, steps=60, intervals=heads) for heads in (0, 2)}
    assert final[2] < final[0] - 1.5  # nats per chunk, after 60 steps (7.3 against 5.2 when written; floor ln 40)


def test_the_sampler_draws_the_second_key_at_the_heads_odds_after_the_first():
    torch.manual_seed(3)
    head = EventHead(width=8, hidden=16, max_events=3, chunk_seconds=0.25, carry=True, intervals=2)
    with torch.no_grad():
        head.intervals.kernel.copy_(3 * torch.randn_like(head.intervals.kernel))  # intervals that matter
        head.out["key"][-1].bias[-1] -= 3  # seldom an empty chunk
        for name, likely in (("key", 40), ("start", 0), ("duration", 0), ("intensity", 64)):  # one likely event
            head.out[name][-1].bias[likely] += 6
    rows = 60000
    features, carry = torch.randn(1, 8).expand(rows, 8), random_carry(1, 2)
    carry = Carry(*(x.expand(rows, -1) for x in (carry.ids, carry.ago, carry.left, carry.intensity)))
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(0), carry=carry)
    key, start, duration, intensity = head.bins.to_bins(drawn)  # [R, N] classes each
    first = (key[:, 0], start[:, 0], duration[:, 0], intensity[:, 0])
    after, likeliest = drawn.sizes > 0, []
    for x in first:  # the likeliest first event: its modal key, then the modal start after that key, …
        likeliest.append(int(x[after].mode().values))
        after = after & (x == likeliest[-1])
    second = torch.where(drawn.sizes[after] > 1, key[after, 1], 91)
    # the head's own odds after that event, as training scores it (the pointer attending to it and the carry)
    one = tuple(torch.tensor([[v, 0, 0]]) for v in likeliest)
    carry_one = Carry(*(x[:1] for x in (carry.ids, carry.ago, carry.left, carry.intensity)))
    state = head.states(features[:1], one, torch.ones(1, dtype=torch.long), carry_one)[:, 1]
    items = head.intervals.items(1, carry_one, (one[0], one[2], one[3]))
    bias = head.intervals(state, items, torch.zeros(1, dtype=torch.long), torch.ones(1, dtype=torch.long))
    odds = head.choices(state, None, key_bias=bias)["key"].softmax(-1)[0].detach()
    seen = torch.bincount(second, minlength=odds.shape[0]).float() / second.numel()
    assert second.numel() > 3000 and 0.5 * float((seen - odds).abs().sum()) < 0.05


def test_an_events_run_with_intervals_tonal_style_and_voices_trains_resumes_exactly_and_samples(tiny_corpus, tiny_ae,
                                                                                                 tmp_path):
    config = Config().override(TINY_EVENTS | {"ar.carry": True, "ar.intervals": 2, "ar.tonal": True, "ar.style": True,
                                              "ar.voices": True,
                                              "gan.steps": 10, "gan.validate_every": 5})
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train_sequence_model(tiny_corpus, tiny_ae, straight, config, arch="events", progress=False)
    train_sequence_model(tiny_corpus, tiny_ae, resumed, config, arch="events", progress=False, max_steps=5)
    train_sequence_model(tiny_corpus, None, resumed, resume=True, progress=False)
    assert_same_weights(straight, resumed)
    from timestepmusic.generation import GANModel

    model = GANModel.load(straight)
    assert model.arm.generator.events.intervals is not None and model.arm.generator.events.tonal is not None
    assert model.arm.generator.style is not None and model.arm.generator.events.voices is not None
    assert len(model.sample_latents(2, 2.0, seed=1)) == 2


def test_sampling_attends_exactly_as_training_scores(monkeypatch):
    """At every step of a draw, the pointer's query (of the GRU state) and its change to the key logits are those
    that training computes for the drawn chunk teacher-forced: all steps at once, a step seeing the chunk's events
    before it."""
    torch.manual_seed(0)
    head = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True, intervals=3)
    with torch.no_grad():
        head.intervals.kernel.copy_(3 * torch.randn_like(head.intervals.kernel))
        head.out["key"][-1].bias[-1] += 2.0  # chunks of many sizes, some empty
    rows = 64
    features, carry = torch.randn(rows, 8), random_carry(rows, 5)
    seen, attend = [], IntervalPointer.attend

    def spy(pointer, query, *args, **kwargs):
        seen.append((query.clone(), attend(pointer, query, *args, **kwargs)))
        return seen[-1][1]
    monkeypatch.setattr(IntervalPointer, "attend", spy)
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(1), carry=carry)
    monkeypatch.setattr(IntervalPointer, "attend", attend)
    assert len(set(drawn.sizes.tolist())) > 3
    key, start, duration, intensity = head.bins.to_bins(drawn)  # [R, N] each
    states = head.states(features, (key, start, duration, intensity), drawn.sizes, carry)  # [R, N + 1, H]
    items = head.intervals.items(rows, carry, (key, duration, intensity))
    for step, (query, bias) in enumerate(seen):
        scored = torch.nonzero(drawn.sizes >= step).squeeze(1)  # rows whose event or stop is at this step
        assert torch.allclose(query[scored], head.intervals.query(states[scored, step]), atol=1e-5)
        taught = head.intervals(states[scored, step], items, scored, torch.full_like(scored, step))
        assert torch.allclose(bias[scored], taught, atol=1e-5)

