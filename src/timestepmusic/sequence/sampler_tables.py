"""The tables an EventSampler (sequence/event_sampler.py) draws with, prepared once per sample from an event head's
weights, moved out of it as they were: each choice's first layer stacked with those the key's leans read the state
through, each choice's embedding through every later choice's first layer, the drawn event's rows of the GRU's next
input and of the pointer's key, and the masks and rows the guards read (see event_sampler's docstring for why).
Shapes: N events per chunk (max_events), H head width, C choices per event, E the key's leans' outputs, A the
pointer's heads, S start bins, B duration bins; K + S + D + I: the rows of the key's, start's, duration's and
intensity's classes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..midi import NUM_IDS, NUM_KEYS
from .clusters import near_keys
from .event_head import DURATION_BINS, INTENSITIES, EventHead, duration_s_at
from .onsets import NEXT_CLASSES
from .steps import away_from

CHOICES = ("key", "start", "duration", "intensity")  # in the order each event is drawn
KINDS = 1 + NUM_IDS - NUM_KEYS + 1  # a note, each pedal, the stop


class SamplerTables:
    """An event head's weights arranged for drawing (see event_sampler's docstring); EventSampler draws from them."""

    @torch.no_grad()
    def __init__(self, head: EventHead, in_bins: bool = False):
        self.head, self.in_bins = head, in_bins  # in_bins: each start and duration placed inside its bin (ar.in_bins)
        self.order = ("next",) + CHOICES if head.onsets else CHOICES  # with ar.onsets: join, onset or end first
        out = head.out  # each: Linear(H, H), GELU, Linear(H, classes)
        # the key's leans read the state through a linear layer each: the pointer's query, the voices' kernels, the
        # register's (those the head has)
        leans = {name: layer for name, layer in (("query", head.intervals.query if head.intervals else None),
                                                 ("voices", head.voices.kernels if head.voices else None),
                                                 ("register", head.register.kernels if head.register else None))
                 if layer is not None}
        firsts = [out[name][0] for name in self.order] + list(leans.values())
        self.first_weight = torch.cat([layer.weight for layer in firsts])  # [C·H + E, H], C choices, E lean outputs
        self.first_bias = torch.cat([layer.bias for layer in firsts])  # [C·H + E]
        self.first_names = self.order + tuple(leans)
        self.first_widths = [layer.out_features for layer in firsts]
        self.second = {name: (out[name][2].weight, out[name][2].bias) for name in self.order}
        never = torch.zeros(INTENSITIES, device=self.first_bias.device)
        never[0] = -torch.inf  # intensity 0 is not a strike (classes are 1–127)
        self.second["intensity"] = (self.second["intensity"][0], self.second["intensity"][1] + never)
        # a choice's embedding (head.given) as each later choice's first layer reads it: [classes, H] each
        self.through = {(given, later): F.linear(head.given[given].weight, out[later][0].weight)
                        for i, given in enumerate(self.order[:-1]) for later in self.order[i + 1:]}
        # with ar.onsets_leans, the next choice's embedding added to the state the key's leans read: through their
        # layers, [3, E]
        self.lean_given = None
        if head.onsets_leans and leans:
            self.lean_given = F.linear(head.given["next"].weight, torch.cat([layer.weight for layer in leans.values()]))
        # the event's four choices as rows of one table (each choice's rows after the one before's: `read_offsets`),
        # so that one read of the drawn event's rows [R·4] gives the GRU's next input, the sum of their embeddings
        # in drawing order [R, H] (summed_rows) …
        read = [head.read[name].weight for name in CHOICES]  # [classes, H] each
        self.read_rows = torch.cat(read)  # [K + S + D + I, H]
        self.read_offsets = torch.tensor([0] + [len(x) for x in read[:-1]], device=self.first_bias.device).cumsum(0)
        # … and with ar.intervals the pointer's key of the event at each position: the key's and the position's
        # embeddings summed, then the duration's and the intensity's; the start's rows zero (it reads no start)
        # [N, K + S + D + I, A·D]
        self.pointer_rows = None
        if head.intervals is not None:
            embed = head.intervals.event_embed
            key_at = embed["key"].weight[None] + embed["position"].weight[:, None]  # [N, K, A·D]
            rows = [key_at, torch.zeros(len(read[1]), key_at.shape[-1], device=key_at.device),
                    embed["duration"].weight, embed["intensity"].weight]
            if [len(x) for x in rows[1:]] != [len(x) for x in read[1:]] or key_at.shape[1] != len(read[0]):
                raise ValueError("the pointer's event embeddings do not match the head's choices")
            self.pointer_rows = torch.cat([x.expand(key_at.shape[0], -1, -1) for x in rows], dim=1)
        gru = head.gru
        self.gru = (gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
        self.log_durations = duration_s_at(torch.arange(DURATION_BINS)).log().float().to(self.first_bias.device)  # [B]
        self.start_bins = torch.arange(head.bins.starts, device=self.first_bias.device)
        self.before_bin = self.start_bins[None] < self.start_bins[:, None]  # [S, S]: row e, the bins before bin e
        self.start_middles_s = head.bins.start_middle_s(self.start_bins)  # [S] float64: ar.beat_echo, the guard
        self.keys = torch.arange(NUM_KEYS, device=self.first_bias.device)[None]  # [1, 88], for ar.cluster_guard
        # ar.step_lean: the keys away from each note before, a row per key before and one (the first) for none [89, 88]
        self.away = away_from(torch.arange(-1, NUM_KEYS, device=self.first_bias.device), self.keys)
        # ar.cluster_guard: the keys near each key, a row per key [88, 88] (bool): near_keys of the onset grows by a
        # row per note that joins it (near_keys of a union is the union of theirs)
        self.near_each = near_keys(torch.eye(NUM_KEYS, dtype=torch.bool, device=self.first_bias.device))
        # with ar.intervals, the pointer's kernels as matrices [A, 88, 88]: the same for every chunk of a sample
        self.kernels = head.intervals.kernels() if head.intervals is not None else None
        # each kind's id (a note's is its key's, drawn apart), the stop's clamped: a row that has stopped draws on unseen
        self.kind_ids = torch.tensor([0, *range(NUM_KEYS, NUM_IDS), NUM_IDS - 1], device=self.first_bias.device)
        self.noise_widths = ((NEXT_CLASSES,) if head.onsets else ()) + (KINDS, NUM_KEYS, head.bins.starts,
                                                                         DURATION_BINS, INTENSITIES)
