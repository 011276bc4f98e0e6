"""The recurrent GAN arm over variable-length sequences of standardised chunk latents, with real track
endings (networks and end losses: gan/recurrent.py).

Real data: a sequence starts at any chunk of a training track and runs `rnn.max_chunks` chunks or to the
track's end, where its last step carries the end marker (masked after). Starting anywhere makes the
generator's end hazard the real one (≈ 1 / mean track length per step); since few windows reach an end,
`ending_share` of each batch is drawn among those that do, and every real sequence is weighted by p/q
(uniform over starts / the mixture drawn from), so the critic still estimates the Wasserstein distance to
the real distribution. The loss is the conv arm's (WGAN-GP, per-sample penalty every `gp_every` critic
steps, −critic + feature matching for the generator), plus `end_weight` · the cross-entropy of the end
head run teacher-forced over the real batch (weighted the same way), which is how it learns when pieces
end (gan/recurrent.py says why not adversarially), and `free_end_weight` · the cross-entropy of the end
head on its own free-running batch against the real per-step hazard.
Against mode collapse (the first version of this arm fell to a few modes: docs/comparison.md), the conv arm's
mends (rnn.gan_mends): the critic's score reads the spread of its pooled features across groups of
gan.minibatch_group sequences (gan.minibatch_std), an exponential moving average of the generator's weights
(gan.ema) samples, is validated and is saved beside the trained weights, and the critic learns at
gan.critic_lr. A known bias: the spread of a real group is that of the mixture the batch is drawn from
(ending_share), which the per-sequence weights p/q do not correct, so the critic sees real groups slightly
more mixed in length than the real distribution's.
Shapes: B sequences (b on this rank), T ≤ max_chunks steps, L latent, Z noise, S step noise, F features.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import torch

from ..config import Config
from ..gan.recurrent import RecurrentGenerator, SequenceCritic, end_loss, free_end_loss, masked_gradient_penalty, sampled_ends
from ..train.finetune import feature_matching
from .base import LatentData, SamplesFromAverage, Update, register
from .conv_gan import check_whole_groups, minibatch_group, whole_groups
from .windows import split_samplers

log = logging.getLogger(__name__)
VALIDATION_SEQUENCES = 256


@register
class RecurrentGAN(SamplesFromAverage):
    arch = "rnn"
    held_out_key = "val_wasserstein"
    snaps = False  # decodes its latents as they are

    def __init__(self, config: Config, latent: int, device: torch.device, training: bool = True):
        self.settings, self.recurrent, self.device = config.gan, config.rnn, device
        g, r = self.settings, self.recurrent
        if training and g.compile:
            log.warning("gan.compile: the recurrent generator is not compiled (its step loop would be unrolled "
                        "into one graph); training runs eagerly")
        self.generator = RecurrentGenerator(latent=latent, noise=g.noise, step_noise=r.step_noise, hidden=r.hidden,
                                            attention=r.attention).to(device)
        self.critic = SequenceCritic(latent=latent, width=r.critic_width, layers=r.critic_layers,
                                     heads=r.critic_heads, max_chunks=r.max_chunks,
                                     minibatch_group=minibatch_group(g) if r.gan_mends else 0,
                                     ).to(device) if training else None
        self.start_average(training and r.gan_mends and g.ema > 0)

    def trained(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.generator, "critic": self.critic}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        g = self.settings
        critic_lr = g.critic_lr if self.recurrent.gan_mends and g.critic_lr else g.lr  # two time-scale update rule
        rates = {"generator": g.lr, "critic": critic_lr}
        return {name: torch.optim.Adam(module.parameters(), lr=rates[name], betas=g.betas)
                for name, module in self.trained().items()}

    def attach(self, data: LatentData) -> None:
        r, group = self.recurrent, self.critic.minibatch_group
        check_whole_groups(self.settings.batch, group, data.ranks.world, "sequences")
        self.data = data
        self.train_seq, val_seq = split_samplers(data.corpus, r.max_chunks, r.ending_share)
        # the end probability starts at the real per-step hazard of windows that start anywhere: tracks / chunks
        self.hazard = data.corpus.tracks_in("train").size / self.train_seq.start.numel()
        with torch.no_grad():
            for generator in {self.generator, self.sampler}:
                generator.end.bias.fill_(math.log(self.hazard / (1 - self.hazard)) if self.hazard < 1 else 0.0)
        val_gen = torch.Generator().manual_seed(self.settings.seed + 2)
        held_out = whole_groups(VALIDATION_SEQUENCES, group)
        self.val_real = val_seq.sample(held_out, val_gen).to(data.device)
        self.val_noise = self.noise_for(held_out, r.max_chunks, val_gen)

    def noise_for(self, b: int, t: int, source: torch.Generator, mine: torch.Tensor | None = None):
        """Sequence noise [B, Z], step noise [B, T, S], end uniforms [B, T], drawn for the global batch of b;
        with `mine`, this rank's rows of it."""
        z, noise, u = (torch.randn(b, self.generator.noise, generator=source),
                       torch.randn(b, t, self.generator.step_noise, generator=source),
                       torch.rand(b, t, generator=source))
        if mine is not None:
            z, noise, u = z[mine], noise[mine], u[mine]
        return z.to(self.device), noise.to(self.device), u.to(self.device)

    def fake_batch(self, z, noise, u, generator: RecurrentGenerator | None = None):
        """Free-running sequences of `generator` (default: the trained one) as the critic reads them (latents,
        end markers, mask) and their end logits."""
        x, logits = (generator or self.generator)(z, noise)  # [B, T, L], [B, T]
        end, mask = sampled_ends(logits, u)
        return (x * mask[..., None], end, mask), logits

    def updates(self, step: int, rng: torch.Generator) -> Iterator[Update]:
        g, r, ranks, real_latents = self.settings, self.recurrent, self.data.ranks, self.data.real
        b, t, k_steps = g.batch, r.max_chunks, g.critic_steps
        scale = ranks.world / b  # sums over this rank's slice / the global batch, × world (gradients are averaged)
        mine = ranks.shard(torch.arange(b))  # [b'] this rank's rows of every global batch
        # the generator does not change during the critic steps, so all their fakes come from one
        # batched unroll: T sequential steps once instead of critic_steps times
        every = (torch.arange(k_steps)[:, None] * b + mine).reshape(-1)  # this rank's rows of the K·B
        with torch.no_grad():
            fakes, _ = self.fake_batch(*self.noise_for(k_steps * b, t, rng, every))  # [K·b', …]
        n = mine.numel()
        for k in range(k_steps):
            real = self.train_seq.sample(b, rng).take(mine).to(self.device)
            eps = torch.rand(b, generator=rng)[mine]
            real_x = real_latents(real.rows, real.mask)  # [b', T, L]
            fake = tuple(a[k * n:(k + 1) * n] for a in fakes)
            real_score, _ = self.critic(real_x, real.end, real.mask)
            fake_score, _ = self.critic(*fake)
            loss = (fake_score.sum() - (real_score * real.weight).sum()) * scale
            wasserstein = -float(loss.detach()) / ranks.world
            if g.gp_weight > 0 and (step * k_steps + k + 1) % g.gp_every == 0:
                penalty = masked_gradient_penalty(self.critic, (real_x, real.end, real.mask), fake, eps).sum() * scale
                loss = loss + g.gp_weight * g.gp_every * penalty
            yield Update("critic", loss, metrics={"critic_loss": float(loss.detach()), "wasserstein": wasserstein})

        real = self.train_seq.sample(b, rng).take(mine).to(self.device)
        noise = self.noise_for(b, t, rng, mine)
        teacher_noise = self.noise_for(b, t, rng, mine)[:2]
        (fake_x, fake_end, fake_mask), free_logits = self.fake_batch(*noise)  # [b', …], [b', T]
        fake_score, fake_features = self.critic(fake_x, fake_end, fake_mask)
        ae_loss = None
        if self.data.finetune:  # differentiable in the encoder: reconstruction loss + feature-matching signal
            real_x, ae_loss = real_latents(real.rows, real.mask, weight=g.ae_weight)
            _, real_features = self.critic(real_x, real.end, real.mask)
        else:
            real_x = real_latents(real.rows, real.mask)
            with torch.no_grad():
                _, real_features = self.critic(real_x, real.end, real.mask)
        real_mean = ranks.sum_differentiable((real_features * real.weight[:, None]).sum(0) / b)  # [F]
        fake_mean = ranks.sum_differentiable(fake_features.sum(0) / b)
        matching, towards_fake = feature_matching(fake_mean, real_mean, g.ae_gan_weight)
        _, forced_logits = self.generator(*teacher_noise, teacher=real_x.detach())  # [b', T]
        (steps_weighted,) = ranks.global_sums((real.mask * real.weight[:, None]).sum())
        ending = end_loss(forced_logits, real.end, real.mask, real.weight, real.mask.new_tensor(steps_weighted))
        loss = -fake_score.sum() * scale + g.fm_weight * matching + r.end_weight * ending * ranks.world
        metrics = {"generator_loss": 0.0, "feature_matching": float(matching.detach()),
                   "end_loss": float(ending.detach()) * ranks.world,
                   "fake_length_mean": float(fake_mask.detach().sum(1).mean()),
                   "fake_end_rate": float(fake_end.detach().sum(1).mean())}
        if r.free_end_weight > 0:  # free-running: every step of its own sequences, towards the real hazard
            free_end = free_end_loss(free_logits, self.hazard) * (n * ranks.world / b)  # this rank's share
            loss = loss + r.free_end_weight * free_end
            metrics["free_end_loss"] = float(free_end.detach())
        metrics["generator_loss"] = float(loss.detach())
        yield Update("generator", loss + towards_fake, ae_loss, metrics)
        self.advance_average(step, g.ema)  # the loop has applied the generator's step by now

    def held_out(self) -> dict[str, float]:
        real = self.val_real
        real_score, _ = self.critic(self.data.real(real.rows, real.mask), real.end, real.mask)
        fake_score, _ = self.critic(*self.fake_batch(*self.val_noise, generator=self.sampler)[0])
        return {"val_wasserstein": float((real_score * real.weight).mean() - fake_score.mean())}

    def sample(self, n: int, chunks: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sampler.sample(*self.noise_for(n, chunks, torch.Generator().manual_seed(seed)))

    def preview_chunks(self, chunk_seconds: float) -> int:
        return max(1, round(self.recurrent.sample_seconds / chunk_seconds))

    def compile(self) -> None:  # its step loop would be unrolled into one graph: stays eager (warned above)
        pass
