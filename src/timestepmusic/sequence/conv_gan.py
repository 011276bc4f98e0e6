"""The convolutional WGAN-GP arm over fixed windows of standardised chunk latents (networks: gan/conv.py).

Per training step: `critic_steps` critic updates on WGAN loss + gp_weight · gradient penalty (lazily every
`gp_every` critic steps, scaled by `gp_every` as in StyleGAN2, so that the expected penalty is unchanged),
then one generator update on −critic + fm_weight · feature matching, after which an exponential moving
average of the generator's weights (gan.ema) takes a step towards them; that average samples, is validated
and is saved beside the trained weights. Windows never cross a track boundary. Longer pieces are
consecutive independent windows. Under torchrun every rank draws the same global batch and works on its
slice; sums are divided by the global batch and scaled by the world size, so averaging the ranks' gradients
gives the single-process gradient exactly (minibatch-std groups never span two slices).
Shapes: B windows (b on this rank), L latent, T chunks per window, S pieces, W windows per piece.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import numpy as np
import torch

from ..config import Config, GANConfig
from ..gan.conv import Critic, Generator, gradient_penalty
from ..latents import window_starts
from ..train.finetune import feature_matching
from .base import LatentData, SamplesFromAverage, Update, register

log = logging.getLogger(__name__)
VALIDATION_WINDOWS = 256


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
        self.generator = Generator(noise=g.noise, latent=latent, channels=g.channels, window=g.window_chunks).to(device)
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
        train_starts = window_starts(data.corpus, "train", g.window_chunks)
        val_starts = window_starts(data.corpus, "validation", g.window_chunks)
        if val_starts.size == 0:
            log.warning("no validation windows of %d chunks; the held-out estimate uses training windows",
                        g.window_chunks)
            val_starts = train_starts
        self.train_windows = WindowSampler(None, train_starts, g.window_chunks)
        val_windows = WindowSampler(None, val_starts, g.window_chunks)
        val_gen = torch.Generator().manual_seed(g.seed + 2)
        held_out = whole_groups(VALIDATION_WINDOWS, group)
        self.val_rows = val_windows.rows(val_windows.draw(held_out, val_gen))  # [V, T]
        self.val_noise = torch.randn(held_out, g.noise, generator=val_gen).to(data.device)

    def updates(self, step: int, rng: torch.Generator) -> Iterator[Update]:
        g, ranks, real, device = self.settings, self.data.ranks, self.data.real, self.data.device
        scale = ranks.world / g.batch  # this rank's sums / the global batch, × world (gradients are averaged)
        for k in range(g.critic_steps):
            mine = ranks.shard(torch.arange(g.batch))  # [b] this rank's rows of the global batch
            real_x = real(self.train_windows.rows(self.train_windows.draw(g.batch, rng)[mine])).transpose(1, 2)  # [b, L, T]
            noise = torch.randn(g.batch, g.noise, generator=rng)[mine].to(device)
            eps = torch.rand(g.batch, generator=rng)[mine]
            with torch.no_grad():
                fake = self.generator(noise)  # [b, L, T]
            real_score, _ = self.critic(real_x)
            fake_score, _ = self.critic(fake)
            loss = (fake_score.sum() - real_score.sum()) * scale
            wasserstein = -float(loss.detach()) / ranks.world
            if g.gp_weight > 0 and (step * g.critic_steps + k + 1) % g.gp_every == 0:
                loss = loss + g.gp_weight * g.gp_every * gradient_penalty(self.critic, real_x, fake, eps).sum() * scale
            yield Update("critic", loss, metrics={"critic_loss": float(loss.detach()), "wasserstein": wasserstein})

        mine = ranks.shard(torch.arange(g.batch))
        rows = self.train_windows.rows(self.train_windows.draw(g.batch, rng)[mine])  # [b, T]
        noise = torch.randn(g.batch, g.noise, generator=rng)[mine].to(device)
        fake_score, fake_features = self.critic(self.generator(noise))  # [b], [b, F]
        ae_loss = None
        if self.data.finetune:  # differentiable in the encoder: reconstruction loss + feature-matching signal
            real_x, ae_loss = real(rows, weight=g.ae_weight)
            _, real_features = self.critic(real_x.transpose(1, 2))
        else:
            with torch.no_grad():
                _, real_features = self.critic(real(rows).transpose(1, 2))
        # global means; the differentiable all-reduce sums gradients back to every slice
        fake_mean = ranks.sum_differentiable(fake_features.sum(0) / g.batch)  # [F]
        real_mean = ranks.sum_differentiable(real_features.sum(0) / g.batch)
        matching, towards_fake = feature_matching(fake_mean, real_mean, g.ae_gan_weight)
        loss = -fake_score.sum() * scale + g.fm_weight * matching
        yield Update("generator", loss + towards_fake, ae_loss,
                     {"generator_loss": float(loss.detach()), "feature_matching": float(matching.detach())})
        self.advance_average(step, self.settings.ema)  # the loop has applied the generator's step by now

    def held_out(self) -> dict[str, float]:
        real = self.data.real(self.val_rows).transpose(1, 2)  # [V, L, T]
        fake = self.sampler(self.val_noise)
        return {"val_wasserstein": float(self.critic(real)[0].mean() - self.critic(fake)[0].mean())}

    def sample(self, n: int, chunks: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = self.sampler
        window = generator.window
        windows = max(1, math.ceil(chunks / window))
        device = next(generator.parameters()).device
        noise = torch.randn(n * windows, generator.noise, generator=torch.Generator().manual_seed(seed))
        x = generator(noise.to(device)).transpose(1, 2)  # [S·W, T, L]
        x = x.reshape(n, windows * window, -1)[:, :chunks]  # [S, W·T, L] → [S, chunks, L]
        return x, torch.full((n,), x.shape[1], dtype=torch.long)

    def preview_chunks(self, chunk_seconds: float) -> int:
        return self.generator.window

    def compile(self) -> None:  # the critic stays eager: its penalty differentiates twice
        self.generator.compile()


def critic_for(g: GANConfig, latent: int) -> Critic:
    """The critic gan.* describes (gan.critic_depth = 0, no minibatch std, gan.critic_channels = 0: the seed's)."""
    return Critic(latent=latent, channels=g.critic_channels or g.channels, window=g.window_chunks,
                  depth=g.critic_depth, minibatch_group=minibatch_group(g))


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
