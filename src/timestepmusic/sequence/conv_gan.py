"""The convolutional WGAN-GP arm over fixed windows of standardised chunk latents (networks: gan/conv.py).

Per training step: `critic_steps` critic updates on WGAN loss + gp_weight · gradient penalty (lazily every
`gp_every` critic steps, scaled by `gp_every` as in StyleGAN2, so that the expected penalty is unchanged),
then one generator update on −critic + fm_weight · feature matching, after which an exponential moving
average of the generator's weights (gan.ema) takes a step towards them; that average samples, is validated
and is saved beside the trained weights. Windows never cross a track boundary. With gan.past_chunks = P each
window is generated after the P real chunks before it (or, for gan.pastless_share of them, after none), and
the critic judges past and window together, [L + 1, P + T] with a channel that marks the known chunks: a
longer piece then keeps going where its last window stopped, and a prompt can be continued. With P = 0
longer pieces are consecutive independent windows. Under torchrun every rank draws the same global batch and works on its
slice; sums are divided by the global batch and scaled by the world size, so averaging the ranks' gradients
gives the single-process gradient exactly (minibatch-std groups never span two slices).
Shapes: B windows (b on this rank), L latent, T chunks per window, P past chunks, S pieces, W windows per piece.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import numpy as np
import torch

from ..config import Config
from ..gan.conv import Critic, Generator, gradient_penalty
from ..latents import window_starts
from ..stage_configs import GANConfig
from ..train.finetune import feature_matching
from .base import LatentData, SamplesFromAverage, Update, register

log = logging.getLogger(__name__)
VALIDATION_WINDOWS = 256
SHORT_PAST_SHARE = 0.25  # of the windows given a past: a shorter one, its last 1 … P chunks (a short prompt's)


class WindowSampler:
    """Random windows of `window` chunks, never across a track boundary: their chunk rows [B, T],
    or (given cached standardised latents [C, L]) the windows themselves [B, L, T]."""

    def __init__(self, latents: torch.Tensor | None, starts: np.ndarray, window: int):
        self.latents = latents  # [C, L], standardised; None when the latents are looked up elsewhere
        device = latents.device if latents is not None else "cpu"
        self.starts = torch.from_numpy(starts).to(device)
        self.offsets = torch.arange(window, device=device)
        if self.starts.numel() == 0:
            raise ValueError(f"no track is at least {window} chunks long; lower gan.window_chunks")

    def draw(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """Window indices [B]."""
        return torch.randint(self.starts.numel(), (batch,), generator=generator)

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        return self.starts[index.to(self.starts.device)][:, None] + self.offsets  # [B, T]

    def windows(self, index: torch.Tensor) -> torch.Tensor:
        return self.latents[self.rows(index)].transpose(1, 2)  # [B, L, T]

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        return self.windows(self.draw(batch, generator))


@register
class ConvGAN(SamplesFromAverage):
    arch = "conv"
    held_out_key = "val_wasserstein"
    snaps = True

    def __init__(self, config: Config, latent: int, device: torch.device, training: bool = True):
        g = self.settings = config.gan
        self.past = g.past_chunks
        self.continues = self.past > 0  # can sample after a given past (tsm generate --prompt)
        self.generator = Generator(noise=g.noise, latent=latent, channels=g.channels, window=g.window_chunks,
                                   past=self.past).to(device)
        self.critic = critic_for(g, latent).to(device) if training else None
        self.start_average(training and g.ema > 0)

    def trained(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.generator, "critic": self.critic}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        g = self.settings
        rates = {"generator": g.lr, "critic": g.critic_lr or g.lr}  # two time-scale update rule
        return {name: torch.optim.Adam(module.parameters(), lr=rates[name], betas=g.betas, fused=True)  # one kernel a step
                for name, module in self.trained().items()}

    def attach(self, data: LatentData) -> None:
        g = self.settings
        self.data = data
        group = self.critic.minibatch_group
        check_whole_groups(g.batch, group, data.ranks.world, "windows")
        span = self.past + g.window_chunks  # what the critic hears: past and window
        train_starts = window_starts(data.corpus, "train", span)
        val_starts = window_starts(data.corpus, "validation", span)
        if val_starts.size == 0:
            log.warning("no validation windows of %d chunks; the held-out estimate uses training windows", span)
            val_starts = train_starts
        self.train_windows = WindowSampler(None, train_starts, span)
        val_windows = WindowSampler(None, val_starts, span)
        val_gen = torch.Generator().manual_seed(g.seed + 2)
        held_out = whole_groups(VALIDATION_WINDOWS, group)
        self.val_rows = val_windows.rows(val_windows.draw(held_out, val_gen))  # [V, P + T]
        self.val_noise = torch.randn(held_out, g.noise, generator=val_gen).to(data.device)
        self.val_known = self.known_pasts(held_out, val_gen)  # [V] known past chunks (None without a past)

    def with_known(self, x: torch.Tensor, known: torch.Tensor | None) -> torch.Tensor:
        """Real spans x [b, L, P + T] → the critic's view [b, L + 1, P + T]: the past zeroed before its last
        `known` [b] chunks, and the known-chunk channel. Without a past (P = 0): x as it is."""
        if not self.past:
            return x
        mark = torch.ones(x.shape[0], 1, x.shape[2], device=x.device)  # [b, 1, P + T]
        position = torch.arange(self.past, device=x.device)  # [P]
        mark[:, 0, :self.past] = (position >= self.past - known.to(x.device)[:, None]).to(x.dtype)  # [b, P]
        return torch.cat([x * mark, mark], dim=1)

    def continuation(self, generator: Generator, noise: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
        """A generated window after the past of `seen` (the critic's view of real spans, [b, L + 1, P + T]) in the
        same view: [b, L + 1, P + T] (P = 0: the window [b, L, T])."""
        if not self.past:
            return generator(noise)
        past = seen[:, :, :self.past]  # [b, L + 1, P]
        new = generator(noise, past)  # [b, L, T]
        return torch.cat([past, torch.cat([new, torch.ones_like(new[:, :1])], dim=1)], dim=2)

    def known_pasts(self, batch: int, rng: torch.Generator) -> torch.Tensor | None:
        """How many chunks of each window's past are known [B]: none for gan.pastless_share of them (how a piece's
        first window is made), 1 … P for SHORT_PAST_SHARE of the rest (a prompt shorter than P), else all P.
        Nothing is drawn without a past, so P = 0 runs keep their random stream."""
        if not self.past:
            return None
        pastless, short = torch.rand(batch, generator=rng), torch.rand(batch, generator=rng)
        shorter = torch.randint(1, self.past + 1, (batch,), generator=rng)
        full = torch.full((batch,), self.past)
        return torch.where(pastless < self.settings.pastless_share, 0, torch.where(short < SHORT_PAST_SHARE, shorter, full))

    def updates(self, step: int, rng: torch.Generator) -> Iterator[Update]:
        g, ranks, real, device = self.settings, self.data.ranks, self.data.real, self.data.device
        scale = ranks.world / g.batch  # this rank's sums / the global batch, × world (gradients are averaged)
        for k in range(g.critic_steps):
            mine = ranks.shard(torch.arange(g.batch))  # [b] this rank's rows of the global batch
            real_x = real(self.train_windows.rows(self.train_windows.draw(g.batch, rng)[mine])).transpose(1, 2)  # [b, L, P + T]
            noise = torch.randn(g.batch, g.noise, generator=rng)[mine].to(device)
            eps = torch.rand(g.batch, generator=rng)[mine]
            known = self.known_pasts(g.batch, rng)
            real_x = self.with_known(real_x, known[mine] if known is not None else None)  # [b, L (+ 1), P + T]
            with torch.no_grad():
                fake = self.continuation(self.generator, noise, real_x)  # the same pasts, generated windows
            real_score, _ = self.critic(real_x)
            fake_score, _ = self.critic(fake)
            loss = (fake_score.sum() - real_score.sum()) * scale
            wasserstein = -float(loss.detach()) / ranks.world
            if g.gp_weight > 0 and (step * g.critic_steps + k + 1) % g.gp_every == 0:  # (real and fake share the
                # past, so x̂ holds it unchanged; its gradient counts in the norm, as the critic reads it too)
                loss = loss + g.gp_weight * g.gp_every * gradient_penalty(self.critic, real_x, fake, eps).sum() * scale
            yield Update("critic", loss, metrics={"critic_loss": float(loss.detach()), "wasserstein": wasserstein})

        mine = ranks.shard(torch.arange(g.batch))
        rows = self.train_windows.rows(self.train_windows.draw(g.batch, rng)[mine])  # [b, P + T]
        noise = torch.randn(g.batch, g.noise, generator=rng)[mine].to(device)
        known = self.known_pasts(g.batch, rng)
        known = known[mine] if known is not None else None
        ae_loss = None
        if self.data.finetune:  # differentiable in the encoder: reconstruction loss + feature-matching signal
            real_x, ae_loss = real(rows, weight=g.ae_weight)
            real_x = self.with_known(real_x.transpose(1, 2), known)  # [b, L (+ 1), P + T]
            _, real_features = self.critic(real_x)
        else:
            with torch.no_grad():
                real_x = self.with_known(real(rows).transpose(1, 2), known)
                _, real_features = self.critic(real_x)
        fake_score, fake_features = self.critic(self.continuation(self.generator, noise, real_x.detach()))  # [b], [b, F]
        # global means; the differentiable all-reduce sums gradients back to every slice
        fake_mean = ranks.sum_differentiable(fake_features.sum(0) / g.batch)  # [F]
        real_mean = ranks.sum_differentiable(real_features.sum(0) / g.batch)
        matching, towards_fake = feature_matching(fake_mean, real_mean, g.ae_gan_weight)
        loss = -fake_score.sum() * scale + g.fm_weight * matching
        yield Update("generator", loss + towards_fake, ae_loss,
                     {"generator_loss": float(loss.detach()), "feature_matching": float(matching.detach())})
        self.advance_average(step, self.settings.ema)  # the loop has applied the generator's step by now

    def held_out(self) -> dict[str, float]:
        real = self.with_known(self.data.real(self.val_rows).transpose(1, 2), self.val_known)  # [V, L (+ 1), P + T]
        fake = self.continuation(self.sampler, self.val_noise, real)
        return {"val_wasserstein": float(self.critic(real)[0].mean() - self.critic(fake)[0].mean())}

    def sample(self, n: int, chunks: int, seed: int, prompt: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`n` pieces of `chunks` chunks (after `prompt` [P', L], standardised, where the arm has a past) as
        standardised latents [S, P' + chunks, L] and their lengths. Without a past, consecutive independent
        windows; with one, each window after the last P chunks so far (the prompt's, then its own; before a prompt
        shorter than P the rest is marked unknown, as for the shorter pasts of training). Deterministic per seed."""
        generator = self.sampler
        window = generator.window
        windows = max(1, math.ceil(chunks / window))
        device = next(generator.parameters()).device
        noise = torch.randn(n * windows, generator.noise, generator=torch.Generator().manual_seed(seed))
        if not self.past:
            if prompt is not None:
                raise ValueError("this conv model has no past (gan.past_chunks = 0): it cannot continue a prompt")
            x = generator(noise.to(device)).transpose(1, 2)  # [S·W, T, L]
            x = x.reshape(n, windows * window, -1)[:, :chunks]  # [S, W·T, L] → [S, chunks, L]
            return x, torch.full((n,), x.shape[1], dtype=torch.long)
        noise = noise.view(n, windows, -1).to(device)  # [S, W, Z]
        latent = generator.latent
        first = 0 if prompt is None else prompt.shape[0]
        x = torch.zeros(n, latent + 1, self.past + first + windows * window, device=device)  # [S, L + 1, P + P' + W·T]
        if prompt is not None:  # the known-chunk channel stays 0 over the P chunks of padding before it
            x[:, :latent, self.past:self.past + first] = prompt.float().to(device).T
            x[:, latent, self.past:self.past + first] = 1.0
        for w in range(windows):
            at = self.past + first + w * window  # where this window starts
            x[:, :latent, at:at + window] = generator(noise[:, w], x[:, :, at - self.past:at])  # [S, L, T]
            x[:, latent, at:at + window] = 1.0
        x = x[:, :latent, self.past:self.past + first + chunks].transpose(1, 2)  # [S, P' + chunks, L]
        return x, torch.full((n,), x.shape[1], dtype=torch.long)

    def preview_chunks(self, chunk_seconds: float) -> int:
        return self.generator.window

    def compile(self) -> None:  # the critic stays eager: its penalty differentiates twice
        self.generator.compile()


def critic_for(g: GANConfig, latent: int) -> Critic:
    """The critic gan.* describes (gan.critic_depth = 0, no minibatch std, gan.critic_channels = 0: the seed's)."""
    return Critic(latent=latent, channels=g.critic_channels or g.channels, window=g.past_chunks + g.window_chunks,
                  depth=g.critic_depth, minibatch_group=minibatch_group(g), known_channel=g.past_chunks > 0)


def minibatch_group(g: GANConfig) -> int:
    """Windows per minibatch-std group (0 = none): gan.minibatch_group, or where it does not divide gan.batch,
    its largest divisor below it (with a warning), so that every batch splits into whole groups."""
    if not g.minibatch_std:
        return 0
    group = max(d for d in range(1, g.minibatch_group + 1) if g.batch % d == 0)
    if group < g.minibatch_group:
        log.warning("gan.minibatch_group %d does not divide gan.batch %d: minibatch-std groups of %d windows",
                    g.minibatch_group, g.batch, group)
    return group


def check_whole_groups(batch: int, group: int, world: int, what: str) -> None:
    """Each of `world` processes' slices of a batch must hold whole minibatch-std groups (0: none to hold)."""
    if group and batch % (group * world):
        raise ValueError(f"gan.batch {batch}: {world} processes cannot each hold whole minibatch-std groups of "
                         f"{group} {what}; use a batch that is a multiple of {group * world}, "
                         "or set gan.minibatch_group (or gan.minibatch_std = false)")


def whole_groups(n: int, group: int) -> int:
    """The most of `n` that makes whole minibatch-std groups (all of it when there are none)."""
    return n // max(group, 1) * max(group, 1)
