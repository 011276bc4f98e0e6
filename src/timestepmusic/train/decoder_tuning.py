"""Tune a likelihood model's decoder to the latents it draws (`tsm tune-decoder`).

A draw of the ar model lies near, not on, the latents the encoder gives real chunks, and the autoencoder
was trained to decode only those (and a little noise around them): a draw a small step off decodes to
pitches scattered over the keyboard (bench/results/exposure.md). Here the model reads real windows of the
training split, draws every chunk given the real chunks before it (teacher-forced, at its own sampling
temperatures), and the decoder learns to decode each draw to the real chunk it stood for — and each real
latent to its chunk, as before (weight `clean_weight`). The encoder, the generator and the normaliser stay
frozen, so the model's latents keep their meaning; only what they decode to moves. The tuned decoder is
saved with a copy of the model (the autoencoder's fine-tuned weights, as a GAN run that tunes its
autoencoder saves them), which `tsm generate --model OUT` then uses.
Shapes: B windows, T ≤ context steps, L latent, V valid chunks, N max set size, D features.
"""
from __future__ import annotations

import logging
import math
import shutil
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ..checkpoint import autoencoder_beside, start_run_folder, write_checkpoint
from ..checks import check_corpus_matches
from ..corpus import Corpus
from ..generation import GANModel
from ..sequence.windows import split_samplers
from .budget import Budget
from .finetune import RealLatents, weights_hash
from .log import MetricsLog

log = logging.getLogger(__name__)
DECODER_PARTS = ("size_head", "decoder_key", "decoder_element")  # PISA modules that decoding runs through
VALIDATION_WINDOWS = 64


def copy_folder(source: Path, dest: Path) -> None:
    """Copy a checkpoint folder whole, appearing at `dest` only once complete."""
    tmp = dest.parent / f".{dest.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    tmp.rename(dest)


def decoder_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for name in DECODER_PARTS for p in getattr(model, name).parameters()]


class DrawPairs:
    """Teacher-forced draws of a likelihood model paired with the real chunks they stand for."""

    def __init__(self, model: GANModel, corpus: Corpus):
        self.model, self.ae = model, model.ae
        self.real = RealLatents(corpus, model.ae, model.normaliser, cached=None)
        self.train_windows, self.val_windows = split_samplers(corpus, model.arm.generator.context, 0.0)

    @torch.no_grad()
    def __call__(self, windows, rng: torch.Generator):
        """RealBatch of B windows → (drawn latents [V, L], real latents [V, L], rank-sorted real sets [V, N, D],
        their sizes [V]), over the windows' valid chunks."""
        valid = windows.mask > 0.5  # [B, T]
        sets = self.real.sets(windows.rows[valid])  # V padded sets
        features = self.ae.features(sets)  # [V, N, D]
        latent, x_sorted = self.ae.model.encode(features, sets.sizes)  # [V, L], [V, N, D]
        x = torch.zeros(*valid.shape, latent.shape[-1])  # [B, T, L] standardised, zero past a track's end
        x[valid] = self.model.normaliser.forward(latent.float().cpu())
        arm, net = self.model.arm, self.model.arm.generator
        density, _ = net(x)  # each [B, T, …]
        b, t, dims = x.shape
        drawn = net.sample(tuple(d.flatten(0, 1) for d in density), arm.temperature, rng,
                           arm.mixture_temperature).view(b, t, dims)  # [B·T, L] → [B, T, L]
        return self.model.normaliser.inverse(drawn[valid]), latent, x_sorted, sets.sizes


def tune_decoder(model_path: str | Path, corpus_path: str | Path, out: str | Path, *, steps: int = 2000,
                 batch: int = 8, lr: float = 1e-4, clean_weight: float = 1.0, seed: int = 0,
                 max_seconds: float | None = None, overwrite: bool = False, progress: bool = True) -> dict:
    """Tune the decoder of the likelihood model `model_path` (run, checkpoint or shipped name) on the training
    split of `corpus_path` (the corpus its autoencoder was trained on) for `steps` steps of `batch` windows;
    write OUT/autoencoder (its base autoencoder) and OUT/last = OUT/best (the model, tuned). Returns the last
    metrics."""
    model = GANModel.load(model_path)
    if not getattr(model.arm, "tempered", False):
        raise ValueError(f"{model_path}: a {model.arch} model; tune-decoder needs a likelihood (ar) model, "
                         "which draws each chunk given the real ones before it")
    corpus = Corpus.open(corpus_path)
    check_corpus_matches(model.ae.meta, corpus, "the model's autoencoder")
    out = Path(out)
    start_run_folder(out, overwrite=overwrite)
    ae = model.ae
    copy_folder(autoencoder_beside(model.folder), out / "autoencoder")  # the base; "last" carries the tuned weights
    torch.manual_seed(seed)
    pairs = DrawPairs(model, corpus)
    rng, val_rng = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    validation = [pairs(pairs.val_windows.sample(batch, val_rng), val_rng)
                  for _ in range(math.ceil(VALIDATION_WINDOWS / batch))]  # fixed draws, so figures compare
    optimizer = torch.optim.Adam(decoder_parameters(ae.model), lr=lr)
    size_weight = ae.config.ae.size_loss_weight
    metrics = MetricsLog(out / "metrics.jsonl")

    def losses(drawn, latent, x_sorted, sizes) -> tuple[torch.Tensor, torch.Tensor]:
        on_draws, _ = ae.model.decode_loss(drawn, x_sorted, sizes, ae.encoding, size_weight)
        on_real, _ = ae.model.decode_loss(latent, x_sorted, sizes, ae.encoding, size_weight)
        return on_draws, on_real

    def held_out() -> dict[str, float]:
        ae.model.eval()
        with torch.no_grad():
            parts = [losses(*pair) for pair in validation]
        ae.model.train()
        return {"val_draw_loss": sum(float(d) for d, _ in parts) / len(parts),
                "val_real_loss": sum(float(r) for _, r in parts) / len(parts)}

    def save(step: int, figures: dict) -> None:
        meta = {key: value for key, value in model.meta.items() if key not in ("weights", "optimizers")}
        meta["autoencoder"] = {"weights_sha256": model.meta["autoencoder"]["weights_sha256"],
                               "finetuned_sha256": weights_hash(ae.model)}
        meta["decoder_tuned"] = {"from": str(model_path), "steps": step, "batch": batch, "lr": lr,
                                 "clean_weight": clean_weight, "seed": seed,
                                 "temperature": model.arm.temperature,
                                 "mixture_temperature": model.arm.mixture_temperature,
                                 "corpus": {"root": str(corpus.root), "key": corpus.manifest["key"]}} | figures
        for name in ("last", "best"):
            write_checkpoint(out, name, meta, {"generator": model.arm.generator, "autoencoder": ae.model})

    first = held_out()
    log.info("before tuning: %s", first)
    metrics.write({"step": 0} | first)
    budget = Budget(steps, max_seconds)
    ae.model.train()
    step, last, started = 0, first, time.perf_counter()
    bar = tqdm(total=steps, unit="step", disable=not progress, desc="tune decoder")
    while not budget.spent_here(step):
        on_draws, on_real = losses(*pairs(pairs.train_windows.sample(batch, rng), rng))
        loss = on_draws + clean_weight * on_real
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        bar.update()
        if step % 250 == 0 or budget.spent_here(step):
            last = {"step": step, "draw_loss": float(on_draws.detach()), "real_loss": float(on_real.detach()), **held_out(),
                    "steps_per_s": step / (time.perf_counter() - started)}
            metrics.write(last)
            bar.set_postfix(draws=f"{last['val_draw_loss']:.3f}", real=f"{last['val_real_loss']:.3f}")
            save(step, {"before": first, "after": {k: last[k] for k in ("val_draw_loss", "val_real_loss")}})
    bar.close()
    return last
