"""ar.carry: the event head hears the events before each chunk — the same view in training and in sampling."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from timestepmusic.batches import ChunkGatherer, SetBatch
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.generation import GANModel
from timestepmusic.midi import DAMPER_ID, NUM_IDS, SOFT_ID, read_events
from timestepmusic.sequence.carry import RECENT, SLOTS, TIME_BINS, CarryGatherer, DrawnHistory, History, carry_items, time_bin
from timestepmusic.sequence.event_head import EventHead
from timestepmusic.train.sequence import train_sequence_model

from conftest import spy_on_event_sampler

TINY_CARRY = {"ar.context": 16, "ar.width": 16, "ar.layers": 1, "ar.heads": 2, "ar.batch": 4, "ar.head_hidden": 16,
              "ar.temperature": 1.0, "gan.steps": 8, "gan.validate_every": 4, "gan.sample_every": 0,
              "ar.carry": True}


def history(events: list[tuple[int, float, float, int]], rows: int = 1) -> History:
    """`rows` rows of the same history from (id, start_s, end_s, intensity) events."""
    ids, start, end, intensity = (torch.tensor([list(col)] * rows, dtype=d) for col, d in
                                  zip(zip(*events), (torch.long, torch.float64, torch.float64, torch.long)))
    return History(ids, start, end, intensity, torch.ones_like(ids, dtype=torch.bool))


def items(carry, row: int = 0) -> list[tuple[int, int, int, int]]:
    return sorted(zip(*(getattr(carry, f)[row].tolist() for f in ("ids", "ago", "left", "intensity"))))


def test_each_item_says_when_it_started_and_when_it_lifts():
    # a damper held 0.5–3.0 s, a note struck at 1.0 s and released at 1.5 s, a note still to come at 2.5 s
    past = history([(DAMPER_ID, 0.5, 3.0, 90), (40, 1.0, 1.5, 70), (44, 2.5, 2.6, 60)])
    carry = carry_items(past, torch.tensor([2.0], dtype=torch.float64))
    assert carry.ids.shape == (1, SLOTS)
    present = [i for i in items(carry) if i[0] != NUM_IDS]
    assert present == [(40, int(time_bin(torch.tensor(1.0))), TIME_BINS + int(time_bin(torch.tensor(0.5))), 70),
                       (DAMPER_ID, int(time_bin(torch.tensor(1.5))), int(time_bin(torch.tensor(1.0))), 90)]
    assert time_bin(torch.tensor(1.0)) != time_bin(torch.tensor(0.5))  # the bins tell these spans apart


def test_recent_events_first_and_then_the_latest_older_press_of_each_pedal():
    # a soft pedal pressed long ago, two damper presses, then more notes than RECENT
    events = [(SOFT_ID, 0.0, 9.0, 50), (DAMPER_ID, 0.1, 0.5, 60), (DAMPER_ID, 0.6, 9.0, 70)]
    events += [(30 + i, 1.0 + 0.1 * i, 1.05 + 0.1 * i, 40 + i) for i in range(RECENT + 3)]
    carry = carry_items(history(events), torch.tensor([5.0], dtype=torch.float64))
    got = items(carry)
    notes = [i for i in got if i[0] < DAMPER_ID]
    assert sorted(n[0] for n in notes) == list(range(33, 33 + RECENT))  # the last RECENT notes struck
    assert [(i[0], i[3]) for i in got if i[0] >= DAMPER_ID] == [(DAMPER_ID, 70), (SOFT_ID, 50), (NUM_IDS, 0)]


def test_training_and_sampling_hear_the_same_past(tiny_corpus):
    """The corpus's view of chunk k (training) and the view built by appending chunks 0 … k − 1 as sampling
    does agree (up to the order of events struck at the same instant)."""
    corpus = Corpus.open(tiny_corpus)
    gatherer = ChunkGatherer(corpus, max_events=64)  # no cap: sampling hears every event that was gathered
    chunks = int(np.diff(corpus.track_chunk_ptr)[0])
    track = torch.zeros(chunks, dtype=torch.long)
    trained = carry_items(*CarryGatherer(gatherer).history(track, torch.arange(chunks)))
    sets = gatherer.gather(track, torch.arange(chunks))
    drawn = DrawnHistory(1, corpus.chunk_seconds, torch.device("cpu"))
    heard = 0
    for k in range(chunks):
        sampled = drawn.carry()
        assert items(sampled) == items(trained, k), f"chunk {k}"
        timed = sorted(zip(sampled.ids[0].tolist(), sampled.ago_s[0].tolist()))  # exact times (ar.voices)
        assert np.allclose(timed, sorted(zip(trained.ids[k].tolist(), trained.ago_s[k].tolist())), atol=1e-6)
        heard += int((trained.ids[k] < NUM_IDS).sum())
        drawn.append(SetBatch(*(t[k:k + 1] for t in (sets.ids, sets.offset_s, sets.duration_s, sets.intensity,
                                                      sets.sizes))))
    assert heard > chunks * RECENT // 2  # the past is really heard, not empty slots


def test_a_carry_head_starts_as_the_head_without_it():
    torch.manual_seed(0)
    plain = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25)
    heard = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True)
    missing = heard.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("carry.") for k in missing)  # a warm start copies all the rest
    features = torch.randn(3, 8)
    sets = SetBatch(torch.tensor([[39, 88, 0]] * 3), torch.tensor([[0.01, 0.02, 0.0]] * 3, dtype=torch.float64),
                    torch.tensor([[0.3, 1.0, 0.0]] * 3, dtype=torch.float64), torch.tensor([[70, 90, 1]] * 3),
                    torch.tensor([2, 2, 0]))
    carry = carry_items(history([(DAMPER_ID, 0.0, 2.0, 90), (40, 0.5, 0.9, 60)], rows=3),
                        torch.full((3,), 1.0, dtype=torch.float64))
    assert torch.allclose(plain.nll(features, sets), heard.nll(features, sets, carry))
    with pytest.raises(ValueError, match="ar.carry"):
        heard.nll(features, sets)
    # once trained, what it hears changes its odds
    optimizer = torch.optim.Adam(heard.carry.parameters(), lr=1e-2)
    for _ in range(5):
        optimizer.zero_grad()
        heard.nll(features, sets, carry).sum().backward()
        optimizer.step()
    assert not torch.allclose(plain.nll(features, sets), heard.nll(features, sets, carry))


def test_a_carry_run_trains_samples_and_continues_a_prompt(tiny_corpus, tiny_ae, tmp_path, monkeypatch):
    run = tmp_path / "carry"
    train_sequence_model(tiny_corpus, tiny_ae, run, Config().override(TINY_CARRY), arch="events", progress=False)
    model = GANModel.load(run)
    assert model.arm.settings.carry and model.arm.generator.events.carry is not None
    (a, b) = model.sample(2, 2.0, seed=3)
    (again, _) = model.sample(2, 2.0, seed=3)
    assert np.array_equal(a.ids, again.ids) and np.array_equal(a.start_s, again.start_s)
    prompt, _ = read_events(next((tiny_corpus.parent / "midi").rglob("*.mid")))
    heard = []
    spy_on_event_sampler(monkeypatch, lambda arguments: heard.append(arguments["carry"]))
    (piece,) = model.sample(1, 2.0, seed=0, prompt=prompt)
    p = model.ae.encode_events(prompt)[0].shape[0]
    assert piece.start_s.max() < (p + 8) * 0.25 and len(piece) > 0
    assert len(heard) == 8 and (heard[0].ids < NUM_IDS).any()  # the first drawn chunk hears the prompt's end
    assert model.arm.history is None  # cleared after sampling
