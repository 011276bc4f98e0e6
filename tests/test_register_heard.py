"""The register the key choices hear (ar.register, sequence/register_heard.py)."""
from __future__ import annotations

import pytest
import torch

from test_events_arm import TINY_EVENTS
from timestepmusic.batches import ChunkGatherer, SetBatch
from timestepmusic.config import Config
from timestepmusic.corpus import Corpus
from timestepmusic.midi import read_events
from timestepmusic.sequence.event_head import EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.register_guard import DrawnRegister
from timestepmusic.sequence.register_heard import HEARD, WINDOWS, RegisterGatherer, as_heard, drawn_heard
from timestepmusic.train.sequence import train_sequence_model

from conftest import heard_places, held_out_nll, spy_on_event_sampler


def random_sets(rows: int, events: int, seed: int) -> SetBatch:
    g = torch.Generator().manual_seed(seed)
    return SetBatch(torch.randint(0, 91, (rows, events), generator=g),
                    torch.rand(rows, events, generator=g, dtype=torch.float64).sort(1).values * 0.25,
                    torch.full((rows, events), 0.2, dtype=torch.float64), torch.full((rows, events), 64),
                    torch.randint(0, events + 1, (rows,), generator=g))


def random_heard(rows: int, seed: int) -> torch.Tensor:
    """Keys heard [R, V]: bounds of random registers, some pasts silent (NONE)."""
    g = torch.Generator().manual_seed(seed)
    low = torch.randint(0, 60, (rows, len(WINDOWS)), generator=g)
    high = low + torch.randint(0, 28, (rows, len(WINDOWS)), generator=g)
    silent = torch.rand(rows, 1, generator=g) < 0.2
    return as_heard(torch.where(silent, -torch.inf, high.float()), torch.where(silent, torch.inf, low.float()))


def test_the_keys_heard_are_each_windows_highest_and_lowest():
    drawn = DrawnRegister(1, max(WINDOWS), torch.device("cpu"))
    assert drawn_heard(drawn).tolist() == [[-1] * HEARD]  # nothing struck yet
    chunk = SetBatch(torch.tensor([[30, 88, 50]]), torch.zeros(1, 3, dtype=torch.float64),
                     torch.full((1, 3), 0.1, dtype=torch.float64), torch.full((1, 3), 64), torch.tensor([3]))
    drawn.append(chunk)  # 30 and 50 (the damper is no key) …
    silent = SetBatch(chunk.ids, chunk.offset_s, chunk.duration_s, chunk.intensity, torch.tensor([0]))
    for _ in range(WINDOWS[0]):
        drawn.append(silent)  # … then a silence as long as the short window
    assert drawn_heard(drawn).tolist() == [[-1, -1, 50, 30]]


def test_a_warm_start_is_the_head_it_started_from():
    torch.manual_seed(1)
    plain = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, voices=True)
    heard = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, voices=True, register=True)
    heard.load_state_dict(plain.state_dict(), strict=False)
    sets, features = random_sets(32, 6, 0), torch.randn(32, 8)
    assert torch.equal(plain.nll(features, sets), heard.nll(features, sets, register=random_heard(32, 1)))


def test_the_head_learns_where_the_register_lies_where_it_could_not_without():
    """Each chunk's note lies a tone above the highest key of its past's short window: learnable only from the
    keys heard (the features say nothing)."""
    def nll_of(net: EventHead, rows: int, seed: int) -> torch.Tensor:
        heard = random_heard(rows, seed)
        heard = torch.where(heard[:, :1] < 0, 40, heard)  # every past struck something here
        ids = (heard[:, 0] + 2).clamp(max=87)[:, None]  # [R, 1]
        sets = SetBatch(ids, torch.full((rows, 1), 0.01, dtype=torch.float64),
                        torch.full((rows, 1), 0.2, dtype=torch.float64), torch.full((rows, 1), 64),
                        torch.ones(rows, dtype=torch.long))
        return net.nll(torch.zeros(rows, 8), sets, register=heard if net.register is not None else None)
    final = {register: held_out_nll(nll_of, max_events=2, steps=60, register=register) for register in (False, True)}
    assert final[True] < final[False] - 1.5  # nats per chunk


def test_the_sampler_leans_each_key_as_training_scores(monkeypatch):
    """At every step of a draw the register's change to the key logits is the one training computes for the drawn
    chunk teacher-forced (events, then stops), with empty chunks, chunks at the cap and pedals among the notes."""
    from timestepmusic.sequence.voices import VoiceLean

    torch.manual_seed(0)
    head = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, register=True)
    with torch.no_grad():
        head.register.kernels.weight.copy_(torch.randn_like(head.register.kernels.weight))
        head.out["key"][-1].bias[-1] += 5.0  # chunks of many sizes, some empty
        head.out["key"][-1].bias[88:91] += 4.0  # pedals among the notes
    rows = 64
    features, heard = torch.randn(rows, 8), random_heard(rows, 2)
    leans, lean_of = [], VoiceLean.leaned  # (the keys heard as the lean read them, the lean), per event

    def spy(voice_lean, kernels, index, heard):  # a key not heard: places −1
        leans.append((heard_places(voice_lean, index, heard), lean_of(voice_lean, kernels, index, heard)))
        return leans[-1][1]
    monkeypatch.setattr(VoiceLean, "leaned", spy)
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(1), heard_register=heard)
    drawn_leans, leans = leans, []
    head.nll(features, drawn, register=heard)
    taught = leans
    monkeypatch.setattr(VoiceLean, "leaned", lean_of)
    assert (drawn.sizes == 0).any() and (drawn.sizes == 6).any()
    event_rows, positions = drawn.mask.nonzero(as_tuple=True)
    stop_rows = torch.nonzero(drawn.sizes < 6).squeeze(1)
    for step, (keys, lean) in enumerate(drawn_leans):
        at = positions == step
        assert torch.equal(keys[event_rows[at]], taught[0][0][at])
        torch.testing.assert_close(lean[event_rows[at]], taught[0][1][at], atol=1e-5, rtol=0)
        stopped = torch.isin(stop_rows, torch.nonzero(drawn.sizes == step).squeeze(1))
        assert torch.equal(keys[stop_rows[stopped]], taught[1][0][stopped])
        torch.testing.assert_close(lean[stop_rows[stopped]], taught[1][1][stopped], atol=1e-5, rtol=0)
    assert float(drawn_leans[0][1].abs().max()) > 0.1  # the lean did move the keys


def test_a_sampler_not_given_the_register_says_so_in_one_line():
    head = EventHead(width=8, hidden=16, max_events=2, chunk_seconds=0.25, register=True)
    try:
        EventSampler(head).sample(torch.randn(2, 8), torch.Generator().manual_seed(0))
    except ValueError as e:
        assert "ar.register" in str(e) and "\n" not in str(e)
    else:
        raise AssertionError("no error")


@pytest.mark.parametrize("chunk_seconds", [None, 0.1])
def test_training_and_sampling_hear_the_same_register(tiny_corpus, chunk_seconds):
    """The keys heard before each chunk of a track, read from the corpus (training) and gathered chunk by chunk as a
    sampler appends them (sampling), agree, also where a chunk holds more events than the cap; and with chunks of
    0.1 s and every event on a 50 ms grid, so that half of them start exactly on a chunk's boundary."""
    corpus = Corpus.open(tiny_corpus)
    gatherer = ChunkGatherer(corpus, max_events=2)
    if chunk_seconds is not None:
        gatherer.chunk_seconds = chunk_seconds
        gatherer.track_chunks = torch.ceil(gatherer.track_duration_s / chunk_seconds).long()
        gatherer.key = torch.round(gatherer.key * 20) / 20  # (a monotone rounding: still sorted)
    for track in range(corpus.num_tracks):
        training, drawn = RegisterGatherer(gatherer), DrawnRegister(1, max(WINDOWS), torch.device("cpu"))
        capped, moved = 0, 0
        for chunk in range(int(gatherer.track_chunks[track])):
            at, row = torch.tensor([chunk]), torch.tensor([track])
            expected = drawn_heard(drawn)
            assert torch.equal(training.heard(row, at), expected), (track, chunk)
            sets = gatherer.gather(row, at)
            capped += int(sets.sizes[0] == 2)
            drawn.append(sets)
            moved += int(not torch.equal(drawn_heard(drawn), expected))
        assert capped > 3 and moved > 10  # the cap mattered; the register moved along the track
    rows = training.heard(torch.tensor([0, 1]), torch.tensor([0, 0]))
    assert rows.tolist() == [[-1] * HEARD] * 2  # a track's first chunk hears nothing (not the track before)


def test_a_continued_prompt_is_heard_in_its_register(tiny_corpus, tiny_ae, tmp_path, monkeypatch):
    config = Config().override(TINY_EVENTS | {"ar.register": True, "gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "run", config, arch="events", progress=False)
    from timestepmusic.generation import GANModel

    model = GANModel.load(tmp_path / "run")
    prompt, _ = read_events(next((tiny_corpus.parent / "midi").rglob("*.mid")))
    _, sets = model.ae.encode_events(prompt)  # [P, N]: the prompt's chunks, capped as drawn ones are
    notes = sets.mask & (sets.ids < 88)  # [P, N]
    heard = []
    spy_on_event_sampler(monkeypatch, lambda arguments: heard.append(arguments["heard_register"].clone()))
    model.sample_latents(1, 1.0, seed=0, prompt=prompt)
    for window, span in enumerate(WINDOWS):  # before the first drawn chunk: the prompt's last `span` chunks
        keys = sets.ids[-span:][notes[-span:]]
        assert heard[0][0, 2 * window:2 * window + 2].tolist() == [int(keys.max()), int(keys.min())]


def test_the_guard_and_the_heard_register_read_their_own_windows_of_one_prompt(tiny_corpus, tiny_ae, tmp_path,
                                                                               monkeypatch):
    config = Config().override(TINY_EVENTS | {"ar.register": True, "gan.steps": 2, "ar.register_guard": 1.0,
                                              "ar.register_window_s": 3.0})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "run", config, arch="events", progress=False)
    from timestepmusic.generation import GANModel

    model = GANModel.load(tmp_path / "run")
    prompt, _ = read_events(next((tiny_corpus.parent / "midi").rglob("*.mid")))
    _, sets = model.ae.encode_events(prompt)  # [P, N]
    notes = sets.mask & (sets.ids < 88)  # [P, N]
    seen = []
    spy_on_event_sampler(monkeypatch, lambda arguments: seen.append(arguments))
    model.sample_latents(1, 1.0, seed=0, prompt=prompt)
    guard_span = round(3.0 / model.ae.chunk_seconds)  # chunks
    keys = sets.ids[-guard_span:][notes[-guard_span:]]
    assert keys.numel() and guard_span < max(WINDOWS)
    highest, lowest = seen[0]["register"]  # [1] each: the guard's window, not the head's longer ones
    assert (int(highest[0]), int(lowest[0])) == (int(keys.max()), int(keys.min()))
    longest = sets.ids[-max(WINDOWS):][notes[-max(WINDOWS):]]
    assert (longest.max(), longest.min()) != (keys.max(), keys.min())  # the windows tell apart here
    assert seen[0]["heard_register"][0, -2:].tolist() == [int(longest.max()), int(longest.min())]
