"""Relative pitch for the event head (`ar.intervals`): each key choice may lean towards keys at learned
intervals from notes it attends to — the notes the carry holds (struck just before the chunk) and those already
drawn in the chunk.

Why: the head hears the past as embeddings summed into its conditioning, from which "a step above the last note"
has to be decoded per absolute key; melodic lines drawn that way step by a tone or less too seldom (top-line steps
of at most 2 semitones: 25 % of steps against 34 % real, docs/quality.md). Here each of A heads attends over the
items (query: the GRU state; keys: the items' embeddings; a null item to attend to nothing) and adds to the logit
of key k the attended weight of each note p times a learned kernel at k − p. The kernels start at zero, so a head
warm-started with this is at first exactly the head it was.
Shapes: R rows, P (row, step) pairs, I items (null, carry, events of the chunk), A heads, D per-head width,
K = 88 keys. An empty carry slot is an item with a zero key and no note: it scores as the null item does.
"""
from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..midi import NUM_IDS, NUM_KEYS
from .carry import TIME_BINS, Carry

INTERVALS = 2 * NUM_KEYS - 1  # k − p from −87 to +87


@dataclass
class Items:
    """What the key choices of some rows may attend to: keys [R, I, A·D], notes [R, I, K] (one-hot; zero for a
    pedal, an empty carry slot or the null item) and the chunk position of each item [I] (−1: the null and the
    carry's, before every step)."""

    keys: torch.Tensor
    notes: torch.Tensor
    position: torch.Tensor


class IntervalPointer(nn.Module):
    def __init__(self, hidden: int, heads: int, max_events: int, duration_bins: int, carry: bool, width: int = 16):
        super().__init__()
        self.heads, self.width = heads, width
        size = heads * width
        self.query = nn.Linear(hidden, size)
        self.carry_embed = nn.ModuleDict({"ids": nn.Embedding(NUM_IDS + 1, size), "ago": nn.Embedding(TIME_BINS, size),
                                          "left": nn.Embedding(2 * TIME_BINS, size),
                                          "intensity": nn.Embedding(128, size)}) if carry else None
        self.event_embed = nn.ModuleDict({"key": nn.Embedding(NUM_IDS + 1, size),
                                          "position": nn.Embedding(max_events, size),
                                          "duration": nn.Embedding(duration_bins, size),
                                          "intensity": nn.Embedding(128, size)})
        self.null = nn.Parameter(torch.zeros(size))
        self.kernel = nn.Parameter(torch.zeros(heads, INTERVALS))  # the logit added at each interval k − p
        self.register_buffer("interval", torch.arange(NUM_KEYS)[None] - torch.arange(NUM_KEYS)[:, None]
                             + NUM_KEYS - 1, persistent=False)  # [p, k] → k − p + 87
        self.register_buffer("one_hot", torch.eye(NUM_IDS + 1, NUM_KEYS), persistent=False)  # [NUM_IDS + 1, K]: a
        # row per id, zero for a pedal or an empty slot (read event by event while sampling: no clamp first)

    def _notes(self, ids: torch.Tensor) -> torch.Tensor:
        """Ids [...] (0 … NUM_IDS) → one-hot keys [..., K] (zero for a pedal or an empty slot)."""
        return self.one_hot[ids]

    def _embed_events(self, key: torch.Tensor, position: torch.Tensor | int, duration: torch.Tensor,
                      intensity: torch.Tensor) -> torch.Tensor:
        """Events of the chunk (classes [...] each; `position` also one int for all) → their keys for the attention
        [..., A·D]."""
        embed = self.event_embed  # (each table read by its rows: what an Embedding does, with no module call)
        return (embed["key"].weight[key] + embed["position"].weight[position] + embed["duration"].weight[duration]
                + embed["intensity"].weight[intensity])

    def items(self, rows: int, carry: Carry | None, events: tuple[torch.Tensor, ...] | None = None) -> Items:
        """The null item, the carry's items [R, M] (if any) and the chunk's events (key, duration, intensity
        classes [R, N] each, at positions 0 … N − 1; padding past a chunk's size is never attended, as no step
        after it is scored)."""
        device = self.null.device
        keys = [self.null.expand(rows, 1, -1)]
        notes = [torch.zeros(rows, 1, NUM_KEYS, device=device)]
        position = [torch.full((1,), -1, device=device)]
        if self.carry_embed is not None:
            present = (carry.ids < NUM_IDS)[..., None]  # [R, M, 1]: an empty slot is an item with no key
            embedded = [table.weight[getattr(carry, name)] for name, table in self.carry_embed.items()]  # [R, M, A·D]
            keys.append(functools.reduce(operator.add, embedded) * present)
            notes.append(self._notes(carry.ids))
            position.append(torch.full((carry.ids.shape[1],), -1, device=device))
        if events is not None:
            key, duration, intensity = events
            where = torch.arange(key.shape[1], device=device)  # [N]
            keys.append(self._embed_events(key, where.expand_as(key), duration, intensity))
            notes.append(self._notes(key))
            position.append(where)
        return Items(torch.cat(keys, 1), torch.cat(notes, 1), torch.cat(position))

    def extend(self, items: Items, key: torch.Tensor, duration: torch.Tensor, intensity: torch.Tensor,
               position: int, embedded: torch.Tensor | None = None) -> Items:
        """`items` and one more event of the chunk per row (classes [R] each) at `position`; `embedded`: the event's
        key for the attention [R, A·D] where the caller has read it already (the sampler, with its other rows)."""
        if embedded is None:
            embedded = self._embed_events(key, position, duration, intensity)  # [R, A·D]
        notes = self.one_hot.index_select(0, key)  # [R, K]: _notes' rows, read in fewer instructions
        return Items(torch.cat([items.keys, embedded.unsqueeze(1)], 1), torch.cat([items.notes, notes.unsqueeze(1)], 1),
                     F.pad(items.position, (0, 1), value=position))

    def kernels(self) -> torch.Tensor:
        """The kernels as matrices [A, K (p, the key attended to), K (k, the key scored)]."""
        return self.kernel[:, self.interval]

    def forward(self, state: torch.Tensor, items: Items, rows: torch.Tensor | None = None,
                steps: torch.Tensor | None = None, kernels: torch.Tensor | None = None) -> torch.Tensor:
        """The change to the key logits [P, K] at GRU states [P, H] of `rows` [P] (default: row p for state p),
        each at chunk position `steps` [P] (default: after every item), which attends to the items before it;
        `kernels`: self.kernels(), when the caller keeps them (a sampler, per event)."""
        return self.attend(F.linear(state, self.query.weight, self.query.bias), items, rows, steps, kernels)

    def attend(self, query: torch.Tensor, items: Items, rows: torch.Tensor | None = None,
               steps: torch.Tensor | None = None, kernels: torch.Tensor | None = None) -> torch.Tensor:
        """The same from the queries [P, A·D] (self.query of the states: a sampler computes them in one product with
        its other layers)."""
        p = query.shape[0]
        query = query.view(p, self.heads, 1, self.width)  # [P, A, 1, D]
        keys = (items.keys if rows is None else items.keys[rows]).view(p, -1, self.heads, self.width)  # [P, I, A, D]
        scores = (query @ keys.permute(0, 2, 3, 1))[:, :, 0] / self.width ** 0.5  # [P, A, 1, I] → [P, A, I]
        if steps is not None:
            scores = scores.masked_fill((items.position[None] >= steps[:, None])[:, None], -torch.inf)
        notes = items.notes if rows is None else items.notes[rows]  # [P, I, K]
        attended = torch.bmm(scores.softmax(-1), notes)  # [P, A, K]: weight on each key struck
        kernels = self.kernels() if kernels is None else kernels  # [A, K, K]
        return attended.flatten(1) @ kernels.flatten(0, 1)  # [P, A·K] @ [A·K, K] → [P, K]: summed over heads
