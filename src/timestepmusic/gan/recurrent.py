"""Recurrent attention generator and masked critic over variable-length sequences of chunk latents;
the generator samples whole pieces, each ending when its end probability fires (sequence/recurrent_gan.py
trains them).

Shapes: B sequences, T chunks (steps), L latent, Z sequence noise, S step noise, H hidden,
A attention size, D critic width, F critic features (2·D), nh heads.

Generator: h₀ = tanh(W z); at step t a GRU cell reads the previous (standardised) latent and fresh
step noise, a single-head dot-product attention from h_t over the keys/values of h_1 … h_t (causal:
its own past) gives a context c_t, and [h_t, c_t] → the latent y_t and an end-of-track logit.
Sampling keeps a cache (the GRU state and the keys/values so far), so each step costs one cell,
one key/value projection and one attention read over t cached rows.
Critic: (latent ‖ end marker) per step → masked self-attention blocks (LayerNorm, which is per sample
and per step, so the per-sample gradient penalty stays valid; no batch norm) → masked mean and the
last valid step → features [F] → score. Padded steps never reach a valid one.
Ends are learned by likelihood, like a stop token (Shen et al. 2018, https://arxiv.org/abs/1712.05884):
the end head, run teacher-forced over real sequences, is fitted to their end markers; free-running
ends are sampled (hard 0/1, as in real data) and shown to the critic, so the adversarial loss shapes
what leads up to an end, not how often one fires (left adversarial, an early end was an easy escape
from the critic: a one-chunk piece has little to judge). Teacher forcing alone never shows the head
the generator's own output, where it fired far too often (frozen autoencoder: a median piece of 5 s);
so the head is also pulled, on free-running sequences, towards the real per-step hazard
(`rnn.free_end_weight`, docs/comparison.md).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..ragged import positions_in_groups
from .conv import MinibatchStd


class KVCache:
    """Keys and values [B, t, A] of the steps so far. With `capacity`: preallocated buffers written in
    place (sampling, no autograd). Without: grown by concatenation, so autograd keeps every step."""

    def __init__(self, batch: int, size: int, capacity: int | None = None, device=None):
        self.length = 0
        self.preallocated = capacity is not None
        rows = capacity if capacity is not None else 0
        self.k = torch.zeros(batch, rows, size, device=device)  # [B, capacity or t, A]
        self.v = torch.zeros(batch, rows, size, device=device)

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add one step's k, v [B, A]; return all keys and values so far [B, t, A]."""
        if self.preallocated:
            self.k[:, self.length] = k
            self.v[:, self.length] = v
        else:
            self.k = torch.cat([self.k, k[:, None]], 1)
            self.v = torch.cat([self.v, v[:, None]], 1)
        self.length += 1
        return self.k[:, :self.length], self.v[:, :self.length]


class RecurrentGenerator(nn.Module):
    def __init__(self, *, latent: int = 20, noise: int = 50, step_noise: int = 16, hidden: int = 256,
                 attention: int = 64):
        super().__init__()
        self.latent, self.noise, self.step_noise = latent, noise, step_noise
        self.hidden, self.attention = hidden, attention
        self.start = nn.Parameter(torch.zeros(latent))  # the "previous latent" of the first step
        self.init = nn.Linear(noise, hidden)
        self.cell = nn.GRUCell(latent + step_noise, hidden)
        self.query, self.key, self.value = (nn.Linear(hidden, attention) for _ in range(3))
        self.out = nn.Sequential(nn.Linear(hidden + attention, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, latent))
        self.end = nn.Linear(hidden + attention, 1)  # end-of-track logit
        nn.init.constant_(self.end.bias, -4.0)  # rare (p ≈ 0.02 per step); the trainer sets the real hazard

    def begin(self, z: torch.Tensor, cache_capacity: int | None = None) -> tuple[torch.Tensor, torch.Tensor, KVCache]:
        """z [B, Z] → the first input [B, L], h₀ [B, H] and an empty cache."""
        b = z.shape[0]
        return (self.start.expand(b, -1), torch.tanh(self.init(z)),
                KVCache(b, self.attention, cache_capacity, z.device))

    def step(self, y_prev: torch.Tensor, noise: torch.Tensor, h: torch.Tensor, cache: KVCache):
        """y_prev [B, L], noise [B, S], h [B, H] → latent [B, L], end logit [B], new h [B, H]."""
        h = self.cell(torch.cat([y_prev, noise], -1), h)
        keys, values = cache.append(self.key(h), self.value(h))  # [B, t, A]
        context = self.read(self.query(h), keys, values)  # [B, A]
        o = torch.cat([h, context], -1)  # [B, H + A]
        return self.out(o), self.end(o).squeeze(-1), h

    def read(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Single-head dot-product attention: q [B, A] over keys, values [B, t, A] → [B, A]."""
        weights = torch.softmax((keys @ q[:, :, None]).squeeze(-1) / math.sqrt(self.attention), -1)  # [B, t]
        return (weights[:, None] @ values).squeeze(1)

    def forward(self, z: torch.Tensor, noise: torch.Tensor,
                teacher: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Batched over B: z [B, Z], step noise [B, T, S] → latents [B, T, L], end logits [B, T].
        Free-running, or with `teacher` [B, T, L] teacher-forced: step t reads teacher[:, t − 1]."""
        y, h, cache = self.begin(z)
        latents, ends = [], []
        for t in range(noise.shape[1]):
            if teacher is not None and t > 0:
                y = teacher[:, t - 1]
            y, end, h = self.step(y, noise[:, t], h, cache)
            latents.append(y)
            ends.append(end)
        return torch.stack(latents, 1), torch.stack(ends, 1)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, noise: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Step by step with the cache, stopping a piece at the first step whose end fires (u < p).

        z [B, Z], noise [B, T, S], u [B, T] uniform → latents [B, T, L] (zero after each end) and
        lengths [B] (chunks, the ending chunk included; T when no end fired)."""
        b, steps = noise.shape[:2]
        y, h, cache = self.begin(z, cache_capacity=steps)
        out = z.new_zeros(b, steps, self.latent)
        lengths = torch.full((b,), steps, dtype=torch.long, device=z.device)
        alive = torch.ones(b, dtype=torch.bool, device=z.device)
        for t in range(steps):
            y, end, h = self.step(y, noise[:, t], h, cache)
            out[:, t] = y * alive[:, None]
            fired = alive & (u[:, t] < torch.sigmoid(end))
            lengths[fired] = t + 1
            alive &= ~fired
            if not alive.any():
                break
        return out, lengths

    def sizes_of(self) -> dict:
        return {"latent": self.latent, "noise": self.noise, "step_noise": self.step_noise, "hidden": self.hidden,
                "attention": self.attention}


@torch.no_grad()
def sampled_ends(end_logits: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """End logits [B, T] and uniforms u [B, T] → end marker [B, T] (1 at the first step that fires)
    and mask [B, T] (1 up to and including it), both 0/1 floats, as sample() stops."""
    fired = (u < torch.sigmoid(end_logits)).float()  # [B, T]
    survive = torch.cumprod(1 - fired, 1)  # [B, T]: not ended at or before t
    mask = torch.cat([torch.ones_like(survive[:, :1]), survive[:, :-1]], 1)  # not ended before t
    return fired * mask, mask


def end_loss(end_logits: torch.Tensor, end: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor,
             total: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy of teacher-forced end logits [B, T] against real end markers [B, T], over
    the valid steps (mask [B, T]), each sequence weighted by weight [B]; a mean per weighted step.
    `total`: the weighted step count of the global batch when this is one rank's slice of it."""
    w = mask * weight[:, None]  # [B, T]
    bce = nn.functional.binary_cross_entropy_with_logits(end_logits, end, reduction="none")
    return (bce * w).sum() / (w.sum() if total is None else total).clamp_min(1e-12)


def free_end_loss(end_logits: torch.Tensor, hazard: float) -> torch.Tensor:
    """Binary cross-entropy of free-running end logits [B, T] against the constant per-step end hazard of
    real data, a mean over every step: the teacher-forced head never sees the generator's own output,
    and without this it may fire there far more often than real pieces end."""
    return nn.functional.binary_cross_entropy_with_logits(end_logits, torch.full_like(end_logits, hazard))


class _Block(nn.Module):
    """Pre-norm masked multi-head self-attention + MLP, written out so double backward (the penalty) works."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.LeakyReLU(0.2), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """x [B, T, D], valid [B, T] bool → [B, T, D]."""
        b, t, d = x.shape
        qkv = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, d // self.heads)  # [B, T, 3, nh, D/nh]
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [B, nh, T, D/nh]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.heads)  # [B, nh, T, T]
        scores = scores.masked_fill(~valid[:, None, None, :], -torch.inf)
        attended = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(b, t, d)  # [B, T, D]
        x = x + self.proj(attended)
        return x + self.mlp(self.norm2(x))


class SequenceCritic(nn.Module):
    def __init__(self, *, latent: int = 20, width: int = 128, layers: int = 2, heads: int = 4, max_chunks: int = 64,
                 minibatch_group: int = 0):
        """minibatch_group > 0: the score also reads how much the pooled features vary across each group of
        that many consecutive sequences (gan.conv.MinibatchStd); 0: the critic as first written."""
        super().__init__()
        if width % heads:
            raise ValueError(f"critic width {width} is not a multiple of its {heads} heads")
        self.latent, self.width, self.layers, self.heads, self.max_chunks = latent, width, layers, heads, max_chunks
        self.minibatch_group = minibatch_group
        self.embed = nn.Linear(latent + 1, width)
        self.position = nn.Embedding(max_chunks, width)
        self.blocks = nn.ModuleList(_Block(width, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.spread = MinibatchStd(minibatch_group) if minibatch_group else None
        self.score = nn.Linear(2 * width + (1 if minibatch_group else 0), 1)

    def forward(self, x: torch.Tensor, end: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, T, L], end marker [B, T], mask [B, T] (1 = a step of the piece) → score [B], features [B, F]."""
        t = x.shape[1]
        if t > self.max_chunks:
            raise ValueError(f"sequence of {t} chunks is longer than the critic's {self.max_chunks}")
        valid = mask.detach() > 0.5  # [B, T]
        m = mask[..., None]  # [B, T, 1]
        h = self.embed(torch.cat([x, end[..., None]], -1) * m) + self.position.weight[:t]  # [B, T, D]
        for block in self.blocks:
            h = block(h, valid)
        h = self.norm(h) * m
        mean = h.sum(1) / m.sum(1).clamp_min(1.0)  # [B, D]
        last = valid.long().sum(1).clamp_min(1) - 1  # [B]
        final = h[torch.arange(h.shape[0], device=h.device), last]  # [B, D]: the ending step
        features = torch.cat([mean, final], -1)  # [B, F]
        scored = features if self.spread is None else self.spread(features[..., None])[..., 0]  # [B, F (+ 1)]
        return self.score(scored).squeeze(-1), features

    def sizes_of(self) -> dict:
        return {"latent": self.latent, "width": self.width, "layers": self.layers, "heads": self.heads,
                "max_chunks": self.max_chunks, "minibatch_group": self.minibatch_group}


def masked_gradient_penalty(critic: SequenceCritic, real: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                            fake: tuple[torch.Tensor, torch.Tensor, torch.Tensor], eps: torch.Tensor) -> torch.Tensor:
    """WGAN-GP per sample on x̂ = eps·real + (1 − eps)·fake, for (x [B, T, L], end [B, T], mask [B, T])
    triples → [B]. The interpolation covers the steps of either piece (union mask); padded steps get
    no gradient and are left out of the norm. With a minibatch-std critic, a sample's gradient also
    carries its share of its group's spread (as gan.conv.gradient_penalty's)."""
    eps = eps.to(real[0].device)
    mixed_x = (eps[:, None, None] * real[0] + (1 - eps[:, None, None]) * fake[0]).requires_grad_(True)
    mixed_end = (eps[:, None] * real[1] + (1 - eps[:, None]) * fake[1]).requires_grad_(True)
    mask = torch.maximum(real[2], fake[2]).detach()  # [B, T]
    score, _ = critic(mixed_x, mixed_end, mask)
    gx, ge = torch.autograd.grad(score.sum(), (mixed_x, mixed_end), create_graph=True)  # [B, T, L], [B, T]
    squared = ((gx ** 2).sum(-1) + ge ** 2) * mask  # [B, T]
    return (torch.sqrt(squared.sum(1) + 1e-12) - 1) ** 2


def length_distributions(model, corpus, *, n: int = 256, max_seconds: float = 120.0,
                         seed: int = 0, split: str = "train") -> dict[str, np.ndarray]:
    """Piece lengths in seconds of `n` pieces sampled by `model` (a generation.GANModel of an arch that ends its
    pieces: rnn, or ar asked to; "generated") beside the real ones of `real_lengths`."""
    ends = {"ends": True} if getattr(model.arm, "continues", False) else {}  # the likelihood arm ends only if asked
    lengths = np.array([x.shape[0] for x in model.sample_latents(n, max_seconds, seed, **ends)])
    generated = np.minimum(lengths * corpus.chunk_seconds, max_seconds)
    return {"generated": generated} | real_lengths(corpus, max_seconds, split)


def real_lengths(corpus, max_seconds: float = 120.0, split: str = "train") -> dict[str, np.ndarray]:
    """Real lengths in seconds, capped at `max_seconds`:
      real_remaining     what the training windows imply: from a uniformly random chunk of a track to
                         its end (the model is trained on windows starting anywhere, so this is the
                         distribution its end hazard should reproduce)
      real_tracks        whole track lengths of the split, for reference."""
    c = corpus.chunk_seconds
    tracks = corpus.tracks_in(split)
    chunks = np.diff(np.asarray(corpus.track_chunk_ptr))[tracks]  # [K]
    remaining = np.repeat(chunks, chunks) - positions_in_groups(chunks)  # [N] from each chunk to its track's end
    return {"real_remaining": np.minimum(remaining * c, max_seconds), "real_tracks": np.minimum(chunks * c, max_seconds)}


def length_table(lengths: dict[str, np.ndarray], max_seconds: float) -> list[str]:
    """Lines of a table: median, mean, 10th and 90th percentile (s), share at the maximum, count per set."""
    lines = [f"{'lengths (s)':<16}{'median':>8}{'mean':>8}{'10 %':>8}{'90 %':>8}{'at max':>8}{'n':>9}"]
    for name, v in lengths.items():
        lines.append(f"{name.replace('_', ' '):<16}{np.median(v):>8.1f}{np.mean(v):>8.1f}{np.quantile(v, 0.1):>8.1f}"
                     f"{np.quantile(v, 0.9):>8.1f}{np.mean(v >= max_seconds - 1e-9):>8.2f}{v.size:>9,}")
    return lines
