"""Train the recurrent attention GAN over variable-length sequences of standardised chunk latents,
with real track endings, optionally fine-tuning the autoencoder jointly.

Real data: a sequence starts at any chunk of a training track and runs `max_chunks` chunks or to the
track's end, where its last step carries the end marker (masked after). Starting anywhere makes the
generator's end hazard the real one (≈ 1 / mean track length per step); since few windows reach an
end, `ending_share` of each batch is drawn among those that do, and every real sequence is weighted
by p/q (uniform over starts / the mixture drawn from), so the critic still estimates the Wasserstein
distance to the real distribution. The loss is that of train/gan.py: WGAN-GP with the per-sample
penalty every `gp_every` critic steps, then −critic + feature matching for the generator, plus
`end_weight` · the cross-entropy of its end head run teacher-forced over the real batch (weighted
the same way), which is how it learns when pieces end (gan/recurrent.py says why not adversarially),
and `free_end_weight` · the cross-entropy of the end head on its own free-running batch against the
real per-step hazard, so that the head does not fire early on output unlike what it was fitted on.

Fine-tuning (`gan.finetune_ae`) works as in the convolutional trainer (train/finetune.py); the tuned
weights are saved with the run and decode its samples. Under torchrun every rank draws the same
global batch and works on its slice, with sums over global counts, as train/gan.py does.
Shapes: B sequences (b on this rank), T ≤ max_chunks steps, L latent, C corpus chunks, F critic features.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..autoencoder import pick_device
from ..checkpoint import load_rng, read_meta, restore_training, write_checkpoint
from ..config import Config, RecurrentConfig
from ..corpus import Corpus
from ..gan.recurrent import (RecurrentGenerator, SequenceCritic, end_loss, free_end_loss,
                             masked_gradient_penalty, sampled_ends)
from ..latents import Normaliser, cached_latents
from ..midi import write_events
from .ae import check_corpus_matches
from .budget import Budget
from .distributed import from_environment
from .finetune import RealLatents, feature_matching, generator_update, weights_hash
from .gan import autoencoder_for_run, record_validation, stop_early
from .log import MetricsLog

log = logging.getLogger(__name__)
VALIDATION_SEQUENCES = 256
AE_VALIDATION_CHUNKS = 4096
SAMPLES_PER_CHECK = 4


@dataclass
class RealBatch:
    rows: torch.Tensor  # [B, T] global chunk index (clamped to the track's last chunk past the end)
    mask: torch.Tensor  # [B, T] 1 = a step of the sequence
    end: torch.Tensor  # [B, T] 1 at the track's last chunk
    weight: torch.Tensor  # [B] importance weight p/q (mean 1 under the mixture)

    def take(self, index: torch.Tensor) -> "RealBatch":
        """The sequences at `index` [b] (this rank's slice)."""
        return RealBatch(self.rows[index], self.mask[index], self.end[index], self.weight[index])

    def to(self, device: torch.device) -> "RealBatch":
        return RealBatch(*(x.to(device) for x in (self.rows, self.mask, self.end, self.weight)))


class SequenceSampler:
    """Real sequences of up to T chunks starting at any chunk of the given tracks."""

    def __init__(self, corpus: Corpus, tracks: np.ndarray, max_chunks: int, ending_share: float):
        ptr = np.array(corpus.track_chunk_ptr, dtype=np.int64)
        first, count = ptr[tracks], ptr[tracks + 1] - ptr[tracks]  # [K]
        within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        self.start = torch.from_numpy(np.repeat(first, count) + within)  # [N] global chunk of every start
        self.remaining = torch.from_numpy(np.repeat(count, count) - within)  # [N] chunks to the track's end
        if self.start.numel() == 0:
            raise ValueError(f"corpus {corpus.root}: no chunks in the tracks to sample sequences from")
        self.ending = torch.nonzero(self.remaining <= max_chunks).squeeze(1)  # [N_end] starts that reach an end
        self.max_chunks, self.share = max_chunks, ending_share if self.ending.numel() else 0.0
        n, n_end = self.start.numel(), max(self.ending.numel(), 1)
        self.weight_plain = 1 / (1 - self.share)  # p/q for a sequence that does not reach an end
        self.weight_ending = 1 / ((1 - self.share) + self.share * n / n_end)
        self.offsets = torch.arange(max_chunks)

    def batch(self, index: torch.Tensor) -> RealBatch:
        remaining = self.remaining[index]  # [B]
        length = remaining.clamp(max=self.max_chunks)
        steps = self.offsets[None]  # [1, T]
        reaches_end = remaining <= self.max_chunks
        return RealBatch(rows=self.start[index][:, None] + torch.minimum(steps, length[:, None] - 1),
                         mask=(steps < length[:, None]).float(),
                         end=((steps == length[:, None] - 1) & reaches_end[:, None]).float(),
                         weight=torch.where(reaches_end, self.weight_ending, self.weight_plain).float())

    def sample(self, b: int, rng: torch.Generator) -> RealBatch:
        plain = torch.randint(self.start.numel(), (b,), generator=rng)  # [B] uniform over starts
        ending = self.ending[torch.randint(self.ending.numel(), (b,), generator=rng)] if self.share else plain
        pick_ending = torch.rand(b, generator=rng) < self.share  # [B]
        return self.batch(torch.where(pick_ending, ending, plain))


def train_recurrent_gan(corpus_path: str | Path, ae_path: str | Path | None, out: str | Path,
                        config: Config | None = None, recurrent: RecurrentConfig | None = None, *,
                        resume: bool = False, progress: bool = True, max_steps: int | None = None,
                        max_seconds: float | None = None, steps: int | None = None,
                        compile_model: bool | None = None) -> dict:
    """Train (or with `resume`, continue) a recurrent GAN run in `out`; returns the last metrics."""
    out = Path(out)
    corpus = Corpus.open(corpus_path)
    meta = None
    if resume:
        folder, meta = read_meta(out / "last")
        if meta.get("kind") != "gan" or meta.get("arch") != "rnn":
            raise ValueError(f"{folder}: not a recurrent GAN run (arch={meta.get('arch')!r})")
        recurrent = RecurrentConfig(**meta["recurrent"])
    ae, config = autoencoder_for_run(out, ae_path, meta, config)
    recurrent = recurrent or config.rnn
    config = config.override({"gan.steps": steps, "gan.compile": compile_model})  # None leaves a setting as it is
    check_corpus_matches(ae.meta, corpus, "the autoencoder")
    g, r = config.gan, recurrent
    ranks, device_name = from_environment(g.device)
    device = pick_device(device_name)
    progress = progress and ranks.main
    if g.compile:
        log.warning("gan.compile: the recurrent generator is not compiled (its step loop would be unrolled "
                    "into one graph); training runs eagerly")
    if not resume and ranks.main:  # the run keeps its own copy of the starting autoencoder; checkpoints name it by hash
        write_checkpoint(out, "autoencoder", ae.meta, {"pisa": ae.model})
    ranks.barrier()
    base_sha = ae.weights_sha256
    ae.model.to(device)

    train_tracks, val_tracks = corpus.tracks_in("train"), corpus.tracks_in("validation")
    if val_tracks.size == 0:
        log.warning("no validation tracks; the held-out estimate uses training sequences")
        val_tracks = train_tracks
    train_seq = SequenceSampler(corpus, train_tracks, r.max_chunks, r.ending_share)
    val_seq = SequenceSampler(corpus, val_tracks, r.max_chunks, r.ending_share)
    # frozen: every chunk encoded once (cached); fine-tuning: encoded once only to fit the normaliser,
    # which then stays fixed so that the generator's output scale does not move under it
    latents_np = cached_latents(ae, corpus, out) if meta is None or not g.finetune_ae else None  # [C, L]
    if meta is None:
        normaliser = Normaliser.fit(latents_np[train_seq.start.numpy()])  # every chunk of the training split
    else:
        normaliser = Normaliser.from_dict(meta["normaliser"])
    cached = None if g.finetune_ae else normaliser.forward(torch.from_numpy(latents_np).to(device))  # [C, L]
    real_latents = RealLatents(corpus, ae, normaliser, cached, ranks)

    torch.manual_seed(g.seed)
    latent = ae.model.latent
    generator = RecurrentGenerator(latent=latent, noise=g.noise, step_noise=r.step_noise, hidden=r.hidden,
                                   attention=r.attention).to(device)
    critic = SequenceCritic(latent=latent, width=r.critic_width, layers=r.critic_layers, heads=r.critic_heads,
                            max_chunks=r.max_chunks).to(device)
    # the end probability starts at the real per-step hazard of windows that start anywhere: tracks / chunks
    hazard = train_tracks.size / train_seq.start.numel()
    with torch.no_grad():
        generator.end.bias.fill_(math.log(hazard / (1 - hazard)) if hazard < 1 else 0.0)
    opt_g = torch.optim.Adam(generator.parameters(), lr=g.lr, betas=g.betas)
    opt_c = torch.optim.Adam(critic.parameters(), lr=g.lr, betas=g.betas)
    opt_ae = torch.optim.Adam(ae.model.parameters(), lr=g.ae_lr) if g.finetune_ae else None
    rng = torch.Generator().manual_seed(g.seed)
    step, best = 0, math.inf
    trained = {"generator": generator, "critic": critic} | ({"autoencoder": ae.model} if opt_ae else {})
    optimizers = {"generator": opt_g, "critic": opt_c} | ({"autoencoder": opt_ae} if opt_ae else {})
    if meta is not None:
        restore_training(out / "last", meta, trained, optimizers)
        rng.set_state(load_rng(out / "last")["sequences"])
        step, best = meta["step"], meta["best_val_wasserstein"]

    def noise_for(b: int, t: int, source: torch.Generator, mine: torch.Tensor | None = None):
        """Sequence noise [B, Z], step noise [B, T, S], end uniforms [B, T], drawn for the global batch
        of b; with `mine`, this rank's rows of it."""
        z, noise, u = (torch.randn(b, g.noise, generator=source), torch.randn(b, t, r.step_noise, generator=source),
                       torch.rand(b, t, generator=source))
        if mine is not None:
            z, noise, u = z[mine], noise[mine], u[mine]
        return z.to(device), noise.to(device), u.to(device)

    def fake_batch(z, noise, u):
        """Free-running sequences as the critic reads them (latents, end markers, mask) and their end logits."""
        x, logits = generator(z, noise)  # [B, T, L], [B, T]
        end, mask = sampled_ends(logits, u)
        return (x * mask[..., None], end, mask), logits

    val_gen = torch.Generator().manual_seed(g.seed + 2)
    val_real = val_seq.sample(VALIDATION_SEQUENCES, val_gen).to(device)
    val_noise = noise_for(VALIDATION_SEQUENCES, r.max_chunks, val_gen)
    ae_val_rows = None
    if g.finetune_ae:
        order = torch.randperm(val_seq.start.numel(), generator=torch.Generator().manual_seed(g.seed + 3))
        ae_val_rows = val_seq.start[order[:AE_VALIDATION_CHUNKS]]  # a fixed sample of validation chunks
    metrics = MetricsLog(out / "metrics.jsonl", resumed_at=step if meta else None)
    trained_seconds = meta["trained"]["seconds"] if meta else 0.0

    def save(name: str) -> None:
        if not ranks.main:
            return
        tuned = {"finetuned_sha256": weights_hash(ae.model)} if opt_ae is not None else {}
        write_checkpoint(out, name, {
            "kind": "gan", "arch": "rnn", "config": config.to_dict(), "recurrent": dataclasses.asdict(r),
            "generator": generator.sizes_of(), "critic": critic.sizes_of(), "normaliser": normaliser.to_dict(),
            "step": step, "best_val_wasserstein": best, "autoencoder": {"weights_sha256": base_sha} | tuned,
            "corpus": {"root": str(corpus.root), "key": corpus.manifest["key"], "tracks": corpus.num_tracks,
                       "hours": sum(t["duration_s"] for t in corpus.tracks) / 3600},
            "trained": {"steps": step, "seconds": trained_seconds + time.perf_counter() - budget.started,
                        "device": str(device), "world_size": ranks.world}},
            trained, optimizers, {"sequences": rng.get_state()})

    @torch.no_grad()
    def held_out() -> dict:
        critic.eval(), generator.eval()
        real_x = real_latents(val_real.rows, val_real.mask)
        real_score, _ = critic(real_x, val_real.end, val_real.mask)
        fake_score, _ = critic(*fake_batch(*val_noise)[0])
        w = float((real_score * val_real.weight).mean() - fake_score.mean())
        critic.train(), generator.train()
        result = {"val_wasserstein": w}
        if ae_val_rows is not None:
            result["ae_val_loss"] = real_latents.reconstruction_loss(ae_val_rows)
        return result

    def write_samples() -> None:
        generator.eval()
        steps_ = max(1, round(r.sample_seconds / ae.chunk_seconds))
        x, lengths = generator.sample(*noise_for(SAMPLES_PER_CHECK, steps_, torch.Generator().manual_seed(g.seed + 1)))
        generator.train()
        x = normaliser.inverse(x)  # [S, T, L]
        folder = out / "samples" / f"step_{step:06d}"
        for i, (piece, length) in enumerate(zip(x, lengths.tolist())):
            write_events(ae.decode_events(piece[:length]), folder / f"sample_{i}.mid")

    budget = Budget(max_steps, max_seconds)
    bar = tqdm(total=g.steps, initial=step, desc="gan-rnn", unit="step", disable=not progress)
    critic_count, rate_start, rate_steps = 0, time.perf_counter(), 0
    last: dict = {}
    b, t, k_steps = g.batch, r.max_chunks, g.critic_steps
    scale = ranks.world / b  # sums over this rank's slice / the global batch, × world (gradients are averaged)
    try:
        while step < g.steps:
            mine = ranks.shard(torch.arange(b))  # [b'] this rank's rows of every global batch
            # the generator does not change during the critic steps, so all their fakes come from one
            # batched unroll: T sequential steps once instead of critic_steps times
            every = (torch.arange(k_steps)[:, None] * b + mine).reshape(-1)  # this rank's rows of the K·B
            with torch.no_grad():
                fakes, _ = fake_batch(*noise_for(k_steps * b, t, rng, every))  # [K·b', …]
            n = mine.numel()
            for k in range(k_steps):
                real = train_seq.sample(b, rng).take(mine).to(device)
                eps = torch.rand(b, generator=rng)[mine]
                real_x = real_latents(real.rows, real.mask)
                fake = tuple(a[k * n:(k + 1) * n] for a in fakes)
                real_score, _ = critic(real_x, real.end, real.mask)
                fake_score, _ = critic(*fake)
                loss_c = (fake_score.sum() - (real_score * real.weight).sum()) * scale
                wasserstein = -float(loss_c.detach()) / ranks.world
                critic_count += 1
                if g.gp_weight > 0 and critic_count % g.gp_every == 0:
                    penalty = masked_gradient_penalty(critic, (real_x, real.end, real.mask), fake, eps).sum() * scale
                    loss_c = loss_c + g.gp_weight * g.gp_every * penalty
                opt_c.zero_grad(set_to_none=True)
                loss_c.backward()
                ranks.average_gradients(critic.parameters())
                opt_c.step()
            real = train_seq.sample(b, rng).take(mine).to(device)
            noise = noise_for(b, t, rng, mine)
            teacher_noise = noise_for(b, t, rng, mine)[:2]
            (fake_x, fake_end, fake_mask), free_logits = fake_batch(*noise)  # [b', …], [b', T]
            fake_score, fake_features = critic(fake_x, fake_end, fake_mask)
            if opt_ae is not None:  # differentiable in the encoder: reconstruction loss + feature-matching signal
                real_x, ae_loss = real_latents(real.rows, real.mask, weight=g.ae_weight)
                _, real_features = critic(real_x, real.end, real.mask)
            else:
                ae_loss = None
                real_x = real_latents(real.rows, real.mask)
                with torch.no_grad():
                    _, real_features = critic(real_x, real.end, real.mask)
            real_mean = ranks.sum_differentiable((real_features * real.weight[:, None]).sum(0) / b)  # [F]
            fake_mean = ranks.sum_differentiable(fake_features.sum(0) / b)
            matching, towards_fake = feature_matching(fake_mean, real_mean, g.ae_gan_weight)
            _, forced_logits = generator(*teacher_noise, teacher=real_x.detach())  # [b', T]
            steps_weighted = (real.mask * real.weight[:, None]).sum()
            if ranks.active:
                torch.distributed.all_reduce(steps_weighted)
            ending = end_loss(forced_logits, real.end, real.mask, real.weight, steps_weighted)
            loss_g = -fake_score.sum() * scale + g.fm_weight * matching + r.end_weight * ending * ranks.world
            if r.free_end_weight > 0:  # free-running: every step of its own sequences, towards the real hazard
                free_end = free_end_loss(free_logits, hazard) * (n * ranks.world / b)  # this rank's share
                loss_g = loss_g + r.free_end_weight * free_end
            generator_update(loss_g + towards_fake, ae_loss, generator, opt_g, ae.model, opt_ae, ranks)
            step += 1
            rate_steps += 1
            bar.update()
            record = {"critic_loss": float(loss_c.detach()), "generator_loss": float(loss_g.detach()),
                      "wasserstein": wasserstein, "feature_matching": float(matching.detach()),
                      "end_loss": float(ending.detach()) * ranks.world,
                      "fake_length_mean": float(fake_mask.detach().sum(1).mean()),
                      "fake_end_rate": float(fake_end.detach().sum(1).mean())}
            if ae_loss is not None:
                record["ae_loss"] = float(ae_loss.detach()) * ranks.world / max(g.ae_weight, 1e-12)
            if r.free_end_weight > 0:
                record["free_end_loss"] = float(free_end.detach())
            if step % 10 == 0:
                bar.set_postfix(w=f"{wasserstein:.3f}", length=f"{record['fake_length_mean']:.1f}")
            if ranks.main and (step % g.validate_every == 0 or step == g.steps):
                elapsed = max(time.perf_counter() - rate_start, 1e-9)
                last = {"step": step} | record | held_out() | {"steps_per_s": rate_steps / elapsed}
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
