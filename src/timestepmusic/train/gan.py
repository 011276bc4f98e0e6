"""Train the convolutional WGAN-GP over windows of standardised chunk latents; the autoencoder is
frozen, or with `gan.finetune_ae` fine-tuned jointly (train/finetune.py).

Per generator step: `critic_steps` critic updates on WGAN loss + gp_weight · gradient penalty
(lazily every `gp_every` critic steps, scaled by `gp_every` as in StyleGAN2, so that the expected
penalty is unchanged), then one generator update on −critic + fm_weight · feature matching.
Windows are drawn from one torch.Generator whose state is checkpointed, so resume is exact.
Shapes: B windows, L latent, T chunks per window, K codebook latents.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..autoencoder import Autoencoder, pick_device
from ..checkpoint import load_rng, read_meta, restore_training, write_checkpoint
from ..config import Config
from ..corpus import Corpus
from ..gan.conv import Critic, Generator, gradient_penalty
from ..latents import CODEBOOK, Normaliser, cached_latents, codebook_rows, window_starts, write_codebook
from ..midi import write_events
from .ae import check_corpus_matches
from .budget import Budget
from .distributed import from_environment
from .finetune import CodebookWeights, RealLatents, feature_matching, generator_update, weights_hash
from .log import MetricsLog

log = logging.getLogger(__name__)
VALIDATION_WINDOWS = 256
AE_VALIDATION_CHUNKS = 4096  # held-out chunks on which a fine-tuned autoencoder's drift is watched
SAMPLES_PER_CHECK = 4


class WindowSampler:
    """Random windows of `window` chunks, never across a track boundary: their chunk rows [B, T],
    or (given cached standardised latents [C, L]) the windows themselves [B, L, T]."""

    def __init__(self, latents: torch.Tensor | None, starts: np.ndarray, window: int):
        self.latents = latents  # [C, L], standardised; None when the latents are encoded on the fly
        device = latents.device if latents is not None else "cpu"
        self.starts = torch.from_numpy(starts).to(device)
        self.offsets = torch.arange(window, device=device)
        if self.starts.numel() == 0:
            raise ValueError(f"no track is at least {window} chunks long; lower gan.window_chunks")

    def draw(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """Window indices [B]."""
        return torch.randint(self.starts.numel(), (batch,), generator=generator)

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        return self.starts[index.to(self.starts.device)][:, None] + self.offsets  # [B, T]

    def windows(self, index: torch.Tensor) -> torch.Tensor:
        return self.latents[self.rows(index)].transpose(1, 2)  # [B, L, T]

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        return self.windows(self.draw(batch, generator))


def autoencoder_for_run(out: Path, ae_path: str | Path | None, meta: dict | None,
                        config: Config | None) -> tuple[Autoencoder, Config]:
    """The frozen autoencoder a GAN run trains over, and the run's config.

    Resuming (`meta` given): the run's own copy in RUN/autoencoder, checked against the hash its
    checkpoint recorded, and the saved config. Otherwise: `ae_path`'s best checkpoint (else its last),
    with the autoencoder's settings copied into `config`.
    """
    if meta is not None:
        ae = Autoencoder.load(out / "autoencoder")
        if ae.weights_sha256 != meta["autoencoder"]["weights_sha256"]:
            raise ValueError(f"{out}: its autoencoder copy does not match the hash recorded in its checkpoint")
        return ae, Config.from_dict(meta["config"])
    if ae_path is None:
        raise ValueError("train-gan needs --ae RUN (a trained autoencoder) unless resuming")
    ae = Autoencoder.load(Path(ae_path) / "best" if (Path(ae_path) / "best").is_dir() else ae_path)
    config = (config or Config()).override({"ae." + k: v for k, v in ae.config.ae.__dict__.items()}
                                           | {"encoding.encoding": ae.config.encoding.encoding})
    return ae, config


def train_gan(corpus_path: str | Path, ae_path: str | Path | None, out: str | Path, config: Config | None = None, *,
              resume: bool = False, progress: bool = True, max_steps: int | None = None,
              max_seconds: float | None = None, steps: int | None = None,
              compile_model: bool | None = None) -> dict:
    """Train (or with `resume`, continue) a convolutional GAN run in `out`; returns the last metrics."""
    out = Path(out)
    corpus = Corpus.open(corpus_path)
    meta = None
    if resume:
        folder, meta = read_meta(out / "last")
        if meta.get("kind") != "gan":
            raise ValueError(f"{folder}: not a GAN run")
    ae, config = autoencoder_for_run(out, ae_path, meta, config)
    config = config.override({"gan.steps": steps, "gan.compile": compile_model})  # None leaves a setting as it is
    check_corpus_matches(ae.meta, corpus, "the autoencoder")
    g = config.gan
    ranks, device_name = from_environment(g.device)
    device = pick_device(device_name)
    progress = progress and ranks.main
    if not resume and ranks.main:  # the run keeps its own copy of the starting autoencoder; checkpoints name it by hash
        write_checkpoint(out, "autoencoder", ae.meta, {"pisa": ae.model})
    ranks.barrier()
    base_sha = ae.weights_sha256
    ae.model.to(device)

    train_starts = window_starts(corpus, "train", g.window_chunks)
    val_starts = window_starts(corpus, "validation", g.window_chunks)
    if val_starts.size == 0:
        log.warning("no validation windows of %d chunks; the held-out estimate uses training windows", g.window_chunks)
        val_starts = train_starts
    train_rows = np.concatenate([np.arange(corpus.track_chunk_ptr[t], corpus.track_chunk_ptr[t + 1])
                                 for t in corpus.tracks_in("train")])
    # frozen: every chunk encoded once (cached); fine-tuning: encoded once only to fit the normaliser,
    # which then stays fixed so that the generator's output scale does not move under it
    latents_np = cached_latents(ae, corpus, out) if meta is None or not g.finetune_ae else None  # [C, L]
    normaliser = Normaliser.from_dict(meta["normaliser"]) if meta else Normaliser.fit(latents_np[train_rows])
    book_rows = codebook_rows(train_rows, seed=g.seed)  # nearest real chunks, for snapped decoding
    if ranks.main and not g.finetune_ae and not (out / CODEBOOK).is_file():
        write_codebook(out / CODEBOOK, torch.from_numpy(latents_np[book_rows]))
    cached = None if g.finetune_ae else normaliser.forward(torch.from_numpy(latents_np).to(device))  # [C, L]
    real_latents = RealLatents(corpus, ae, normaliser, cached, ranks)
    train_windows = WindowSampler(cached, train_starts, g.window_chunks)
    val_windows = WindowSampler(cached, val_starts, g.window_chunks)

    torch.manual_seed(g.seed)
    generator = Generator(noise=g.noise, latent=ae.model.latent, channels=g.channels, window=g.window_chunks).to(device)
    critic = Critic(latent=ae.model.latent, channels=g.channels, window=g.window_chunks).to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=g.lr, betas=g.betas, fused=True)  # one kernel per step
    opt_c = torch.optim.Adam(critic.parameters(), lr=g.lr, betas=g.betas, fused=True)
    opt_ae = torch.optim.Adam(ae.model.parameters(), lr=g.ae_lr) if g.finetune_ae else None
    rng = torch.Generator().manual_seed(g.seed)
    step, best = 0, math.inf
    trained = {"generator": generator, "critic": critic} | ({"autoencoder": ae.model} if opt_ae else {})
    optimizers = {"generator": opt_g, "critic": opt_c} | ({"autoencoder": opt_ae} if opt_ae else {})
    if meta is not None:
        restore_training(out / "last", meta, trained, optimizers)
        rng.set_state(load_rng(out / "last")["windows"])
        step, best = meta["step"], meta["best_val_wasserstein"]
    if g.compile:  # in place: the state dict keeps its names; the critic stays eager (double backward)
        generator.compile()
    fixed_noise = torch.randn(SAMPLES_PER_CHECK, g.noise, generator=torch.Generator().manual_seed(g.seed + 1)).to(device)
    val_gen = torch.Generator().manual_seed(g.seed + 2)
    val_rows = val_windows.rows(val_windows.draw(VALIDATION_WINDOWS, val_gen))  # [V, T]
    val_noise = torch.randn(VALIDATION_WINDOWS, g.noise, generator=val_gen).to(device)
    ae_val_rows = torch.from_numpy(np.random.default_rng(g.seed + 3).permutation(
        np.unique(val_rows.cpu().numpy()))[:AE_VALIDATION_CHUNKS]) if g.finetune_ae else None
    metrics = MetricsLog(out / "metrics.jsonl", resumed_at=step if meta else None)
    trained_seconds = meta["trained"]["seconds"] if meta else 0.0

    tuned_at: dict[int, tuple[CodebookWeights, str]] = {}  # step → (codebook, hash): `best` and `last` share them

    def save(name: str, extra: dict | None = None) -> None:
        if not ranks.main:
            return
        models, tuned = trained, {}
        if opt_ae is not None:  # the tuned autoencoder and the codebook its own encoder gives (50k chunks encoded)
            if step not in tuned_at:
                tuned_at.clear()
                tuned_at[step] = (CodebookWeights(real_latents.encode(torch.from_numpy(book_rows))),
                                  weights_hash(ae.model))
            codebook, tuned_sha = tuned_at[step]
            models, tuned = trained | {"codebook": codebook}, {"finetuned_sha256": tuned_sha}
        write_checkpoint(out, name, {
            "kind": "gan", "arch": "conv", "config": config.to_dict(), "generator": generator.sizes_of(),
            "critic": critic.sizes_of(), "normaliser": normaliser.to_dict(), "step": step,
            "best_val_wasserstein": best, "autoencoder": {"weights_sha256": base_sha} | tuned,
            "corpus": {"root": str(corpus.root), "key": corpus.manifest["key"], "tracks": corpus.num_tracks,
                       "hours": sum(t["duration_s"] for t in corpus.tracks) / 3600},
            "trained": {"steps": step, "seconds": trained_seconds + time.perf_counter() - budget.started,
                        "device": str(device), "world_size": ranks.world} | (extra or {})},
            models, optimizers, {"windows": rng.get_state()})

    @torch.no_grad()
    def held_out() -> dict:
        critic.eval(), generator.eval()
        real = real_latents(val_rows).transpose(1, 2)  # [V, L, T]
        result = {"val_wasserstein": float(critic(real)[0].mean() - critic(generator(val_noise))[0].mean())}
        critic.train(), generator.train()
        if ae_val_rows is not None:
            result["ae_val_loss"] = real_latents.reconstruction_loss(ae_val_rows)
        return result

    def write_samples() -> None:
        generator.eval()
        with torch.no_grad():
            windows = normaliser.inverse(generator(fixed_noise).transpose(1, 2))  # [S, T, L]
        generator.train()
        folder = out / "samples" / f"step_{step:06d}"
        for i, window in enumerate(windows):
            write_events(ae.decode_events(window), folder / f"sample_{i}.mid")

    budget = Budget(max_steps, max_seconds)
    total = g.steps
    bar = tqdm(total=total, initial=step, desc="gan", unit="step", disable=not progress)
    critic_count, rate_start, rate_steps = 0, time.perf_counter(), 0
    last = {}
    try:
        while step < total:
            # Every rank draws the same global batch from the shared stream and works on its slice;
            # sums are divided by the global batch size and scaled by the world size, so averaging
            # the ranks' gradients gives the single-process gradient exactly.
            scale = ranks.world / g.batch
            for _ in range(g.critic_steps):
                mine = ranks.shard(torch.arange(g.batch))
                real = real_latents(train_windows.rows(train_windows.draw(g.batch, rng)[mine])).transpose(1, 2)  # [b, L, T]
                noise = torch.randn(g.batch, g.noise, generator=rng)[mine].to(device)
                eps = torch.rand(g.batch, generator=rng)[mine]
                with torch.no_grad():
                    fake = generator(noise)
                real_score, _ = critic(real)
                fake_score, _ = critic(fake)
                loss_c = (fake_score.sum() - real_score.sum()) * scale
                wasserstein = -float(loss_c.detach()) / ranks.world
                critic_count += 1
                if g.gp_weight > 0 and critic_count % g.gp_every == 0:
                    penalty = gradient_penalty(critic, real, fake, eps).sum() * scale
                    loss_c = loss_c + g.gp_weight * g.gp_every * penalty
                opt_c.zero_grad(set_to_none=True)
                loss_c.backward()
                ranks.average_gradients(critic.parameters())
                opt_c.step()
            mine = ranks.shard(torch.arange(g.batch))
            rows = train_windows.rows(train_windows.draw(g.batch, rng)[mine])  # [b, T]
            noise = torch.randn(g.batch, g.noise, generator=rng)[mine].to(device)
            fake_score, fake_features = critic(generator(noise))
            ae_loss = None
            if opt_ae is not None:  # differentiable in the encoder: reconstruction loss + feature-matching signal
                real, ae_loss = real_latents(rows, weight=g.ae_weight)
                _, real_features = critic(real.transpose(1, 2))
            else:
                with torch.no_grad():
                    _, real_features = critic(real_latents(rows).transpose(1, 2))
            fake_mean, real_mean = fake_features.sum(0) / g.batch, real_features.sum(0) / g.batch  # [F]
            # global means; the differentiable all-reduce sums gradients back to every slice
            fake_mean, real_mean = ranks.sum_differentiable(fake_mean), ranks.sum_differentiable(real_mean)
            matching, towards_fake = feature_matching(fake_mean, real_mean, g.ae_gan_weight)
            loss_g = -fake_score.sum() * scale + g.fm_weight * matching
            generator_update(loss_g + towards_fake, ae_loss, generator, opt_g, ae.model, opt_ae, ranks)
            loss_c, loss_g, matching = float(loss_c.detach()), float(loss_g.detach()), float(matching.detach())
            step += 1
            rate_steps += 1
            bar.update()
            if step % 10 == 0:
                rate = rate_steps * g.critic_steps / max(time.perf_counter() - rate_start, 1e-9)
                bar.set_postfix(critic=f"{loss_c:.3f}", gen=f"{loss_g:.3f}", w=f"{wasserstein:.3f}",
                                critic_steps_s=f"{rate:.1f}")
            if ranks.main and (step % g.validate_every == 0 or step == total):
                last = {"step": step, "critic_loss": loss_c, "generator_loss": loss_g, "wasserstein": wasserstein,
                        "feature_matching": matching} | held_out() | \
                       {"critic_steps_per_s": rate_steps * g.critic_steps / max(time.perf_counter() - rate_start, 1e-9)}
                if ae_loss is not None:
                    last["ae_loss"] = float(ae_loss.detach()) * ranks.world / max(g.ae_weight, 1e-12)
                rate_start, rate_steps = time.perf_counter(), 0
                best = record_validation(last, best, metrics, save)
            if ranks.main and g.sample_every and step % g.sample_every == 0:
                write_samples()
            if budget.spent(step, ranks):
                return stop_early(save, metrics, ranks.main, step, last)
    except KeyboardInterrupt:
        save("last")
        log.warning("interrupted: saved %s/last at step %d", out, step)
        raise
    finally:
        bar.close()
    return last


def record_validation(last: dict, best: float, metrics: MetricsLog, save) -> float:
    """Log a validation record, save `best` when its held-out |Wasserstein| is the lowest so far, then
    `last`; returns the new lowest."""
    metrics.write(last)
    if abs(last["val_wasserstein"]) < best:
        best = abs(last["val_wasserstein"])
        save("best")
    save("last")
    return best


def stop_early(save, metrics: MetricsLog, main: bool, step: int, last: dict) -> dict:
    """The end of a run whose budget is spent before gan.steps: `last` written, the stop logged."""
    save("last")
    if main:
        metrics.write({"event": "stopped", "step": step})
    return last | {"step": step, "stopped": True}
