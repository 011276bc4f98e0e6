"""Noise → generator → latents → PISA decoder → events → MIDI files.

A model is a GAN checkpoint folder (config.json + generator.safetensors) with its autoencoder
beside it (RUN/autoencoder) or inside it (the shipped model). The autoencoder is checked against
the hash the GAN recorded, so a GAN is never decoded by an autoencoder it was not trained with.
Shapes: S samples, L latent, T chunks.
"""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .autoencoder import Autoencoder, pick_device
from .checkpoint import checkpoint_dir, load_weights, read_meta
from .gan.conv import Generator
from .latents import CODEBOOK, Normaliser, read_codebook, snap
from .midi import Events, write_events

DEFAULT_MODEL = "default"
RELEASE_S = 2.0  # how long a generated piece may ring on after its last chunk


def default_model_path() -> Path:
    return Path(str(resources.files("timestepmusic") / "models" / DEFAULT_MODEL))


@dataclass
class GANModel:
    generator: Generator
    normaliser: Normaliser
    ae: Autoencoder
    meta: dict
    folder: Path
    codebook: torch.Tensor | None = None  # [K, L] real training-chunk latents, for snapped decoding

    def __post_init__(self) -> None:
        self.codebook_std = None if self.codebook is None else self.normaliser.forward(self.codebook)

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu") -> "GANModel":
        if path is None:
            path = default_model_path()
            if not (path / "config.json").is_file():
                raise ValueError(f"no shipped model at {path}; pass --model RUN")
        folder, meta = read_meta(path)
        if meta.get("kind") != "gan":
            raise ValueError(f"{folder}: not a GAN checkpoint (kind={meta.get('kind')!r}); "
                             "an autoencoder run cannot generate by itself")
        ae_folder = next((p for p in (folder / "autoencoder", folder.parent / "autoencoder")
                          if (p / "config.json").is_file()), None)
        if ae_folder is None:
            raise ValueError(f"{folder}: its autoencoder is missing (looked in {folder / 'autoencoder'} "
                             f"and {folder.parent / 'autoencoder'})")
        ae = Autoencoder.load(ae_folder, pick_device(device))
        if meta.get("arch") == "rnn":  # same interface; pieces end themselves, `seconds` is their maximum
            from .gan.recurrent import RecurrentGANModel

            return RecurrentGANModel.with_autoencoder(folder, meta, ae, device)
        return cls.with_autoencoder(folder, meta, ae, device)

    @classmethod
    def with_autoencoder(cls, folder: Path, meta: dict, ae: Autoencoder, device: str = "cpu") -> "GANModel":
        """The base autoencoder must be the one the run started from; a fine-tuned copy saved with the run
        is then loaded over it, and the codebook saved with that checkpoint is preferred to the run's."""
        ae = ae.for_gan(folder, meta)
        generator = Generator(**meta["generator"])
        load_weights(folder, "generator", generator)
        generator.eval().to(pick_device(device))
        normaliser = Normaliser.from_dict(meta["normaliser"])
        books = [p / CODEBOOK for p in (folder, folder.parent) if (p / CODEBOOK).is_file()]
        codebook = read_codebook(books[0]).to(pick_device(device)) if books else None
        return cls(generator, normaliser, ae, meta, folder, codebook)

    @property
    def window_seconds(self) -> float:
        return self.generator.window * self.ae.chunk_seconds

    @torch.no_grad()
    def sample_latents(self, n: int, seconds: float, seed: int, snap_to_real: bool = True) -> torch.Tensor:
        """[S, T, L] latents; longer pieces are consecutive independent windows. With `snap_to_real`
        (and a codebook beside the model) each latent becomes its nearest real training-chunk latent."""
        windows = max(1, math.ceil(seconds / self.window_seconds - 1e-9))
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(n * windows, self.generator.noise, generator=g).to(next(self.generator.parameters()).device)
        x = self.generator(noise).transpose(1, 2)  # [S·W, T, L]
        x = self.normaliser.inverse(x).reshape(n, windows * self.generator.window, -1)  # [S, W·T, L]
        chunks = max(1, round(seconds / self.ae.chunk_seconds))
        x = x[:, :chunks]
        if snap_to_real and self.codebook is not None:
            x = snap(x, self.codebook_std, self.codebook, self.normaliser)
        return x

    def sample(self, n: int = 1, seconds: float = 16.0, seed: int = 0, snap_to_real: bool = True) -> list[Events]:
        return [release_by(self.ae.decode_events(latent), latent.shape[0] * self.ae.chunk_seconds + RELEASE_S)
                for latent in self.sample_latents(n, seconds, seed, snap_to_real)]


def release_by(events: Events, end_s: float) -> Events:
    """Every note and pedal released by `end_s` (a held chord may not ring on long after the piece)."""
    duration = np.minimum(events.duration_s, np.maximum(end_s - events.start_s, 0.0))
    return Events(events.ids, events.start_s, duration, events.intensity)


def generate(out: str | Path, *, model: str | Path | None = None, n: int = 8, seconds: float = 16.0, seed: int = 0,
             device: str = "cpu", snap_to_real: bool = True) -> list[Path]:
    """Write `n` MIDI files into `out`; the same seed gives the same files."""
    if n < 1:
        raise ValueError(f"-n must be ≥ 1, got {n}")
    if seconds <= 0:
        raise ValueError(f"--seconds must be > 0, got {seconds}")
    gan = GANModel.load(model, device)
    out = Path(out)
    return [write_events(events, out / f"sample_{seed}_{i:03d}.mid")
            for i, events in enumerate(gan.sample(n, seconds, seed, snap_to_real))]


def model_info(model: str | Path | None = None) -> dict:
    path = default_model_path() if model is None else Path(model)
    folder, meta = read_meta(path)
    return {"model": str(folder), "arch": meta.get("arch"), "trained": meta.get("trained"),
            "corpus": meta.get("corpus"), "step": meta.get("step"), "gan": meta["config"]["gan"],
            "chunks": meta["config"]["chunks"], "encoding": meta["config"]["encoding"]["encoding"],
            "latent": meta["generator"]["latent"], "recurrent": meta.get("recurrent"),
            "autoencoder_finetuned": "finetuned_sha256" in meta.get("autoencoder", {}),
            "description": meta.get("description")}


def export_model(run: str | Path, dest: str | Path, description: str = "") -> Path:
    """Copy what generation needs (generator + its autoencoder, no critic or optimizer) into `dest`."""
    folder, meta = read_meta(run if not (Path(run) / "best").is_dir() else Path(run) / "best")
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    kept = [key for key in ("generator", "autoencoder", "codebook") if key in meta["weights"]]  # + fine-tuned parts
    for key in kept:
        shutil.copy(folder / f"{key}.safetensors", tmp / f"{key}.safetensors")
    if "codebook" not in kept and (folder.parent / CODEBOOK).is_file():
        shutil.copy(folder.parent / CODEBOOK, tmp / CODEBOOK)
    ae_src = checkpoint_dir(folder.parent / "autoencoder")
    (tmp / "autoencoder").mkdir()
    shutil.copy(ae_src / "pisa.safetensors", tmp / "autoencoder" / "pisa.safetensors")
    ae_meta = json.loads((ae_src / "config.json").read_text())
    ae_meta["optimizers"] = {}
    (tmp / "autoencoder" / "config.json").write_text(json.dumps(ae_meta, indent=1))
    meta = dict(meta, optimizers={}, description=description)
    meta["weights"] = {key: meta["weights"][key] for key in kept}
    (tmp / "config.json").write_text(json.dumps(meta, indent=1))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest
