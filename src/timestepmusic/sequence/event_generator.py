"""The events arm's network (sequence/events.py): the likelihood arm's causal transformer over chunk latents
(transformer_net.LatentTransformer, its density part: each step's features) and the event head that draws a chunk's
events from them (event_head.EventHead). With ar.style each position also reads what its piece is told
(style.PieceStyle, `offset`), and with ar.closing_s how many chunks are left to its end (closing.Closing,
`with_closing`); guided (any guidance but 1), sampling reads every piece twice, told, then untold (`prefill`, `step`).
Shapes: B windows, T ≤ context steps, L latent, W width, D attributes, S pieces, C chunks, n chunks seen.
"""
from __future__ import annotations

import torch
from torch import nn

from .closing import Closing
from .event_head import EventHead
from .sampler_draws import twice
from .style import PieceStyle
from .transformer_net import LatentTransformer


class EventGenerator(nn.Module):
    """The transformer over chunk latents (its density part: the step's features) and the event head."""

    def __init__(self, trunk: LatentTransformer, events: EventHead, style: PieceStyle | None = None,
                 closing: Closing | None = None):
        super().__init__()
        self.trunk, self.events, self.style, self.closing = trunk, events, style, closing
        self.context, self.latent = trunk.context, trunk.latent
        self.guidance = 1.0  # sampling: how closely the pieces follow their descriptions (`guided`)
        self.pedal_guidance = 1.0  # … and their pedal choices (ar.pedal_guidance; as `guidance` where that is 1)
        self.key_guidance = 1.0  # … and their notes' keys (ar.key_guidance; as `guidance` where that is 1)
        self.closing_told: torch.Tensor | None = None  # sampling, ar.closing_s: the closing's part of the offset the
        # next prefill or step reads [S, C, W] (None: no piece closes there), which the untold half reads too

    def forward(self, x: torch.Tensor, described: torch.Tensor | None = None, left: torch.Tensor | None = None):
        """Windows x [B, T, L], with ar.style told each step's description [B, T, D] (or one per window [B, D];
        None: untold), with ar.closing_s each step's chunks left to its track's end [B, T] (closing.TrackEnds)."""
        offset = self.offset(described, x.shape[0])
        if left is not None and self.closing is not None:
            offset = with_closing(offset, self.closing(left))
        return self.trunk(x, offset)

    def prefill(self, seen: torch.Tensor, offset: torch.Tensor | None = None):
        """As the trunk's; guided, each piece of seen [S, n, L] is read told `offset` and untold: the features
        [2S, 1, W], the end logits of the told [S, 1]."""
        if self.guided:  # offset: [2S, W], or with ar.style_path one per position [2S, n + 1, W]
            seen, offset = twice(seen), torch.cat([offset, self.untold(offset)])  # [2S, n, L], [2S, (n + 1,) W]
        outputs, cache = self.trunk.prefill(seen, offset)
        return self.told_ends(outputs), cache

    def step(self, previous: torch.Tensor, position: int, cache: list, offset: torch.Tensor | None = None):
        """As the trunk's; guided, as `prefill`."""
        if self.guided:
            previous, offset = twice(previous), torch.cat([offset, self.untold(offset)])  # [2S, L], [2S, (1,) W]
        outputs, cache = self.trunk.step(previous, position, cache, offset)
        return self.told_ends(outputs), cache

    def head_features(self, features: torch.Tensor, left: torch.Tensor | None) -> torch.Tensor:
        """The features [..., W] the event head draws from: with ar.closing_s and each one's chunks left [...], the
        closing's offset for the head added (closing.Closing.head_offset)."""
        if left is None or self.closing is None:
            return features
        return features + self.closing.head_offset(left)

    def untold(self, offset: torch.Tensor) -> torch.Tensor:
        """Guided: the offset the untold half reads beside the told one's `offset`: nothing of the description, the
        closing as told (`closing_told`)."""
        return torch.zeros_like(offset) if self.closing_told is None else self.closing_told.expand_as(offset)

    def told_ends(self, outputs: tuple) -> tuple:
        """Guided: the told pieces' end logits only (the features of both halves stay, for the event sampler)."""
        if not self.guided:
            return outputs
        density, end = outputs
        return density, end[:end.shape[0] // 2]

    def unguided(self) -> None:
        """Sampling reads each piece once again: every guidance (`guidance`, `pedal_guidance`, `key_guidance`) at 1."""
        self.guidance = self.pedal_guidance = self.key_guidance = 1.0

    @property
    def guided(self) -> bool:
        """Whether sampling reads every piece twice, told, then untold (any guidance but 1)."""
        return self.guidance != 1.0 or self.pedal_guidance != 1.0 or self.key_guidance != 1.0

    def offset(self, described: torch.Tensor | None, b: int) -> torch.Tensor | None:
        """With ar.style, what the descriptions [B, (T,) D] add to each position's input [B, (T,) W]; None without."""
        return None if self.style is None else self.style(described, b)


def with_closing(offset: torch.Tensor | None, closing: torch.Tensor) -> torch.Tensor:
    """A description's offset [B, W] or [B, T, W] (None: none) and the closing's [B, T, W] → their sum [B, T, W]."""
    if offset is None:
        return closing
    return (offset[:, None] if offset.dim() == 2 else offset) + closing
