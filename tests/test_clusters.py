"""Fewer clusters in chords (ar.cluster_guard, sequence/clusters.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from timestepmusic.config import Config
from timestepmusic.sequence.carry import History, carry_items
from timestepmusic.sequence.clusters import join_bins, near_keys, onset_keys
from timestepmusic.sequence.event_head import EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.pulse import ONSETS

NONE = float("-inf")
FIELDS = ("ids", "offset_s", "duration_s", "intensity", "sizes")


def keys_of(mask: torch.Tensor) -> list[int]:
    return torch.nonzero(mask[0]).squeeze(1).tolist()


def test_the_onset_is_the_latest_note_and_those_chained_to_it_within_25_ms():
    # notes at −1 s (key 30), −30 ms (40), −10 ms (44) and 2.5 ms (47) and a pedal at 5 ms: the last three chain
    heard_s = torch.tensor([[-1.0, -0.03, -0.01, 0.0025, NONE]], dtype=torch.float64)
    ids = torch.tensor([[30, 40, 44, 47, 88]])
    assert keys_of(onset_keys(heard_s, ids)) == [40, 44, 47]
    assert keys_of(onset_keys(heard_s[:, [0, 3]], ids[:, [0, 3]])) == [47]  # a second apart: the latest alone
    assert keys_of(onset_keys(heard_s[:, :0], ids[:, :0])) == []  # nothing heard
    assert keys_of(onset_keys(torch.full((1, 2), NONE, dtype=torch.float64), ids[:, :2])) == []  # no note
    assert keys_of(near_keys(onset_keys(heard_s[:, [0, 3]], ids[:, [0, 3]]))) == [45, 46, 47, 48, 49]
    middles = (torch.arange(50, dtype=torch.float64) + 0.5) * 0.005
    assert torch.nonzero(join_bins(middles, torch.tensor([-0.005], dtype=torch.float64))[0]).squeeze(1).tolist() \
        == [0, 1, 2, 3]  # middles 2.5–17.5 ms: within 25 ms of the note 5 ms before the chunk


def chord_head(seed: int, carry: bool = False, near_join: bool = False) -> EventHead:
    """An untrained head that strikes keys 40–44 in chords: its start and key odds set by hand. With `near_join`,
    keys 40–44 start in the first 20 ms far more often than the others (the start depends on the key)."""
    torch.manual_seed(seed)
    head = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=carry)
    with torch.no_grad():
        head.out["start"][-1].weight.zero_()
        head.out["start"][-1].bias.zero_()
        if near_join:  # the start's first layer passes the key's embedding through; its unit 0 says "near"
            head.out["start"][0].weight.copy_(torch.eye(16))
            head.out["start"][0].bias.zero_()
            head.given["key"].weight[:, 0] = -3.0
            head.given["key"].weight[40:45, 0] = 3.0
            head.out["start"][-1].weight[:4, 0] = 1.0  # the first 4 bins (2.5–17.5 ms)
        else:
            head.out["start"][-1].bias[:2] += 4.0  # most starts in the first 10 ms: one onset
        head.out["key"][-1].weight.zero_()
        head.out["key"][-1].bias.zero_()
        head.out["key"][-1].bias[40:45] += 4.0  # keys 40–44 most often
        head.out["key"][-1].bias[88:] -= 3.0  # pedals and the stop seldom
    return head


def one_note_carry(keys: list[int], ago_s: list[float]):
    """One note heard before the chunk per piece: `keys[i]`, `ago_s[i]` seconds before it."""
    one = lambda values, dtype: torch.tensor(values, dtype=dtype)[:, None]  # noqa: E731
    rows = len(keys)
    history = History(one(keys, torch.long), one([-a for a in ago_s], torch.float64), one([0.3] * rows, torch.float64),
                      one([64] * rows, torch.long), torch.ones(rows, 1, dtype=torch.bool))
    return carry_items(history, torch.zeros(rows, dtype=torch.float64))


def first_notes(head: EventHead, features: torch.Tensor, carry, guidance: float,
                **setting: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Each piece's first event drawn with `setting` (a guard's strength) → for those that are notes, whether the key
    is one of 40–44 and its start (s), and the share of pieces whose first event is a note."""
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(1), carry=carry, guidance=guidance,
                                      **setting)
    note = (drawn.sizes > 0) & (drawn.ids[:, 0] < 88)
    key, start_s = drawn.ids[note, 0].numpy(), drawn.offset_s[note, 0].numpy()
    return (key >= 40) & (key <= 44), start_s, float(note.float().mean())


def clusters_in_chords(drawn) -> tuple[int, int]:
    """Neighbouring notes of a chord (chained within 25 ms) within 2 semitones, and all neighbouring pairs."""
    near = pairs = 0
    for row in range(drawn.ids.shape[0]):
        size = int(drawn.sizes[row])
        ids, start = drawn.ids[row, :size].numpy(), drawn.offset_s[row, :size].numpy()
        notes = ids < 88
        ids, start = ids[notes], start[notes]
        if len(ids) < 2:
            continue
        onset = np.cumsum(np.r_[True, np.diff(start) > 0.025])
        for o in np.unique(onset):
            keys = np.sort(ids[onset == o])
            near, pairs = near + int((np.diff(keys) <= 2).sum()), pairs + len(keys) - 1
    return near, pairs


def test_without_the_guard_the_sampler_draws_as_before_it():
    # pinned from the sampler of commit 6c37dbc (the twenty-second session's, before the guard), echo and biases on
    torch.manual_seed(5)
    head = EventHead(width=8, hidden=16, max_events=5, chunk_seconds=0.25, carry=False)
    features = torch.randn(3, 8, generator=torch.Generator().manual_seed(2))
    beat = torch.tensor([[-0.2, -0.5, -0.8, -1.1] + [NONE] * (ONSETS - 4)], dtype=torch.float64).expand(3, -1)
    drawn = EventSampler(head).sample(features, torch.Generator().manual_seed(0), start_temperature=0.6,
                                      stop_bias=0.3, onsets=(beat, beat[:, 0]), beat_echo=3.0, cluster_guard=0.0)
    assert drawn.ids.tolist() == [[53, 49, 7, 60, 36], [64, 0, 0, 0, 0], [71, 23, 63, 46, 49]]
    assert (drawn.offset_s / 0.005).floor().long().tolist() == [[22] * 5, [22, 0, 0, 0, 0], [22, 22, 22, 26, 26]]
    assert drawn.sizes.tolist() == [5, 1, 5]


def test_a_pieces_draws_do_not_depend_on_whether_another_pieces_note_was_revoiced():
    head = chord_head(3, carry=True)

    def draw(first_heard: int, seed: int):
        """Two pieces; the second heard a note far from the chord's keys 5 ms before the chunk, the first this one."""
        carry = one_note_carry([first_heard, 80], [0.005] * 2)
        return EventSampler(head).sample(torch.zeros(2, 8), torch.Generator().manual_seed(seed), carry=carry,
                                         cluster_guard=1.5)
    for seed in range(8):  # the first piece's first note joins a note near it (often re-voiced) or one far from it
        near, far = draw(42, seed), draw(80, seed)
        assert all(torch.equal(getattr(near, f)[1:], getattr(far, f)[1:]) for f in FIELDS)


def test_with_the_guard_chords_hold_no_clusters():
    head = chord_head(3)
    features = torch.randn(400, 8)
    plain = EventSampler(head).sample(features, torch.Generator().manual_seed(0))
    guarded = EventSampler(head).sample(features, torch.Generator().manual_seed(0), cluster_guard=30.0)
    near, pairs = clusters_in_chords(plain)
    assert pairs > 300 and near / pairs > 0.5  # the head strikes 40–44 together
    near, pairs = clusters_in_chords(guarded)
    assert pairs > 100 and near == 0  # chords still, none with a second in it
    assert guarded.sizes.float().mean() > 0.95 * plain.sizes.float().mean()  # the notes re-voiced, not dropped


@pytest.mark.parametrize("guidance, key_guidance", [(1.0, None), (6.0, None), (6.0, 2.0)])
def test_the_guard_weighs_the_near_keys_among_the_notes_that_join_exactly(guidance, key_guidance):
    # one note 5 ms before the chunk (key 42): a first note joins its onset if it starts within 17.5 ms; guided,
    # each choice is drawn from the untold logits + 6 × (told − untold): the chance of joining is the mixed odds' (a
    # guard that weighed each half by its own drew the near keys among those that join at 0.446 against 0.353 here);
    # with ar.key_guidance 2 the key (drawn or drawn again) is mixed at 2 and its start still at 6
    head, rows = chord_head(4, carry=True, near_join=True), 20000
    carry = one_note_carry([42] * rows, [0.005] * rows)
    g = torch.Generator().manual_seed(0)
    told, untold = torch.randn(1, 8, generator=g) * 2, torch.randn(1, 8, generator=g) * 2
    features = told.expand(rows, 8) if guidance == 1.0 else torch.cat([told.expand(rows, 8), untold.expand(rows, 8)])

    def joining(strength: float) -> tuple[np.ndarray, np.ndarray, float]:
        near, start_s, notes = first_notes(head, features, carry, guidance, cluster_guard=strength,
                                           key_guidance=key_guidance)
        return near, start_s < 0.02, notes  # near 42; joins; notes
    near, joins, notes = joining(0.0)
    q = near[joins].mean()  # the near keys' share among the notes that join
    assert 0.05 < joins.mean() < 0.9 and 0.3 < q < 0.99  # both outcomes seen, so the test can fail
    if guidance == 1.0:
        assert joins[near].mean() > joins[~near].mean() + 0.3  # a near key joins far more often: a redraw must know it
    w = math.exp(-1.5)
    near_g, joins_g, notes_g = joining(1.5)
    assert abs(notes_g - notes) < 0.015  # a note as often: the kind choice is the network's
    assert abs(joins_g.mean() - joins.mean()) < 0.02  # as many notes join the chord …
    assert abs(near_g[joins_g].mean() - q * w / (q * w + 1 - q)) < 0.03  # … the near keys among them weighed by w
    assert abs(near_g[~joins_g].mean() - near[~joins].mean()) < 0.03  # the notes that do not join: as drawn


def test_the_guard_is_a_checked_sampling_setting():
    assert Config().override(["ar.cluster_guard=2.5"]).ar.cluster_guard == 2.5
    for bad in ("-1", "inf", "nan"):
        with pytest.raises(ValueError, match="ar.cluster_guard"):
            Config().override([f"ar.cluster_guard={bad}"])
