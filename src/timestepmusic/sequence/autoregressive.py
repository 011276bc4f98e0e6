"""The likelihood arm: a causal transformer predicts each chunk's standardised latent from the ones before it
(a density head: a mixture of Gaussians, or with `ar.head = dimwise` one dimension after another) and whether
the piece ends there (network: sequence/transformer_net.py).

Training is teacher-forced maximum likelihood on real windows of up to `ar.context` chunks that start at
any chunk of a training track (sequence/windows.py): mean negative log-likelihood per chunk plus
`end_weight` · the end cross-entropy, both weighted back to the real distribution of windows; with
`ar.input_noise` the latents it reads are noised (the targets are not), against exposure bias. No
adversary, so no mode collapse to diagnose; its held-out figure is the NLL on validation windows.
Sampling draws one chunk at a time and may continue any past: a user's prompt, or its own output past the
context. There the window slides `ar.slide_stride` chunks at a time: its last context − stride chunks are
re-read in one pass and the next stride are drawn with the key/value cache, so each chunk sees context −
stride to context − 1 chunks before it (stride 1: always context − 1, at the cost of a whole pass per
chunk). Pieces of a fixed length ignore the end head; with `ends=True` a piece stops where the head says so.
Shapes: B windows (b on this rank), T ≤ context steps, L latent, S pieces, P prompt chunks.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from ..config import Config
from .base import LatentData, Update, register
from .transformer_net import LatentTransformer
from .windows import RealBatch, split_samplers

log = logging.getLogger(__name__)
VALIDATION_WINDOWS = 256
WARMUP_STEPS = 200


@register
class Autoregressive:
    arch = "ar"
    held_out_key = "val_nll"
    held_out_signed = True  # a log-likelihood: the lowest value is best, not the lowest magnitude
    snaps = False
    continues = True  # can sample after a given past (tsm generate --prompt)
    tempered = True  # takes sampling temperatures, and ends pieces where asked to
    end_trace: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # set to a list on an arm: see sample()
    closing_chunks = 0  # K: a piece that ends itself closes over K more chunks told so (the events arm's ar.closing_s)
    closing_after = 0  # R of those K: the chunks after its final chord (the events arm's ar.closing_ring_s)
    closes = False  # sampling: a piece of a fixed length closes over its last K chunks too (tsm generate --ending)
    closing_at: torch.Tensor | None = None  # while a sample runs with K > 0: the chunk each piece's closing starts [S]

    def __init__(self, config: Config, latent: int, device: torch.device, training: bool = True):
        self.settings, self.steps, self.device = config.ar, config.gan.steps, device
        self.ae_weight, self.chunk_seconds = config.gan.ae_weight, config.chunks.chunk_seconds
        a = self.settings
        self.generator = LatentTransformer(latent=latent, context=a.context, width=a.width, layers=a.layers,
                                           heads=a.heads, mixture=a.mixture, dropout=a.dropout, head=a.head,
                                           head_hidden=a.head_hidden).to(device)
        self.temperature, self.mixture_temperature, self.ends = a.temperature, a.mixture_temperature, False
        # (sampling options: GANModel sets them)

    def trained(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.generator}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        a = self.settings  # kept, so that each step can set its learning rate
        self.optimizer = torch.optim.AdamW(self.param_groups(), lr=a.lr, betas=(0.9, 0.95),
                                           weight_decay=a.weight_decay)
        return {"generator": self.optimizer}

    def param_groups(self) -> list[dict]:
        """The generator's weights as the optimizer's groups; a group's "lr_scale" multiplies its learning rate."""
        return [{"params": list(self.generator.parameters())}]

    def attach(self, data: LatentData) -> None:
        a = self.settings
        self.data = data
        self.train_windows, val_windows = split_samplers(data.corpus, a.context, self.ending_share())
        self.val_real = val_windows.sample(VALIDATION_WINDOWS, torch.Generator().manual_seed(2)).to(data.device)

    def ending_share(self) -> float:
        """The share of windows drawn among those that reach a track's end (ar.ending_share)."""
        return self.settings.ending_share

    def learning_rate(self, step: int) -> float:
        """Linear warm-up, then cosine decay to 10 % at gan.steps: a function of the step, so resume is exact."""
        a = self.settings
        if step < WARMUP_STEPS:
            return a.lr * (step + 1) / WARMUP_STEPS
        progress = min(1.0, (step - WARMUP_STEPS) / max(1, self.steps - WARMUP_STEPS))
        return a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    def losses(self, x: torch.Tensor, real: RealBatch, steps_total: float,
               read: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed NLL and end cross-entropy of windows x [b, T, L] (weighted, masked) ÷ the global step count;
        the transformer reads `read` (x with input noise, [b, T, L]) where given, and predicts x."""
        density, end_logit = self.generator(x if read is None else read)
        weight = real.mask * real.weight[:, None]  # [b, T]
        nll = (self.generator.nll(x, density) * weight).sum() / steps_total
        end = (F.binary_cross_entropy_with_logits(end_logit, real.end, reduction="none") * weight).sum() / steps_total
        return nll, end

    def updates(self, step: int, rng: torch.Generator) -> Iterator[Update]:
        a, ranks = self.settings, self.data.ranks
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(step) * group.get("lr_scale", 1.0)
        # dropout draws from torch's global generator: seed it from the loop's, so that resume is exact
        torch.manual_seed(int(torch.randint(2 ** 62, (1,), generator=rng)) + ranks.rank)
        mine = ranks.shard(torch.arange(a.batch))  # this rank's rows of the global batch
        real = self.train_windows.sample(a.batch, rng).take(mine).to(self.device)
        ae_loss = None
        if self.data.finetune:
            x, ae_loss = self.data.real(real.rows, real.mask, weight=self.ae_weight)
        else:
            x = self.data.real(real.rows, real.mask)  # [b, T, L]
        (steps_total,) = ranks.global_sums((real.mask * real.weight[:, None]).sum())
        read = self.reading(x, real)
        nll, end = self.losses(x, real, max(float(steps_total), 1.0), read)
        loss = (nll + a.end_weight * end) * ranks.world
        yield Update("generator", loss, ae_loss, {"nll": float(nll.detach()) * ranks.world,
                                                  "end_loss": float(end.detach()) * ranks.world,
                                                  "lr": self.learning_rate(step)})

    def reading(self, x: torch.Tensor, real: RealBatch) -> torch.Tensor:
        """What the transformer reads in training in place of windows x [b, T, L] (the targets): with
        ar.input_noise, x noised (global RNG, seeded for the step); else x itself."""
        a = self.settings
        return x + a.input_noise * torch.randn_like(x) if a.input_noise > 0 else x

    def held_out(self) -> dict[str, float]:
        real = self.val_real
        x = self.data.real(real.rows, real.mask)
        steps_total = float((real.mask * real.weight[:, None]).sum())
        nll, end = self.losses(x, real, steps_total)
        return {"val_nll": float(nll), "val_end_loss": float(end),
                "val_nll_per_dim": float(nll) / x.shape[-1]}

    @torch.no_grad()
    def sample(self, n: int, chunks: int, seed: int, prompt: torch.Tensor | None = None,
               project: Callable[[torch.Tensor], torch.Tensor] | None = None,
               progress: Callable[[], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`n` pieces of `chunks` new chunks after `prompt` [P, L] (standardised; none: from the start), as
        standardised latents [S, P + chunks, L] and lengths [S] (with `self.ends`, where the end head stopped a
        piece, its logit + ar.end_bias + ar.end_rise × the minutes drawn so far, once ar.end_after_s seconds are
        drawn; the prompt counts in the length, not in the minutes). `project` (standardised [S, L] → [S, L])
        replaces each drawn latent before the piece goes on (ar.project: the autoencoder's round trip).
        Deterministic per seed. Where `self.end_trace` is a list, each new chunk's end-of-piece logit and uniform
        ([S] each, before ar.end_bias) are appended to it: with them any calibration of where pieces end can be
        replayed without sampling again (bench/end_calibration.py). With `closing_chunks` K > 0, a piece that ends
        itself goes on for K chunks after the one where the end head ends it (the last K before the cap where it
        never does), each told its chunks left (`closing_at`: where each piece's closing starts; `condition`); with
        `closes`, a piece of a fixed length closes over its last K. `progress` is called once per chunk drawn (of
        every piece at once: tsm generate's bar), after it is drawn; it draws nothing."""
        rng = torch.Generator().manual_seed(seed)
        net, latent = self.generator, self.generator.latent
        past = (torch.zeros(n, 0, latent) if prompt is None else prompt.float().cpu().expand(n, -1, -1)).to(self.device)
        x = torch.cat([past, torch.zeros(n, chunks, latent, device=self.device)], dim=1)  # [S, P + chunks, L]
        first = past.shape[1]
        lengths = torch.full((n,), first + chunks, dtype=torch.long)
        stopped = torch.zeros(n, dtype=torch.bool)
        keep = net.context - max(1, min(self.settings.slide_stride, net.context - 1))  # chunks kept when it slides
        closing = self.closing_chunks if self.ends or self.closes else 0
        # the cap's last K close (ends: earlier where the head says); the last chunk is told 1 left (with R chunks
        # after: -R), as a track's last is in training, also where the piece is K chunks long or shorter (its
        # closing begins before it); a piece of R chunks or fewer still draws its final chord (told 1) first
        final = max(first + chunks - 1 - self.closing_after, first)  # the chunk told 1: the final chord's
        self.closing_at = torch.full((n,), final + 1 - (closing - self.closing_after)) if closing else None  # [S]
        base, cache = 0, None  # base: the first chunk the window sees; cache: keys/values of positions 0 … t − base
        for t in range(first, first + chunks):
            if cache is None or t - base >= net.context:  # (re-)read the window: the prompt's last, or the last `keep`
                base = max(0, t - (net.context - 1 if cache is None else keep))
                outputs, cache = net.prefill(x[:, base:t], self.condition(base, t))
            else:  # one more position, with the key/value cache
                outputs, cache = net.step(x[:, t - 1], t - base, cache, self.condition(t, t))
            density, end_logit = tuple(d[:, -1] for d in outputs[0]), outputs[1][:, -1]
            x[:, t] = self.draw(density, rng)
            if project is not None:
                x[:, t] = project(x[:, t])
            u = torch.rand(n, generator=rng)  # drawn every step, so a piece does not depend on `ends`
            if progress is not None:
                progress()
            if self.end_trace is not None:
                self.end_trace.append((end_logit.float().cpu(), u))
            if self.ends:  # the bias, and the rise per minute played
                bias = self.settings.end_bias + self.settings.end_rise * (t + 1 - first) * self.chunk_seconds / 60
                played_s = (t + 1 - first) * self.chunk_seconds  # ar.end_after_s: no fragment of a piece
                ending = ~stopped & (u < torch.sigmoid(end_logit.float().cpu() + bias)) & (
                    played_s >= self.settings.end_after_s)
                if closing:  # the next K chunks close the piece (the cap's last K, where the head has not ended it)
                    ending |= ~stopped & (t + 1 + closing >= first + chunks)
                    self.closing_at[ending] = self.closing_at[ending].clamp(max=t + 1)
                lengths[ending] = min(t + 1 + closing, first + chunks)
                stopped |= ending
                if stopped.all() and bool((lengths <= t + 1).all()):
                    break
        self.closing_at = None
        return x, lengths

    def condition(self, first: int, last: int) -> torch.Tensor | None:
        """Sampling: an offset added to the input of chunks first … last of the pieces being sampled (the events
        arm's told description), [S, W] (the same for every chunk) or [S, last − first + 1, W]; None: nothing (this
        arm)."""
        return None

    def draw(self, density: tuple[torch.Tensor, ...], rng: torch.Generator) -> torch.Tensor:
        """One standardised latent per piece [S, L] from the density part of one step's outputs (each [S, …])."""
        return self.generator.sample(density, self.temperature, rng, self.mixture_temperature)

    def preview_chunks(self, chunk_seconds: float) -> int:
        return max(1, round(self.settings.sample_seconds / chunk_seconds))

    def compile(self) -> None:
        self.generator.compile()
