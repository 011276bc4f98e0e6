"""A causal transformer over chunk latents with a mixture-of-Gaussians head for the next latent and an
end-of-piece logit (the network of the likelihood arm, sequence/autoregressive.py).

Step t reads a learned start vector (t = 0) or the previous latent x[t-1], plus a learned position, and
predicts x[t] (a mixture of K diagonal Gaussians) and whether x[t] is the piece's last chunk. A window
may start anywhere in a piece, so the start vector means "the beginning of what I can see".
Shapes: B sequences, T steps (≤ context), L latent, W width, H heads, K mixture components.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LOG_SIGMA_RANGE = (-7.0, 3.0)  # component spreads are clamped to e^-7 … e^3 standard deviations


class Block(nn.Module):
    """Pre-norm causal self-attention and MLP, each added back to the stream."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.attention_norm = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None, keep: bool = False):
        """h [B, T, W] → [B, T, W]. With `past` (keys and values of the steps before, [B, H, T', W/H] each) the
        T new steps attend to those too, and the extended (keys, values) are returned beside the output; with
        `keep`, the (keys, values) of the T steps are returned beside it, for a cache to start from."""
        b, t, w = h.shape
        q, k, v = self.qkv(self.attention_norm(h)).view(b, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        # q, k, v [B, H, T, W/H]
        if past is not None:  # one new position, which may attend to every cached one
            if t != 1:
                raise ValueError("a cached step takes one new position at a time")
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # [B, H, T' + 1, W/H]
        a = F.scaled_dot_product_attention(q, k, v, is_causal=past is None,
                                           dropout_p=self.dropout if self.training else 0.0)
        h = h + self.drop(self.out(a.transpose(1, 2).reshape(b, t, w)))  # [B, T, W]
        h = h + self.drop(self.mlp(self.mlp_norm(h)))
        return (h, (k, v)) if past is not None or keep else h


class LatentTransformer(nn.Module):
    def __init__(self, *, latent: int, context: int, width: int, layers: int, heads: int, mixture: int,
                 dropout: float):
        super().__init__()
        self.latent, self.context, self.mixture = latent, context, mixture
        self.read = nn.Linear(latent, width)
        self.start = nn.Parameter(torch.zeros(width))
        self.position = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, mixture * (1 + 2 * latent) + 1)
        nn.init.normal_(self.position.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Latents x [B, T, L] → for every step t the density of x[t] given x[<t] (mixture logits [B, T, K],
        means [B, T, K, L], log spreads [B, T, K, L]) and the logit that x[t] ends the piece [B, T]."""
        b, t, _ = x.shape
        if t > self.context:
            raise ValueError(f"a window of {t} chunks is longer than the model's context of {self.context}")
        previous = self.read(x[:, :-1])  # [B, T-1, W]
        h = torch.cat([self.start.expand(b, 1, -1), previous], dim=1) + self.position.weight[:t]  # [B, T, W]
        for block in self.blocks:
            h = block(h)
        return self.heads_of(self.head(self.norm(h)), b, t)  # head [B, T, K(1 + 2L) + 1]

    def prefill(self, seen: torch.Tensor):
        """The latents a window has seen, seen [B, n, L] (n < context; n = 0: none yet) → the four outputs of
        `forward` at position n, which predicts the next latent ([B, 1, …]), and the key/value cache of positions
        0 … n for `step` to continue from. One pass instead of n + 1 steps."""
        b, n, _ = seen.shape
        if n >= self.context:
            raise ValueError(f"a window of {n} seen chunks leaves no position in the model's context of {self.context}")
        h = torch.cat([self.start.expand(b, 1, -1), self.read(seen)], dim=1) + self.position.weight[:n + 1]  # [B, n+1, W]
        cache = []
        for block in self.blocks:
            h, kv = block(h, keep=True)
            cache.append(kv)
        return self.heads_of(self.head(self.norm(h[:, -1:])), b, 1), cache

    def step(self, previous: torch.Tensor, position: int, cache: list):
        """One step of incremental decoding with a key/value cache (from `prefill`, then from earlier steps): the
        latent before it [B, L] → the same four outputs as `forward` for this position ([B, 1, …]) and the
        extended cache. Equals `forward` on the whole prefix, at a cost that does not grow with it."""
        if position >= self.context:
            raise ValueError(f"position {position} is past the model's context of {self.context}")
        h = self.read(previous[:, None]) + self.position.weight[position]  # [B, 1, W]
        extended = []
        for block, past in zip(self.blocks, cache):
            h, kv = block(h, past)
            extended.append(kv)
        return self.heads_of(self.head(self.norm(h)), previous.shape[0], 1), extended

    def heads_of(self, out: torch.Tensor, b: int, t: int):
        """The head's output [B, T, K(1 + 2L) + 1] → mixture logits, means, log spreads, end logit."""
        k, dims = self.mixture, self.latent
        logits = out[..., :k]  # [B, T, K]
        mean = out[..., k:k + k * dims].view(b, t, k, dims)  # [B, T, K, L]
        log_sigma = out[..., k + k * dims:k + 2 * k * dims].view(b, t, k, dims).clamp(*LOG_SIGMA_RANGE)
        return logits, mean, log_sigma, out[..., -1]


def mixture_nll(x: torch.Tensor, logits: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """−log p(x) under the mixture, per step: x [B, T, L] → [B, T] (nats)."""
    z = (x[..., None, :] - mean) * torch.exp(-log_sigma)  # [B, T, K, L]
    log_normal = (-0.5 * z ** 2 - log_sigma).sum(-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)  # [B, T, K]
    return -torch.logsumexp(F.log_softmax(logits, dim=-1) + log_normal, dim=-1)


def sample_mixture(logits: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor, temperature: float,
                   rng: torch.Generator, mixture_temperature: float = 1.0) -> torch.Tensor:
    """One draw per row: logits [B, K], mean/log_sigma [B, K, L] → [B, L]; component spreads × `temperature`,
    mixture logits ÷ `mixture_temperature` (below 1 the likeliest component wins more often)."""
    probs = F.softmax(logits / mixture_temperature, dim=-1)  # [B, K]
    component = torch.multinomial(probs.cpu(), 1, generator=rng).squeeze(1).to(logits.device)  # [B]
    rows = torch.arange(logits.shape[0], device=logits.device)
    noise = torch.randn(mean.shape[0], mean.shape[-1], generator=rng).to(mean.device)  # [B, L]
    return mean[rows, component] + temperature * torch.exp(log_sigma[rows, component]) * noise
