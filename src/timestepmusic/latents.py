"""The latent corpus: every chunk of a corpus encoded once by a frozen autoencoder, normalised.

Shapes: C chunks (corpus order, so `track_chunk_ptr` indexes it too), L latent, T window chunks.
Cached beside the GAN run as latents-<ae>-<corpus>.npy, keyed by the autoencoder's weights hash
and the corpus key, so a different autoencoder or corpus never reuses stale latents.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from .autoencoder import Autoencoder
from .batches import ChunkGatherer
from .corpus import Corpus
from .files import atomic_path, save_tensors
from .ragged import rows_of_groups

log = logging.getLogger(__name__)
ENCODE_BATCH = 2048  # larger batches spend their time page-faulting fresh activations (bench/encode.py)


@torch.no_grad()
def encode_corpus(ae: Autoencoder, corpus: Corpus, batch: int = ENCODE_BATCH) -> np.ndarray:
    """All chunks of `corpus` → latents [C, L] float32, batched, capped as the model was trained."""
    gatherer = ChunkGatherer(corpus, max_events=ae.max_events, device=ae.device)
    tracks, chunks = (torch.from_numpy(a).to(ae.device) for a in corpus.chunk_index(None))
    out = np.empty((tracks.shape[0], ae.model.latent), dtype=np.float32)
    for lo in range(0, tracks.shape[0], batch):
        sets = gatherer.gather(tracks[lo:lo + batch], chunks[lo:lo + batch])
        out[lo:lo + batch] = ae.encode(sets).float().cpu().numpy()
    return out


def read_cached_latents(path: Path, rows: int, latent: int) -> np.ndarray | None:
    """The cached latents [rows, latent] at `path`, or None (with a warning naming it) when the file is
    missing, damaged, pickled or of another shape; never unpickles."""
    if not path.is_file():
        return None
    try:
        latents = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        log.warning("%s: unreadable latents cache (%s); encoding the corpus again", path, e)
        return None
    if latents.dtype != np.float32 or latents.shape != (rows, latent):
        log.warning("%s: latents cache holds %s %s, not float32 (%d, %d); encoding the corpus again",
                    path, latents.dtype, latents.shape, rows, latent)
        return None
    return latents


def cached_latents(ae: Autoencoder, corpus: Corpus, folder: str | Path) -> np.ndarray:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"latents-{ae.weights_sha256[:12]}-{corpus.manifest['key']}.npy"
    latents = read_cached_latents(path, int(corpus.chunk_event_ptr.size - 1), ae.model.latent)
    if latents is not None:
        return latents
    latents = encode_corpus(ae, corpus)
    try:
        with atomic_path(path, suffix=".npy") as tmp:
            np.save(tmp, latents)
    except OSError as e:
        if e.errno is not None:  # (atomic_path names the cache)
            raise
        # numpy's short write on a full disk says only 'N requested and M written': the file and why, as prepare does
        raise OSError(None, f"cannot write the encoded corpus's cache ({e}: is the disk full?)", str(path)) from e
    return latents


@dataclass(frozen=True)
class Normaliser:
    """Per-dimension standardisation of latents with training-split statistics."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, latents: np.ndarray) -> "Normaliser":
        return cls(tuple(map(float, latents.mean(0))), tuple(float(s) for s in np.maximum(latents.std(0), 1e-6)))

    @functools.cached_property
    def _made(self) -> dict:
        """(dtype, device) → mean and std [L] each as tensors: made once, as sampling standardises every chunk it draws
        (and ar.project restores each one first)."""
        return {}

    def _tensors(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        key = (x.dtype, x.device)
        if key not in self._made:
            self._made[key] = (x.new_tensor(self.mean), x.new_tensor(self.std))
        return self._made[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[..., L] → standardised [..., L]."""
        mean, std = self._tensors(x)
        return (x - mean) / std

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._tensors(x)
        return x * std + mean

    def to_dict(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> "Normaliser":
        return cls(tuple(d["mean"]), tuple(d["std"]))


def window_starts(corpus: Corpus, split: str, window: int) -> np.ndarray:
    """Global chunk index of every window start of a split whose `window` chunks stay inside one track."""
    tracks = corpus.tracks_in(split)
    first = corpus.track_chunk_ptr[tracks]
    count = np.maximum(corpus.track_chunk_ptr[tracks + 1] - first - window + 1, 0)  # starts per track
    return rows_of_groups(first, count)


def split_rows(corpus: Corpus, split: str) -> np.ndarray:
    """Global chunk index of every chunk of a split's tracks, in corpus order [C_split]."""
    tracks = corpus.tracks_in(split)
    first = corpus.track_chunk_ptr[tracks]
    return rows_of_groups(first, corpus.track_chunk_ptr[tracks + 1] - first)


CODEBOOK = "codebook.safetensors"
CODEBOOK_SIZE = 50_000


def codebook_rows(rows: np.ndarray, size: int = CODEBOOK_SIZE, seed: int = 0) -> np.ndarray:
    """`size` chunk rows [K] drawn without replacement from `rows` (training-split chunks), sorted."""
    return np.sort(np.random.default_rng(seed).choice(rows, min(size, rows.size), replace=False))


def build_codebook(latents: np.ndarray, rows: np.ndarray, size: int = CODEBOOK_SIZE, seed: int = 0) -> torch.Tensor:
    """The latents [K, L] of `size` chunks drawn from `rows` (training-split chunks)."""
    return torch.from_numpy(latents[codebook_rows(rows, size, seed)].astype(np.float32))


def write_codebook(path: Path, codebook: torch.Tensor) -> None:
    with atomic_path(path) as tmp:
        save_tensors({"latents": codebook.contiguous()}, tmp)


def read_codebook(path: Path) -> torch.Tensor:
    try:
        return load_file(str(path))["latents"]
    except (OSError, KeyError, RuntimeError) as e:
        raise ValueError(f"{path}: unreadable codebook ({e})") from e


@torch.no_grad()
def snap(latents: torch.Tensor, codebook_std: torch.Tensor, codebook: torch.Tensor,
         normaliser: Normaliser) -> torch.Tensor:
    """Replace each latent [..., L] by its nearest codebook latent (Euclidean, standardised space).

    Generated latents that fall between the real ones decode to saturated, implausible sets (notes
    clipped to the keyboard's ends); snapping keeps the generator's sequence and decodes only sets
    that real music contains. codebook [K, L] and its standardised copy codebook_std [K, L].
    """
    flat = normaliser.forward(latents).reshape(-1, latents.shape[-1])  # [S·T, L]
    nearest = torch.cdist(flat, codebook_std).argmin(1)  # [S·T]
    return codebook[nearest].reshape(latents.shape)
