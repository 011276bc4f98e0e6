"""The autoencoder's loss on held-out chunks: its validation each epoch, and the drift check while a
sequence model fine-tunes it. Shapes: B chunks, N events per chunk, D features."""
from __future__ import annotations

import torch

from ..batches import ChunkGatherer
from ..encoding import Encoding
from ..pisa import PISA

VALIDATION_BATCH = 4096


@torch.no_grad()
def validate(model: PISA, gatherer: ChunkGatherer, encoding: Encoding, tracks: torch.Tensor, chunks: torch.Tensor,
             size_weight: float, limit: int | None = None) -> dict[str, float]:
    model.eval()
    total, element, size_acc, seen = 0.0, 0.0, 0.0, 0
    n = tracks.shape[0] if limit is None else min(limit, tracks.shape[0])
    for lo in range(0, n, VALIDATION_BATCH):
        batch = gatherer.gather(tracks[lo:lo + VALIDATION_BATCH], chunks[lo:lo + VALIDATION_BATCH])
        x = encoding.encode(batch.ids, batch.offset_s, batch.duration_s, batch.intensity)
        loss, parts = model.loss(x, batch.sizes, encoding, size_weight)
        b = batch.sizes.shape[0]
        total += float(loss) * b
        element += float(parts["element"]) * b
        size_acc += float(parts["size_accuracy"]) * b
        seen += b
    model.train()
    seen = max(seen, 1)
    return {"loss": total / seen, "element_loss": element / seen, "size_accuracy": size_acc / seen}
