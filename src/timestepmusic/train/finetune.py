"""Real latents for GAN training, from the frozen cache or encoded on the fly by an autoencoder that
is fine-tuned jointly with the GAN (`gan.finetune_ae`); shared by every sequence model (train/sequence.py).

Fine-tuning: in the critic steps the real chunks are encoded without gradient by the current
autoencoder. In the generator step they are encoded with gradient, so the encoder also gets an
adversarial signal, `gan.ae_gan_weight` · the gradient of log(feature matching) through the real
latents (the latent space may move towards what the generator makes), and `gan.ae_weight` · its
reconstruction loss on the same chunks anchors it. The log makes the signal independent of the
critic's feature scale: with the raw term, the convolutional critic's features (feature matching
in the thousands) drove the reconstruction loss from 0.06 to 1.0 within 400 steps. The normaliser
stays the one fitted to the starting autoencoder, so the generator's scale does not move.
Shapes: R any leading shape of chunk rows, V valid rows, L latent, C corpus chunks, K codebook.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch
from safetensors.torch import save as safetensors_bytes
from torch import nn

from ..autoencoder import Autoencoder
from ..batches import ChunkGatherer, SetBatch
from ..corpus import Corpus
from ..latents import Normaliser
from ..ragged import group_of
from .ae_validation import validate
from .distributed import Dist


def finetune_step(ae: Autoencoder, sets: SetBatch, weight: float,
                  totals: tuple[float, float] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The autoencoder's part of a joint step: (weight · reconstruction loss of `sets`, their latents
    [V, L]), both differentiable in the autoencoder. `totals` = (elements, sets) of the global batch
    when `sets` is one rank's slice. The caller adds the loss to its objective, uses the latents as
    real data, backpropagates once and steps the autoencoder's optimizer."""
    x = ae.features(sets)  # [V, N, D]
    loss, _ = ae.model.loss(x, sets.sizes, ae.encoding, ae.config.ae.size_loss_weight, totals)
    latent, _ = ae.model.encode(x, sets.sizes)  # [V, L]
    return weight * loss, latent


def feature_matching(fake_mean: torch.Tensor, real_mean: torch.Tensor,
                     encoder_weight: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(The generator's feature-matching term ‖fake − real‖² / F, the encoder's term) from mean critic
    features [F] of the fake and real batches. The generator's term sees the real means as constants; the
    encoder's (with `encoder_weight`; else 0) is encoder_weight · log of the same distance, differentiated
    through the real means only."""
    matching = ((fake_mean - real_mean.detach()) ** 2).mean()
    if encoder_weight is None or not real_mean.requires_grad:
        return matching, matching.new_zeros(())
    towards = ((fake_mean.detach() - real_mean) ** 2).mean()
    return matching, encoder_weight * torch.log(towards.clamp_min(1e-12))


def weights_hash(model: nn.Module) -> str:
    """The sha256 write_checkpoint records for these weights (the same safetensors bytes)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return hashlib.sha256(safetensors_bytes(state)).hexdigest()


class CodebookWeights(nn.Module):
    """Codebook latents [K, L] as a module, so that a fine-tuned run's checkpoint carries the codebook
    its own encoder gives (codebook.safetensors inside the checkpoint, key `latents`)."""

    def __init__(self, latents: torch.Tensor):
        super().__init__()
        self.register_buffer("latents", latents.detach().float().cpu())


class RealLatents:
    """Standardised latents [*R, L] (zero where the mask is 0) of corpus chunk rows [*R]: from the
    cached frozen latents, or encoded on the fly by the autoencoder being fine-tuned."""

    def __init__(self, corpus: Corpus, ae: Autoencoder, normaliser: Normaliser, cached: torch.Tensor | None,
                 ranks: Dist = Dist()):
        self.ae, self.normaliser, self.cached, self.ranks = ae, normaliser, cached, ranks
        ptr = np.array(corpus.track_chunk_ptr, dtype=np.int64)
        self.track_of = torch.from_numpy(group_of(np.diff(ptr)))  # [C]
        self.first = torch.from_numpy(ptr[:-1])  # [K tracks]
        self.gatherer = ChunkGatherer(corpus, max_events=ae.max_events, device=ae.device) if cached is None else None

    def locate(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Global chunk rows [V] → (track, chunk within the track) [V] each, on the autoencoder's device."""
        rows = rows.cpu()
        track = self.track_of[rows]
        return track.to(self.ae.device), (rows - self.first[track]).to(self.ae.device)

    def sets(self, rows: torch.Tensor) -> SetBatch:
        """Padded sets of chunk rows [V] (global chunk indices)."""
        return self.gatherer.gather(*self.locate(rows))

    def encode(self, rows: torch.Tensor) -> torch.Tensor:
        """Raw (not standardised) latents [V, L] of chunk rows [V] by the current autoencoder, no gradient."""
        return self.ae.encode(self.sets(rows)).float()

    def reconstruction_loss(self, rows: torch.Tensor) -> float:
        """The autoencoder's loss on chunk rows [V] as train/ae.py validates it (held-out drift check)."""
        return validate(self.ae.model, self.gatherer, self.ae.encoding, *self.locate(rows),
                        self.ae.config.ae.size_loss_weight)["loss"]

    def __call__(self, rows: torch.Tensor, mask: torch.Tensor | None = None, weight: float | None = None):
        """Latents [*R, L]; with `weight` (fine-tuning, differentiable) also weight · reconstruction loss."""
        mask = torch.ones(rows.shape, device=rows.device) if mask is None else mask
        if self.cached is not None:
            return self.cached[rows.to(self.cached.device)] * mask.to(self.cached.device)[..., None]
        valid = mask > 0.5  # [*R]
        if weight is None:
            latent, loss = self.encode(rows[valid]), None
        else:
            sets = self.sets(rows[valid])
            totals = self.ranks.global_sums(sets.sizes.sum(), sets.sizes.shape[0]) if self.ranks.active else None
            loss, latent = finetune_step(self.ae, sets, weight, totals)
        valid = valid.to(latent.device)
        x = torch.zeros(*valid.shape, latent.shape[-1], device=latent.device)
        x = x.masked_scatter(valid[..., None], self.normaliser.forward(latent.float()))  # [*R, L]
        return x if weight is None else (x, loss)
