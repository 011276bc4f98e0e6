"""A causal transformer over chunk latents with a density head for the next latent and an end-of-piece logit
(the network of the likelihood arm, sequence/autoregressive.py).

Step t reads a learned start vector (t = 0) or the previous latent x[t-1], plus a learned position, and
predicts x[t] and whether x[t] is the piece's last chunk. A window may start anywhere in a piece, so the
start vector means "the beginning of what I can see". Two density heads (`ar.head`):
- mixture: K Gaussians with diagonal spreads over the whole latent (dimensions independent within a component);
- dimwise: p(x) = Π_d p(x_d | x_<d): each dimension a mixture of K 1-D Gaussians whose parameters a masked
  MLP (MADE, Germain et al. 2015) computes from the step's features and the dimensions before it, so the
  latent's dimensions can depend on each other in any way; sampling draws them one after another.
- features: no density here; the step's features are handed on (the events arm's head reads them).
Shapes: B sequences, T steps (≤ context), L latent, W width, H heads, K mixture components, N head hidden units.
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

    def forward(self, h: torch.Tensor, keep: bool = False):
        """h [B, T, W] → [B, T, W]; with `keep`, the (keys, values) of the T steps ([B, H, T, W/H] each) are
        returned beside it, for a cache (`step`) to start from."""
        b, t, w = h.shape
        q, k, v = self.qkv(self.attention_norm(h)).view(b, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        # q, k, v [B, H, T, W/H]
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        h = h + self.drop(self.out(a.transpose(1, 2).reshape(b, t, w)))  # [B, T, W]
        h = h + self.drop(self.mlp(self.mlp_norm(h)))
        return (h, (k, v)) if keep else h

    def step_weights(self) -> tuple:
        """What `step` reads of the layers, looked up once for a cache's steps (each nn.Module attribute costs a
        failed lookup first, two per layer, more than a one-position step's sums): (norm's shape, weight, bias,
        eps), (qkv's weight, bias), (out's), (the MLP's norm as the first), (its first layer's weight, bias, the
        GELU's approximation), (its last layer's weight, bias)."""
        norm, qkv, out, mlp_norm, (mlp_in, gelu, mlp_out) = (self.attention_norm, self.qkv, self.out,
                                                             self.mlp_norm, self.mlp)
        return ((norm.normalized_shape, norm.weight, norm.bias, norm.eps), (qkv.weight, qkv.bias),
                (out.weight, out.bias), (mlp_norm.normalized_shape, mlp_norm.weight, mlp_norm.bias, mlp_norm.eps),
                (mlp_in.weight, mlp_in.bias, gelu.approximate), (mlp_out.weight, mlp_out.bias))

    def step(self, h: torch.Tensor, past: tuple):
        """One new position h [B, 1, W], which may attend to every cached one (`past`: the keys and values of
        the steps before, [B, H, T', W/H] each, and `step_weights()`) → [B, 1, W] and the extended (keys, values,
        weights). The same arithmetic as `forward`, in the same order, by the layers' functional forms on their
        own weights: for one position a module call costs more than its sums (sampling steps 4 blocks per chunk)."""
        b, t, w = h.shape
        if t != 1:
            raise ValueError("a cached step takes one new position at a time")
        past_k, past_v, weights = past
        norm, qkv, out, mlp_norm, (in_weight, in_bias, approximate), mlp_out = weights
        normed = F.layer_norm(h, *norm)
        q, k, v = F.linear(normed, *qkv).view(b, t, 3, self.heads, w // self.heads).permute(
            2, 0, 3, 1, 4)  # q, k, v [B, H, 1, W/H]
        k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)  # [B, H, T' + 1, W/H]
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        def drop(x: torch.Tensor) -> torch.Tensor:  # (in eval, dropout returns x: no call to make)
            return F.dropout(x, self.dropout, True) if self.training else x
        h = h + drop(F.linear(a.transpose(1, 2).reshape(b, t, w), *out))  # [B, 1, W]
        normed = F.layer_norm(h, *mlp_norm)
        hidden = F.gelu(F.linear(normed, in_weight, in_bias), approximate=approximate)  # [B, 1, 4W]
        h = h + drop(F.linear(hidden, *mlp_out))
        return h, (k, v, weights)


class DimwiseMixture(nn.Module):
    """The `dimwise` head: a MADE over the L dimensions of one latent, conditioned on the step's features.

    Hidden unit n has a degree m(n) in 0 … L−2 and sees input dimensions ≤ m(n); the output of dimension d
    sees hidden units with m(n) < d, so it depends on x_<d only (dimension 0 on the features alone)."""

    def __init__(self, latent: int, width: int, mixture: int, hidden: int):
        super().__init__()
        self.latent, self.mixture = latent, mixture
        degree = torch.arange(hidden) % max(1, latent - 1)  # [N]
        output_dim = torch.arange(latent).repeat_interleave(3 * mixture)  # [L·3K]: the dimension of each output
        self.register_buffer("input_mask", (degree[:, None] >= torch.arange(latent)[None]).float(), persistent=False)
        self.register_buffer("hidden_mask", (degree[:, None] >= degree[None]).float(), persistent=False)
        self.register_buffer("output_mask", (output_dim[:, None] > degree[None]).float(), persistent=False)
        self.input = nn.Linear(latent, hidden)
        self.hidden = nn.Linear(hidden, hidden)
        self.output = nn.Linear(hidden, latent * 3 * mixture)
        self.features = nn.Linear(width, 2 * hidden + latent * 3 * mixture)  # added to both layers and the output

    def forward(self, features: torch.Tensor, x: torch.Tensor):
        """features [..., W], x [..., L] → per dimension d the mixture of x_d given x_<d: logits, means,
        log spreads [..., L, K]."""
        n = self.hidden.in_features
        f = self.features(features)  # [..., 2N + L·3K]
        h = F.gelu(F.linear(x, self.input.weight * self.input_mask, self.input.bias) + f[..., :n])  # [..., N]
        h = F.gelu(F.linear(h, self.hidden.weight * self.hidden_mask, self.hidden.bias) + f[..., n:2 * n])
        out = F.linear(h, self.output.weight * self.output_mask, self.output.bias) + f[..., 2 * n:]  # [..., L·3K]
        out = out.unflatten(-1, (self.latent, 3, self.mixture))  # [..., L, 3, K]
        return out[..., 0, :], out[..., 1, :], out[..., 2, :].clamp(*LOG_SIGMA_RANGE)

    def nll(self, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """−log p(x) per step: features [B, T, W], x [B, T, L] → [B, T] (nats)."""
        logits, mean, log_sigma = self(features, x)  # [B, T, L, K] each
        log_normal = normal_log_density(x[..., None], mean, log_sigma)  # [B, T, L, K]
        return -torch.logsumexp(F.log_softmax(logits, dim=-1) + log_normal, dim=-1).sum(-1)

    @torch.no_grad()
    def sample(self, features: torch.Tensor, temperature: float, rng: torch.Generator,
               mixture_temperature: float = 1.0) -> torch.Tensor:
        """One draw per row, dimension by dimension: features [B, W] → [B, L]; spreads × `temperature`,
        each dimension's mixture logits ÷ `mixture_temperature`. The same network as `forward`, run
        incrementally: the first layer is linear in x, so each drawn x_d adds its column to it."""
        b, n, k, dims = features.shape[0], self.hidden.in_features, self.mixture, self.latent
        f = self.features(features)  # [B, 2N + L·3K]
        w_input = (self.input.weight * self.input_mask).T.contiguous()  # [L, N]
        w_hidden = (self.hidden.weight * self.hidden_mask).T.contiguous()  # [N, N]
        w_output = (self.output.weight * self.output_mask).view(dims, 3 * k, n).transpose(1, 2).contiguous()  # [L, N, 3K]
        b_output = (f[:, 2 * n:] + self.output.bias).view(b, dims, 3 * k)  # [B, L, 3K]
        b_hidden = f[:, n:2 * n] + self.hidden.bias  # [B, N]
        first = f[:, :n] + self.input.bias  # [B, N]: the first layer before activation, x = 0 so far
        u = torch.rand(b, dims, 1, generator=rng).to(features.device)  # [B, L, 1]: picks each dimension's component
        noise = torch.randn(b, dims, generator=rng).to(features.device)  # [B, L]
        x = torch.zeros(b, dims, device=features.device)  # [B, L]
        low, high = LOG_SIGMA_RANGE
        for d in range(dims):
            h = F.gelu(torch.addmm(b_hidden, F.gelu(first), w_hidden))  # [B, N]
            out = torch.addmm(b_output[:, d], h, w_output[d]).view(b, 3, k)  # [B, 3, K]: logits, means, log spreads
            chosen = (F.softmax(out[:, 0] / mixture_temperature, dim=-1).cumsum(-1) < u[:, d]).sum(-1, keepdim=True)
            mean, log_sigma = out.gather(2, chosen.clamp_(max=k - 1)[:, None].expand(b, 3, 1))[:, 1:, 0].unbind(1)  # [B]
            x[:, d] = mean + temperature * log_sigma.clamp(low, high).exp() * noise[:, d]
            first.addcmul_(x[:, d:d + 1], w_input[d])  # [B, N]
        return x


class LatentTransformer(nn.Module):
    grows_positions = True  # a warm start into a longer context keeps `position` (checkpoint.grow_positions)

    def __init__(self, *, latent: int, context: int, width: int, layers: int, heads: int, mixture: int,
                 dropout: float, head: str = "mixture", head_hidden: int = 256):
        super().__init__()
        self.latent, self.context, self.mixture = latent, context, mixture
        self.features_only = head == "features"
        self.read = nn.Linear(latent, width)
        self.start = nn.Parameter(torch.zeros(width))
        self.position = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        if head == "mixture":  # one layer: the mixture's parameters and the end logit
            self.head, self.dimwise = nn.Linear(width, mixture * (1 + 2 * latent) + 1), None
        elif head == "dimwise":  # the end logit; the density from the MADE
            self.head, self.dimwise = nn.Linear(width, 1), DimwiseMixture(latent, width, mixture, head_hidden)
        elif head == "features":  # the end logit; the density is another module's (sequence/event_head.py)
            self.head, self.dimwise = nn.Linear(width, 1), None
        else:
            raise ValueError(f"ar.head: unknown density head {head!r} (mixture or dimwise)")
        nn.init.normal_(self.position.weight, std=0.02)

    def nll(self, x: torch.Tensor, density: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """−log p(x[t] | x[<t]) per step [B, T] from the density part of `forward`'s outputs."""
        return mixture_nll(x, *density) if self.dimwise is None else self.dimwise.nll(density[0], x)

    @torch.no_grad()
    def sample(self, density: tuple[torch.Tensor, ...], temperature: float, rng: torch.Generator,
               mixture_temperature: float = 1.0) -> torch.Tensor:
        """One draw per row from the density part of one step's outputs (each [B, …] without T) → [B, L]."""
        if self.dimwise is None:
            return sample_mixture(*density, temperature, rng, mixture_temperature)
        return self.dimwise.sample(density[0], temperature, rng, mixture_temperature)

    def forward(self, x: torch.Tensor,
                offset: torch.Tensor | None = None) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """Latents x [B, T, L] (and `offset`, a condition added to each position's input: see `conditioned`) → for
        every step t the density of x[t] given x[<t] and the logit that x[t] ends the piece [B, T]. The density
        is (mixture logits [B, T, K], means [B, T, K, L], log spreads [B, T, K, L]) for the mixture head,
        (features [B, T, W],) for the dimwise head: pass it to `nll` or `sample`."""
        b, t, _ = x.shape
        if t > self.context:
            raise ValueError(f"a window of {t} chunks is longer than the model's context of {self.context}")
        previous = self.read(x[:, :-1])  # [B, T-1, W]
        h = torch.cat([self.start.expand(b, 1, -1), previous], dim=1) + self.position.weight[:t]  # [B, T, W]
        h = conditioned(h, offset)
        for block in self.blocks:
            h = block(h)
        return self.heads_of(self.norm(h), b, t)

    def prefill(self, seen: torch.Tensor, offset: torch.Tensor | None = None):
        """The latents a window has seen, seen [B, n, L] (n < context; n = 0: none yet; `offset` as in `forward`)
        → the outputs of `forward` at position n, which predict the next latent ([B, 1, …]), and the key/value
        cache of positions 0 … n for `step` to continue from. One pass instead of n + 1 steps."""
        b, n, _ = seen.shape
        if n >= self.context:
            raise ValueError(f"a window of {n} seen chunks leaves no position in the model's context of {self.context}")
        h = torch.cat([self.start.expand(b, 1, -1), self.read(seen)], dim=1) + self.position.weight[:n + 1]  # [B, n+1, W]
        h = conditioned(h, offset)
        cache = []  # per block: its keys, values and the weights its steps read
        for block in self.blocks:
            h, kv = block(h, keep=True)
            cache.append((*kv, block.step_weights()))
        return self.heads_of(self.norm(h[:, -1:]), b, 1), cache

    def step(self, previous: torch.Tensor, position: int, cache: list, offset: torch.Tensor | None = None):
        """One step of incremental decoding with a key/value cache (from `prefill`, then from earlier steps): the
        latent before it [B, L] → the same outputs as `forward` for this position ([B, 1, …]) and the
        extended cache. Equals `forward` on the whole prefix, at a cost that does not grow with it."""
        if position >= self.context:
            raise ValueError(f"position {position} is past the model's context of {self.context}")
        h = self.read(previous[:, None]) + self.position.weight[position]  # [B, 1, W]
        h = conditioned(h, offset)
        extended = []
        for block, past in zip(self.blocks, cache):
            h, kv = block.step(h, past)
            extended.append(kv)
        return self.heads_of(self.norm(h), previous.shape[0], 1), extended

    def heads_of(self, features: torch.Tensor, b: int, t: int):
        """Normed features [B, T, W] → (the density's parameters, the end logit [B, T])."""
        out = self.head(features)  # [B, T, K(1 + 2L) + 1] (mixture) or [B, T, 1] (dimwise, features)
        if self.dimwise is not None or self.features_only:
            return (features,), out[..., 0]
        k, dims = self.mixture, self.latent
        logits = out[..., :k]  # [B, T, K]
        mean = out[..., k:k + k * dims].view(b, t, k, dims)  # [B, T, K, L]
        log_sigma = out[..., k + k * dims:k + 2 * k * dims].view(b, t, k, dims).clamp(*LOG_SIGMA_RANGE)
        return (logits, mean, log_sigma), out[..., -1]


def conditioned(h: torch.Tensor, offset: torch.Tensor | None) -> torch.Tensor:
    """The transformer's input h [B, T, W] with a condition added to every position: `offset` [B, W] (one per
    sequence) or [B, T, W] (one per position); None: h as it is."""
    if offset is None:
        return h
    return h + (offset[:, None] if offset.dim() == 2 else offset)


def mixture_nll(x: torch.Tensor, logits: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """−log p(x) under the mixture, per step: x [B, T, L] → [B, T] (nats)."""
    log_normal = normal_log_density(x[..., None, :], mean, log_sigma).sum(-1)  # [B, T, K, L] → [B, T, K]
    return -torch.logsumexp(F.log_softmax(logits, dim=-1) + log_normal, dim=-1)


def normal_log_density(x: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, e^log_sigma), elementwise (broadcast)."""
    z = (x - mean) * torch.exp(-log_sigma)
    return -0.5 * z ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)


def sample_mixture(logits: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor, temperature: float,
                   rng: torch.Generator, mixture_temperature: float = 1.0) -> torch.Tensor:
    """One draw per row: logits [B, K], mean/log_sigma [B, K, L] → [B, L]; component spreads × `temperature`,
    mixture logits ÷ `mixture_temperature` (below 1 the likeliest component wins more often)."""
    probs = F.softmax(logits / mixture_temperature, dim=-1)  # [B, K]
    component = torch.multinomial(probs.cpu(), 1, generator=rng).squeeze(1).to(logits.device)  # [B]
    rows = torch.arange(logits.shape[0], device=logits.device)
    noise = torch.randn(mean.shape[0], mean.shape[-1], generator=rng).to(mean.device)  # [B, L]
    return mean[rows, component] + temperature * torch.exp(log_sigma[rows, component]) * noise
