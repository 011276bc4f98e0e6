"""A trained PISA with everything needed to use it: encoding, chunking, sizes. Sets ⇄ latents ⇄ events.

Shapes: B chunks, N events per chunk, D features, L latent, T chunks in a sequence.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .batches import SetBatch
from .checkpoint import load_weights, read_meta
from .chunks import Chunked, chunk_events
from .config import Config
from .devices import pick_device, rng_kept  # (pick_device also re-exported: it lived here before devices.py)
from .encoding import Encoding
from .holds import join_pedal_runs, merge_restrikes
from .midi import Events
from .pisa import PISA
from .ragged import group_of, positions_in_groups
from .shipped import resolve_model
from .stage_configs import AEConfig

# the decode settings of checkpoints that do not name theirs (ae.decode_pedal_join_s, ae.decode_z_max,
# ae.decode_restrikes; chosen on validation for the shipped autoencoder: latent-space.md, quality.md)
PEDAL_JOIN_S = AEConfig.decode_pedal_join_s
RESTRIKES = AEConfig.decode_restrikes
DURATION_Z_MAX = AEConfig.decode_z_max


@dataclass
class Autoencoder:
    """A trained set autoencoder (PISA) with its encoding: each 0.25 s chunk's set of events ⇄ a latent.
    `Autoencoder.load(path)` reads a run or a shipped one ("ae-latent75"); `encode_events(events)` gives a
    performance's latents [T, L], `decode_events(latents)` its events, `reconstruct(events)` both ways."""

    model: PISA
    encoding: Encoding
    config: Config
    weights_sha256: str
    meta: dict
    pedal_join_s: float = PEDAL_JOIN_S
    restrikes: str = RESTRIKES  # ae.decode_restrikes

    @property
    def chunk_seconds(self) -> float:
        return self.encoding.chunk_seconds

    @property
    def max_events(self) -> int:
        return self.model.max_events

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @classmethod
    @rng_kept  # (PISA is built, its initial weights drawn, before the trained ones are loaded over them)
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> "Autoencoder":
        folder, meta = read_meta(path)
        if meta.get("kind") != "autoencoder":
            raise ValueError(f"{folder}: not an autoencoder checkpoint (kind={meta.get('kind')!r})")
        model = PISA(**meta["model"])
        load_weights(folder, "pisa", model)
        model.eval().to(device)
        encoding = Encoding.from_dict(meta["encoding"])
        config = Config.from_dict(meta["config"])
        encoding.decode_z_max = config.ae.decode_z_max or None
        return cls(model, encoding, config, meta["weights"]["pisa"], meta, config.ae.decode_pedal_join_s,
                   config.ae.decode_restrikes)

    def for_gan(self, folder: Path, meta: dict) -> "Autoencoder":
        """The autoencoder that decodes the GAN checkpoint in `folder` (config `meta`): this one, which must
        be the one the run started from (weights hash), or, where the run fine-tuned it, the tuned weights
        saved there (autoencoder.safetensors, hash checked) loaded over it."""
        wanted = meta["autoencoder"]["weights_sha256"]
        if self.weights_sha256 != wanted:
            raise ValueError(f"{folder}: this GAN was trained on autoencoder {wanted[:12]}…, "
                             f"but the autoencoder given is {self.weights_sha256[:12]}…; they do not belong together")
        tuned = meta["autoencoder"].get("finetuned_sha256")
        if tuned is None:
            return self
        if meta["weights"].get("autoencoder") != tuned:
            raise ValueError(f"{folder}: autoencoder.safetensors does not have the fine-tuned hash in config.json")
        load_weights(folder, "autoencoder", self.model)
        return Autoencoder(self.model, self.encoding, self.config, tuned, self.meta, self.pedal_join_s, self.restrikes)

    def features(self, batch: SetBatch) -> torch.Tensor:
        """Padded sets → encoded features [B, N, D]."""
        return self.encoding.encode(batch.ids, batch.offset_s, batch.duration_s, batch.intensity)

    @torch.no_grad()
    def encoder_keys(self) -> torch.Tensor:
        """The encoder's key of each rank [N, L] (pisa.PISA.encoder_keys), for `encode` to take while the
        weights stay as they are."""
        return self.model.encoder_keys()

    @torch.no_grad()
    def encode(self, batch: SetBatch, keys: torch.Tensor | None = None) -> torch.Tensor:
        """Padded sets → latents [B, L]; `keys` from `encoder_keys` (None: computed here)."""
        batch = batch.to(self.device)
        latent, _ = self.model.encode(self.features(batch), batch.sizes, keys)
        return latent

    @torch.no_grad()
    def decode_sets(self, latent: torch.Tensor) -> SetBatch:
        """Latents [B, L] → padded sets with the predicted sizes; values clipped to valid ranges."""
        return self.sets_of(*self.model.decode(latent.to(self.device).float()))

    @torch.no_grad()
    def project(self, latent: torch.Tensor) -> torch.Tensor:
        """Latents [B, L] → the latents of the sets they decode to [B, L] (a round trip onto what the encoder
        gives real chunks)."""
        return self.encode(self.decode_sets(latent))

    def sets_of(self, elements: torch.Tensor, size_logits: torch.Tensor) -> SetBatch:
        """The decoder's raw output (elements [B, N, D], size logits [B, N + 1]) → padded sets, values clipped."""
        ids, offset_s, duration_s, intensity = self.encoding.decode(elements)
        return SetBatch(ids, offset_s, duration_s, intensity, size_logits.argmax(-1))

    def decode_events(self, latent: torch.Tensor, start_chunk: int = 0) -> Events:
        """A latent sequence [T, L] (chunk t starts at t · chunk_seconds) → events of one performance."""
        return self.sets_to_events(self.decode_sets(latent), start_chunk)

    def sets_to_events(self, decoded: SetBatch, start_chunk: int = 0) -> Events:
        """Decoded sets [T, N] of consecutive chunks → events, with gaps inside pedal runs closed and a key
        struck again while it sounds read as ae.decode_restrikes says (cut: MIDI's own reading, the first note
        ends at the second strike; drop: the second strike is dropped; join: dropped, the first lasts as long
        as the second would have)."""
        events = join_pedal_runs(sets_to_events(decoded, self.chunk_seconds, start_chunk), self.pedal_join_s)
        return events if self.restrikes == "cut" else merge_restrikes(events, extend=self.restrikes == "join")

    def encode_events(self, events: Events, batch: int = 4096) -> tuple[torch.Tensor, SetBatch]:
        """A performance → the latents of its chunks [C, L] and the capped padded sets they encode."""
        chunked = chunk_events(events, self.chunk_seconds, self.max_events)
        sets = chunked_to_sets(chunked, self.max_events)
        latents = torch.cat([self.encode(SetBatch(*(t[lo:lo + batch] for t in (
            sets.ids, sets.offset_s, sets.duration_s, sets.intensity, sets.sizes))))
            for lo in range(0, sets.sizes.shape[0], batch)])  # [C, L]
        return latents, sets

    def reconstruct(self, events: Events, batch: int = 4096) -> tuple[Events, Events, float]:
        """A performance → (the capped events the model sees, its reconstruction, set-size accuracy)."""
        latents, sets = self.encode_events(events, batch)
        decoded = self.decode_sets(latents)
        size_accuracy = float((decoded.sizes.cpu() == sets.sizes).float().mean())
        return sets_to_events(sets, self.chunk_seconds), self.sets_to_events(decoded), size_accuracy


def chunked_to_sets(chunked: Chunked, max_events: int) -> SetBatch:
    """Capped chunks of one performance → padded sets [C, N] (no Python loop over chunks)."""
    sizes = chunked.sizes
    if sizes.max(initial=0) > max_events:
        raise ValueError(f"chunks hold up to {sizes.max()} events but the model takes {max_events}")
    rank = positions_in_groups(sizes)  # [E] position within its chunk
    row = group_of(sizes)  # [E] its chunk
    shape = (chunked.num_chunks, max_events)
    out = {name: np.zeros(shape, dtype) for name, dtype in
           (("ids", np.int64), ("offset_s", np.float64), ("duration_s", np.float64), ("intensity", np.int64))}
    out["intensity"][:] = 1
    out["ids"][row, rank] = chunked.ids
    out["offset_s"][row, rank] = chunked.offset_s
    out["duration_s"][row, rank] = chunked.duration_s
    out["intensity"][row, rank] = chunked.intensity
    return SetBatch(*(torch.from_numpy(out[k]) for k in ("ids", "offset_s", "duration_s", "intensity")),
                    torch.from_numpy(sizes.astype(np.int64)))


def sets_to_events(sets: SetBatch, chunk_seconds: float, start_chunk: int = 0) -> Events:
    """Padded sets [T, N] of consecutive chunks → events; an empty chunk stays empty."""
    mask = sets.mask.cpu().numpy()  # [T, N]
    t = np.broadcast_to(np.arange(mask.shape[0])[:, None] + start_chunk, mask.shape)
    start = t[mask] * chunk_seconds + sets.offset_s.cpu().numpy()[mask]
    return Events(sets.ids.cpu().numpy()[mask], start, sets.duration_s.cpu().numpy()[mask],
                  np.clip(sets.intensity.cpu().numpy()[mask], 1, 127),
                  mask.shape[0] * chunk_seconds).sorted()


def load_autoencoder(path: str | Path | None = None, device: str | torch.device = "cpu",
                     flag: str = "--ae") -> "Autoencoder":
    """The autoencoder that `path` names or holds: an autoencoder run (its `best`) or checkpoint; a GAN run,
    checkpoint or exported model folder (its autoencoder, with the fine-tuned weights where the GAN tuned it);
    None: the model shipped in the package. `flag`: the option that gave `path`, for the error message."""
    device = pick_device(device) if isinstance(device, str) else device  # auto, and a cuda asked where there is none
    folder, meta, base = autoencoder_named(path, flag)
    if base is None:
        return Autoencoder.load(folder, device)
    return Autoencoder.load(base, device).for_gan(folder, meta)


def autoencoder_named(path: str | Path | None, flag: str = "--ae") -> tuple[Path, dict, Path | None]:
    """What `path` names as an autoencoder (load_autoencoder's reading, shared with train-gan --ae): the checkpoint
    read (an autoencoder run's `best`, else the folder itself; a GAN run's `best`, a GAN checkpoint or model folder),
    its metadata, and for a GAN the folder of the autoencoder it started from (None for an autoencoder)."""
    path = resolve_model(path, flag)
    best = path / "best"
    folder, meta = read_meta(best if (best / "config.json").is_file() or (path / ".best.old").is_dir() else path)
    if meta.get("kind") == "autoencoder":
        return folder, meta, None
    if meta.get("kind") != "gan":
        raise ValueError(f"{folder}: neither an autoencoder nor a GAN checkpoint (kind={meta.get('kind')!r})")
    base = next((p for p in (folder / "autoencoder", folder.parent / "autoencoder") if (p / "config.json").is_file()
                 or (p.parent / ".autoencoder.old").is_dir()), None)
    if base is None:
        raise ValueError(f"{folder}: a GAN checkpoint whose autoencoder is missing (looked in {folder / 'autoencoder'} "
                         f"and {folder.parent / 'autoencoder'})")
    return folder, meta, base


def frozen_autoencoder_folder(path: str | Path, flag: str = "--ae") -> Path:
    """The autoencoder checkpoint a new sequence model trains over when `path` is given as --ae: an autoencoder's,
    or a sequence model's (run, checkpoint, shipped name) own autoencoder, where it was kept frozen (a fine-tuned
    one holds weights that no autoencoder checkpoint has: refused, naming what to give instead)."""
    folder, meta, base = autoencoder_named(path, flag)
    if base is None:
        return folder
    if "finetuned_sha256" in meta.get("autoencoder", {}):
        raise ValueError(f"{flag} {path}: a sequence model that fine-tuned its autoencoder as it trained; give an "
                         "autoencoder (a train-ae run, or a shipped one: ae-latent75), or --init-from "
                         f"{path} to start from the model")
    return base
