"""PISA: permutation-invariant set autoencoder with a fixed-size latent (Kortvelesy et al. 2023,
https://arxiv.org/abs/2302.12826), batched over padded sets with a mask.

Shapes: B sets, N = max set size, D features per element, L latent, H hidden.
Encoder: a learned rank score orders each set's elements (padding always sorts last, so elements
never move into another set); a key MLP of the one-hot rank multiplies a value MLP of each element;
the products are summed over the set, plus an embedding of the set size.
Decoder: an MLP predicts the size; for each position i, (key MLP of i) ⊙ latent → element MLP.
Element i of the output is compared with the i-th element of the rank-sorted input.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .encoding import VALUE_LOWS, Encoding


def mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, outputs))


class PISA(nn.Module):
    def __init__(self, *, features: int, max_events: int, latent: int = 20, hidden: int = 256, bounded: bool = False):
        """bounded: the last three outputs (offset, duration, intensity) pass through a sigmoid onto their
        ranges (encoding.VALUE_LOWS to 1), so that no latent decodes to a value beyond them; False: linear
        outputs that decoding clips, as first designed."""
        super().__init__()
        self.features, self.max_events, self.latent, self.hidden = features, max_events, latent, hidden
        self.bounded = bounded
        self.register_buffer("value_lows", torch.tensor(VALUE_LOWS), persistent=False)  # [3]
        self.rank = nn.Linear(features, 1)
        self.encoder_key = mlp(max_events, hidden, latent)
        self.encoder_value = mlp(features, hidden, latent)
        self.size_embedding = nn.Embedding(max_events + 1, latent)
        self.size_head = mlp(latent, hidden, max_events + 1)
        self.decoder_key = mlp(max_events, hidden, latent)
        self.decoder_element = mlp(latent, hidden, features)
        self.register_buffer("positions", torch.eye(max_events), persistent=False)  # one-hot ranks [N, N]

    def sort(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rank-sort each set: x [B, N, D], mask [B, N] → sorted x [B, N, D], sorted scores [B, N]."""
        b, n, d = x.shape
        score = self.rank(x).squeeze(-1)  # [B, N]
        key = torch.where(mask, score.detach(), torch.inf)  # padding last, within its own set
        order = torch.argsort(key, dim=1, stable=True)  # [B, N]
        flat = (order + torch.arange(b, device=x.device)[:, None] * n).reshape(-1)  # [B·N] rows of x viewed [B·N, D]
        # one row lookup instead of gather with an expanded index (several times faster on a CPU)
        return x.reshape(b * n, d)[flat].view(b, n, d), score.reshape(-1)[flat].view(b, n)

    def encoder_keys(self) -> torch.Tensor:
        """The key MLP of every one-hot rank [N, L]: constant while the weights are."""
        return self.encoder_key(self.positions)

    def encode(self, x: torch.Tensor, sizes: torch.Tensor,
               keys: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, N, D], sizes [B] → latent [B, L] and the rank-sorted input [B, N, D]. `keys`: `encoder_keys()`
        where the caller holds them already (sampling computes them once for all its chunks); None: here."""
        mask = torch.arange(x.shape[1], device=x.device) < sizes[:, None]  # [B, N]
        x_sorted, score = self.sort(x, mask)
        # after sorting, a set's real elements are its first `size` positions; the MLPs run on those only
        rows, positions = mask.nonzero(as_tuple=True)  # [K] each, K real elements in the batch
        # straight-through: the forward value is 1, the rank score gets the gradient of the values
        real_score = score[rows, positions]  # [K]
        gate = (1 + real_score - real_score.detach())[:, None]  # [K, 1]
        keys = self.encoder_keys() if keys is None else keys  # [N, L]
        values = self.encoder_value(x_sorted[rows, positions]) * gate * keys[positions]  # [K, L]
        latent = self.size_embedding(sizes).to(values.dtype).index_add(0, rows, values)  # [B, L]: sum over each set + size
        return latent, x_sorted

    def decode(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """latent [B, L] → elements [B, N, D] and size logits [B, N + 1]."""
        size_logits = self.size_head(latent)
        h = latent[:, None, :] * self.decoder_key(self.positions)[None]  # [B, N, L]
        return self.element(h), size_logits

    def decode_real(self, latent: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The element MLP at the true-size positions only: latent [B, L], mask [B, N] → elements [K, D]."""
        keys = self.decoder_key(self.positions)  # [N, L]
        rows, positions = mask.nonzero(as_tuple=True)  # [K] each
        return self.element(latent[rows] * keys[positions])  # [K, D]

    def element(self, h: torch.Tensor) -> torch.Tensor:
        """The element MLP on position-keyed latents [..., L] → features [..., D], values bounded if asked."""
        out = self.decoder_element(h)
        if not self.bounded:
            return out
        lows = self.value_lows.to(out.dtype)
        values = lows + (1 - lows) * torch.sigmoid(out[..., -3:])  # [..., 3] within [low, 1]
        return torch.cat([out[..., :-3], values], dim=-1)

    def forward(self, x: torch.Tensor, sizes: torch.Tensor):
        latent, x_sorted = self.encode(x, sizes)
        elements, size_logits = self.decode(latent)
        return latent, x_sorted, elements, size_logits

    def loss(self, x: torch.Tensor, sizes: torch.Tensor, encoding: Encoding, size_weight: float = 1.0,
             totals: tuple[float, float] | None = None, latent_noise: float = 0.0,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Element loss (per encoding, masked to the true size) + size cross-entropy.

        `totals` = (elements, sets) of the whole global batch when this is one rank's slice of it:
        sums are then divided by the global counts, so that averaging the ranks' gradients gives
        exactly the gradient of the global batch's mean loss.
        `latent_noise` > 0 decodes latent + noise of that many × the batch's per-dimension spread
        (detached, so the encoder cannot outgrow it by scaling): nearby latents must decode to nearby
        sets, which keeps what a generator produces between real latents decodable.
        The element MLP runs on the true-size positions only (~3.5 of 15 per chunk).
        """
        latent, x_sorted = self.encode(x, sizes)
        if latent_noise > 0:
            spread = latent.detach().std(0, keepdim=True) if latent.shape[0] > 1 else latent.new_ones(1, latent.shape[1])
            noise = torch.randn(latent.shape, generator=generator, dtype=latent.dtype,
                                device=latent.device if generator is None else generator.device).to(latent.device)
            latent = latent + latent_noise * spread * noise  # [B, L]
        size_logits = self.size_head(latent)  # [B, N + 1]
        mask = torch.arange(x.shape[1], device=x.device) < sizes[:, None]  # [B, N]
        elements = self.decode_real(latent, mask)  # [K, D]
        element_sum = encoding.loss(elements[:, None], x_sorted[mask][:, None],
                                    mask.new_ones(elements.shape[0], 1), reduction="sum")
        size_sum = F.cross_entropy(size_logits.float(), sizes, reduction="sum")
        element_count, set_count = totals if totals is not None else (float(mask.sum()), float(sizes.shape[0]))
        element_loss = element_sum / max(element_count, 1.0)
        size_loss = size_sum / max(set_count, 1.0)
        size_accuracy = (size_logits.argmax(-1) == sizes).float().mean()
        return element_loss + size_weight * size_loss, {"element": element_loss.detach(), "size": size_loss.detach(),
                                                         "size_accuracy": size_accuracy.detach()}

    def sizes_of(self) -> dict:
        sizes = {"features": self.features, "max_events": self.max_events, "latent": self.latent, "hidden": self.hidden}
        return sizes | ({"bounded": True} if self.bounded else {})  # checkpoints from before the option load as they were
