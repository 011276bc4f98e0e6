"""The `codes` density head of the likelihood arm: the next chunk as one of K codes.

The codes are k-means centres of the standardised training latents; each code's exemplar is the real
training latent nearest its centre. The transformer reads and predicts codes (a categorical over K, trained by
cross-entropy), and a drawn code becomes its exemplar, so that every generated chunk decodes as a real chunk
does. A continuous density draws between the latents the autoencoder was trained on, and those decode to
pitches scattered over the keyboard (docs/quality.md); a categorical cannot land between two codes.
Shapes: C latents, K codes, L latent, W width, R any leading shape.
"""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)
FIT_SAMPLE = 200_000  # latents the k-means runs on (drawn from the training split)
FIT_ITERATIONS = 15
BLOCK = 65_536  # rows whose distances to every centre are held at once


@torch.no_grad()
def nearest(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Index of the nearest centre (Euclidean) of each row: x [C, L], centres [K, L] → [C]."""
    out = torch.empty(x.shape[0], dtype=torch.long, device=x.device)
    squared = (centres ** 2).sum(1)  # [K]
    for lo in range(0, x.shape[0], BLOCK):
        out[lo:lo + BLOCK] = (squared[None] - 2 * x[lo:lo + BLOCK] @ centres.T).argmin(1)  # [b, K] → [b]
    return out


@torch.no_grad()
def kmeans(x: torch.Tensor, k: int, iterations: int, generator: torch.Generator) -> torch.Tensor:
    """Lloyd's k-means from k distinct random rows: x [C, L] → centres [K, L]; a centre left without rows
    restarts at a random row."""
    centres = x[torch.randperm(x.shape[0], generator=generator)[:k]].clone()
    for _ in range(iterations):
        assigned = nearest(x, centres)  # [C]
        sums = torch.zeros_like(centres).index_add_(0, assigned, x)  # [K, L]
        counts = torch.bincount(assigned, minlength=k).to(x.dtype)  # [K]
        restart = x[torch.randint(x.shape[0], (k,), generator=generator)]
        centres = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], restart)
    return centres


@torch.no_grad()
def exemplars_of(centres: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """For each centre [K, L] the row of x [C, L] nearest to it → [K] indices into x."""
    best = torch.full((centres.shape[0],), torch.inf, device=x.device)
    index = torch.zeros(centres.shape[0], dtype=torch.long, device=x.device)
    squared = (centres ** 2).sum(1)  # [K]
    for lo in range(0, x.shape[0], BLOCK):
        block = x[lo:lo + BLOCK]
        distance = (block ** 2).sum(1)[:, None] - 2 * block @ centres.T + squared[None]  # [b, K]
        value, row = distance.min(0)  # [K] each
        closer = value < best
        best, index = torch.where(closer, value, best), torch.where(closer, row + lo, index)
    return index


class CodeHead(nn.Module):
    """Logits over K codes from the transformer's features; the codebook travels in the weights (buffers)."""

    def __init__(self, latent: int, width: int, codes: int):
        super().__init__()
        self.logits = nn.Linear(width, codes)
        self.register_buffer("centres", torch.zeros(codes, latent))  # [K, L] standardised
        self.register_buffer("exemplars", torch.zeros(codes, latent))  # [K, L] a real latent per code
        self.register_buffer("fitted", torch.tensor(False))

    @property
    def codes(self) -> int:
        return self.centres.shape[0]

    def fit(self, latents: torch.Tensor, seed: int = 0) -> None:
        """Fit the codebook to standardised training latents [C, L] (k-means on up to FIT_SAMPLE of them)."""
        if latents.shape[0] < self.codes:
            raise ValueError(f"ar.codes = {self.codes}: more codes than the {latents.shape[0]} training chunks")
        generator = torch.Generator().manual_seed(seed)
        sample = latents[torch.randperm(latents.shape[0], generator=generator)[:FIT_SAMPLE].to(latents.device)]
        log.info("fitting %d codes to %d training latents", self.codes, sample.shape[0])
        centres = kmeans(sample.float(), self.codes, FIT_ITERATIONS, generator)
        self.centres.copy_(centres)
        self.exemplars.copy_(latents[exemplars_of(centres, latents.float())])
        self.fitted.fill_(True)

    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """Latents [*R, L] → their codes [*R]."""
        return nearest(x.reshape(-1, x.shape[-1]).float(), self.centres).view(x.shape[:-1])

    def snap(self, x: torch.Tensor) -> torch.Tensor:
        """Latents [*R, L] → the exemplars of their codes [*R, L] (what the transformer reads)."""
        return self.exemplars[self.assign(x)]

    def nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """−log p(code of x) per step: logits [B, T, K], x [B, T, L] → [B, T] (nats)."""
        return F.cross_entropy(logits.transpose(1, 2).float(), self.assign(x), reduction="none")

    @torch.no_grad()
    def sample(self, logits: torch.Tensor, temperature: float, rng: torch.Generator) -> torch.Tensor:
        """One code per row, logits [B, K] ÷ `temperature` → its exemplar [B, L]."""
        probs = F.softmax(logits.float() / temperature, dim=-1)
        code = torch.multinomial(probs.cpu(), 1, generator=rng).squeeze(1).to(logits.device)  # [B]
        return self.exemplars[code]
