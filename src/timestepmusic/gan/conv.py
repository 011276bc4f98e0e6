"""1-D convolutional generator and critic over windows of chunk latents.

Shapes: B windows, G windows per minibatch-std group, Z noise, L latent (channels), T chunks in a window (64),
C channels, T' = T/16 positions after the critic's strided convolutions.
Generator: noise → linear → [C, T/16] → four transposed convolutions (×2 each) → [L, T]. With a past of P
chunks (gan.past_chunks; [L + 1, P]: the latents and a channel that is 1 where a chunk is known), four strided
convolutions read it → [C, P/16] → linear, added to the noise's [C, T/16]; and its last chunk, by a 1×1
convolution, to every output position (both start at zero, so a warm start from an unconditioned generator
begins as that generator). The critic then judges past and window together, [L + 1, P + T].
Critic: four strided convolutions (each position hears 46 chunks: 16p − 15 … 16p + 30) → [C, T'], then
optionally one channel of minibatch standard deviation → [C + 1, T'] and `depth` dilated kernel-3
convolutions over T' (dilations 1, 2, …: with 2 each position reaches ±3 of the T' = 4 positions of a
64-chunk window, so that every feature hears the whole window) → a feature vector [C · T'] → a score.
No batch norm: the gradient penalty is per sample; only the minibatch std couples the windows of a group.
"""
from __future__ import annotations

import torch
from torch import nn


def strided_reader(channels_in: int, channels: int) -> nn.Sequential:
    """Four stride-2 convolutions: [B, channels_in, T] → [B, channels, T/16]."""
    widths = [channels_in, channels // 2, channels, channels, channels]
    layers: list[nn.Module] = []
    for cin, cout in zip(widths[:-1], widths[1:]):
        layers += [nn.Conv1d(cin, cout, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers)


class Generator(nn.Module):
    def __init__(self, *, noise: int = 50, latent: int = 20, channels: int = 128, window: int = 64, past: int = 0):
        super().__init__()
        self.noise, self.latent, self.channels, self.window, self.past = noise, latent, channels, window, past
        self.start_length = window // 16
        widths = [channels, channels, channels, channels // 2, channels // 2]
        self.project = nn.Linear(noise, channels * self.start_length)
        layers: list[nn.Module] = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose1d(cin, cout, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.upsample = nn.Sequential(*layers)
        self.out = nn.Conv1d(widths[-1], latent, kernel_size=3, padding=1)
        if past:
            self.read_past = strided_reader(latent + 1, channels)  # [B, L + 1, P] → [B, C, P/16]
            self.past_project = nn.Linear(channels * (past // 16), channels * self.start_length)
            self.past_tail = nn.Conv1d(latent + 1, latent, kernel_size=1)
            for layer in (self.past_project, self.past_tail):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, z: torch.Tensor, past: torch.Tensor | None = None) -> torch.Tensor:
        """z [B, Z] (and with a past of P chunks, past [B, L + 1, P]: latents and the known-chunk channel; None:
        none known) → standardised latents [B, L, T]."""
        b = z.shape[0]
        h = self.project(z)  # [B, C · T/16]
        if self.past:
            past = z.new_zeros(b, self.latent + 1, self.past) if past is None else past
            h = h + self.past_project(self.read_past(past).flatten(1))  # [B, C · P/16] → [B, C · T/16]
        h = nn.functional.leaky_relu(h.view(b, self.channels, self.start_length), 0.2)  # [B, C, T/16]
        x = self.out(self.upsample(h))  # [B, L, T]
        return x + self.past_tail(past[:, :, -1:]) if self.past else x  # the last known chunk, [B, L, 1]

    def sizes_of(self) -> dict:
        return {"noise": self.noise, "latent": self.latent, "channels": self.channels, "window": self.window,
                "past": self.past}


class MinibatchStd(nn.Module):
    """StyleGAN's minibatch standard deviation (Karras et al. 2018, https://arxiv.org/abs/1710.10196 §3): one
    more channel holding how much the features vary across a group of `group` consecutive windows, so that a
    batch of near-identical windows (mode collapse) looks unlike a real batch. Groups are consecutive, so a
    rank's contiguous slice of a batch holds whole groups and torchrun ranks never need each other's windows."""

    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """h [B, C, T'] → [B, C + 1, T']; a batch smaller than a group is one group."""
        b, c, t = h.shape
        g = min(self.group, b)
        if b % g:
            raise ValueError(f"a batch of {b} windows does not split into minibatch-std groups of {g} "
                             "(gan.minibatch_group must divide every batch the critic sees)")
        grouped = h.view(b // g, g, c, t)  # [B/G, G, C, T']
        spread = (grouped.var(dim=1, correction=0) + 1e-8).sqrt().mean(dim=(1, 2))  # [B/G]
        extra = spread.repeat_interleave(g)[:, None, None].expand(b, 1, t)  # [B, 1, T']
        return torch.cat([h, extra], dim=1)  # [B, C + 1, T']


class Critic(nn.Module):
    def __init__(self, *, latent: int = 20, channels: int = 128, window: int = 64, depth: int = 0,
                 minibatch_group: int = 0, known_channel: bool = False):
        """depth = 0 and minibatch_group = 0 (no minibatch std): the seed design, whose weights load unchanged.
        `known_channel`: the input has one more channel, 1 where a chunk is known (a past may be missing)."""
        super().__init__()
        self.latent, self.channels, self.window = latent, channels, window
        self.depth, self.minibatch_group, self.known_channel = depth, minibatch_group, known_channel
        self.features = strided_reader(latent + int(known_channel), channels)  # [B, C, T']
        self.minibatch_std = MinibatchStd(minibatch_group) if minibatch_group else nn.Identity()
        width = channels + (1 if minibatch_group else 0)
        phrase: list[nn.Module] = []
        for i in range(depth):
            phrase += [nn.Conv1d(width, channels, kernel_size=3, padding=2 ** i, dilation=2 ** i), nn.LeakyReLU(0.2)]
            width = channels
        self.phrase = nn.Sequential(*phrase)  # [B, C, T'] (without layers: [B, C + 1 with minibatch std, T'])
        self.score = nn.Linear(width * (window // 16), 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, L, T] → score [B] and features [B, F]."""
        h = self.phrase(self.minibatch_std(self.features(x)))  # [B, C, T']
        f = h.flatten(1)  # [B, C · T']
        return self.score(f).squeeze(-1), f

    def sizes_of(self) -> dict:
        return {"latent": self.latent, "channels": self.channels, "window": self.window, "depth": self.depth,
                "minibatch_group": self.minibatch_group, "known_channel": self.known_channel}


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """WGAN-GP per sample: (‖∇ critic(x̂)‖ − 1)² at x̂ = eps·real + (1 − eps)·fake, batched → [B].

    real, fake [B, L, T]; eps [B] in [0, 1]. Without minibatch std the samples are independent (no batch
    norm in the critic), so one backward of the summed scores gives every sample's own gradient; with it, a
    sample's gradient also carries its group's share through the spread channel, as in StyleGAN (one scalar
    per group, a small term that works in practice).
    """
    eps = eps.to(real.device)[:, None, None]  # [B, 1, 1]
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    score, _ = critic(mixed)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)  # [B, L, T]
    return (grad.flatten(1).norm(dim=1) - 1) ** 2
