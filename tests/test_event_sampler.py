"""The event sampler's tables and helpers (sequence/event_sampler.py, sampler_tables.py, sampler_draws.py): each
read or check in fewer operations gives exactly what the straightforward computation gives, so the draws stay the
same."""
from __future__ import annotations

import pytest
import torch

from timestepmusic.batches import SetBatch
from timestepmusic.sequence.event_head import DURATION_BINS, INTENSITIES, EventHead
from timestepmusic.sequence.event_sampler import EventSampler
from timestepmusic.sequence.sampler_draws import all_stopped, any_of, guided_mix, summed_rows, twice


@pytest.mark.parametrize("rows", [1, 2, 7])
def test_summed_rows_add_in_order(rows):
    """One read of C ≤ 4 rows per row and their sum over C is, bit for bit, the adds one after another (as the GRU's
    input and the pointer's keys were summed), at widths that are and are not multiples of the vector width, with
    magnitudes far apart."""
    g = torch.Generator().manual_seed(rows)
    for width in (7, 16, 24, 64, 100, 128):
        for choices in (2, 3, 4):
            for _ in range(20):
                table = torch.randn(40, width, generator=g) * torch.logspace(-3, 3, 40)[:, None]
                index = torch.randint(0, 40, (rows, choices), generator=g)
                straightforward = table[index[:, 0]]
                for c in range(1, choices):
                    straightforward = straightforward + table[index[:, c]]
                assert torch.equal(summed_rows(table, index.flatten(), rows), straightforward), (width, choices)


def test_the_event_tables_read_the_heads_embeddings():
    """read_rows gives the GRU's next input as the head's four embeddings summed in drawing order; pointer_rows the
    pointer's key of the event at each position as IntervalPointer._embed_events computes it (the start's rows
    zero); for notes, pedals and the clamped stop, every position."""
    torch.manual_seed(0)
    head = EventHead(width=8, hidden=16, max_events=6, chunk_seconds=0.25, carry=True, intervals=2)
    with torch.no_grad():
        for table in list(head.read.values()) + list(head.intervals.event_embed.values()):
            table.weight.copy_(torch.randn_like(table.weight))
    sampler, g, r = EventSampler(head), torch.Generator().manual_seed(1), 9
    for _ in range(20):
        event = torch.stack([torch.randint(0, 92, (r,), generator=g), torch.randint(0, head.bins.starts, (r,), generator=g),
                             torch.randint(0, DURATION_BINS, (r,), generator=g),
                             torch.randint(1, INTENSITIES, (r,), generator=g)], 1)  # [R, 4]
        rows = (event + sampler.read_offsets).view(-1)
        key, start, duration, intensity = event.unbind(1)
        read = head.read
        expected = read["key"].weight[key] + read["start"].weight[start] + read["duration"].weight[duration]
        assert torch.equal(summed_rows(sampler.read_rows, rows, r), expected + read["intensity"].weight[intensity])
        for position in range(head.max_events):
            assert torch.equal(summed_rows(sampler.pointer_rows[position], rows, r),
                               head.intervals._embed_events(key, position, duration, intensity))


def test_a_head_without_the_pointer_has_no_pointer_table():
    head = EventHead(width=8, hidden=16, max_events=4, chunk_seconds=0.25)
    assert EventSampler(head).pointer_rows is None


def test_the_checks_of_one_row_read_it_directly():
    going = torch.ones(1, dtype=torch.bool)
    assert not all_stopped(going, torch.tensor([2]), 4) and going.all()
    assert all_stopped(going, torch.tensor([4]), 4)
    going = torch.ones(3, dtype=torch.bool)
    assert not all_stopped(going, torch.tensor([4, 1, 4]), 4) and going.tolist() == [False, True, False]
    assert all_stopped(going, torch.tensor([0, 4, 2]), 4) and not going.any()
    going = torch.ones(2, dtype=torch.bool)  # one piece guided: its two halves, which choose alike
    assert not all_stopped(going, torch.tensor([2, 2]), 4, alone=True) and going.all()
    assert all_stopped(going, torch.tensor([4, 4]), 4, alone=True)
    for mask in ([True], [False], [False, True], [False, False]):
        assert any_of(torch.tensor(mask)) == any(mask)


def test_a_batchs_mask_is_found_once_from_its_sizes():
    sets = SetBatch(torch.zeros(3, 5, dtype=torch.long), torch.zeros(3, 5, dtype=torch.float64),
                    torch.zeros(3, 5, dtype=torch.float64), torch.ones(3, 5, dtype=torch.long), torch.tensor([0, 2, 5]))
    assert sets.mask.tolist() == [[False] * 5, [True, True, False, False, False], [True] * 5]
    assert sets.mask is sets.mask


def test_the_guided_mix_gives_the_bits_of_its_formula():
    """guided_mix in fewer operations (g = 1 unscaled, −inf found by isneginf): the same bits as untold + g × (told −
    untold) with −inf wherever either half is −inf, at every guidance the config allows (≥ 0), one for all or per
    column, and NaN (a logit gone wrong) still drawn where it was."""
    torch.manual_seed(0)
    told, untold = torch.randn(64, 91) * 4, torch.randn(64, 91) * 4
    told[torch.rand(64, 91) < 0.1] = -torch.inf
    untold[torch.rand(64, 91) < 0.1] = -torch.inf
    told[0, 3] = untold[0, 4] = torch.nan
    for g in (0.0, 1.0, 0.6, 2.0, torch.rand(91) * 3):
        formula = torch.where((told == -torch.inf) | (untold == -torch.inf), -torch.inf, untold + g * (told - untold))
        mixed = guided_mix(told, untold, g)
        assert torch.equal(mixed.view(torch.int32), formula.view(torch.int32)), g  # bit for bit, NaN included
        assert bool(mixed[told == -torch.inf].eq(-torch.inf).all() and mixed[untold == -torch.inf].eq(-torch.inf).all())
    assert twice(None) is None
    for x in (torch.tensor([3]), torch.randn(2, 5, 7)):
        assert torch.equal(twice(x), x.repeat(2, *[1] * (x.dim() - 1)))
