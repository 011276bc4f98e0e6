"""1-D convolutional generator and critic over windows of chunk latents.

Shapes: B windows, Z noise, L latent (channels), T chunks in a window (64), C channels.
Generator: noise → linear → [C, T/16] → four transposed convolutions (×2 each) → [L, T].
Critic: four strided convolutions, no batch norm (the gradient penalty is per sample, and batch
statistics would couple the samples) → a feature vector [C · T/16] → a score.
"""
from __future__ import annotations

import torch
from torch import nn


class Generator(nn.Module):
    def __init__(self, *, noise: int = 50, latent: int = 20, channels: int = 128, window: int = 64):
        super().__init__()
        self.noise, self.latent, self.channels, self.window = noise, latent, channels, window
        self.start_length = window // 16
        widths = [channels, channels, channels, channels // 2, channels // 2]
        self.project = nn.Linear(noise, channels * self.start_length)
        layers: list[nn.Module] = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose1d(cin, cout, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.upsample = nn.Sequential(*layers)
        self.out = nn.Conv1d(widths[-1], latent, kernel_size=3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, Z] → standardised latents [B, L, T]."""
        h = self.project(z).view(z.shape[0], self.channels, self.start_length)  # [B, C, T/16]
        h = nn.functional.leaky_relu(h, 0.2)
        return self.out(self.upsample(h))  # [B, L, T]

    def sizes_of(self) -> dict:
        return {"noise": self.noise, "latent": self.latent, "channels": self.channels, "window": self.window}


class Critic(nn.Module):
    def __init__(self, *, latent: int = 20, channels: int = 128, window: int = 64):
        super().__init__()
        self.latent, self.channels, self.window = latent, channels, window
        widths = [latent, channels // 2, channels, channels, channels]
        layers: list[nn.Module] = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv1d(cin, cout, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers, nn.Flatten())  # [B, C · T/16]
        self.score = nn.Linear(channels * (window // 16), 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, L, T] → score [B] and features [B, F]."""
        f = self.features(x)
        return self.score(f).squeeze(-1), f

    def sizes_of(self) -> dict:
        return {"latent": self.latent, "channels": self.channels, "window": self.window}


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """WGAN-GP per sample: (‖∇ critic(x̂)‖ − 1)² at x̂ = eps·real + (1 − eps)·fake, batched → [B].

    real, fake [B, L, T]; eps [B] in [0, 1]. Samples are independent (no batch norm in the critic),
    so one backward of the summed scores gives every sample's own gradient.
    """
    eps = eps.to(real.device)[:, None, None]  # [B, 1, 1]
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    score, _ = critic(mixed)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)  # [B, L, T]
    return (grad.flatten(1).norm(dim=1) - 1) ** 2
