"""Train the convolutional WGAN-GP over windows of standardised chunk latents, autoencoder frozen.

Per generator step: `critic_steps` critic updates on WGAN loss + gp_weight · gradient penalty
(lazily every `gp_every` critic steps, scaled by `gp_every` as in StyleGAN2, so that the expected
penalty is unchanged), then one generator update on −critic + fm_weight · feature matching.
Windows are drawn from one torch.Generator whose state is checkpointed, so resume is exact.
Shapes: B windows, L latent, T chunks per window.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed.nn
from tqdm import tqdm

from ..autoencoder import Autoencoder, pick_device
from ..checkpoint import load_optimizer, load_rng, load_weights, read_meta, write_checkpoint
from ..config import Config
from ..corpus import Corpus
from ..gan.conv import Critic, Generator, gradient_penalty
from ..latents import CODEBOOK, Normaliser, build_codebook, cached_latents, window_starts, write_codebook
from ..midi import write_events
from .ae import check_corpus_matches
from .distributed import from_environment
from .log import MetricsLog

log = logging.getLogger(__name__)
VALIDATION_WINDOWS = 256
SAMPLES_PER_CHECK = 4


class WindowSampler:
    """Random windows [B, L, T] of standardised latents; never across a track boundary."""

    def __init__(self, latents: torch.Tensor, starts: np.ndarray, window: int):
        self.latents = latents  # [C, L], standardised
        self.starts = torch.from_numpy(starts).to(latents.device)
        self.offsets = torch.arange(window, device=latents.device)
        if self.starts.numel() == 0:
            raise ValueError(f"no track is at least {window} chunks long; lower gan.window_chunks")

    def windows(self, index: torch.Tensor) -> torch.Tensor:
        rows = self.starts[index.to(self.starts.device)][:, None] + self.offsets  # [B, T]
        return self.latents[rows].transpose(1, 2)  # [B, L, T]

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        return self.windows(torch.randint(self.starts.numel(), (batch,), generator=generator))


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
              max_seconds: float | None = None, steps: int | None = None) -> dict:
    out = Path(out)
    corpus = Corpus.open(corpus_path)
    meta = None
    if resume:
        folder, meta = read_meta(out / "last")
        if meta.get("kind") != "gan":
            raise ValueError(f"{folder}: not a GAN run")
    ae, config = autoencoder_for_run(out, ae_path, meta, config)
    if steps is not None:
        config = config.override({"gan.steps": steps})
    check_corpus_matches(ae.meta, corpus, "the autoencoder")
    g = config.gan
    ranks, device_name = from_environment(g.device)
    device = pick_device(device_name)
    progress = progress and ranks.main
    if not resume and ranks.main:  # the run keeps its own copy of the frozen autoencoder; checkpoints name it by hash
        write_checkpoint(out, "autoencoder", ae.meta, {"pisa": ae.model})
    ranks.barrier()
    ae.model.to(device)

    latents_np = cached_latents(ae, corpus, out)  # [C, L]
    train_starts = window_starts(corpus, "train", g.window_chunks)
    val_starts = window_starts(corpus, "validation", g.window_chunks)
    if val_starts.size == 0:
        log.warning("no validation windows of %d chunks; the held-out estimate uses training windows", g.window_chunks)
        val_starts = train_starts
    train_rows = np.concatenate([np.arange(corpus.track_chunk_ptr[t], corpus.track_chunk_ptr[t + 1])
                                 for t in corpus.tracks_in("train")])
    normaliser = Normaliser.from_dict(meta["normaliser"]) if meta else Normaliser.fit(latents_np[train_rows])
    if ranks.main and not (out / CODEBOOK).is_file():  # nearest real chunks, for snapped decoding
        write_codebook(out / CODEBOOK, build_codebook(latents_np, train_rows, seed=g.seed))
    latents = normaliser.forward(torch.from_numpy(latents_np).to(device))  # [C, L]
    train_windows = WindowSampler(latents, train_starts, g.window_chunks)
    val_windows = WindowSampler(latents, val_starts, g.window_chunks)

    torch.manual_seed(g.seed)
    generator = Generator(noise=g.noise, latent=ae.model.latent, channels=g.channels, window=g.window_chunks).to(device)
    critic = Critic(latent=ae.model.latent, channels=g.channels, window=g.window_chunks).to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=g.lr, betas=g.betas, fused=True)  # one kernel per step
    opt_c = torch.optim.Adam(critic.parameters(), lr=g.lr, betas=g.betas, fused=True)
    rng = torch.Generator().manual_seed(g.seed)
    step, best = 0, math.inf
    if meta is not None:
        folder = out / "last"
        load_weights(folder, "generator", generator)
        load_weights(folder, "critic", critic)
        load_optimizer(folder, "generator", meta, opt_g)
        load_optimizer(folder, "critic", meta, opt_c)
        rng.set_state(load_rng(folder)["windows"])
        step, best = meta["step"], meta["best_val_wasserstein"]
    fixed_noise = torch.randn(SAMPLES_PER_CHECK, g.noise, generator=torch.Generator().manual_seed(g.seed + 1)).to(device)
    val_gen = torch.Generator().manual_seed(g.seed + 2)
    val_real = val_windows.windows(torch.randint(val_windows.starts.numel(), (VALIDATION_WINDOWS,), generator=val_gen))
    val_noise = torch.randn(VALIDATION_WINDOWS, g.noise, generator=val_gen).to(device)
    metrics = MetricsLog(out / "metrics.jsonl")
    trained_seconds = meta["trained"]["seconds"] if meta else 0.0

    def save(name: str, extra: dict | None = None) -> None:
        if not ranks.main:
            return
        write_checkpoint(out, name, {
            "kind": "gan", "arch": "conv", "config": config.to_dict(), "generator": generator.sizes_of(),
            "critic": critic.sizes_of(), "normaliser": normaliser.to_dict(), "step": step,
            "best_val_wasserstein": best, "autoencoder": {"weights_sha256": ae.weights_sha256},
            "corpus": {"root": str(corpus.root), "key": corpus.manifest["key"], "tracks": corpus.num_tracks,
                       "hours": sum(t["duration_s"] for t in corpus.tracks) / 3600},
            "trained": {"steps": step, "seconds": trained_seconds + time.perf_counter() - started,
                        "device": str(device), "world_size": ranks.world} | (extra or {})},
            {"generator": generator, "critic": critic}, {"generator": opt_g, "critic": opt_c},
            {"windows": rng.get_state()})

    @torch.no_grad()
    def held_out_wasserstein() -> float:
        critic.eval(), generator.eval()
        w = float(critic(val_real)[0].mean() - critic(generator(val_noise))[0].mean())
        critic.train(), generator.train()
        return w

    def write_samples() -> None:
        generator.eval()
        with torch.no_grad():
            windows = normaliser.inverse(generator(fixed_noise).transpose(1, 2))  # [S, T, L]
        generator.train()
        folder = out / "samples" / f"step_{step:06d}"
        for i, window in enumerate(windows):
            write_events(ae.decode_events(window), folder / f"sample_{i}.mid")

    started = time.perf_counter()
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
                real = train_windows.sample(g.batch, rng)[mine.to(device)]  # [b, L, T]
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
            real = train_windows.sample(g.batch, rng)[mine.to(device)]
            noise = torch.randn(g.batch, g.noise, generator=rng)[mine].to(device)
            fake_score, fake_features = critic(generator(noise))
            with torch.no_grad():
                _, real_features = critic(real)
            fake_mean, real_mean = fake_features.sum(0) / g.batch, real_features.sum(0) / g.batch  # [F]
            if ranks.active:  # global means; the differentiable all-reduce sums gradients back to every slice
                fake_mean = torch.distributed.nn.functional.all_reduce(fake_mean)
                torch.distributed.all_reduce(real_mean)
            matching = ((fake_mean - real_mean) ** 2).mean()
            loss_g = -fake_score.sum() * scale + g.fm_weight * matching
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            ranks.average_gradients(generator.parameters())
            opt_g.step()
            loss_c, loss_g, matching = float(loss_c.detach()), float(loss_g.detach()), float(matching.detach())
            step += 1
            rate_steps += 1
            bar.update()
            if step % 10 == 0:
                rate = rate_steps * g.critic_steps / max(time.perf_counter() - rate_start, 1e-9)
                bar.set_postfix(critic=f"{loss_c:.3f}", gen=f"{loss_g:.3f}", w=f"{wasserstein:.3f}",
                                critic_steps_s=f"{rate:.1f}")
            if ranks.main and (step % g.validate_every == 0 or step == total):
                val_w = held_out_wasserstein()
                last = {"step": step, "critic_loss": loss_c, "generator_loss": loss_g,
                        "wasserstein": wasserstein, "val_wasserstein": val_w, "feature_matching": matching,
                        "critic_steps_per_s": rate_steps * g.critic_steps / max(time.perf_counter() - rate_start, 1e-9)}
                rate_start, rate_steps = time.perf_counter(), 0
                metrics.write(last)
                if abs(val_w) < best:
                    best = abs(val_w)
                    save("best")
                save("last")
            if ranks.main and g.sample_every and step % g.sample_every == 0:
                write_samples()
            stop = (max_steps is not None and step >= max_steps) or \
                   (max_seconds is not None and time.perf_counter() - started >= max_seconds)
            if ranks.active:
                flag = torch.tensor([float(stop)])
                torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
                stop = bool(flag[0])
            if stop:
                save("last")
                if ranks.main:
                    metrics.write({"event": "stopped", "step": step})
                return last | {"step": step, "stopped": True}
    except KeyboardInterrupt:
        save("last")
        log.warning("interrupted: saved %s/last at step %d", out, step)
        raise
    finally:
        bar.close()
    return last
