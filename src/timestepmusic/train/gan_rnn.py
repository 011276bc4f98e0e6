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
the same way), which is how it learns when pieces end (gan/recurrent.py says why not adversarially).

Fine-tuning (`finetune_ae`): the real sequences are encoded on the fly by the current autoencoder.
In the generator step the encoder also gets the feature-matching gradient through the real latents
(the latent space may move towards what the generator makes), and `ae_weight` · its reconstruction
loss on the same real chunks anchors it; the tuned weights are saved with the run and decode its samples.
Shapes: B sequences, T ≤ max_chunks steps, L latent, C corpus chunks, F critic features.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as safetensors_bytes
from tqdm import tqdm

from ..autoencoder import Autoencoder, pick_device
from ..batches import ChunkGatherer, SetBatch
from ..checkpoint import load_optimizer, load_rng, load_weights, read_meta, write_checkpoint
from ..config import Config, RecurrentConfig
from ..corpus import Corpus
from ..encoding import Encoding
from ..gan.recurrent import (RecurrentGenerator, SequenceCritic, end_loss, masked_gradient_penalty,
                             sampled_ends)
from ..latents import Normaliser, cached_latents
from ..midi import write_events
from ..pisa import PISA
from .ae import check_corpus_matches, validate
from .gan import autoencoder_for_run
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


def finetune_step(ae_model: PISA, encoding: Encoding, sets: SetBatch, weight: float,
                  size_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The autoencoder's part of a joint step: (weight · reconstruction loss of `sets`, their latents
    [B, L]), both differentiable in the autoencoder. The caller adds the loss to its objective, uses the
    latents as real data, backpropagates once and steps the autoencoder's optimizer with its own."""
    x = encoding.encode(sets.ids, sets.offset_s, sets.duration_s, sets.intensity)  # [B, N, D]
    loss, _ = ae_model.loss(x, sets.sizes, encoding, size_weight)
    latent, _ = ae_model.encode(x, sets.sizes)  # [B, L]
    return weight * loss, latent


class RealLatents:
    """Latents [B, T, L] (standardised, zero past the end) of a real batch: from the cached frozen
    latents, or encoded on the fly by the autoencoder being fine-tuned."""

    def __init__(self, corpus: Corpus, ae: Autoencoder, normaliser: Normaliser, cached: torch.Tensor | None):
        self.ae, self.normaliser, self.cached = ae, normaliser, cached
        ptr = np.array(corpus.track_chunk_ptr, dtype=np.int64)
        self.track_of = torch.from_numpy(np.repeat(np.arange(corpus.num_tracks), np.diff(ptr)))  # [C]
        self.first = torch.from_numpy(ptr[:-1])  # [K]
        self.gatherer = ChunkGatherer(corpus, max_events=ae.max_events, device=ae.device) if cached is None else None

    def sets(self, rows: torch.Tensor) -> SetBatch:
        track = self.track_of[rows]
        return self.gatherer.gather(track.to(self.ae.device), (rows - self.first[track]).to(self.ae.device))

    def __call__(self, real: RealBatch, weight: float | None = None):
        """Latents [B, T, L]; with `weight` (fine-tuning, differentiable) also weight · reconstruction loss."""
        valid = real.mask > 0.5  # [B, T]
        if self.cached is not None:
            return self.cached[real.rows] * real.mask[..., None]
        sets = self.sets(real.rows[valid])  # the valid steps only: [V] chunks
        if weight is None:
            with torch.no_grad():
                latent, _ = self.ae.model.encode(self.ae.features(sets), sets.sizes)  # [V, L]
            loss = None
        else:
            loss, latent = finetune_step(self.ae.model, self.ae.encoding, sets, weight,
                                         self.ae.config.ae.size_loss_weight)
        x = torch.zeros(*valid.shape, latent.shape[-1], device=latent.device)
        x = x.masked_scatter(valid[..., None], self.normaliser.forward(latent.float()))  # [B, T, L]
        return x if weight is None else (x, loss)


def _hash_of(model: torch.nn.Module) -> str:
    """The sha256 write_checkpoint will record for these weights (same safetensors bytes)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return hashlib.sha256(safetensors_bytes(state)).hexdigest()


def train_recurrent_gan(corpus_path: str | Path, ae_path: str | Path | None, out: str | Path,
                        config: Config | None = None, recurrent: RecurrentConfig | None = None, *,
                        resume: bool = False, progress: bool = True, max_steps: int | None = None,
                        max_seconds: float | None = None, steps: int | None = None) -> dict:
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
    if steps is not None:
        config = config.override({"gan.steps": steps})
    check_corpus_matches(ae.meta, corpus, "the autoencoder")
    g, r = config.gan, recurrent
    device = pick_device(g.device)
    if not resume:  # the run keeps its own copy of the starting autoencoder; checkpoints name it by hash
        write_checkpoint(out, "autoencoder", ae.meta, {"pisa": ae.model})
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
    cached = None
    latents_np = cached_latents(ae, corpus, out) if meta is None or not r.finetune_ae else None  # [C, L]
    if meta is None:
        normaliser = Normaliser.fit(latents_np[train_seq.start.numpy()])  # every chunk of the training split
    else:
        normaliser = Normaliser.from_dict(meta["normaliser"])
    if not r.finetune_ae:
        cached = normaliser.forward(torch.from_numpy(latents_np).to(device))  # [C, L]
    real_latents = RealLatents(corpus, ae, normaliser, cached)

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
    opt_ae = torch.optim.Adam(ae.model.parameters(), lr=r.ae_lr) if r.finetune_ae else None
    rng = torch.Generator().manual_seed(g.seed)
    step, best = 0, math.inf
    if meta is not None:
        folder = out / "last"
        load_weights(folder, "generator", generator)
        load_weights(folder, "critic", critic)
        load_optimizer(folder, "generator", meta, opt_g)
        load_optimizer(folder, "critic", meta, opt_c)
        if opt_ae is not None:
            load_weights(folder, "autoencoder", ae.model)
            load_optimizer(folder, "autoencoder", meta, opt_ae)
        rng.set_state(load_rng(folder)["sequences"])
        step, best = meta["step"], meta["best_val_wasserstein"]

    def noise_for(b: int, t: int, source: torch.Generator):
        """Sequence noise [B, Z], step noise [B, T, S], end uniforms [B, T]."""
        return (torch.randn(b, g.noise, generator=source).to(device),
                torch.randn(b, t, r.step_noise, generator=source).to(device),
                torch.rand(b, t, generator=source).to(device))

    def fake_batch(z, noise, u):
        x, logits = generator(z, noise)  # [B, T, L], [B, T]
        end, mask = sampled_ends(logits, u)
        return x * mask[..., None], end, mask

    val_gen = torch.Generator().manual_seed(g.seed + 2)
    val_real = val_seq.sample(VALIDATION_SEQUENCES, val_gen)
    val_noise = noise_for(VALIDATION_SEQUENCES, r.max_chunks, val_gen)
    ae_val = None
    if r.finetune_ae:
        order = torch.randperm(val_seq.start.numel(), generator=torch.Generator().manual_seed(g.seed + 3))
        rows = val_seq.start[order[:AE_VALIDATION_CHUNKS]]  # a fixed sample of validation chunks
        track = real_latents.track_of[rows]
        ae_val = (track.to(device), (rows - real_latents.first[track]).to(device))
    metrics = MetricsLog(out / "metrics.jsonl")
    trained_seconds = meta["trained"]["seconds"] if meta else 0.0
    size_weight = ae.config.ae.size_loss_weight

    def save(name: str) -> None:
        models = {"generator": generator, "critic": critic}
        optimizers = {"generator": opt_g, "critic": opt_c}
        tuned = {}
        if opt_ae is not None:
            models["autoencoder"], optimizers["autoencoder"] = ae.model, opt_ae
            tuned = {"finetuned_sha256": _hash_of(ae.model)}
        write_checkpoint(out, name, {
            "kind": "gan", "arch": "rnn", "config": config.to_dict(), "recurrent": dataclasses.asdict(r),
            "generator": generator.sizes_of(), "critic": critic.sizes_of(), "normaliser": normaliser.to_dict(),
            "step": step, "best_val_wasserstein": best, "autoencoder": {"weights_sha256": base_sha} | tuned,
            "corpus": {"root": str(corpus.root), "key": corpus.manifest["key"], "tracks": corpus.num_tracks,
                       "hours": sum(t["duration_s"] for t in corpus.tracks) / 3600},
            "trained": {"steps": step, "seconds": trained_seconds + time.perf_counter() - started,
                        "device": str(device), "world_size": 1}},
            models, optimizers, {"sequences": rng.get_state()})

    @torch.no_grad()
    def held_out() -> dict:
        critic.eval(), generator.eval()
        real_x = real_latents(val_real)
        real_score, _ = critic(real_x, val_real.end, val_real.mask)
        fake_score, _ = critic(*fake_batch(*val_noise))
        w = float((real_score * val_real.weight).mean() - fake_score.mean())
        critic.train(), generator.train()
        result = {"val_wasserstein": w}
        if ae_val is not None:
            result["ae_val_loss"] = validate(ae.model, real_latents.gatherer, ae.encoding, *ae_val, size_weight)["loss"]
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

    started = time.perf_counter()
    bar = tqdm(total=g.steps, initial=step, desc="gan-rnn", unit="step", disable=not progress)
    critic_count, rate_start, rate_steps = 0, time.perf_counter(), 0
    last: dict = {}
    b, t = g.batch, r.max_chunks
    try:
        while step < g.steps:
            # the generator does not change during the critic steps, so all their fakes come from one
            # batched unroll: T sequential steps once instead of critic_steps times
            with torch.no_grad():
                fakes = fake_batch(*noise_for(g.critic_steps * b, t, rng))  # [K·B, …]
            for k in range(g.critic_steps):
                real = train_seq.sample(b, rng)
                eps = torch.rand(b, generator=rng)
                real_x = real_latents(real)
                fake = tuple(a[k * b:(k + 1) * b] for a in fakes)
                real_score, _ = critic(real_x, real.end, real.mask)
                fake_score, _ = critic(*fake)
                loss_c = fake_score.mean() - (real_score * real.weight).mean()
                wasserstein = -float(loss_c.detach())
                critic_count += 1
                if g.gp_weight > 0 and critic_count % g.gp_every == 0:
                    penalty = masked_gradient_penalty(critic, (real_x, real.end, real.mask), fake, eps).mean()
                    loss_c = loss_c + g.gp_weight * g.gp_every * penalty
                opt_c.zero_grad(set_to_none=True)
                loss_c.backward()
                opt_c.step()
            real = train_seq.sample(b, rng)
            noise = noise_for(b, t, rng)
            teacher_noise = noise_for(b, t, rng)[:2]
            fake_x, fake_end, fake_mask = fake_batch(*noise)
            fake_score, fake_features = critic(fake_x, fake_end, fake_mask)
            if opt_ae is not None:
                real_x, ae_loss = real_latents(real, weight=r.ae_weight)
                _, real_features = critic(real_x, real.end, real.mask)  # the encoder gets this gradient
            else:
                ae_loss = None
                real_x = real_latents(real)
                with torch.no_grad():
                    _, real_features = critic(real_x, real.end, real.mask)
            real_mean = (real_features * real.weight[:, None]).mean(0)  # [F]
            matching = ((fake_features.mean(0) - real_mean) ** 2).mean()
            _, forced_logits = generator(*teacher_noise, teacher=real_x.detach())  # [B, T]
            ending = end_loss(forced_logits, real.end, real.mask, real.weight)
            loss_g = -fake_score.mean() + g.fm_weight * matching + r.end_weight * ending
            opt_g.zero_grad(set_to_none=True)
            if opt_ae is not None:
                opt_ae.zero_grad(set_to_none=True)
                (loss_g + ae_loss).backward()
                opt_ae.step()
            else:
                loss_g.backward()
            opt_g.step()
            step += 1
            rate_steps += 1
            bar.update()
            record = {"critic_loss": float(loss_c.detach()), "generator_loss": float(loss_g.detach()),
                      "wasserstein": wasserstein, "feature_matching": float(matching.detach()),
                      "end_loss": float(ending.detach()),
                      "fake_length_mean": float(fake_mask.detach().sum(1).mean()),
                      "fake_end_rate": float(fake_end.detach().sum(1).mean())}
            if ae_loss is not None:
                record["ae_loss"] = float(ae_loss.detach()) / max(r.ae_weight, 1e-12)
            if step % 10 == 0:
                bar.set_postfix(w=f"{wasserstein:.3f}", length=f"{record['fake_length_mean']:.1f}")
            if step % g.validate_every == 0 or step == g.steps:
                elapsed = max(time.perf_counter() - rate_start, 1e-9)
                last = {"step": step} | record | held_out() | {"steps_per_s": rate_steps / elapsed}
                rate_start, rate_steps = time.perf_counter(), 0
                metrics.write(last)
                if abs(last["val_wasserstein"]) < best:
                    best = abs(last["val_wasserstein"])
                    save("best")
                save("last")
            if g.sample_every and step % g.sample_every == 0:
                write_samples()
            if (max_steps is not None and step >= max_steps) or \
                    (max_seconds is not None and time.perf_counter() - started >= max_seconds):
                save("last")
                metrics.write({"event": "stopped", "step": step})
                return last | {"step": step, "stopped": True}
    except KeyboardInterrupt:
        save("last")
        log.warning("interrupted: saved %s/last at step %d", out, step)
        raise
    finally:
        bar.close()
    return last
